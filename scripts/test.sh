#!/bin/sh
# scripts/test.sh -- the README's second command: sets up, builds and runs the whole test suite
# (`make check`), then prints one line "N passed, M failed" over every test program. Exits
# non-zero on any failure. Extra arguments go to ./configure (e.g. --enable-sanitizers).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/build.sh" "$@" || { echo "0 passed, 1 failed"; exit 1; }
build=${BUILD_DIR:-$top/build}
status=0
make -C "$build" -s -j"$(nproc)" check >/dev/null 2>&1 || status=$?
sh "$top/scripts/summarize-tests.sh" "$build" || status=1
exit $status
