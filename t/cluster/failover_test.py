#!/usr/bin/python3
# t/cluster/failover_test.py -- losing a node loses no acknowledged write (issue 17), measured as
# a user would: three nodes with R = 2, and pylibmc (libmemcached
# 1.0.18) configured as users configure it for failover -- KETAMA_WEIGHTED, REMOVE_FAILED_SERVERS
# with a failure limit of 1 -- writing 6,000 keys and recording every STORED; the node that owns
# a third of them is killed with SIGKILL half way through. Afterwards a fresh ejecting client
# (the dead node still listed, found dead and removed, as every client of the pool does) reads
# every recorded key: it must have its last acknowledged value (sync: lost 0, stale 0; async:
# stale 0, and the lost ones reported -- 0 in the runs so far), and a `cas`
# with a CAS read from the dead owner before the kill succeeds on the holder the client fails
# over to (versions are the same on every holder).
#
# Both modes: asynchronous (the copy leaves before the reply, in the same round of the owner's
# loop, so none is lost here, though the mode does not promise it) and synchronous (the reply
# waits for the copy: promised). Before replication the same run lost 1,059 of 4,966 acknowledged
# keys (21%).
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

N = 6000


def client(servers):
    import pylibmc
    return pylibmc.Client(servers, binary=False, behaviors={
        "ketama_weighted": True, "remove_failed": 1, "failure_limit": 1, "retry_timeout": 30,
        "dead_timeout": 30,
        "connect_timeout": 500, "receive_timeout": 1000 * 1000, "send_timeout": 1000 * 1000,
        "cas": True})


def case_no_acknowledged_write_lost(s, mode):
    import pylibmc
    servers = [n.ring_name for n in s.nodes]
    victim = s.nodes[1]
    c = client(servers)
    # A key the victim owns, read with its CAS before the kill.
    owner_of = subprocess.run([os.path.join(os.path.dirname(rctest.binary()), "ringcached-ring"),
                               "--servers", ",".join(servers), "owner"] +
                              [f"cas{i}" for i in range(50)], capture_output=True, text=True,
                              check=True).stdout.split("\n")
    cas_key = next(line.split()[0] for line in owner_of if line.endswith(victim.ring_name))
    c.set(cas_key, "before")
    value, cas = c.gets(cas_key)
    check_eq(value, "before", "gets on the owner")
    acked, errors = {}, 0
    t0 = time.monotonic()
    for i in range(N):
        if i == N // 2:
            # The owner's links to its peers are up (their handshake takes a few ms; on a loaded
            # machine, wait for them), so every acknowledged write's copy has left.
            def links_ready():
                st = victim.cluster_stats()
                return int(st["repl_links"]) > 0 and st["repl_links_ready"] == st["repl_links"]
            zkcluster.eventually(links_ready, 10)
            victim.kill()
        key, value = f"k{i}", f"v{i}"
        try:
            if c.set(key, value):
                acked[key] = value
        except pylibmc.Error:
            errors += 1
    took = time.monotonic() - t0
    time.sleep(0.5)  # async: the last copies on their way
    reader = client(servers)
    lost = stale = 0
    for key, value in acked.items():
        got = None
        # The reader's first request to the dead node fails, and ejects it: ask again, as an
        # application would, and the key's next holder answers.
        for _ in range(3):
            try:
                got = reader.get(key)
                break
            except pylibmc.Error:
                continue
        if got is None:
            lost += 1
        elif got != value:
            stale += 1
    print(f"    {len(acked)} of {N} sets acknowledged ({errors} errors) in {took:.1f} s; "
          f"after kill -9 of the owner of a third: lost {lost}, stale {stale}")
    check_eq(stale, 0, "acknowledged keys stale after failover")
    if mode == "sync":
        check_eq(lost, 0, "acknowledged keys lost after failover (sync)")
    else:
        # Asynchronous mode promises less: a copy still on its way when the owner dies is lost.
        # The copies leave on the owner's next loop turn, so there are few such (none in the runs
        # so far); the bound only keeps a slow machine from failing the test.
        check(lost <= len(acked) // 100, f"{lost} acknowledged keys lost (async): over 1%")
    check(len(acked) > N * 0.9, f"only {len(acked)} acknowledged")
    # The dead owner's CAS is good on the holder the client fails over to.
    check(reader.cas(cas_key, "after", cas), "cas with the dead owner's CAS was refused")
    check_eq(reader.get(cas_key), "after", "the cas applied")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/fo{os.getpid()}"
        self.secret = zkcluster.write_secret(workdir, "failover test secret")
        self.nodes = []


def start_nodes(s, mode):
    s.nodes = zkcluster.start_nodes(f"{s.url}-{mode}", 3, [
        "--ring-debounce-ms", "100", "--zk-session-timeout-ms", "4000",
        "--cluster-secret-file", s.secret, "--replication", mode], prefix=mode)


def main():
    missing = zkcluster.zookeeper_missing()
    if missing:
        raise rctest.Skip(missing)
    try:
        import pylibmc  # noqa: F401
    except ImportError:
        raise rctest.Skip("pylibmc is not installed (Debian: python3-pylibmc)")
    rctest.binary()
    r = rctest.Runner("failover: no acknowledged write lost", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-fo-")
    s = Setup(workdir)
    try:
        s.zk.start()
        for mode in ("async", "sync"):
            try:
                start_nodes(s, mode)
                r.case(f"3 nodes, R = 2 {mode}, pylibmc failover: kill -9 mid-stream; stale 0, "
                       f"lost {'0' if mode == 'sync' else 'reported'}",
                       case_no_acknowledged_write_lost, s, mode)
            finally:
                for n in s.nodes:
                    n.kill()
    finally:
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
