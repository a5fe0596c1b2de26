# t/origin/origin_support.py -- the origins the read-through tests run against, and helpers.
#
# What lives here:
#   * HttpOrigin: an HTTP origin served by Python's http.server in a thread of the test process,
#     on a free loopback port. GET /<prefix>/<url-encoded key>: 404 for keys starting "missing",
#     else 200 with the value (set_value(), or "v:<key>"). It counts requests (total and per key)
#     and can be made slow (delay, per key or for all), made to fail (status), and stopped and
#     started again on the same port (stop() also cuts the keep-alive connections it has open).
#   * Postgres: a private PostgreSQL server: initdb in a temp dir, `postgres` on a free loopback
#     port with its unix socket dir in the temp dir, stopped by PID (SIGINT = fast shutdown, then
#     SIGKILL). Run as the `postgres` user when the tests run as root (initdb refuses root). Its
#     kv table is read through fetch_kv(key), which counts every call in a sequence and sleeps
#     for ctl.delay seconds first: queries() is the number of origin queries, set_delay() makes
#     the origin slow.
#   * Concurrent raw-socket helpers: many connections sending one request each at once.
#
# Every wait is bounded; every process started is stopped by PID in finally blocks (and killed at
# exit by rctest's atexit hook for servers, by ours for PostgreSQL). Only 127.0.0.1 is used.
import atexit
import collections
import http.server
import os
import pwd
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.environ.get("RC_TESTLIB") or
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto"))
import rctest  # noqa: E402
from rctest import Failure, Skip  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"


# ---- HTTP origin ----------------------------------------------------------------------------

class HttpOrigin:
    """An HTTP origin in a thread of this process. Use as a context manager."""

    def __init__(self, prefix="/kv/"):
        self.prefix = prefix
        self.port = rctest.free_port()
        self.lock = threading.Lock()
        self.counts = collections.Counter()   # key (str) -> requests
        self.values = {}                      # key -> bytes
        self.delay = 0.0                      # seconds before answering any key
        self.delays = {}                      # key -> seconds, overrides delay
        self.status = None                    # answer every request with this status
        self._server = None
        self._thread = None
        self._conns = set()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def total(self):
        with self.lock:
            return sum(self.counts.values())

    def count(self, key):
        with self.lock:
            return self.counts[key]

    def set_value(self, key, value):
        with self.lock:
            self.values[key] = value if isinstance(value, bytes) else value.encode()

    def start(self):
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as libevent's client expects
            # One write per response, without Nagle: headers and body written separately would
            # meet the client's delayed ACK and add 40 ms to every fetch.
            wbufsize = -1
            disable_nagle_algorithm = True

            def handle(self):
                try:
                    super().handle()
                except OSError:
                    pass  # ringcached gave up on a slow request and closed the connection

            def setup(self):
                super().setup()
                with origin.lock:
                    origin._conns.add(self.connection)

            def finish(self):
                with origin.lock:
                    origin._conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_GET(self):  # noqa: N802 -- http.server's name
                path = self.path
                if not path.startswith(origin.prefix):
                    return self._reply(400, b"bad prefix")
                key = urllib.parse.unquote_to_bytes(path[len(origin.prefix):]).decode("latin-1")
                with origin.lock:
                    origin.counts[key] += 1
                    delay = origin.delays.get(key, origin.delay)
                    status = origin.status
                    value = origin.values.get(key, b"v:" + key.encode("latin-1"))
                if delay > 0:
                    time.sleep(delay)
                if status is not None:
                    return self._reply(status, b"failing on purpose")
                if key.startswith("missing"):
                    return self._reply(404, b"")
                self._reply(200, value)

            def _reply(self, status, body):
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout): nothing to do

            def log_message(self, *_args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stops listening and cuts every open connection: the origin is down."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# ---- PostgreSQL -----------------------------------------------------------------------------

_live_postgres = []


@atexit.register
def _kill_postgres_leftovers():
    for pg in list(_live_postgres):
        pg.kill()


class Postgres:
    """A private PostgreSQL 15 server on a free loopback port. Use as a context manager."""

    SCHEMA = """
        CREATE TABLE kv (key text PRIMARY KEY, value text, flags bigint, ttl integer);
        CREATE TABLE ctl (delay float8 NOT NULL);
        INSERT INTO ctl VALUES (0);
        CREATE SEQUENCE fetch_count;
        CREATE FUNCTION fetch_kv(k text) RETURNS TABLE (value text, flags bigint, ttl integer)
        LANGUAGE plpgsql AS $$
        DECLARE d float8;
        BEGIN
          PERFORM nextval('fetch_count');
          SELECT c.delay INTO d FROM ctl c;
          IF d > 0 THEN PERFORM pg_sleep(d); END IF;
          RETURN QUERY SELECT kv.value, kv.flags, kv.ttl FROM kv WHERE kv.key = k;
        END $$;
    """

    def __init__(self):
        if not os.path.exists(os.path.join(PG_BIN, "postgres")):
            raise Skip(f"PostgreSQL server not installed ({PG_BIN}; scripts/install-deps.sh)")
        self.port = None
        self.proc = None
        self.dir = tempfile.mkdtemp(prefix="rc-origin-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sockdir = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "postgres.log")
        self._user = None
        if os.geteuid() == 0:
            try:
                self._user = pwd.getpwnam("postgres")
            except KeyError:
                raise Skip("running as root and there is no postgres user to run PostgreSQL as")
        os.mkdir(self.sockdir)
        if self._user is not None:
            for p in (self.dir, self.sockdir):
                os.chown(p, self._user.pw_uid, self._user.pw_gid)
        os.chmod(self.dir, 0o755)

    def _demote(self):
        rctest._die_with_parent()
        if self._user is not None:
            os.setgroups([])
            os.setgid(self._user.pw_gid)
            os.setuid(self._user.pw_uid)

    def _run(self, args, timeout=60):
        r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, preexec_fn=self._demote, timeout=timeout,
                           cwd=self.dir)
        if r.returncode != 0:
            raise Failure(f"{' '.join(args)} failed ({r.returncode}):\n"
                          f"{r.stdout.decode(errors='replace')}")
        return r.stdout.decode(errors="replace")

    def init(self):
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                   "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C"], timeout=120)
        return self

    def start(self, port=None):
        """Starts the server (on `port`, or a free one) and waits until it answers queries."""
        self.port = port or rctest.free_port()
        cmd = [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port),
               "-k", self.sockdir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
               "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
               "-c", "shared_buffers=16MB", "-c", "max_connections=40"]
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, preexec_fn=self._demote,
                                     cwd=self.dir)
        log.close()
        _live_postgres.append(self)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"postgres exited with {self.proc.returncode}:\n{self.tail_log()}")
            try:
                if self.sql("SELECT 1", timeout=5).strip() == "1":
                    return self
            except Failure:
                pass
            time.sleep(0.1)
        raise Failure(f"postgres did not answer within 30 s:\n{self.tail_log()}")

    def stop(self):
        """Fast shutdown by PID (SIGINT), SIGKILL after 20 s; waits for the process."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self in _live_postgres:
            _live_postgres.remove(self)
        self.proc = None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self in _live_postgres:
            _live_postgres.remove(self)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def tail_log(self, n=4000):
        try:
            with open(self.log, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def sql(self, statement, timeout=10):
        """Runs `statement` with psql as postgres; returns its unaligned, tuples-only output."""
        args = [os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                "-c", statement]
        try:
            r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"psql timed out: {statement}")
        if r.returncode != 0:
            raise Failure(f"psql failed: {statement}\n{r.stdout.decode(errors='replace')}")
        return r.stdout.decode(errors="replace")

    def setup_schema(self):
        self.sql(self.SCHEMA)
        return self

    def url(self):
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def queries(self):
        """fetch_kv() calls so far (the sequence is not transactional: cancelled ones count)."""
        out = self.sql("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM fetch_count")
        return int(out.strip())

    def set_delay(self, seconds):
        self.sql(f"UPDATE ctl SET delay = {float(seconds)}")

    def put(self, key, value, flags=None, ttl=None):
        def lit(v):
            return "NULL" if v is None else str(int(v))
        k = key.replace("'", "''")
        v = value.replace("'", "''")
        self.sql(f"INSERT INTO kv VALUES ('{k}', '{v}', {lit(flags)}, {lit(ttl)}) "
                 f"ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                 f"flags = EXCLUDED.flags, ttl = EXCLUDED.ttl")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


# ---- clients --------------------------------------------------------------------------------

def concurrent_requests(port, requests, timeout=15.0, done=None):
    """Opens one connection per request, sends every request as close together as possible, and
    returns the replies (bytes) in order, each read until done(reply) (default: ends with END or
    EN or an ...\\r\\n status line). Raises Failure if any reply is not complete within timeout."""
    if done is None:
        def done(b):
            return b.endswith(b"END\r\n") or b.startswith(b"EN\r\n") or (
                b.startswith((b"VA ", b"HD")) and b.count(b"\r\n") >= 2)
    rctest.raise_nofile(len(requests) * 2 + 256)
    socks = []
    try:
        for _ in requests:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            socks.append(s)
        for s, r in zip(socks, requests):
            s.sendall(r)
        replies = [bytearray() for _ in requests]
        left = set(range(len(socks)))
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            for i, s in enumerate(socks):
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ, i)
            while left and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.2):
                    i = key.data
                    try:
                        chunk = socks[i].recv(65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        sel.unregister(socks[i])
                        left.discard(i)
                        continue
                    replies[i] += chunk
                    if done(bytes(replies[i])):
                        sel.unregister(socks[i])
                        left.discard(i)
        if left:
            i = min(left)
            raise Failure(f"{len(left)} of {len(requests)} replies incomplete after {timeout} s "
                          f"(e.g. #{i}: {bytes(replies[i])[:100]!r})")
        return [bytes(r) for r in replies]
    finally:
        for s in socks:
            s.close()


def timed(fn, *args, **kwargs):
    """(result, seconds) of fn(*args, **kwargs)."""
    t0 = time.monotonic()
    r = fn(*args, **kwargs)
    return r, time.monotonic() - t0


def origin_stats(conn):
    return conn.stats("origin")


def wait_stat(conn, name, pred, timeout=5.0):
    """Polls `stats origin` until pred(value as int) holds; returns the last stats."""
    deadline = time.monotonic() + timeout
    while True:
        st = origin_stats(conn)
        v = st.get(name)
        if v is not None and pred(int(v) if v.lstrip("-").isdigit() else v):
            return st
        if time.monotonic() >= deadline:
            raise Failure(f"stats origin {name} = {v!r} after {timeout} s; stats: {st}")
        time.sleep(0.05)


def start_expecting_failure(args, timeout=20):
    """Runs $RINGCACHED with `args` (plus -u root as root) and returns (exit status, output);
    it must exit by itself within `timeout` (start-up refused)."""
    cmd = [rctest.binary(), "-p", str(rctest.free_port()), "-U", "0", "-l", "127.0.0.1"]
    cmd += rctest.root_args() + [str(a) for a in args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=rctest._die_with_parent)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        raise Failure(f"{' '.join(cmd)} did not exit within {timeout} s (expected a refusal)")
    return proc.returncode, out.decode(errors="replace")
