# t/cluster/zkcluster.py -- shared helpers for the cluster tests: a private ZooKeeper and
# ringcached cluster nodes, both started on free loopback ports and stopped by PID.
#
# What lives here:
#   * ZooKeeper: Debian's zookeeper package run in the foreground (ZooKeeperServerMain) from its
#     own zoo.cfg and data dir in a temp dir; admin server off; a small tickTime so that session
#     timeouts of a few seconds are allowed. start() waits for "ruok" -> "imok". kill() stops it
#     by PID (SIGKILL; restarted on the same data dir it restores the sessions it had).
#   * zookeeper_missing(): why the tests must be skipped (no java, no zookeeper jar), or None;
#     require(): the skip itself, for ZooKeeper and, if asked, pylibmc.
#   * TcpProxy: a relay in front of ZooKeeper that the test can cut and restore, to make
#     ZooKeeper unreachable for the nodes while it keeps running (and expiring their sessions).
#   * Node: one ringcached cluster node on a fixed port (so a restarted node keeps its default
#     ring name), started without waiting for it to serve (joining may block start-up); helpers
#     for `stats cluster`, `config get cluster`, a set/get check, and pause()/resume() (SIGSTOP,
#     waiting until every thread has stopped, and SIGCONT).
#   * eventually(): polls a condition with a bound, returning how long it took.
#   * write_secret() and start_nodes(): a cluster secret file (mode 0600), and N nodes started
#     and waited for until each sees all N, for the replication tests.
#
# The protocol helpers (Conn, free_port, Runner...) and the process handling (Node is a
# ServerProcess; ZooKeeper is reaped by kill_and_reap and killed at exit through kill_at_exit)
# come from t/proto/rctest.py. Invariants, as there: loopback only, every process stopped by PID
# (and killed with the test process through PR_SET_PDEATHSIG), every wait bounded.
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto"))
import rctest  # noqa: E402
from rctest import Failure  # noqa: E402

ZOOKEEPER_JAR_GLOB = "/usr/share/java/zookeeper*.jar"
ZOOKEEPER_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"


def zookeeper_missing():
    """None if a ZooKeeper server can be started here, else the reason it cannot."""
    if shutil.which("java") is None:
        return "java is not installed (Debian: default-jre-headless)"
    if not os.path.isfile("/usr/share/java/zookeeper.jar"):
        return "ZooKeeper is not installed (Debian: zookeeper, /usr/share/java/zookeeper.jar)"
    return None


def require(pylibmc=False):
    """Skips the calling script (rctest.Skip: exit 77) when ZooKeeper cannot be started here,
    or, with `pylibmc`, when the pylibmc client is not installed."""
    missing = zookeeper_missing()
    if missing:
        raise rctest.Skip(missing)
    if pylibmc:
        try:
            import pylibmc as _  # noqa: F401
        except ImportError:
            raise rctest.Skip("pylibmc is not installed (Debian: python3-pylibmc)")


def free_port():
    """A free loopback TCP port, never ZooKeeper's well-known 2181."""
    for _ in range(20):
        port = rctest.free_port()
        if port != 2181:
            return port
    raise Failure("no free port")


def eventually(pred, timeout, step=0.05):
    """Polls pred() until true; returns the seconds it took, or raises Failure after `timeout`.
    pred may raise Failure/OSError meanwhile (a node not serving yet): that counts as false."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    last_error = None
    while True:
        try:
            if pred():
                return time.monotonic() - t0
        except (Failure, OSError) as e:
            last_error = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise Failure(f"condition not met within {timeout:.1f} s{detail}")
        time.sleep(step)


class ZooKeeper:
    """A private standalone ZooKeeper on 127.0.0.1:port with its data under `workdir`."""

    def __init__(self, workdir, port=None, tick_ms=250, min_session_ms=500,
                 max_session_ms=5000):
        self.workdir = workdir
        self.port = port or free_port()
        self.data_dir = os.path.join(workdir, "zk-data")
        self.cfg = os.path.join(workdir, "zoo.cfg")
        self.log_path = os.path.join(workdir, "zookeeper.log")
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.cfg, "w") as f:
            f.write(f"tickTime={tick_ms}\n"
                    f"dataDir={self.data_dir}\n"
                    f"clientPort={self.port}\n"
                    "clientPortAddress=127.0.0.1\n"
                    f"minSessionTimeout={min_session_ms}\n"
                    f"maxSessionTimeout={max_session_ms}\n"
                    "admin.enableServer=false\n"
                    "4lw.commands.whitelist=ruok,srvr\n"
                    "maxClientCnxns=100\n")
        self.proc = None

    @property
    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def start(self, timeout=20.0):
        jars = sorted(glob.glob(ZOOKEEPER_JAR_GLOB))
        # zookeeper.jar's manifest lists its dependencies (netty, jute, slf4j...).
        classpath = ":".join(["/usr/share/java/zookeeper.jar"] + [j for j in jars if "jute" in j])
        cmd = ["java", "-Xmx256m", "-XX:+UseSerialGC", "-Dzookeeper.jmx.log4j.disable=true",
               "-Dzookeeper.admin.enableServer=false", "-cp", classpath, ZOOKEEPER_MAIN,
               self.cfg]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=self.workdir,
                                     preexec_fn=rctest._die_with_parent)
        log.close()
        rctest.kill_at_exit(self)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise Failure(f"ZooKeeper exited with {rctest.describe_status(self.proc.returncode)}"
                              f":\n{self.output()}")
            if self.ruok():
                return time.monotonic() - t0
            time.sleep(0.05)
        self.kill()
        raise Failure(f"ZooKeeper did not answer ruok within {timeout:.0f} s:\n{self.output()}")

    def ruok(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"ruok")
                s.settimeout(0.5)
                return s.recv(16) == b"imok"
        except OSError:
            return False

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self):
        """SIGKILL by PID and reap (a crash of the ZooKeeper server: its data dir survives)."""
        rctest.kill_and_reap(self.proc)
        rctest.forget_at_exit(self)

    stop = kill


class TcpProxy:
    """A loopback TCP relay in front of ZooKeeper that the test can cut: cut() closes every
    relayed connection and stops listening (clients get "connection refused"), restore() listens
    again on the same port. While cut, ZooKeeper keeps running and hears nothing from the nodes,
    so their sessions expire on ZooKeeper's own clock -- deterministically, unlike a SIGSTOPped
    server, which on SIGCONT may read a client's queued ping before its session expirer runs.
    One thread; ZooKeeper's traffic is small, so a blocking sendall to the other side is fine."""

    def __init__(self, upstream_port, port=None):
        import threading
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._want_up = False
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def hosts(self):
        return f"127.0.0.1:{self.port}"

    def restore(self):
        with self._lock:
            self._want_up = True

    def cut(self, timeout=5.0):
        with self._lock:
            self._want_up = False
        # Return once the relay has really closed everything.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                return
            time.sleep(0.02)
        raise Failure("the ZooKeeper relay did not stop listening")

    def close(self):
        with self._lock:
            self._want_up = False
            self._stop = True
        self._thread.join(timeout=5)

    def _run(self):
        import selectors
        sel = selectors.DefaultSelector()
        listener = None
        peers = {}  # socket -> the socket it relays to

        def drop(s):
            other = peers.pop(s, None)
            for x in (s, other):
                if x is None:
                    continue
                peers.pop(x, None)
                try:
                    sel.unregister(x)
                except (KeyError, ValueError):
                    pass
                x.close()

        while True:
            with self._lock:
                want_up, stop = self._want_up, self._stop
            if (not want_up or stop) and listener is not None:
                sel.unregister(listener)
                listener.close()
                listener = None
                for s in list(peers):
                    drop(s)
            if stop:
                sel.close()
                return
            if want_up and listener is None:
                listener = socket.socket()
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind(("127.0.0.1", self.port))
                listener.listen(64)
                listener.setblocking(False)
                sel.register(listener, selectors.EVENT_READ)
            for key, _ in sel.select(timeout=0.02):
                s = key.fileobj
                if s is listener:
                    try:
                        down, _ = listener.accept()
                    except OSError:
                        continue
                    try:
                        up = socket.create_connection(("127.0.0.1", self.upstream_port),
                                                      timeout=1.0)
                    except OSError:
                        down.close()  # ZooKeeper itself is down: the client sees a reset
                        continue
                    for x in (down, up):
                        x.settimeout(2.0)
                        sel.register(x, selectors.EVENT_READ)
                    peers[down] = up
                    peers[up] = down
                    continue
                if s not in peers:
                    continue
                try:
                    data = s.recv(65536)
                    if data:
                        peers[s].sendall(data)
                        continue
                except OSError:
                    pass
                drop(s)


class Node(rctest.ServerProcess):
    """One ringcached cluster node on 127.0.0.1:port (fixed across restarts, unlike a
    ServerProcess's). Output, alive/assert_alive, stop (SIGTERM, a clean exit expected) and kill
    are ServerProcess's; start() does not wait for the node to serve."""

    OUTPUT_HEAD, OUTPUT_TAIL = 3000, 9000  # a node logs more: joins, ring changes, retries

    def __init__(self, zk_url, port=None, extra_args=(), name="node"):
        super().__init__(extra_args, stop_timeout=15.0, name=name)
        self.zk_url = zk_url
        self.port = port or free_port()

    @property
    def ring_name(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        """Starts the process; does not wait (joining may hold start-up). See up()."""
        self._spawn([rctest.binary(), "-p", str(self.port), "-U", "0", "-l", "127.0.0.1",
                     "-t", "2", "-m", "32", "-v", "--cluster", self.zk_url]
                    + rctest.root_args() + self.args)
        return self

    def pause(self, timeout=5.0):
        """SIGSTOP, returning once every thread has stopped: the signal is asynchronous, and a
        thread still running (waiting for a CPU on a loaded machine) could answer a request sent
        just after kill() returned."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + timeout

        def stopped():
            for task in os.listdir(f"/proc/{self.proc.pid}/task"):
                try:
                    with open(f"/proc/{self.proc.pid}/task/{task}/stat") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except OSError:
                    continue  # a thread that just ended
                if state not in ("T", "t"):
                    return False
            return True
        while not stopped():
            if time.monotonic() > deadline:
                raise Failure(f"{self.name}: not every thread stopped after SIGSTOP")
            time.sleep(0.005)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill9(self):
        """kill -9: a crash, so the node's znode stays until its session expires."""
        self.kill()

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    # -- requests ------------------------------------------------------------------------------
    def connect(self, timeout=2.0):
        return rctest.Conn(self.port, timeout=timeout)

    def cluster_stats(self, timeout=2.0):
        with self.connect(timeout) as c:
            return c.stats("cluster")

    def config_get_cluster(self, timeout=2.0):
        """The raw reply to `config get cluster` (bytes, through END)."""
        with self.connect(timeout) as c:
            c.send(b"config get cluster\r\n")
            data, ok = c.recv_until(lambda b: b.endswith(b"END\r\n") or b == b"ERROR\r\n")
            if not ok:
                raise Failure(f"{self.name}: incomplete config get cluster reply {data!r}")
            return data

    def raw(self, request, timeout=2.0):
        with self.connect(timeout) as c:
            c.send(request)
            data, _ = c.recv_until(lambda b: b.endswith(b"END\r\n") or b.endswith(b"ERROR\r\n"))
            return data

    def up(self):
        """True once the node serves and reports itself registered."""
        s = self.cluster_stats(timeout=1.0)
        return s.get("self_state") == "up"

    def check_set_get(self, key, value):
        with self.connect() as c:
            r = c.set(key, value)
            if r != "STORED":
                raise Failure(f"{self.name}: set {key} -> {r!r}")
            got = c.get(key)
            if got != (value.encode() if isinstance(value, str) else value):
                raise Failure(f"{self.name}: get {key} -> {got!r}")


def write_secret(workdir, text, name="secret"):
    """A --cluster-secret-file holding `text`, mode 0600; returns its path."""
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


def start_nodes(url, count, extra_args, prefix="node", timeout=20):
    """Starts `count` nodes of the cluster at `url` with `extra_args`, and returns them once
    every one is up and sees all `count` members."""
    nodes = [Node(url, extra_args=list(extra_args), name=f"{prefix}{i}") for i in range(count)]
    for n in nodes:
        n.start()
    for n in nodes:
        eventually(n.up, timeout)
    # ... and every member up (with replication a node warms until the others' hand-off reached
    # it; server/member_states.cc).
    eventually(lambda: all(n.cluster_stats()["ring_members"] == str(count) and
                           set(n.cluster_stats()["ring_member_states"].split(",")) == {"up"}
                           for n in nodes), timeout)
    return nodes


def ring_of(stats):
    """What every node must agree on: (version, member names, member incarnations)."""
    return (stats.get("ring_version"), stats.get("ring_member_names"),
            stats.get("ring_member_incarnations"))
