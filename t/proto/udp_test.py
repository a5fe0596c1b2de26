#!/usr/bin/python3
# t/proto/udp_test.py -- the UDP listener (-U <port>), in the manner of memcached's t/udp.t
# (PROTOCOL.md section 7). Every expectation was recorded against stock memcached 1.6.18 first
# (RINGCACHED=/usr/bin/memcached).
#
# A UDP request is one datagram: an 8-byte frame header (request id, sequence number, datagram
# count, reserved; 16-bit big-endian) and one request, text or binary. A reply is framed the same
# way and split into datagrams of at most 1400 bytes, header included (memcached's
# UDP_MAX_PAYLOAD_SIZE), numbered 0..n-1 with the count n and the request id echoed.
#
# Cases: text set/get/incr/decr/delete; binary set/get/incr/decr/delete/noop; a 20 KB value (text
# and binary get) in several datagrams, frame headers checked and the value reassembled; a request
# whose frame says it spans two datagrams is ignored; noreply and quiet opcodes send no reply;
# datagrams shorter than 8 bytes and random bytes leave the server alive and TCP working; UDP and
# TCP share one cache; -U 0 (the default) opens no UDP socket at all.
#
# Not pinned (memcached artefacts, see the test report): memcached answers a datagram holding two
# text commands with two separately framed replies, and answers a silent request (quiet binary
# opcode, text quit) with an empty 8-byte frame whose count is 0.
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest   # noqa: E402
from rctest import Failure, check, check_eq, free_udp_port  # noqa: E402

FRAME = struct.Struct(">HHHH")
MAX_DATAGRAM = 1400  # bytes per reply datagram, frame header included
HEADER = struct.Struct(">BBHBBHIIQ")
SEED = 20240612


def bin_pkt(op, key=b"", ext=b"", val=b"", opaque=0, cas=0):
    body = ext + key + val
    return HEADER.pack(0x80, op, len(key), len(ext), 0, 0, len(body), opaque, cas) + body


def bin_parse(data):
    """[(op, status, opaque, cas, ext, key, val)] of the complete response packets in data."""
    out, pos = [], 0
    while len(data) - pos >= 24:
        magic, op, klen, elen, _dt, status, blen, opaque, cas = HEADER.unpack_from(data, pos)
        check_eq(magic, 0x81, "binary response magic")
        body = data[pos + 24:pos + 24 + blen]
        check_eq(len(body), blen, "binary response body length")
        out.append((op, status, opaque, cas, body[:elen], body[elen:elen + klen],
                    body[elen + klen:]))
        pos += 24 + blen
    check_eq(pos, len(data), "bytes after the last binary response")
    return out


class UdpClient:
    """A UDP socket talking to the server; every wait is bounded."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.next_id = random.Random(SEED).randrange(1, 30000)

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.send(data)

    def datagrams(self, first_wait=2.0, quiet=0.3, limit=200):
        """Datagrams arriving until `quiet` s pass without one (the first may take first_wait), or
        until a complete reply is in (every sequence number of one count)."""
        out = []
        self.sock.settimeout(first_wait)
        for _ in range(limit):
            try:
                out.append(self.sock.recv(65536))
            except socket.timeout:
                break
            if complete(out):
                break
            self.sock.settimeout(quiet)
        return out

    def drain(self):
        self.sock.settimeout(0.05)
        for _ in range(1000):
            try:
                self.sock.recv(65536)
            except socket.timeout:
                break

    def request(self, payload, *, seq=0, total=1, reserved=0, expect_reply=True):
        """Send one framed request; return (request id, reassembled reply) after checking every
        frame header. With expect_reply=False, waits briefly and returns the raw datagrams."""
        self.next_id = (self.next_id + 1) % 65536
        rid = self.next_id
        self.sock.send(FRAME.pack(rid, seq, total, reserved) + payload)
        if not expect_reply:
            self.sock.settimeout(0.3)
            try:
                return rid, [self.sock.recv(65536)]
            except socket.timeout:
                return rid, []
        got = self.datagrams()
        check(got, f"no reply to UDP request {payload[:40]!r}")
        return rid, reassemble(rid, got)


def complete(datagrams):
    """True once the datagrams hold sequence numbers 0..count-1 of one non-zero count."""
    frames = [FRAME.unpack_from(d) for d in datagrams if len(d) >= 8]
    frames = [f for f in frames if f[2] != 0]
    return bool(frames) and {f[1] for f in frames} == set(range(frames[-1][2]))


def reassemble(rid, datagrams):
    """The reply carried by `datagrams`, after checking their frame headers: request id echoed,
    one count for all, sequence numbers 0..count-1 each once, reserved 0, size <= 1400 bytes and
    full-size datagrams except the last. An empty frame with count 0 (what memcached sends for a
    silent request in the same datagram) is skipped."""
    parts = {}
    count = None
    for d in datagrams:
        check(len(d) >= 8, f"datagram of {len(d)} bytes has no frame header")
        r, seq, total, reserved = FRAME.unpack_from(d)
        check_eq(r, rid, "request id echoed in the frame")
        check_eq(reserved, 0, "frame reserved field")
        if total == 0 and seq == 0 and len(d) == 8:
            continue
        check(count is None or total == count, f"datagram count changes: {count} then {total}")
        count = total
        check(seq < total, f"sequence {seq} >= count {total}")
        check(seq not in parts, f"sequence number {seq} twice")
        check(len(d) <= MAX_DATAGRAM,
              f"datagram {seq} of {total} is {len(d)} bytes; memcached sends at most "
              f"{MAX_DATAGRAM} (its UDP_MAX_PAYLOAD_SIZE covers the 8-byte frame header)")
        parts[seq] = d[8:]
    check(count is not None, "only empty frames")
    check_eq(sorted(parts), list(range(count)), "sequence numbers received")
    for seq in range(count - 1):
        check_eq(len(parts[seq]) + 8, MAX_DATAGRAM, f"size of datagram {seq} of {count}")
    return b"".join(parts[s] for s in range(count))


def case_text(u):
    for payload, want in (
            (b"set foo 0 0 3\r\nbar\r\n", b"STORED\r\n"),
            (b"get foo\r\n", b"VALUE foo 0 3\r\nbar\r\nEND\r\n"),
            (b"gets nosuchkey\r\n", b"END\r\n"),
            (b"add foo 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
            (b"incr n 1\r\n", b"NOT_FOUND\r\n"),
            (b"set n 5 0 1\r\n9\r\n", b"STORED\r\n"),
            (b"incr n 1\r\n", b"10\r\n"),
            (b"decr n 3\r\n", b"7\r\n"),
            (b"decr n 100\r\n", b"0\r\n"),
            (b"get n\r\n", b"VALUE n 5 2\r\n0 \r\nEND\r\n"),
            (b"append foo 0 0 1\r\n!\r\n", b"STORED\r\n"),
            (b"get foo\r\n", b"VALUE foo 0 4\r\nbar!\r\nEND\r\n"),
            (b"delete n\r\n", b"DELETED\r\n"),
            (b"delete n\r\n", b"NOT_FOUND\r\n"),
            (b"get n\r\n", b"END\r\n"),
            (b"bogus\r\n", b"ERROR\r\n"),
            (b"version\r\n", b"VERSION 1.6.18\r\n")):
        _rid, reply = u.request(payload)
        check_eq(reply, want, f"UDP {payload!r}")


def case_binary(u):
    f0, e8 = bytes(4), bytes(8)
    _rid, r = u.request(bin_pkt(0x0a, opaque=7))
    check_eq(bin_parse(r), [(0x0a, 0, 7, 0, b"", b"", b"")], "binary Noop")
    _rid, r = u.request(bin_pkt(0x01, b"bk", struct.pack(">II", 3, 0), b"bv", opaque=8))
    (op, status, opaque, cas, ext, key, val), = bin_parse(r)
    check((op, status, opaque, ext, key, val) == (0x01, 0, 8, b"", b"", b"") and cas != 0,
          f"binary Set: {bin_parse(r)}")
    _rid, r = u.request(bin_pkt(0x00, b"bk", opaque=9))
    check_eq(bin_parse(r), [(0x00, 0, 9, cas, struct.pack(">I", 3), b"", b"bv")], "binary Get")
    _rid, r = u.request(bin_pkt(0x0c, b"nokey", opaque=10))
    check_eq(bin_parse(r), [(0x0c, 1, 10, 0, b"", b"nokey", b"")], "binary GetK miss")
    # Increment creating the counter, then again, then decrement below zero.
    for op, ext, want in ((0x05, struct.pack(">QQI", 1, 5, 0), 5),
                          (0x05, struct.pack(">QQI", 1, 5, 0), 6),
                          (0x06, struct.pack(">QQI", 10, 5, 0), 0)):
        _rid, r = u.request(bin_pkt(op, b"bn", ext, opaque=11))
        (rop, status, opaque, rcas, rext, rkey, rval), = bin_parse(r)
        check((rop, status, opaque, rext, rkey, rval) == (op, 0, 11, b"", b"",
                                                          struct.pack(">Q", want)) and rcas != 0,
              f"binary op 0x{op:02x}: {bin_parse(r)}")
    _rid, r = u.request(bin_pkt(0x06, b"nope", struct.pack(">QQI", 1, 0, 0xffffffff), opaque=12))
    check_eq(bin_parse(r), [(0x06, 1, 12, 0, b"", b"", b"Not found")], "binary Decrement miss")
    _rid, r = u.request(bin_pkt(0x04, b"bn", opaque=13))
    check_eq(bin_parse(r), [(0x04, 0, 13, 0, b"", b"", b"")], "binary Delete")
    _rid, r = u.request(bin_pkt(0x04, b"bn", opaque=14))
    check_eq(bin_parse(r), [(0x04, 1, 14, 0, b"", b"", b"Not found")], "binary Delete miss")
    _rid, r = u.request(bin_pkt(0x0b, opaque=15))
    check_eq(bin_parse(r), [(0x0b, 0, 15, 0, b"", b"", b"1.6.18")], "binary Version")
    # A bad shape is answered like on TCP ("close" means nothing for a datagram).
    _rid, r = u.request(bin_pkt(0x01, b"k", b"", b"v", opaque=16))
    check_eq(bin_parse(r), [(0x01, 4, 16, 0, b"", b"", b"Invalid arguments")], "binary bad Set")
    # A quiet miss is silent; the Noop after it in the same datagram answers.
    _rid, r = u.request(bin_pkt(0x09, b"nokey", opaque=17) + bin_pkt(0x0a, opaque=18))
    check_eq(bin_parse(r), [(0x0a, 0, 18, 0, b"", b"", b"")], "binary GetQ miss + Noop")
    _rid, r = u.request(bin_pkt(0x01, b"e", e8, b"", opaque=19))
    check_eq(bin_parse(r)[0][:3], (0x01, 0, 19), "binary Set of an empty value")
    _rid, r = u.request(bin_pkt(0x00, b"e", opaque=20))
    got = bin_parse(r)
    check(len(got) == 1 and got[0][:3] == (0x00, 0, 20) and got[0][4:] == (f0, b"", b""),
          f"binary Get of an empty value: {got}")


def case_big_value(u, srv):
    big = bytes((i * 7 + i // 251) % 256 for i in range(20000))
    with srv.connect() as c:
        check_eq(c.set("big", big, flags=42), "STORED", "TCP set of 20 KB")
    rid, reply = u.request(b"get big\r\n")
    want = b"VALUE big 42 20000\r\n" + big + b"\r\nEND\r\n"
    check_eq(len(reply), len(want), "20 KB text reply length")
    check(reply == want, "20 KB value read over UDP differs from what was stored")
    _rid, reply = u.request(bin_pkt(0x00, b"big", opaque=5))
    got = bin_parse(reply)
    check_eq(len(got), 1, "binary Get of 20 KB: responses")
    check(got[0][:3] == (0x00, 0, 5) and got[0][4] == struct.pack(">I", 42) and got[0][6] == big,
          f"binary Get of 20 KB over UDP: {got[0][:5]}, {len(got[0][6])} bytes")
    # Datagram count as memcached computes it: ceil(reply / 1392).
    u.sock.send(FRAME.pack(77, 0, 1, 0) + b"get big\r\n")
    dgrams = u.datagrams()
    check_eq(len(dgrams), (len(want) + MAX_DATAGRAM - 8 - 1) // (MAX_DATAGRAM - 8),
             "datagrams for a 20 KB reply")
    check_eq(reassemble(77, dgrams), want, "reassembled again")


def case_multi_datagram_request(u):
    # memcached serves only requests that fit one datagram: a frame whose count is not 1 is
    # dropped unanswered (its sequence number is not looked at).
    for seq, total in ((0, 2), (1, 2), (0, 0), (3, 7)):
        _rid, got = u.request(b"set md 0 0 1\r\nx\r\n", seq=seq, total=total, expect_reply=False)
        check_eq(got, [], f"request framed as {seq} of {total}")
    _rid, reply = u.request(b"get md\r\n")
    check_eq(reply, b"END\r\n", "nothing was stored by the dropped requests")
    _rid, reply = u.request(b"get foo\r\n", reserved=0x1234)
    check_eq(reply, b"VALUE foo 0 4\r\nbar!\r\nEND\r\n", "a non-zero reserved field is ignored")
    _rid, reply = u.request(b"get foo\r\n", seq=1, total=1)
    check_eq(reply, b"VALUE foo 0 4\r\nbar!\r\nEND\r\n", "sequence 1 of 1 is served")


def case_noreply(u):
    _rid, got = u.request(b"set nr 0 0 2 noreply\r\nnr\r\n", expect_reply=False)
    check_eq(got, [], "set noreply over UDP")
    _rid, got = u.request(b"incr nr_missing 1 noreply\r\n", expect_reply=False)
    check_eq(got, [], "incr noreply (a miss) over UDP")
    _rid, reply = u.request(b"get nr\r\n")
    check_eq(reply, b"VALUE nr 0 2\r\nnr\r\nEND\r\n", "value stored by set noreply")
    # Quiet binary opcodes: no reply carrying data. memcached sends an empty frame (count 0).
    for what, payload in (("SetQ", bin_pkt(0x11, b"q", bytes(8), b"qv")),
                          ("GetQ miss", bin_pkt(0x09, b"nokey")),
                          ("DeleteQ", bin_pkt(0x14, b"q"))):
        rid, got = u.request(payload, expect_reply=False)
        for d in got:
            check_eq(d, FRAME.pack(rid, 0, 0, 0), f"{what} over UDP: only an empty frame may come")
    _rid, reply = u.request(b"get q\r\n")
    check_eq(reply, b"END\r\n", "DeleteQ over UDP deleted what SetQ stored")


def case_garbage(u, srv):
    rng = random.Random(SEED)
    for n in range(8):  # too short to hold a frame header
        u.send_raw(bytes(rng.randrange(256) for _ in range(n)))
    for n in (8, 9, 50, 1400, 9000):
        u.send_raw(bytes(rng.randrange(256) for _ in range(n)))
    for _ in range(30):  # a valid frame around random text and random binary packets
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        u.send_raw(FRAME.pack(rng.randrange(65536), 0, 1, 0) + body)
        # Binary packets whose body length matches what is there (memcached keeps a request's
        # unfinished state -- a value still to read, bytes to swallow -- from one datagram to the
        # next on the worker that read it, so a longer announced body would eat later requests).
        op = rng.randrange(256)
        klen = rng.randrange(len(body) + 1)
        elen = rng.choice((0, 4, 8, 20, rng.randrange(256)))
        header = HEADER.pack(0x80, op, klen, elen, rng.randrange(2), rng.randrange(65536),
                             len(body), rng.randrange(2**32), rng.randrange(2**64))
        u.send_raw(FRAME.pack(rng.randrange(65536), 0, 1, 0) + header + body)
    for payload in (b"get " + b"k" * 300 + b"\r\n", b"set x 0 0 -1\r\n", b"get foo", b"\r\n",
                    b"quit\r\n", b"shutdown\r\n", b"get " + b"a " * 5000 + b"\r\n",
                    b"\x80" + bytes(23)):
        u.send_raw(FRAME.pack(99, 0, 1, 0) + payload)
    time.sleep(0.3)
    u.drain()
    srv.assert_alive("after garbage datagrams")
    srv.check_serving("TCP after garbage datagrams")
    _rid, reply = u.request(b"get foo\r\n")
    check_eq(reply, b"VALUE foo 0 4\r\nbar!\r\nEND\r\n", "UDP get after garbage")


def case_shared_cache(u, srv):
    with srv.connect() as c:
        check_eq(c.set("shared", b"via tcp"), "STORED", "TCP set")
        _rid, reply = u.request(b"get shared\r\n")
        check_eq(reply, b"VALUE shared 0 7\r\nvia tcp\r\nEND\r\n", "UDP get of a TCP set")
        _rid, reply = u.request(b"set shared 3 0 7\r\nvia udp\r\n")
        check_eq(reply, b"STORED\r\n", "UDP set")
        check_eq(c.get_multi(["shared"]), {"shared": (3, b"via udp")}, "TCP get of a UDP set")
        check_eq(c.stats("settings")["udpport"], str(srv.udp_port), "stats settings udpport")


def udp_socket_count(pid):
    """How many UDP sockets (IPv4 or IPv6) process `pid` holds, via /proc."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                found += sum(1 for line in f if line.split()[9] in inodes)
        except OSError:
            pass
    return found


def case_no_udp_by_default():
    if not os.path.isdir("/proc/self/fd"):
        raise rctest.Skip("no /proc")
    for args in ([], ["-U", "0"]):
        with rctest.ServerProcess(args, name=f"server {' '.join(args) or '(no -U)'}") as srv:
            check_eq(udp_socket_count(srv.pid), 0, f"UDP sockets with {args or 'no -U'}")
            with srv.connect() as c:
                check_eq(c.stats("settings")["udpport"], "0", "stats settings udpport")


def main():
    runner = rctest.Runner("UDP (-U): framing, text and binary, limits", time_limit=120)
    udp_port = None
    srv = None
    for _attempt in range(3):  # the UDP port found free may be taken before the server binds it
        udp_port = free_udp_port()
        # One worker thread: all workers read the UDP socket (as in memcached), and with several a
        # datagram may overtake the one sent before it; the cases below depend on order.
        srv = rctest.ServerProcess(["-U", str(udp_port), "-t", "1"], name="server")
        try:
            srv.start()
            break
        except Failure as e:
            if "bind" not in str(e).lower():
                raise
            srv = None
    if srv is None:
        raise Failure("could not start the server with a free UDP port")
    srv.udp_port = udp_port
    u = UdpClient(udp_port)
    try:
        with srv:
            # /proc can lag a moment behind a busy machine: look a few times.
            deadline = time.monotonic() + 2
            while udp_socket_count(srv.pid) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            check(udp_socket_count(srv.pid) >= 1 or not os.path.isdir("/proc/self/fd"),
                  "the server holds no UDP socket with -U")
            for name, fn in (("text commands over UDP", lambda: case_text(u)),
                             ("binary commands over UDP", lambda: case_binary(u)),
                             ("20 KB value in several datagrams", lambda: case_big_value(u, srv)),
                             ("multi-datagram requests are ignored",
                              lambda: case_multi_datagram_request(u)),
                             ("noreply and quiet opcodes over UDP", lambda: case_noreply(u)),
                             ("UDP and TCP share one cache", lambda: case_shared_cache(u, srv)),
                             ("garbage datagrams", lambda: case_garbage(u, srv))):
                u.drain()  # a failed case must not leave replies for the next one
                runner.case(name, fn)
                if not srv.alive():
                    runner.fail(f"server alive after: {name}", srv.output())
                    break
    finally:
        u.close()
    runner.case("no UDP socket without -U or with -U 0", case_no_udp_by_default)
    runner.finish()


if __name__ == "__main__":
    rctest.main(main)
