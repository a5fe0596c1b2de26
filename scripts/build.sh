#!/bin/sh
# scripts/build.sh -- sets up and builds ringcached out of tree, in build/ (or $BUILD_DIR).
# Extra arguments go to ./configure. Used by run.sh, test.sh and .ci/run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/install-deps.sh"
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then ./autogen.sh >/dev/null 2>&1; fi
build=${BUILD_DIR:-$top/build}
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ] || [ $# -gt 0 ]; then
  "$top/configure" -q "$@"
fi
make -j"$(nproc)" -s
