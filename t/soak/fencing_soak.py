#!/usr/bin/python3
# t/soak/fencing_soak.py -- the fenced-rejoin check of t/cluster/fencing_test.py, ten flaps in a
# row (issue 18: "ten flaps in a minute"), outside `make check`: run by hand, from a build tree,
#
#   RINGCACHED=$PWD/ringcached RC_SHARED=../../shared RC_TESTLIB=../t/proto \
#     python3 ../t/soak/fencing_soak.py [FLAPS]
#
# Each flap stops one node of three past its 2 s ZooKeeper session, rewrites and deletes its keys
# through the others, resumes it and reads them from it at once and after it rejoins; the line per
# flap and the totals are printed, and any old value or resurrected delete fails the run.
import os
import sys
import tempfile
import subprocess
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
import fencing_test  # noqa: E402
import zkcluster  # noqa: E402
import rctest  # noqa: E402


def main():
    flaps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    zkcluster.require()
    rctest.binary()
    r = rctest.Runner("fencing soak", time_limit=60 + 10 * flaps)
    workdir = tempfile.mkdtemp(prefix="rc-fence-soak-")
    s = fencing_test.Setup(workdir)
    try:
        s.zk.start()
        s.start("soak")
        t0 = time.monotonic()
        r.case(f"{flaps} flaps in a row: 0 old values, 0 resurrected deletes",
               fencing_test.case_fenced_rejoin, s, flaps)
        print(f"# {flaps} flaps in {time.monotonic() - t0:.1f} s")
    finally:
        s.stop()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
