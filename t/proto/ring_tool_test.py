#!/usr/bin/python3
# t/proto/ring_tool_test.py -- ringcached-ring (src/client/ring_tool.cc) as a program: its member
# sources other than --servers, its output formats and its exit codes.
#
#   * --node against a fake node on a free 127.0.0.1 port that answers `config get cluster` in the
#     ElastiCache auto-discovery format (whole, or one byte per send), refuses it (ERROR), answers
#     garbage, or never answers; and a port nobody listens on;
#   * --zk against a private ZooKeeper (Debian's zookeeper package, started here on a free
#     loopback port and killed by pid; the case is skipped when it is not installed): members,
#     weights from the JSON data, the cversion as the ring version, a join, members the nodes
#     leave out;
#   * each source gives the same ring as --servers with the same names (`owners`, `ring`);
#   * exit codes: 64 usage, 65 bad key, 69 unreachable or empty, 76 malformed
#     reply, 78 a profile the requested client configuration cannot express.
# libmemcached's own agreement with the tool is t/proto/ring_tool_libmemcached_test.
#
# The tool is $RINGCACHED_RING, else ringcached-ring beside $RINGCACHED.
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest   # noqa: E402
from rctest import Skip, check, check_eq, wait_for  # noqa: E402

TOOL = None
SERVERS = "127.0.0.1:11313,127.0.0.1:11311,127.0.0.1:11312"
KEYS = [f"key:{i}" for i in range(500)] + [f"user:{i * 7919}:session" for i in range(500)]


def tool_path():
    path = os.environ.get("RINGCACHED_RING") or os.path.join(
        os.path.dirname(os.path.abspath(rctest.binary())), "ringcached-ring")
    if not os.access(path, os.X_OK):
        raise Skip(f"{path} is not built")
    return path


def run(args, stdin="", timeout=30):
    """Runs the tool; returns (exit status, stdout, stderr)."""
    p = subprocess.run([TOOL] + args, input=stdin.encode(), capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def run_ok(args, stdin=""):
    rc, out, err = run(args, stdin)
    check(rc == 0, f"ringcached-ring {' '.join(args)} exited {rc}: {err.strip()}")
    return out


def expect_exit(args, want, fragment, stdin=""):
    rc, out, err = run(args, stdin)
    check_eq(rc, want, f"exit status of ringcached-ring {' '.join(args)} (stderr {err.strip()!r})")
    check(err.startswith("ringcached-ring: ") or "unrecognized option" in err,
          f"stderr should name the tool: {err!r}")
    check(fragment in err, f"stderr should mention {fragment!r}: {err!r}")


class FakeNode:
    """Answers each connection's `config get cluster` with `reply` (bytes), then closes. With
    reply=None it reads the request and says nothing until the client gives up."""

    def __init__(self, reply, byte_by_byte=False):
        self.reply = reply
        self.byte_by_byte = byte_by_byte
        self.requests = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while not data.endswith(b"\r\n"):
                        chunk = conn.recv(256)
                        if not chunk:
                            break
                        data += chunk
                    self.requests.append(data)
                    if self.reply is None:
                        while conn.recv(256):
                            pass
                    elif self.byte_by_byte:
                        for b in self.reply:
                            conn.sendall(bytes([b]))
                            time.sleep(0.0005)
                    else:
                        conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def config_reply(version, entries):
    payload = f"{version}\n{' '.join(entries)}\n".encode()
    return b"CONFIG cluster 0 %d\r\n" % len(payload) + payload + b"\r\nEND\r\n"


NODE_ENTRIES = ["127.0.0.1|127.0.0.1|11312", "127.0.0.1|127.0.0.1|11313",
                "127.0.0.1|127.0.0.1|11311"]


def same_ring_as_servers(source_args, servers):
    """The source's ring equals --servers' ring: every point, and the owners of KEYS."""
    stdin = "\n".join(KEYS) + "\n"
    check_eq(run_ok(source_args + ["owners"], stdin),
             run_ok(["--servers", servers, "owners"], stdin), "owners")
    check_eq(run_ok(source_args + ["ring"]), run_ok(["--servers", servers, "ring"]), "ring")


def case_node_members_and_ring():
    for byte_by_byte in (False, True):
        with FakeNode(config_reply(42, NODE_ENTRIES), byte_by_byte) as node:
            src = ["--node", f"127.0.0.1:{node.port}"]
            check_eq(run_ok(src + ["members"]),
                     "version 42\n127.0.0.1:11311 1 up\n127.0.0.1:11312 1 up\n"
                     "127.0.0.1:11313 1 up\n",
                     "members (canonical order)")
            check_eq(node.requests[0], b"config get cluster\r\n", "the request")
            if not byte_by_byte:
                same_ring_as_servers(src, SERVERS)


def case_node_failures():
    with FakeNode(b"ERROR\r\n") as node:
        expect_exit(["--node", f"127.0.0.1:{node.port}", "members"], 69, "config get cluster")
    with FakeNode(b"END\r\n") as node:
        expect_exit(["--node", f"127.0.0.1:{node.port}", "members"], 69, "no cluster configuration")
    with FakeNode(b"CONFIG cluster 0 3\r\n1\nx\r\nEND\r\n") as node:
        expect_exit(["--node", f"127.0.0.1:{node.port}", "members"], 76, "bad node entry")
    with FakeNode(config_reply(1, [])) as node:
        check_eq(run_ok(["--node", f"127.0.0.1:{node.port}", "members"]), "version 1\n", "members")
        expect_exit(["--node", f"127.0.0.1:{node.port}", "owner", "k"], 69, "no members")
    with FakeNode(None) as node:
        t0 = time.monotonic()
        expect_exit(["--timeout", "0.5", "--node", f"127.0.0.1:{node.port}", "members"], 69,
                    "within 500 ms")
        check(time.monotonic() - t0 < 5, "--timeout 0.5 took more than 5 s")
    expect_exit(["--node", f"127.0.0.1:{rctest.free_port()}", "members"], 69, "cannot connect")


def case_usage_and_data_errors():
    s = ["--servers", SERVERS]
    expect_exit(["members"], 64, "exactly one of")
    expect_exit(s + ["--node", "127.0.0.1:1", "members"], 64, "exactly one of")
    expect_exit(s, 64, "no command")
    expect_exit(s + ["frobnicate"], 64, "unknown command")
    expect_exit(s + ["members", "extra"], 64, "takes no arguments")
    expect_exit(s + ["--profile", "ketama", "members"], 64, "unknown --profile")
    expect_exit(["--servers", "a,a", "members"], 64, "duplicate member")
    expect_exit(["--servers", "a=0", "members"], 64, "bad weight")
    expect_exit(s + ["holders", "0", "k"], 64, "positive integer")
    expect_exit(s + ["--bogus", "members"], 64, "")
    expect_exit(["--zk", "zk://127.0.0.1/x", "members"], 64, ":port")
    expect_exit(s + ["owner", "a b"], 65, "space or control")
    expect_exit(s + ["owners"], 65, "stdin line 2", stdin="ok\n" + "x" * 251 + "\n")
    expect_exit(s + ["--profile", "spymemcached", "libmemcached"], 78, "cannot reproduce")
    expect_exit(s + ["--profile", "spymemcached", "twemproxy"], 78, "cannot reproduce")


def case_outputs():
    s = ["--servers", SERVERS]
    check_eq(run_ok(s + ["members"]),
             "version -\n127.0.0.1:11311 1 up\n127.0.0.1:11312 1 up\n127.0.0.1:11313 1 up\n",
             "members")
    ring = run_ok(s + ["ring"]).splitlines()
    check_eq(len(ring), 480, "ring points")
    hashes = [int(line.split()[1]) for line in ring]
    check(hashes == sorted(hashes), "ring points are in hash order")
    check_eq([line.split()[0] for line in ring[:3]], ["0", "1", "2"], "point indices")
    owners = run_ok(s + ["owners"], "\n".join(KEYS) + "\n").splitlines()
    check_eq(len(owners), len(KEYS), "one owners line per key")
    by_owner_cmd = run_ok(s + ["owner"] + KEYS[:50]).splitlines()
    check_eq(by_owner_cmd, owners[:50], "owner KEY... == owners")
    holders = run_ok(s + ["holders", "3"] + KEYS[:50]).splitlines()
    for h, o in zip(holders, owners):
        f = h.split()
        check_eq(len(f), 4, f"holders line {h!r}")
        check_eq(f[:2], o.split(), "the first holder is the owner")
        check_eq(len(set(f[1:])), 3, f"holders are distinct: {h!r}")
    # failover: the owner, then where a client that ejects the owner sends the key: the owner
    # on the list without it (REPLICATION.md section 2).
    members = SERVERS.split(",")
    failover = run_ok(s + ["failover", "2"] + KEYS[:50]).splitlines()
    for h, o in zip(failover, owners):
        f = h.split()
        check_eq(f[:2], o.split(), "the first failover holder is the owner")
        rest = ",".join(m for m in members if m != f[1])
        check_eq(run_ok(["--servers", rest, "owner", f[0]]).split(), [f[0], f[2]],
                 f"the second is the owner without the first: {h!r}")
    expect_exit(s + ["failover", "x", "k"], 64, "positive integer")
    check(run_ok(s + ["libmemcached"]).startswith("--DISTRIBUTION=consistent --HASH=MD5 --SERVER="),
          "libmemcached config string")
    check("  hash: md5\n  distribution: ketama\n" in run_ok(s + ["twemproxy"]), "twemproxy pool")
    check("  hash: fnv1a_64\n" in run_ok(s + ["--profile", "twemproxy", "twemproxy"]),
          "twemproxy profile pool")


def zookeeper_classpath():
    jar = "/usr/share/java/zookeeper.jar"
    if not (shutil.which("java") and os.path.exists(jar)):
        raise Skip("ZooKeeper (Debian's zookeeper package) is not installed")
    return "/etc/zookeeper/conf:" + jar


class PrivateZooKeeper:
    """A standalone ZooKeeper on a free 127.0.0.1 port, with its data in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rc-ring-zk-")
        self.port = rctest.free_port()
        with open(os.path.join(self.dir, "zoo.cfg"), "w") as f:
            f.write(f"tickTime=500\ndataDir={self.dir}/data\nclientPort={self.port}\n"
                    "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n")
        self.log = open(os.path.join(self.dir, "zk.log"), "w")
        self.proc = subprocess.Popen(
            ["java", "-Xmx128m", "-cp", zookeeper_classpath(),
             "org.apache.zookeeper.server.ZooKeeperServerMain", os.path.join(self.dir, "zoo.cfg")],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for(self._up, 30):
            self.stop()
            raise rctest.Failure("private ZooKeeper did not start within 30 s")

    def _up(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"srvr")
                return b"Mode" in s.recv(1024)
        except OSError:
            return False

    def cli(self, commands):
        """Runs zkCli.sh commands (one per line); returns its output."""
        cmd = ["java", "-cp", zookeeper_classpath(), "org.apache.zookeeper.ZooKeeperMain",
               "-server", f"127.0.0.1:{self.port}"]
        p = subprocess.run(cmd, input="\n".join(commands + ["quit"]).encode(),
                           capture_output=True, timeout=60)
        return p.stdout.decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def member_json(name, weight, state="up"):
    host, port = name.rsplit(":", 1)
    return ('{"name":"%s","address":"%s","port":%s,"weight":%d,"incarnation":1732600000123,'
            '"state":"%s"}' % (name, host, port, weight, state))


def case_zookeeper():
    zookeeper_classpath()
    zk = PrivateZooKeeper()
    try:
        members = ["127.0.0.1:11312", "127.0.0.1:11311", "127.0.0.1:11313"]
        zk.cli(["create /ringcached ''", "create /ringcached/members ''"] +
               [f"create /ringcached/members/{m} {member_json(m, 3 if m.endswith('13') else 1)}"
                for m in members])
        src = ["--zk", f"zk://127.0.0.1:{zk.port}/ringcached"]
        check_eq(run_ok(src + ["members"]),
                 "version 3\n127.0.0.1:11311 1 up\n127.0.0.1:11312 1 up\n127.0.0.1:11313 3 up\n",
                 "members")
        same_ring_as_servers(src, "127.0.0.1:11311,127.0.0.1:11312,127.0.0.1:11313=3")
        # A join bumps the cversion; a warming member is on the ring, a leaving one listed but
        # off it, as the nodes' own rings have them.
        zk.cli([f"create /ringcached/members/127.0.0.1:11314 "
                f"{member_json('127.0.0.1:11314', 1, 'warming')}",
                f"set /ringcached/members/127.0.0.1:11311 "
                f"{member_json('127.0.0.1:11311', 1, 'leaving')}"])
        rc, out, err = run(src + ["members"])
        check_eq(rc, 0, "exit status")
        check_eq(out, "version 4\n127.0.0.1:11311 1 leaving\n127.0.0.1:11312 1 up\n"
                 "127.0.0.1:11313 3 up\n127.0.0.1:11314 1 warming\n", "members with states")
        same_ring_as_servers(src, "127.0.0.1:11312,127.0.0.1:11313=3,127.0.0.1:11314")
        # A state change written as the nodes write it (with the members znode's data, one
        # transaction) is a new version.
        zk.cli(["set /ringcached/members ''"])
        rc, out, err = run(src + ["members"])
        check(out.startswith("version 5\n"), f"members after a state change {out!r}")
        expect_exit(["--zk", f"zk://127.0.0.1:{zk.port}/elsewhere", "members"], 69,
                    "/elsewhere/members")
        # Members the nodes leave out (undecodable data, data naming another member) are left
        # out here too, with a warning.
        zk.cli(["create /mixed ''", "create /mixed/members ''",
                "create /mixed/members/a:1 not-json",
                f"create /mixed/members/b:1 {member_json('c:1', 1)}",
                f"create /mixed/members/d:1 {member_json('d:1', 2)}"])
        rc, out, err = run(["--zk", f"zk://127.0.0.1:{zk.port}/mixed", "members"])
        check_eq((rc, out), (0, "version 3\nd:1 2 up\n"), "members of /mixed")
        check("member a:1" in err and "member b:1" in err and "left out" in err,
              f"warnings about the left-out members: {err!r}")
    finally:
        zk.stop()
    expect_exit(["--timeout", "1", "--zk", f"zk://127.0.0.1:{rctest.free_port()}/x", "members"], 69,
                "cannot connect to ZooKeeper")


def main():
    global TOOL
    TOOL = tool_path()
    r = rctest.Runner("ringcached-ring", time_limit=150)
    r.case("--node: members, ring and owners from `config get cluster`", case_node_members_and_ring)
    r.case("--node: refused, empty, malformed, silent and absent nodes", case_node_failures)
    r.case("usage and data errors: messages and exit codes", case_usage_and_data_errors)
    r.case("members, ring, owner(s), holders, failover, client configs", case_outputs)
    r.case("--zk: a private ZooKeeper", case_zookeeper)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
