#!/usr/bin/python3
# t/client/client_test.py -- the client library (include/ringcached/client/client.h) against a
# real cluster: a private ZooKeeper and three ringcached nodes (R = 2, sync replication), driven
# through `ringcached-client shell`, one long-lived Client whose every command answers one line
# (man/ringcached-client.1). In order, on one cluster:
#   1. discovery and multi-get: the client learns the members (and their version) from one node,
#      routes every key where ringcached-ring says its owner is, and one mget fetches keys of
#      every node; the ZooKeeper extra (--zk) reads the same members and version;
#   2. a ring change: a fourth node joins; the client follows within a second of the nodes
#      publishing the new member list, and so does one following ZooKeeper itself (--zk);
#   3. hot keys (--hot-key-qps 500, --hot-copies 1): a key read hard on its owner is listed
#      there; four client instances (slots 0-3 at the owner) read it from its three copies
#      (owner, replica, extra node: every one of them), each the right value; a set through one
#      instance reaches every instance's copy within the hot-copy TTL, and after a delete's reply
#      none reads a value; a copy that is gone (flush_all on the extra node) is read through from
#      the key's holders rather than answered as a miss; with --local-hot-cache an instance
#      answers the key's reads itself and sees its own write at once;
#   4. failover: kill -9 of a node in the middle of a read loop over keys it owns: no read fails
#      but at most the first after the kill, every value is right, the node is TKO and its keys
#      are read from their next holder (ringcached-ring's `failover 2`).
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
import zkcluster  # noqa: E402
import rctest  # noqa: E402
from rctest import Failure, check, check_eq  # noqa: E402

HOT_COPY_TTL = 2
NODE_ARGS = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", "4000",
             "--replication", "sync", "--hot-key-qps", "500", "--hot-copies", "1",
             "--hot-copy-ttl", str(HOT_COPY_TTL)]


def tool(name):
    return os.path.join(os.path.dirname(rctest.binary()), name)


class Shell:
    """One `ringcached-client shell`: a long-lived Client; cmd() sends a line, returns the reply
    line. Stopped by closing its stdin (and by PID if it does not exit)."""

    def __init__(self, args):
        self.proc = subprocess.Popen([tool("ringcached-client")] + args + ["shell"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0,
                                     preexec_fn=rctest._die_with_parent)
        rctest.kill_at_exit(self)
        self.buf = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def cmd(self, line, timeout=10.0):
        self.proc.stdin.write(line.encode() + b"\n")
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise Failure(f"ringcached-client shell: no reply to {line!r} in {timeout} s")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise Failure(f"ringcached-client shell exited: "
                              f"{self.proc.stderr.read().decode(errors='replace')}")
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n", 1)
        return reply.decode()

    def ring(self):
        """(version, {name: "up"|"tko"}) from the `nodes` command."""
        fields = self.cmd("nodes").split()
        check_eq(fields[0], "RING", "nodes reply")
        return int(fields[1]), dict(f.split("=") for f in fields[2:])

    def kill(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            rctest.kill_and_reap(self.proc)
        rctest.forget_at_exit(self)

    stop = kill


def config_of(node):
    """(version, member names) of a node's `config get cluster`."""
    lines = node.config_get_cluster().decode().split("\r\n")[1].split("\n")
    names = sorted(f"{e.split('|')[0] or e.split('|')[1]}:{e.split('|')[2]}"
                   for e in lines[1].split())
    return int(lines[0]), names


def ring_tool(servers, *args):
    out = subprocess.run([tool("ringcached-ring"), "--servers", ",".join(servers)] + list(args),
                         capture_output=True, text=True, check=True).stdout
    return {line.split()[0]: line.split()[1:] for line in out.splitlines()}


def case_discovery_and_multi_get(s):
    version, members = s.shell.ring()
    names = sorted(n.ring_name for n in s.nodes)
    check_eq(sorted(members), names, "members learned from one node")
    check(all(state == "up" for state in members.values()), f"all up: {members}")
    check_eq(version, config_of(s.nodes[0])[0], "ring version = the nodes' view version")
    keys = [f"mk{i}" for i in range(90)]
    for k in keys:
        check_eq(s.shell.cmd(f"set {k} v-{k}"), "STORED", f"set {k}")
    owners = ring_tool(names, "owner", *keys)
    by_node = {}
    for k in keys:
        where = s.shell.cmd(f"where {k}").split()
        check_eq(where[1], owners[k][0], f"read node of {k} (ringcached-ring owner)")
        check_eq(where[3], owners[k][0], f"write node of {k}")
        by_node.setdefault(where[1], []).append(k)
    check_eq(len(by_node), 3, "keys spread over every node")
    # Each key is on its owner (asked directly) ...
    by_name = {n.ring_name: n for n in s.nodes}
    for name, node_keys in by_node.items():
        with by_name[name].connect() as c:
            check_eq(c.get(node_keys[0]), f"v-{node_keys[0]}".encode(), f"{node_keys[0]} on {name}")
    # ... and one multi-get brings back all of them, plus nothing for absent keys.
    reply = s.shell.cmd("mget " + " ".join(keys + ["absent1", "absent2"])).split()
    check_eq(reply[:2], ["VALUES", str(len(keys))], "mget count")
    got = dict(f.split("=", 1) for f in reply[2:])
    check_eq(got, {k: f"v-{k}" for k in keys}, "mget values")


def case_zookeeper_extra_reads_the_same_members(s):
    out = subprocess.run([tool("ringcached-client"), "--zk", s.url, "nodes"], capture_output=True,
                         text=True, timeout=30)
    check_eq(out.returncode, 0, f"ringcached-client --zk nodes (stderr: {out.stderr.strip()})")
    lines = out.stdout.split("\n")
    version, names = config_of(s.nodes[0])
    check_eq(int(lines[0]), version, "ZooKeeper's view version = config get cluster's")
    check_eq(sorted(line.split()[0] for line in lines[1:] if line), names, "members")


def case_ring_change_followed_within_a_second(s):
    before, _ = s.shell.ring()
    # A second client following ZooKeeper itself (the zk extra: one session, watches).
    zk_shell = Shell(["--zk", s.url, "--timeout-ms", "500"])
    check_eq(zk_shell.ring()[0], before, "the --zk client's version before the change")
    s.fourth = zkcluster.Node(s.url, extra_args=NODE_ARGS + ["--cluster-secret-file", s.secret],
                              name="node3")
    s.fourth.start()
    want = sorted([n.ring_name for n in s.nodes] + [s.fourth.ring_name])
    # The moment the nodes publish the 4-member list ...
    zkcluster.eventually(lambda: config_of(s.nodes[0])[1] == want, 30, step=0.01)
    published = time.monotonic()
    node_version = config_of(s.nodes[0])[0]
    # ... and the moment the client routes by it.
    zkcluster.eventually(lambda: sorted(s.shell.ring()[1]) == want, 5, step=0.02)
    took = time.monotonic() - published
    version, _ = s.shell.ring()
    check(version >= node_version > before, f"versions: client {version}, node {node_version}, "
          f"before {before}")
    check(took <= 1.0, f"the client followed the ring change after {took:.2f} s (> 1 s)")
    print(f"#   followed the 4th member {took * 1000:.0f} ms after the nodes published it")
    try:
        zk_took = zkcluster.eventually(lambda: sorted(zk_shell.ring()[1]) == want, 5, step=0.02)
        check(zk_took <= 1.0, f"the --zk client followed after {zk_took:.2f} s (> 1 s)")
        zk_version, _ = zk_shell.ring()
        check(zk_version > before, f"--zk versions: {zk_version}, before {before}")
        print(f"#   the --zk client had it within {zk_took * 1000:.0f} ms of that")
    finally:
        zk_shell.kill()
    s.nodes.append(s.fourth)
    zkcluster.eventually(lambda: all(set(n.cluster_stats()["ring_member_states"].split(","))
                                     == {"up"} for n in s.nodes), 30)


def hammer(node, key, stop):
    """Reads `key` on `node`, 50 pipelined gets at a time, until `stop` is set (or 60 s)."""
    batch = (f"get {key}\r\n" * 50).encode()
    deadline = time.monotonic() + 60
    with node.connect(timeout=5) as c:
        while not stop.is_set() and time.monotonic() < deadline:
            c.send(batch)
            c.recv_until(lambda b: b.count(b"END\r\n") >= 50)


def hot_on(node, key):
    with node.connect() as c:
        st = c.stats("hotkeys")
    return key in [v for k, v in st.items() if k.endswith(":key")]


def case_hot_keys_read_from_copies(s):
    key = "celebrity"
    names = sorted(n.ring_name for n in s.nodes)
    holders = ring_tool(names, "holders", "3", key)[key]
    by_name = {n.ring_name: n for n in s.nodes}
    owner = by_name[holders[0]]
    check_eq(s.shell.cmd(f"set {key} v1"), "STORED")
    stop = threading.Event()
    reader = threading.Thread(target=hammer, args=(owner, key, stop), daemon=True)
    reader.start()
    shells = []
    try:
        zkcluster.eventually(lambda: hot_on(owner, key), 5)
        shells = [Shell(["--node", s.nodes[0].ring_name, "--timeout-ms", "500"])
                  for _ in range(3)]
        instances = [s.shell] + shells
        # Every instance has polled the owner's hot list (about once a second).
        zkcluster.eventually(lambda: all(
            f"{owner.ring_name}=" in sh.cmd("hot") and
            sh.cmd("hot").split(f"{owner.ring_name}=")[1].split()[0].endswith(":1")
            for sh in instances), 5)
        reads = {sh.cmd(f"where {key}").split()[1] for sh in instances}
        check_eq(sorted(reads), sorted(holders), "the instances read the key from its 3 copies")
        for sh in instances:
            check_eq(sh.cmd(f"get {key}"), "VALUE v1")
        check_eq(shells[0].cmd(f"set {key} v2"), "STORED")
        for sh in instances:
            zkcluster.eventually(lambda sh=sh: sh.cmd(f"get {key}") == "VALUE v2", HOT_COPY_TTL)
        check_eq(shells[1].cmd(f"delete {key}"), "DELETED")
        for sh in instances:
            check_eq(sh.cmd(f"get {key}"), "MISS", "after the delete's reply")
        # A copy gone before the owner's list says so: read through from the holders.
        check_eq(s.shell.cmd(f"set {key} v3"), "STORED")
        extra = by_name[holders[2]]
        zkcluster.eventually(lambda: extra.raw(f"get {key}\r\n".encode()).startswith(b"VALUE"),
                             HOT_COPY_TTL)
        with extra.connect() as c:
            check_eq(c.cmd("flush_all"), "OK")
        for sh in instances:
            check_eq(sh.cmd(f"get {key}"), "VALUE v3", f"{sh.cmd(f'where {key}')}")
            check_eq(sh.cmd(f"mget {key}"), f"VALUES 1 {key}=v3")
        # The local cache (--local-hot-cache): a hot key's reads stay in the process, and the
        # client's own write is seen at once.
        cached = Shell(["--node", s.nodes[0].ring_name, "--local-hot-cache"])
        shells.append(cached)
        zkcluster.eventually(lambda: cached.cmd("hot").count(":1") >= 1, 5)
        for _ in range(20):
            check_eq(cached.cmd(f"get {key}"), "VALUE v3")
        hits = int(cached.cmd("stats").split("local_hits=")[1])
        check(hits >= 19, f"local hits {hits} of 20 reads")
        check_eq(cached.cmd(f"set {key} v4"), "STORED")
        check_eq(cached.cmd(f"get {key}"), "VALUE v4")
    finally:
        stop.set()
        reader.join(10)
        for sh in shells:
            sh.kill()


def case_failover_reads_go_to_the_next_holder(s):
    victim = s.nodes[1]
    names = sorted(n.ring_name for n in s.nodes)
    _, members = s.shell.ring()
    check_eq(sorted(members), names, "the client's members before the kill")
    candidates = [f"fo{i}" for i in range(400)]
    holders = ring_tool(names, "failover", "2", *candidates)
    keys = [k for k in candidates if holders[k][0] == victim.ring_name][:40]
    check(len(keys) >= 20, f"only {len(keys)} keys owned by the victim")
    for k in keys:
        check_eq(s.shell.cmd(f"set {k} v-{k}"), "STORED", f"set {k}")
    errors, wrong, first_error_at = [], [], None
    reads = 400
    for i in range(reads):
        if i == reads // 4:
            victim.kill9()
            killed_at = i
        k = keys[i % len(keys)]
        r = s.shell.cmd(f"get {k}")
        if r.startswith("ERROR"):
            errors.append((i, r))
            first_error_at = first_error_at if first_error_at is not None else i
        elif r != f"VALUE v-{k}":
            wrong.append((i, k, r))
    check(not wrong, f"wrong values: {wrong[:5]}")
    check(len(errors) <= 1, f"{len(errors)} failed reads after the kill at read {killed_at}, "
          f"first: {errors[:3]}")
    _, members = s.shell.ring()
    state = members.get(victim.ring_name, "off the ring")
    if victim.ring_name in members:  # not yet dropped from the ring by ZooKeeper's expiry
        check_eq(members[victim.ring_name], "tko", "the killed node's state")
        for k in keys[:10]:
            where = s.shell.cmd(f"where {k}").split()
            check_eq(where[1], holders[k][1], f"{k} read from its next holder")
            check_eq(where[3], holders[k][1], f"{k} written to the post-ejection owner")
    print(f"#   {reads - killed_at} reads after the kill -9: {len(errors)} errors, "
          f"0 wrong values; the killed node: {state}")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/client{os.getpid()}"
        self.secret = zkcluster.write_secret(workdir, "client test secret")
        self.nodes = []
        self.fourth = None
        self.shell = None


def main():
    zkcluster.require()
    rctest.binary()
    r = rctest.Runner("client library: discovery, multi-get, ring change, failover",
                      time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-client-")
    s = Setup(workdir)
    try:
        s.zk.start()
        s.nodes = zkcluster.start_nodes(s.url, 3, NODE_ARGS + ["--cluster-secret-file", s.secret],
                                        prefix="node")
        s.shell = Shell(["--node", s.nodes[0].ring_name, "--timeout-ms", "500"])
        r.case("discovery from one node; routing = ringcached-ring's owners; one mget over "
               "3 nodes", case_discovery_and_multi_get, s)
        r.case("the ZooKeeper extra (--zk) reads the same members and version",
               case_zookeeper_extra_reads_the_same_members, s)
        r.case("a 4th node joins: the client follows within 1 s",
               case_ring_change_followed_within_a_second, s)
        r.case("hot keys: read from every copy across instances, coherent, a lost copy read "
               "through", case_hot_keys_read_from_copies, s)
        r.case("kill -9 mid read loop (R = 2): at most one failed read, then the next holder",
               case_failover_reads_go_to_the_next_holder, s)
    finally:
        if s.shell:
            s.shell.kill()
        for n in s.nodes + ([s.fourth] if s.fourth and s.fourth not in s.nodes else []):
            n.kill()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
