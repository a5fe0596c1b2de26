#!/usr/bin/python3
# t/cluster/drain_test.py -- drain (issue 19; ../shared/REPLICATION.md section 6;
# server/drain.cc): SIGUSR1 or `shutdown graceful` on a cluster node marks it leaving, it keeps
# serving while its keys go to their next holders, then it deregisters and exits 0.
#
# Four nodes, R = 2, synchronous replication, --handoff-drop-delay 1. A writer follows `config
# get cluster` as an auto-discovery client does (polling every 100 ms, rebuilding its pylibmc
# KETAMA_WEIGHTED client on each new version) and overwrites keys, reading each one back.
#
#   * SIGUSR1 under load: the node passes through its drain phases and exits 0; the writer saw
#     no error and no stale read; every acknowledged write is read back from the three left, and
#     every key is on both of its holders there (each node's metadump against the ring).
#   * `shutdown graceful` (with -A) without load: the same, down to two nodes.
#   * A plain SIGTERM still leaves at once: no drain.
#   * A node joining and leaving repeatedly under load (ROUNDS rounds; more in
#     t/soak/join_leave_soak.py): each joiner warms and comes up, then drains; the writer saw no
#     error and no stale read, and no acknowledged write is lost.
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402
from handoff_test import copies_settled, handoff, missing_on, walks_done  # noqa: E402

PREFILL = 4000
ROUNDS = 3


def parse_config(reply):
    """(version, [ring names]) from a `config get cluster` reply."""
    lines = reply.decode().split("\r\n")[1].split("\n")
    names = [f"{entry.split('|')[1]}:{entry.split('|')[2]}" for entry in lines[1].split()]
    return int(lines[0]), names


def client(names):
    import pylibmc
    return pylibmc.Client(names, binary=False,
                          behaviors={"ketama_weighted": True, "connect_timeout": 2000,
                                     "receive_timeout": 2000, "send_timeout": 2000})


class Writer(threading.Thread):
    """Overwrites keys through a client that follows `config get cluster`, reading each back.
    Bounded: at most `limit` seconds. Nodes that join later are added with add_node()."""

    def __init__(self, nodes, keys, limit=60.0):
        super().__init__(daemon=True)
        self.by_name = {n.ring_name: n for n in nodes}
        self.lock = threading.Lock()
        self.keys = keys
        self.limit = limit
        self.stop = threading.Event()
        self.acked = {}    # key -> the value last acknowledged
        self.errors = []   # (key, what)
        self.stale = 0
        self.versions = []  # the config versions it followed
        self.writes = 0

    def finish(self):
        """Stops the writer and waits for it."""
        self.stop.set()
        self.join(10)
        check(not self.is_alive(), "the writer did not stop")

    def summary(self):
        return (f"the writer made {self.writes} acknowledged writes over "
                f"{len(self.versions)} config versions, {len(self.errors)} errors, "
                f"{self.stale} stale reads")

    def check_clean(self):
        check_eq(self.errors[:5], [], "errors seen by the client that follows config get cluster")
        check_eq(self.stale, 0, "stale reads")

    def add_node(self, node):
        with self.lock:
            self.by_name[node.ring_name] = node

    def config(self, names):
        for name in names:
            with self.lock:
                node = self.by_name.get(name)
            try:
                return parse_config(node.config_get_cluster(timeout=1.0))
            except Exception:  # noqa: BLE001 -- that node is gone; ask the next
                continue
        raise rctest.Failure("no node answered config get cluster")

    def run(self):
        with self.lock:
            everyone = list(self.by_name)
        version, names = self.config(everyone)
        self.versions.append((version, names))
        c = client(names)
        polled = time.monotonic()
        deadline = time.monotonic() + self.limit
        i = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            if time.monotonic() - polled >= 0.1:
                polled = time.monotonic()
                v, n = self.config(names)
                if v != version:
                    version, names = v, n
                    self.versions.append((version, names))
                    c = client(names)
            key = self.keys[i % len(self.keys)]
            value = f"w{i}-{key}"
            i += 1
            try:
                ok = c.set(key, value)
            except Exception as e:  # noqa: BLE001 -- an error is what the test counts
                self.errors.append((key, f"set: {e}"))
                continue
            if not ok:
                self.errors.append((key, "set: not stored"))
                continue
            self.acked[key] = value
            self.writes += 1
            try:
                got = c.get(key)
            except Exception as e:  # noqa: BLE001
                self.errors.append((key, f"get: {e}"))
                continue
            if got != value:
                self.stale += 1


def prefill(nodes, keys):
    c = client([n.ring_name for n in nodes])
    for i in range(0, len(keys), 500):
        failed = c.set_multi({k: "p" + k for k in keys[i:i + 500]})
        check(not failed, f"{len(failed)} sets failed")
    return {k: "p" + k for k in keys}


def drain_phases(node, limit):
    """The drain phases `stats cluster` showed while the node drained, until it exited."""
    seen = []
    deadline = time.monotonic() + limit
    while node.alive() and time.monotonic() < deadline:
        try:
            st = node.cluster_stats(timeout=1.0)
        except Exception:  # noqa: BLE001 -- it stopped accepting: its graceful stop began
            time.sleep(0.05)
            continue
        phase = st.get("drain_state")
        if not seen or seen[-1] != phase:
            seen.append(phase)
        time.sleep(0.02)
    return seen


def check_left(s, left, keys, expected):
    """Every key reads back its last acknowledged value from the nodes left, and is on both of
    its holders among them."""
    zkcluster.eventually(lambda: all(n.cluster_stats()["ring_members"] == str(len(left))
                                     for n in left), 20)
    zkcluster.eventually(lambda: walks_done(left), 30)
    zkcluster.eventually(lambda: copies_settled(left), 20)
    c = client([n.ring_name for n in left])
    got = {}
    for i in range(0, len(keys), 500):
        got.update(c.get_multi(keys[i:i + 500]))
    lost = [k for k in keys if got.get(k) != expected[k]]
    missing = missing_on(left, keys)
    return lost, missing


def case_sigusr1_under_load(s):
    keys = [f"d{i}" for i in range(PREFILL)]
    expected = prefill(s.nodes, keys)
    zkcluster.eventually(lambda: copies_settled(s.nodes), 20)
    victim = s.nodes[3]
    writer = Writer(s.nodes, keys)
    writer.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    victim.proc.send_signal(signal.SIGUSR1)
    phases = drain_phases(victim, 60)
    code = victim.wait_exit(30)
    took = time.monotonic() - t0
    time.sleep(1.0)  # the writer goes on against the nodes left
    writer.finish()
    expected.update(writer.acked)
    print(f"    drained in {took:.1f} s, exit {code} (phases {phases}); {writer.summary()}")
    left = s.nodes[:3]
    lost, missing = check_left(s, left, keys, expected)
    log = victim.output()
    pushed = [line for line in log.splitlines() if "handoff: ring version" in line]
    print(f"    lost {len(lost)}, missing on holders {missing}")
    check_eq(code, 0, "exit code after the drain")
    check("drain: done" in log, "the node's log says the drain is done")
    writer.check_clean()
    check_eq(lost[:5], [], "acknowledged writes lost")
    check_eq([m for _, m in missing], [0, 0, 0], "keys missing on their holders")
    check("pushing" in phases or "lingering" in phases, f"drain phases seen: {phases}")
    check(len(writer.versions) >= 2, "the writer followed the ring change")
    check(victim.ring_name not in writer.versions[-1][1], "the drained node is no longer listed")
    check(pushed, "the drained node ran its hand-off walk")
    s.nodes = left
    s.keys = keys
    s.expected = expected


def case_shutdown_graceful(s):
    victim = s.nodes[2]
    with victim.connect() as c:
        c.send(b"shutdown graceful\r\n")
    code = victim.wait_exit(60)
    left = s.nodes[:2]
    lost, missing = check_left(s, left, s.keys, s.expected)
    print(f"    exit {code}; lost {len(lost)}, missing on holders {missing}")
    check_eq(code, 0, "exit code after the drain")
    check("drain: done" in victim.output(), "the node's log says the drain is done")
    check_eq(lost[:5], [], "writes lost")
    check_eq([m for _, m in missing], [0, 0], "keys missing on their holders")
    s.nodes = left


def case_join_leave_rounds(s, rounds=ROUNDS):
    keys = s.keys
    expected = dict(s.expected)
    writer = Writer(s.nodes, keys, limit=40.0 * rounds)
    writer.start()
    joins = []
    try:
        for i in range(rounds):
            t0 = time.monotonic()
            n = zkcluster.Node(s.url, extra_args=s.args, name=f"churn{i}")
            s.extra.append(n)
            writer.add_node(n)
            n.start()
            # (the writer may not have read its first config yet)
            zkcluster.eventually(lambda: writer.versions and
                                 n.ring_name in writer.versions[-1][1], 30, step=0.1)
            up = time.monotonic() - t0
            time.sleep(0.5)  # it serves its share of the writer's keys
            n.proc.send_signal(signal.SIGUSR1)
            code = n.wait_exit(60)
            joins.append((round(up, 1), round(time.monotonic() - t0, 1), code))
            check_eq(code, 0, f"round {i}: exit code after the drain")
    finally:
        writer.finish()
    expected.update(writer.acked)
    print(f"    rounds (listed after s, gone after s, exit): {joins}; {writer.summary()}")
    lost, missing = check_left(s, s.nodes, keys, expected)
    print(f"    lost {len(lost)}, missing on holders {missing}")
    writer.check_clean()
    check_eq(lost[:5], [], "acknowledged writes lost")
    check_eq([m for _, m in missing], [0] * len(s.nodes), "keys missing on their holders")
    s.expected = expected


def case_sigterm_leaves_at_once(s):
    extra = zkcluster.Node(s.url, extra_args=s.args, name="sigterm")
    s.extra.append(extra)
    extra.start()
    zkcluster.eventually(extra.up, 20)
    t0 = time.monotonic()
    extra.proc.send_signal(signal.SIGTERM)
    code = extra.wait_exit(15)
    took = time.monotonic() - t0
    print(f"    SIGTERM: exit {code} after {took:.2f} s")
    check_eq(code, 0, "exit code after SIGTERM")
    check("drain:" not in extra.output(), "no drain on SIGTERM")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/drain{os.getpid()}"
        secret = zkcluster.write_secret(workdir, "drain test secret")
        self.args = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", "2000",
                     "--cluster-secret-file", secret, "-m", "64", "--handoff-drop-delay", "1",
                     "--replication", "sync", "-A"]
        self.nodes = []
        self.extra = []
        self.keys = []
        self.expected = {}


def main():
    zkcluster.require(pylibmc=True)
    rctest.binary()
    r = rctest.Runner("drain", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-drain-")
    s = Setup(workdir)
    all_nodes = []
    try:
        s.zk.start()
        s.nodes = zkcluster.start_nodes(s.url, 4, s.args, prefix="drain")
        all_nodes = list(s.nodes)
        r.case("SIGUSR1 under load: no error, no stale read, no write lost; exit 0",
               case_sigusr1_under_load, s)
        if s.keys:
            r.case("shutdown graceful drains too", case_shutdown_graceful, s)
            r.case(f"a node joins and drains {ROUNDS} times under load: no error, no stale "
                   "read, no write lost", case_join_leave_rounds, s)
        r.case("SIGTERM leaves at once, without a drain", case_sigterm_leaves_at_once, s)
    finally:
        for n in all_nodes + s.extra:
            n.kill()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
