#!/usr/bin/python3
# t/proto/meta_test.py -- the meta protocol (mg ms md ma mn me) over raw sockets against the real
# binary, with memcached 1.6.18's exact replies (PROTOCOL.md section 4; memcached proto_text.c,
# t/metaget.t). Every expectation below was recorded by running this script against stock
# memcached first (RINGCACHED=/usr/bin/memcached).
#
# Cases: mg with each return flag (c f h k l O s t v b q, and u) on hits and misses; ms in every
# mode (S E A P R) with C I T F q b k O and its errors; md with C I T q; ma with N J D T M C q t c v
# and its errors; 100 pipelined quiet commands flushed by one mn; me; the anti-stampede flows
# (vivify on miss, recache, invalidation with stale items); base64 keys holding any byte; the
# opaque echoed on every kind of reply; keys of 250 and 251 bytes; errors sent in spite of q;
# meta commands over UDP; and the stats counters a meta round moves.
#
# A reply is written as its lines. "<name>" in a line stands for a number: the first time a name
# appears it is captured, later it must be the same number again ("<name:lo..hi>" also bounds it,
# "<*>" is any number). Each step ends with an mn, so the whole reply -- nothing missing, nothing
# extra -- is compared, and the conversation stays in step after a mismatch.
import base64
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest   # noqa: E402
from rctest import Failure, check, check_eq, free_udp_port  # noqa: E402

PLACEHOLDER = re.compile(rb"<([A-Za-z_*][A-Za-z0-9_]*)?(?::(-?\d+)\.\.(-?\d+))?>")


class Lit(bytes):
    """A reply line taken literally (a value that may hold '<')."""


def to_bytes(x):
    return x.encode("latin-1") if isinstance(x, str) else bytes(x)


def compile_reply(lines, bound):
    """(regex, [(group, name, lo, hi)]) for reply `lines`; names already in `bound` are literal."""
    parts, groups, seen = [], [], {}
    for line in lines:
        line = to_bytes(line) if not isinstance(line, Lit) else line
        if isinstance(line, Lit):
            parts.append(re.escape(bytes(line)))
        else:
            out, pos = [], 0
            for m in PLACEHOLDER.finditer(line):
                out.append(re.escape(line[pos:m.start()]))
                pos = m.end()
                name = (m.group(1) or b"*").decode()
                lo = int(m.group(2)) if m.group(2) is not None else None
                hi = int(m.group(3)) if m.group(3) is not None else None
                if name == "*":
                    g = f"g{len(groups)}"
                    groups.append((g, None, lo, hi))
                    out.append(b"(?P<%s>-?\\d+)" % g.encode())
                elif name in bound:
                    out.append(re.escape(str(bound[name]).encode()))
                elif name in seen:
                    out.append(b"(?P=%s)" % seen[name].encode())
                else:
                    g = f"g{len(groups)}"
                    seen[name] = g
                    groups.append((g, name, lo, hi))
                    out.append(b"(?P<%s>-?\\d+)" % g.encode())
            out.append(re.escape(line[pos:]))
            parts.append(b"".join(out))
        parts.append(b"\r\n")
    return re.compile(b"".join(parts), re.S), groups


def show(data, limit=600):
    text = repr(to_bytes(data))
    return text if len(text) <= limit else text[:limit] + f"...<{len(data)} bytes>"


class Meta:
    """A meta conversation on one TCP connection. step() sends bytes plus an mn and compares the
    reply with `want` (its lines, the final MN implied). A mismatch is recorded and the
    conversation goes on; finish() raises them all. Captured numbers are in self.vars."""

    def __init__(self, srv, vars=None):
        self.srv = srv
        self.conn = srv.connect()
        self.vars = {} if vars is None else vars
        self.errors = []

    def step(self, what, send, want, *, mn=True, timeout=5.0):
        send = to_bytes(send)
        self.conn.send(send + (b"mn\r\n" if mn else b""))
        end = b"MN\r\n"
        raw, done = self.conn.recv_until(
            lambda b: b == end or b.endswith(b"\r\n" + end), timeout=timeout)
        if not done:
            self.srv.assert_alive(what)
            raise Failure("\n".join(self.errors + [
                f"{what}: no complete reply ({'closed' if self.conn.closed else 'timeout'}); "
                f"sent {show(send)}, got {show(raw)}"]))
        return self.match(what, send, want, raw[:-len(end)])

    def match(self, what, send, want, raw):
        rx, groups = compile_reply(want, self.vars)
        m = rx.fullmatch(raw)
        problem = None
        if m is None:
            problem = "reply differs"
        else:
            for g, name, lo, hi in groups:
                v = int(m.group(g))
                if lo is not None and not lo <= v <= hi:
                    problem = f"<{name or '*'}> = {v} not in {lo}..{hi}"
                if name is not None:
                    self.vars[name] = v
        if problem:
            self.errors.append(f"{what}: {problem}\n      sent     {show(send)}\n"
                               f"      expected {show(b''.join(to_bytes(x) + b'|' for x in want))}"
                               f" (| = \\r\\n)\n      got      {show(raw)}")
            return None
        return m

    def check(self, cond, msg):
        if not cond:
            self.errors.append(msg)

    def finish(self):
        self.conn.close()
        if self.errors:
            raise Failure(f"{len(self.errors)} steps differ:\n" + "\n".join(self.errors))


def b64(key):
    return base64.b64encode(key).decode()


# --- mg -------------------------------------------------------------------------------------------
def case_mg_flags(srv):
    s = Meta(srv)
    s.step("ms g1 (F7, no TTL, c)", "ms g1 3 T0 F7 c\r\nabc\r\n", ["HD c<C1>"])
    s.step("h before any fetch", "mg g1 h\r\n", ["HD h0"])
    s.step("h after a fetch", "mg g1 h\r\n", ["HD h1"])
    s.step("no flags: HD", "mg g1\r\n", ["HD"])
    s.step("v", "mg g1 v\r\n", ["VA 3", "abc"])
    s.step("c", "mg g1 c\r\n", ["HD c<C1>"])
    s.step("f", "mg g1 f\r\n", ["HD f7"])
    s.step("k", "mg g1 k\r\n", ["HD kg1"])
    s.step("l (seconds since last access)", "mg g1 l\r\n", ["HD l<*:0..2>"])
    s.step("O", "mg g1 Oabc123\r\n", ["HD Oabc123"])
    s.step("O empty", "mg g1 O\r\n", ["HD O"])
    s.step("s", "mg g1 s\r\n", ["HD s3"])
    s.step("t without TTL", "mg g1 t\r\n", ["HD t-1"])
    s.step("u (no LRU bump): accepted, prints nothing", "mg g1 u\r\n", ["HD"])
    s.step("q on a hit: HD is still sent", "mg g1 q\r\n", ["HD"])
    s.step("q v on a hit", "mg g1 q v\r\n", ["VA 3", "abc"])
    s.step("every return flag, request order",
           "mg g1 c f h k l Oop s t v\r\n",
           ["VA 3 c<C1> f7 h1 kg1 l<*:0..2> Oop s3 t-1", "abc"])
    s.step("every return flag, reversed order",
           "mg g1 v t s Oop l k h f c\r\n",
           ["VA 3 t-1 s3 Oop l<*:0..2> kg1 h1 f7 c<C1>", "abc"])
    s.step("transcript: mg m1 s v f t k Oop123 c", "mg g1 s v f t k Oop123 c\r\n",
           ["VA 3 s3 f7 t-1 kg1 Oop123 c<C1>", "abc"])
    s.step("ms g2 with T100 and the largest flags", "ms g2 2 T100 F4294967295\r\nhi\r\n", ["HD"])
    s.step("t with a TTL", "mg g2 t f v\r\n", ["VA 2 t<*:98..100> f4294967295", "hi"])
    s.step("ms g3, empty value", "ms g3 0\r\n\r\n", ["HD"])
    s.step("v of an empty value", "mg g3 v s\r\n", ["VA 0 s0", ""])
    # Misses: EN, with only k and O echoed; q suppresses it.
    s.step("miss", "mg g_none\r\n", ["EN"])
    s.step("miss with v", "mg g_none v\r\n", ["EN"])
    s.step("miss: only k and O are echoed", "mg g_none k O9 c f s t v h l\r\n", ["EN kg_none O9"])
    s.step("miss: O and k in request order", "mg g_none v Oabc k\r\n", ["EN Oabc kg_none"])
    s.step("miss with q: nothing", "mg g_none v q\r\n", [])
    s.step("miss with q, k and O: nothing", "mg g_none q k O1\r\n", [])
    # b: the key is base64; a returned key is base64 and followed by a b flag.
    s.step("ms b64 key", f"ms {b64(b'g4')} 1 b\r\nx\r\n", ["HD"])
    s.step("mg b without k: no b flag", f"mg {b64(b'g4')} b v\r\n", ["VA 1", "x"])
    s.step("mg b with k", f"mg {b64(b'g4')} b s O1 k c\r\n",
           [f"HD s1 O1 k{b64(b'g4')} b c<*>"])
    # The item remembers that its key came in base64: k prints it so even for a plain mg.
    s.step("the same item under its plain key", "mg g4 v k\r\n", [f"VA 1 k{b64(b'g4')} b", "x"])
    s.step("mg b miss with k", f"mg {b64(b'g_none')} b k O2\r\n", [f"EN k{b64(b'g_none')} b O2"])
    s.finish()


# --- ms -------------------------------------------------------------------------------------------
def case_ms_modes(srv):
    s = Meta(srv)
    s.step("MS (set) on a missing key", "ms s1 1 MS\r\na\r\n", ["HD"])
    s.step("no M: set", "ms s1 1\r\nb\r\n", ["HD"])
    s.step("ME (add) on an existing key", "ms s1 1 ME\r\nx\r\n", ["NS"])
    s.step("ME (add) on a missing key", "ms s2 1 ME\r\nn\r\n", ["HD"])
    s.step("MA (append)", "ms s1 1 MA\r\nc\r\n", ["HD"])
    s.step("MP (prepend)", "ms s1 1 MP\r\nd\r\n", ["HD"])
    s.step("after add/append/prepend", "mg s1 v\r\nmg s2 v\r\n", ["VA 3", "dbc", "VA 1", "n"])
    s.step("MR (replace) on a missing key", "ms s3 1 MR\r\nx\r\n", ["NS"])
    s.step("MA on a missing key", "ms s3 1 MA\r\nx\r\n", ["NS"])
    s.step("MP on a missing key", "ms s3 1 MP\r\nx\r\n", ["NS"])
    s.step("ms N is not an append-vivify in 1.6.18", "ms s3 1 MA N30\r\nx\r\n", ["NS"])
    s.step("still missing", "mg s3 v\r\n", ["EN"])
    s.step("MR (replace) on an existing key", "ms s1 1 MR\r\nr\r\n", ["HD"])
    s.step("after replace", "mg s1 v\r\n", ["VA 1", "r"])
    # Append and prepend keep the item's flags and TTL.
    s.step("ms s4 F5 no TTL", "ms s4 1 F5 T0\r\nx\r\n", ["HD"])
    s.step("MA with F9 T100", "ms s4 1 MA F9 T100\r\ny\r\n", ["HD"])
    s.step("flags and TTL kept", "mg s4 f t v\r\n", ["VA 2 f5 t-1", "xy"])
    # Modes are upper-case only; the data block is swallowed after a mode error.
    for mode in ("MX", "Ms", "Me", "Ma", "Mp", "Mr", "M1"):
        s.step(f"mode {mode}", f"ms s1 1 {mode}\r\nx\r\n",
               ["CLIENT_ERROR invalid mode for ms M token"])
    s.step("M without a mode", "ms s1 1 M\r\nx\r\n", ["CLIENT_ERROR incorrect length for M token"])
    s.step("M with two letters", "ms s1 1 MSE\r\nx\r\n",
           ["CLIENT_ERROR incorrect length for M token"])
    s.step("value unchanged by the errors", "mg s1 v\r\n", ["VA 1", "r"])
    s.finish()


def case_ms_flags(srv):
    s = Meta(srv)
    s.step("c returns the new CAS", "ms f1 1 c\r\na\r\n", ["HD c<A>"])
    if s.step("mg c", "mg f1 c\r\n", ["HD c<A>"]):
        a = s.vars["A"]
        s.step("C with a wrong CAS: EX (c prints 0)", f"ms f1 1 C{a + 1000} c\r\nx\r\n", ["EX c0"])
        s.step("C with the right CAS", f"ms f1 1 C{a} c\r\nb\r\n", ["HD c<B>"])
        s.check(s.vars.get("B") not in (None, a), f"CAS after a compare-and-set: {s.vars}")
        s.step("C with the old CAS", f"ms f1 1 C{a}\r\nc\r\n", ["EX"])
        s.step("C with the old CAS, q: EX still sent", f"ms f1 1 C{a} q\r\nc\r\n", ["EX"])
    s.step("C on a missing key: NF", "ms f_none 1 C5\r\nx\r\n", ["NF"])
    s.step("C on a missing key, q: NF still sent", "ms f_none 1 C5 q\r\nx\r\n", ["NF"])
    s.step("C on a missing key with I: NF", "ms f_none 1 C5 I\r\nx\r\n", ["NF"])
    s.step("C with MR on a missing key: NF", "ms f_none 1 MR C5\r\nx\r\n", ["NF"])
    s.step("value after the CAS steps", "mg f1 v c\r\n", ["VA 1 c<B>", "b"])
    # T and F, checked with mg.
    s.step("T100 F3", "ms f2 2 T100 F3\r\nhi\r\n", ["HD"])
    s.step("TTL and flags stored", "mg f2 t f v\r\n", ["VA 2 t<*:98..100> f3", "hi"])
    s.step("T0: no TTL", "ms f2 2 T0\r\nhi\r\n", ["HD"])
    s.step("no TTL, flags reset to 0", "mg f2 t f\r\n", ["HD t-1 f0"])
    s.step("T-1: expired at once", "ms f3 1 T-1\r\nx\r\n", ["HD"])
    s.step("expired", "mg f3 v\r\n", ["EN"])
    s.step("F2^32: accepted and truncated (as in the text protocol)",
           "ms f4 1 F4294967296\r\nx\r\n", ["HD"])
    s.step("flags 0", "mg f4 f\r\n", ["HD f0"])
    # q suppresses HD only.
    s.step("q on success: nothing", "ms f5 1 q\r\nx\r\n", [])
    s.step("q: stored", "mg f5 v\r\n", ["VA 1", "x"])
    s.step("q with NS: sent", "ms f5 1 ME q\r\nx\r\n", ["NS"])
    # k, O, b and their order.
    s.step("k and O", "ms f6 1 k O7\r\nx\r\n", ["HD kf6 O7"])
    s.step("c k O T F in one request", "ms f6 2 c k O7 T0 F3\r\nhi\r\n", ["HD c<*> kf6 O7"])
    s.step("O before k", "ms f6 1 O8 k\r\nx\r\n", ["HD O8 kf6"])
    s.step("NS with O and k", "ms f6 1 ME O9 k\r\nx\r\n", ["NS O9 kf6"])
    s.step("b with k: base64 key and b", f"ms {b64(b'f7')} 1 b k O5\r\nx\r\n",
           [f"HD k{b64(b'f7')} b O5"])
    s.step("stored under the decoded key", "mg f7 v\r\n", ["VA 1", "x"])
    # Errors. The data block is swallowed after a flag error, not after a bad length.
    s.step("invalid flag", "ms f8 1 !\r\nx\r\n", ["CLIENT_ERROR invalid flag"])
    s.step("duplicate flag", "ms f8 2 T1 T2\r\nxx\r\n", ["CLIENT_ERROR duplicate flag"])
    s.step("F-1", "ms f8 1 F-1\r\nx\r\n", ["CLIENT_ERROR bad command line format"])
    s.step("Fx", "ms f8 1 Fx\r\nx\r\n", ["CLIENT_ERROR bad command line format"])
    s.step("Tx", "ms f8 1 Tx\r\nx\r\n", ["CLIENT_ERROR bad token in command line format"])
    s.step("T alone", "ms f8 1 T\r\nx\r\n", ["CLIENT_ERROR bad token in command line format"])
    s.step("non-numeric length: data not swallowed", "ms f8 abc\r\nx\r\n",
           ["CLIENT_ERROR bad command line format", "ERROR"])
    s.step("no length", "ms f8\r\n", ["CLIENT_ERROR bad command line format"])
    s.step("bad data chunk", "ms f8 2\r\nabc\r\n", ["CLIENT_ERROR bad data chunk", "ERROR"])
    s.step("nothing stored by the errors", "mg f8 v\r\n", ["EN"])
    big = b"x" * (1024 * 1024 + 1)
    s.step("ms f2 before a too-large ms", "ms f9 1\r\nx\r\n", ["HD"])
    s.step("too large: data swallowed", b"ms f9 %d\r\n" % len(big) + big + b"\r\n",
           ["SERVER_ERROR object too large for cache"])
    s.step("too large removes the old value", "mg f9 v\r\n", ["EN"])
    s.finish()


# --- md -------------------------------------------------------------------------------------------
def case_md(srv):
    s = Meta(srv)
    s.step("md on a missing key", "md d_none\r\n", ["NF"])
    s.step("md q on a missing key: NF still sent", "md d_none q\r\n", ["NF"])
    s.step("md k O on a missing key", "md d_none O1 k\r\n", ["NF O1 kd_none"])
    s.step("ms d1", "ms d1 1 c\r\nx\r\n", ["HD c<D1>"])
    d1 = s.vars.get("D1", 0)
    s.step("md C wrong: EX", f"md d1 C{d1 + 1000}\r\n", ["EX"])
    s.step("md C wrong, q: EX still sent", f"md d1 C{d1 + 1000} q\r\n", ["EX"])
    s.step("still there", "mg d1 v\r\n", ["VA 1", "x"])
    s.step("md C right, q: nothing", f"md d1 C{d1} q\r\n", [])
    s.step("gone", "mg d1 v\r\n", ["EN"])
    s.step("ms d2", "ms d2 1\r\nx\r\n", ["HD"])
    s.step("md k O", "md d2 k O5\r\n", ["HD kd2 O5"])
    s.step("ms d3", "ms d3 1\r\nx\r\n", ["HD"])
    s.step("md T without I deletes", "md d3 T30\r\n", ["HD"])
    s.step("d3 gone", "mg d3\r\n", ["EN"])
    # I: the item stays, stale, with a new CAS and the TTL of T.
    s.step("ms d4", "ms d4 1 c\r\nx\r\n", ["HD c<D4>"])
    s.step("md I T30", "md d4 I T30\r\n", ["HD"])
    s.step("stale: X and W, new CAS, TTL 30", "mg d4 v c t\r\n",
           ["VA 1 c<D4b> t<*:28..30> X W", "x"])
    s.check(s.vars.get("D4b") != s.vars.get("D4"), f"md I did not change the CAS: {s.vars}")
    s.step("md I again: HD", "md d4 I q\r\n", [])
    s.step("a second invalidation: another new CAS and a new win", "mg d4 c\r\n",
           ["HD c<D4c> X W"])
    s.check(s.vars.get("D4c") not in (s.vars.get("D4"), s.vars.get("D4b")),
            f"second md I did not change the CAS: {s.vars}")
    s.step("md I on a missing key: NF", "md d_none I\r\n", ["NF"])
    s.step("md b", f"ms {b64(b'd5')} 1 b\r\nx\r\nmd {b64(b'd5')} b k\r\n",
           ["HD", f"HD k{b64(b'd5')} b"])
    s.step("md b miss", f"md {b64(b'd5')} b k O3\r\n", [f"NF k{b64(b'd5')} b O3"])
    s.step("md bad flag", "md d4 !\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    s.step("md duplicate flag", "md d4 q q\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    s.finish()


# --- ma -------------------------------------------------------------------------------------------
def case_ma(srv):
    s = Meta(srv)
    s.step("miss", "ma a1\r\n", ["NF"])
    s.step("miss, q: NF still sent", "ma a1 q\r\n", ["NF"])
    s.step("N0 J10: created with the initial value", "ma a1 N0 J10 v\r\n", ["VA 2", "10"])
    s.step("default: incr by 1", "ma a1 v\r\n", ["VA 2", "11"])
    s.step("MI D5", "ma a1 MI D5 v\r\n", ["VA 2", "16"])
    s.step("M+", "ma a1 M+ v\r\n", ["VA 2", "17"])
    s.step("MD D3", "ma a1 MD D3 v\r\n", ["VA 2", "14"])
    s.step("M-", "ma a1 M- v\r\n", ["VA 2", "13"])
    s.step("MD floors at 0", "ma a1 MD D100 v\r\n", ["VA 1", "0"])
    s.step("no v: HD", "ma a1\r\n", ["HD"])
    s.step("q: HD suppressed", "ma a1 q\r\n", [])
    s.step("q v: VA suppressed too", "ma a1 q v\r\n", [])
    # As with text decr, a shorter number keeps the value's length, padded with spaces.
    s.step("value after the quiet ones", "mg a1 v\r\n", ["VA 2", "3 "])
    s.step("t c v", "ma a1 t c v\r\n", ["VA 1 t-1 c<A1>", "4"])
    a1 = s.vars.get("A1", 0)
    s.step("C right", f"ma a1 C{a1} c v\r\n", ["VA 1 c<A2>", "5"])
    s.step("C old: EX", f"ma a1 C{a1} v\r\n", ["EX"])
    s.step("C old, q: EX still sent", f"ma a1 C{a1} q\r\n", ["EX"])
    s.step("T100 t", "ma a1 T100 t v\r\n", ["VA 1 t<*:98..100>", "6"])
    s.step("k O", "ma a1 k O9\r\n", ["HD ka1 O9"])
    s.step("miss k O", "ma a_none O7 k\r\n", ["NF O7 ka_none"])
    s.step("N with a TTL, no J: 0", "ma a2 N100 t v\r\n", ["VA 1 t<*:98..100>", "0"])
    s.step("ms a3 2^64-1", "ms a3 20\r\n18446744073709551615\r\n", ["HD"])
    s.step("incr wraps to 0", "ma a3 v\r\n", ["VA 1", "0"])
    s.step("largest delta", "ma a3 v D18446744073709551615\r\n", ["VA 20", "18446744073709551615"])
    s.step("decr below a large value", "ma a3 MD v D5\r\n", ["VA 20", "18446744073709551610"])
    s.step("b with k", f"ma {b64(b'a1')} b k v\r\n", [f"VA 1 k{b64(b'a1')} b", "8"])
    # Errors (sent in spite of q).
    s.step("delta 2^64", "ma a3 v D18446744073709551616\r\n",
           ["CLIENT_ERROR invalid or duplicate flag"])
    for flag in ("D-1", "Dabc", "Jx", "J-1", "Nx"):
        s.step(f"bad {flag}", f"ma a1 {flag} v\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    for mode in ("Mi", "MX", "Md", "M*"):
        s.step(f"mode {mode}", f"ma a1 {mode} v\r\n", ["CLIENT_ERROR invalid mode for ma M token"])
    s.step("duplicate flag", "ma a1 v v\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    s.step("ms a4 non-numeric", "ms a4 2\r\nhi\r\n", ["HD"])
    s.step("non-numeric value", "ma a4\r\n",
           ["CLIENT_ERROR cannot increment or decrement non-numeric value"])
    s.step("non-numeric value, q", "ma a4 q\r\n",
           ["CLIENT_ERROR cannot increment or decrement non-numeric value"])
    s.step("value unchanged by the errors", "mg a1 v\r\nmg a4 v\r\n", ["VA 2", "8 ", "VA 2", "hi"])
    s.finish()


def case_ma_long_opaque(srv):
    # memcached 1.6.18 checks ma's O length only while writing the reply: the arithmetic (and an
    # N auto-create) has already happened, and a non-numeric error wins. ringcached rejects the
    # request before acting, as memcached does for mg/ms/md (doc/deviations.md): the client sees
    # the same error, and nothing changed behind it.
    o = "O" + "o" * 40
    acts_anyway = rctest.is_stock_memcached()
    s = Meta(srv)
    s.step("ms n", "ms lo:n 1\r\n5\r\n", ["HD"])
    s.step("ma with a 41-byte opaque", f"ma lo:n {o}\r\n", ["CLIENT_ERROR opaque token too long"])
    s.step("... incremented only by memcached", "mg lo:n v\r\n",
           ["VA 1", "6" if acts_anyway else "5"])
    s.step("ma N with a 41-byte opaque", f"ma lo:new N0 {o}\r\n",
           ["CLIENT_ERROR opaque token too long"])
    s.step("... created only by memcached", "mg lo:new v\r\n",
           ["VA 1", "0"] if acts_anyway else ["EN"])
    s.step("ms non-numeric", "ms lo:t 1\r\nx\r\n", ["HD"])
    s.step("ma non-numeric with a 41-byte opaque", f"ma lo:t {o}\r\n",
           ["CLIENT_ERROR cannot increment or decrement non-numeric value" if acts_anyway
            else "CLIENT_ERROR opaque token too long"])
    # The others reject the request before doing anything.
    s.step("ms with a 41-byte opaque", f"ms lo:s 1 {o}\r\nx\r\n",
           ["CLIENT_ERROR opaque token too long"])
    s.step("... not stored", "mg lo:s v\r\n", ["EN"])
    s.step("md with a 41-byte opaque", f"md lo:n {o}\r\n", ["CLIENT_ERROR opaque token too long"])
    s.step("mg T with a 41-byte opaque", f"mg lo:n {o} T100\r\n",
           ["CLIENT_ERROR opaque token too long"])
    s.step("... neither deleted nor touched", "mg lo:n t v\r\n",
           ["VA 1 t-1", "6" if acts_anyway else "5"])
    s.finish()


# --- mn after pipelined quiet commands ------------------------------------------------------------
def case_mn_pipeline(srv):
    s = Meta(srv)
    s.step("setup", "ms q:hit 2\r\nhi\r\nms q:num 1\r\n5\r\nms q:txt 2\r\nhi\r\n",
           ["HD", "HD", "HD"])
    send, want = [], []
    counts = {"incr": 0}
    for i in range(100):
        kind = i % 10
        if kind == 0:    # hit, q: the value is sent
            send.append("mg q:hit q v k\r\n")
            want += ["VA 2 kq:hit", "hi"]
        elif kind == 1:  # miss, q: suppressed
            send.append(f"mg q:miss{i} q v\r\n")
        elif kind == 2:  # stored, q: suppressed
            send.append(f"ms q:s{i} 1 q\r\n{i % 10}\r\n")
        elif kind == 3:  # md miss, q: NF is sent
            send.append(f"md q:none{i} q O{i}\r\n")
            want.append(f"NF O{i}")
        elif kind == 4:  # md hit (the item of i-2), q: suppressed
            send.append(f"md q:s{i - 2} q\r\n")
        elif kind == 5:  # ma hit, q: suppressed
            send.append("ma q:num q\r\n")
            counts["incr"] += 1
        elif kind == 6:  # add on an existing key, q: NS is sent
            send.append(f"ms q:hit 2 ME q k O{i}\r\nzz\r\n")
            want.append(f"NS kq:hit O{i}")
        elif kind == 7:  # miss with k and O, q: suppressed
            send.append(f"mg q:miss q k O{i}\r\n")
        elif kind == 8:  # error, q: sent
            send.append("ma q:txt q\r\n")
            want.append("CLIENT_ERROR cannot increment or decrement non-numeric value")
        else:            # hit without v, q: 1.6.18 still sends HD
            send.append(f"mg q:hit q k O{i}\r\n")
            want.append(f"HD kq:hit O{i}")
    data = "".join(send) + "mn\r\n"
    check_eq(len(send), 100, "quiet commands")
    # One write; the reply is read up to its MN and must be exactly `want`.
    s.conn.send(data.encode())
    raw, done = s.conn.recv_until(lambda b: b.endswith(b"\r\nMN\r\n") or b == b"MN\r\n")
    check(done, f"no MN after 100 quiet commands: got {show(raw)}")
    s.match("100 quiet commands + mn", data.encode(), want, raw[:-4])
    s.step("state after the pipeline", "mg q:num v\r\nmg q:s2 v\r\nmg q:s92 v\r\nmg q:hit v\r\n",
           ["VA 2", str(5 + counts["incr"]), "EN", "EN", "VA 2", "hi"])
    s.step("mn alone", "", [])
    s.step("two mn", "mn\r\n", ["MN"])
    s.finish()


# --- me -------------------------------------------------------------------------------------------
def case_me(srv):
    s = Meta(srv)
    s.step("me miss", "me e_none\r\n", ["EN"])
    s.step("ms e1", "ms e1 1 c\r\nx\r\n", ["HD c<E1>"])
    s.step("me: never fetched, no TTL", "me e1\r\n",
           ["ME e1 exp=-1 la=<*:0..2> cas=<E1> fetch=no cls=<*> size=<S1>"])
    s.step("mg", "mg e1\r\n", ["HD"])
    s.step("me after a fetch", "me e1\r\n",
           ["ME e1 exp=-1 la=<*:0..2> cas=<E1> fetch=yes cls=<*> size=<S1>"])
    s.step("ms e2, 100 more bytes, T100", "ms e2 101 T100\r\n" + "x" * 101 + "\r\n", ["HD"])
    m = s.step("me: exp is minus the remaining seconds; size grows with the value", "me e2\r\n",
               ["ME e2 exp=<*:-100..-98> la=<*:0..2> cas=<*> fetch=no cls=<*> size=<S2>"])
    if m:
        s.check(s.vars["S2"] - s.vars["S1"] == 100, f"me size: 1-byte value {s.vars['S1']}, "
                f"101-byte value {s.vars['S2']} (expected 100 more)")
    # me prints an item stored under a base64 key in base64 (with or without b), no b flag.
    s.step("ms foo via base64", f"ms {b64(b'e3')} 1 b\r\nx\r\n", ["HD"])
    s.step("me b", f"me {b64(b'e3')} b\r\n",
           [f"ME {b64(b'e3')} exp=-1 la=<*:0..2> cas=<*> fetch=no cls=<*> size=<*>"])
    s.step("me of the plain key prints it in base64", "me e3\r\n",
           [f"ME {b64(b'e3')} exp=-1 la=<*:0..2> cas=<*> fetch=no cls=<*> size=<*>"])
    s.step("me of the base64 text without b: another key", f"me {b64(b'e3')}\r\n", ["EN"])
    s.step("me with a flag other than b is ignored", "me e_none k\r\nme e_none q\r\n",
           ["EN", "EN"])
    s.step("me bad base64", "me @@ b\r\n", ["CLIENT_ERROR bad command line format"])
    s.step("me without key", "me\r\n", ["CLIENT_ERROR bad command line format"])
    s.finish()


# --- anti-stampede --------------------------------------------------------------------------------
def case_vivify(srv):
    s = Meta(srv)
    other = Meta(srv, s.vars)
    s.step("first mg N on a miss: W, no EN", "mg v1 N30 v c t s\r\n",
           ["VA 0 c<V1> t<*:28..30> s0 W", ""])
    s.step("second mg N: Z", "mg v1 N30 v\r\n", ["VA 0 Z", ""])
    other.step("another client: Z", "mg v1 N30 v c\r\n", ["VA 0 c<V1> Z", ""])
    other.step("without N: Z too", "mg v1 v\r\n", ["VA 0 Z", ""])
    s.step("the winner stores the value", "ms v1 3 T60\r\nnew\r\n", ["HD"])
    other.step("the value is served, no W/Z", "mg v1 N30 v t\r\n", ["VA 3 t<*:58..60>", "new"])
    s.step("without v: HD W", "mg v2 N30\r\n", ["HD W"])
    other.step("without v: HD Z", "mg v2 N30\r\n", ["HD Z"])
    s.step("q does not hide a win", "mg v3 N30 q\r\n", ["HD W"])
    s.step("q does not hide a Z", "mg v3 N30 q k\r\n", ["HD kv3 Z"])
    s.step("the winner stores", "ms v3 1 c\r\nx\r\n", ["HD c<V3>"])
    other.step("served", "mg v3 v\r\n", ["VA 1", "x"])
    s.finish()
    other.finish()


def case_recache(srv):
    s = Meta(srv)
    other = Meta(srv, s.vars)
    s.step("ms r1 T100", "ms r1 1 T100\r\nx\r\n", ["HD"])
    s.step("R50: TTL above the token, no win", "mg r1 R50 v\r\n", ["VA 1", "x"])
    s.step("R200: first W", "mg r1 R200 v\r\n", ["VA 1 W", "x"])
    s.step("R200 again: Z", "mg r1 R200 v\r\n", ["VA 1 Z", "x"])
    other.step("another client: Z", "mg r1 R200 v t\r\n", ["VA 1 t<*:98..100> Z", "x"])
    other.step("without v", "mg r1 R200\r\n", ["HD Z"])
    other.step("without R: Z", "mg r1 v\r\n", ["VA 1 Z", "x"])
    s.step("the winner recaches", "ms r1 1 T100\r\ny\r\n", ["HD"])
    other.step("a new item: W again", "mg r1 R200 v\r\n", ["VA 1 W", "y"])
    s.step("no TTL: never recached", "ms r2 1\r\nx\r\nmg r2 R200 v\r\nmg r2 R200 v\r\n",
           ["HD", "VA 1", "x", "VA 1", "x"])
    s.finish()
    other.finish()


def case_invalidation(srv):
    s = Meta(srv)
    other = Meta(srv, s.vars)
    s.step("ms i1", "ms i1 1 c\r\nx\r\n", ["HD c<I0>"])
    s.step("md I T30", "md i1 I T30\r\n", ["HD"])
    s.step("stale: X W", "mg i1 v c t\r\n", ["VA 1 c<I1> t<*:28..30> X W", "x"])
    s.step("again: Z X", "mg i1 v c\r\n", ["VA 1 c<I1> Z X", "x"])
    other.step("another client: Z X", "mg i1 v\r\n", ["VA 1 Z X", "x"])
    i0, i1 = s.vars.get("I0", 0), s.vars.get("I1", 0)
    s.check(i1 != i0, f"md I kept the CAS {i0}")
    s.step("ms with I and a lower CAS: stored, still stale", f"ms i1 1 I C{i0} c\r\ny\r\n",
           ["HD c<I2>"])
    s.step("stale kept", "mg i1 v c\r\n", ["VA 1 c<I2> Z X", "y"])
    s.step("ms with a lower CAS and no I: EX", f"ms i1 1 C{i0}\r\nz\r\n", ["EX"])
    i2 = s.vars.get("I2", 0)
    s.step("ms with I and a higher CAS: EX", f"ms i1 1 I C{i2 + 1000}\r\nz\r\n", ["EX"])
    s.step("unchanged", "mg i1 v c\r\n", ["VA 1 c<I2> Z X", "y"])
    s.step("ms with the item's CAS: stored, fresh", f"ms i1 1 C{i2} c\r\nf\r\n", ["HD c<I3>"])
    other.step("fresh: no X, W or Z", "mg i1 v c t\r\n", ["VA 1 c<I3> t-1", "f"])
    # ms I with a lower CAS on an item that is not stale: stored, and stale from then on.
    s.step("ms i2", "ms i2 1 c\r\nx\r\n", ["HD c<J0>"])
    j0 = s.vars.get("J0", 0)
    s.step("ms I with a lower CAS on a fresh item", f"ms i2 1 I C{j0 - 1} c\r\nw\r\n",
           ["HD c<J1>"])
    s.step("now stale", "mg i2 v c\r\n", ["VA 1 c<J1> X W", "w"])
    s.finish()
    other.finish()


# --- keys, opaque, errors under q -----------------------------------------------------------------
def case_base64_keys(srv):
    s = Meta(srv)
    # Up to 186 bytes: their base64 (248 characters) must fit in a 250-byte key token.
    keys = [bytes(range(0, 180)), bytes(range(76, 256)), b" \r\n\x00\t", b"\xff" * 186,
            b"with space", b"k"]
    for i, key in enumerate(keys):
        k = b64(key)
        value = b"v%d" % i
        s.step(f"ms key {i} ({len(key)} bytes)", f"ms {k} {len(value)} b F{i}\r\n{value.decode()}"
               "\r\n", ["HD"])
        s.step(f"mg key {i}", f"mg {k} b k v f\r\n", [f"VA {len(value)} k{k} b f{i}", value])
        s.step(f"md key {i}, q, then gone", f"md {k} b k q\r\nmg {k} b v\r\n", ["EN"])
    # Round trip of a printable key through the text protocol.
    s.step("ms Zm9v b", "ms Zm9v 1 b\r\nx\r\n", ["HD"])
    with srv.connect() as c:
        s.check(c.get("foo") == b"x", "text get foo after ms Zm9v b")
        check_eq(c.set("bar", b"yz"), "STORED", "text set bar")
    # ... and an item stored under a plain key is printed plain, b or not.
    s.step("text set, meta mg b", f"mg {b64(b'bar')} b v k\r\n", ["VA 2 kbar", "yz"])
    s.step("a base64 key is not a plain key", "mg Zm9v v\r\n", ["EN"])
    # Errors.
    for bad in ("@@", "Zm9", "Zm9v=", "Z", "!!!!"):
        s.step(f"mg bad base64 {bad!r}", f"mg {bad} b v\r\n", ["CLIENT_ERROR error decoding key"])
    s.step("ms bad base64: data swallowed", "ms @@ 1 b\r\nx\r\n",
           ["CLIENT_ERROR error decoding key"])
    s.step("md bad base64", "md @@ b\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    s.step("ma bad base64", "ma @@ b\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    # 187 bytes encode to 252 characters: the token is over 250 before it is decoded.
    long_key = b64(b"k" * 187)
    s.step("252-character base64 key", f"mg {long_key} b v\r\n",
           ["CLIENT_ERROR bad command line format"])
    s.step("252-character base64 key in ms: data not swallowed", f"ms {long_key} 1 b\r\nx\r\n",
           ["CLIENT_ERROR bad command line format", "ERROR"])
    s.finish()


def case_opaque(srv):
    s = Meta(srv)
    o31 = "O" + "p" * 31  # 32 bytes with the O: the longest accepted
    o32 = "O" + "p" * 32
    s.step("HD", "ms o1 1 O1\r\nx\r\n", ["HD O1"])
    s.step("VA", "mg o1 v Oa-b_c\r\n", ["VA 1 Oa-b_c", "x"])
    s.step("HD (mg)", "mg o1 O2\r\n", ["HD O2"])
    s.step("EN", "mg o_none O3\r\n", ["EN O3"])
    s.step("NS", "ms o1 1 ME O4\r\nx\r\n", ["NS O4"])
    s.step("EX", "ms o1 1 C1 O5\r\nx\r\n", ["EX O5"])
    s.step("NF (ms)", "ms o_none 1 C1 O6\r\nx\r\n", ["NF O6"])
    s.step("NF (md)", "md o_none O7\r\n", ["NF O7"])
    s.step("HD (md)", "ms o2 1\r\nx\r\nmd o2 O8\r\n", ["HD", "HD O8"])
    s.step("NF (ma)", "ma o_none O9\r\n", ["NF O9"])
    s.step("VA (ma)", "ma o3 N0 J1 v O10\r\n", ["VA 1 O10", "1"])
    s.step("31 characters", f"mg o1 {o31} k\r\n", [f"HD {o31} ko1"])
    s.step("32 characters: too long", f"mg o1 {o32} k\r\n", ["CLIENT_ERROR opaque token too long"])
    s.step("32 characters on a miss", f"mg o_none {o32} k\r\n",
           ["CLIENT_ERROR opaque token too long"])
    s.step("32 characters, ms", f"ms o1 1 {o32} q\r\nx\r\n", ["CLIENT_ERROR opaque token too long"])
    s.step("32 characters, md", f"md o1 {o32} q\r\n", ["CLIENT_ERROR opaque token too long"])
    s.finish()


def case_key_lengths(srv):
    s = Meta(srv)
    k250, k251 = "k" * 250, "k" * 251
    s.step("ms 250", f"ms {k250} 1 T0\r\nx\r\n", ["HD"])
    s.step("mg 250", f"mg {k250} v k\r\n", [f"VA 1 k{k250}", "x"])
    s.step("ma 250", f"ma {k250[:-1]}n N0 v\r\n", ["VA 1", "0"])
    s.step("me 250", f"me {k250}\r\n", [f"ME {k250} exp=-1 la=<*> cas=<*> fetch=yes cls=<*> "
                                        "size=<*>"])
    s.step("md 250", f"md {k250} k\r\n", [f"HD k{k250}"])
    err = "CLIENT_ERROR bad command line format"
    s.step("ms 251: data not swallowed", f"ms {k251} 1\r\nx\r\n", [err, "ERROR"])
    s.step("mg 251", f"mg {k251} v\r\n", [err])
    s.step("mg 251 q", f"mg {k251} v q\r\n", [err])
    s.step("md 251 q", f"md {k251} q\r\n", [err])
    s.step("ma 251 q", f"ma {k251} q\r\n", [err])
    s.step("me 251", f"me {k251}\r\n", [err])
    s.step("nothing stored", f"mg {k251[:250]} v\r\n", ["EN"])
    s.finish()


def case_errors_under_q(srv):
    s = Meta(srv)
    flags21 = " ".join("abcdefghijklmnopqrstu")
    s.step("mg invalid flag", "mg k q !\r\n", ["CLIENT_ERROR invalid flag"])
    s.step("mg digit flag", "mg k q v 1\r\n", ["CLIENT_ERROR invalid flag"])
    s.step("mg duplicate flag", "mg k q v v\r\n", ["CLIENT_ERROR duplicate flag"])
    s.step("mg duplicate q", "mg k v q q\r\n", ["CLIENT_ERROR duplicate flag"])
    s.step("mg too many flags", f"mg k q {flags21}\r\n",
           ["CLIENT_ERROR options flags are too long"])
    s.step("mg bad base64", "mg @@ b q\r\n", ["CLIENT_ERROR error decoding key"])
    s.step("ms invalid flag", "ms k 1 q !\r\nx\r\n", ["CLIENT_ERROR invalid flag"])
    s.step("ms invalid mode", "ms k 1 q MX\r\nx\r\n", ["CLIENT_ERROR invalid mode for ms M token"])
    s.step("ms duplicate flag", "ms k 1 q T1 T2\r\nx\r\n", ["CLIENT_ERROR duplicate flag"])
    s.step("ms too many flags: data not swallowed", f"ms k 1 q {flags21}\r\nx\r\n",
           ["CLIENT_ERROR options flags too long", "ERROR"])
    s.step("ms bad base64", "ms @@ 1 b q\r\nx\r\n", ["CLIENT_ERROR error decoding key"])
    s.step("md invalid flag", "md k q !\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    s.step("md duplicate flag", "md k q q\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    s.step("md too many flags", f"md k q {flags21}\r\n", ["CLIENT_ERROR options flags too long"])
    s.step("ma invalid flag", "ma k q !\r\n", ["CLIENT_ERROR invalid or duplicate flag"])
    s.step("ma invalid mode", "ma k q MX\r\n", ["CLIENT_ERROR invalid mode for ma M token"])
    s.step("ma too many flags", f"ma k q {flags21}\r\n", ["CLIENT_ERROR options flags too long"])
    s.step("mz: ERROR", "mz k q\r\n", ["ERROR"])
    s.step("mg without key: ERROR", "mg\r\n", ["ERROR"])
    s.step("MG is not mg", "MG k v\r\n", ["ERROR"])
    s.finish()


# --- UDP ------------------------------------------------------------------------------------------
FRAME = struct.Struct(">HHHH")


class Udp:
    """One request per datagram; the reply's datagrams are reassembled by sequence number."""

    def __init__(self, port):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.rid = 4000

    def close(self):
        self.sock.close()

    def send(self, payload):
        self.rid += 1
        self.sock.send(FRAME.pack(self.rid, 0, 1, 0) + to_bytes(payload))

    def request(self, payload, timeout=2.0):
        """The reply to one request, or None if no datagram for it arrives in `timeout`."""
        self.send(payload)
        parts, count = {}, None
        deadline = time.monotonic() + timeout
        while count is None or len(parts) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                break
            rid, seq, n, reserved = FRAME.unpack_from(d)
            if rid != self.rid:
                raise Failure(f"UDP reply for request {rid}, expected {self.rid}: {show(d)}")
            check_eq(reserved, 0, "UDP frame reserved field")
            parts[seq], count = d[8:], n
        if count is None:
            return None
        check_eq(sorted(parts), list(range(count)), f"UDP sequence numbers of {show(payload)}")
        return b"".join(parts[i] for i in range(count))


def case_udp():
    for _ in range(3):
        port = free_udp_port()
        # One worker: every worker reads the UDP socket (memcached too), so with several a
        # datagram could overtake the one sent before it, and the steps below depend on order.
        srv = rctest.ServerProcess(["-U", str(port), "-t", "1"], name="server -U")
        try:
            srv.start()
            break
        except Failure:
            srv.kill()
    else:
        raise Failure("could not start a server with a UDP port")
    try:
        u = Udp(port)
        vars_, errors = {}, []

        def req(what, payload, want):
            if want is None:
                # Nothing may come back: the next datagram is the reply to an mn sent right after.
                u.send(payload)
                quiet_rid = u.rid
                got = u.request("mn\r\n")
                if got != b"MN\r\n":
                    errors.append(f"UDP {what}: expected no reply to request {quiet_rid}, then "
                                  f"MN; got {show(got or b'')}")
                return
            got = u.request(payload)
            if got is None:
                errors.append(f"UDP {what}: no reply to {show(payload)}")
                return
            rx, groups = compile_reply(want, vars_)
            m = rx.fullmatch(got)
            if m is None:
                errors.append(f"UDP {what}: sent {show(payload)}\n      expected {want}\n"
                              f"      got      {show(got)}")
                return
            for g, name, _lo, _hi in groups:
                if name:
                    vars_[name] = int(m.group(g))

        req("ms", "ms u1 2 T0 F3 c\r\nhi\r\n", ["HD c<U1>"])
        req("mg every flag", "mg u1 v f k c s t O1\r\n", ["VA 2 f3 ku1 c<U1> s2 t-1 O1", "hi"])
        req("mg q on a hit", "mg u1 q\r\n", ["HD"])
        req("mg miss", "mg u_none v\r\n", ["EN"])
        req("mg miss q: no datagram", "mg u_none v q\r\n", None)
        req("ms q: no datagram", "ms u2 1 q\r\nx\r\n", None)
        req("mn", "mn\r\n", ["MN"])
        req("ms q stored", "mg u2 v\r\n", ["VA 1", "x"])
        req("ms b k O", f"ms {b64(b'u3')} 1 b k O5\r\nx\r\n", [f"HD k{b64(b'u3')} b O5"])
        req("ma N J v", "ma u4 N0 J5 v\r\n", ["VA 1", "5"])
        req("ma", "ma u4 MD D2 v\r\n", ["VA 1", "3"])
        req("md", "md u2\r\n", ["HD"])
        req("md miss q: NF", "md u2 q\r\n", ["NF"])
        req("me", "me u1\r\n", ["ME u1 exp=-1 la=<*> cas=<U1> fetch=yes cls=<*> size=<*>"])
        req("error", "mg u1 !\r\n", ["CLIENT_ERROR invalid flag"])
        req("vivify", "mg u5 N30 v\r\n", ["VA 0 W", ""])
        req("vivify again", "mg u5 N30 v\r\n", ["VA 0 Z", ""])
        big = b"x" * 5000
        req("ms 5000 bytes", b"ms u6 5000\r\n" + big + b"\r\n", ["HD"])
        req("mg of a value spanning datagrams", "mg u6 v s\r\n", ["VA 5000 s5000", Lit(big)])
        # The quiet commands of one datagram, then mn: memcached frames each reply separately,
        # so only the reply text is compared.
        u.rid += 1
        u.sock.send(FRAME.pack(u.rid, 0, 1, 0) + b"mg u_none q v\r\nmg u1 q v\r\nmn\r\n")
        text = b""
        deadline = time.monotonic() + 2.0
        while not text.endswith(b"MN\r\n") and time.monotonic() < deadline:
            u.sock.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                d = u.sock.recv(65536)
            except socket.timeout:
                break
            text += d[8:]
        if text != b"VA 2\r\nhi\r\nMN\r\n":
            errors.append(f"UDP quiet commands + mn in one datagram: got {show(text)}")
        u.close()
        srv.check_serving("meta over UDP")
        with srv.connect() as c:
            v = c.get("u4")
            if v != b"3":
                errors.append(f"TCP get of a UDP-incremented key: {v!r}")
        if errors:
            raise Failure(f"{len(errors)} UDP steps differ:\n" + "\n".join(errors))
    finally:
        srv.stop()


# --- stats ----------------------------------------------------------------------------------------
STAT_KEYS = ("cmd_get cmd_set cmd_touch cmd_meta get_hits get_misses get_expired get_flushed "
             "touch_hits touch_misses delete_hits delete_misses incr_hits incr_misses decr_hits "
             "decr_misses cas_hits cas_misses cas_badval").split()


def case_stats(srv):
    # Counted as memcached 1.6.18 counts them (observed): cmd_meta only by me; mg hits/misses are
    # get_*, except that an mg T hit is a touch (cmd_touch, touch_hits) and an mg T miss a
    # get_miss; every ms is a cmd_set (also NS/EX/NF), its C a cas_*; md and ma feed delete_*,
    # incr_*, decr_*; an ma N auto-create is not an incr miss; mn counts nowhere.
    with srv.connect() as c:
        check_eq(c.cmd("stats reset"), "RESET", "stats reset")
    s = Meta(srv)
    s.step("meta round",
           "ms st:a 1\r\nx\r\n"             # cmd_set 1
           "ms st:a 1 ME\r\nx\r\n"          # cmd_set 2 (NS)
           "ms st:a 1 C999999999\r\nx\r\n"  # cmd_set 3, cas_badval
           "ms st:b 1 C5\r\nx\r\n"          # cmd_set 4, cas_misses
           "mg st:a v\r\n"                  # get_hits 1
           "mg st:zz v\r\n"                 # get_misses 1
           "mg st:zz v q\r\n"               # get_misses 2
           "mg st:a T30\r\n"                # cmd_touch 1, touch_hits 1
           "mg st:zz T30\r\n"               # get_misses 3
           "mg st:a h\r\n"                  # get_hits 2
           "md st:a\r\n"                    # delete_hits
           "md st:a\r\n"                    # delete_misses
           "ma st:n N0 J1\r\n"              # created: no counter
           "ma st:n\r\n"                    # incr_hits
           "ma st:n MD\r\n"                 # decr_hits
           "ma st:zz MD\r\n"                # decr_misses
           "ma st:zz\r\n",                  # incr_misses
           ["HD", "NS", "EX", "NF", "VA 1", "x", "EN", "HD", "EN", "HD h1", "HD", "NF", "HD",
            "HD", "HD", "NF", "NF"])
    s.step("me round",
           "me st:n\r\n"                    # cmd_meta 1
           "me st:zz\r\n",                  # cmd_meta 2
           ["ME st:n exp=-1 la=<*> cas=<*> fetch=no cls=<*> size=<*>", "EN"])
    s.finish()
    with srv.connect() as c:
        st = c.stats()
    want = dict(cmd_get=5, cmd_set=4, cmd_touch=1, cmd_meta=2, get_hits=2, get_misses=3,
                get_expired=0, get_flushed=0, touch_hits=1, touch_misses=0, delete_hits=1,
                delete_misses=1, incr_hits=1, incr_misses=1, decr_hits=1, decr_misses=1,
                cas_hits=0, cas_misses=1, cas_badval=1)
    got = {k: int(st.get(k, -1)) for k in STAT_KEYS}
    diff = {k: (want[k], got[k]) for k in STAT_KEYS if want[k] != got[k]}
    check(not diff, "counters (expected, got): " + ", ".join(f"{k} {v}" for k, v in diff.items()))
    # A cas hit, and an expired item fetched by mg.
    s = Meta(srv)
    s.step("ms c", "ms st:c 1 c\r\nx\r\n", ["HD c<C>"])
    s.step("ms C right", f"ms st:c 1 C{s.vars.get('C', 0)}\r\ny\r\n", ["HD"])
    s.step("ms T-1 and mg", "ms st:e 1 T-1\r\nx\r\nmg st:e v\r\n", ["HD", "EN"])
    s.finish()
    with srv.connect() as c:
        st = c.stats()
    check_eq((int(st["cas_hits"]), int(st["cmd_set"]), int(st["get_misses"]),
              int(st["get_expired"])), (1, 7, 4, 1),
             "cas_hits, cmd_set, get_misses, get_expired after ms C, ms T-1, mg")


def main():
    runner = rctest.Runner("meta protocol (mg ms md ma mn me)", time_limit=60)
    with rctest.ServerProcess(name="server") as srv:
        for name, fn in (
                ("mg: every return flag, hits and misses", case_mg_flags),
                ("ms: every mode", case_ms_modes),
                ("ms: C I T F q b k O and errors", case_ms_flags),
                ("md: C I T q", case_md),
                ("ma: N J D T M C q t c v and errors", case_ma),
                ("ma: over-long opaque (memcached checks it after acting)", case_ma_long_opaque),
                ("mn flushes 100 pipelined quiet commands", case_mn_pipeline),
                ("me", case_me),
                ("vivify on miss (N): W, then Z, then the value", case_vivify),
                ("recache (R): W below the TTL token, then Z", case_recache),
                ("invalidation (md I, ms I): X W, Z X, stale kept", case_invalidation),
                ("base64 keys, any byte, round trip", case_base64_keys),
                ("opaque echoed on every reply; 31/32 characters", case_opaque),
                ("keys of 250 and 251 bytes", case_key_lengths),
                ("errors are sent in spite of q", case_errors_under_q),
                ("stats counters after a meta round", case_stats)):
            runner.case(name, fn, srv)
            if not srv.alive():
                runner.fail(f"server alive after: {name}", srv.output())
                break
        else:
            runner.case("server still serves", srv.check_serving)
    runner.case("meta over UDP", case_udp)
    runner.finish()


if __name__ == "__main__":
    rctest.main(main)
