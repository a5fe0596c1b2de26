#!/usr/bin/python3
# t/proto/regressions_test.py -- bugs a code review found in the connection handling, each shown
# here by the scenario that exposed it (named after what broke, as memcached names its
# issue_NN.t tests):
#   * -R with replies that block the socket at the moment the connection yields: the rest of the
#     pipelined requests were never run (the yield's wake-up was cancelled by re-arming the event);
#   * a UDP datagram cut off in the middle of an ms left its meta state behind, so a later `set`
#     was answered "HD" and executed as that ms;
#   * `watch` over UDP made the shared UDP connection a watcher and then tore it down;
#   * a watcher that does not read made the server buffer log lines without bound;
#   * a UDP datagram cut off mid-line kept a graceful stop (SIGUSR1) waiting its full 30 s.
# And one for the worker's read rounds (reads first, then the requests of every connection read,
# doc/performance.md): many connections at once, pipelined, in odd fragments, some ending in quit,
# every reply byte for byte in order.
import os
import re
import random
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB", os.path.dirname(os.path.abspath(__file__))))
import rctest   # noqa: E402
from rctest import check, check_eq, free_udp_port, wait_for  # noqa: E402


def udp_request(u, port, rid, payload, wait=0.5):
    """Sends one framed request; returns the reply payloads received within `wait` seconds."""
    u.sendto(struct.pack(">HHHH", rid, 0, 1, 0) + payload, ("127.0.0.1", port))
    u.settimeout(wait)
    out = []
    try:
        while True:
            d, _ = u.recvfrom(65536)
            out.append(d[8:])
    except socket.timeout:
        pass
    return b"".join(out)


def case_yield_with_blocked_replies():
    srv = rctest.ServerProcess(["-R", "1", "-I", "2m", "-m", "128"], name="server -R 1")
    with srv:
        value = b"x" * 1000000
        with srv.connect() as c:
            c.send(b"set big 0 0 %d\r\n" % len(value) + value + b"\r\n")
            check(c.recv_until(b"STORED\r\n")[1], "set big not stored")
        # A reader with a tiny receive buffer that reads only after the server has blocked.
        n = 20
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"get big\r\n" * n)
        time.sleep(0.5)
        want = n * (len(b"VALUE big 0 1000000\r\n") + len(value) + 2 + len(b"END\r\n"))
        got = 0
        s.settimeout(5)
        deadline = time.monotonic() + 30
        try:
            while got < want and time.monotonic() < deadline:
                d = s.recv(1 << 20)
                if not d:
                    break
                got += len(d)
        except socket.timeout:
            pass
        s.close()
        check_eq(got, want, "bytes of 20 pipelined 1 MB gets with -R 1")


def case_udp_partial_ms_leaves_nothing_behind():
    uport = free_udp_port()
    srv = rctest.ServerProcess(["-U", uport, "-t", "1"], name="server -U")
    with srv:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp_request(u, uport, 1, b"ms foo 10 MA q\r\nab")  # the datagram ends inside the value
        check_eq(udp_request(u, uport, 2, b"set bar 0 0 2\r\nhi\r\n"), b"STORED\r\n",
                 "a set after a cut-off ms")
        check_eq(udp_request(u, uport, 3, b"get bar\r\n"), b"VALUE bar 0 2\r\nhi\r\nEND\r\n",
                 "get bar")
        u.close()


def case_watch_over_udp_is_refused():
    uport = free_udp_port()
    srv = rctest.ServerProcess(["-U", uport, "-t", "1"], name="server -U")
    with srv:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        check_eq(udp_request(u, uport, 1, b"watch fetchers\r\n"),
                 b"CLIENT_ERROR watch commands not allowed\r\n", "watch over UDP")
        for rid in (2, 3, 4):
            check_eq(udp_request(u, uport, rid, b"get nothing\r\n"), b"END\r\n",
                     f"UDP still served (request {rid})")
        u.close()


def case_watcher_backlog_is_bounded():
    srv = rctest.ServerProcess(["-t", "2"], name="server")
    with srv:
        w = socket.create_connection(("127.0.0.1", srv.port))
        w.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        w.sendall(b"watch fetchers\r\n")
        time.sleep(0.2)  # the watcher never reads again
        before = rctest.vm_rss_bytes(srv.pid)
        with srv.connect() as c:
            batch = b"get some:fairly:long:key:name:to:make:log:lines\r\n" * 1000
            for _ in range(100):
                c.send(batch)
                c.recv_until(lambda b: b.count(b"END\r\n") >= 1000, timeout=10)
            stats = c.stats()
        after = rctest.vm_rss_bytes(srv.pid)
        w.close()
        # Under AddressSanitizer RSS is its allocator's quarantine, not the server's buffers.
        sanitized = os.environ.get("RC_SANITIZERS", "no") not in ("", "no")
        if before is not None and after is not None and not sanitized:
            check(after - before < 32 << 20,
                  f"RSS grew by {(after - before) >> 20} MB for 100k log lines nobody read")
        check(int(stats.get("log_watcher_skipped", "0")) > 0,
              f"log_watcher_skipped: {stats.get('log_watcher_skipped')}")


def case_watch_connevents():
    """`watch connevents` sees another connection open and close, in memcached's line format."""
    srv = rctest.ServerProcess(["-t", "1"], name="server")
    with srv, srv.connect() as w:
        w.send(b"watch connevents\r\n")
        check_eq(w.read_line(), b"OK", "watch connevents")
        with srv.connect() as c:
            check_eq(c.cmd("version").split()[0], "VERSION", "version")
        data, complete = w.recv_until(lambda b: b.count(b"\n") >= 2, timeout=10)
        check(complete, f"two connevents lines within 10 s: {data!r}")
        lines = data.decode().splitlines()
        new = [l for l in lines if "type=conn_new" in l]
        close = [l for l in lines if "type=conn_close" in l]
        check(len(new) == 1 and len(close) == 1, f"connevents lines: {lines}")
        for line in new + close:
            check(re.search(r" rip=127\.0\.0\.1 rport=\d+ transport=tcp ", line) is not None,
                  f"address fields: {line}")
            check(re.search(r" cfd=\d+$", line) is not None, f"cfd: {line}")
        check(" reason=normal " in close[0], f"close reason: {close[0]}")


def case_graceful_stop_with_a_cut_off_datagram():
    uport = free_udp_port()
    srv = rctest.ServerProcess(["-U", uport, "-t", "1"], name="server -U")
    srv.start()
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp_request(u, uport, 1, b"get no_newline", wait=0.2)
        u.close()
        started = time.monotonic()
        os.kill(srv.pid, signal.SIGUSR1)
        check(wait_for(lambda: not srv.alive(), 10),
              "still running 10 s after SIGUSR1")
        check(time.monotonic() - started < 5, "graceful stop took over 5 s")
        check_eq(srv.proc.returncode, 0, "exit status")
    finally:
        srv._stopping = True
        srv.kill()

def case_read_rounds_keep_every_connection_in_order():
    rng = random.Random(7)
    srv = rctest.ServerProcess(["-t", "2"], name="server -t 2")
    with srv:
        scripts = []
        for c in range(32):
            script, want = [], []
            for i in range(120):
                key = b"rr%d:%d" % (c, i)
                value = b"v" * rng.choice((1, 30, 700, 5000)) + b"%d" % i
                script.append(b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value))
                want.append(b"STORED\r\n")
                script.append(b"get %s\r\n" % key)
                want.append(b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(value), value))
                script.append(b"mg %s s v\r\n" % key)
                want.append(b"VA %d s%d\r\n%s\r\n" % (len(value), len(value), value))
            if c % 4 == 0:
                script.append(b"quit\r\n")
            scripts.append((b"".join(script), b"".join(want), c % 4 == 0))
        results = rctest.drive_scripts(srv.port, scripts, rng, (1, 7, 100, 4096, 40000))
        rctest.check_replies(results, scripts)
        with srv.connect() as c:
            c.send(b"get rr31:119\r\n")
            check(c.recv_until(b"END\r\n")[1], "the server stopped answering")



def main():
    r = rctest.Runner("regressions from the connection-handling review", time_limit=120)
    r.case("-R 1: pipelined gets complete although replies block", case_yield_with_blocked_replies)
    r.case("UDP: a cut-off ms leaves nothing behind", case_udp_partial_ms_leaves_nothing_behind)
    r.case("UDP: watch is refused and UDP keeps serving", case_watch_over_udp_is_refused)
    r.case("a watcher that never reads cannot grow the server", case_watcher_backlog_is_bounded)
    r.case("watch connevents: a connection's open and close", case_watch_connevents)
    r.case("graceful stop is not held up by a cut-off datagram",
           case_graceful_stop_with_a_cut_off_datagram)
    r.case("read rounds: 32 connections at once, pipelined, every reply in order",
           case_read_rounds_keep_every_connection_in_order)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
