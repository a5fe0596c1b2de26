#!/bin/sh
# scripts/check-thread-safety.sh -- Clang's thread-safety analysis over every source file of
# src/: `clang++ -fsyntax-only -Wthread-safety`, no code generated, so it costs a parse of the
# tree (about a minute on 2 cores), not a third build. What it checks: the RC_GUARDED_BY /
# RC_REQUIRES annotations (include/ringcached/base/mutex.h) against the locks each function
# takes. Prints each warning and ends with "N passed, M failed" (one test); .ci/run runs it.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cxx=${CLANGXX:-clang++}
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "$cxx not found (scripts/install-deps.sh installs clang)"
  echo "0 passed, 1 failed"
  exit 1
fi
flags="-std=c++20 -fsyntax-only -Wthread-safety -Wthread-safety-beta -Werror -pthread"
flags="$flags -DTHREADED -I$top/include -I$top/src"
flags="$flags $(pkg-config --cflags libevent jemalloc liburing libpq 2>/dev/null)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
files=$(cd "$top" && find src -name '*.cc' | sort)
# Two at a time: the machines have two cores.
echo "$files" | (cd "$top" && xargs -P 2 -n 8 "$cxx" $flags) >"$out" 2>&1 || status=1
cat "$out"
count=$(echo "$files" | wc -l)
if [ $status -eq 0 ]; then
  echo "# thread-safety analysis: $count files, no warnings"
  echo "1 passed, 0 failed"
else
  echo "# thread-safety analysis: $(grep -c 'error:' "$out") warning(s) in $count files"
  echo "0 passed, 1 failed"
fi
exit $status
