#!/bin/bash
# t/proto/memjs_test.sh -- runs t/proto/memjs_test.js (the binary protocol through memjs, a Node.js
# client) against the binary under test ($RINGCACHED).
#
# The server is started and stopped by rctest.ServerProcess (free loopback port, stopped by PID,
# a crash fails loudly); its port goes to node in RC_MEMJS_PORT. Exit 77 (SKIP) when node or the
# installed memjs is missing (scripts/install-deps.sh installs both: Debian's nodejs and npm, then
# `npm ci --prefix t/proto/node`). The last line is "N passed, M failed" (a server that died or did
# not stop cleanly counts as one more failure).
set -u

here=$(cd "$(dirname "$0")" && pwd)
testlib=${RC_TESTLIB:-$here}
modules=${RC_MEMJS_MODULES:-$testlib/node/node_modules}

if ! command -v node >/dev/null 2>&1; then
    echo "SKIP: node not found (scripts/install-deps.sh installs Debian's nodejs)"
    exit 77
fi
if [ ! -f "$modules/memjs/package.json" ]; then
    echo "SKIP: memjs not installed in $modules (run: npm ci --prefix t/proto/node)"
    exit 77
fi
if [ -z "${RINGCACHED:-}" ] || [ ! -x "$RINGCACHED" ]; then
    echo "RINGCACHED='${RINGCACHED:-}' is not an executable (not built?)"
    exit 99
fi

export RC_TESTLIB=$testlib RC_MEMJS_MODULES=$modules
exec /usr/bin/python3 - "$testlib/memjs_test.js" <<'PY'
import os
import re
import subprocess
import sys

sys.path.insert(0, os.environ["RC_TESTLIB"])
import rctest  # noqa: E402

script = sys.argv[1]
node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
print(f"# memjs (Node.js {node_version}) against {rctest.binary()}", flush=True)
passed = failed = 0
status = 1
srv = rctest.ServerProcess(name="server")
try:
    srv.start()
    try:
        run = subprocess.run(["node", script], env={**os.environ, "RC_MEMJS_PORT": str(srv.port)},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
        out, status = run.stdout.decode("utf-8", "replace"), run.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace") + "\nFAIL  - node timed out after 90 s\n"
        status = 1
    summary = None
    for line in out.splitlines():
        m = re.fullmatch(r"(\d+) passed, (\d+) failed", line.strip())
        if m:
            summary = (int(m.group(1)), int(m.group(2)))
        else:
            print(line, flush=True)
    if status == 77:
        print("SKIP: memjs could not be loaded", flush=True)
        srv.stop()
        sys.exit(77)
    if summary is None:
        print(f"FAIL  - node exited with status {status} without a summary", flush=True)
        summary = (0, 1)
    passed, failed = summary
    if status != 0 and failed == 0:
        failed = 1
    srv.assert_alive("after the memjs run")
    srv.stop()
except rctest.Failure as e:
    print(f"FAIL  - server: {e}", flush=True)
    failed += 1
finally:
    srv.kill()
print(f"{passed} passed, {failed} failed", flush=True)
sys.exit(0 if failed == 0 and status == 0 else 1)
PY
