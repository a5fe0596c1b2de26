# t/proto/rctest.py -- shared helpers for the protocol tests in t/proto (the new_memcached() idea of
# memcached's t/lib/MemcachedTest.pm, in Python).
#
# What lives here:
#   * ServerProcess: starts $RINGCACHED (stock memcached during development) on a free loopback
#     port, waits until it accepts, stops it by PID (SIGTERM, then SIGKILL after a timeout) and
#     fails loudly if it died on its own (crash) or exited badly on SIGTERM. A context manager.
#   * free_port(): a free TCP port on 127.0.0.1 (bind port 0).
#   * Conn: a raw socket client with send / recv-until helpers and a few memcached conveniences.
#   * Runner: a tiny test runner: one line per case, a summary, exit status 0 / 1 / 77 (skip).
#
# Invariants every test keeps (DESIGN.md section 4, STYLE.md section 6): only 127.0.0.1 (or a UNIX
# socket in a private temp dir) is used; every process started is stopped by PID and waited for;
# every loop is bounded in count and time; exit 77 means SKIP.
#
# Environment: RINGCACHED = absolute path of the binary under test (t/proto/local.am sets it);
# RC_SHARED = the shared docs folder (reference transcripts); RC_TESTLIB = this folder.
import atexit
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

EXIT_SKIP = 77
EXIT_HARD_ERROR = 99


class Skip(Exception):
    """Raised to skip the whole test script (exit 77)."""


class Failure(AssertionError):
    """A failed check; the message says what was expected and what came back."""


def binary():
    """The binary under test ($RINGCACHED). Exits 99 (hard error) when it is not usable."""
    path = os.environ.get("RINGCACHED", "")
    if not path:
        print("RINGCACHED is not set (point it at the server binary, e.g. /usr/bin/memcached)",
              file=sys.stderr)
        sys.exit(EXIT_HARD_ERROR)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        print(f"RINGCACHED={path} is not an executable file (not built?)", file=sys.stderr)
        sys.exit(EXIT_HARD_ERROR)
    return path


def is_stock_memcached():
    """True when the binary under test is memcached itself (development runs)."""
    return os.path.basename(os.path.realpath(binary())).startswith("memcached")


def shared_dir():
    """The shared docs folder ($RC_SHARED), holding reference/."""
    return os.environ.get("RC_SHARED") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")


def root_args():
    """memcached refuses to run as root without -u; pass -u root then, as memcached's suite does."""
    return ["-u", "root"] if os.geteuid() == 0 else []


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile(want):
    """Raise this process's RLIMIT_NOFILE soft limit towards `want` (bounded by the hard limit).
    Returns the new soft limit. Child processes (the server) inherit it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_udp_port():
    """A UDP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, step=0.05):
    """Polls pred() until it is true or `timeout` seconds have passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def vm_rss_bytes(pid):
    """VmRSS of a process in bytes, from /proc/PID/status (None if unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def drive_scripts(port, scripts, rng, chunk_sizes, timeout=60, late=0):
    """Runs many connections at once against 127.0.0.1:`port`, each sending its script in
    fragments of sizes drawn from `chunk_sizes` while reading what comes back, until every
    connection has its expected reply bytes (or, for one expected to close, EOF) or `timeout`.
    `scripts` holds (data, want, expect_close) triples. With `late`, the last `late` connections
    open only once the others have sent half their scripts. Returns, per connection, the bytes
    received and whether the server closed it."""
    import select
    conns = []

    def connect(data, want, expect_close):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        conns.append({"sock": s, "out": data, "sent": 0, "want": want, "got": bytearray(),
                      "close": expect_close, "eof": False})

    for spec in scripts[:len(scripts) - late]:
        connect(*spec)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if late and all(x["sent"] >= len(x["out"]) // 2 for x in conns):
            for spec in scripts[len(scripts) - late:]:
                connect(*spec)
            late = 0
        live = [x for x in conns if not x["eof"] and (len(x["got"]) < len(x["want"]) or x["close"])]
        if not live and not late:
            break
        writers = [x["sock"] for x in live if x["sent"] < len(x["out"])]
        readable, writable, _ = select.select([x["sock"] for x in live], writers, [], 1.0)
        by_sock = {x["sock"]: x for x in live}
        for sock in writable:
            x = by_sock[sock]
            size = rng.choice(chunk_sizes)
            try:
                x["sent"] += sock.send(x["out"][x["sent"]:x["sent"] + size])
            except BlockingIOError:
                pass
        for sock in readable:
            x = by_sock[sock]
            try:
                d = sock.recv(1 << 20)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                d = b""
            if not d:
                x["eof"] = True
            x["got"] += d
    for x in conns:
        x["sock"].close()
    return [(bytes(x["got"]), x["eof"]) for x in conns]


def check_replies(results, scripts):
    """Checks drive_scripts' results: every connection's replies byte for byte, and EOF where a
    close was expected."""
    for n, ((got, eof), (_, want, expect_close)) in enumerate(zip(results, scripts)):
        differ = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                      min(len(got), len(want)))
        check(got == want, f"connection {n}: {len(got)} of {len(want)} reply bytes, "
                           f"first difference at byte {differ}")
        if expect_close:
            check(eof, f"connection {n}: was not closed")


def _die_with_parent():
    """In the child before exec: SIGKILL it when the test process dies (even by SIGKILL, which
    skips the atexit clean-up below). Linux prctl(PR_SET_PDEATHSIG); best effort elsewhere."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def kill_and_reap(proc):
    """SIGKILL `proc` (a subprocess.Popen, or None) if it still runs, and reap it. The cleanup
    path: no checks, and a process that will not die within 10 s is left to PR_SET_PDEATHSIG."""
    if proc is not None and proc.poll() is None:
        try:
            proc.kill()
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# Every process registered here (a ServerProcess, or any object with a kill() method, such as
# the cluster tests' ZooKeeper) and still running at exit is killed and reaped, so an exception
# or a failed assertion never leaves a process behind.
_live_servers = []


def kill_at_exit(p):
    """Registers `p` (anything with a kill() method) to be killed at exit."""
    _live_servers.append(p)


def forget_at_exit(p):
    """Undoes kill_at_exit(p), once `p` is stopped and reaped."""
    if p in _live_servers:
        _live_servers.remove(p)


def _kill_leftovers():
    for srv in list(_live_servers):
        srv.kill()


atexit.register(_kill_leftovers)


class ServerProcess:
    """The binary under test, started on a free loopback port.

    ServerProcess(args) runs `$RINGCACHED -p PORT -U 0 -l 127.0.0.1 [-u root] ARGS`, or with
    unix_path=P `$RINGCACHED -s P [-u root] ARGS` (no TCP listener, as with memcached's -s).
    start() returns once a connection is accepted; it retries with another port if the first one
    was taken meanwhile. stop() sends SIGTERM, waits, SIGKILLs after `stop_timeout` and raises
    Failure if the server had died before (crash) or did not exit cleanly. Use as a context manager.
    """

    OUTPUT_HEAD, OUTPUT_TAIL = 2000, 6000  # what output() keeps of a long log (bytes)

    def __init__(self, args=(), *, unix_path=None, start_timeout=10.0, stop_timeout=10.0,
                 env=None, name="server"):
        self.args = [str(a) for a in args]
        self.unix_path = unix_path
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.env = env
        self.name = name
        self.port = None
        self.proc = None
        self._log = None
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self):
        last_error = None
        for _attempt in range(3):  # a port found free may be taken before the server binds it
            if self.unix_path is None:
                self.port = free_port()
                cmd = [binary(), "-p", str(self.port), "-U", "0", "-l", "127.0.0.1"]
            else:
                cmd = [binary(), "-s", self.unix_path]
            cmd += root_args() + self.args
            self._spawn(cmd)
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._can_connect():
                    return self
                time.sleep(0.02)
            if self.proc.poll() is None:  # still running but never accepted
                self.kill()
                raise Failure(f"{self.name} did not accept connections within "
                              f"{self.start_timeout:.0f} s: {' '.join(cmd)}\n{self.output()}")
            last_error = (f"{self.name} exited during start-up with status {self.proc.returncode}: "
                          f"{' '.join(cmd)}\n{self.output()}")
            self._forget()
            if self.unix_path is not None or "bind" not in self.output().lower():
                break
        raise Failure(last_error)

    def _spawn(self, cmd):
        """Starts `cmd` with its output going to a fresh temp file (see output()); does not wait.
        A subclass whose start() differs (a fixed port, no wait) starts its process here too."""
        self.cmdline = cmd
        self._log = tempfile.TemporaryFile()
        self._stopping = False  # a restart after stop()
        env = None if self.env is None else {**os.environ, **self.env}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env,
                                     preexec_fn=_die_with_parent)
        kill_at_exit(self)

    def _can_connect(self):
        try:
            if self.unix_path is None:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
            else:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(0.5)
                s.connect(self.unix_path)
            s.close()
            return True
        except OSError:
            return False

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        """Everything the server wrote to stdout/stderr so far (decoded, possibly truncated)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        data = self._log.read()
        if len(data) > self.OUTPUT_HEAD + self.OUTPUT_TAIL:
            data = data[:self.OUTPUT_HEAD] + b"\n[...]\n" + data[-self.OUTPUT_TAIL:]
        return data.decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self, context=""):
        """Raise Failure (loudly) if the server died; call after anything that might crash it."""
        if self.proc is None:
            raise Failure(f"{self.name} was never started")
        rc = self.proc.poll()
        if rc is not None and not self._stopping:
            where = f" {context}" if context else ""
            raise Failure(f"{self.name} (pid {self.proc.pid}) DIED unexpectedly{where}: "
                          f"{describe_status(rc)}\n--- server output ---\n{self.output()}")

    def stop(self, sig=signal.SIGTERM, expect_status=(0, -signal.SIGTERM)):
        """Stop the server with `sig` and reap it. Raises Failure if it had crashed before, did not
        exit within stop_timeout (it is then SIGKILLed), or exited with an unexpected status."""
        if self.proc is None or self._stopping:
            return None
        if self.proc.poll() is not None:
            self._stopping = True
            self._forget()
            raise Failure(f"{self.name} (pid {self.proc.pid}) had already DIED before stop: "
                          f"{describe_status(self.proc.returncode)}\n"
                          f"--- server output ---\n{self.output()}")
        self._stopping = True
        os.kill(self.proc.pid, sig)
        try:
            rc = self.proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise Failure(f"{self.name} did not exit within {self.stop_timeout:.0f} s of "
                          f"{signal.Signals(sig).name}; killed")
        finally:
            self._forget()
        if expect_status is not None and rc not in expect_status:
            raise Failure(f"{self.name} exited with {describe_status(rc)} after "
                          f"{signal.Signals(sig).name}\n--- server output ---\n{self.output()}")
        return rc

    def kill(self):
        """SIGKILL and reap (cleanup path; no checks)."""
        kill_and_reap(self.proc)
        self._forget()

    def _forget(self):
        forget_at_exit(self)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            # Do not hide the original error, but still say loudly if the server crashed.
            if self.proc is not None and self.proc.poll() is not None and not self._stopping:
                print(f"!!! {self.name} DIED: {describe_status(self.proc.returncode)}\n"
                      f"{self.output()}", file=sys.stderr)
            self.kill()
        return False

    # -- convenience ---------------------------------------------------------------------------
    def connect(self, timeout=5.0):
        if self.unix_path is not None:
            return Conn(unix_path=self.unix_path, timeout=timeout)
        return Conn(self.port, timeout=timeout)

    def check_serving(self, context=""):
        """The server is alive and an independent connection gets correct answers (set/get)."""
        self.assert_alive(context)
        key = f"alive_{os.getpid()}_{int(time.monotonic() * 1e6) % 10**9}"
        with self.connect() as c:
            r = c.set(key, b"ok")
            if r != "STORED":
                raise Failure(f"health check after {context or 'case'}: set -> {r!r}")
            v = c.get(key)
            if v != b"ok":
                raise Failure(f"health check after {context or 'case'}: get -> {v!r}")
            c.cmd(f"delete {key}")
        self.assert_alive(context)


def describe_status(rc):
    if rc is None:
        return "still running"
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"killed by {name}"
    return f"exit status {rc}"


class Conn:
    """A raw memcached connection. All reads are bounded by a timeout; received bytes that were not
    consumed yet stay in self.buf. `closed` becomes True once the peer closed (EOF or reset)."""

    def __init__(self, port=None, *, unix_path=None, host="127.0.0.1", timeout=5.0, sock=None):
        self.timeout = timeout
        self.buf = bytearray()
        self.closed = False
        if sock is not None:
            self.sock = sock
        elif unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix_path)
        else:
            assert host == "127.0.0.1" or host == "localhost", "tests only talk to loopback"
            self.sock = socket.create_connection((host, port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)

    # -- raw I/O -------------------------------------------------------------------------------
    def send(self, data, timeout=None):
        """Send all of `data`, reading concurrently into self.buf so a server that answers while we
        are still sending cannot deadlock us. Raises Failure on timeout; a reset or EPIPE marks the
        connection closed and raises ConnectionError."""
        if isinstance(data, str):
            data = data.encode()
        view = memoryview(data)
        deadline = time.monotonic() + (timeout if timeout is not None else max(self.timeout, 10))
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            while view:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"send timed out with {len(view)} of {len(data)} bytes unsent")
                for _key, ev in sel.select(min(left, 0.5)):
                    if ev & selectors.EVENT_READ and not self.closed:
                        self._recv_some()
                        if self.closed:
                            sel.modify(self.sock, selectors.EVENT_WRITE)
                    if ev & selectors.EVENT_WRITE:
                        try:
                            n = self.sock.send(view[:262144])
                            view = view[n:]
                        except BlockingIOError:
                            pass
                        except (BrokenPipeError, ConnectionResetError) as e:
                            self.closed = True
                            raise ConnectionError(f"connection closed by server while sending "
                                                  f"({len(view)} bytes unsent): {e}") from None

    def _recv_some(self):
        """One non-blocking recv into buf. Returns the number of bytes read (0 on EOF/none)."""
        try:
            chunk = self.sock.recv(262144)
        except BlockingIOError:
            return 0
        except (ConnectionResetError, ConnectionAbortedError):
            self.closed = True
            return 0
        if not chunk:
            self.closed = True
            return 0
        self.buf += chunk
        return len(chunk)

    def fill(self, timeout):
        """Wait up to `timeout` s for more bytes (or EOF). True if something new happened."""
        if self.closed:
            return False
        with selectors.DefaultSelector() as sel:
            sel.register(self.sock, selectors.EVENT_READ)
            if not sel.select(max(timeout, 0)):
                return False
        before = len(self.buf)
        self._recv_some()
        return len(self.buf) > before or self.closed

    def recv_until(self, done, timeout=None):
        """Read until done(buf) is true, EOF, or timeout. Returns (bytes, complete) and consumes
        them. `done` is a callable or a bytes terminator."""
        if isinstance(done, (bytes, bytearray)):
            term = bytes(done)
            done = lambda b: term in b  # noqa: E731
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not done(self.buf):
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                break
            self.fill(min(left, 0.5))
        ok = bool(done(self.buf))
        data = bytes(self.buf)
        self.buf.clear()
        return data, ok

    def read_line(self, timeout=None):
        """One line without its terminator (\\r\\n, or a bare \\n). Raises Failure on timeout or
        EOF."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if self.closed:
                raise Failure(f"connection closed while waiting for a line "
                              f"(got {bytes(self.buf)!r})")
            if left <= 0:
                raise Failure(f"timed out waiting for a line (got {bytes(self.buf)[:200]!r})")
            self.fill(min(left, 0.5))
        i = self.buf.index(b"\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if self.closed or left <= 0:
                raise Failure(f"wanted {n} bytes, got {len(self.buf)} "
                              f"({'closed' if self.closed else 'timeout'})")
            self.fill(min(left, 0.5))
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_for(self, silence=0.2, limit=5.0):
        """Everything that arrives until `silence` s pass without data (bounded by `limit` s)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.closed:
            if not self.fill(min(silence, deadline - time.monotonic())):
                break
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def wait_closed(self, timeout=3.0):
        """True if the peer closes within `timeout` (bytes that arrive meanwhile stay in buf)."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self.fill(min(0.5, deadline - time.monotonic()))
        return self.closed

    def close_graceful(self, timeout=2.0):
        """Half-close, then read until the server closes too, so the server has certainly seen and
        processed the close when this returns. Returns any bytes that were still unread."""
        leftover = b""
        try:
            if not self.closed:
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self.wait_closed(timeout)
            leftover = bytes(self.buf)
        finally:
            self.close()
        return leftover

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- memcached conveniences ------------------------------------------------------------------
    def cmd(self, line, timeout=None):
        """Send one command line (\\r\\n appended) and return the first reply line as str."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.read_line(timeout).decode("latin-1")

    def store(self, verb, key, value, flags=0, exptime=0, extra="", noreply=False):
        if isinstance(value, str):
            value = value.encode()
        if isinstance(key, str):
            key = key.encode()
        head = b"%s %s %d %d %d" % (verb.encode(), key, flags, exptime, len(value))
        if extra:
            head += b" " + str(extra).encode()
        if noreply:
            head += b" noreply"
        self.send(head + b"\r\n" + value + b"\r\n")
        return None if noreply else self.read_line().decode("latin-1")

    def set(self, key, value, flags=0, exptime=0, noreply=False):
        return self.store("set", key, value, flags, exptime, noreply=noreply)

    def get_multi(self, keys, verb="get"):
        """{key: (flags, value[, cas])} for a get/gets of `keys`."""
        keys = [k.encode() if isinstance(k, str) else k for k in keys]
        self.send(verb.encode() + b" " + b" ".join(keys) + b"\r\n")
        out = {}
        for _ in range(len(keys) + 1):
            line = self.read_line()
            if line == b"END":
                return out
            parts = line.split(b" ")
            if parts[0] != b"VALUE" or len(parts) < 4:
                raise Failure(f"unexpected reply line to {verb}: {line!r}")
            n = int(parts[3])
            data = self.read_exact(n + 2)
            if data[-2:] != b"\r\n":
                raise Failure(f"value of {parts[1]!r} not followed by \\r\\n: {data[-10:]!r}")
            entry = (int(parts[2]), data[:-2]) + ((int(parts[4]),) if len(parts) > 4 else ())
            out[parts[1].decode("latin-1")] = entry
        raise Failure(f"{verb}: no END after {len(keys)} values")

    def get(self, key):
        """The value of `key` (bytes) or None on a miss."""
        r = self.get_multi([key])
        k = key.decode("latin-1") if isinstance(key, bytes) else key
        return r[k][1] if k in r else None

    def stats(self, sub=""):
        """{name: value} of `stats [sub]` (values as str)."""
        self.send((f"stats {sub}".strip() + "\r\n").encode())
        out = {}
        for _ in range(10000):
            line = self.read_line().decode("latin-1")
            if line == "END":
                return out
            parts = line.split(" ", 2)
            if parts[0] != "STAT" or len(parts) < 3:
                raise Failure(f"unexpected stats line {line!r}")
            out[parts[1]] = parts[2]
        raise Failure("stats reply did not end")


class Runner:
    """Runs named cases, prints one line per case ("ok" / "FAIL" plus the reason), and exits with
    0 if all passed, 1 otherwise. A whole-script time limit (SIGALRM) turns a hang into a
    failure."""

    def __init__(self, title, time_limit=120):
        self.title = title
        self.passed = 0
        self.failed = []
        self.skipped = 0
        self.started = time.monotonic()
        self.time_limit = time_limit
        signal.signal(signal.SIGALRM, self._on_alarm)
        signal.alarm(time_limit)
        # Killed by a harness: unwind (servers stopped, temp dirs removed) instead of vanishing.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        print(f"# {title} against {binary()}", flush=True)

    def _on_alarm(self, _signum, _frame):
        raise Failure(f"test script exceeded its time limit of {self.time_limit} s")

    def case(self, name, fn, *args, **kwargs):
        """Run fn(*args); a raised exception fails the case. Returns fn's value (None on
        failure)."""
        t0 = time.monotonic()
        try:
            result = fn(*args, **kwargs)
        except Skip as e:
            self.skipped += 1
            print(f"skip  - {name}: {e}", flush=True)
            return None
        except Exception as e:  # noqa: BLE001 -- any error fails this case, the run continues
            self.failed.append(name)
            detail = str(e) if isinstance(e, Failure) else traceback.format_exc().rstrip()
            print(f"FAIL  - {name} ({time.monotonic() - t0:.2f}s)\n" + _indent(detail), flush=True)
            return None
        self.passed += 1
        print(f"ok    - {name} ({time.monotonic() - t0:.2f}s)", flush=True)
        return result

    def fail(self, name, detail):
        self.failed.append(name)
        print(f"FAIL  - {name}\n" + _indent(detail), flush=True)

    def finish(self):
        signal.alarm(0)
        total = self.passed + len(self.failed)
        print(f"# {self.title}: {self.passed} of {total} cases passed"
              + (f", {self.skipped} skipped" if self.skipped else "")
              + f" ({time.monotonic() - self.started:.1f}s)", flush=True)
        # The line scripts/summarize-tests.sh adds up over every test program.
        print(f"{self.passed} passed, {len(self.failed)} failed", flush=True)
        if self.failed:
            print("# failed: " + ", ".join(self.failed), flush=True)
            sys.exit(1)
        if total == 0 and self.skipped:
            sys.exit(EXIT_SKIP)
        sys.exit(0)


def _indent(text, prefix="    "):
    return "\n".join(prefix + line for line in str(text).splitlines())


def check(cond, msg):
    """Raise Failure(msg) unless cond."""
    if not cond:
        raise Failure(msg)


def check_eq(got, want, what=""):
    if got != want:
        raise Failure(f"{what + ': ' if what else ''}expected {want!r}, got {got!r}")


def main(fn):
    """Run a test script's main(), mapping Skip to exit 77 and stray errors to exit 1."""
    try:
        fn()
    except Skip as e:
        print(f"SKIP: {e}", flush=True)
        sys.exit(EXIT_SKIP)
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        sys.exit(1)
