#!/usr/bin/env python3
# t/cluster/membership_test.py -- cluster membership through a private ZooKeeper (issue #5):
# joins, kill -9, restarts, ZooKeeper outages, a duplicate ring name, discovery and `stats cluster`.
#
# One ZooKeeper (a free loopback port, never 2181) and three ringcached nodes on free ports, with
# short timeouts so the whole script stays well under two minutes: session timeout 4 s (ZooKeeper
# tickTime 250 ms allows 0.5-5 s), ring debounce 300 ms. The cases run in order on the same
# cluster, each leaving it with three agreeing members for the next:
#
#   * without --cluster the server is memcached: `config get cluster` and `stats cluster` are
#     ERROR, the legacy discovery key is an ordinary key;
#   * a node started before ZooKeeper waits (logging its retries), then joins once it is up;
#   * three nodes join; every node reports the same ring version, members and incarnations in
#     `stats cluster`, and the same `config get cluster` (also the legacy get), which agrees with
#     the stats;
#   * kill -9 of a node: the others drop it within the session timeout + debounce; restarted, it
#     rejoins under a new (greater) incarnation;
#   * kill -9 and an immediate restart: the restarted node replaces its predecessor's znode at
#     once, and the old session's expiry later does not take the new registration with it;
#   * ZooKeeper killed for longer than a debounce but shorter than the session timeout, then
#     restarted on its data dir: nodes keep serving (set/get) throughout, and the ring is unchanged
#     (ZooKeeper restores the sessions, so nothing re-registers);
#   * ZooKeeper killed for longer than the session timeout, then restarted: ZooKeeper restores
#     the sessions it had (each with a fresh timeout), so the nodes keep their sessions, their
#     registration and the ring;
#   * ZooKeeper unreachable past the session timeout (the relay between the nodes and ZooKeeper
#     is cut while ZooKeeper runs on, so it expires their sessions): nodes keep serving with
#     their ring; when it is reachable again every node registers again under a new
#     incarnation and the nodes agree on the new ring. (A SIGSTOPped ZooKeeper would do too, but
#     on SIGCONT it may read a queued ping before its expirer runs and keep a session: flaky.)
#   * a node started with a live node's ring name refuses to start: non-zero exit (78, EX_CONFIG)
#     with a clear message, and the cluster is untouched;
#   * a node stopped with SIGTERM leaves at once (no session timeout);
#   * with the ringcached-ring tool built: its owners for 10,000 keys read with --node and with
#     --zk equal its owners with --servers of the same names.
#
# Convergence times are printed as "# convergence: ..." lines. Exit 77 (skip) when java or
# ZooKeeper is not installed.
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
from zkcluster import Node, TcpProxy, ZooKeeper, eventually, ring_of  # noqa: E402
from rctest import Failure, Runner, check, check_eq  # noqa: E402
import rctest  # noqa: E402

# Overridable to measure convergence with other settings, e.g. the defaults:
#   RC_CLUSTER_SESSION_MS=10000 RC_CLUSTER_DEBOUNCE_MS=1000 python3 t/cluster/membership_test.py
SESSION_MS = int(os.environ.get("RC_CLUSTER_SESSION_MS", "4000"))
DEBOUNCE_MS = int(os.environ.get("RC_CLUSTER_DEBOUNCE_MS", "300"))
SLACK_S = 3.0  # scheduling, JVM pauses, a loaded CI machine


class Cluster:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = ZooKeeper(workdir, max_session_ms=max(5000, SESSION_MS))
        # The nodes reach ZooKeeper through a relay the test can cut (zkcluster.TcpProxy).
        self.relay = TcpProxy(self.zk.port)
        self.path = f"/ringcached/test{os.getpid()}"
        self.url = f"zk://{self.relay.hosts}{self.path}"
        self.direct_url = f"zk://{self.zk.hosts}{self.path}"
        self.args = ["--ring-debounce-ms", DEBOUNCE_MS, "--zk-session-timeout-ms", SESSION_MS]
        self.nodes = []
        self.timings = {}

    def new_node(self, name, port=None, extra=()):
        n = Node(self.url, port=port, extra_args=list(self.args) + list(extra), name=name)
        return n

    def all_stats(self):
        return [n.cluster_stats() for n in self.nodes]

    def agree(self, expected_names):
        """True when every node is up and reports the same ring, made of exactly expected_names
        under the incarnations the nodes report for themselves (so an old ring that all nodes
        still share does not count)."""
        stats = self.all_stats()
        rings = {ring_of(s) for s in stats}
        if len(rings) != 1:
            return False
        names = stats[0]["ring_member_names"].split(",")
        if names != sorted(expected_names) or any(s["self_state"] != "up" for s in stats):
            return False
        listed = dict(zip(names, stats[0]["ring_member_incarnations"].split(",")))
        return all(listed.get(s["self_name"]) == s["self_incarnation"] for s in stats)

    def wait_agree(self, timeout):
        names = [n.ring_name for n in self.nodes]
        return eventually(lambda: self.agree(names), timeout)

    def stop_all(self):
        for n in self.nodes:
            n.kill()
        self.relay.close()
        self.zk.kill()


def session_bound_s():
    return SESSION_MS / 1000 + DEBOUNCE_MS / 1000 + SLACK_S


# ---- cases ---------------------------------------------------------------------------------------

def case_single_node_is_memcached(_c):
    # Without --cluster nothing changes: memcached 1.6 has no `config` command and no `stats
    # cluster` (both ERROR), and the legacy discovery key is an ordinary key.
    with rctest.ServerProcess() as srv:
        with srv.connect() as conn:
            check_eq(conn.cmd("config get cluster"), "ERROR", "config get cluster")
            check_eq(conn.cmd("stats cluster"), "ERROR", "stats cluster")
            check_eq(conn.get("AmazonElastiCache:cluster"), None, "legacy key before a set")
            check_eq(conn.set("AmazonElastiCache:cluster", "mine"), "STORED", "set")
            check_eq(conn.get("AmazonElastiCache:cluster"), b"mine", "legacy key after a set")
            settings = conn.stats("settings")
            check("cluster" not in settings and "ring_profile" not in settings,
                  "stats settings has cluster keys without --cluster")


def case_join_waits_for_zookeeper(c):
    first = c.new_node("node1")
    first.start()
    c.nodes.append(first)
    eventually(lambda: "not reachable" in first.output(), 10)  # after one 2 s connect window
    first.assert_alive("while ZooKeeper is down")
    c.zk.start()
    c.relay.restore()
    took = eventually(first.up, 15)
    c.timings["join after ZooKeeper came up"] = took
    first.assert_alive("after joining")


def case_three_nodes_join(c):
    for i in (2, 3):
        n = c.new_node(f"node{i}")
        c.nodes.append(n)
    t0 = time.monotonic()
    for n in c.nodes[1:]:
        n.start()
    took = c.wait_agree(15)
    c.timings["two nodes join (start to agreement)"] = time.monotonic() - t0
    stats = c.all_stats()
    check_eq(stats[0]["ring_members"], "3", "ring_members")
    for n, s in zip(c.nodes, stats):
        check_eq(s["self_name"], n.ring_name, "self_name")
        check_eq(s["zk_session_state"], "connected", f"{n.name} session state")
        check(int(s["self_incarnation"]) > 0, "incarnation")
        check_eq(s["ring_points"], str(3 * 160), "points")
        # The membership's listeners heard each registration and each adopted view.
        check_eq(s["events_registered"], "1", f"{n.name} events_registered")
        check_eq(s["events_views_adopted"], s["ring_changes"], f"{n.name} views heard")
        check_eq(s["lease_state"], "held", f"{n.name} lease while connected")
        check_eq(s["lease_fences"], "0", f"{n.name} lease_fences")
    # Discovery agrees across nodes and with the stats.
    replies = {n.config_get_cluster() for n in c.nodes}
    check_eq(len(replies), 1, "config get cluster differs between nodes")
    reply = replies.pop()
    version = stats[0]["ring_version"]
    nodes_line = " ".join(f"127.0.0.1|127.0.0.1|{n.port}"
                          for n in sorted(c.nodes, key=lambda n: n.ring_name))
    payload = f"{version}\n{nodes_line}\n".encode()
    check_eq(reply, b"CONFIG cluster 0 %d\r\n" % len(payload) + payload + b"\r\nEND\r\n",
             "config get cluster")
    legacy = c.nodes[1].raw(b"get AmazonElastiCache:cluster\r\n")
    check_eq(legacy, b"VALUE AmazonElastiCache:cluster 0 %d\r\n" % len(payload) + payload +
             b"\r\nEND\r\n", "legacy get")
    check_eq(c.nodes[0].raw(b"config get nothing\r\n"), b"ERROR\r\n", "config get <other>")
    for n in c.nodes:
        n.check_set_get(f"k_{n.port}", "v")


def case_kill9_is_dropped_and_rejoins(c):
    victim = c.nodes[1]
    before = victim.cluster_stats()
    old_incarnation = int(before["self_incarnation"])
    victim.kill9()
    t0 = time.monotonic()
    survivors = [c.nodes[0], c.nodes[2]]
    want = sorted(n.ring_name for n in survivors)

    def dropped():
        stats = [n.cluster_stats() for n in survivors]
        return all(s["ring_member_names"].split(",") == want for s in stats) and \
            len({ring_of(s) for s in stats}) == 1
    eventually(dropped, session_bound_s() + 5)
    took = time.monotonic() - t0
    c.timings["kill -9 to dropped by the others"] = took
    check(took <= session_bound_s(),
          f"dropped after {took:.1f} s, more than session timeout + debounce + slack")
    for n in survivors:
        n.check_set_get("after_kill", "x")

    t1 = time.monotonic()
    victim.start()
    c.wait_agree(15)
    c.timings["restart to rejoined (all agree)"] = time.monotonic() - t1
    s = victim.cluster_stats()
    new_incarnation = int(s["self_incarnation"])
    check(new_incarnation > old_incarnation,
          f"incarnation did not grow: {old_incarnation} -> {new_incarnation}")
    seen = dict(zip(c.nodes[0].cluster_stats()["ring_member_names"].split(","),
                    c.nodes[0].cluster_stats()["ring_member_incarnations"].split(",")))
    check_eq(int(seen[victim.ring_name]), new_incarnation, "others see the new incarnation")


def case_kill9_and_immediate_restart(c):
    victim = c.nodes[2]
    old = int(victim.cluster_stats()["self_incarnation"])
    victim.kill9()
    t0 = time.monotonic()
    victim.start()  # same port, same name; the old session still holds the znode
    eventually(victim.up, 15)
    c.wait_agree(10)
    c.timings["kill -9 + restart to rejoined"] = time.monotonic() - t0
    check("replacing" in victim.output(), f"no 'replacing' line:\n{victim.output()}")
    check(int(victim.cluster_stats()["self_incarnation"]) > old, "incarnation did not grow")
    # The old session expires later: its ephemeral is gone already, ours must stay.
    time.sleep(SESSION_MS / 1000 + DEBOUNCE_MS / 1000 + 1.0)
    c.wait_agree(2)


def serve_while(c, seconds, tag):
    """set/get on every node for `seconds`; returns how many rounds succeeded."""
    rounds = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for n in c.nodes:
            n.check_set_get(f"{tag}_{n.port}_{rounds}", f"v{rounds}")
        rounds += 1
        time.sleep(0.05)
    return rounds


def case_zookeeper_short_outage(c):
    before = [ring_of(s) for s in c.all_stats()]
    expirations = [s["zk_session_expirations"] for s in c.all_stats()]
    c.zk.kill()
    t0 = time.monotonic()
    rounds = serve_while(c, DEBOUNCE_MS / 1000 + 0.8, "zkdown")
    eventually(lambda: {s["self_state"] for s in c.all_stats()} == {"disconnected"}, 3)
    check_eq([ring_of(s) for s in c.all_stats()], before, "ring changed while ZooKeeper was down")
    # The listeners heard the disconnect; the lease holds (ZooKeeper's last answers, then the
    # peers' grants), so every read above was served.
    down = c.all_stats()
    for s in down:
        check_eq(s["lease_state"], "held", "lease while ZooKeeper is down")
        check(int(s["events_sessions_lost"]) >= 1, "events_sessions_lost")
    c.zk.start()
    outage = time.monotonic() - t0
    if outage >= SESSION_MS / 1000:  # a slow JVM start; ZooKeeper restores sessions anyway
        print(f"    note: the outage ({outage:.1f} s) outlasted the session timeout")
    eventually(lambda: all(s["self_state"] == "up" and s["zk_session_state"] == "connected"
                           for s in c.all_stats()), 10)
    rounds += serve_while(c, 0.3, "zkback")
    after = c.all_stats()
    check_eq([ring_of(s) for s in after], before, "ring changed across the outage")
    check_eq([s["zk_session_expirations"] for s in after], expirations, "sessions expired")
    check_eq([s["lease_state"] for s in after], ["held"] * len(after), "lease once back")
    check_eq([s["lease_fences"] for s in after], ["0"] * len(after), "nobody fenced")
    check_eq([s["events_sessions_lost"] for s in after], [s["zk_disconnects"] for s in after],
             "events_sessions_lost against zk_disconnects")
    c.timings[f"ZooKeeper outage of {outage:.1f} s: set/get rounds served"] = rounds


def case_zookeeper_restarted_after_session_timeout(c):
    # ZooKeeper restores the sessions it had when it restarts on its data (each with a fresh
    # timeout), so even a long outage of the server ends with the nodes' sessions alive: they
    # keep their registration and nothing changes.
    before = [ring_of(s) for s in c.all_stats()]
    sessions = [s["zk_session_id"] for s in c.all_stats()]
    c.zk.kill()
    serve_while(c, SESSION_MS / 1000 + 0.5, "zklong")
    c.zk.start()
    eventually(lambda: all(s["self_state"] == "up" for s in c.all_stats()), 15)
    after = c.all_stats()
    check_eq([s["zk_session_id"] for s in after], sessions, "session ids")
    check_eq([ring_of(s) for s in after], before, "ring changed across the restart")


def case_zookeeper_unreachable_past_session_timeout(c):
    before = {n.name: int(n.cluster_stats()["self_incarnation"]) for n in c.nodes}
    expirations = {n.name: int(n.cluster_stats()["zk_session_expirations"]) for n in c.nodes}
    ring_before = ring_of(c.nodes[0].cluster_stats())
    c.relay.cut()
    try:
        rounds = serve_while(c, SESSION_MS / 1000 + 1.5, "zkaway")
        check_eq({ring_of(n.cluster_stats()) for n in c.nodes}, {ring_before},
                 "ring while ZooKeeper was unreachable")
    finally:
        c.relay.restore()
    t0 = time.monotonic()

    def reregistered():
        return all(int(n.cluster_stats()["self_incarnation"]) > before[n.name] for n in c.nodes)
    eventually(reregistered, 15)
    c.wait_agree(10)
    c.timings["ZooKeeper reachable again to all re-registered and agreeing"] = \
        time.monotonic() - t0
    for n in c.nodes:
        s = n.cluster_stats()
        check_eq(int(s["zk_session_expirations"]), expirations[n.name] + 1,
                 f"{n.name}: session expirations")
        check_eq(s["events_sessions_expired"], s["zk_session_expirations"],
                 f"{n.name}: events_sessions_expired")
        check_eq(int(s["events_registered"]), int(s["zk_session_expirations"]) + 1,
                 f"{n.name}: a registration per session")
        check("expired" in n.output(), f"{n.name}: no expiry log line")
    check(rounds > 0, "no request served while ZooKeeper was unreachable")
    serve_while(c, 0.2, "zkback")


def case_duplicate_name_refused(c):
    holder = c.nodes[0]
    before = holder.cluster_stats()
    dup = c.new_node("duplicate", extra=["--advertise", holder.ring_name])
    dup.start()
    try:
        rc = dup.wait_exit(15)
        check(rc is not None, "a node with a live node's name kept running")
        check_eq(rc, 78, f"exit status (EX_CONFIG); output:\n{dup.output()}")
        out = dup.output()
        check("taken by a live node" in out and holder.ring_name in out,
              f"unclear refusal message:\n{out}")
        print("    refusal: " + [line for line in out.splitlines() if "taken" in line][0][:160])
    finally:
        dup.kill()
    time.sleep(DEBOUNCE_MS / 1000 + 0.2)
    check_eq(ring_of(holder.cluster_stats()), ring_of(before), "the refused node changed the ring")
    c.wait_agree(2)


def case_sigterm_leaves_at_once(c):
    leaver = c.nodes.pop()
    rc = leaver.stop()
    t0 = time.monotonic()
    check_eq(rc, 0, "exit status after SIGTERM")
    c.wait_agree(DEBOUNCE_MS / 1000 + SLACK_S)
    c.timings["SIGTERM to dropped by the others"] = time.monotonic() - t0
    leaver.start()  # back to three for the next case
    c.nodes.append(leaver)
    c.wait_agree(15)


def case_ring_tool_agrees(c):
    tool = os.path.join(os.path.dirname(rctest.binary()), "ringcached-ring")
    if not os.access(tool, os.X_OK):
        raise rctest.Skip("ringcached-ring is not built")
    rng = random.Random(5)
    keys = "".join(f"key:{i}:{rng.randrange(1 << 30)}\n" for i in range(10000)).encode()
    names = c.nodes[0].cluster_stats()["ring_member_names"].split(",")

    def owners(args):
        p = subprocess.run([tool] + args + ["owners"], input=keys, capture_output=True,
                           timeout=30)
        if p.returncode != 0:
            raise Failure(f"ringcached-ring {' '.join(args)} owners: exit {p.returncode}: "
                          f"{p.stderr.decode(errors='replace')[:500]}")
        lines = p.stdout.decode().splitlines()
        check_eq(len(lines), 10000, f"owner lines from {' '.join(args)}")
        return lines

    by_servers = owners(["--servers", ",".join(names)])
    by_node = owners(["--node", c.nodes[1].ring_name])
    by_zk = owners(["--zk", c.direct_url])
    check(by_node == by_servers, "--node owners differ from --servers owners")
    check(by_zk == by_servers, "--zk owners differ from --servers owners")
    check_eq({line.split(" ")[1] for line in by_servers}, set(names), "owners used")
    version = c.nodes[0].cluster_stats()["ring_version"]
    for source in (["--node", c.nodes[2].ring_name], ["--zk", c.direct_url]):
        p = subprocess.run([tool] + source + ["members"], capture_output=True, timeout=30)
        first = p.stdout.decode().splitlines()[:1]
        check_eq(first, [f"version {version}"], f"ringcached-ring {source[0]} members")


def main():
    zkcluster.require()
    rctest.binary()
    r = Runner("cluster membership through ZooKeeper", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-cluster-")
    c = Cluster(workdir)
    try:
        steps = [
            ("without --cluster: config/stats cluster are ERROR, the legacy key is a key",
             case_single_node_is_memcached),
            ("a node started before ZooKeeper waits, then joins", case_join_waits_for_zookeeper),
            ("three nodes join and agree (stats cluster, config get cluster)",
             case_three_nodes_join),
            ("kill -9: dropped within session timeout + debounce; rejoins, new incarnation",
             case_kill9_is_dropped_and_rejoins),
            ("kill -9 and immediate restart: the leftover znode is replaced",
             case_kill9_and_immediate_restart),
            ("ZooKeeper down briefly: nodes keep serving, ring unchanged",
             case_zookeeper_short_outage),
            ("ZooKeeper restarted after the session timeout: sessions restored, ring unchanged",
             case_zookeeper_restarted_after_session_timeout),
            ("ZooKeeper unreachable past the session timeout: nodes re-register",
             case_zookeeper_unreachable_past_session_timeout),
            ("a second node with a live node's name refuses to start",
             case_duplicate_name_refused),
            ("SIGTERM: the node leaves at once", case_sigterm_leaves_at_once),
            ("ringcached-ring: --node and --zk owners equal --servers owners",
             case_ring_tool_agrees),
        ]
        for title, fn in steps:
            r.case(title, fn, c)
            for n in c.nodes:
                if not n.alive():
                    r.fail(f"{n.name} alive after: {title}",
                           f"{rctest.describe_status(n.proc.returncode)}\n{n.output()}")
                    n.start()
        for what, secs in c.timings.items():
            if "rounds" in what:
                print(f"# convergence: {what}: {secs}")
            else:
                print(f"# convergence: {what}: {secs:.2f} s")
    finally:
        c.stop_all()
        if r.failed:
            print(f"# ZooKeeper log tail:\n{c.zk.output()[-1500:]}")
        shutil.rmtree(workdir, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
