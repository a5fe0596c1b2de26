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
#
# Then every kind of write (sync mode, with an HTTP origin for a read-through fill): flush_all,
# set, add, replace, append, prepend, cas, incr, decr, delete hit and miss, touch, gat, md I and
# a fill, all on keys one node owns; after its kill -9 the ejecting client reads from the next
# holder exactly what it would have read from the owner (values, deletes, TTLs, staleness).
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "origin"))
import zkcluster  # noqa: E402
import origin_support as osup  # noqa: E402
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


def case_every_kind_of_write_survives_a_failover(s):
    import pylibmc
    servers = [n.ring_name for n in s.nodes]
    victim = s.nodes[2]
    by_name = {n.ring_name: n for n in s.nodes}
    # Keys the victim owns, with the holder clients fail over to.
    lines = subprocess.run([os.path.join(os.path.dirname(rctest.binary()), "ringcached-ring"),
                            "--servers", ",".join(servers), "failover", "2"] +
                           [f"w{i}" for i in range(300)] + [f"fill:{i}" for i in range(100)],
                           capture_output=True, text=True, check=True).stdout.split("\n")
    owned = [line.split() for line in lines if len(line.split()) == 3
             and line.split()[1] == victim.ring_name]
    keys = iter([k for k, _, _ in owned if k.startswith("w")])
    fill_key, _, fill_next = next(x for x in owned if x[0].startswith("fill:"))
    next_of = {k: by_name[h] for k, _, h in owned}
    c = client(servers)
    want = {}  # key -> the value every holder must end with (None: gone)
    k = next(keys)
    c.set(k, "old")
    c.flush_all()  # every node, as memcached clients send it
    want[k] = None
    k = next(keys)
    check(c.set(k, "set", time=1000), "set")
    want[k] = "set"
    k = next(keys)
    check(c.add(k, "added"), "add")
    want[k] = "added"
    k = next(keys)
    c.set(k, "x")
    check(c.replace(k, "replaced"), "replace")
    want[k] = "replaced"
    k = next(keys)
    c.set(k, "mid")
    check(c.append(k, "-app") and c.prepend(k, "pre-"), "append, prepend")
    want[k] = "pre-mid-app"
    k = next(keys)
    c.set(k, "before-cas")
    _, cas = c.gets(k)
    check(c.cas(k, "after-cas", cas), "cas")
    want[k] = "after-cas"
    k_incr = next(keys)
    c.set(k_incr, "10")
    check_eq(c.incr(k_incr, 5), 15, "incr")
    check_eq(c.decr(k_incr, 3), 12, "decr")
    want[k_incr] = "12"
    k = next(keys)
    c.set(k, "doomed")
    check(c.delete(k), "delete")
    want[k] = None
    # A delete miss: a placeholder only the next holder has (mg N is not replicated) goes too.
    k_miss = next(keys)
    with next_of[k_miss].connect() as conn:
        check(conn.cmd(f"mg {k_miss} N30").endswith("W"), "a placeholder on the next holder")
    check(not c.delete(k_miss), "a delete miss on the owner")
    want[k_miss] = None
    # touch, gat and md I through a connection of the owner's own.
    k_touch, k_gat, k_inv = next(keys), next(keys), next(keys)
    for key in (k_touch, k_gat, k_inv):
        c.set(key, key, time=1000)
        want[key] = key
    check(c.touch(k_touch, 100), "touch")
    with victim.connect() as conn:
        conn.send(f"gat 200 {k_gat}\r\n".encode())
        check_eq([conn.read_line() for _ in range(3)][2], b"END", "gat")
        check_eq(conn.cmd(f"md {k_inv} I"), "HD", "md I")
    # A read-through fill on the owner.
    s.origin.set_value(fill_key, "from the origin")
    check_eq(c.get(fill_key), b"from the origin", "a fill")
    want[fill_key] = "from the origin"
    # Sync mode: each write above was answered once its copy was acknowledged; the fill is not
    # a client's write, so its copy is waited for (with me: a get would read through itself).
    with by_name[fill_next].connect() as conn:
        zkcluster.eventually(lambda: conn.cmd(f"me {fill_key}") != "EN", 10)
    victim.kill()
    reader = client(servers)

    def read(key):
        for _ in range(3):  # the first request to the dead node fails and ejects it
            try:
                return reader.get(key)
            except pylibmc.Error:
                continue
        return None
    for key, value in want.items():
        got = read(key)
        check_eq(got if got is None or isinstance(got, str) else got.decode(), value,
                 f"{key} after the owner's kill -9")
    check_eq(s.origin.count(fill_key), 1, "origin requests for the filled key")
    for key, want_ttl in ((k_touch, 100), (k_gat, 200)):
        with next_of[key].connect() as conn:
            ttl = conn.cmd(f"mg {key} t")
        check(ttl.startswith("HD t") and want_ttl - 10 <= int(ttl[4:]) <= want_ttl,
              f"{key}'s TTL on the next holder: {ttl!r}")
    with next_of[k_inv].connect() as conn:
        check("X" in conn.cmd(f"mg {k_inv} c").split(), "the invalidation: stale on the next holder")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/fo{os.getpid()}"
        self.secret = zkcluster.write_secret(workdir, "failover test secret")
        self.nodes = []
        self.origin = osup.HttpOrigin()


def start_nodes(s, mode, extra=(), name=None):
    s.nodes = zkcluster.start_nodes(f"{s.url}-{name or mode}", 3, [
        "--ring-debounce-ms", "100", "--zk-session-timeout-ms", "4000",
        "--cluster-secret-file", s.secret, "--replication", mode] + list(extra),
        prefix=name or mode)


def main():
    zkcluster.require(pylibmc=True)
    rctest.binary()
    r = rctest.Runner("failover: no acknowledged write lost", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-fo-")
    s = Setup(workdir)
    try:
        s.zk.start()
        s.origin.start()
        for mode in ("async", "sync"):
            try:
                start_nodes(s, mode)
                r.case(f"3 nodes, R = 2 {mode}, pylibmc failover: kill -9 mid-stream; stale 0, "
                       f"lost {'0' if mode == 'sync' else 'reported'}",
                       case_no_acknowledged_write_lost, s, mode)
            finally:
                for n in s.nodes:
                    n.kill()
        try:
            start_nodes(s, "sync", ["--origin", s.origin.url, "--origin-key-prefix", "fill:"],
                        name="kinds")
            r.case("3 nodes, R = 2 sync: every kind of write (flush_all, set, add, replace, "
                   "append, prepend, cas, incr, decr, delete hit and miss, touch, gat, md I, a "
                   "read-through fill) reads the same after the owner's kill -9",
                   case_every_kind_of_write_survives_a_failover, s)
        finally:
            for n in s.nodes:
                n.kill()
    finally:
        s.origin.stop()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
