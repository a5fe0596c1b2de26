#!/usr/bin/python3
# t/proto/versions_test.py -- every CAS is a version (../shared/REPLICATION.md section 3;
# base/hybrid_clock.h), seen from outside through the real binary:
#
#   * the CAS of gets, mg c and the binary protocol is the same number, reads as this machine's
#     wall clock (milliseconds since 2024-01-01, shifted left by 10 bits), stays below 2^53, and
#     grows with every modification; touch, gat and mg T keep it (as memcached does);
#   * meta E (memcached 1.6.27, beyond 1.6.18) sets the new CAS of ms, md I, ma and mg N; a token
#     beyond --max-clock-skew-ms of the clock, or 0, is refused with our error and counted in
#     `stats versions`, and the clock moves past every token it takes;
#   * flush_all cuts by version: an item written with an E token from before the flush is gone;
#   * -C hides the CAS (0) while versions still order writes; --max-clock-skew-ms sets the bound
#     (its bad values are startup_test's).
#
# Not run against stock memcached: 1.6.18 answers E with "invalid flag" and counts CAS from 1.
import os
import struct
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

EPOCH_MS = 1704067200000
HEADER = struct.Struct(">BBHBBHIIQ")
GET, NOOP = 0x00, 0x0a


def now_version():
    return (int(time.time() * 1000) - EPOCH_MS) << 10


def binary_cas(b, key):
    body = key.encode()
    b.send(HEADER.pack(0x80, GET, len(body), 0, 0, 0, len(body), 0, 0) + body)
    magic, op, _, _, _, status, bodylen, _, cas = HEADER.unpack(b.read_exact(24))
    b.read_exact(bodylen)
    check_eq((magic, op, status), (0x81, GET, 0), "binary get")
    return cas


def gets_cas(c, key):
    return c.get_multi([key], verb="gets")[key][2]


def mg_cas(c, key):
    line = c.cmd(f"mg {key} c")
    check(line.startswith("HD c"), f"mg c: {line!r}")
    return int(line.split()[1][1:])


def case_cas_is_the_wall_clock_version():
    with rctest.ServerProcess(["-m", "64"]) as srv, srv.connect() as c, srv.connect() as b:
        before = now_version()
        check_eq(c.set("v1", "x"), "STORED", "set")
        after = now_version()
        cas = gets_cas(c, "v1")
        # The coarse clock may read a few milliseconds behind time.time(): allow a second.
        check(before - (1000 << 10) <= cas <= after + (1000 << 10),
              f"CAS {cas} is not the wall clock's version ({before}..{after})")
        check(cas < 2 ** 53, "below 2^53")
        check_eq(mg_cas(c, "v1"), cas, "mg c shows the same CAS")
        check_eq(binary_cas(b, "v1"), cas, "the binary protocol shows the same CAS")
        seen = [cas]
        for verb, line in (("set", "set v1 0 0 1\r\ny\r\n"), ("append", "append v1 0 0 1\r\nz\r\n"),
                           ("prepend", "prepend v1 0 0 1\r\na\r\n")):
            c.send(line.encode())
            check_eq(c.read_line(), b"STORED", verb)
            seen.append(gets_cas(c, "v1"))
        check_eq(c.set("n", "1"), "STORED", "set n")
        n_cas = gets_cas(c, "n")
        check_eq(c.cmd("incr n 1"), "2", "incr")
        seen.append(gets_cas(c, "n"))
        check(seen[-1] > n_cas, "incr gives a new CAS")
        check(all(a < b for a, b in zip(seen, seen[1:])), f"CAS values increase: {seen}")
        # touch, gat and mg T keep the CAS.
        check_eq(c.cmd("touch n 100"), "TOUCHED", "touch")
        check_eq(gets_cas(c, "n"), seen[-1], "CAS after touch")
        check_eq(c.get_multi(["n"], verb="gats 200")["n"][2], seen[-1], "CAS after gats")
        check_eq(c.cmd("mg n T300 c"), f"HD c{seen[-1]}", "mg T c")


def case_e_token_sets_the_new_cas():
    with rctest.ServerProcess(["-m", "64"]) as srv, srv.connect() as c:
        base = now_version()
        e1, e2, e3, e4 = base + 11, base + 22, base + 33, base + 44
        c.send(f"ms e 1 c E{e1}\r\nx\r\n".encode())
        check_eq(c.read_line().decode(), f"HD c{e1}", "ms E")
        check_eq(gets_cas(c, "e"), e1, "gets shows E's token")
        check_eq(c.cmd(f"md e I E{e2}"), "HD", "md I E")
        check_eq(c.cmd("mg e c"), f"HD c{e2} X W", "the invalidated item's CAS")
        check_eq(c.set("n", "5"), "STORED", "set n")
        check_eq(c.cmd(f"ma n E{e3} c"), f"HD c{e3}", "ma E")
        check_eq(c.cmd(f"mg viv N30 E{e4} c"), f"HD c{e4} W", "mg N E")
        # The clock moved past the tokens: a plain write orders after them.
        check_eq(c.set("plain", "p"), "STORED", "set")
        check(gets_cas(c, "plain") > e4, "the next CAS is above every token taken")
        # A token within the skew bound (default 1000 ms) is taken, one beyond it is not.
        near = now_version() + (500 << 10)
        c.send(f"ms near 1 c E{near}\r\nx\r\n".encode())
        check_eq(c.read_line().decode(), f"HD c{near}", "E 500 ms ahead")
        far = now_version() + (5000 << 10)
        c.send(f"ms far 1 c E{far}\r\nx\r\nmn\r\n".encode())
        check_eq(c.read_line().decode(), "CLIENT_ERROR E token out of range", "E 5 s ahead")
        check_eq(c.read_line().decode(), "MN", "the data block was swallowed")
        check_eq(c.cmd("ms far 1 q E0"), "CLIENT_ERROR E token out of range", "E0, even under q")
        c.send(b"x\r\n")
        check_eq(c.cmd(f"md plain E{far}"), "CLIENT_ERROR E token out of range", "md E far")
        check(c.get("plain") is not None, "a refused md deleted nothing")
        check(c.get("far") is None, "a refused ms stored nothing")
        st = c.stats("versions")
        check_eq(st["versions_refused"], "3", "stats versions: versions_refused")
        check_eq(st["max_clock_skew_ms"], "1000", "stats versions: the bound")
        check(int(st["version_clock"]) >= near, "stats versions: the clock moved past E")
        check_eq(c.cmd("ms x 1 Ebad"), "CLIENT_ERROR bad token in command line format",
                 "E not a number")
        c.send(b"x\r\n")


def case_flush_cuts_by_version():
    with rctest.ServerProcess(["-m", "64"]) as srv, srv.connect() as c:
        old = now_version() - (10 << 10)
        c.send(f"ms k 1 E{old}\r\nx\r\n".encode())
        check_eq(c.read_line(), b"HD", "ms with an old token")
        check_eq(c.cmd("flush_all"), "OK", "flush_all")
        cut = int(c.stats("versions")["flush_version"])
        check(cut > old, "the flush cut-off is a version above every item's")
        c.send(f"ms k 1 E{old + 1}\r\ny\r\n".encode())
        check_eq(c.read_line(), b"HD", "ms with a token from before the flush")
        check(c.get("k") is None, "an item older than the flush is flushed at once")
        check_eq(c.set("k", "z"), "STORED", "set after the flush")
        check_eq(c.get("k"), b"z", "a write after the flush lives")


def case_cas_disabled_and_skew_option():
    with rctest.ServerProcess(["-C", "--max-clock-skew-ms", "5"]) as srv, srv.connect() as c:
        check_eq(c.set("k", "x"), "STORED", "set")
        check_eq(gets_cas(c, "k"), 0, "-C: the CAS reads 0")
        first = int(c.stats("versions")["version_clock"])
        check_eq(c.set("k", "y"), "STORED", "set")
        check(int(c.stats("versions")["version_clock"]) > first, "-C: versions still move")
        check_eq(c.stats("versions")["max_clock_skew_ms"], "5", "the option")
        far = now_version() + (1000 << 10)
        c.send(f"ms k 1 E{far}\r\nx\r\n".encode())
        check_eq(c.read_line(), b"CLIENT_ERROR E token out of range", "1 s is beyond 5 ms")


def main():
    r = rctest.Runner("versions: the CAS is a hybrid logical clock")
    if rctest.is_stock_memcached():
        raise rctest.Skip("ringcached's versions (memcached 1.6.18 has no E flag)")
    r.case("the CAS is the wall clock's version, the same in every protocol, and grows",
           case_cas_is_the_wall_clock_version)
    r.case("meta E sets the new CAS within the skew bound", case_e_token_sets_the_new_cas)
    r.case("flush_all cuts by version", case_flush_cuts_by_version)
    r.case("-C hides the CAS; --max-clock-skew-ms sets the bound",
           case_cas_disabled_and_skew_option)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
