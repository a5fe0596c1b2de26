#!/bin/sh
# scripts/summarize-tests.sh BUILD_DIR -- sums the results of every test program `make check` ran
# in BUILD_DIR and prints, last, "N passed, M failed". GoogleTest programs contribute their test
# counts; our scripts print their own "N passed, M failed" line; any other program counts as one
# test. A program that failed without reporting a failure (a crash) adds one failure. A failed
# program's log ends are shown (CI keeps only this output). Exits 1 if anything failed.
set -u
build=$1
passed=0
failed=0
for trs in $(find "$build" -name '*.trs' | sort); do
  log=${trs%.trs}.log
  result=$(sed -n 's/^:test-result: //p' "$trs" | head -n 1)
  p=0; f=0
  if grep -q '^\[==========\]' "$log" 2>/dev/null; then
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
  elif grep -Eq '^[0-9]+ passed, [0-9]+ failed' "$log" 2>/dev/null; then
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=${line%% passed*}
    f=$(echo "$line" | sed 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/')
  elif [ "$result" = PASS ]; then
    p=1
  fi
  p=${p:-0}; f=${f:-0}
  case $result in
    FAIL|ERROR|XPASS) [ "$f" -eq 0 ] && f=1
      echo "FAILED: ${log#$build/}" >&2
      { grep -E -A4 '^(FAIL  - |\[  FAILED  \] |.*: Failure$)' "$log" | head -n 40
        echo ...; tail -n 8 "$log"; } 2>/dev/null | sed 's/^/  | /' >&2 ;;
    SKIP) echo "skipped: ${log#$build/}" >&2 ;;
  esac
  passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
