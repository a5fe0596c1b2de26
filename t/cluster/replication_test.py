#!/usr/bin/python3
# t/cluster/replication_test.py -- asynchronous replication between real nodes (issue 17; design
# ../shared/REPLICATION.md section 4, as built: doc/replication.md). Two nodes in a private
# ZooKeeper cluster with a shared secret, so R = 2 and every key is held by both: what a client
# writes on one node, the other serves -- the value, its flags, its CAS (the owner's version),
# its TTL -- for every kind of write (a read-through fill from an HTTP origin too), and a delete,
# hit or miss, removes it from both. Then a node without the
# secret, and one whose configuration differs, get no copies.
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

SECRET = "replication test secret"


def eventually(pred, what, timeout=10):
    try:
        zkcluster.eventually(pred, timeout)
    except rctest.Failure as e:
        raise rctest.Failure(f"{what}: {e}") from None


def gets(node, key):
    with node.connect() as c:
        return c.get_multi([key], verb="gets").get(key)


def meta_get(c, line):
    """An mg's reply line, and its value's line after a VA."""
    c.send(line.encode() + b"\r\n")
    head = c.read_line()
    return (head, c.read_line()) if head.startswith(b"VA") else (head,)


def case_every_write_reaches_the_other_holder(s):
    a, b = s.nodes
    with a.connect() as c:
        for i in range(100):
            check_eq(c.set(f"k{i}", f"value-{i}", flags=i), "STORED", "set")
        check_eq(c.store("add", "added", "x"), "STORED", "add")
        check_eq(c.set("n", "10"), "STORED", "set n")
        check_eq(c.cmd("incr n 5"), "15", "incr")
        check_eq(c.store("append", "added", "yz"), "STORED", "append")
        check_eq(c.set("ttl", "t", exptime=1000), "STORED", "set ttl")
        check_eq(c.cmd("touch ttl 100"), "TOUCHED", "touch")
        check_eq(c.set("gone", "g"), "STORED", "set gone")
        check_eq(c.cmd("delete gone"), "DELETED", "delete")
        c.send(b"ms meta 4 T0 F9\r\nmeta\r\n")
        check_eq(c.read_line(), b"HD", "ms")
        want = {k: v for k, v in c.get_multi(["k0", "k99", "added", "n", "ttl", "meta"],
                                              verb="gets").items()}
    eventually(lambda: gets(b, "meta") is not None and gets(b, "added") == want["added"],
               "the last writes reached the other node")
    for key, value in want.items():
        check_eq(gets(b, key), value, f"{key} on the other node (flags, value, CAS)")
    with b.connect() as c:
        got = c.get_multi([f"k{i}" for i in range(100)])
        check_eq(len(got), 100, "keys on the other node")
        check(c.get("gone") is None, "a deleted key is gone from the other node")
        ttl = c.cmd("mg ttl t")
        check(ttl.startswith("HD t") and 90 <= int(ttl[4:]) <= 100, f"the touched TTL: {ttl!r}")
    # The other node's answers reach a a moment after it applied the writes.
    eventually(lambda: int(a.cluster_stats()["repl_applied"]) >= 108, "repl_applied counted")
    st = a.cluster_stats()
    check_eq(st["repl_links_ready"], st["repl_links"], "every link ready")
    check_eq(st["repl_dropped"], "0", "nothing dropped")
    # stats replication: the link to the other node, what it carried and how late.
    with a.connect() as c:
        rs = c.stats("replication")
    p = b.ring_name + ":"
    check_eq(rs["replicas"], "2", "stats replication replicas")
    check_eq(rs[p + "links_ready"], rs[p + "links"], "the links to the other node are ready")
    check(int(rs[p + "applied"]) >= 108, f"applied {rs[p + 'applied']}")
    check(0 < int(rs[p + "lag_p50_us"]) <= int(rs[p + "lag_p99_us"]),
          f"lag p50 {rs[p + 'lag_p50_us']} p99 {rs[p + 'lag_p99_us']}")
    # The other node's client counters count client traffic only.
    with b.connect() as c:
        general = c.stats()
        check_eq(general["cmd_set"], "0", "peer writes are not cmd_set")


def case_the_other_writes_reach_the_other_holder(s):
    a, b = s.nodes
    with a.connect() as c:
        check_eq(c.set("gat", "g", exptime=1000), "STORED", "set gat")
        check_eq(c.set("dn", "10"), "STORED", "set dn")
        check_eq(c.set("pre", "b"), "STORED", "set pre")
        check_eq(c.set("cas", "old"), "STORED", "set cas")
        check_eq(c.set("inv", "i"), "STORED", "set inv")
    eventually(lambda: gets(b, "inv") is not None, "the first writes on b")
    # A key only b has: mg N vivifies a placeholder there, which no peer is told of.
    with b.connect() as c:
        check(c.cmd("mg only-b N30").endswith("W"), "vivified on b")
        check(c.cmd("mg only-b").startswith("HD"), "the placeholder is on b")
    with a.connect() as c:
        cas = gets(a, "cas")[2]
        check_eq(c.store("cas", "cas", "new", extra=cas), "STORED", "cas")
        c.send(b"gat 200 gat\r\n")
        check_eq([c.read_line() for _ in range(3)], [b"VALUE gat 0 1", b"g", b"END"], "gat")
        check_eq(c.cmd("decr dn 3"), "7", "decr")
        check_eq(c.store("prepend", "pre", "a"), "STORED", "prepend")
        c.send(b"md inv I\r\n")
        check_eq(c.read_line(), b"HD", "md I")
        inv = meta_get(c, "mg inv c v")
        check_eq(c.cmd("delete only-b"), "NOT_FOUND", "a delete miss on a")
        want = c.get_multi(["cas", "dn", "pre"], verb="gets")
        # A read-through fill: read on a, served by b without asking the origin again.
        s.origin.set_value("fill:1", "from the origin")
        check_eq(c.get("fill:1"), b"from the origin", "a fill on a")
        fill = gets(a, "fill:1")
    eventually(lambda: gets(b, "fill:1") is not None, "the fill on b")
    check_eq(gets(b, "fill:1"), fill, "the fill on b (value, flags, CAS)")
    check_eq(s.origin.count("fill:1"), 1, "origin requests for the filled key")
    for key, value in want.items():
        check_eq(gets(b, key), value, f"{key} on b")
    with b.connect() as c:
        ttl = c.cmd("mg gat t")
        check(ttl.startswith("HD t") and 190 <= int(ttl[4:]) <= 200, f"gat's TTL on b: {ttl!r}")
        # The invalidation: b keeps the value, stale (X), with the new CAS, and hands out the
        # recache win (W) to its first reader, as a did.
        check("W" in inv[0].decode().split() and "X" in inv[0].decode().split(),
              f"the invalidated item on a: {inv!r}")
        check_eq(meta_get(c, "mg inv c v"), inv, "the invalidated item on b")
        check(c.cmd("mg only-b").startswith("EN"), "a delete miss on a removed b's item")


def case_reads_hint_the_other_holder(s):
    a, b = s.nodes
    keys = [f"hint{i}" for i in range(40)]
    with a.connect() as c:
        for k in keys:
            check_eq(c.set(k, "h"), "STORED", "set")

    def me(node, key):
        with node.connect() as c:
            return c.cmd(f"me {key}")

    def fetched(node, key):
        return " fetch=yes" in me(node, key)
    eventually(lambda: me(b, keys[-1]) != "EN", "the keys on b")
    # Clients read the first half on a: each key read reaches b within a second as a read there.
    with a.connect() as c:
        for _ in range(3):
            check_eq(len(c.get_multi(keys[:20])), 20, "reads on a")
    eventually(lambda: all(fetched(b, k) for k in keys[:20]), "b counts a's reads", 10)
    check(not any(fetched(b, k) for k in keys[20:]), "keys nobody read count as read on b")
    # Keys of 250 bytes: an rc_hints line holds a few (it must stay under the 2,048 bytes a
    # line may wait for its end).
    long_keys = [f"hintlong{i:03d}".ljust(250, "x") for i in range(30)]
    with a.connect() as c:
        for k in long_keys:
            check_eq(c.set(k, "h"), "STORED", "set a long key")
        eventually(lambda: me(b, long_keys[-1]) != "EN", "the long keys on b")
        check_eq(len(c.get_multi(long_keys)), 30, "reads of the long keys on a")
    eventually(lambda: all(fetched(b, k) for k in long_keys), "b counts a's reads of long keys",
               10)
    check_eq(a.cluster_stats()["repl_links"], a.cluster_stats()["repl_links_ready"],
             "every link still up")
    check(int(a.cluster_stats()["repl_hints"]) >= 20, "repl_hints")
    with b.connect() as c:
        rs = c.stats("replication")
    check(int(rs["copies"]) >= 40 and int(rs["copy_bytes"]) > 0, f"copies on b: {rs!r}")
    check(int(rs["tombstones"]) >= 1, "b keeps the tombstones of a's deletes")


def case_a_full_backlog_resyncs(s):
    a, b = s.nodes
    # b stops (not long enough to leave the ring) while a takes 25 MB of writes: more than its
    # link's backlog and the sockets hold, so some are dropped. Once b runs again, a walks its
    # store for b's keys, and b ends with every one.
    big = "x" * 250_000
    b.pause()
    try:
        with a.connect() as c:
            for i in range(100):
                check_eq(c.set(f"big{i}", f"{i}:{big}"), "STORED", "set")
        check(int(a.cluster_stats()["repl_dropped"]) > 0, "nothing dropped: the test is void")
    finally:
        b.resume()

    def all_on_b():
        with b.connect() as c:
            got = c.get_multi([f"big{i}" for i in range(100)])
        return all(got.get(f"big{i}", (0, b""))[1] == f"{i}:{big}".encode() for i in range(100))
    eventually(all_on_b, "every key on b after the resync", 30)
    check(int(a.cluster_stats()["repl_resyncs"]) >= 1, "repl_resyncs")


def case_writes_on_either_node(s):
    a, b = s.nodes
    with b.connect() as c:
        check_eq(c.set("from-b", "bee"), "STORED", "set on b")
    eventually(lambda: gets(a, "from-b") is not None, "b's write on a")
    cas = gets(a, "from-b")[2]
    # A cas with the version read on one node succeeds on the other: the CAS is the same.
    with b.connect() as c:
        check_eq(c.store("cas", "from-b", "bee2", extra=cas), "STORED", "cas with a's CAS on b")
    eventually(lambda: gets(a, "from-b")[1] == b"bee2", "the cas on a")
    # The same key written on both: both end with the later write.
    with a.connect() as ca, b.connect() as cb:
        for i in range(50):
            ca.set("both", f"a{i}")
            cb.set("both", f"b{i}")
    eventually(lambda: gets(a, "both") == gets(b, "both"), "both nodes agree on the key")


def case_refused_peers_get_nothing(s):
    a, _ = s.nodes
    # A third node with another secret: its links are refused and it gets no copies.
    other = zkcluster.write_secret(s.workdir, "not the same", name="other-secret")
    c3 = zkcluster.Node(s.url, extra_args=s.args + ["--cluster-secret-file", other],
                        name="wrongsecret")
    s.extra.append(c3)
    c3.start()
    eventually(c3.up, "the third node joins", 20)
    eventually(lambda: a.cluster_stats()["ring_members"] == "3", "a sees three members", 20)
    with a.connect() as c:
        for i in range(60):
            check_eq(c.set(f"third{i}", "x"), "STORED", "set")
    eventually(lambda: "wrong proof" in a.output(), "a log line about the wrong proof")
    check(all(gets(c3, f"third{i}") is None for i in range(60)),
          "a node with another secret got a copy")
    st = a.cluster_stats()
    check(int(st["repl_links"]) > int(st["repl_links_ready"]), "the link to it is not ready")
    check(SECRET not in a.output() and SECRET not in c3.output(), "the secret in a log")


def case_a_non_holder_sends_writes_on_and_keeps_a_guest_copy(s):
    a, b = s.nodes
    for n in s.extra:
        n.kill()
    eventually(lambda: a.cluster_stats()["ring_members"] == "2", "the third node gone", 20)
    c = zkcluster.Node(s.url, extra_args=s.args + ["--cluster-secret-file", s.secret,
                                                   "--guest-ttl", "2"], name="guesthost")
    s.extra.append(c)
    c.start()
    eventually(c.up, "c joins", 20)
    eventually(lambda: all(n.cluster_stats()["ring_members"] == "3" for n in (a, b, c)),
               "three members", 20)
    # With R = 2 of three nodes, c holds about two keys in three. Its own writes show which: a
    # key it does not hold gets the guest TTL there, and goes to both a and b.
    keys = [f"guest{i}" for i in range(60)]
    with c.connect() as conn:
        for k in keys:
            check_eq(conn.set(k, "g"), "STORED", "set on c")
        ttls = {k: int(conn.cmd(f"mg {k} t").split()[1][1:]) for k in keys}
        held = conn.stats("replication")
    guests = [k for k in keys if ttls[k] != -1]
    check_eq(held["guests"], str(len(guests)), "stats replication guests")
    check(int(held["guest_bytes"]) >= len(guests) * 30, f"guest_bytes {held['guest_bytes']}")
    check(0 < len(guests) < len(keys), f"c holds {len(keys) - len(guests)} of {len(keys)} keys")
    check(all(0 < ttls[k] <= 2 for k in guests), f"guest TTLs {[ttls[k] for k in guests]}")
    for n in (a, b):
        eventually(lambda: all(gets(n, k) is not None for k in guests), "the guests' holders", 10)
        with n.connect() as conn:
            got = [conn.cmd(f"mg {k} t") for k in guests]
            check(all(t == "HD t-1" for t in got),
                  f"a holder keeps the write as the client made it: {got}")
    with c.connect() as conn:
        check_eq(conn.stats("replication")["guest_writes"], str(len(guests)), "guest_writes")
        # A delete on c reaches the holders too.
        check_eq(conn.cmd(f"delete {guests[0]}"), "DELETED", "delete on c")
    eventually(lambda: gets(a, guests[0]) is None and gets(b, guests[0]) is None,
               "the delete on both holders")
    # Once the guest TTL has passed, c no longer serves its guests; the holders still do.
    time.sleep(2.5)
    with c.connect() as conn:
        check(not conn.get_multi(guests), "c still serves a guest copy")
        check_eq(conn.stats("replication")["guests"], "0", "guests once they expired")
    check_eq(gets(a, guests[1])[1], b"g", "the holder keeps it")


def case_operations_on_a_non_holder_are_the_owners(s):
    import pylibmc
    a, b = s.nodes
    c = s.extra[-1]  # three nodes now: a, b and c (the previous case)
    keys = [f"fwd{i}" for i in range(80)]
    with c.connect() as conn:
        sets_before = int(conn.stats()["cmd_set"])
        for k in keys:
            check_eq(conn.set(k, "10"), "STORED", "set on c")
        # The guest TTL shows which keys c does not hold: their holders are a and b.
        away = [k for k in keys if conn.cmd(f"mg {k} t") != "HD t-1"]
    check(len(away) >= 12, f"c holds all but {len(away)} of {len(keys)} keys")
    for n in (a, b):
        eventually(lambda: all(gets(n, k) is not None for k in away), "on the holders")
    # The owners' values move on; c's guest copies stay at "10".
    with a.connect() as conn:
        for k in away:
            check_eq(conn.set(k, "20"), "STORED", "set on a holder")
    for n in (a, b):
        eventually(lambda: all(gets(n, k)[1] == b"20" for k in away), "the new values")
    k = iter(away)
    with c.connect() as conn:
        # Without the owner these would be answered from c's guest copy, or from nothing.
        k1 = next(k)
        check_eq(conn.store("add", k1, "x"), "NOT_STORED", "add of a key the owner has")
        k2 = next(k)
        check_eq(conn.cmd(f"incr {k2} 5"), "25", "incr: the owner's number")
        check_eq(conn.cmd(f"decr {k2} 1"), "24", "decr")
        check(conn.get(k2) is None, "c dropped its guest copy, older than the owner's")
        k3 = next(k)
        cas = gets(a, k3)[2]
        check_eq(conn.store("cas", k3, "c3", extra=cas), "STORED", "cas with the owner's CAS")
        check_eq(conn.store("cas", k3, "c4", extra=cas), "EXISTS", "cas with an old CAS")
        k4 = next(k)
        check_eq(conn.store("append", k4, "a"), "STORED", "append")
        check_eq(conn.store("prepend", k4, "p"), "STORED", "prepend")
        gone = next(k)
        with a.connect() as ca:
            check_eq(ca.cmd(f"delete {gone}"), "DELETED", "delete on a holder")
        eventually(lambda: gets(b, gone) is None, "the delete on the other holder")
        check_eq(conn.store("replace", gone, "r"), "NOT_STORED", "replace of a key the owner lost")
        k5 = next(k)
        check_eq(conn.store("replace", k5, "r5"), "STORED", "replace")
        # noreply: nothing comes back, and the owner still applies it.
        conn.send(f"incr {k2} 100 noreply\r\nmn\r\n".encode())
        check_eq(conn.read_line(), b"MN", "noreply incr says nothing")
        # Meta: the owner's reply as the client asked for it (O and k echoed, q honoured).
        k6 = next(k)
        conn.send(f"ma {k6} D2 v O77 k\r\n".encode())
        check_eq(conn.read_line(), f"VA 2 O77 k{k6}".encode(), "ma's reply line")
        check_eq(conn.read_line(), b"22", "ma's value")
        conn.send(f"ms {k6} 1 ME q\r\nz\r\nms {k6} 1 MA q\r\nz\r\nmn\r\n".encode())
        check_eq(conn.read_line(), b"NS", "ms ME q: not stored, said even under q")
        check_eq(conn.read_line(), b"MN", "ms MA q: stored, and quiet")
        nope = next(k)
        check_eq(conn.cmd(f"incr {nope}x 1"), "NOT_FOUND", "incr of a key nobody has")
    want = {k2: b"124", k3: b"c3", k4: b"p20a", k5: b"r5", k6: b"22z", k1: b"20"}
    for n in (a, b):
        eventually(lambda: all((gets(n, key) or (0, b""))[1] == v for key, v in want.items()),
                   "both holders have the owner's results")
    with c.connect() as conn:
        check_eq(int(conn.stats()["cmd_set"]) - sets_before, len(keys),
                 "c counts only its own sets (the owner counts the forwarded ones)")
    # Binary (pylibmc), every request to c.
    mc = pylibmc.Client([c.ring_name], binary=True)
    k7, k8 = next(k), next(k)
    check(not mc.add(k7, "x"), "binary add of a key the owner has")
    check_eq(mc.incr(k8, 7), 27, "binary incr: the owner's number")
    check(mc.replace(k7, "r7"), "binary replace")
    check(mc.append(k7, "!"), "binary append")
    for n in (a, b):
        eventually(lambda: gets(n, k7)[1] == b"r7!" and gets(n, k8)[1] == b"27",
                   "the binary results on both holders")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/repl{os.getpid()}"
        self.secret = zkcluster.write_secret(workdir, SECRET)
        self.args = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", "4000"]
        self.nodes = []
        self.extra = []
        self.origin = osup.HttpOrigin()


def main():
    zkcluster.require()
    rctest.binary()
    r = rctest.Runner("replication between nodes", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-repl-")
    s = Setup(workdir)
    try:
        s.zk.start()
        s.origin.start()
        s.nodes = zkcluster.start_nodes(
            s.url, 2, s.args + ["--cluster-secret-file", s.secret, "--origin", s.origin.url,
                                "--origin-key-prefix", "fill:"])
        r.case("every kind of write on one node reaches the other holder",
               case_every_write_reaches_the_other_holder, s)
        r.case("invalidation, gat, decr, prepend, cas, a delete miss and a fill reach it too",
               case_the_other_writes_reach_the_other_holder, s)
        r.case("clients' reads on one holder count as reads on the other (access hints)",
               case_reads_hint_the_other_holder, s)
        r.case("writes dropped by a full backlog reach the peer by a resync",
               case_a_full_backlog_resyncs, s)
        r.case("writes on either node; a CAS read on one is good on the other",
               case_writes_on_either_node, s)
        r.case("a node with another secret gets no copies", case_refused_peers_get_nothing, s)
        r.case("a node that does not hold a key sends a client's write on, keeps it --guest-ttl",
               case_a_non_holder_sends_writes_on_and_keeps_a_guest_copy, s)
        r.case("add, cas, incr, append ... on a node that does not hold the key: the owner's "
               "answer, in text, meta and binary", case_operations_on_a_non_holder_are_the_owners,
               s)
    finally:
        for n in s.nodes + s.extra:
            n.kill()
        s.zk.kill()
        s.origin.stop()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
