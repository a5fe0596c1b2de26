#!/bin/bash
# t/proto/io_uring_engine_test.sh -- the protocol suites once more, with every connection
# receiving through the worker's io_uring (--io-engine=io_uring).
#
# The default engine is epoll (server.cc), so every other suite runs the epoll path. This runs
# the suites that exercise a connection's reading hardest through the ring (net/recv_ring.h):
# fragments at every byte boundary, pipelining, large values, bad input, quit mid-stream, a lone
# request among many idle connections (the receive stall), every reply of the transcripts,
# memccapable and pymemcache. Prints the sum of their "N passed, M failed" last; SKIP (77) where
# the kernel does not offer io_uring.
set -u

if [ -z "${RINGCACHED:-}" ] || [ ! -x "$RINGCACHED" ]; then
    echo "RINGCACHED='${RINGCACHED:-}' is not an executable (not built?)"
    exit 99
fi
case $(basename "$(readlink -f "$RINGCACHED")") in
    memcached*) echo "SKIP: --io-engine is ringcached's"; exit 77 ;;
esac
here=${RC_TESTLIB:-$(dirname "$0")}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rc-uring.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
# exec: the wrapper's PID is the server's, so the suites stop it by PID as usual.
printf '#!/bin/sh\nexec "%s" --io-engine=io_uring "$@"\n' "$RINGCACHED" > "$tmp/ringcached"
chmod +x "$tmp/ringcached"

# Does this kernel offer it? The server refuses to start when it does not.
user=()
[ "$(id -u)" = 0 ] && user=(-u root)
"$tmp/ringcached" "${user[@]}" -p -1 -U 0 -l 127.0.0.1 > "$tmp/probe.log" 2>&1 &
probe=$!
sleep 1
if ! kill -0 "$probe" 2>/dev/null; then
    wait "$probe"
    if grep -q "does not offer io_uring" "$tmp/probe.log"; then
        echo "SKIP: $(cat "$tmp/probe.log")"
        exit 77
    fi
    echo "the server did not start: $(cat "$tmp/probe.log")"
    exit 99
fi
kill "$probe"
wait "$probe" 2>/dev/null

passed=0
failed=0
for suite in fragments_test.py regressions_test.py receive_test.py bad_input_test.py \
             binary_bad_input_test.py transcript_test.py meta_test.py pymemcache_test.py \
             memccapable.sh; do
    case $suite in
        *.py) run=(/usr/bin/python3 "$here/$suite") ;;
        *.sh) run=(/bin/bash "$here/$suite") ;;
    esac
    echo "# $suite with --io-engine=io_uring"
    out=$(RINGCACHED="$tmp/ringcached" "${run[@]}" 2>&1)
    status=$?
    echo "$out" | grep -Ev '^[0-9]+ passed, [0-9]+ failed'
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    p=0; f=0
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=$(echo "$line" | sed 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/')
    fi
    if [ "$status" -eq 77 ]; then
        echo "# $suite skipped"
        continue
    fi
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1  # failed without saying how: count it once
    fi
    echo "# $suite: $p passed, $f failed"
    passed=$((passed + p)); failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
