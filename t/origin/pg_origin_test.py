#!/usr/bin/python3
# t/origin/pg_origin_test.py -- read-through from PostgreSQL (issue #6), against a private
# PostgreSQL 15 started by this script (origin_support.Postgres: initdb in a temp dir, a free
# loopback port, its socket dir in the temp dir, stopped by PID). Origin queries are counted by
# the fetch_kv() function the query calls (a sequence bumped on every call); ctl.delay makes each
# query sleep.
#
#   * fill: a miss fills from the table and the next get is a hit without a query; the query's
#     flags and ttl columns become the item's flags and TTL; a NULL value or no row is a miss;
#     a key PostgreSQL rejects (not UTF-8) is a miss, not an error; a bytea value is decoded;
#   * 200 concurrent gets of one cold key make exactly one query (prints the queries saved);
#   * an origin miss: one query within --origin-negative-ttl;
#   * a delete during the fill is not overwritten;
#   * slow origin (queries slower than --origin-timeout-ms): misses within the timeout, other
#     keys and connections keep working; PostgreSQL stopped: misses at once, the breaker opens
#     (log line, stats), and closes again once PostgreSQL is back (same port) and a probe fills;
#   * bad configuration: unreachable server, a query that does not prepare, a query without $1,
#     and a postgresql origin without --origin-query are refused with a clear message;
#   * the added latency of a fill (printed), from 100 cold and 100 hot gets.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import origin_support as osup  # noqa: E402
from origin_support import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

Server = rctest.ServerProcess
QUERY = "SELECT value, flags, ttl FROM fetch_kv($1)"


def server_for(pg, *extra, query=QUERY):
    return Server(["--origin", pg.url(), "--origin-query", query, "-t", "4", *extra])


def case_fill_then_hit(pg):
    pg.put("user:1", "alice")
    pg.put("user:2", "bob", flags=42, ttl=50)
    pg.sql("INSERT INTO kv VALUES ('user:null', NULL, NULL, NULL)")
    with server_for(pg, "--origin-ttl", "100") as srv, srv.connect() as c:
        q0 = pg.queries()
        check_eq(c.get("user:1"), b"alice", "first get (filled)")
        check_eq(pg.queries() - q0, 1, "queries after the fill")
        check_eq(c.get("user:1"), b"alice", "second get (hit)")
        check_eq(pg.queries() - q0, 1, "queries after the hit")
        line = c.cmd("mg user:2 v f t")
        check(line.startswith("VA 3 f42 t"), f"flags column -> client flags: {line!r}")
        ttl = int(line.split(" t")[1])
        check(48 <= ttl <= 50, f"ttl column -> the item's TTL (50): t{ttl}")
        check_eq(c.read_line(), b"bob", "mg value")
        line = c.cmd("mg user:1 t")
        check(98 <= int(line.split(" t")[1]) <= 100, f"no ttl column: --origin-ttl: {line!r}")
        check_eq(c.get("user:none"), None, "no row: a miss")
        check_eq(c.get("user:null"), None, "a NULL value: a miss")
        check_eq(c.get("it's\";DROP_TABLE_kv;--"), None, "a key with SQL in it is a parameter")
        check_eq(pg.sql("SELECT count(*) FROM kv").strip(), "3", "the table is intact")
        # A key PostgreSQL rejects (not UTF-8: SQLSTATE 22021) cannot be in the table: a miss,
        # not an origin error that could help open the breaker.
        check_eq(c.cmd("mg /w== b v"), "EN", "mg of a base64 key that is not UTF-8")
        st = osup.origin_stats(c)
        check_eq((st["hits"], st["misses"], st["errors"]), ("2", "4", "0"), "stats origin")
        srv.check_serving("fill")
    # bytea values come back as their bytes.
    with server_for(pg, query="SELECT convert_to($1::text || E'\\001x', 'UTF8') AS value") \
            as srv, srv.connect() as c:
        check_eq(c.get("bin"), b"bin\x01x", "a bytea value, decoded")


def case_single_flight_200(pg):
    pg.put("cold", "shared")
    pg.set_delay(0.5)
    try:
        with server_for(pg, "--origin-timeout-ms", "5000", "-c", "4096") as srv:
            q0 = pg.queries()
            replies = osup.concurrent_requests(srv.port, [b"get cold\r\n"] * 200, timeout=20)
            want = b"VALUE cold 0 6\r\nshared\r\nEND\r\n"
            bad = [r for r in replies if r != want]
            check(not bad, f"{len(bad)} of 200 readers got something else, e.g. {bad[:1]!r}")
            queries = pg.queries() - q0
            check_eq(queries, 1, "origin queries for 200 concurrent gets of one cold key")
            with srv.connect() as c:
                st = osup.origin_stats(c)
            print(f"    single-flight: 200 concurrent gets of one cold key -> {queries} PostgreSQL "
                  f"query; {200 - queries} queries saved (coalesced {st['coalesced']}, "
                  f"cached {st['cached']})")
    finally:
        pg.set_delay(0)


def case_negative_cache(pg):
    with server_for(pg, "--origin-negative-ttl", "2") as srv, srv.connect() as c:
        q0 = pg.queries()
        for i in range(20):
            check_eq(c.get("nobody"), None, f"get #{i} of a key the table lacks")
        check_eq(pg.queries() - q0, 1, "queries within the negative TTL")
        time.sleep(2.2)
        check_eq(c.get("nobody"), None, "after the negative TTL")
        check_eq(pg.queries() - q0, 2, "queries after the negative TTL")


def case_delete_during_fill(pg):
    pg.put("k:del", "old")
    pg.set_delay(0.6)
    try:
        with server_for(pg, "--origin-timeout-ms", "3000") as srv, srv.connect() as reader, \
                srv.connect() as writer:
            reader.send("get k:del\r\n")
            time.sleep(0.25)
            check_eq(writer.cmd("delete k:del"), "NOT_FOUND", "delete during the fill")
            got, ok = reader.recv_until(b"END\r\n", timeout=5)
            check_eq(got, b"VALUE k:del 0 3\r\nold\r\nEND\r\n", "the reader gets the fetch")
            check_eq(writer.cmd("me k:del"), "EN", "not stored after the delete")
    finally:
        pg.set_delay(0)


def case_slow_and_stopped(pg):
    pg.put("warm", "w")
    with server_for(pg, "--origin-timeout-ms", "300", "--origin-breaker-failures", "3",
                    "--origin-breaker-open-ms", "1000") as srv, srv.connect() as c, \
            srv.connect() as other:
        check_eq(c.get("warm"), b"w", "a cached key")
        # Slow: each query sleeps 1 s, beyond the 300 ms timeout.
        pg.set_delay(1.0)
        c.send("get slow:1\r\n")
        r, took = osup.timed(other.get, "warm")
        check_eq(r, b"w", "another connection during a slow query")
        check(took < 0.1, f"another connection waited {took:.3f} s")
        got, ok = c.recv_until(b"END\r\n", timeout=3)
        check_eq(got, b"END\r\n", "a slow query is a miss")
        pg.set_delay(0)
        time.sleep(0.8)  # statement_timeout ended the slow query; its connection is free again
        check_eq(c.get("warm"), b"w", "cached key")
        # Stopped: misses at once; the breaker opens.
        port = pg.port
        pg.stop()
        try:
            stopped_phase(pg, c, other)
        finally:
            if pg.proc is None:
                pg.start(port=port)
        pg.put("back", "again")
        deadline = time.monotonic() + 10
        value = None
        while time.monotonic() < deadline and value is None:
            value = c.get("back")
            time.sleep(0.2)
        check_eq(value, b"again", "fill after PostgreSQL came back (same port)")
        check_eq(osup.origin_stats(c)["breaker"], "closed", "breaker after recovery")
        out = srv.output()
        check("circuit breaker OPEN" in out and "circuit breaker closed" in out,
              f"log lines for the breaker:\n{out}")
        srv.check_serving("postgresql stopped")


def stopped_phase(pg, c, other):
    for i in range(4):
        r, took = osup.timed(c.get, f"down:{i}")
        check_eq(r, None, "get with PostgreSQL stopped")
        check(took < 0.35, f"a miss took {took:.3f} s with PostgreSQL stopped")
    check_eq(other.get("warm"), b"w", "a cached key with PostgreSQL stopped")
    st = osup.wait_stat(c, "breaker", lambda v: v == "open")
    check(int(st["errors"]) >= 1, f"errors counted: {st}")
    r, took = osup.timed(c.get, "down:open")
    check(r is None and took < 0.1, f"miss with the breaker open took {took:.3f} s")
    # Back on the same port (the caller): the next probe reconnects, fills, closes the breaker.


def case_bad_configuration(pg):
    dead = rctest.free_port()
    rc, out = osup.start_expecting_failure(
        ["--origin", f"postgresql://postgres@127.0.0.1:{dead}/postgres", "--origin-query", QUERY])
    check(rc != 0 and "cannot connect" in out, f"unreachable server: exit {rc}, {out!r}")
    print(f"    e.g. {out.strip()}")
    rc, out = osup.start_expecting_failure(
        ["--origin", pg.url(), "--origin-query", "SELECT value FROM no_such_table WHERE k = $1"])
    check(rc != 0 and "does not prepare" in out and "no_such_table" in out,
          f"bad query: exit {rc}, {out!r}")
    print(f"    e.g. {out.strip()}")
    rc, out = osup.start_expecting_failure(
        ["--origin", pg.url(), "--origin-query", "SELECT value FROM kv"])
    check(rc != 0 and "$1" in out, f"query without $1: exit {rc}, {out!r}")
    rc, out = osup.start_expecting_failure(["--origin", pg.url()])
    check(rc != 0 and "--origin-query" in out, f"no query: exit {rc}, {out!r}")
    rc, out = osup.start_expecting_failure(
        ["--origin", f"postgresql://postgres:s3cret@127.0.0.1:{dead}/postgres",
         "--origin-query", QUERY])
    check(rc != 0 and "s3cret" not in out, f"the password is not printed: {out!r}")


def case_fill_latency(pg):
    pg.sql("INSERT INTO kv SELECT 'lat:' || i, 'v' || i FROM generate_series(0, 99) i "
           "ON CONFLICT DO NOTHING")
    with server_for(pg) as srv, srv.connect() as c:
        for i in range(100):
            c.set(f"hot:{i}", f"v{i}")
        c.get("lat:warmup")
        hot, cold = [], []
        for i in range(100):
            _, t = osup.timed(c.get, f"hot:{i}")
            hot.append(t)
            v, t = osup.timed(c.get, f"lat:{i}")
            check_eq(v, f"v{i}".encode(), f"lat:{i}")
            cold.append(t)
        hot.sort()
        cold.sort()
        st = osup.origin_stats(c)
        print(f"    fill latency: get of a cold key {cold[50] * 1e3:.2f} ms median "
              f"({cold[90] * 1e3:.2f} p90), of a hot key {hot[50] * 1e3:.2f} ms; added by a fill "
              f"{(cold[50] - hot[50]) * 1e3:.2f} ms median; PostgreSQL fetch p50 "
              f"{st['latency_p50_us']} us, p99 {st['latency_p99_us']} us (stats origin)")
        check(cold[50] < 0.1, f"a fill from a local PostgreSQL took {cold[50] * 1e3:.1f} ms")


def main():
    r = rctest.Runner("read-through, PostgreSQL origin", time_limit=300)
    with osup.Postgres() as pg:
        pg.init().start().setup_schema()
        r.case("a miss fills from PostgreSQL; the next get is a hit", case_fill_then_hit, pg)
        r.case("200 concurrent gets of one cold key: one query", case_single_flight_200, pg)
        r.case("an origin miss: one query in the negative TTL", case_negative_cache, pg)
        r.case("a delete during a fill is not overwritten", case_delete_during_fill, pg)
        r.case("slow and stopped PostgreSQL: misses, breaker", case_slow_and_stopped, pg)
        r.case("bad configuration is refused clearly", case_bad_configuration, pg)
        r.case("added latency of a fill", case_fill_latency, pg)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
