#!/usr/bin/python3
# t/origin/http_origin_test.py -- read-through from an HTTP origin (issue #6), against an origin
# served by this script (origin_support.HttpOrigin), which counts its requests and can be made
# slow, failing or stopped.
#
#   * fill: a miss fills from the origin and the next get is a hit without an origin request;
#     gets shows the stored CAS; flags 0 and --origin-ttl; multi-key gets with several misses
#     keep the keys' order; a pipeline behind a fill is answered in order; mg (flags, q, k, O)
#     and the binary protocol (Get, GetK, GetQ + Noop) read through too;
#   * 200 concurrent gets of one cold key, on 200 connections over 4 workers: one origin request
#     (prints the requests single-flight saved);
#   * an origin miss is remembered: one request within --origin-negative-ttl, a miss to every
#     reader, a second request once it expired; a set of the key forgets it at once;
#   * a delete or a set that arrives while the key's fill is in flight wins: the waiting reader
#     gets the fetched value, the cache does not (me / get afterwards);
#   * --origin-key-prefix limits which keys read through; writes never go to the origin; mg N
#     and the stale/win flags keep memcached's meaning (no origin request);
#   * a slow origin: misses within --origin-timeout-ms, other keys and connections answered at
#     once meanwhile; the breaker opens after --origin-breaker-failures timeouts (log line,
#     stats), answers misses at once while open, and closes once the origin is healthy; the same
#     with the origin stopped (connection refused) and failing (HTTP 503);
#   * bad configuration: an unreachable origin at start-up, an https URL, and a bad URL are
#     refused with a clear message;
#   * the added latency of a fill (printed), from 100 cold and 100 hot gets.
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import origin_support as osup  # noqa: E402
from origin_support import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

Server = rctest.ServerProcess


def server_for(origin, *extra):
    return Server(["--origin", origin.url, "-t", "4", *extra])


def case_fill_then_hit():
    with osup.HttpOrigin() as origin, server_for(origin, "--origin-ttl", "100") as srv, \
            srv.connect() as c:
        check_eq(c.get("user:1"), b"v:user:1", "first get (filled)")
        check_eq(origin.count("user:1"), 1, "origin requests after the fill")
        check_eq(c.get("user:1"), b"v:user:1", "second get (hit)")
        check_eq(origin.count("user:1"), 1, "origin requests after the hit")
        got = c.get_multi(["user:1"], verb="gets")
        check(got["user:1"][2] != 0, f"gets of a filled key shows its CAS: {got}")
        line = c.cmd("mg user:1 t f s")
        check(line.startswith("HD ") and " f0" in line and " s8" in line,
              f"mg of the filled item: {line!r}")
        ttl = int(line.split(" t")[1].split()[0])
        check(98 <= ttl <= 100, f"the filled item's TTL is --origin-ttl (100): t{ttl}")
        st = osup.origin_stats(c)
        check_eq((st["fetches"], st["hits"], st["stored"]), ("1", "1", "1"), "stats origin")
        # Multi-key: hits and misses mixed, several misses filled in parallel, order kept.
        check_eq(c.set("hot:a", "A"), "STORED", "set hot:a")
        c.send("get cold:1 hot:a cold:2 missing:x cold:3 user:1\r\n")
        want = (b"VALUE cold:1 0 8\r\nv:cold:1\r\nVALUE hot:a 0 1\r\nA\r\n"
                b"VALUE cold:2 0 8\r\nv:cold:2\r\nVALUE cold:3 0 8\r\nv:cold:3\r\n"
                b"VALUE user:1 0 8\r\nv:user:1\r\nEND\r\n")
        got, ok = c.recv_until(b"END\r\n")
        check_eq(got, want, "multi-key get with three fills, a hit, an origin miss")
        # A pipeline behind a fill: answered in order, nothing overtakes the fill.
        c.send("get pipe:1\r\nset pipe:1 0 0 3\r\nnew\r\nget pipe:1\r\nversion\r\n")
        got, ok = c.recv_until(lambda b: b.count(b"\r\n") >= 7)
        check(ok, f"pipelined replies: {got!r}")
        lines = got.split(b"\r\n")
        check_eq(lines[:6], [b"VALUE pipe:1 0 8", b"v:pipe:1", b"END", b"STORED",
                             b"VALUE pipe:1 0 3", b"new"], "pipeline behind a fill")
        # mg: q suppresses nothing on a fill hit; k and O come back.
        check_eq(c.cmd("mg meta:1 v k Oab q"), "VA 8 kmeta:1 Oab", "mg fill with k O q")
        check_eq(c.read_line(), b"v:meta:1", "mg value")
        c.send("mg missing:m v q\r\nmn\r\n")
        check_eq(c.read_line(), b"MN", "mg q of an origin miss: EN suppressed")
        check_eq(c.cmd("mg missing:m2 v"), "EN", "mg of an origin miss")
        srv.check_serving("fill")


def binary_request(opcode, key=b"", extras=b"", opaque=0):
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0, 0,
                       len(extras) + len(key), opaque, 0) + extras + key


def read_binary(conn):
    head = conn.read_exact(24)
    _, opcode, keylen, extlen, _, status, body, opaque, cas = struct.unpack(">BBHBBHIIQ", head)
    data = conn.read_exact(body) if body else b""
    return opcode, status, data[extlen:extlen + keylen], data[extlen + keylen:], opaque


def case_binary_protocol():
    with osup.HttpOrigin() as origin, server_for(origin) as srv, srv.connect() as c:
        # Get (0x00) fills; GetK (0x0c) carries the key; GetQ (0x09) of an origin miss is
        # silent; Noop (0x0a) ends the pipeline, after the fills.
        c.send(binary_request(0x00, b"bin:1", opaque=1) + binary_request(0x0c, b"bin:2", opaque=2)
               + binary_request(0x09, b"missing:b", opaque=3)
               + binary_request(0x09, b"bin:3", opaque=4) + binary_request(0x0a, opaque=5))
        r1 = read_binary(c)
        check_eq((r1[0], r1[1], r1[3], r1[4]), (0x00, 0, b"v:bin:1", 1), "binary Get fill")
        r2 = read_binary(c)
        check_eq((r2[0], r2[1], r2[2], r2[3]), (0x0c, 0, b"bin:2", b"v:bin:2"), "GetK fill")
        r3 = read_binary(c)
        check_eq((r3[0], r3[3], r3[4]), (0x09, b"v:bin:3", 4), "GetQ fill (origin miss silent)")
        r4 = read_binary(c)
        check_eq((r4[0], r4[4]), (0x0a, 5), "Noop after the fills")
        check_eq(origin.total(), 4, "origin requests")
        srv.check_serving("binary")


def case_single_flight_200():
    with osup.HttpOrigin() as origin, server_for(origin, "--origin-timeout-ms", "5000",
                                                 "-c", "4096") as srv:
        origin.delays["cold"] = 0.5  # every get arrives while the one request is in flight
        replies = osup.concurrent_requests(srv.port, [b"get cold\r\n"] * 200, timeout=20)
        want = b"VALUE cold 0 6\r\nv:cold\r\nEND\r\n"
        bad = [r for r in replies if r != want]
        check(not bad, f"{len(bad)} of 200 readers got something else, e.g. {bad[:1]!r}")
        requests = origin.count("cold")
        check_eq(requests, 1, "origin requests for 200 concurrent gets of one cold key")
        with srv.connect() as c:
            st = osup.origin_stats(c)
        coalesced = int(st["coalesced"]) + int(st["cached"])
        check_eq(coalesced, 199, f"readers that shared the fetch (coalesced {st['coalesced']}, "
                                 f"cached {st['cached']})")
        print(f"    single-flight: 200 concurrent gets of one cold key -> {requests} origin "
              f"request; {200 - requests} origin requests saved (coalesced {st['coalesced']}, "
              f"answered from the just-stored fill {st['cached']})")
        srv.check_serving("single flight")


def case_negative_cache():
    with osup.HttpOrigin() as origin, \
            server_for(origin, "--origin-negative-ttl", "2") as srv, srv.connect() as c:
        t0 = time.monotonic()
        for i in range(20):
            check_eq(c.get("missing:neg"), None, f"get #{i} of a key the origin lacks")
        check(time.monotonic() - t0 < 1.5, "the 20 gets took longer than the negative TTL")
        check_eq(origin.count("missing:neg"), 1, "origin requests within the negative TTL")
        st = osup.origin_stats(c)
        check_eq((st["misses"], st["negative_hits"]), ("1", "19"), "stats origin")
        check_eq(c.cmd("me missing:neg"), "EN", "a negative entry is never an item")
        # Once it expired, the origin is asked again.
        time.sleep(max(0.0, 2.2 - (time.monotonic() - t0)))
        check_eq(c.get("missing:neg"), None, "get after the negative TTL")
        check_eq(origin.count("missing:neg"), 2, "origin requests after the negative TTL")
        # A write of the key forgets the remembered miss: the application created it.
        check_eq(c.get("missing:neg"), None, "remembered again")
        check_eq(c.cmd("delete missing:neg"), "NOT_FOUND", "delete (invalidation)")
        origin.set_value("missing:neg", "x")
        check_eq(c.get("missing:neg"), None, "asked again after the delete: still 404")
        check_eq(origin.count("missing:neg"), 3, "origin requests after the delete")
        srv.check_serving("negative cache")


def case_write_during_fill_wins():
    with osup.HttpOrigin() as origin, \
            server_for(origin, "--origin-timeout-ms", "3000") as srv, \
            srv.connect() as reader, srv.connect() as writer:
        # delete while the fill is in flight
        origin.delays["k:del"] = 0.6
        reader.send("get k:del\r\n")
        time.sleep(0.2)
        check_eq(origin.count("k:del"), 1, "the fill is in flight")
        check_eq(writer.cmd("delete k:del"), "NOT_FOUND", "delete during the fill")
        got, ok = reader.recv_until(b"END\r\n", timeout=5)
        check_eq(got, b"VALUE k:del 0 7\r\nv:k:del\r\nEND\r\n",
                 "the waiting reader still gets the fetched value")
        check_eq(writer.cmd("me k:del"), "EN", "the fetched value was not stored after the delete")
        st = osup.origin_stats(writer)
        check_eq((st["stored"], st["stale"]), ("0", "1"), "stats origin after the delete")
        # set while the fill is in flight
        origin.delays["k:set"] = 0.6
        reader.send("get k:set\r\n")
        time.sleep(0.2)
        check_eq(writer.set("k:set", "newer"), "STORED", "set during the fill")
        got, ok = reader.recv_until(b"END\r\n", timeout=5)
        check_eq(got, b"VALUE k:set 0 7\r\nv:k:set\r\nEND\r\n", "the reader gets the fetch")
        check_eq(writer.get("k:set"), b"newer", "the set is not overwritten by the fill")
        # A delete also makes later readers start a fresh fetch rather than join the old one.
        origin.delays["k:re"] = 0.6
        reader.send("get k:re\r\n")
        time.sleep(0.2)
        check_eq(writer.cmd("delete k:re"), "NOT_FOUND", "delete during the fill")
        origin.set_value("k:re", "second")
        origin.delays["k:re"] = 0.0
        check_eq(writer.get("k:re"), b"second", "a reader after the delete: a new fetch")
        got, ok = reader.recv_until(b"END\r\n", timeout=5)
        check_eq(got, b"VALUE k:re 0 6\r\nv:k:re\r\nEND\r\n", "the first reader: the old fetch")
        check_eq(writer.get("k:re"), b"second", "the old fetch did not overwrite the new one")
        check_eq(origin.count("k:re"), 2, "origin requests")
        srv.check_serving("write during fill")


def case_what_reads_through():
    with osup.HttpOrigin() as origin, \
            server_for(origin, "--origin-key-prefix", "user:") as srv, srv.connect() as c:
        check_eq(c.get("other:1"), None, "a key outside --origin-key-prefix is a plain miss")
        check_eq(c.get("user:9"), b"v:user:9", "a key inside it reads through")
        check_eq(origin.total(), 1, "origin requests")
        # Writes never go to the origin.
        for cmd, want in (("delete user:w", "NOT_FOUND"), ("incr user:w 1", "NOT_FOUND"),
                          ("touch user:w 10", "NOT_FOUND")):
            check_eq(c.cmd(cmd), want, cmd)
        check_eq(c.set("user:w", "1"), "STORED", "set")
        check_eq(c.cmd("append user:w 0 0 1\r\n2"), "STORED", "append")
        check_eq(c.cmd("ms user:w2 1 T0\r\nx"), "HD", "ms")
        check_eq(origin.total(), 1, "origin requests after writes")
        # The meta stampede tools keep memcached's meaning: mg N vivifies (no origin request)
        # and hands out the win; an invalidated item is served stale with W then Z.
        check_eq(c.cmd("mg user:n N30 v s"), "VA 0 s0 W", "mg N on a miss")
        check_eq(c.read_line(), b"", "empty placeholder value")
        check_eq(c.cmd("mg user:n v"), "VA 0 Z", "mg of the placeholder, win already sent")
        c.read_line()
        check_eq(c.cmd("md user:w I"), "HD", "md I")
        check_eq(sorted(c.cmd("mg user:w v").split()), ["2", "VA", "W", "X"], "stale item: win")
        c.read_line()
        check_eq(sorted(c.cmd("mg user:w v").split()), ["2", "VA", "X", "Z"],
                 "stale item: someone else won")
        c.read_line()
        check_eq(origin.total(), 1, "origin requests after the meta stampede flags")
        srv.check_serving("prefix")


def case_slow_origin_and_breaker():
    with osup.HttpOrigin() as origin, \
            server_for(origin, "--origin-timeout-ms", "200", "--origin-breaker-failures", "3",
                       "--origin-breaker-open-ms", "1500") as srv, \
            srv.connect() as c, srv.connect() as other:
        check_eq(other.set("cached", "yes"), "STORED", "set a cached key")
        origin.delay = 1.0
        # A slow fill: a miss within the timeout; meanwhile the same worker's other connections
        # (and this connection's own later requests) are answered.
        c.send("get slow:1\r\n")
        r, took = osup.timed(other.get, "cached")
        check_eq(r, b"yes", "another connection during the slow fill")
        check(took < 0.1, f"another connection waited {took:.3f} s behind a slow fill")
        c.send("get cached\r\n")  # arrives while the fill is parked: waits its turn
        got, ok = c.recv_until(lambda b: b.count(b"END\r\n") == 2, timeout=3)
        check_eq(got, b"END\r\nVALUE cached 0 3\r\nyes\r\nEND\r\n",
                 "a timed-out fill is a miss, and the pipeline behind it follows in order")
        for i in range(2, 4):
            r, took = osup.timed(c.get, f"slow:{i}")
            check_eq(r, None, f"slow:{i}")
            check(0.15 <= took < 0.6, f"slow fill answered after {took:.3f} s (timeout 0.2 s)")
        st = osup.wait_stat(c, "breaker", lambda v: v == "open")
        check_eq((st["timeouts"], st["breaker_opened"]), ("3", "1"), "stats origin")
        check_eq(st["errors"], "0", "slow fetches count as timeouts, not errors")
        # Open: misses at once, without asking the origin.
        before = origin.total()
        for i in range(5):
            r, took = osup.timed(c.get, f"fast:{i}")
            check_eq(r, None, "get while the breaker is open")
            check(took < 0.1, f"a miss took {took:.3f} s with the breaker open")
        check_eq(origin.total(), before, "origin requests while the breaker is open")
        check(int(osup.origin_stats(c)["breaker_rejected"]) >= 5, "breaker_rejected counts")
        # The origin recovers; after the open period one probe closes the breaker again.
        origin.delay = 0.0
        deadline = time.monotonic() + 5
        value = None
        while time.monotonic() < deadline and value is None:
            value = c.get("back:1")
            time.sleep(0.1)
        check_eq(value, b"v:back:1", "a fill once the breaker let a probe through")
        check_eq(osup.origin_stats(c)["breaker"], "closed", "breaker after the probe")
        out = srv.output()
        check("circuit breaker OPEN" in out and "circuit breaker closed" in out,
              f"log lines for the breaker:\n{out}")
        srv.check_serving("breaker")


def case_stopped_and_failing_origin():
    with osup.HttpOrigin() as origin, \
            server_for(origin, "--origin-timeout-ms", "300", "--origin-breaker-failures", "4",
                       "--origin-breaker-open-ms", "800") as srv, srv.connect() as c:
        check_eq(c.get("up:1"), b"v:up:1", "fill while the origin is up")
        origin.stop()
        for i in range(4):
            r, took = osup.timed(c.get, f"down:{i}")
            check_eq(r, None, "get with the origin stopped")
            check(took < 0.35, f"a miss took {took:.3f} s with the origin stopped")
        check_eq(c.get("up:1"), b"v:up:1", "a cached key while the origin is down")
        st = osup.wait_stat(c, "breaker", lambda v: v == "open")
        check(int(st["errors"]) >= 4, f"errors counted: {st}")
        origin.start()
        deadline = time.monotonic() + 5
        value = None
        while time.monotonic() < deadline and value is None:
            value = c.get("up:2")
            time.sleep(0.1)
        check_eq(value, b"v:up:2", "fill after the origin came back")
        check_eq(osup.origin_stats(c)["breaker"], "closed", "breaker after recovery")
        # An origin that answers 503: errors, a miss for the reader, nothing stored.
        origin.status = 503
        check_eq(c.get("err:1"), None, "get when the origin answers 503")
        check_eq(c.cmd("me err:1"), "EN", "nothing stored after a 503")
        origin.status = None
        check_eq(c.get("err:1"), b"v:err:1", "the next get fills")
        srv.check_serving("origin down")


def case_bad_configuration():
    dead = rctest.free_port()
    rc, out = osup.start_expecting_failure(["--origin", f"http://127.0.0.1:{dead}/kv/"])
    check(rc != 0 and "cannot connect" in out and f"127.0.0.1 port {dead}" in out,
          f"unreachable origin at start-up: exit {rc}, output {out!r}")
    print(f"    e.g. {out.strip()}")
    rc, out = osup.start_expecting_failure(["--origin", "https://127.0.0.1:1/kv/"])
    check(rc != 0 and "https" in out, f"https origin: exit {rc}, output {out!r}")
    rc, out = osup.start_expecting_failure(["--origin", "ftp://x/"])
    check(rc != 0 and "postgresql://" in out, f"unknown scheme: exit {rc}, output {out!r}")
    rc, out = osup.start_expecting_failure(["--origin", "http://127.0.0.1:1/kv/?a=b"])
    check(rc != 0 and "query" in out, f"URL with a query: exit {rc}, output {out!r}")
    print(f"    e.g. {out.strip()}")


def case_fill_latency():
    with osup.HttpOrigin() as origin, server_for(origin) as srv, srv.connect() as c:
        for i in range(100):
            c.set(f"hot:{i}", f"v:hot:{i}")
        c.get("warm:up")
        hot, cold = [], []
        for i in range(100):
            _, t = osup.timed(c.get, f"hot:{i}")
            hot.append(t)
            _, t = osup.timed(c.get, f"lat:{i}")
            cold.append(t)
        hot.sort()
        cold.sort()
        med_hot, med_cold = hot[50] * 1e3, cold[50] * 1e3
        p90_hot, p90_cold = hot[90] * 1e3, cold[90] * 1e3
        st = osup.origin_stats(c)
        print(f"    fill latency: get of a cold key {med_cold:.2f} ms median ({p90_cold:.2f} p90), "
              f"of a hot key {med_hot:.2f} ms ({p90_hot:.2f}); added by a fill "
              f"{med_cold - med_hot:.2f} ms median; origin fetch p50 {st['latency_p50_us']} us, "
              f"p99 {st['latency_p99_us']} us (stats origin)")
        check(med_cold < 100, f"a fill from a local origin took {med_cold:.1f} ms (median)")


def main():
    r = rctest.Runner("read-through, HTTP origin", time_limit=240)
    r.case("a miss fills from the origin; the next get is a hit", case_fill_then_hit)
    r.case("binary protocol reads through", case_binary_protocol)
    r.case("200 concurrent gets of one cold key: one origin request", case_single_flight_200)
    r.case("an origin miss is remembered for the negative TTL", case_negative_cache)
    r.case("a delete or set during a fill wins", case_write_during_fill_wins)
    r.case("which reads go through; meta stampede flags unchanged", case_what_reads_through)
    r.case("slow origin: timeouts, breaker opens and closes", case_slow_origin_and_breaker)
    r.case("stopped and failing origin", case_stopped_and_failing_origin)
    r.case("bad configuration is refused clearly", case_bad_configuration)
    r.case("added latency of a fill", case_fill_latency)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
