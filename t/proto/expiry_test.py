#!/usr/bin/python3
# t/proto/expiry_test.py -- behaviour that needs the clock to move: idle connections, item expiry
# and the LRU crawler, in real time (PROTOCOL.md sections 2, 3 and 10; memcached's t/idle-timeout.t,
# t/expirations.t, t/touch.t, t/lru-crawler.t). Each case sleeps only a few seconds and every wait
# is bounded; the whole file takes about 10 s (15 s against memcached).
#
#   * -o idle_timeout=2: an idle connection is closed (no reply bytes) after 1.5-6.5 s, while one
#     that sends `version` every 0.5 s stays open (memcached sleeps until the earliest possible
#     timeout + 1 s and a sweep takes about a second, so it closes at 3-5 s; ringcached at 3 s);
#   * TTL 1, TTL 2 and an absolute exptime of now+2: TTL 2 / absolute still hit 0.8 s later, all are
#     misses within ~3 s, get_expired counts each once; `touch` and `gat` to 10 s keep their items;
#     touch on an expired key -> NOT_FOUND (run with -o no_lru_crawler,no_lru_maintainer so that
#     only our gets find the dead items);
#   * 1,000 keys with TTL 1, 2.5 s later `lru_crawler crawl all`: curr_items drops to ~0 within
#     3 s without any get; with -o no_lru_maintainer crawler_reclaimed counts them.
# Server time moves in whole seconds (memcached's current_time), so no check depends on where in
# its second a set lands.
import os
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

Server = rctest.ServerProcess


def case_idle_timeout():
    with Server(["-o", "idle_timeout=2"]) as srv, srv.connect() as idle, srv.connect() as active:
        t0 = time.monotonic()
        check_eq(active.stats("settings")["idle_timeout"], "2", "stats settings idle_timeout")
        closed_at = None
        # Keep `active` busy; stop once `idle` is closed and 4 s have passed (bound: 7 s).
        while time.monotonic() - t0 < 7:
            check_eq(active.cmd("version")[:8], "VERSION ", "the active connection")
            if closed_at is None and idle.fill(0.5) and idle.closed:
                closed_at = time.monotonic() - t0
            elif closed_at is not None:
                time.sleep(0.5)
            if closed_at is not None and time.monotonic() - t0 >= 4:
                break
        check(closed_at is not None, "an idle connection is still open 7 s after connecting "
                                     "with -o idle_timeout=2")
        check(closed_at >= 1.5, f"idle connection closed after only {closed_at:.1f} s")
        check(closed_at <= 6.5, f"idle connection closed after {closed_at:.1f} s (want <= 6.5)")
        check_eq(bytes(idle.buf), b"", "bytes sent to the idle connection before closing it")
        check(not active.closed, "the active connection was closed")
        print(f"    idle connection closed after {closed_at:.1f} s")
        srv.check_serving("idle timeout")


def case_expiry():
    with Server(["-o", "no_lru_crawler,no_lru_maintainer"]) as srv, srv.connect() as c:
        t0 = time.monotonic()
        now = int(time.time())
        check_eq(c.set("ttl1", "a", exptime=1), "STORED", "set TTL 1")
        check_eq(c.set("ttl2", "b", exptime=2), "STORED", "set TTL 2")
        check_eq(c.set("abs2", "c", exptime=now + 2), "STORED", "set absolute now+2")
        check_eq(c.set("touched", "d", exptime=2), "STORED", "set TTL 2 (to touch)")
        check_eq(c.set("gatted", "e", exptime=2), "STORED", "set TTL 2 (to gat)")
        check_eq(c.cmd("touch touched 10"), "TOUCHED", "touch to 10 s")
        check_eq(c.cmd("gat 10 gatted"), "VALUE gatted 0 1", "gat to 10 s")
        check_eq(c.read_exact(8), b"e\r\nEND\r\n", "gat tail")
        time.sleep(max(0.0, 0.8 - (time.monotonic() - t0)))
        got = c.get_multi(["ttl2", "abs2"])
        check_eq(sorted(got), ["abs2", "ttl2"], "TTL 2 and absolute now+2 at 0.8 s")
        dead = ["ttl1", "ttl2", "abs2"]
        while time.monotonic() - t0 < 4.5:
            got = c.get_multi(dead)
            if not got:
                break
            time.sleep(0.2)
        took = time.monotonic() - t0
        check(not got, f"still returned {took:.1f} s after the sets: {sorted(got)}")
        check(took <= 3.5, f"the items expired only after {took:.1f} s")
        check_eq(c.cmd("touch ttl2 10"), "NOT_FOUND", "touch on an expired key")
        got = c.get_multi(["touched", "gatted"])
        check_eq({k: v[1] for k, v in got.items()}, {"touched": b"d", "gatted": b"e"},
                 "items whose TTL touch / gat extended")
        st = c.stats()
        check_eq(st["get_expired"], "3", "get_expired (each expired key counted once)")
        check_eq((st["touch_hits"], st["touch_misses"], st["cmd_touch"]), ("2", "1", "3"),
                 "touch_hits, touch_misses, cmd_touch")
        check_eq(st["curr_items"], "2", "curr_items")
        print(f"    all three expired {took:.1f} s after the sets")


def fill_ttl1(c, n=1000):
    c.send(b"".join(b"set c%d 0 1 3 noreply\r\nabc\r\n" % i for i in range(n)))
    check_eq(c.cmd("version")[:8], "VERSION ", "after the sets")
    total = int(c.stats()["total_items"])
    check_eq(total, n, "total_items after the sets")


def crawl_and_wait(c, name):
    deadline = time.monotonic() + 3
    reply = c.cmd("lru_crawler crawl all")
    while reply.startswith("BUSY") and time.monotonic() < deadline:
        time.sleep(0.1)
        reply = c.cmd("lru_crawler crawl all")
    check_eq(reply, "OK", f"{name}: lru_crawler crawl all")
    while True:
        st = c.stats()
        if int(st["curr_items"]) <= 10 or time.monotonic() >= deadline:
            return st
        time.sleep(0.1)


def case_crawler():
    default = Server(name="server (default options)")
    no_maint = Server(["-o", "no_lru_maintainer"], name="server (-o no_lru_maintainer)")
    with default, no_maint, default.connect() as c1, no_maint.connect() as c2:
        t0 = time.monotonic()
        fill_ttl1(c1)
        fill_ttl1(c2)
        time.sleep(max(0.0, 2.5 - (time.monotonic() - t0)))
        for c, name in ((c1, "default options"), (c2, "-o no_lru_maintainer")):
            st = crawl_and_wait(c, name)
            summary = {k: st[k] for k in ("curr_items", "crawler_reclaimed", "reclaimed",
                                          "crawler_items_checked")}
            check(int(st["curr_items"]) <= 10, f"{name}: curr_items still {st['curr_items']} "
                                                f"3 s after the crawl: {summary}")
            check(int(st["crawler_reclaimed"]) + int(st["reclaimed"]) >= 990,
                  f"{name}: crawler_reclaimed + reclaimed < 990: {summary}")
            check_eq((st["get_hits"], st["get_misses"], st["get_expired"]), ("0", "0", "0"),
                     f"{name}: get counters (no get was sent)")
            if c is c2:
                check(int(st["crawler_reclaimed"]) >= 990,
                      f"{name}: the crawl reclaimed fewer than 990: {summary}")
            print(f"    {name}: {summary}")


def main():
    r = rctest.Runner("expiry in real time", time_limit=60)
    r.case("-o idle_timeout=2: idle closed, active kept", case_idle_timeout)
    r.case("TTL 1 / 2 / absolute expire; touch and gat extend", case_expiry)
    r.case("lru_crawler crawl all reclaims expired items", case_crawler)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
