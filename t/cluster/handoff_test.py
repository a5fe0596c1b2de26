#!/usr/bin/python3
# t/cluster/handoff_test.py -- hand-off (issue 19; ../shared/REPLICATION.md section 6;
# server/handoff.cc): when the ring changes, the keys whose holders changed reach their new
# holders. Three nodes, R = 2, 20,000 keys written through pylibmc (KETAMA_WEIGHTED), checked key
# by key against each node's `lru_crawler metadump all` and the ring (`ringcached-ring holders`).
#
#   * Loss: kill -9 one node: every key is on both of its new holders once the survivors' walks
#     are done.
#   * Join: a new node joins the two survivors: it holds every key it is now a holder of; only keys whose holder
#     list changed were pushed (the nodes' handoff_keys_sent against the count from the rings);
#     its first reads of its own keys hit; a second later (--handoff-drop-delay 1) the others have
#     dropped what they no longer hold, and every key is still on its holders.
#   * Empty restart: kill -9 a node and start it again, empty, under the same name (a new
#     incarnation): the others push its keys back, and it serves them again.
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

KEYS = 20000


def ring_tool(*args):
    return subprocess.run([os.path.join(os.path.dirname(rctest.binary()), "ringcached-ring")] +
                          list(args), capture_output=True, text=True, check=True).stdout


def holders(nodes, keys):
    """{key: set of the ring names holding it} for R = 2 over `nodes`."""
    out = {}
    servers = ",".join(n.ring_name for n in nodes)
    for i in range(0, len(keys), 2000):
        for line in ring_tool("--servers", servers, "holders", "2", *keys[i:i + 2000]).splitlines():
            parts = line.split()
            out[parts[0]] = set(parts[1:])
    return out


def metadump_keys(node):
    """The keys a node holds (items, not tombstones), from `lru_crawler metadump all`."""
    keys = set()
    with node.connect(timeout=10) as c:
        c.send(b"lru_crawler metadump all\r\n")
        while True:
            line = c.read_line(timeout=10).decode("latin-1")
            if line == "END":
                return keys
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            keys.add(urllib.parse.unquote(fields["key"]))


def handoff(node):
    with node.connect() as c:
        return c.stats("handoff")


def walks_done(nodes):
    """True once every node has pushed for the ring version it is on."""
    for n in nodes:
        version = n.cluster_stats()["ring_version"]
        h = handoff(n)
        if h["handoff_state"] != "idle" or h["handoff_from_version"] != version:
            return False
    return True


def write_keys(nodes, keys):
    import pylibmc
    c = pylibmc.Client([n.ring_name for n in nodes], binary=False,
                       behaviors={"ketama_weighted": True})
    for i in range(0, len(keys), 500):
        failed = c.set_multi({k: "v" + k for k in keys[i:i + 500]})
        check(not failed, f"{len(failed)} sets failed")


def copies_settled(nodes):
    """Every copy sent has been answered (asynchronous replication)."""
    for n in nodes:
        st = n.cluster_stats()
        if int(st.get("repl_queued", "0")) != int(st.get("repl_applied", "0")) + \
                int(st.get("repl_not_newer", "0")):
            return False
    return True


def missing_on(ring, keys, nodes=None):
    """[(node name, count of keys it should hold and does not)] for `nodes` (default: all of
    `ring`), the holders computed over `ring`."""
    want = holders(ring, keys)
    out = []
    for n in nodes or ring:
        have = metadump_keys(n)
        out.append((n.name, sum(1 for k in keys if n.ring_name in want[k] and k not in have)))
    return out


def case_loss(s):
    keys = [f"h{i}" for i in range(KEYS)]
    write_keys(s.nodes, keys)
    zkcluster.eventually(lambda: copies_settled(s.nodes), 20)
    victim = s.nodes[2]
    survivors = s.nodes[:2]
    s.holders_before = holders(s.nodes, keys)
    sent_before = sum(int(handoff(n)["handoff_keys_sent"]) for n in survivors)
    received_before = sum(int(handoff(n)["handoff_keys_received"]) for n in survivors)
    t0 = time.monotonic()
    victim.kill()
    zkcluster.eventually(lambda: all(n.cluster_stats()["ring_members"] == "2" for n in survivors),
                         15)
    zkcluster.eventually(lambda: walks_done(survivors), 30)
    zkcluster.eventually(lambda: copies_settled(survivors), 20)
    took = time.monotonic() - t0
    sent = sum(int(handoff(n)["handoff_keys_sent"]) for n in survivors) - sent_before
    missing = missing_on(survivors, keys)
    print(f"    kill -9 of one of three: {sent} keys pushed; on both survivors "
          f"{took:.1f} s after the kill (session timeout included); missing {missing}")
    check_eq([m for _, m in missing], [0, 0], "keys missing on their new holders")
    # Each key the dead node held (two in three) went, once, to its new second holder.
    lost = sum(1 for k in keys if victim.ring_name in s.holders_before[k])
    check_eq(sent, lost, "keys pushed against keys the dead node held")
    # Nothing left waiting on the links once every push is answered.
    zkcluster.eventually(lambda: all(handoff(n)["handoff_keys_pending"] == "0" and
                                     handoff(n)["handoff_bytes_pending"] == "0"
                                     for n in survivors), 10)
    # Each walk told its targets what it pushed them (rc_handoff_done).
    zkcluster.eventually(lambda: sum(int(handoff(n)["handoff_keys_received"])
                                     for n in survivors) - received_before == sent, 10)
    s.keys = keys


def case_join(s):
    keys = s.keys
    before = list(s.nodes[:2])
    joiner = zkcluster.Node(s.url, extra_args=s.args, name="joiner")
    s.extra.append(joiner)
    sent_before = sum(int(handoff(n)["handoff_keys_sent"]) for n in before)
    joiner.start()
    now = before + [joiner]
    zkcluster.eventually(lambda: all(n.cluster_stats()["ring_members"] == "3" for n in now), 20)
    zkcluster.eventually(lambda: walks_done(now), 30)
    zkcluster.eventually(lambda: copies_settled(now), 20)
    sent = sum(int(handoff(n)["handoff_keys_sent"]) for n in before) - sent_before
    want = holders(now, keys)
    moved = sum(1 for k in keys if joiner.ring_name in want[k])
    missing = missing_on(now, keys, [joiner])[0][1]
    mine = [k for k in keys if sorted(want[k]) and joiner.ring_name in want[k]]
    with joiner.connect() as c:
        hits = sum(len(c.get_multi(mine[i:i + 100])) for i in range(0, len(mine), 100))
    print(f"    a third node joins the two: {moved} keys gained it as a holder, {sent} pushed; it lacks "
          f"{missing}; its first reads of its {len(mine)} keys: {hits} hits")
    check_eq(missing, 0, "keys the joiner holds and lacks")
    check_eq(sent, moved, "keys pushed against keys whose holders changed")
    check_eq(int(handoff(joiner)["handoff_keys_received"]), moved,
             "keys the joiner was told it received")
    check_eq(hits, len(mine), "the joiner's first reads of its keys")
    s.nodes = now

    # --handoff-drop-delay 1: a second after the ring changed, each node drops what it no longer
    # holds, and keeps all it does.
    def extra_keys():
        return [sum(1 for k in metadump_keys(n) if k in want and n.ring_name not in want[k])
                for n in now]
    zkcluster.eventually(lambda: extra_keys() == [0, 0, 0] and
                         all(handoff(n)["handoff_state"] == "idle" for n in now), 20)
    dropped = [int(handoff(n)["handoff_keys_dropped"]) for n in now]
    missing = missing_on(now, keys)
    print(f"    then dropped by each node: {dropped}; keys missing on their holders: {missing}")
    check_eq([m for _, m in missing], [0, 0, 0], "keys missing after the drops")
    check(sum(dropped) > 0, "nothing dropped")


def case_empty_restart(s):
    keys = s.keys
    victim = s.nodes[0]
    victim.kill()
    others = s.nodes[1:]
    for n in others:
        n.assert_alive()
    zkcluster.eventually(lambda: all(n.cluster_stats()["ring_members"] == "2" for n in others),
                         15)
    zkcluster.eventually(lambda: walks_done(others), 30)
    victim.start()
    zkcluster.eventually(victim.up, 20)
    zkcluster.eventually(lambda: all(n.cluster_stats()["ring_members"] == "3" for n in s.nodes),
                         20)
    zkcluster.eventually(lambda: walks_done(s.nodes), 30)
    zkcluster.eventually(lambda: copies_settled(s.nodes), 20)
    missing = missing_on(s.nodes, keys, [victim])[0][1]
    want = holders(s.nodes, keys)
    held = sum(1 for k in keys if victim.ring_name in want[k])
    print(f"    restarted empty under the same name: it holds {held} keys again, lacks {missing}")
    check_eq(missing, 0, "keys the restarted node lacks")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/handoff{os.getpid()}"
        secret = zkcluster.write_secret(workdir, "handoff test secret")
        self.args = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", "2000",
                     "--cluster-secret-file", secret, "-m", "64", "--handoff-drop-delay", "1"]
        self.nodes = []
        self.extra = []
        self.keys = []
        self.holders_before = {}


def main():
    zkcluster.require(pylibmc=True)
    rctest.binary()
    r = rctest.Runner("hand-off", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-handoff-")
    s = Setup(workdir)
    try:
        s.zk.start()
        s.nodes = zkcluster.start_nodes(s.url, 3, s.args, prefix="handoff")
        r.case("kill -9 of one of three: every key on both of its new holders", case_loss, s)
        if s.keys:
            r.case("a node joins: it gets exactly the keys it now holds, and its reads hit",
                   case_join, s)
            r.case("a node restarted empty under the same name gets its keys back",
                   case_empty_restart, s)
    finally:
        for n in s.nodes + s.extra:
            n.kill()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
