#!/usr/bin/python3
# t/proto/startup_test.py -- start-up, options and process control (PROTOCOL.md sections 8 and 9;
# memcached's t/00-startup.t, t/item_size_max.t, t/daemonize.t, t/unixsocket.t, t/shutdown.t,
# t/restart.t).
#
#   * invalid options (bad -l address, malformed -l host:port, --advertise name:abc, -B http,
#     -c 0, -c -1, -t 0, -I 1000, -I 256m with the default -m, an unknown -o sub-option) -> exit
#     non-zero within 10 s with a message on stderr;
#   * -h exits 0 and advertises unix-socket; it must not mention sasl / ext_path / proxy_config /
#     enable-ssl / no_drop_privileges unless implemented (memcached's suite greps -h to choose its
#     tests). Stock memcached implements them, so for it that check is only reported;
#   * -V prints a version; memcached's common flags and -o sub-options are accepted;
#   * -d -P: the daemon's pid lands in the pid file; SIGTERM stops it;
#   * -s with -a: the socket has the requested mode and serves set/get;
#   * `shutdown` -> "ERROR: shutdown not enabled" without -A; with -A it stops the server
#     (`shutdown graceful` too); SIGTERM and SIGUSR1 (graceful) stop it with exit status 0;
#   * -t 4 started on one CPU runs one worker thread (`stats threads` still says 4, as memcached's
#     "threads requested" does); --oversubscribe runs all four; every thread serves.
# Every server started listens on a free 127.0.0.1 port (or a socket in a private temp dir) and
# is stopped and reaped; a daemon (not our child) is killed by the pid it wrote.
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest   # noqa: E402
from rctest import Failure, check, check_eq, wait_for  # noqa: E402

BIN = None


def run_binary(args, timeout=10, listen=True):
    """Run the binary to completion (for options that must make it exit). Returns
    (status, stdout, stderr). A process still running after `timeout` is killed and reported."""
    cmd = [BIN]
    # Should validation wrongly let it start, keep it off port 11211 and off public addresses.
    if listen:
        cmd += ["-p", str(rctest.free_port()), "-U", "0", "-l", "127.0.0.1"]
    cmd += rctest.root_args() + list(args)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise Failure(f"`{' '.join(cmd)}` still running after {timeout} s (it should have exited)")
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


INVALID = [
    (["-l", "192.0.2.1"], "an -l address that is not local (TEST-NET-1)"),
    # Malformed -l addresses: refused when the options are read, not bound to a random port.
    (["-l", "127.0.0.1:abc"], "-l with a port that is not a number"),
    (["-l", "127.0.0.1:70000"], "-l with a port above 65535"),
    (["-l", "127.0.0.1:"], "-l with an empty port"),
    (["-l", "[::1"], "-l with an IPv6 address missing its ']'"),
    (["-l", "127.0.0.1,127.0.0.1:1x"], "-l list with one bad port"),
    (["-B", "http"], "-B http"),
    (["-c", "0"], "-c 0"),
    (["-c", "-1"], "-c -1"),
    (["-t", "0"], "-t 0"),
    (["-I", "1000"], "-I 1000 (below 1 KB)"),
    (["-I", "256m"], "-I 256m with the default -m 64 (above half of -m)"),
    (["-o", "bogus_option_xyz"], "unknown -o sub-option"),
    (["--advertise", "cache1:abc"], "--advertise whose trailing port is not a number"),
    (["--max-clock-skew-ms", "0"], "--max-clock-skew-ms 0"),
    (["--max-clock-skew-ms", "3600001"], "--max-clock-skew-ms above an hour"),
    (["--max-clock-skew-ms", "1s"], "--max-clock-skew-ms not a number"),
]


def case_invalid_options():
    problems = []
    for args, what in INVALID:
        listen = args[0] != "-l"
        cmd_args = args if listen else ["-p", str(rctest.free_port()), "-U", "0"] + args
        try:
            rc, out, err = run_binary(cmd_args, listen=listen)
        except Failure as e:
            problems.append(f"{what}: {e}")
            continue
        if rc == 0:
            problems.append(f"{what}: exited 0")
        elif rc < 0:
            problems.append(f"{what}: {rctest.describe_status(rc)} (a crash, not a refusal)")
        elif not err.strip():
            problems.append(f"{what}: exit {rc} but nothing on stderr (stdout: {out[:100]!r})")
        else:
            print(f"    {what}: exit {rc}: {err.strip().splitlines()[0][:100]}")
    if problems:
        raise Failure("\n".join(problems))


FORBIDDEN_IN_HELP = ["sasl", "ext_path", "proxy_config", "enable-ssl", "no_drop_privileges"]


def case_help():
    rc, out, err = run_binary(["-h"], listen=False)
    check_eq(rc, 0, "-h exit status")
    text = out + err
    check(re.search("unix-socket", text, re.I), "-h does not mention unix-socket")
    mentioned = [w for w in FORBIDDEN_IN_HELP if re.search(re.escape(w), text, re.I)]
    if mentioned:
        if rctest.is_stock_memcached():
            print(f"    KNOWN: memcached's -h mentions {', '.join(mentioned)} (it implements "
                  f"them); not enforced for memcached itself")
        else:
            raise Failure(f"-h mentions {', '.join(mentioned)}: memcached's test suite would then "
                          f"run those feature tests")


def case_version_flag():
    rc, out, err = run_binary(["-V"], listen=False)
    check_eq(rc, 0, "-V exit status")
    check(re.search(r"\b1\.6\.\d+", out), f"-V prints no 1.6.x version: {out!r} {err!r}")


def case_accepts_common_flags():
    """The flags init scripts, memcached's suite and memccapable use start a working server."""
    args = ["-m", "32", "-c", "500", "-t", "2", "-R", "5", "-b", "512", "-B", "auto", "-I", "2m",
            "-f", "1.5", "-n", "64", "-D", ":", "-v",
            "-o", "modern,slab_chunk_max=262144,lru_crawler,lru_maintainer,slab_reassign,"
                  "slab_automove=1,idle_timeout=600,hashpower=18,maxconns_fast,temporary_ttl=61,"
                  "track_sizes,watcher_logbuf_size=256,worker_logbuf_size=64,read_buf_mem_limit=32"]
    with rctest.ServerProcess(args) as srv, srv.connect() as c:
        check_eq(c.set("k", "v"), "STORED", "set")
        st = c.stats("settings")
        check_eq(st.get("maxbytes"), str(32 * 1024 * 1024), "maxbytes")
        check_eq(st.get("maxconns"), "500", "maxconns")
        check_eq(st.get("num_threads"), "2", "num_threads")
        check_eq(st.get("reqs_per_event"), "5", "reqs_per_event")
        check_eq(st.get("item_size_max"), str(2 * 1024 * 1024), "item_size_max")
        check_eq(st.get("idle_timeout"), "600", "idle_timeout")
        check_eq(st.get("tcp_backlog"), "512", "tcp_backlog")
    with rctest.ServerProcess(["-C", "-M", "-F", "-B", "ascii"]) as srv, srv.connect() as c:
        check_eq(c.set("k", "v"), "STORED", "set with -C -M -F -B ascii")
        st = c.stats("settings")
        check_eq(st.get("cas_enabled"), "no", "cas_enabled with -C")
        check_eq(st.get("evictions"), "off", "evictions with -M")
        check_eq(st.get("flush_enabled"), "no", "flush_enabled with -F")
        check_eq(st.get("binding_protocol"), "ascii", "binding_protocol with -B ascii")
        check_eq(c.cmd("flush_all"), "CLIENT_ERROR flush_all not allowed", "flush_all with -F")
    with rctest.ServerProcess(["-o", "no_modern,no_lru_crawler,no_lru_maintainer"]) as srv, \
            srv.connect() as c:
        check_eq(c.set("k", "v"), "STORED", "set with -o no_modern,...")
        check_eq(c.stats("settings").get("lru_crawler"), "no", "lru_crawler with -o no_lru_crawler")
    # memcached's own suite appends `-o relaxed_privileges` (a debug-build option).
    try:
        with rctest.ServerProcess(["-o", "relaxed_privileges"]) as srv:
            srv.check_serving("-o relaxed_privileges")
    except Failure as e:
        if not rctest.is_stock_memcached():
            raise Failure(f"-o relaxed_privileges (memcached's test suite passes it) refused: {e}")
        print("    KNOWN: release memcached refuses -o relaxed_privileges (debug builds accept it)")


def worker_threads(pid):
    """The names of the server's worker threads (/proc/PID/task/*/comm: rc-worker-N)."""
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if name.startswith("rc-worker-"):
            names.append(name)
    return sorted(names)


def case_workers_per_cpu():
    """Workers never outnumber the CPUs the process can use, unless --oversubscribe says so."""
    saved = os.sched_getaffinity(0)
    one_cpu = {min(saved)}
    for extra, expected in (([], 1), (["--oversubscribe"], 4)):
        os.sched_setaffinity(0, one_cpu)  # the server inherits it
        try:
            srv = rctest.ServerProcess(["-t", "4", *extra]).start()
        finally:
            os.sched_setaffinity(0, saved)
        with srv:
            # Connections go round the workers: five of them reach each running worker.
            conns = [srv.connect() for _ in range(5)]
            try:
                check_eq(conns[0].set("first", "v"), "STORED", "a request answered")
                check_eq(len(worker_threads(srv.proc.pid)), expected,
                         f"worker threads of -t 4 {' '.join(extra)} on one CPU")
                for i, c in enumerate(conns):
                    check_eq(c.set(f"k{i}", f"v{i}"), "STORED", f"set on connection {i}")
                for i, c in enumerate(conns):
                    check_eq(c.get(f"k{(i + 1) % 5}"), f"v{(i + 1) % 5}".encode(),
                             f"get on connection {i}")
                check_eq(conns[0].stats().get("threads"), "4", "stats threads (requested)")
            finally:
                for c in conns:
                    c.close()
    if len(saved) > 1:
        with rctest.ServerProcess(["-t", str(len(saved) + 3)]) as srv:
            # A request answered means the workers have started (the listener accepts only
            # after them; a worker is named before its Start returns), not just that the port
            # is open.
            c = srv.connect()
            check_eq(c.set("k", "v"), "STORED", "set")
            c.close()
            n = len(worker_threads(srv.proc.pid))
            check(1 <= n <= len(saved), f"-t {len(saved) + 3} on {len(saved)} CPUs ran {n} workers")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def case_daemonize_pidfile():
    with tempfile.TemporaryDirectory(prefix="rc-startup-") as tmp:
        pidfile = os.path.join(tmp, "server.pid")
        port = rctest.free_port()
        cmd = ([BIN, "-d", "-P", pidfile, "-p", str(port), "-U", "0", "-l", "127.0.0.1"]
               + rctest.root_args())
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        check_eq(p.returncode, 0, f"-d parent exit status (stderr {p.stderr[:200]!r})")
        daemon_pid = None
        try:
            check(wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 5),
                  "pid file not written within 5 s")
            daemon_pid = int(open(pidfile).read().strip())
            check(pid_alive(daemon_pid), f"pid {daemon_pid} from the pid file is not running")
            check(wait_for(lambda: can_connect(port), 5), "daemon does not accept connections")
            with rctest.Conn(port) as c:
                check_eq(c.set("d", "1"), "STORED", "set on the daemon")
                check_eq(c.stats()["pid"], str(daemon_pid), "stats pid == pid file")
            os.kill(daemon_pid, signal.SIGTERM)
            check(wait_for(lambda: not pid_alive(daemon_pid), 10),
                  "daemon still running 10 s after SIGTERM")
            daemon_pid = None
        finally:
            if daemon_pid is not None and pid_alive(daemon_pid):
                os.kill(daemon_pid, signal.SIGKILL)
                wait_for(lambda: not pid_alive(daemon_pid), 5)


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def case_unix_socket():
    with tempfile.TemporaryDirectory(prefix="rc-startup-") as tmp:
        path = os.path.join(tmp, "server.sock")
        with rctest.ServerProcess(["-a", "600"], unix_path=path) as srv:
            mode = stat.S_IMODE(os.stat(path).st_mode)
            check(stat.S_ISSOCK(os.stat(path).st_mode), f"{path} is not a socket")
            check_eq(oct(mode), oct(0o600), "socket file mode with -a 600")
            with srv.connect() as c:
                check_eq(c.set("us", "over unix"), "STORED", "set over the UNIX socket")
                check_eq(c.get("us"), b"over unix", "get over the UNIX socket")
                st = c.stats("settings")
                check_eq(st.get("domain_socket"), path, "stats settings domain_socket")
                check_eq(st.get("umask"), "600", "stats settings umask")


def case_shutdown_disabled():
    with rctest.ServerProcess() as srv, srv.connect() as c:
        check_eq(c.cmd("shutdown"), "ERROR: shutdown not enabled", "shutdown without -A")
        check_eq(c.cmd("shutdown graceful"), "ERROR: shutdown not enabled",
                 "shutdown graceful without -A")
        srv.check_serving("refused shutdown")


def shutdown_with_A(command):
    srv = rctest.ServerProcess(["-A"], name="server with -A")
    srv.start()
    try:
        with srv.connect() as c:
            if command == "shutdown bogus":
                check_eq(c.cmd(command), "CLIENT_ERROR invalid shutdown mode", command)
                srv.check_serving(command)
                return srv.stop()
            c.send(command.encode() + b"\r\n")
            check(c.wait_closed(10), f"connection not closed after `{command}`")
        check(wait_for(lambda: not srv.alive(), 10), f"server still running 10 s after `{command}`")
        rc = srv.proc.returncode
        check_eq(rc, 0, f"exit status after `{command}` ({rctest.describe_status(rc)})")
    finally:
        srv._stopping = True
        srv.kill()


def case_signal(sig):
    srv = rctest.ServerProcess(name=f"server for {sig.name}")
    srv.start()
    srv.check_serving()
    srv.stop(sig=sig, expect_status=(0,))


def case_graceful_finishes_in_flight():
    """SIGUSR1 while a client is in the middle of a value: the server stops taking connections
    but answers the request it had started to receive, then exits 0."""
    srv = rctest.ServerProcess(name="server for graceful stop")
    srv.start()
    try:
        c = srv.connect()
        c.send(b"set inflight 0 0 10\r\n01234")
        time.sleep(0.2)
        os.kill(srv.proc.pid, signal.SIGUSR1)
        time.sleep(0.3)
        check(srv.alive(), "the server exited with a request in flight")
        # The rest of the value, and a request pipelined behind it: both are answered.
        c.send(b"56789\r\nget inflight\r\n")
        want = b"STORED\r\nVALUE inflight 0 10\r\n0123456789\r\nEND\r\n"
        data, complete = c.recv_until(want, timeout=5)
        check(complete, f"the in-flight requests were not answered: {bytes(data)!r}")
        check(wait_for(lambda: not srv.alive(), 10), "server still running 10 s after SIGUSR1")
        rc = srv.proc.returncode
        check_eq(rc, 0, f"exit status after SIGUSR1 ({rctest.describe_status(rc)})")
    finally:
        srv._stopping = True
        srv.kill()


def main():
    global BIN
    BIN = rctest.binary()
    r = rctest.Runner("start-up and process control", time_limit=90)
    r.case("invalid options exit non-zero with a message", case_invalid_options)
    r.case("-h: exit 0, honest feature list", case_help)
    r.case("-V prints a version", case_version_flag)
    r.case("common flags and -o sub-options accepted", case_accepts_common_flags)
    r.case("-d -P writes the daemon's pid; SIGTERM stops it", case_daemonize_pidfile)
    r.case("-s with -a 600 serves set/get", case_unix_socket)
    r.case("shutdown without -A is refused", case_shutdown_disabled)
    r.case("-A: shutdown stops the server", shutdown_with_A, "shutdown")
    r.case("-A: shutdown graceful stops the server", shutdown_with_A, "shutdown graceful")
    r.case("-A: shutdown bogus is refused", shutdown_with_A, "shutdown bogus")
    if not rctest.is_stock_memcached():
        r.case("-t 4 on one CPU runs one worker; --oversubscribe all four",
               case_workers_per_cpu)
    r.case("SIGTERM stops the server (exit 0)", case_signal, signal.SIGTERM)
    r.case("SIGINT stops the server (exit 0)", case_signal, signal.SIGINT)
    r.case("SIGUSR1 graceful stop (exit 0)", case_signal, signal.SIGUSR1)
    if not rctest.is_stock_memcached():
        # memcached's SIGUSR1 is a restartable-cache stop, not a drain of in-flight requests.
        r.case("SIGUSR1 finishes in-flight requests, then exits 0",
               case_graceful_finishes_in_flight)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
