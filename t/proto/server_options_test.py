#!/usr/bin/python3
# t/proto/server_options_test.py -- what the command-line options do, seen over the wire
# (PROTOCOL.md sections 2, 3, 6, 8 and 9; memcached's t/issue_61.t, t/dash-M.t, t/cas.t,
# t/stats.t, t/item_size_max.t, t/flush-all.t, t/stats-detail.t, t/issue_67.t, t/shutdown.t).
#
#   * -R 1: six pipelined sets in one write -> conn_yields >= 5; with the default -R 20 -> 0;
#   * -M -m 8: stores fail with "SERVER_ERROR out of memory storing object" instead of evicting,
#     store_no_memory counts them, earlier keys stay intact; deleting one item makes room for
#     one of the same size;
#   * -C: gets/gats print cas 0, `cas` answers EXISTS / NOT_FOUND, cas_enabled no;
#   * `stats` has exactly the 83 keys of PROTOCOL.md section 6 in order with
#     -o no_lru_crawler,no_lru_maintainer, and the 92 of the default run;
#   * -I 2m: a value just under 2 MB (random bytes with \r\n inside) round-trips byte-identical;
#     2 MB + 1 -> "SERVER_ERROR object too large for cache", the data is swallowed (a command
#     hidden in it is not run) and the old value is gone; -I 1k -o slab_chunk_max=1024: 900 B
#     stores, 1100 B does not;
#   * -l: host:port lists, a second -l option, IPv6 loopback bare and as [::1]:port (skipped if
#     ::1 is unusable); stats conns lists every listener; a listener's secs_since_last_cmd counts
#     from its creation;
#   * -F / -X / -W refuse flush_all, cachedump / metadump and watch with memcached's strings;
#   * cache_memlimit 16 -> limit_maxbytes 16 MiB, and filling past it evicts;
#   * -D '|' and the default ':' with `stats detail on`: per-prefix get/hit/set/del counts;
#   * MEMCACHED_PORT_FILENAME with -p -1: "TCP INET: <port>" and that port answers; stats
#     settings tcpport stays -1;
#   * verbosity 2 -> OK, stats settings verbosity 2;
#   * 1,000 mixed get/set/delete in one write -> 1,000 replies, in order, each right;
#   * SIGTERM while clients hold connections (one mid-value): exit 0 within 3 s.
# Every server listens on 127.0.0.1 (and ::1 in the IPv6 case) on free ports and is stopped and
# reaped; every wait is bounded.
import os
import random
import re
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import Failure, Skip, check, check_eq  # noqa: E402

SEED = 61061
MiB = 1024 * 1024
Server = rctest.ServerProcess


def pick(stats, *names):
    return {n: stats.get(n) for n in names}


def case_reqs_per_event():
    six_sets = b"set foobar 0 0 5\r\nBubba\r\n" * 6
    for args, what in ((["-R", "1"], "-R 1"), ([], "default -R 20")):
        with Server(args) as srv, srv.connect() as c:
            c.send(six_sets)
            replies = [c.read_line() for _ in range(6)]
            check_eq(replies, [b"STORED"] * 6, f"six pipelined sets with {what}")
            yields = int(c.stats()["conn_yields"])
            if args:
                check_eq(c.stats("settings")["reqs_per_event"], "1", "reqs_per_event")
                check(yields >= 5, f"conn_yields {yields} with -R 1 (want >= 5)")
            else:
                check_eq(yields, 0, "conn_yields with the default -R 20")


def case_dash_M():
    val = b"B" * 8192
    with Server(["-M", "-m", "8"]) as srv, srv.connect() as c:
        check_eq(c.stats("settings")["evictions"], "off", "stats settings evictions with -M")
        stored, reply = 0, None
        for i in range(4000):  # 8 MB / 8 KB = 1024: bounded well above
            reply = c.set(f"dash{i}", val)
            if reply != "STORED":
                break
            stored += 1
        check_eq(reply, "SERVER_ERROR out of memory storing object",
                 f"reply to set #{stored} once -m 8 is full")
        check(stored * len(val) >= 4 * MiB, f"only {stored} 8 KB values fit in -m 8")
        check_eq(c.set(f"dash{stored}", val), "SERVER_ERROR out of memory storing object",
                 "the next set")
        st = c.stats()
        check(int(st["store_no_memory"]) >= 2,
              f"store_no_memory {st['store_no_memory']} after two refused sets")
        check_eq(st["evictions"], "0", "evictions with -M")
        check_eq(int(st["curr_items"]), stored, "curr_items")
        for first in range(0, stored, 100):
            keys = [f"dash{i}" for i in range(first, min(first + 100, stored))]
            got = c.get_multi(keys)
            bad = [k for k in keys if k not in got or got[k][1] != val]
            check(not bad, f"{len(bad)} earlier keys lost or changed, e.g. {bad[:3]}")
        print(f"    {stored} x 8 KB stored in -m 8; {pick(st, 'store_no_memory', 'bytes')}")


def case_dash_M_delete_makes_room():
    """memcached (t/dash-M.t's idea): once -M refuses, deleting one item lets an item of the
    same size in."""
    val = b"B" * 8192
    with Server(["-M", "-m", "8"]) as srv, srv.connect() as c:
        stored = 0
        for i in range(4000):
            if c.set(f"dash{i}", val) != "STORED":
                break
            stored += 1
        check(stored > 0, "nothing stored")
        check_eq(c.cmd("delete dash0"), "DELETED", "delete")
        first = reply = c.set("after_delete", val)
        if reply != "STORED":
            st = c.stats()
            freed = 1  # how many deletes it takes (bounded), for the report
            while freed < 200 and reply != "STORED":
                c.cmd(f"delete dash{freed}")
                freed += 1
                reply = c.set("after_delete", val)
            raise Failure(f"set of 8 KB after deleting one 8 KB item (of {stored}) -> {first!r} "
                          f"with stats bytes {st['bytes']} of limit_maxbytes "
                          f"{st['limit_maxbytes']}; it took {freed} deletes to fit one"
                          + ("" if reply == "STORED" else " (still refused after 200)"))


def case_dash_C():
    with Server(["-C"]) as srv, srv.connect() as c:
        check_eq(c.stats("settings")["cas_enabled"], "no", "stats settings cas_enabled")
        check_eq(c.set("k", "v"), "STORED", "set")
        check_eq(c.cmd("gets k"), "VALUE k 0 1 0", "gets header with -C")
        check_eq(c.read_exact(8), b"v\r\nEND\r\n", "gets tail")
        check_eq(c.cmd("gats 100 k"), "VALUE k 0 1 0", "gats header with -C")
        check_eq(c.read_exact(8), b"v\r\nEND\r\n", "gats tail")
        check_eq(c.cmd("cas k 0 0 1 0\r\nx"), "EXISTS", "cas with unique 0")
        check_eq(c.cmd("cas k 0 0 1 1\r\nx"), "EXISTS", "cas with unique 1")
        check_eq(c.cmd("cas nokey 0 0 1 1\r\nx"), "NOT_FOUND", "cas on a missing key")
        check_eq(c.get("k"), b"v", "value after the refused cas")
        st = c.stats()
        check_eq(pick(st, "cas_hits", "cas_badval", "cas_misses"),
                 {"cas_hits": "0", "cas_badval": "2", "cas_misses": "1"}, "cas counters")


STATS_83 = """\
pid uptime time version libevent pointer_size rusage_user rusage_system max_connections
curr_connections total_connections rejected_connections connection_structures response_obj_oom
response_obj_count response_obj_bytes read_buf_count read_buf_bytes read_buf_bytes_free
read_buf_oom reserved_fds cmd_get cmd_set cmd_flush cmd_touch cmd_meta get_hits get_misses
get_expired get_flushed delete_misses delete_hits incr_misses incr_hits decr_misses decr_hits
cas_misses cas_hits cas_badval touch_hits touch_misses store_too_large store_no_memory auth_cmds
auth_errors bytes_read bytes_written limit_maxbytes accepting_conns listen_disabled_num
time_in_listen_disabled_us threads conn_yields hash_power_level hash_bytes hash_is_expanding
slab_reassign_rescues slab_reassign_chunk_rescues slab_reassign_evictions_nomem
slab_reassign_inline_reclaim slab_reassign_busy_items slab_reassign_busy_deletes
slab_reassign_running slabs_moved malloc_fails log_worker_dropped log_worker_written
log_watcher_skipped log_watcher_sent log_watchers unexpected_napi_ids round_robin_fallback bytes
curr_items total_items slab_global_page_pool expired_unfetched evicted_unfetched evictions
reclaimed crawler_reclaimed crawler_items_checked lrutail_reflocked""".split()


def stats_92():
    """The default run's keys: the 83 plus the crawler/maintainer ones (PROTOCOL.md section 6)."""
    keys = list(STATS_83)
    i = keys.index("slabs_moved") + 1
    keys[i:i] = ["lru_crawler_running", "lru_crawler_starts", "lru_maintainer_juggles"]
    keys.insert(keys.index("evicted_unfetched") + 1, "evicted_active")
    return keys + ["moves_to_cold", "moves_to_warm", "moves_within_lru", "direct_reclaims",
                   "lru_bumps_dropped"]


def case_stats_keys():
    check_eq(len(STATS_83), 83, "the reference list")
    for args, want in ((["-o", "no_lru_crawler,no_lru_maintainer"], STATS_83), ([], stats_92())):
        with Server(args) as srv, srv.connect() as c:
            c.send(b"stats\r\n")
            data, ok = c.recv_until(b"\r\nEND\r\n")
            check(ok, f"stats reply did not end: {data[-200:]!r}")
            lines = data.decode("latin-1").split("\r\n")[:-2]
            bad = [ln for ln in lines if not re.fullmatch(r"STAT \S+ \S.*", ln)]
            check(not bad, f"malformed stats lines: {bad[:3]}")
            names = [ln.split(" ")[1] for ln in lines]
            if names != want:
                missing = [n for n in want if n not in names]
                extra = [n for n in names if n not in want]
                raise Failure(f"stats {' '.join(args) or '(default options)'}: {len(names)} keys, "
                              f"want {len(want)}; missing {missing}, extra {extra}"
                              + ("; same set, different order" if not missing + extra else ""))


def case_item_size_max_2m():
    rng = random.Random(SEED)
    good = bytearray(rng.randbytes(2 * MiB - 512))
    for pos, ins in ((0, b"\r\n"), (len(good) // 2, b"\r\nEND\r\n"), (len(good) - 2, b"\r\n")):
        good[pos:pos + len(ins)] = ins
    with Server(["-I", "2m", "-m", "64"]) as srv, srv.connect(timeout=10) as c:
        check_eq(c.stats("settings")["item_size_max"], str(2 * MiB), "item_size_max")
        check_eq(c.store("set", "big", bytes(good)), "STORED", f"set of {len(good)} bytes")
        got = c.get("big")
        check(got == good, f"{len(good)}-byte value came back "
                           + ("missing" if got is None else f"as {len(got)} bytes, not identical"))
        # 2 MB + 1 bytes with a command line inside: it must be swallowed, not executed.
        hidden = b"\r\nset injected 0 0 1\r\nX\r\n"
        too_big = hidden + rng.randbytes(2 * MiB + 1 - len(hidden))
        check_eq(c.store("set", "big", too_big), "SERVER_ERROR object too large for cache",
                 f"set of {len(too_big)} bytes")
        check_eq(c.cmd("version")[:8], "VERSION ", "the command after the swallowed data")
        check_eq(c.get("injected"), None, "a command inside the swallowed data ran")
        check_eq(c.get("big"), None, "the old value after a too-large set")
        check(int(c.stats()["store_too_large"]) >= 1, "store_too_large not counted")


def case_item_size_max_1k():
    with Server(["-I", "1k", "-o", "slab_chunk_max=1024"]) as srv, srv.connect() as c:
        check_eq(c.stats("settings")["item_size_max"], "1024", "item_size_max")
        check_eq(c.store("set", "k", b"a" * 900), "STORED", "900-byte value with -I 1k")
        check_eq(c.store("set", "k2", b"b" * 1100), "SERVER_ERROR object too large for cache",
                 "1100-byte value with -I 1k")
        check_eq(c.get("k"), b"a" * 900, "the 900-byte value")
        check_eq(c.cmd("version")[:8], "VERSION ", "the command after the swallowed data")


def listeners(c):
    """{addr: {field: value}} of the conn_listening entries of `stats conns`, plus our own entry."""
    by_fd = {}
    for name, value in c.stats("conns").items():
        fd, field = name.split(":", 1)
        by_fd.setdefault(fd, {})[field] = value
    listening = {e["addr"]: e for e in by_fd.values() if e.get("state") == "conn_listening"}
    clients = [e for e in by_fd.values() if e.get("state") != "conn_listening"]
    return listening, clients


def answers_version(conn, where):
    """`version` over `conn`, then a close the server has certainly seen (stats conns after it
    must not list the connection)."""
    with conn as c:
        check_eq(c.cmd("version")[:8], "VERSION ", f"version over {where}")
        c.close_graceful()


def case_listen_ports():
    p2, p3 = rctest.free_port(), rctest.free_port()
    with Server(["-l", f"127.0.0.1:{p2},127.0.0.1:{p3}"]) as srv, srv.connect() as c:
        want = {f"tcp:127.0.0.1:{p}" for p in (srv.port, p2, p3)}
        for p in (p2, p3):
            answers_version(rctest.Conn(p), f"127.0.0.1:{p}")
        with rctest.Conn(p2) as c2:
            c2.cmd("version")
            listening, clients = listeners(c)
        check_eq(set(listening), want, "stats conns listeners (-l 127.0.0.1 -l host:p2,host:p3)")
        check_eq(sorted(e.get("listen_addr") for e in clients),
                 sorted([f"tcp:127.0.0.1:{srv.port}", f"tcp:127.0.0.1:{p2}"]),
                 "listen_addr of the two client connections")


def ipv6_loopback_usable():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def case_listen_ipv6():
    if not ipv6_loopback_usable():
        raise Skip("IPv6 loopback ::1 not usable here")
    p2, p3 = rctest.free_port(), rctest.free_port()
    with Server(["-l", f"::1,127.0.0.1:{p2},[::1]:{p3}"]) as srv, srv.connect() as c:
        for p in (srv.port, p3):
            answers_version(rctest.Conn(sock=socket.create_connection(("::1", p), timeout=5)),
                            f"[::1]:{p}")
        answers_version(rctest.Conn(p2), f"127.0.0.1:{p2}")
        listening, _ = listeners(c)
        check_eq(set(listening), {f"tcp:127.0.0.1:{srv.port}", f"tcp6:[::1]:{srv.port}",
                                  f"tcp:127.0.0.1:{p2}", f"tcp6:[::1]:{p3}"},
                 "stats conns listeners")


def case_listener_idle_secs():
    t0 = time.monotonic()
    with Server() as srv, srv.connect() as c:
        listening, _ = listeners(c)
        secs = int(listening[f"tcp:127.0.0.1:{srv.port}"]["secs_since_last_cmd"])
        age = time.monotonic() - t0
        check(secs <= age + 1, f"a listener {age:.2f} s old reports secs_since_last_cmd {secs} "
                               f"(memcached counts from the listener's creation)")


def case_disable_flags():
    with Server(["-F", "-X", "-W"]) as srv, srv.connect() as c:
        check_eq(c.stats("settings")["flush_enabled"], "no", "stats settings flush_enabled")
        check_eq(c.set("keep", "1"), "STORED", "set")
        check_eq(c.cmd("flush_all"), "CLIENT_ERROR flush_all not allowed", "flush_all with -F")
        check_eq(c.cmd("flush_all 0"), "CLIENT_ERROR flush_all not allowed", "flush_all 0")
        c.send(b"flush_all noreply\r\n")
        check_eq(c.cmd("version")[:8], "VERSION ", "after flush_all noreply (no reply expected)")
        check_eq(c.get("keep"), b"1", "the key after the refused flush_all")
        check_eq(c.stats()["cmd_flush"], "3", "cmd_flush counts refused flush_all")
        check_eq(c.cmd("stats cachedump 1 0"), "CLIENT_ERROR stats cachedump not allowed",
                 "stats cachedump with -X")
        check_eq(c.cmd("lru_crawler metadump all"), "ERROR metadump not allowed", "metadump -X")
        check_eq(c.cmd("watch"), "CLIENT_ERROR watch commands not allowed", "watch with -W")
        check_eq(c.cmd("watch fetchers mutations"), "CLIENT_ERROR watch commands not allowed",
                 "watch fetchers mutations with -W")
        check_eq(c.get("keep"), b"1", "the connection still works")


def case_cache_memlimit():
    with Server() as srv, srv.connect(timeout=10) as c:
        check_eq(c.cmd("cache_memlimit 16"), "OK", "cache_memlimit 16")
        check_eq(c.stats()["limit_maxbytes"], str(16 * MiB), "limit_maxbytes")
        check_eq(c.stats("settings")["maxbytes"], str(16 * MiB), "stats settings maxbytes")
        val = b"m" * 10000
        c.send(b"".join(b"set m%d 0 0 %d noreply\r\n%s\r\n" % (i, len(val), val)
                        for i in range(3000)), timeout=20)  # 30 MB
        check_eq(c.cmd("version", timeout=20)[:8], "VERSION ", "after 30 MB of sets")
        st = c.stats()
        check(int(st["evictions"]) > 0, f"no evictions after 30 MB into 16 MB: {st['evictions']}")
        check(int(st["bytes"]) <= 16 * MiB, f"bytes {st['bytes']} > 16 MiB")
        got = c.get_multi([f"m{i}" for i in range(2995, 3000)])
        check(all(got.get(f"m{i}", (0, b""))[1] == val for i in range(2995, 3000)),
              f"the newest keys are not all readable: {sorted(got)}")


def prefix_dump(c, delim, other):
    """Traffic on prefixes foo and bar (with `delim`), an unprefixed key and a key that uses the
    `other` character; returns the set of `stats detail dump` lines."""
    check_eq(c.cmd("stats detail on"), "OK", "stats detail on")
    for key in (f"foo{delim}a", f"foo{delim}b", f"bar{delim}x", "nopfx", f"foo{other}c"):
        check_eq(c.set(key, "1"), "STORED", f"set {key}")
    check_eq(c.get(f"foo{delim}a"), b"1", "get (hit)")
    check_eq(c.get(f"foo{delim}zz"), None, "get (miss)")
    check_eq(c.get("nopfx"), b"1", "get nopfx")
    check_eq(c.cmd(f"delete foo{delim}b"), "DELETED", "delete")
    c.send(b"stats detail dump\r\n")
    data, ok = c.recv_until(b"END\r\n")
    check(ok, f"stats detail dump did not end: {data!r}")
    check_eq(c.cmd("stats detail off"), "OK", "stats detail off")
    return set(data.decode().split("\r\n")[:-2])


def case_prefix_stats():
    for delim, other, args in (("|", ":", ["-D", "|"]), (":", "|", [])):
        with Server(args) as srv, srv.connect() as c:
            check_eq(c.stats("settings")["stat_key_prefix"], delim, "stat_key_prefix")
            check_eq(prefix_dump(c, delim, other),
                     {"PREFIX foo get 2 hit 1 set 2 del 1", "PREFIX bar get 0 hit 0 set 1 del 0"},
                     f"stats detail dump with delimiter {delim!r} (PREFIX lines in any order)")


class PortFileServer(rctest.ServerProcess):
    """Started with -p -1 (overriding the harness's -p): the port is read from the port file."""

    def __init__(self, path, args):
        super().__init__(list(args) + ["-p", "-1"], env={"MEMCACHED_PORT_FILENAME": path},
                         name="server with -p -1")
        self.path = path

    def _can_connect(self):
        try:
            with open(self.path) as f:
                self.file_text = f.read()
        except OSError:
            return False
        m = re.search(r"^TCP INET: (\d+)$", self.file_text, re.M)
        if not m:
            return False
        self.port = int(m.group(1))
        return super()._can_connect()


def case_port_file():
    with tempfile.TemporaryDirectory(prefix="rc-opts-") as tmp:
        path = os.path.join(tmp, "ports")
        with PortFileServer(path, []) as srv, srv.connect() as c:
            check_eq(srv.file_text.splitlines(), [f"TCP INET: {srv.port}"], "port file")
            check(srv.port > 0, "port 0 in the port file")
            check_eq(c.cmd("version")[:8], "VERSION ", f"version on port {srv.port}")
            check_eq(os.listdir(tmp), ["ports"], "files left next to the port file")


def case_port_file_tcpport():
    with tempfile.TemporaryDirectory(prefix="rc-opts-") as tmp:
        path = os.path.join(tmp, "ports")
        with PortFileServer(path, []) as srv, srv.connect() as c:
            check_eq(c.stats("settings")["tcpport"], "-1",
                     f"stats settings tcpport with -p -1 (bound port {srv.port})")


def case_verbosity():
    with Server() as srv, srv.connect() as c:
        check_eq(c.cmd("verbosity 2"), "OK", "verbosity 2")
        check_eq(c.stats("settings")["verbosity"], "2", "stats settings verbosity")
        c.send(b"verbosity 0 noreply\r\n")
        check_eq(c.stats("settings")["verbosity"], "0", "verbosity after `verbosity 0 noreply`")


def case_pipelining():
    rng = random.Random(SEED)
    model, cmds, expect = {}, [], []
    for i in range(1000):
        key = f"p{rng.randrange(40)}"
        op = rng.choice(("get", "get", "set", "delete"))
        if op == "set":
            flags = rng.randrange(1 << 16)
            val = bytes(rng.choice(b"ab\r\n \x00z") for _ in range(rng.randrange(0, 60)))
            cmds.append(b"set %s %d 0 %d\r\n%s\r\n" % (key.encode(), flags, len(val), val))
            expect.append(b"STORED\r\n")
            model[key] = (flags, val)
        elif op == "get":
            cmds.append(b"get %s\r\n" % key.encode())
            hit = model.get(key)
            expect.append((b"VALUE %s %d %d\r\n%s\r\n" % (key.encode(), hit[0], len(hit[1]), hit[1])
                           if hit else b"") + b"END\r\n")
        else:
            cmds.append(b"delete %s\r\n" % key.encode())
            expect.append(b"DELETED\r\n" if model.pop(key, None) else b"NOT_FOUND\r\n")
    want = b"".join(expect)
    with Server() as srv, srv.connect(timeout=10) as c:
        c.send(b"".join(cmds))
        data, ok = c.recv_until(lambda b: len(b) >= len(want), timeout=10)
        if data != want:
            pos = 0
            for n, e in enumerate(expect):
                if data[pos:pos + len(e)] != e:
                    raise Failure(f"reply #{n + 1} to {cmds[n][:40]!r}: expected {e[:80]!r}, got "
                                  f"{data[pos:pos + len(e) + 20][:100]!r} ({len(data)} of "
                                  f"{len(want)} bytes received)")
                pos += len(e)
            raise Failure(f"{len(data) - len(want)} bytes after the 1,000 replies: "
                          f"{data[pos:][:80]!r}")
        check_eq(c.read_for(silence=0.1), b"", "bytes after the 1,000 replies")


def case_sigterm_with_clients():
    srv = Server(stop_timeout=10, name="server for SIGTERM")
    srv.start()
    with srv.connect() as idle, srv.connect() as mid:
        check_eq(idle.set("x", "y"), "STORED", "set")
        mid.send(b"set half 0 0 10\r\nabc")  # a value half sent
        mid.fill(0.1)
        t0 = time.monotonic()
        srv.stop(sig=signal.SIGTERM, expect_status=(0,))
        took = time.monotonic() - t0
        check(took < 3, f"exit took {took:.1f} s after SIGTERM with 2 open connections")
        check(idle.wait_closed(2) and mid.wait_closed(2), "client connections not closed")


def main():
    r = rctest.Runner("server options", time_limit=90)
    r.case("-R 1: conn_yields grows with pipelined sets; -R 20: 0", case_reqs_per_event)
    r.case("-M -m 8: out of memory instead of evicting", case_dash_M)
    r.case("-M -m 8: a delete makes room for a same-size set", case_dash_M_delete_makes_room)
    r.case("-C: cas 0, cas refused, cas_enabled no", case_dash_C)
    r.case("stats: 83 keys in order (no crawler/maintainer), 92 by default", case_stats_keys)
    r.case("-I 2m: 2 MB - 512 round-trips, 2 MB + 1 refused and swallowed", case_item_size_max_2m)
    r.case("-I 1k -o slab_chunk_max=1024: 900 B stores, 1100 B does not", case_item_size_max_1k)
    r.case("-l host:port lists and two -l options; stats conns listeners", case_listen_ports)
    r.case("-l ::1,127.0.0.1:port,[::1]:port: IPv4 and IPv6 loopback", case_listen_ipv6)
    r.case("stats conns: listener secs_since_last_cmd from its creation", case_listener_idle_secs)
    r.case("-F -X -W: flush_all, cachedump/metadump, watch refused", case_disable_flags)
    r.case("cache_memlimit 16: limit_maxbytes 16 MiB, evicts past it", case_cache_memlimit)
    r.case("-D and stats detail: per-prefix counts", case_prefix_stats)
    r.case("MEMCACHED_PORT_FILENAME with -p -1", case_port_file)
    r.case("stats settings tcpport with -p -1 is -1", case_port_file_tcpport)
    r.case("verbosity 2: OK, stats settings verbosity 2", case_verbosity)
    r.case("1,000 pipelined get/set/delete: replies in order", case_pipelining)
    r.case("SIGTERM with open connections: exit 0 within 3 s", case_sigterm_with_clients)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
