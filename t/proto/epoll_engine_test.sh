#!/bin/bash
# t/proto/epoll_engine_test.sh -- the protocol suites once more, with connections receiving
# through epoll (--io-engine=epoll).
#
# Where the kernel offers io_uring (this project's machines, CI), every other test runs the
# server's default, the io_uring receive path (net/recv_ring.h). The epoll path is what the
# server falls back to on older kernels and under seccomp policies that refuse io_uring, so it
# gets the suites that exercise a connection's reading hardest: fragments at every byte
# boundary, pipelining, large values, bad input, quit mid-stream, every reply of the
# transcripts, memccapable and pymemcache. Prints the sum of their "N passed, M failed" last.
set -u

if [ -z "${RINGCACHED:-}" ] || [ ! -x "$RINGCACHED" ]; then
    echo "RINGCACHED='${RINGCACHED:-}' is not an executable (not built?)"
    exit 99
fi
case $(basename "$(readlink -f "$RINGCACHED")") in
    memcached*) echo "SKIP: --io-engine is ringcached's"; exit 77 ;;
esac
here=${RC_TESTLIB:-$(dirname "$0")}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rc-epoll.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
# exec: the wrapper's PID is the server's, so the suites stop it by PID as usual.
cat > "$tmp/ringcached" <<EOF
#!/bin/sh
exec "$RINGCACHED" --io-engine=epoll "\$@"
EOF
chmod +x "$tmp/ringcached"

passed=0
failed=0
for suite in fragments_test.py regressions_test.py receive_test.py bad_input_test.py \
             binary_bad_input_test.py transcript_test.py meta_test.py pymemcache_test.py \
             memccapable.sh; do
    case $suite in
        *.py) run=(/usr/bin/python3 "$here/$suite") ;;
        *.sh) run=(/bin/bash "$here/$suite") ;;
    esac
    echo "# $suite with --io-engine=epoll"
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
