#!/usr/bin/python3
# t/soak/join_leave_soak.py -- the join/leave rounds of t/cluster/drain_test.py, many in a row
# (issue 19: "more in the soak script"), outside `make check`: run by hand, from a build tree,
#
#   RINGCACHED=$PWD/ringcached RC_SHARED=../../shared RC_TESTLIB=../t/proto \
#     python3 ../t/soak/join_leave_soak.py [ROUNDS]
#
# Three nodes, R = 2, synchronous replication; a writer that follows `config get cluster`
# overwrites and reads back 4,000 keys while a fourth node joins (warming, then up) and drains
# (SIGUSR1), ROUNDS times (default 10). Any error, stale read or lost acknowledged write fails
# the run.
import os
import sys
import tempfile
import subprocess
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
import drain_test  # noqa: E402
import zkcluster  # noqa: E402
import rctest  # noqa: E402


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    zkcluster.require(pylibmc=True)
    rctest.binary()
    r = rctest.Runner("join/leave soak", time_limit=90 + 15 * rounds)
    workdir = tempfile.mkdtemp(prefix="rc-churn-soak-")
    s = drain_test.Setup(workdir)
    try:
        s.zk.start()
        s.nodes = zkcluster.start_nodes(s.url, 3, s.args, prefix="soak")
        s.keys = [f"d{i}" for i in range(drain_test.PREFILL)]
        s.expected = drain_test.prefill(s.nodes, s.keys)
        t0 = time.monotonic()
        r.case(f"{rounds} join/drain rounds under load: no error, no stale read, no write lost",
               drain_test.case_join_leave_rounds, s, rounds)
        print(f"# {rounds} rounds in {time.monotonic() - t0:.1f} s")
    finally:
        for n in s.nodes + s.extra:
            n.kill()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
