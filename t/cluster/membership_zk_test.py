#!/usr/bin/python3
# t/cluster/membership_zk_test.py -- runs t/cluster/membership_zk_test (cluster::Membership's
# listeners, member states and view versions, in C++) against a private ZooKeeper started here on
# a free loopback port, and stops it by PID afterwards. Skips (77) without java or ZooKeeper.
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
import rctest  # noqa: E402


def main():
    zkcluster.require()
    here = os.environ.get("RC_BUILDDIR") or os.path.dirname(os.path.abspath(rctest.binary()))
    test = os.path.join(here, "t", "cluster", "membership_zk_test")
    r = rctest.Runner("cluster::Membership against ZooKeeper", time_limit=150)
    workdir = tempfile.mkdtemp(prefix="rc-zk-")
    zk = zkcluster.ZooKeeper(workdir)
    try:
        zk.start()

        def run():
            env = dict(os.environ, RC_ZK_HOSTS=zk.hosts)
            # Under ASan: the ZooKeeper client's own leak at close is not ours (lsan.supp).
            supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan.supp")
            env["LSAN_OPTIONS"] = ":".join(
                o for o in (os.environ.get("LSAN_OPTIONS", ""), f"suppressions={supp}") if o)
            p = subprocess.run([test], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=120)
            out = p.stdout.decode("utf-8", "replace")
            print("\n".join("    " + line for line in out.splitlines()
                            if line.startswith(("[ ", "[  ")) or "Failure" in line))
            if p.returncode != 0:
                raise rctest.Failure(f"exit {p.returncode}:\n{out[-3000:]}")
        r.case("listeners, member states and the view version (gtest)", run)
    finally:
        zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
