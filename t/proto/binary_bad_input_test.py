#!/usr/bin/python3
# t/proto/binary_bad_input_test.py -- malformed and edge-case binary-protocol packets, and the exact
# responses memcached 1.6.18 gives them (PROTOCOL.md section 5; memcached proto_bin.c
# dispatch_bin_command, t/binary.t, t/issue_50.t). Every expectation below was recorded by running
# this script against stock memcached (RINGCACHED=/usr/bin/memcached) first.
#
# Each table case opens a fresh connection, sends the packet(s) followed by a marker Noop (opaque
# MARK) and reads until the marker's reply arrives or the server closes; the decoded responses
# (opcode, status, opaque, CAS, extras, key, value) must equal memcached's, and so must whether the
# connection was closed. Groups:
#   * shape errors: wrong extras/key/body for a known opcode, key > 250 bytes -> 0x0004 "Invalid
#     arguments" and close; keylen + extlen > bodylen -> 0x0081 "Unknown command" and close;
#   * unknown opcodes (every opcode memcached does not serve, incl. SASL 0x20-0x22 without SASL and
#     the range ops 0x30-0x3c) -> 0x0081, body swallowed, connection open;
#   * memcached's quirks, which a drop-in reproduces byte for byte (see QUIRKS);
#   * bad magic, -B binary with ASCII input (t/issue_50.t), -B ascii with 0x80, values cut off by a
#     disconnect, flush with -F;
#   * semantics: quiet variants suppress exactly what memcached suppresses, opaque is echoed, CAS on
#     every response as memcached sets it, the CAS rules of Set/Add/Replace/Append/Delete/Incr,
#     unsigned binary exptimes, flush with a delay;
#   * Stat with each sub-key (general, settings, items, slabs, sizes, detail on/off/dump, reset,
#     unknown -> 0x0001).
import os
import struct
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import Failure, check, check_eq  # noqa: E402

HEADER = struct.Struct(">BBHBBHIIQ")
MARK = 0x4D41524B  # opaque of the trailing Noop ("MARK")

# Opcodes (PROTOCOL.md section 5).
GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION = range(0x0c)
GETK, GETKQ, APPEND, PREPEND, STAT, SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, \
    APPENDQ, PREPENDQ = range(0x0c, 0x1b)
TOUCH, GAT, GATQ, GATK, GATKQ = 0x1c, 0x1d, 0x1e, 0x23, 0x24
SASL_LIST, SASL_AUTH, SASL_STEP = 0x20, 0x21, 0x22
KNOWN = {GET, SET, ADD, REPLACE, DELETE, INCR, DECR, QUIT, FLUSH, GETQ, NOOP, VERSION, GETK, GETKQ,
         APPEND, PREPEND, STAT, SETQ, ADDQ, REPLACEQ, DELETEQ, INCRQ, DECRQ, QUITQ, FLUSHQ, APPENDQ,
         PREPENDQ, TOUCH, GAT, GATQ, GATK, GATKQ, SASL_LIST, SASL_AUTH, SASL_STEP}

STATUS_TEXT = {0x0001: b"Not found", 0x0002: b"Data exists for key.", 0x0003: b"Too large.",
               0x0004: b"Invalid arguments", 0x0005: b"Not stored.",
               0x0006: b"Non-numeric server-side value for incr or decr",
               0x0020: b"Auth failure.", 0x0081: b"Unknown command"}

E8 = struct.pack(">II", 0, 0)  # flags 0, exptime 0


def pkt(op, key=b"", ext=b"", val=b"", *, opaque=0, cas=0, magic=0x80, keylen=None, extlen=None,
        bodylen=None, datatype=0, vbucket=0):
    """A request packet; keylen/extlen/bodylen override the header's lengths (to lie)."""
    body = ext + key + val
    return HEADER.pack(magic, op, len(key) if keylen is None else keylen,
                       len(ext) if extlen is None else extlen, datatype, vbucket,
                       len(body) if bodylen is None else bodylen, opaque, cas) + body


def incr_ext(delta=1, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


def noop(opaque=MARK):
    return pkt(NOOP, opaque=opaque)


class Res(tuple):
    """One response: (op, status, opaque, cas, ext, key, val), with magic/datatype checked."""
    __slots__ = ()

    def __new__(cls, op, status, opaque, cas, ext=b"", key=b"", val=b""):
        return tuple.__new__(cls, (op, status, opaque, cas, ext, key, val))

    def __repr__(self):
        op, status, opaque, cas, ext, key, val = self
        shown = val if len(val) <= 60 else val[:50] + b"...<%d bytes>" % len(val)
        return (f"Res(op=0x{op:02x} status=0x{status:04x} opaque=0x{opaque:x} cas={cas} "
                f"ext={ext.hex() or '-'} key={key!r} val={shown!r})")

    op = property(lambda s: s[0])
    status = property(lambda s: s[1])
    opaque = property(lambda s: s[2])
    cas = property(lambda s: s[3])
    ext = property(lambda s: s[4])
    key = property(lambda s: s[5])
    val = property(lambda s: s[6])


def ok(op, opaque=0, cas=0, ext=b"", key=b"", val=b""):
    return Res(op, 0, opaque, cas, ext, key, val)


def err(op, status, opaque=0):
    return Res(op, status, opaque, 0, b"", b"", STATUS_TEXT[status])


def parse(data):
    """(list of Res, leftover bytes). Raises Failure on a bad magic or data type."""
    out, pos = [], 0
    while len(data) - pos >= 24:
        magic, op, klen, elen, dtype, status, blen, opaque, cas = HEADER.unpack_from(data, pos)
        if magic != 0x81 or dtype != 0:
            raise Failure(f"not a binary response at byte {pos}: {data[pos:pos + 24].hex()}")
        if len(data) - pos < 24 + blen:
            break
        body = data[pos + 24:pos + 24 + blen]
        out.append(Res(op, status, opaque, cas, body[:elen], body[elen:elen + klen],
                       body[elen + klen:]))
        pos += 24 + blen
    return out, data[pos:]


def exchange(srv, data, *, marker=True, timeout=3.0):
    """Send `data` (plus the marker Noop) on a new connection; read until the marker's reply, a
    close, or `timeout`. Returns (responses, closed)."""
    c = srv.connect()
    try:
        try:
            c.send(data + (noop() if marker else b""))
        except ConnectionError:
            pass  # closed while we were still sending; what arrived before is in c.buf
        deadline = time.monotonic() + timeout
        while True:
            res, rest = parse(bytes(c.buf))
            if marker and res and res[-1].op == NOOP and res[-1].opaque == MARK:
                return res, False
            if c.closed or time.monotonic() >= deadline:
                break
            c.fill(min(0.2, deadline - time.monotonic()))
        if not c.closed:
            c.wait_closed(0.3 if marker else timeout)
        res, rest = parse(bytes(c.buf))
        if rest:
            raise Failure(f"{len(rest)} trailing bytes, no complete response: {rest[:40]!r}")
        return res, c.closed
    finally:
        c.close()


def expect(srv, name, data, want, closes):
    """One table case: the responses must equal `want` (the marker Noop's reply is appended when
    the connection stays open) and the close must match."""
    got, closed = exchange(srv, data)
    full = list(want) + ([] if closes else [ok(NOOP, MARK)])
    if closed != closes or got != full:
        raise Failure(f"{name}: sent {data[:64].hex()}{'...' if len(data) > 64 else ''}\n"
                      f"  expected {'close' if closes else 'open'}: {full}\n"
                      f"  got      {'close' if closed else 'open'}: {got}")


# --- shape errors: 0x0004 "Invalid arguments" + close ---------------------------------------------
def shape_error_cases():
    e20 = incr_ext()
    k251 = b"k" * 251
    raw = [
        ("Set without extras", SET, dict(key=b"k", val=b"v")),
        ("Set with 4 bytes of extras", SET, dict(key=b"k", ext=bytes(4), val=b"v")),
        ("Set with 12 bytes of extras", SET, dict(key=b"k", ext=bytes(12), val=b"v")),
        ("Set without key", SET, dict(ext=E8, val=b"v")),
        ("SetQ without extras", SETQ, dict(key=b"k", val=b"v")),
        ("Add without extras", ADD, dict(key=b"k", val=b"v")),
        ("Replace without extras", REPLACE, dict(key=b"k", val=b"v")),
        ("ReplaceQ without key", REPLACEQ, dict(ext=E8)),
        ("Get with extras", GET, dict(key=b"k", ext=bytes(4))),
        ("Get with a value", GET, dict(key=b"k", val=b"vv")),
        ("Get without key", GET, {}),
        ("GetQ without key", GETQ, {}),
        ("GetK with extras", GETK, dict(key=b"k", ext=bytes(4))),
        ("GetKQ with a value", GETKQ, dict(key=b"k", val=b"v")),
        ("Delete with extras", DELETE, dict(key=b"k", ext=bytes(4))),
        ("Delete with a value", DELETE, dict(key=b"k", val=b"x")),
        ("Delete without key", DELETE, {}),
        ("DeleteQ without key", DELETEQ, {}),
        ("Increment without extras", INCR, dict(key=b"k")),
        ("Increment with 8 bytes of extras", INCR, dict(key=b"k", ext=bytes(8))),
        ("Increment with a value", INCR, dict(key=b"k", ext=e20, val=b"x")),
        ("Increment without key", INCR, dict(ext=e20)),
        ("Decrement without extras", DECR, dict(key=b"k")),
        ("DecrementQ with 21 bytes of extras", DECRQ, dict(key=b"k", ext=bytes(21))),
        ("Quit with a key", QUIT, dict(key=b"k")),
        ("Quit with extras", QUIT, dict(ext=bytes(4))),
        ("QuitQ with a key", QUITQ, dict(key=b"k")),
        ("Flush with 8 bytes of extras", FLUSH, dict(ext=bytes(8))),
        ("Flush with 2 bytes of extras", FLUSH, dict(ext=bytes(2))),
        ("Flush with a key", FLUSH, dict(key=b"k")),
        ("Flush with a value", FLUSH, dict(val=b"x")),
        ("FlushQ with a value", FLUSHQ, dict(ext=bytes(4), val=b"x")),
        ("Noop with a key", NOOP, dict(key=b"k")),
        ("Noop with a value", NOOP, dict(val=b"x")),
        ("Noop with extras", NOOP, dict(ext=bytes(4))),
        ("Version with a value", VERSION, dict(val=b"x")),
        ("Version with a key", VERSION, dict(key=b"k")),
        ("Append with extras", APPEND, dict(key=b"k", ext=E8, val=b"v")),
        ("Append without key", APPEND, dict(val=b"v")),
        ("Prepend with extras", PREPEND, dict(key=b"k", ext=bytes(4), val=b"v")),
        ("AppendQ without key", APPENDQ, dict(val=b"v")),
        ("Stat with extras", STAT, dict(ext=bytes(4))),
        ("Touch without extras", TOUCH, dict(key=b"k")),
        ("Touch with 8 bytes of extras", TOUCH, dict(key=b"k", ext=bytes(8))),
        ("Touch without key", TOUCH, dict(ext=bytes(4))),
        ("GAT without extras", GAT, dict(key=b"k")),
        ("GATQ without extras", GATQ, dict(key=b"k")),
        ("GATK without extras", GATK, dict(key=b"k")),
        ("GATKQ without key", GATKQ, dict(ext=bytes(4))),
        ("SASL list mechs with a body", SASL_LIST, dict(val=b"xy")),
        ("SASL auth without key", SASL_AUTH, dict(val=b"data")),
        ("SASL step with extras", SASL_STEP, dict(key=b"PLAIN", ext=bytes(4), val=b"x")),
        # Key length > 250 (KEY_MAX_LENGTH), checked before the opcode -- even an unknown one.
        ("Get with a 251-byte key", GET, dict(key=k251)),
        ("GetKQ with a 251-byte key", GETKQ, dict(key=k251)),
        ("Set with a 251-byte key", SET, dict(key=k251, ext=E8, val=b"v")),
        ("Add with a 251-byte key", ADD, dict(key=k251, ext=E8, val=b"v")),
        ("Delete with a 251-byte key", DELETE, dict(key=k251)),
        ("Increment with a 251-byte key", INCR, dict(key=k251, ext=e20)),
        ("Append with a 251-byte key", APPEND, dict(key=k251, val=b"v")),
        ("Touch with a 251-byte key", TOUCH, dict(key=k251, ext=bytes(4))),
        ("GATK with a 251-byte key", GATK, dict(key=k251, ext=bytes(4))),
        ("Stat with a 251-byte key", STAT, dict(key=k251)),
        ("unknown 0x44 with a 251-byte key", 0x44, dict(key=k251)),
        ("Get with a 1000-byte key", GET, dict(key=b"k" * 1000)),
    ]
    for i, (name, op, kw) in enumerate(raw):
        opaque = 0x1000 + i
        yield name, pkt(op, opaque=opaque, **kw), [err(op, 0x0004, opaque)], True


# --- keylen + extlen > bodylen: 0x0081 + close ---------------------------------------------------
def bad_length_cases():
    raw = [
        ("Get: keylen > bodylen", GET, dict(key=b"k", bodylen=0)),
        ("Set: keylen + extlen > bodylen", SET, dict(key=b"k", ext=E8, bodylen=8)),
        ("Get: extlen > bodylen", GET, dict(ext=bytes(4), bodylen=2)),
        ("Noop: extlen > bodylen", NOOP, dict(ext=bytes(1), bodylen=0)),
        ("unknown 0x44: keylen > bodylen", 0x44, dict(key=b"kk", bodylen=1)),
        ("SASL auth: keylen > bodylen", SASL_AUTH, dict(key=b"PLAIN", bodylen=2)),
        ("Get: 251-byte key, bodylen 0 (length check comes first)", GET,
         dict(key=b"k" * 251, bodylen=0)),
    ]
    for i, (name, op, kw) in enumerate(raw):
        opaque = 0x2000 + i
        yield name, pkt(op, opaque=opaque, **kw), [err(op, 0x0081, opaque)], True


# --- unknown opcodes: 0x0081, body swallowed, connection open -----------------------------------
def unknown_opcode_cases():
    for op in range(256):
        if op in KNOWN:
            continue
        opaque = 0x3000 + op
        # Value-only bodies: memcached swallows exactly `bodylen` bytes after the key and extras,
        # which is the whole body only when there are none (see QUIRKS for the other case).
        yield (f"unknown opcode 0x{op:02x}", pkt(op, val=b"body-%02x" % op, opaque=opaque),
               [err(op, 0x0081, opaque)], False)
    yield ("unknown opcode 0x30 (range get) with a 4 KB body", pkt(0x30, val=bytes(4096), opaque=7),
           [err(0x30, 0x0081, 7)], False)
    yield "unknown opcode 0xff, no body", pkt(0xff, opaque=8), [err(0xff, 0x0081, 8)], False
    # SASL without -S: "Unknown command" and the data (bodylen - keylen) swallowed.
    yield ("SASL list mechs (0x20)", pkt(SASL_LIST, opaque=0x20),
           [err(SASL_LIST, 0x0081, 0x20)], False)
    yield ("SASL auth (0x21) PLAIN", pkt(SASL_AUTH, b"PLAIN", val=b"\0user\0pass", opaque=0x21),
           [err(SASL_AUTH, 0x0081, 0x21)], False)
    yield ("SASL step (0x22)", pkt(SASL_STEP, b"PLAIN", val=b"x" * 300, opaque=0x22),
           [err(SASL_STEP, 0x0081, 0x22)], False)
    yield ("SASL auth (0x21) key only", pkt(SASL_AUTH, b"PLAIN", opaque=0x23),
           [err(SASL_AUTH, 0x0081, 0x23)], False)
    # Header fields memcached ignores: data type and vbucket.
    yield "Noop with data type 1", pkt(NOOP, datatype=1, opaque=9), [ok(NOOP, 9)], False
    yield "Noop with vbucket 5", pkt(NOOP, vbucket=5, opaque=10), [ok(NOOP, 10)], False
    yield ("Version with a CAS", pkt(VERSION, cas=77, opaque=11),
           [ok(VERSION, 11, val=b"1.6.18")], False)


# --- memcached's quirks --------------------------------------------------------------------------
# proto_bin.c consumes header + extras + key before it dispatches, and then:
#   * for an unknown opcode swallows `bodylen` more bytes -- extlen + keylen bytes too many, eating
#     the start of the next packet;
#   * Touch/GAT/GATK(Q) check only extlen == 4 and keylen != 0, and Stat only extlen == 0: a value
#     is not an error, its bytes are read as the next packet;
#   * Stat matches sub-keys by prefix (strncmp): "resetxyz" is reset, "settingsxyz" is settings;
#   * Stat sizes_enable / sizes_disable answer one packet and no terminator;
#   * Stat "detail dump" names its packet "detailed".
# Recorded from memcached 1.6.18; a drop-in reproduces them.
def quirk_cases():
    inner = pkt(NOOP, opaque=0x51)  # a whole Noop carried as a "value"
    yield ("unknown 0x44 with key: swallows keylen bytes of what follows",
           pkt(0x44, b"k", val=b"v", opaque=0x40) + b"P", [err(0x44, 0x0081, 0x40)], False)
    yield ("unknown 0x30 with 4 bytes of extras: swallows 4 bytes of what follows",
           pkt(0x30, ext=bytes(4), val=b"v", opaque=0x41) + b"PPPP", [err(0x30, 0x0081, 0x41)],
           False)
    yield ("Touch miss with a value: the value is the next packet",
           pkt(TOUCH, b"q_nokey", bytes(4), inner, opaque=0x42),
           [err(TOUCH, 0x0001, 0x42), ok(NOOP, 0x51)], False)
    yield ("GAT miss with a value: the value is the next packet",
           pkt(GAT, b"q_nokey", bytes(4), inner, opaque=0x43),
           [err(GAT, 0x0001, 0x43), ok(NOOP, 0x51)], False)
    yield ("GATKQ miss with a value: the value is the next packet",
           pkt(GATKQ, b"q_nokey", bytes(4), inner, opaque=0x44), [ok(NOOP, 0x51)], False)
    yield ("Stat 'detail off' with a value: the value is the next packet",
           pkt(STAT, b"detail off", val=inner, opaque=0x45), [ok(STAT, 0x45), ok(NOOP, 0x51)],
           False)
    yield ("Stat 'resetxyz' is reset (prefix match)", pkt(STAT, b"resetxyz", opaque=0x46),
           [ok(STAT, 0x46)], False)
    yield ("Stat 'detail offxyz' is detail off (prefix match)",
           pkt(STAT, b"detail offxyz", opaque=0x47), [ok(STAT, 0x47)], False)
    yield ("Stat sizes_enable: one packet, no terminator", pkt(STAT, b"sizes_enable", opaque=0x48),
           [ok(STAT, 0x48, key=b"sizes_status", val=b"enabled")], False)
    yield ("Stat sizes_disable: one packet, no terminator",
           pkt(STAT, b"sizes_disable", opaque=0x49),
           [ok(STAT, 0x49, key=b"sizes_status", val=b"disabled")], False)


def case_table(srv, cases):
    failures = []
    n = 0
    for name, data, want, closes in cases:
        n += 1
        try:
            expect(srv, name, data, want, closes)
        except Failure as e:
            failures.append(str(e))
        srv.assert_alive(name)
    if failures:
        raise Failure(f"{len(failures)} of {n} cases differ:\n" + "\n".join(failures))
    print(f"    ({n} cases)")


# --- other malformed input -----------------------------------------------------------------------
def case_bad_magic(srv):
    # Mid-stream: the replies already due are sent, then the connection closes ("Invalid magic").
    # A Noop forces memcached to write its reply before it reads on.
    for magic in (0x81, 0x00, 0x7f, 0xff):
        got, closed = exchange(srv, noop(0x61) + pkt(NOOP, magic=magic, opaque=0x62), marker=False)
        check(closed, f"magic 0x{magic:02x} mid-stream: connection not closed")
        check_eq(got, [ok(NOOP, 0x61)], f"magic 0x{magic:02x} mid-stream: replies")
    got, closed = exchange(srv, pkt(GET, b"q_nokey", opaque=0x63) + bytes(24), marker=False)
    check(closed, "Get miss then 24 zero bytes: connection not closed")
    check_eq(got, [err(GET, 0x0001, 0x63)], "Get miss then 24 zero bytes: replies")


def case_issue_50():
    # memcached t/issue_50.t: -B binary and ASCII input must not hang: no reply, closed at once.
    with rctest.ServerProcess(["-B", "binary"], name="server -B binary") as srv:
        c = srv.connect()
        c.send(b"Here's a bunch of garbage that doesn't look like the bin prot.")
        check(c.wait_closed(2.0), "-B binary with ASCII garbage: connection not closed in 2 s")
        check_eq(bytes(c.buf), b"", "-B binary with ASCII garbage: reply")
        c.close()
        # A text command is no exception; binary still works on a new connection.
        got, closed = exchange(srv, b"version\r\nversion\r\nversion\r\n", marker=False)
        check(closed and got == [], f"-B binary, 'version' x3: {got} closed={closed}")
        got, closed = exchange(srv, pkt(VERSION, opaque=3))
        check_eq((got, closed), ([ok(VERSION, 3, val=b"1.6.18"), ok(NOOP, MARK)], False),
                 "-B binary: Version")
        srv.assert_alive("-B binary")


def case_ascii_only():
    # -B ascii: 0x80 is just a byte of a text line. A Noop packet holds a '\n' (opcode 0x0a) at
    # offset 1, so "\x80\n" is a line (ERROR) and the rest waits for its own newline.
    with rctest.ServerProcess(["-B", "ascii"], name="server -B ascii") as srv:
        c = srv.connect()
        c.send(pkt(NOOP, opaque=5))
        check_eq(c.read_line(), b"ERROR", "-B ascii, binary Noop")
        c.send(b"\r\nversion\r\n")
        check_eq(c.read_line(), b"ERROR", "-B ascii, rest of the Noop packet")
        check_eq(c.read_line(), b"VERSION 1.6.18", "-B ascii, version after binary bytes")
        c.close()
        c = srv.connect()
        c.send(b"\x80get foo\r\n")
        check_eq(c.read_line(), b"ERROR", "-B ascii, '\\x80get foo'")
        c.close()
        srv.check_serving("-B ascii")


def case_truncated_by_disconnect(srv):
    # A request cut off by the client's close: nothing is stored, the old value stays.
    with srv.connect() as c:
        check_eq(c.set("trunc", b"old"), "STORED", "set trunc")
    for size in (1000, 300000):
        full = pkt(SET, b"trunc", E8, b"N" * size, opaque=1)
        for cut in (1, 10, 23, 24, 24 + 8, 24 + 8 + 5, 24 + 8 + 5 + size // 2, len(full) - 1):
            c = srv.connect()
            c.send(full[:cut])
            c.close_graceful(1.0)
            srv.assert_alive(f"set cut at {cut} of {len(full)}")
            with srv.connect() as d:
                check_eq(d.get("trunc"), b"old", f"after a Set cut at byte {cut} of {len(full)}")
    # A complete Set followed by a truncated one on the same connection: the first is stored.
    c = srv.connect()
    c.send(pkt(SETQ, b"trunc2", E8, b"first") + pkt(SET, b"trunc2", E8, b"second")[:30])
    c.close_graceful(1.0)
    with srv.connect() as d:
        check_eq(d.get("trunc2"), b"first", "SetQ then a truncated Set")
    srv.check_serving("truncated values")


def case_flush_disabled():
    # -F: Flush and FlushQ answer 0x0020 "Auth failure."; the connection stays open.
    with rctest.ServerProcess(["-F"], name="server -F") as srv:
        got, closed = exchange(srv, pkt(FLUSH, opaque=1) + pkt(FLUSHQ, opaque=2)
                               + pkt(FLUSH, ext=struct.pack(">I", 1), opaque=3))
        check_eq((got, closed), ([err(FLUSH, 0x0020, 1), err(FLUSHQ, 0x0020, 2),
                                  err(FLUSH, 0x0020, 3), ok(NOOP, MARK)], False), "-F flush")


# --- semantics on one connection ------------------------------------------------------------------
class Session:
    """A binary conversation on one connection. step() sends packets and compares the responses,
    in which a CAS may be given as 0, "new:NAME" (non-zero, different from every CAS seen so far,
    remembered as NAME) or "=NAME" (equal to a remembered one). A mismatch is recorded and the
    conversation goes on (each step ends with the marker Noop, so the stream stays in sync);
    finish() raises them all."""

    def __init__(self, srv):
        self.conn = srv.connect()
        self.cas = {}
        self.seen = set()
        self.errors = []

    def step(self, what, data, want):
        self.conn.send(data + noop())
        raw, done = self.conn.recv_until(
            lambda b: (lambda r: bool(r) and r[-1].op == NOOP and r[-1].opaque == MARK)(
                parse(bytes(b))[0]), timeout=5.0)
        got, rest = parse(raw)
        if not done or rest:
            raise Failure("\n".join(self.errors + [
                f"{what}: no complete reply ({'closed' if self.conn.closed else 'timeout'}; "
                f"got {got}, {rest[:40]!r})"]))
        got = got[:-1]
        problem = None
        if len(got) != len(want):
            problem = f"expected {len(want)} responses {want}, got {got}"
        for g, w in zip(got, want):
            wcas = w.cas
            if isinstance(wcas, str) and wcas.startswith("new:"):
                if g.cas == 0 or g.cas in self.seen:
                    problem = problem or f"expected a new non-zero CAS, got {g}"
                self.cas[wcas[4:]] = g.cas
                wcas = g.cas
            elif isinstance(wcas, str) and wcas.startswith("="):
                wcas = self.cas.get(wcas[1:], -1)
            if g.cas:
                self.seen.add(g.cas)
            if Res(w.op, w.status, w.opaque, wcas, w.ext, w.key, w.val) != g:
                problem = problem or f"expected {w} (cas {wcas}), got {g}"
        if problem:
            self.errors.append(f"{what}: {problem}")
        return got

    def finish(self):
        self.conn.close()
        if self.errors:
            raise Failure(f"{len(self.errors)} steps differ:\n" + "\n".join(self.errors))


def case_cas_and_errors(srv):
    s = Session(srv)
    opaques = iter(range(0x5001, 0x6000))
    f5 = struct.pack(">I", 5)
    ext5 = struct.pack(">II", 5, 0)

    def st(what, op, key=b"", ext=b"", val=b"", cas=0, want=None):
        opq = next(opaques)
        s.step(what, pkt(op, key, ext, val, opaque=opq, cas=cas), want(opq))

    st("Set a", SET, b"a", ext5, b"va", want=lambda q: [ok(SET, q, "new:A")])
    st("Get a", GET, b"a", want=lambda q: [ok(GET, q, "=A", f5, val=b"va")])
    st("GetK a", GETK, b"a", want=lambda q: [ok(GETK, q, "=A", f5, b"a", b"va")])
    st("Add existing", ADD, b"a", E8, b"x", want=lambda q: [err(ADD, 2, q)])
    st("Replace missing", REPLACE, b"zz", E8, b"x", want=lambda q: [err(REPLACE, 1, q)])
    st("Append missing", APPEND, b"zz", val=b"x", want=lambda q: [err(APPEND, 5, q)])
    st("Prepend missing", PREPEND, b"zz", val=b"x", want=lambda q: [err(PREPEND, 5, q)])
    st("Append a", APPEND, b"a", val=b"+", want=lambda q: [ok(APPEND, q, "new:B")])
    st("Get a after append", GET, b"a", want=lambda q: [ok(GET, q, "=B", f5, val=b"va+")])
    st("Append a, wrong CAS", APPEND, b"a", val=b"+", cas=s.cas["B"] + 1000,
       want=lambda q: [err(APPEND, 2, q)])
    st("Prepend a, right CAS", PREPEND, b"a", val=b"<", cas=s.cas["B"],
       want=lambda q: [ok(PREPEND, q, "new:C")])
    st("Set a, wrong CAS", SET, b"a", E8, b"x", cas=s.cas["C"] + 1000,
       want=lambda q: [err(SET, 2, q)])
    st("Set a, right CAS", SET, b"a", ext5, b"vd", cas=s.cas["C"],
       want=lambda q: [ok(SET, q, "new:D")])
    # A non-zero CAS turns Set, Replace and also Add into a compare-and-swap (NREAD_CAS): on a
    # missing key that is 0x0001, and an Add with the item's CAS replaces it.
    st("Set missing key with a CAS", SET, b"nokey", E8, b"x", cas=12345,
       want=lambda q: [err(SET, 1, q)])
    st("Replace missing key with a CAS", REPLACE, b"nokey", E8, b"x", cas=12345,
       want=lambda q: [err(REPLACE, 1, q)])
    st("Add missing key with a CAS", ADD, b"nokey", E8, b"x", cas=12345,
       want=lambda q: [err(ADD, 1, q)])
    st("Get nokey", GET, b"nokey", want=lambda q: [err(GET, 1, q)])
    st("Add existing key with its CAS", ADD, b"a", ext5, b"ve", cas=s.cas["D"],
       want=lambda q: [ok(ADD, q, "new:E")])
    st("Get a after Add-with-CAS", GET, b"a", want=lambda q: [ok(GET, q, "=E", f5, val=b"ve")])
    st("Delete a, wrong CAS", DELETE, b"a", cas=s.cas["E"] + 1000,
       want=lambda q: [err(DELETE, 2, q)])
    st("Delete a, right CAS", DELETE, b"a", cas=s.cas["E"], want=lambda q: [ok(DELETE, q)])
    st("Delete missing", DELETE, b"a", want=lambda q: [err(DELETE, 1, q)])
    # Increment / decrement: 8-byte value and the new CAS; the request CAS is compared.
    st("Set n", SET, b"n", E8, b"10", want=lambda q: [ok(SET, q, "new:N")])
    st("Incr n, wrong CAS", INCR, b"n", incr_ext(1), cas=s.cas["N"] + 1000,
       want=lambda q: [err(INCR, 2, q)])
    st("Incr n, right CAS", INCR, b"n", incr_ext(1), cas=s.cas["N"],
       want=lambda q: [ok(INCR, q, "new:N2", val=struct.pack(">Q", 11))])
    st("Get n", GET, b"n", want=lambda q: [ok(GET, q, "=N2", bytes(4), val=b"11")])
    st("Decr n below 0", DECR, b"n", incr_ext(1000),
       want=lambda q: [ok(DECR, q, "new:N3", val=bytes(8))])
    st("Incr miss creates with the initial value", INCR, b"m", incr_ext(5, 42, 0),
       want=lambda q: [ok(INCR, q, "new:M", val=struct.pack(">Q", 42))])
    st("Get m (flags 0)", GET, b"m", want=lambda q: [ok(GET, q, "=M", bytes(4), val=b"42")])
    st("Incr miss with a CAS still creates", INCR, b"m2", incr_ext(1, 7, 0), cas=999,
       want=lambda q: [ok(INCR, q, "new:M2", val=struct.pack(">Q", 7))])
    st("Decr miss, exptime 0xffffffff", DECR, b"m3", incr_ext(1, 7, 0xffffffff),
       want=lambda q: [err(DECR, 1, q)])
    st("Get m3", GET, b"m3", want=lambda q: [err(GET, 1, q)])
    st("Set text", SET, b"txt", E8, b"abc", want=lambda q: [ok(SET, q, "new:T")])
    st("Incr non-numeric", INCR, b"txt", incr_ext(1), want=lambda q: [err(INCR, 6, q)])
    # Touch / GAT: flags (and value, key) with the item's CAS, which touching does not change.
    st("Touch a hit", TOUCH, b"n", bytes(4), want=lambda q: [ok(TOUCH, q, "=N3", bytes(4))])
    st("Touch miss", TOUCH, b"zz", bytes(4), want=lambda q: [err(TOUCH, 1, q)])
    st("GAT hit", GAT, b"n", bytes(4), want=lambda q: [ok(GAT, q, "=N3", bytes(4), val=b"0 ")])
    st("GATK hit", GATK, b"n", bytes(4), want=lambda q: [ok(GATK, q, "=N3", bytes(4), b"n", b"0 ")])
    st("GAT miss", GAT, b"zz", bytes(4), want=lambda q: [err(GAT, 1, q)])
    st("GATK miss: the key, no text", GATK, b"zz", bytes(4),
       want=lambda q: [Res(GATK, 1, q, 0, b"", b"zz", b"")])
    st("GetK miss: the key, no text", GETK, b"zz",
       want=lambda q: [Res(GETK, 1, q, 0, b"", b"zz", b"")])
    st("Version", VERSION, want=lambda q: [ok(VERSION, q, 0, val=b"1.6.18")])
    st("Noop", NOOP, want=lambda q: [ok(NOOP, q)])
    # Too large: 0x0003, the value swallowed, and the old value of a Set is gone.
    st("Set too large", SET, b"n", E8, b"x" * (1024 * 1024 + 1), want=lambda q: [err(SET, 3, q)])
    st("Get after too large Set", GET, b"n", want=lambda q: [err(GET, 1, q)])
    st("Flush", FLUSH, want=lambda q: [ok(FLUSH, q)])
    st("Get after Flush", GET, b"m", want=lambda q: [err(GET, 1, q)])
    s.finish()


def case_quiet(srv):
    s = Session(srv)
    f0 = bytes(4)
    s.step("setup", pkt(SET, b"h", E8, b"hv", opaque=1) + pkt(SET, b"t", E8, b"x", opaque=2),
           [ok(SET, 1, "new:H"), ok(SET, 2, "new:T")])
    # Quiet gets: misses say nothing, hits answer with their own opcode.
    s.step("quiet gets",
           pkt(GETQ, b"miss1", opaque=11) + pkt(GETKQ, b"miss2", opaque=12)
           + pkt(GATQ, b"miss3", f0, opaque=13) + pkt(GATKQ, b"miss4", f0, opaque=14)
           + pkt(GETQ, b"h", opaque=15) + pkt(GETKQ, b"h", opaque=16)
           + pkt(GATQ, b"h", f0, opaque=17) + pkt(GATKQ, b"h", f0, opaque=18),
           [ok(GETQ, 15, "=H", f0, val=b"hv"), ok(GETKQ, 16, "=H", f0, b"h", b"hv"),
            ok(GATQ, 17, "=H", f0, val=b"hv"), ok(GATKQ, 18, "=H", f0, b"h", b"hv")])
    # Quiet updates: successes say nothing, every error is sent.
    s.step("quiet updates",
           pkt(SETQ, b"q", E8, b"1", opaque=21)                       # ok: silent
           + pkt(ADDQ, b"q", E8, b"1", opaque=22)                     # exists
           + pkt(ADDQ, b"q_new", E8, b"1", opaque=23)                 # ok: silent
           + pkt(REPLACEQ, b"q_missing", E8, b"1", opaque=24)         # not found
           + pkt(REPLACEQ, b"q", E8, b"2", opaque=25)                 # ok: silent
           + pkt(APPENDQ, b"q_missing", val=b"1", opaque=26)          # not stored
           + pkt(PREPENDQ, b"q_missing", val=b"1", opaque=27)         # not stored
           + pkt(APPENDQ, b"q", val=b"3", opaque=28)                  # ok: silent
           + pkt(DELETEQ, b"q_missing", opaque=29)                    # not found
           + pkt(DELETEQ, b"q_new", opaque=30)                        # ok: silent
           + pkt(INCRQ, b"q", ext=incr_ext(1), opaque=31)             # ok (24): silent
           + pkt(INCRQ, b"q_ctr", ext=incr_ext(1, 5, 0), opaque=32)   # created: silent
           + pkt(DECRQ, b"q_nix", ext=incr_ext(1, 5, 0xffffffff), opaque=33)  # not found
           + pkt(INCRQ, b"t", ext=incr_ext(1), opaque=34)             # non-numeric
           + pkt(SETQ, b"q", E8, b"x", cas=1, opaque=35)              # exists (bad CAS)
           + pkt(SETQ, b"q", E8, b"x" * (1024 * 1024 + 1), opaque=36),  # too large
           [err(ADDQ, 2, 22), err(REPLACEQ, 1, 24), err(APPENDQ, 5, 26), err(PREPENDQ, 5, 27),
            err(DELETEQ, 1, 29), err(DECRQ, 1, 33), err(INCRQ, 6, 34), err(SETQ, 2, 35),
            err(SETQ, 3, 36)])
    s.step("after quiet updates",
           pkt(GET, b"q", opaque=41) + pkt(GET, b"q_ctr", opaque=42)
           + pkt(GET, b"q_new", opaque=43),
           [err(GET, 1, 41), ok(GET, 42, "new:C", f0, val=b"5"), err(GET, 1, 43)])
    s.step("FlushQ is silent", pkt(FLUSHQ, opaque=51) + pkt(GETQ, b"h", opaque=52), [])
    s.finish()
    # Quit answers then closes; QuitQ closes silently; what came before is answered.
    got, closed = exchange(srv, pkt(GETQ, b"miss", opaque=1) + pkt(NOOP, opaque=2)
                           + pkt(QUIT, opaque=3) + noop(), marker=False)
    check_eq((got, closed), ([ok(NOOP, 2), ok(QUIT, 3)], True), "Quit")
    got, closed = exchange(srv, pkt(NOOP, opaque=2) + pkt(QUITQ, opaque=3) + noop(), marker=False)
    check_eq((got, closed), ([ok(NOOP, 2)], True), "QuitQ")


def case_unsigned_exptime(srv):
    # The binary exptime is an unsigned 32-bit field that memcached passes to realtime() as a
    # positive number: 0xffffffff and 0x80000000 are absolute times in 2106 and 2038 (alive), not
    # -1 and -2^31 (already expired) as they would be in the text protocol.
    s = Session(srv)
    f0 = bytes(4)
    for i, exp in enumerate((0xffffffff, 0x80000000, 0xfffffffe)):
        key = b"ue%d" % i
        e = struct.pack(">II", 0, exp)
        s.step(f"Set exptime 0x{exp:08x}", pkt(SET, key, e, b"v", opaque=1),
               [ok(SET, 1, f"new:S{i}")])
        s.step(f"Get after Set exptime 0x{exp:08x}", pkt(GET, key, opaque=2),
               [ok(GET, 2, f"=S{i}", f0, val=b"v")])
        s.step(f"Touch exptime 0x{exp:08x}", pkt(TOUCH, key, struct.pack(">I", exp), opaque=3),
               [ok(TOUCH, 3, f"=S{i}", f0)])
        s.step(f"Get after Touch exptime 0x{exp:08x}", pkt(GET, key, opaque=4),
               [ok(GET, 4, f"=S{i}", f0, val=b"v")])
        if exp == 0xffffffff:
            continue  # for Increment/Decrement this value means "do not create"
        s.step(f"Incr-create exptime 0x{exp:08x}",
               pkt(INCR, key + b"c", incr_ext(1, 3, exp), opaque=5),
               [ok(INCR, 5, f"new:I{i}", val=struct.pack(">Q", 3))])
        s.step(f"Get after Incr-create exptime 0x{exp:08x}", pkt(GET, key + b"c", opaque=6),
               [ok(GET, 6, f"=I{i}", f0, val=b"3")])
    # A past absolute time (1,000,000,000 > 30 days) expires at once.
    s.step("Set past absolute exptime", pkt(SET, b"ue_past", struct.pack(">II", 0, 1000000000),
                                            b"v", opaque=7), [ok(SET, 7, "new:P")])
    s.step("Get past absolute exptime", pkt(GET, b"ue_past", opaque=8), [err(GET, 1, 8)])
    s.finish()


def case_flush_with_delay(srv):
    s = Session(srv)
    s.step("Set before delayed flush", pkt(SET, b"fd", E8, b"v", opaque=1), [ok(SET, 1, "new:F")])
    s.step("Flush, delay 2 s", pkt(FLUSH, ext=struct.pack(">I", 2), opaque=2), [ok(FLUSH, 2)])
    s.step("Get right after", pkt(GET, b"fd", opaque=3), [ok(GET, 3, "=F", bytes(4), val=b"v")])
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        s.conn.send(pkt(GET, b"fd", opaque=4))
        got = parse(s.conn.recv_until(lambda b: len(parse(bytes(b))[0]) >= 1, timeout=3)[0])[0]
        if got and got[0].status == 1:
            break
        time.sleep(0.1)
    else:
        raise Failure("Flush with a 2 s delay had not taken effect after 5 s")
    s.step("FlushQ, delay 0 (now)", pkt(FLUSHQ, ext=bytes(4), opaque=5), [])
    s.finish()


# --- Stat ----------------------------------------------------------------------------------------
# Per-class key names of `stats items` in memcached 1.6.18 with default options (no temp_lru).
ITEMS_SUFFIXES = {
    "number", "number_hot", "number_warm", "number_cold", "age_hot", "age_warm", "age",
    "mem_requested", "evicted", "evicted_nonzero", "evicted_time", "outofmemory", "tailrepairs",
    "reclaimed", "expired_unfetched", "evicted_unfetched", "evicted_active", "crawler_reclaimed",
    "crawler_items_checked", "lrutail_reflocked", "moves_to_cold", "moves_to_warm",
    "moves_within_lru", "direct_reclaims", "hits_to_hot", "hits_to_warm", "hits_to_cold",
    "hits_to_temp",
}


def bin_stats(srv, sub, opaque=0x77):
    """The packets of a binary Stat `sub` up to and including the terminator (checked)."""
    c = srv.connect()
    try:
        c.send(pkt(STAT, sub, opaque=opaque))
        raw, done = c.recv_until(
            lambda b: any(r.key == b"" and r.val == b"" or r.status != 0
                          for r in parse(bytes(b))[0]), timeout=5)
        got, rest = parse(raw)
        check(done and not rest, f"Stat {sub!r}: no terminator ({raw[-80:]!r})")
        for r in got:
            check(r.op == STAT and r.opaque == opaque and r.cas == 0 and r.ext == b"",
                  f"Stat {sub!r}: bad packet {r}")
        return got
    finally:
        c.close()


def case_stats(srv):
    errors = []

    def soft(fn, *args):
        try:
            fn(*args)
        except Failure as e:
            errors.append(str(e))

    with srv.connect() as c:
        check_eq(c.set("st_a", b"x"), "STORED", "set")
        c.get("st_a")

    def listing(sub, text):
        got = bin_stats(srv, sub)
        check_eq(got[-1], ok(STAT, 0x77), f"Stat {sub!r} terminator")
        names = [r.key.decode() for r in got[:-1]]
        check(all(r.status == 0 and r.key for r in got[:-1]), f"Stat {sub!r}: {got[:-1]}")
        check_eq(len(names), len(set(names)), f"Stat {sub!r}: duplicate names")
        with srv.connect() as c:
            text_names = set(c.stats(text))
        check_eq(set(names), text_names, f"Stat {sub!r} names vs text `stats {text}`")
        values = {r.key: r.val for r in got[:-1]}
        if sub == b"":
            check_eq(len(names), 92, "Stat: number of general stats")
            check_eq(values[b"pid"], str(srv.pid).encode(), "Stat pid")
            check_eq(values[b"version"], b"1.6.18", "Stat version")
        if sub == b"settings":
            check_eq(values[b"tcpport"], str(srv.port).encode(), "Stat settings tcpport")
            check_eq(values[b"binding_protocol"], b"auto-negotiate", "Stat settings binding")
        if sub == b"items":
            suffixes = {n.split(":", 2)[2] for n in names}
            check(suffixes == ITEMS_SUFFIXES,
                  f"Stat items per-class names: extra {sorted(suffixes - ITEMS_SUFFIXES)}, "
                  f"missing {sorted(ITEMS_SUFFIXES - suffixes)}")

    for sub, text in ((b"", ""), (b"settings", "settings"), (b"items", "items"),
                      (b"slabs", "slabs")):
        soft(listing, sub, text)
    soft(lambda: check_eq(bin_stats(srv, b"sizes"),
                          [ok(STAT, 0x77, key=b"sizes_status", val=b"disabled"), ok(STAT, 0x77)],
                          "Stat sizes"))

    # reset: just the terminator, and the counters are zero afterwards.
    def reset():
        check_eq(bin_stats(srv, b"reset"), [ok(STAT, 0x77)], "Stat reset")
        values = {r.key: r.val for r in bin_stats(srv, b"")}
        check_eq((values[b"get_hits"], values[b"cmd_set"]), (b"0", b"0"), "counters after reset")
    soft(reset)

    # detail on / off answer the terminator; dump is one packet named "detailed". Binary
    # commands feed the per-prefix counters like text ones.
    def detail():
        check_eq(bin_stats(srv, b"detail on"), [ok(STAT, 0x77)], "Stat detail on")
        got, closed = exchange(srv, pkt(SET, b"pfx:a", E8, b"x", opaque=1)
                               + pkt(GET, b"pfx:a", opaque=2) + pkt(GETQ, b"pfx:b", opaque=3)
                               + pkt(DELETE, b"pfx:b", opaque=4))
        check(not closed and len(got) == 4, f"detail traffic: {got}")
        dump = bin_stats(srv, b"detail dump")
        check_eq(bin_stats(srv, b"detail off"), [ok(STAT, 0x77)], "Stat detail off")
        check_eq(dump, [ok(STAT, 0x77, key=b"detailed",
                           val=b"PREFIX pfx get 2 hit 1 set 1 del 1\r\nEND\r\n"),
                        ok(STAT, 0x77)], "Stat detail dump after binary traffic")
    soft(detail)

    # Unknown and text-only sub-keys: 0x0001 "Not found", connection open.
    for sub in (b"bogus", b"conns", b"cachedump 1 1", b"detail xyz", b"itemsx", b"extstore",
                b"stat", b"sizes_x"):
        got, closed = exchange(srv, pkt(STAT, sub, opaque=0x99))
        soft(check_eq, (got, closed), ([err(STAT, 1, 0x99), ok(NOOP, MARK)], False),
             f"Stat {sub!r}")
    if errors:
        raise Failure(f"{len(errors)} checks differ:\n" + "\n".join(errors))


def case_shape_after_key(srv):
    # memcached judges a packet once its extras and key are in: a header announcing a 251-byte
    # key gets no reply while the key is missing, then 0x0004 and a close once it arrives.
    c = srv.connect()
    try:
        full = pkt(GET, b"k" * 251, opaque=0x71)
        c.send(full[:24])
        early = c.read_for(0.3, 1.0)
        check(early == b"" and not c.closed,
              f"header of a Get with a 251-byte key, key not sent yet: got {early!r}, "
              f"{'closed' if c.closed else 'open'} (memcached waits for the key)")
        try:
            c.send(full[24:])
        except ConnectionError:
            pass
        check(c.wait_closed(3.0), "251-byte key complete: connection not closed")
        check_eq(parse(bytes(c.buf)), ([err(GET, 0x0004, 0x71)], b""), "251-byte key complete")
    finally:
        c.close()


def main():
    runner = rctest.Runner("binary protocol: malformed packets, quiet/CAS rules, Stat",
                           time_limit=150)
    with rctest.ServerProcess(name="server") as srv:
        for name, fn in (
                ("shape errors: 0x0004 and close", lambda: case_table(srv, shape_error_cases())),
                ("keylen + extlen > bodylen: 0x0081 and close",
                 lambda: case_table(srv, bad_length_cases())),
                ("unknown opcodes: 0x0081, body swallowed, open",
                 lambda: case_table(srv, unknown_opcode_cases())),
                ("memcached quirks (swallow, leftover value, Stat prefixes)",
                 lambda: case_table(srv, quirk_cases())),
                ("bad magic mid-stream", lambda: case_bad_magic(srv)),
                ("shape judged once the key is in", lambda: case_shape_after_key(srv)),
                ("values cut off by a disconnect", lambda: case_truncated_by_disconnect(srv)),
                ("CAS on every response, CAS rules, error bodies",
                 lambda: case_cas_and_errors(srv)),
                ("quiet variants suppress exactly memcached's set", lambda: case_quiet(srv)),
                ("binary exptime is unsigned", lambda: case_unsigned_exptime(srv)),
                ("Stat with every sub-key", lambda: case_stats(srv)),
                ("Flush with a delay", lambda: case_flush_with_delay(srv))):
            runner.case(name, fn)
            if not srv.alive():
                runner.fail(f"server alive after: {name}", srv.output())
                break
        else:
            runner.case("server still serves", srv.check_serving)
    runner.case("-B binary with ASCII input closes (t/issue_50.t)", case_issue_50)
    runner.case("-B ascii treats 0x80 as text", case_ascii_only)
    runner.case("-F: Flush answers 0x0020", case_flush_disabled)
    runner.finish()


if __name__ == "__main__":
    rctest.main(main)
