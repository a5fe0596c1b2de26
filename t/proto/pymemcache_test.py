#!/usr/bin/python3
# t/proto/pymemcache_test.py -- the binary under test driven by python3-pymemcache (Debian's
# pymemcache 3.5), a widely used pure-Python text-protocol client: one round of every command it
# sends -- set get get_many add replace append prepend cas gets gets_many delete delete_many incr
# decr touch flush_all stats version cache_memlimit quit shutdown -- each with its noreply variant
# where it has one, plus HashClient over a single server.
#
# pymemcache defaults to noreply for storage commands; the cases here pass noreply explicitly, and
# after noreply commands they read the state back, so a server that answers a noreply command
# (desynchronising the stream) or ignores one is caught.
import os
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

try:
    from pymemcache.client.base import Client
    from pymemcache.client.hash import HashClient
    from pymemcache import exceptions as pmex
except ImportError as e:  # pragma: no cover -- Debian: python3-pymemcache
    print(f"SKIP: pymemcache not importable ({e}); install python3-pymemcache")
    sys.exit(rctest.EXIT_SKIP)


def client(srv, **kw):
    return Client(("127.0.0.1", srv.port), connect_timeout=3, timeout=5, no_delay=True, **kw)


def case_version(c):
    v = c.version()
    check(v.startswith(b"1.6."),
          f"version {v!r} must be 1.6.x (memccapable and libmemcached key on it)")


def case_set_get(c):
    check_eq(c.set("k1", b"abc", noreply=False), True, "set")
    check_eq(c.get("k1"), b"abc", "get")
    check_eq(c.get("missing"), None, "get miss")
    check_eq(c.get("missing", default=b"dflt"), b"dflt", "get miss default")
    check_eq(c.set("k2", b"xyz", noreply=True), True, "set noreply")
    check_eq(c.get("k2"), b"xyz", "get after set noreply")
    check_eq(c.set("flagged", b"v", flags=4294967295, noreply=False), True, "set flags 2^32-1")
    # Zero-length and binary-safe values.
    check_eq(c.set("empty", b"", noreply=False), True, "set empty")
    check_eq(c.get("empty"), b"", "get empty")
    blob = bytes(range(256)) + b"\r\nEND\r\n"
    check_eq(c.set("blob", blob, noreply=False), True, "set binary")
    check_eq(c.get("blob"), blob, "get binary")


def case_get_many(c):
    values = {f"m{i}": f"val{i}".encode() * (i + 1) for i in range(100)}
    failed = c.set_many(values, noreply=False)
    check_eq(failed, [], "set_many failed keys")
    got = c.get_many(list(values) + ["nope1", "nope2"])
    check_eq(len(got), 100, "get_many count")
    for k, v in values.items():
        check_eq(got[k], v, f"get_many {k}")
    check_eq(c.set_many({"n1": b"1", "n2": b"2"}, noreply=True), [], "set_many noreply")
    check_eq(c.get_multi(["n1", "n2"]), {"n1": b"1", "n2": b"2"}, "get_multi after noreply")
    check_eq(c.get_many([]), {}, "get_many of nothing")


def case_add_replace(c):
    check_eq(c.add("ar", b"a", noreply=False), True, "add new")
    check_eq(c.add("ar", b"b", noreply=False), False, "add existing")
    check_eq(c.replace("ar", b"c", noreply=False), True, "replace existing")
    check_eq(c.replace("nope", b"d", noreply=False), False, "replace missing")
    check_eq(c.get("ar"), b"c", "value after add/replace")
    # noreply variants report nothing; the state shows what happened.
    c.add("ar", b"X", noreply=True)
    c.add("ar2", b"new", noreply=True)
    c.replace("nope", b"Y", noreply=True)
    c.replace("ar2", b"newer", noreply=True)
    check_eq(c.get_many(["ar", "ar2", "nope"]), {"ar": b"c", "ar2": b"newer"},
             "after noreply add/replace")


def case_append_prepend(c):
    check_eq(c.append("ap", b"x", noreply=False), False, "append missing")
    check_eq(c.prepend("ap", b"x", noreply=False), False, "prepend missing")
    c.set("ap", b"mm", flags=7, noreply=False)
    check_eq(c.append("ap", b">>", noreply=False), True, "append")
    check_eq(c.prepend("ap", b"<<", noreply=False), True, "prepend")
    check_eq(c.get("ap"), b"<<mm>>", "append/prepend result")
    c.append("ap", b"!", noreply=True)
    c.prepend("ap", b"!", noreply=True)
    c.append("ap_missing", b"!", noreply=True)
    check_eq(c.get_many(["ap", "ap_missing"]), {"ap": b"!<<mm>>!"}, "after noreply append/prepend")


def case_gets_cas(c):
    check_eq(c.cas("c1", b"x", b"1", noreply=False), None, "cas on missing key -> NOT_FOUND")
    c.set("c1", b"a", noreply=False)
    value, cas = c.gets("c1")
    check_eq(value, b"a", "gets value")
    check(cas is not None and int(cas) > 0, f"gets cas {cas!r} must be a positive integer")
    check_eq(c.cas("c1", b"b", str(int(cas) + 1000).encode(), noreply=False), False,
             "cas with stale unique")
    check_eq(c.cas("c1", b"c", cas, noreply=False), True, "cas with current unique")
    value2, cas2 = c.gets("c1")
    check_eq(value2, b"c", "value after cas")
    check(cas2 != cas, "cas unique must change on modification")
    check_eq(c.gets("missing"), (None, None), "gets miss")
    # cas noreply: applied when the unique matches, ignored otherwise.
    c.cas("c1", b"d", cas2, noreply=True)
    c.cas("c1", b"e", cas2, noreply=True)  # stale now
    check_eq(c.get("c1"), b"d", "after noreply cas")
    c.set("c2", b"z", noreply=False)
    many = c.gets_many(["c1", "c2", "missing"])
    check_eq(sorted(many), ["c1", "c2"], "gets_many keys")
    check(all(int(cas) > 0 for _v, cas in many.values()), f"gets_many uniques {many!r}")
    check(many["c1"][1] != many["c2"][1], "distinct items have distinct uniques")


def case_delete(c):
    check_eq(c.delete("d1", noreply=False), False, "delete missing")
    c.set("d1", b"x", noreply=False)
    check_eq(c.delete("d1", noreply=False), True, "delete existing")
    check_eq(c.get("d1"), None, "get after delete")
    c.set_many({"d2": b"1", "d3": b"2", "d4": b"3"}, noreply=False)
    c.delete("d2", noreply=True)
    check_eq(c.delete_many(["d3", "nope"], noreply=False), True, "delete_many")
    check_eq(c.get_many(["d2", "d3", "d4"]), {"d4": b"3"}, "after deletes")


def case_incr_decr(c):
    check_eq(c.incr("i1", 1), None, "incr missing")
    check_eq(c.decr("i1", 1), None, "decr missing")
    c.set("i1", b"10", noreply=False)
    check_eq(c.incr("i1", 5), 15, "incr")
    check_eq(c.decr("i1", 100), 0, "decr floors at 0")
    check_eq(c.get("i1"), b"0 ", "decr keeps the length, space padded")
    c.set("i2", b"18446744073709551615", noreply=False)
    check_eq(c.incr("i2", 1), 0, "incr wraps at 2^64")
    c.set("i3", b"9", noreply=False)
    check_eq(c.incr("i3", 1), 10, "incr grows")
    check_eq(c.get("i3"), b"10", "grown value")
    c.set("i4", b"hi", noreply=False)
    try:
        c.incr("i4", 1)
    except pmex.MemcacheClientError as e:
        check("non-numeric" in str(e), f"error text {e}")
    else:
        raise rctest.Failure("incr of a non-numeric value must fail with CLIENT_ERROR")
    # noreply: nothing back, value changed.
    check_eq(c.incr("i3", 5, noreply=True), None, "incr noreply")
    check_eq(c.decr("i3", 2, noreply=True), None, "decr noreply")
    check_eq(c.incr("i4", 1, noreply=True), None, "failing incr noreply (no reply at all)")
    check_eq(c.get("i3"), b"13", "after noreply incr/decr")
    check_eq(c.incr("i3", 18446744073709551615), 12, "incr by 2^64-1 wraps")


def case_touch(c):
    check_eq(c.touch("t1", 100, noreply=False), False, "touch missing")
    c.set("t1", b"x", noreply=False)
    check_eq(c.touch("t1", 100, noreply=False), True, "touch existing")
    check_eq(c.get("t1"), b"x", "value after touch")
    c.touch("t1", -1, noreply=True)  # negative exptime: expires at once
    check_eq(c.get("t1"), None, "after touch -1 noreply")


def case_expiry(c):
    c.set("ex_neg", b"x", expire=-1, noreply=False)
    c.set("ex_past", b"x", expire=1000000000, noreply=False)
    c.set("ex_30d", b"x", expire=2592000, noreply=False)
    c.set("ex_abs", b"x", expire=int(time.time()) + 3600, noreply=False)
    check_eq(c.get_many(["ex_neg", "ex_past", "ex_30d", "ex_abs"]),
             {"ex_30d": b"x", "ex_abs": b"x"}, "negative/past exptimes expire at once")


def case_flush_all(c):
    c.set_many({"f1": b"1", "f2": b"2"}, noreply=False)
    check_eq(c.flush_all(noreply=False), True, "flush_all")
    check_eq(c.get_many(["f1", "f2"]), {}, "after flush_all")
    c.set("f3", b"3", noreply=False)
    check_eq(c.get("f3"), b"3", "set after flush survives")
    check_eq(c.flush_all(delay=100, noreply=False), True, "flush_all 100")
    check_eq(c.get("f3"), b"3", "a delayed flush does not act at once")
    c.flush_all(noreply=True)  # also cancels the delayed one
    check_eq(c.get("f3"), None, "after flush_all noreply")


def case_stats(c):
    st = c.stats()
    for name in (b"pid", b"uptime", b"curr_items", b"total_items", b"cmd_get", b"get_hits",
                 b"get_misses", b"curr_connections", b"limit_maxbytes", b"threads", b"version"):
        check(name in st, f"stats lacks {name!r}")
    check_eq(st[b"limit_maxbytes"], 64 * 1024 * 1024, "limit_maxbytes")
    check_eq(st[b"threads"], 4, "threads")
    hits, misses = st[b"get_hits"], st[b"get_misses"]
    c.set("s1", b"x", noreply=False)
    c.get("s1")
    c.get("s_missing")
    st2 = c.stats()
    check_eq(st2[b"get_hits"] - hits, 1, "get_hits delta")
    check_eq(st2[b"get_misses"] - misses, 1, "get_misses delta")
    settings = c.stats("settings")
    check_eq(settings[b"maxbytes"], 64 * 1024 * 1024, "stats settings maxbytes")
    check_eq(settings[b"cas_enabled"], b"yes", "stats settings cas_enabled")


def case_cache_memlimit(c):
    check_eq(c.cache_memlimit(100), True, "cache_memlimit 100")
    check_eq(c.stats()[b"limit_maxbytes"], 100 * 1024 * 1024, "limit_maxbytes after cache_memlimit")
    check_eq(c.cache_memlimit(64), True, "cache_memlimit 64")


def case_large_values(c):
    v = b"B" * 1048064  # 1 MB - 512 stores (t/getset.t)
    check_eq(c.set("big", v, noreply=False), True, "set 1 MB - 512")
    check_eq(c.get("big"), v, "get 1 MB - 512")
    try:
        c.set("big", b"B" * 1048577, noreply=False)
    except pmex.MemcacheServerError as e:
        check("too large" in str(e), f"error text {e}")
    else:
        raise rctest.Failure("a 1048577-byte value must fail with SERVER_ERROR object too large")
    check_eq(c.get("big"), None, "a too-large set removes the old value")
    check_eq(c.set("after", b"ok", noreply=False), True, "connection in sync after the error")


def case_quit(c):
    c.set("q", b"1", noreply=False)
    c.quit()
    check_eq(c.get("q"), b"1", "reconnect after quit")


def case_shutdown_disabled(c):
    try:
        c.shutdown()
    except pmex.MemcacheError as e:
        check("shutdown not enabled" in str(e) or isinstance(e, pmex.MemcacheUnknownCommandError),
              f"shutdown without -A: {type(e).__name__}: {e}")
    else:
        raise rctest.Failure("shutdown without -A must answer ERROR: shutdown not enabled")
    check_eq(c.version()[:4], b"1.6.", "still serving after a refused shutdown")


def case_hash_client(srv):
    hc = HashClient([("127.0.0.1", srv.port)], connect_timeout=3, timeout=5, use_pooling=False)
    try:
        check_eq(hc.set("h1", b"v1", noreply=False), True, "HashClient set")
        check_eq(hc.get("h1"), b"v1", "HashClient get")
        check_eq(hc.set_many({"h2": b"2", "h3": b"3"}, noreply=False), [], "HashClient set_many")
        check_eq(hc.get_many(["h1", "h2", "h3", "h4"]), {"h1": b"v1", "h2": b"2", "h3": b"3"},
                 "HashClient get_many")
        check_eq(hc.delete("h1", noreply=False), True, "HashClient delete")
        check_eq(hc.incr("h2", 40), 42, "HashClient incr")
    finally:
        hc.close()


def case_shutdown_enabled():
    """With -A, `shutdown` stops the server, which exits 0 (memcached: SIGINT path)."""
    srv = rctest.ServerProcess(["-A"], name="server with -A")
    srv.start()
    try:
        c = client(srv)
        c.set("x", b"1", noreply=False)
        c.shutdown()
        c.close()
        deadline = time.monotonic() + 10
        while srv.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        check(not srv.alive(), "server still running 10 s after shutdown")
        rc = srv.proc.returncode
        check(rc == 0, f"server exited with {rctest.describe_status(rc)} after shutdown")
    finally:
        srv._stopping = True
        srv.kill()


def main():
    r = rctest.Runner("pymemcache client round", time_limit=90)
    with rctest.ServerProcess() as srv:
        c = client(srv)
        cases = [case_version, case_set_get, case_get_many, case_add_replace, case_append_prepend,
                 case_gets_cas, case_delete, case_incr_decr, case_touch, case_expiry,
                 case_flush_all, case_stats, case_cache_memlimit, case_large_values, case_quit,
                 case_shutdown_disabled]
        for fn in cases:
            def run(fn=fn):
                c.flush_all(noreply=False)
                fn(c)
                srv.assert_alive(f"after {fn.__name__}")
            r.case(fn.__name__[5:].replace("_", " "), run)
        r.case("hash client (one server)", lambda: (case_hash_client(srv), srv.check_serving()))
        c.close()
        r.case("server still serving", srv.check_serving)
    r.case("shutdown with -A", case_shutdown_enabled)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
