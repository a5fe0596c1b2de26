#!/usr/bin/python3
# t/proto/receive_test.py -- how a connection receives, at the edges of the worker's receive path
# (epoll by default; io_uring_engine_test.sh runs this file again with --io-engine=io_uring,
# net/recv_ring.h):
#   * a client that sends requests and never reads the replies is not read without bound: the
#     server stops taking its bytes (the socket buffers fill and the client's send blocks), and
#     its memory stays put;
#   * requests followed by the client's half-close are answered before the server closes;
#   * large values (read straight into their items) and small requests interleaved, pipelined
#     from several connections in odd fragments: every reply byte for byte;
#   * one connection streaming more than the receive buffers hold (noreply sets): everything
#     stored, in order;
#   * more connections sending at once than the receive buffer pool starts with;
#   * 300 connections ready at once, half of them sending `quit` after a get: more than a read
#     round holds (64), so full rounds run inside the loop's read callbacks and delete the
#     connections that quit while other events are still to be delivered;
#   * connections that open while others are half way through pipelined requests;
#   * 1,000 idle connections that each made a request cost under 3 KB of RSS apiece (about
#     0.65 KB here, as memcached's; a connection that kept its 16 KB buffers cost 11-14 KB), and
#     hold no I/O buffers (read_buf_count stays a handful);
#   * the server stops cleanly (SIGTERM) with 200 connections open (under io_uring, every open
#     connection's receive is live until the worker's ring goes);
#   * a lone client among 64 idle connections is answered at once: 200 sequential gets 2 ms
#     apart see a median round trip under 2 ms. A receive that waits for a wake-up that comes
#     late (the io_uring stall of issue 13: 15-20 ms a request) breaks this by an order of
#     magnitude; the bound itself is far above any machine's loopback round trip.
import os
import random
import statistics
import select
import signal
import socket
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB", os.path.dirname(os.path.abspath(__file__))))
import rctest   # noqa: E402
from rctest import check, check_eq  # noqa: E402

MB = 1 << 20


def case_unread_replies_are_bounded():
    srv = rctest.ServerProcess(["-m", "64"], name="server -m 64")
    with srv:
        value = b"r" * 2000
        with srv.connect() as c:
            c.send(b"set k 0 0 %d\r\n%s\r\n" % (len(value), value))
            check(c.recv_until(b"STORED\r\n")[1], "set k not stored")
        rss_before = rctest.vm_rss_bytes(srv.pid)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setblocking(False)
        chunk = b"get k\r\n" * 10000  # 70 KB of requests, 20 MB of replies
        sent, stalled_since = 0, None
        deadline = time.monotonic() + 20
        while sent < 256 * MB and time.monotonic() < deadline:
            try:
                sent += s.send(chunk)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 1.0:
                    break
                select.select([], [s], [], 0.1)
        rss_after = rctest.vm_rss_bytes(srv.pid)
        print(f"    {sent / MB:.1f} MB of requests taken before the client's send blocked; "
              f"RSS grew by {(rss_after - rss_before) / MB:.1f} MB", flush=True)
        # Socket buffers on loopback hold some megabytes each way; without a bound the server
        # would take all 256 MB (and queue 300x that in replies).
        check(sent < 64 * MB, f"the server kept reading: {sent / MB:.0f} MB of requests taken "
                              "from a client that reads nothing")
        check(rss_after - rss_before < 48 * MB,
              f"RSS grew by {(rss_after - rss_before) / MB:.0f} MB for a client that reads nothing")
        s.close()
        srv.check_serving("after the client that did not read")


def case_half_close_is_answered():
    srv = rctest.ServerProcess([], name="server")
    with srv:
        for n in range(20):
            s = socket.create_connection(("127.0.0.1", srv.port))
            value = b"h%d" % n
            s.sendall(b"set hc%d 0 0 %d\r\n%s\r\nget hc%d\r\nmn\r\n" % (n, len(value), value, n))
            s.shutdown(socket.SHUT_WR)
            s.settimeout(5)
            got = b""
            while True:
                d = s.recv(4096)
                if not d:
                    break
                got += d
            s.close()
            want = b"STORED\r\nVALUE hc%d 0 %d\r\n%s\r\nEND\r\nMN\r\n" % (n, len(value), value)
            check_eq(got, want, f"replies before the close (round {n})")


CHUNKS = (1, 13, 1000, 16384, 70000, 300000)


def case_large_values_between_small_requests():
    rng = random.Random(11)
    srv = rctest.ServerProcess(["-m", "256", "-I", "2m", "-t", "2"], name="server -I 2m -t 2")
    with srv:
        scripts = []
        for c in range(8):
            script, want = [], []
            for i in range(24):
                key = b"lv%d:%d" % (c, i)
                size = rng.choice((3, 200, 17000, 40000, 100000, 700000, 1500000))
                value = bytes([65 + (c + i) % 26]) * size
                script.append(b"set %s 0 0 %d\r\n%s\r\n" % (key, size, value))
                want.append(b"STORED\r\n")
                script.append(b"get %s\r\n" % key)
                want.append(b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, size, value))
                script.append(b"mn\r\n")
                want.append(b"MN\r\n")
            scripts.append((b"".join(script), b"".join(want), False))
        rctest.check_replies(rctest.drive_scripts(srv.port, scripts, rng, CHUNKS), scripts)
        srv.check_serving("after the large values")


def case_connections_open_mid_stream():
    # 4 connections are half way through pipelined scripts when 8 more open (under io_uring,
    # the new ones are armed on the ring while the others' receives are live).
    rng = random.Random(23)
    srv = rctest.ServerProcess(["-t", "1", "-I", "2m", "-m", "256"], name="server -t 1")
    with srv:
        scripts = []
        for c in range(12):
            script, want = [], []
            for i in range(60):
                key = b"mv%d:%d" % (c, i)
                size = rng.choice((5, 300, 5000, 30000))
                value = bytes([97 + (c + i) % 26]) * size
                script.append(b"set %s 0 0 %d\r\n%s\r\nget %s\r\n" % (key, size, value, key))
                want.append(b"STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, size, value))
            scripts.append((b"".join(script), b"".join(want), False))
        results = rctest.drive_scripts(srv.port, scripts, rng, CHUNKS, late=8)
        rctest.check_replies(results, scripts)
        srv.check_serving("after the late connections")


def case_one_connection_streams_past_the_buffers():
    srv = rctest.ServerProcess(["-m", "128"], name="server -m 128")
    with srv:
        with srv.connect(timeout=30) as c:
            n, size = 8000, 4000
            body = b"".join(b"set st%d 0 0 %d noreply\r\n%s\r\n" % (i, size, b"%08d" % i * (size // 8))
                            for i in range(n))
            c.send(body + b"mn\r\n", timeout=30)
            got, ok = c.recv_until(b"MN\r\n", timeout=30)
            check(ok, "no MN after 32 MB of noreply sets")
            check_eq(got, b"MN\r\n", "replies to noreply sets")
            for i in list(range(0, n, 397)) + [n - 1]:
                check_eq(c.get(b"st%d" % i), b"%08d" % i * (size // 8), f"value of st{i}")


def case_more_connections_than_buffers():
    rng = random.Random(5)
    limit = rctest.raise_nofile(1000)  # before the server starts: it inherits the limit
    check(limit >= 400, f"open-file limit {limit} too low for 300 connections")
    srv = rctest.ServerProcess(["-t", "1"], name="server -t 1")
    with srv:
        scripts = []
        for c in range(300):
            script, want = [], []
            for i in range(5):
                key = b"mc%d:%d" % (c, i)
                value = b"m" * rng.choice((1, 100, 3000))
                script.append(b"set %s 0 0 %d\r\n%s\r\nget %s\r\n" % (key, len(value), value, key))
                want.append(b"STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(value), value))
            scripts.append((b"".join(script), b"".join(want), False))
        rctest.check_replies(rctest.drive_scripts(srv.port, scripts, rng, CHUNKS), scripts)


def case_connections_quit_inside_full_rounds():
    # More ready connections than a read round holds (Worker::kReadRoundMax, 64): a full round
    # runs inside the loop's read callbacks, and the connections that quit are deleted there,
    # while the loop still has other connections' events to deliver.
    limit = rctest.raise_nofile(1000)
    check(limit >= 400, f"open-file limit {limit} too low for 300 connections")
    srv = rctest.ServerProcess(["-t", "1"], name="server -t 1")
    with srv:
        with srv.connect() as c:
            check_eq(c.set("rk", b"v" * 10), "STORED", "set")
        for rnd in range(3):
            socks = [socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                     for _ in range(300)]
            try:
                time.sleep(0.1)  # every connection adopted before any sends
                # Stopped while the requests arrive, the server finds them all ready at once.
                os.kill(srv.proc.pid, signal.SIGSTOP)
                try:
                    for i, s in enumerate(socks):
                        s.sendall(b"get rk\r\n" + (b"quit\r\n" if i % 2 else b""))
                finally:
                    os.kill(srv.proc.pid, signal.SIGCONT)
                want = b"VALUE rk 0 10\r\n" + b"v" * 10 + b"\r\nEND\r\n"
                for i, s in enumerate(socks):
                    got = b""
                    while len(got) < len(want):
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                    check_eq(got, want, f"round {rnd}, connection {i}'s reply")
                    if i % 2:
                        check_eq(s.recv(4096), b"", f"round {rnd}, connection {i} closed on quit")
            finally:
                for s in socks:
                    s.close()
        srv.check_serving("after connections quit inside full read rounds")


def case_idle_connections_hold_little_memory():
    rctest.raise_nofile(1200)
    n = 1000
    srv = rctest.ServerProcess(["-t", "1", "-c", "1100"], name="server -t 1")
    with srv:
        with srv.connect() as warm:
            check_eq(warm.set("warm", b"w" * 32), "STORED", "warm-up set")
            check_eq(warm.get("warm"), b"w" * 32, "warm-up get")
        time.sleep(0.2)
        before = rctest.vm_rss_bytes(srv.proc.pid)
        conns = []
        try:
            for i in range(n):
                c = srv.connect()
                conns.append(c)
                check_eq(c.get("warm"), b"w" * 32, f"get on connection {i}")
            time.sleep(0.3)
            after = rctest.vm_rss_bytes(srv.proc.pid)
            # The buffers are lent while a connection has bytes in hand, not owned: the idle
            # ones hold none (memcached: its read buffer cache, also a handful).
            with srv.connect() as c:
                buffers = int(c.stats()["read_buf_count"])
            check(buffers <= 40, f"read_buf_count {buffers} with {n} idle connections")
        finally:
            for c in conns:
                c.close()
        check(before is not None and after is not None, "VmRSS unavailable")
        per_conn = (after - before) / n
        print(f"    ({n} idle connections: {per_conn:.0f} bytes of RSS each)")
        check(per_conn < 3072, f"{per_conn:.0f} bytes of RSS per idle connection, not under 3 KB")


def case_stop_with_connections_open():
    rctest.raise_nofile(1000)
    srv = rctest.ServerProcess(["-t", "1"], name="server -t 1")
    conns = []
    with srv:  # leaving the block stops the server and fails on a crash or a bad exit status
        try:
            for i in range(200):
                c = srv.connect()
                check_eq(c.set(f"open{i}", b"v"), "STORED", f"set on connection {i}")
                conns.append(c)
            srv.stop()
        finally:
            for c in conns:
                c.close()


def case_lone_client_among_idle_connections():
    for args in (["-t", "1"], []):
        srv = rctest.ServerProcess(args, name="server " + (" ".join(args) or "-t default"))
        with srv:
            idle = []
            try:
                for i in range(64):
                    c = srv.connect()
                    check_eq(c.set(f"idle{i}", b"v"), "STORED", f"set on idle connection {i}")
                    idle.append(c)
                with srv.connect() as c:
                    check_eq(c.set("lone", b"x" * 32), "STORED", "set on the lone connection")
                    rtts = []
                    for _ in range(200):
                        time.sleep(0.002)
                        start = time.monotonic()
                        check_eq(c.get("lone"), b"x" * 32, "get on the lone connection")
                        rtts.append(time.monotonic() - start)
                median_ms = statistics.median(rtts) * 1000
                print(f"    ({srv.name}: median round trip {median_ms:.3f} ms, "
                      f"max {max(rtts) * 1000:.3f} ms)")
                check(median_ms < 2.0, f"median round trip {median_ms:.3f} ms, not under 2 ms")
            finally:
                for c in idle:
                    c.close()


def main():
    r = rctest.Runner("receiving: backpressure, half-close, large values, streams", time_limit=150)
    r.case("a client that never reads its replies is not read without bound",
           case_unread_replies_are_bounded)
    r.case("requests before a half-close are answered", case_half_close_is_answered)
    r.case("large values between small requests, 8 connections, odd fragments",
           case_large_values_between_small_requests)
    r.case("connections open while others are half way through their requests",
           case_connections_open_mid_stream)
    r.case("one connection streams 32 MB of noreply sets", case_one_connection_streams_past_the_buffers)
    r.case("300 connections sending at once", case_more_connections_than_buffers)
    r.case("300 ready connections, half of them quitting: rounds of 64 run mid-callbacks",
           case_connections_quit_inside_full_rounds)
    r.case("1,000 idle connections hold little memory", case_idle_connections_hold_little_memory)
    r.case("the server stops cleanly with 200 connections open", case_stop_with_connections_open)
    r.case("a lone client among 64 idle connections is answered at once",
           case_lone_client_among_idle_connections)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
