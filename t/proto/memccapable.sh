#!/bin/bash
# t/proto/memccapable.sh -- libmemcached's conformance checker (Debian names it memccapable;
# upstream memcapable), ASCII and binary, against the binary under test. All 54 tests must pass:
# 27 ASCII (version, quit, verbosity, set/get/gets/mget, flush, add, replace, cas, delete, incr,
# decr, append, prepend -- most also with noreply -- and stat) and 27 binary (every opcode and its
# quiet variant). memccapable applies its "1.6+"
# expectations only when `version` answers 1.6.x (PROTOCOL.md section 9).
#
# The server runs on a free loopback port and is stopped by PID (SIGTERM, SIGKILL after 10 s); if it
# died during the run the test fails loudly. Exit 77 (SKIP) when memccapable is not installed.
set -u

EXPECTED_TESTS=54

if ! command -v memccapable >/dev/null 2>&1; then
    echo "SKIP: memccapable not found (Debian package libmemcached-tools)"
    exit 77
fi
if [ -z "${RINGCACHED:-}" ] || [ ! -x "$RINGCACHED" ]; then
    echo "RINGCACHED='${RINGCACHED:-}' is not an executable (not built?)"
    exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rc-memccapable.XXXXXX") || exit 99
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP  # so the EXIT trap runs on these too

free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Start the server; retry with another port if the one found free was taken meanwhile.
port=""
for attempt in 1 2 3; do
    port=$(free_port) || exit 99
    args=(-p "$port" -U 0 -l 127.0.0.1)
    [ "$(id -u)" = 0 ] && args+=(-u root)
    "$RINGCACHED" "${args[@]}" >"$tmp/server.log" 2>&1 &
    pid=$!
    up=no
    for _ in $(seq 1 100); do  # up to 10 s
        kill -0 "$pid" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=yes; break; fi
        sleep 0.1
    done
    [ "$up" = yes ] && break
    if kill -0 "$pid" 2>/dev/null; then
        echo "FAIL: server did not accept connections on port $port within 10 s"
        cat "$tmp/server.log"
        exit 1
    fi
    wait "$pid"; rc=$?; pid=""
    echo "server exited during start-up (status $rc), attempt $attempt:"
    cat "$tmp/server.log"
    grep -qi bind "$tmp/server.log" || exit 1
done
[ "$up" = yes ] || { echo "FAIL: could not start the server"; exit 1; }

echo "# memccapable (ASCII and binary) against $RINGCACHED (pid $pid, port $port)"
runner=()
command -v stdbuf >/dev/null 2>&1 && runner=(stdbuf -oL -eL)
timeout 120 "${runner[@]}" memccapable -h 127.0.0.1 -p "$port" -t 5 >"$tmp/out" 2>&1
mc_rc=$?
cat "$tmp/out"

status=0
passed=$(grep -cE '^(ascii|binary) .*\[pass\][[:space:]]*$' "$tmp/out")
failed=$(grep -E '^(ascii|binary) ' "$tmp/out" | grep -vcE '\[pass\][[:space:]]*$')
if [ "$mc_rc" -ne 0 ]; then
    echo "FAIL: memccapable exited with status $mc_rc$([ "$mc_rc" -eq 124 ] && echo ' (timed out)')"
    status=1
fi
if [ "$passed" -ne "$EXPECTED_TESTS" ] || [ "$failed" -ne 0 ]; then
    echo "FAIL: $passed of $EXPECTED_TESTS tests passed, $failed did not"
    status=1
fi

# The server must still be alive (no crash), then stop cleanly on SIGTERM.
if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"; rc=$?; pid=""
    echo "FAIL: the server DIED during the run (status $rc)"
    cat "$tmp/server.log"
    exit 1
fi
kill -TERM "$pid"
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the server did not exit within 10 s of SIGTERM; killing it"
    kill -KILL "$pid"; wait "$pid"; pid=""
    exit 1
fi
wait "$pid"; rc=$?; pid=""
if [ "$rc" -ne 0 ] && [ "$rc" -ne 143 ]; then
    echo "FAIL: the server exited with status $rc on SIGTERM"
    cat "$tmp/server.log"
    status=1
fi

echo "# memccapable: $passed of $EXPECTED_TESTS passed"
# The line scripts/summarize-tests.sh adds up over every test program.
echo "$passed passed, $((EXPECTED_TESTS - passed + status)) failed"
exit $status
