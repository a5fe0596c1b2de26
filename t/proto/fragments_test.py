#!/usr/bin/python3
# t/proto/fragments_test.py -- requests that arrive in pieces. The real server is fed one byte per
# send (TCP_NODELAY, a short pause between bytes, so each byte is its own segment and, as a rule,
# its own read on the server), and every request is also split into two writes at every byte
# boundary. The replies must be exactly what the same bytes sent in one write produce. memcached
# parses whatever has arrived and waits for the rest (proto_text.c try_read_command_ascii,
# proto_bin.c try_read_command_binary, conn_nread for values); a drop-in must too. Checked against
# stock memcached 1.6.18 first (RINGCACHED=/usr/bin/memcached).
#
# Pipelines, each run first in one write and then byte by byte on a fresh connection, after a
# flush_all so both runs start from an empty cache:
#   * text: set / get / multi-get / incr / decr / gat / touch / append / delete / noreply / an
#     unknown command / a bare-LF line / version;
#   * meta: ms with data, mg v with return flags, q on a miss and a hit, ma, md, mn;
#   * binary: Set, Get, GetK, GetQ (miss), Incr, SetQ, Delete, Stat (general, values masked, and
#     "sizes"), Noop. CAS values differ from run to run; they are renumbered in order of first
#     appearance before the comparison (so equal CAS values must stay equal, and new ones new).
# Splits: one representative request per protocol (a storage command with its data, followed by
# a read of it) cut at every boundary into two writes with a pause between them.
import os
import struct
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import Failure, check, check_eq  # noqa: E402

BYTE_GAP = 0.0002     # seconds between single-byte sends
SPLIT_GAP = 0.002     # seconds between the two writes of a split request
RUN_LIMIT = 10.0      # seconds for one run of a pipeline, sending and reading

HEADER = struct.Struct(">BBHBBHIIQ")
END_OPAQUE = 0x454E4421  # "END!", the opaque of the final binary Noop
SET, GET, GETQ, GETK, INCR, DELETE, SETQ, STAT, NOOP = 0x01, 0x00, 0x09, 0x0c, 0x05, 0x04, 0x11, \
    0x10, 0x0a


# --- the pipelines --------------------------------------------------------------------------------
TEXT = (b"set fa 0 0 5\r\nhello\r\n"
        b"set fn 7 0 2\r\n10\r\n"
        b"get fa\r\n"
        b"get fa fn fmissing fa\r\n"
        b"incr fn 5\r\n"
        b"decr fn 100\r\n"
        b"incr fmissing 1\r\n"
        b"gat 100 fa fn fmissing\r\n"
        b"touch fa 0\r\n"
        b"append fa 0 0 3\r\nabc\r\n"
        b"get fa\n"
        b"add fa 0 0 1 noreply\r\nx\r\n"
        b"delete fn\r\n"
        b"get fn\r\n"
        b"bogus\r\n"
        b"version\r\n")
TEXT_REPLY = (b"STORED\r\nSTORED\r\n"
              b"VALUE fa 0 5\r\nhello\r\nEND\r\n"
              b"VALUE fa 0 5\r\nhello\r\nVALUE fn 7 2\r\n10\r\nVALUE fa 0 5\r\nhello\r\nEND\r\n"
              b"15\r\n0\r\nNOT_FOUND\r\n"
              b"VALUE fa 0 5\r\nhello\r\nVALUE fn 7 2\r\n0 \r\nEND\r\n"
              b"TOUCHED\r\nSTORED\r\n"
              b"VALUE fa 0 8\r\nhelloabc\r\nEND\r\n"
              b"DELETED\r\nEND\r\nERROR\r\nVERSION 1.6.18\r\n")

META = (b"ms ma 5 T0 F3\r\nhello\r\n"
        b"mg ma v f s k t\r\n"
        b"mg mmissing v\r\n"
        b"mg mmissing v q\r\n"
        b"ms mb 3 q\r\nabc\r\n"
        b"mg mb v q k O42\r\n"
        b"ma mc N0 J7 v\r\n"
        b"ma mc MD D2 v\r\n"
        b"md mb q\r\n"
        b"mg mb v\r\n"
        b"ms mb 4 MX\r\nxxxx\r\n"
        b"mn\r\n")
META_REPLY = (b"HD\r\nVA 5 f3 s5 kma t-1\r\nhello\r\nEN\r\nVA 3 kmb O42\r\nabc\r\n"
              b"VA 1\r\n7\r\nVA 1\r\n5\r\nEN\r\nCLIENT_ERROR invalid mode for ms M token\r\nMN\r\n")


def pkt(op, key=b"", ext=b"", val=b"", opaque=0, cas=0):
    body = ext + key + val
    return HEADER.pack(0x80, op, len(key), len(ext), 0, 0, len(body), opaque, cas) + body


def incr_ext(delta, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


BINARY = (pkt(SET, b"fb", struct.pack(">II", 5, 0), b"value", opaque=1)
          + pkt(GET, b"fb", opaque=2)
          + pkt(GETK, b"fb", opaque=3)
          + pkt(GETQ, b"fmissing", opaque=4)
          + pkt(INCR, b"fc", incr_ext(1, 10), opaque=5)
          + pkt(INCR, b"fc", incr_ext(5), opaque=6)
          + pkt(SETQ, b"fd", struct.pack(">II", 0, 0), b"q" * 300, opaque=7)
          + pkt(GETK, b"fd", opaque=8)
          + pkt(DELETE, b"fd", opaque=9)
          + pkt(GET, b"fd", opaque=10)
          + pkt(STAT, b"sizes", opaque=11)
          + pkt(STAT, opaque=12)
          + pkt(NOOP, opaque=END_OPAQUE))


# --- reading and normalising replies --------------------------------------------------------------
def parse_binary(data):
    """[(op, status, opaque, cas, ext, key, val)] of the complete packets, and the rest."""
    out, pos = [], 0
    while len(data) - pos >= 24:
        magic, op, klen, elen, dtype, status, blen, opaque, cas = HEADER.unpack_from(data, pos)
        if magic != 0x81 or dtype != 0:
            raise Failure(f"not a binary response at byte {pos}: {data[pos:pos + 24].hex()}")
        if len(data) - pos < 24 + blen:
            break
        body = data[pos + 24:pos + 24 + blen]
        out.append((op, status, opaque, cas, body[:elen], body[elen:elen + klen],
                    body[elen + klen:]))
        pos += 24 + blen
    return out, data[pos:]


def binary_done(buf):
    got, _rest = parse_binary(bytes(buf))
    return bool(got) and got[-1][0] == NOOP and got[-1][2] == END_OPAQUE


def normalise_binary(data):
    """The packets with CAS values renumbered by first appearance and the values of the general
    Stat (opaque 12) masked; names and order stay."""
    got, rest = parse_binary(data)
    check(not rest, f"{len(rest)} bytes after the last binary response")
    numbers = {0: 0}
    out = []
    for op, status, opaque, cas, ext, key, val in got:
        cas = numbers.setdefault(cas, len(numbers))
        if op == STAT and opaque == 12:
            val = b"*" if key else b""
        out.append((op, status, opaque, cas, ext, key, val))
    return out


def text_done(buf):
    return bytes(buf).endswith(b"\r\nVERSION 1.6.18\r\n")


def meta_done(buf):
    return bytes(buf).endswith(b"\r\nMN\r\n")


# --- sending --------------------------------------------------------------------------------------
def flush(srv):
    with srv.connect() as c:
        check_eq(c.cmd("flush_all"), "OK", "flush_all before a run")


def run_whole(srv, data, done):
    flush(srv)
    with srv.connect() as c:
        c.send(data)
        raw, ok = c.recv_until(done, timeout=RUN_LIMIT)
        check(ok, f"one write: reply incomplete ({'closed' if c.closed else 'timeout'}): "
                  f"{raw[-200:]!r}")
        extra = c.read_for(0.05, 0.2)
        check(not extra, f"one write: bytes after the last reply: {extra[:100]!r}")
        return raw


def run_bytewise(srv, data, done):
    flush(srv)
    with srv.connect() as c:
        deadline = time.monotonic() + RUN_LIMIT
        for i in range(len(data)):
            if time.monotonic() > deadline:
                raise Failure(f"byte by byte: sending took over {RUN_LIMIT:.0f} s "
                              f"({i} of {len(data)} bytes sent)")
            c.send(data[i:i + 1])
            if BYTE_GAP:
                time.sleep(BYTE_GAP)
        raw, ok = c.recv_until(done, timeout=max(deadline - time.monotonic(), 1.0))
        check(ok, f"byte by byte: reply incomplete ({'closed' if c.closed else 'timeout'}): "
                  f"{raw[-200:]!r}")
        extra = c.read_for(0.05, 0.2)
        check(not extra, f"byte by byte: bytes after the last reply: {extra[:100]!r}")
        return raw


def first_difference(a, b):
    n = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return (f"first difference at byte {n}: one write {a[max(n - 40, 0):n + 60]!r}, "
            f"byte by byte {b[max(n - 40, 0):n + 60]!r}")


# --- cases ----------------------------------------------------------------------------------------
def case_text_bytewise(srv):
    whole = run_whole(srv, TEXT, text_done)
    check_eq(whole, TEXT_REPLY, "text pipeline in one write")
    single = run_bytewise(srv, TEXT, text_done)
    check(single == whole, f"text pipeline byte by byte: {first_difference(whole, single)}")
    srv.assert_alive("text byte by byte")


def case_meta_bytewise(srv):
    whole = run_whole(srv, META, meta_done)
    check_eq(whole, META_REPLY, "meta pipeline in one write")
    single = run_bytewise(srv, META, meta_done)
    check(single == whole, f"meta pipeline byte by byte: {first_difference(whole, single)}")
    srv.assert_alive("meta byte by byte")


def case_binary_bytewise(srv):
    whole = normalise_binary(run_whole(srv, BINARY, binary_done))
    f5 = struct.pack(">I", 5)
    f0 = bytes(4)
    summary = [(op, status, opaque, cas, ext, key, val) for op, status, opaque, cas, ext, key, val
               in whole if not (op == STAT and opaque == 12)]
    check_eq(summary, [
        (SET, 0, 1, 1, b"", b"", b""),
        (GET, 0, 2, 1, f5, b"", b"value"),
        (GETK, 0, 3, 1, f5, b"fb", b"value"),
        (INCR, 0, 5, 2, b"", b"", struct.pack(">Q", 10)),
        (INCR, 0, 6, 3, b"", b"", struct.pack(">Q", 15)),
        (GETK, 0, 8, 4, f0, b"fd", b"q" * 300),
        (DELETE, 0, 9, 0, b"", b"", b""),
        (GET, 1, 10, 0, b"", b"", b"Not found"),
        (STAT, 0, 11, 0, b"", b"sizes_status", b"disabled"),
        (STAT, 0, 11, 0, b"", b"", b""),
        (NOOP, 0, END_OPAQUE, 0, b"", b"", b""),
    ], "binary pipeline in one write (general Stat left out)")
    stats = [r for r in whole if r[0] == STAT and r[2] == 12]
    check(len(stats) > 50 and stats[-1][5] == b"", f"general Stat: {len(stats)} packets")
    single = normalise_binary(run_bytewise(srv, BINARY, binary_done))
    if single != whole:
        n = next((i for i, (x, y) in enumerate(zip(whole, single)) if x != y),
                 min(len(whole), len(single)))
        raise Failure(f"binary pipeline byte by byte: {len(single)} packets vs {len(whole)}; "
                      f"first difference at packet {n}: one write "
                      f"{whole[n] if n < len(whole) else None}, byte by byte "
                      f"{single[n] if n < len(single) else None}")
    srv.assert_alive("binary byte by byte")


def split_everywhere(srv, name, data, done, normalise=lambda raw: raw):
    """Send `data` whole once, then cut at every boundary into two writes; every reply must
    normalise to the same thing as the whole one."""
    with srv.connect() as c:
        c.send(data)
        raw, ok = c.recv_until(done, timeout=5)
        check(ok, f"{name} whole: incomplete reply {raw!r}")
        want = normalise(raw)
        bad = []
        deadline = time.monotonic() + RUN_LIMIT
        for cut in range(1, len(data)):
            if time.monotonic() > deadline:
                raise Failure(f"{name}: splits took over {RUN_LIMIT:.0f} s (at byte {cut})")
            c.send(data[:cut])
            time.sleep(SPLIT_GAP)
            early = bytes(c.buf)
            c.send(data[cut:])
            raw, ok = c.recv_until(done, timeout=5)
            got = normalise(raw) if ok else None
            if got != want:
                bad.append(f"cut at {cut}: {'incomplete ' if not ok else ''}{raw!r}"
                           f"{' (early: %r)' % early if early else ''}")
                if not ok or c.closed:
                    break
        check(not bad, f"{name}: {len(bad)} of {len(data) - 1} splits differ from one write "
                       f"{want!r}:\n" + "\n".join(bad[:5]))
    srv.assert_alive(name)
    print(f"    ({name}: {len(data) - 1} splits)")


def case_splits(srv):
    split_everywhere(srv, "text set + get", b"set sp 3 0 10\r\n0123456789\r\nget sp\r\n",
                     lambda b: bytes(b).endswith(b"END\r\n"))
    split_everywhere(srv, "meta ms + mg", b"ms sp 10 T0 F9 k O7\r\n0123456789\r\nmg sp v f k\r\n",
                     lambda b: bytes(b).endswith(b"\r\n0123456789\r\n") and b.count(b"\r\n") >= 3)
    data = pkt(SET, b"sp", struct.pack(">II", 9, 0), b"0123456789", opaque=0x51) \
        + pkt(GETK, b"sp", opaque=0x52)
    split_everywhere(srv, "binary Set + GetK", data,
                     lambda b: len(parse_binary(bytes(b))[0]) >= 2, normalise_binary)


def main():
    runner = rctest.Runner("requests in fragments: one byte per send, split at every boundary",
                           time_limit=60)
    with rctest.ServerProcess(name="server") as srv:
        for name, fn in (("text pipeline, one byte per send", case_text_bytewise),
                         ("meta pipeline, one byte per send", case_meta_bytewise),
                         ("binary pipeline, one byte per send", case_binary_bytewise),
                         ("one request per protocol split at every boundary", case_splits)):
            runner.case(name, fn, srv)
            if not srv.alive():
                runner.fail(f"server alive after: {name}", srv.output())
                break
        else:
            runner.case("server still serves", srv.check_serving)
    runner.finish()


if __name__ == "__main__":
    rctest.main(main)
