#!/usr/bin/python3
# t/cluster/fencing_test.py -- a node that was away never serves what changed meanwhile, and a
# ZooKeeper outage never takes the cache down (issue 18; ../shared/REPLICATION.md section 5;
# cluster/lease.h). Three nodes, R = 2, 2 s ZooKeeper sessions, a private ZooKeeper.
#
#   * Fenced rejoin, three flaps in a row: SIGSTOP a node past its session timeout (until the
#     others have dropped it); through pylibmc (KETAMA_WEIGHTED) configured with the ring an
#     ejecting client ends with -- the two others (libmemcached 1.0.18 marks a server that times
#     out dead but keeps it on its continuum, so a stopped node's keys fail rather than fail
#     over; a refused connection, as after kill -9, does eject) -- rewrite half of its keys and
#     delete the other half;
#     queue gets of all of them on its socket; SIGCONT. The queued gets, answered the moment it
#     runs again, and every read of it after it rejoined: 0 old values, 0 resurrected deletes.
#     How long it answered misses before serving again is printed.
#   * ZooKeeper outage: ZooKeeper killed past the session timeout with every node healthy: every
#     read of every node hits throughout, and when ZooKeeper is back no node was fenced or wiped.
#   * ZooKeeper outage plus a node loss: one of three killed while ZooKeeper is down: the two
#     survivors keep serving hits (2 of 3 members vouch for each).
#   * Empty restart: kill -9 one node, rewrite and delete its keys through the others, restart it
#     empty under the same name: no newer value elsewhere is overwritten, no key resurrected.
#   * A fenced node's clients: a node cut off from ZooKeeper alone (a relay the test cuts), refused
#     by its peers, serves misses (reads through to its origin for a key it has an old fill of),
#     writes through the key's other holders, answers SERVER_ERROR once none of them answers, and
#     is emptied when ZooKeeper is back.
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

SESSION_MS = 2000
KEYS = 200


def ejecting_client(servers):
    import pylibmc
    # A stopped node accepts connections (the kernel does) and never answers: the receive
    # timeout fails the request, and the failure limit of 1 ejects it.
    return pylibmc.Client(servers, binary=False, behaviors={
        "ketama_weighted": True, "remove_failed": 1, "failure_limit": 1, "retry_timeout": 60,
        "dead_timeout": 60, "connect_timeout": 300, "receive_timeout": 300 * 1000,
        "send_timeout": 300 * 1000})


def with_retries(fn, *args):
    """The request again after a failure: the first to a stopped or dead node ejects it."""
    import pylibmc
    for _ in range(4):
        try:
            return fn(*args)
        except pylibmc.Error:
            continue
    raise rctest.Failure(f"{fn.__name__}{args[:1]} failed four times")


def owned_by(s, node, prefix, count):
    """`count` keys the ring of all three nodes gives `node`."""
    servers = [n.ring_name for n in s.nodes]
    names = [f"{prefix}{i}" for i in range(count * 6 + 60)]
    out = subprocess.run([os.path.join(os.path.dirname(rctest.binary()), "ringcached-ring"),
                          "--servers", ",".join(servers), "owner"] + names,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    keys = [line.split()[0] for line in out if line.endswith(" " + node.ring_name)]
    check(len(keys) >= count, f"only {len(keys)} of {len(names)} keys owned by {node.name}")
    return keys[:count]


def members_seen(node):
    return int(node.cluster_stats()["ring_members"])


def incarnation(node):
    return int(node.cluster_stats()["self_incarnation"])


def case_fenced_rejoin(s, flaps):
    victim = s.nodes[0]
    others = s.nodes[1:]
    results = []
    for flap in range(flaps):
        keys = owned_by(s, victim, f"f{flap}_", KEYS)
        with victim.connect() as c:
            for k in keys:
                check_eq(c.set(k, f"old{flap}"), "STORED", "set on the owner")
        before = incarnation(victim)
        fences = int(victim.cluster_stats()["lease_fences"])
        victim.pause()
        try:
            # Away past its session: the others drop it.
            zkcluster.eventually(lambda: all(members_seen(n) == 2 for n in others), 15)
            c = ejecting_client([n.ring_name for n in others])
            rewritten, deleted = keys[: KEYS // 2], keys[KEYS // 2:]
            for k in rewritten:
                check(with_retries(c.set, k, f"new{flap}"), f"set {k} through the others")
            for k in deleted:
                with_retries(c.delete, k)
            # Requests that wait on the stopped node's socket, answered the moment it runs.
            queued = victim.connect(timeout=10)
            queued.send(("get " + " ".join(keys) + "\r\n").encode())
        finally:
            victim.resume()
        t_resumed = time.monotonic()
        at_once = read_get_reply(queued, len(keys))
        queued.close()
        stale_at_once = sum(1 for k in rewritten if at_once.get(k) == f"old{flap}".encode())
        resurrected_at_once = sum(1 for k in deleted if k in at_once)
        # It rejoins under a new incarnation, emptied; reads of it from then on.
        zkcluster.eventually(lambda: incarnation(victim) > before and
                             victim.cluster_stats()["lease_state"] == "held", 20)
        served_after = time.monotonic() - t_resumed
        zkcluster.eventually(lambda: all(members_seen(n) == 3 for n in s.nodes), 15)
        with victim.connect() as conn:
            after = conn.get_multi(keys)
        stale_after = sum(1 for k in rewritten if after.get(k, (0, b""))[1] == f"old{flap}".encode())
        resurrected_after = sum(1 for k in deleted if k in after)
        st = victim.cluster_stats()
        results.append((stale_at_once, resurrected_at_once, stale_after, resurrected_after,
                        served_after))
        print(f"    flap {flap + 1}: at once {len(at_once)} of {len(keys)} answered as hits "
              f"(stale {stale_at_once}, resurrected {resurrected_at_once}); after rejoining "
              f"stale {stale_after}, resurrected {resurrected_after}; misses only for "
              f"{served_after:.2f} s after SIGCONT; fenced: {st['fenced_reason']}")
        check_eq(int(st["lease_fences"]), fences + 1, "lease_fences")
        check(int(st["lease_wipes"]) >= flap + 1, f"lease_wipes {st['lease_wipes']}")
        check("fenced" in victim.output(), "no fencing log line")
    # Back for good: ZooKeeper's answers keep renewing its lease past a lease's length.
    renewals = int(victim.cluster_stats()["lease_zk_renewals"])
    time.sleep(SESSION_MS / 1000)
    st = victim.cluster_stats()
    check_eq(st["lease_state"], "held", "the lease after rejoining")
    check(int(st["lease_zk_renewals"]) > renewals, "ZooKeeper no longer renews the lease")
    check_eq(sum(r[0] + r[2] for r in results), 0, "old values served")
    check_eq(sum(r[1] + r[3] for r in results), 0, "deletes resurrected")


def read_get_reply(conn, count):
    """{key: value} of one get's reply already sent for `count` keys."""
    out = {}
    for _ in range(count + 1):
        line = conn.read_line(timeout=10)
        if line == b"END":
            return out
        parts = line.split(b" ")
        check_eq(parts[0], b"VALUE", f"reply line {line!r}")
        data = conn.read_exact(int(parts[3]) + 2)
        out[parts[1].decode()] = data[:-2]
    raise rctest.Failure("no END")


def preload(s, nodes, prefix, count):
    """`count` keys set on each node (its clients' writes), returned per node."""
    per = {}
    for n in nodes:
        keys = owned_by(s, n, f"{prefix}{n.name}_", count)
        with n.connect() as c:
            for k in keys:
                check_eq(c.set(k, "v"), "STORED", "preload")
        per[n.name] = keys
    return per


def read_all(nodes, per):
    """(hits, misses) of one get of every node's keys on that node."""
    hits = misses = 0
    for n in nodes:
        with n.connect() as c:
            got = c.get_multi(per[n.name])
        hits += len(got)
        misses += len(per[n.name]) - len(got)
    return hits, misses


def case_zookeeper_outage(s):
    per = preload(s, s.nodes, "z", 50)
    items = [int(n.connect().stats()["curr_items"]) for n in s.nodes]
    s.zk.kill()
    t0 = time.monotonic()
    hits = misses = 0
    try:
        while time.monotonic() - t0 < SESSION_MS / 1000 * 2.5:
            h, m = read_all(s.nodes, per)
            hits, misses = hits + h, misses + m
            time.sleep(0.05)
        grants = [int(n.cluster_stats()["lease_grant_renewals"]) for n in s.nodes]
    finally:
        s.zk.start()
    print(f"    {hits} hits, {misses} misses over {time.monotonic() - t0:.1f} s without "
          f"ZooKeeper; lease renewals by grants per node: {grants}")
    check_eq(misses, 0, "misses while ZooKeeper was down")
    check(all(g > 0 for g in grants), "a node held its lease without grants")
    zkcluster.eventually(lambda: all(n.cluster_stats()["zk_session_state"] == "connected"
                                     for n in s.nodes), 20)
    zkcluster.eventually(lambda: all(members_seen(n) == 3 for n in s.nodes), 15)
    for n, before in zip(s.nodes, items):
        st = n.cluster_stats()
        check_eq(st["lease_fences"], "0", f"{n.name} fenced")
        check_eq(st["lease_wipes"], "0", f"{n.name} wiped")
        check(int(n.connect().stats()["curr_items"]) >= before, f"{n.name} lost items")
    check_eq(read_all(s.nodes, per)[1], 0, "misses once ZooKeeper is back")


def case_zookeeper_outage_and_a_node_lost(s):
    survivors = s.nodes[:2]
    per = preload(s, survivors, "l", 50)
    s.zk.kill()
    t0 = time.monotonic()
    hits = misses = 0
    try:
        s.nodes[2].kill()
        while time.monotonic() - t0 < SESSION_MS / 1000 * 2.5:
            h, m = read_all(survivors, per)
            hits, misses = hits + h, misses + m
            time.sleep(0.05)
        states = [n.cluster_stats()["lease_state"] for n in survivors]
    finally:
        s.zk.start()
    print(f"    the two survivors: {hits} hits, {misses} misses over "
          f"{time.monotonic() - t0:.1f} s; leases {states}")
    check_eq(misses, 0, "misses on the survivors")
    check_eq(states, ["held", "held"], "the survivors' leases")


def case_fenced_node_writes(s):
    # Node a reaches ZooKeeper through a relay the test cuts: its session expires, the others drop
    # it and refuse it grants, and it stays fenced until the relay is restored.
    relay = zkcluster.TcpProxy(s.zk.port)
    relay.restore()
    origin = osup.HttpOrigin()
    origin.start()
    path = f"/ringcached/fence{os.getpid()}-writes"
    args = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", str(SESSION_MS),
            "--cluster-secret-file", s.secret]
    # a reads through to an origin for the keys under fill:, fenced or not.
    a = zkcluster.Node(f"zk://{relay.hosts}{path}", name="writes_a",
                       extra_args=args + ["--origin", origin.url, "--origin-key-prefix", "fill:"])
    b, c = (zkcluster.Node(f"zk://{s.zk.hosts}{path}", extra_args=args, name=f"writes_{x}")
            for x in "bc")
    s.nodes = [a, b, c]
    try:
        for n in s.nodes:
            n.start()
        zkcluster.eventually(lambda: all(members_seen(n) == 3 for n in s.nodes), 20)
        key = owned_by(s, a, "w", 1)[0]
        fill = owned_by(s, a, "fill:", 1)[0]
        origin.set_value(fill, "origin v1")
        with a.connect() as conn:
            check_eq(conn.set(key, "old"), "STORED", "set on the owner")
            check_eq(conn.get(fill), b"origin v1", "a read-through fill")
        origin.set_value(fill, "origin v2")  # the cached fill is now old
        relay.cut()
        zkcluster.eventually(lambda: all(members_seen(n) == 2 for n in (b, c)), 15)
        zkcluster.eventually(lambda: a.cluster_stats()["lease_state"] == "fenced", 15)
        st = a.cluster_stats()
        print(f"    a fenced: {st['fenced_reason']}")
        check(int(st["lease_refusals_received"]) > 0, "a fenced without a refusal")
        with a.connect() as conn:
            check_eq(conn.get(key), None, "a fenced node served a cached value")
            check_eq(conn.get(fill), b"origin v2", "a fenced node reads through, not its cache")
            # Its client's writes go to the key's other holders, and are answered once they have
            # them; an add is answered by the holder the clients now use.
            check_eq(conn.set(key, "new"), "STORED", "set on a fenced node")
            check_eq(conn.store("add", key, "x"), "NOT_STORED", "add on a fenced node")
        check_eq(ejecting_client([b.ring_name, c.ring_name]).get(key), b"new",
                 "the fenced node's write on the holders")
        # With no holder reachable, an error rather than a write nobody else has.
        b.kill()
        c.kill()
        with a.connect() as conn:
            reply = conn.set(key, "lost")
        check(reply.startswith("SERVER_ERROR"), f"set with no holder reachable: {reply!r}")
        relay.restore()
        zkcluster.eventually(lambda: a.cluster_stats()["lease_state"] == "held", 20)
        st = a.cluster_stats()
        check_eq(st["lease_wipes"], "1", "a emptied on its return")
        with a.connect() as conn:
            check_eq(conn.get(key), None, "a kept what it held while fenced")
    finally:
        relay.close()
        origin.stop()


def case_empty_restart(s):
    victim = s.nodes[0]
    servers = [n.ring_name for n in s.nodes]
    keys = owned_by(s, victim, "e", KEYS)
    with victim.connect() as c:
        for k in keys:
            check_eq(c.set(k, "old"), "STORED", "set on the owner")
    time.sleep(0.3)  # the copies on their way to the next holders
    victim.kill()
    zkcluster.eventually(lambda: all(members_seen(n) == 2 for n in s.nodes[1:]), 15)
    c = ejecting_client(servers)
    rewritten, deleted = keys[: KEYS // 2], keys[KEYS // 2:]
    for k in rewritten:
        check(with_retries(c.set, k, "new"), "set through the others")
    for k in deleted:
        with_retries(c.delete, k)
    victim.start()
    zkcluster.eventually(lambda: all(members_seen(n) == 3 for n in s.nodes), 20)
    time.sleep(1.5)  # a hint round and a resync tick, had the restarted node anything to send
    reader = ejecting_client(servers)
    overwritten = sum(1 for k in rewritten if with_retries(reader.get, k) not in (None, "new"))
    resurrected = sum(1 for k in deleted if with_retries(reader.get, k) is not None)
    on_others = 0
    for n in s.nodes[1:]:
        with n.connect() as conn:
            got = conn.get_multi(keys)
        on_others += sum(1 for k in rewritten if k in got and got[k][1] != b"new")
        on_others += sum(1 for k in deleted if k in got)
    print(f"    after an empty restart: overwritten {overwritten}, resurrected {resurrected}, "
          f"older values on the other holders {on_others}")
    check_eq((overwritten, resurrected, on_others), (0, 0, 0), "newer copies kept")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/fence{os.getpid()}"
        self.secret = zkcluster.write_secret(workdir, "fencing test secret")
        self.nodes = []

    def start(self, name):
        self.nodes = zkcluster.start_nodes(f"{self.url}-{name}", 3, [
            "--ring-debounce-ms", "100", "--zk-session-timeout-ms", str(SESSION_MS),
            "--cluster-secret-file", self.secret], prefix=name)

    def stop(self):
        for n in self.nodes:
            try:
                n.resume()
            except (OSError, AttributeError):
                pass
            n.kill()


def main():
    zkcluster.require(pylibmc=True)
    rctest.binary()
    r = rctest.Runner("fencing: the local lease", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-fence-")
    s = Setup(workdir)
    cases = [
        ("rejoin", "a node stopped past its session, its keys rewritten and deleted elsewhere: "
                   "0 old values and 0 resurrected deletes, at once and after it rejoins "
                   "(3 flaps)", case_fenced_rejoin, 3),
        ("outage", "ZooKeeper down past the session timeout, every node healthy: hits "
                   "throughout, nobody fenced or wiped", case_zookeeper_outage),
        ("loss", "ZooKeeper down and one of three nodes killed: the two survivors keep serving",
         case_zookeeper_outage_and_a_node_lost),
        ("empty", "kill -9 and an empty restart under the same name: no newer copy elsewhere "
                  "overwritten or deleted", case_empty_restart),
        ("writes", "a node cut off from ZooKeeper and refused by its peers: fenced, it serves "
                   "misses, writes through the holders, SERVER_ERROR when none answers, and is "
                   "emptied on its return", case_fenced_node_writes),
    ]
    try:
        s.zk.start()
        for name, title, fn, *extra in cases:
            try:
                if fn is not case_fenced_node_writes:  # it starts its own
                    s.start(name)
                r.case(title, fn, s, *extra)
            finally:
                s.stop()
    finally:
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
