#!/usr/bin/python3
# t/proto/memory_test.py -- memory honesty under -m (DESIGN.md section 3: "RSS must stay within a
# few percent of -m plus the hash table").
#
# Starts the server with -m 64, writes ten times 64 MB of values whose sizes are drawn
# deterministically (seeded, log-uniform from 10 B to 100 KB) with pipelined noreply sets, then:
#   * `stats` bytes <= limit_maxbytes (the accounting never overshoots the limit);
#   * evictions > 0 and the newest keys are readable and intact (the server evicts rather than
#     refusing stores or losing recent data);
#   * what the writes added to the process RSS (/proc/PID/status VmRSS, after the writes less
#     before them) <= (limit_maxbytes + hash_bytes) * 1.05. The idle RSS (about 6.7 MB, 5.8 MB of
#     it shared-library text) is a constant the -m bound is not about: counted in, it left a 64 MB
#     cache a margin of 0.1 MB under a 1.10 bound on the total, and a machine with other library
#     builds failed it.
# Stock memcached is known to miss the RSS bound (slab pages, per-thread buffers and the LRU
# crawler's structures come on top of -m); when the binary under test is memcached the RSS result
# is reported but not enforced. ringcached must pass it. Bounded: ~640 MB over loopback, 30 s max.
#
# Then overwrite churn (issue 14): -m 16, 8,000 keys of 10 B-8 KB (twice what fits) set at random,
# 10 x 16 MB in all. The store must reclaim the dead space overwrites leave rather than evict
# live items: `stats bytes` >= 72% of -m (0.76-0.78 measured: 0.80-0.81 before the size credit
# kept more, smaller items for a few bytes each; memcached keeps 0.49 of -m on the same writes,
# ringcached 0.64 before it compacted dead space), and `stats segments` says at most
# 20% of the segments' bytes are dead.
# Not run against stock memcached (`stats segments` is ringcached's).
import os
import random
import sys
import time

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import Failure, check, check_eq  # noqa: E402

SEED = 4242
MEGABYTE = 1024 * 1024
LIMIT_MB = 64
WRITE_FACTOR = 10
MIN_SIZE, MAX_SIZE = 10, 100 * 1000
RSS_SLACK = 1.05
TIME_BUDGET = 30.0


def sizes(rng):
    """Value sizes, log-uniform in [MIN_SIZE, MAX_SIZE]."""
    lo, hi = MIN_SIZE, MAX_SIZE
    while True:
        yield int(lo * (hi / lo) ** rng.random())


def value_for(pool, i, size):
    """A deterministic value: a slice of the random pool, stamped with the key number."""
    stamp = b"%d:" % i
    start = (i * 7919) % (len(pool) - MAX_SIZE)
    return (stamp + pool[start:start + size])[:size] if size >= len(stamp) else stamp[:size]


def main():
    r = rctest.Runner("memory honesty (-m 64)", time_limit=int(TIME_BUDGET) + 30)
    result = {}

    def fill_and_measure():
        rng = random.Random(SEED)
        pool = bytes(rng.getrandbits(8) for _ in range(MAX_SIZE + 65536))
        size_gen = sizes(rng)
        target = WRITE_FACTOR * LIMIT_MB * MEGABYTE
        with rctest.ServerProcess(["-m", str(LIMIT_MB)]) as srv, srv.connect(timeout=20) as c:
            idle_rss = rctest.vm_rss_bytes(srv.pid)
            started = time.monotonic()
            written = 0
            n = 0
            batch = []
            batch_bytes = 0
            last = []
            while written < target:
                size = next(size_gen)
                key = b"mem_%07d" % n
                val = value_for(pool, n, size)
                batch.append(b"set %s 0 0 %d noreply\r\n%s\r\n" % (key, size, val))
                batch_bytes += size
                written += size
                last = (last + [(key, val)])[-5:]
                n += 1
                if batch_bytes >= 4 * MEGABYTE or written >= target:
                    c.send(b"".join(batch), timeout=TIME_BUDGET)
                    batch, batch_bytes = [], 0
                    if time.monotonic() - started > TIME_BUDGET:
                        raise Failure(f"writing took over {TIME_BUDGET:.0f} s "
                                      f"({written / MEGABYTE:.0f} MB written)")
                    if c.buf:
                        raise Failure(f"noreply sets answered: {bytes(c.buf[:200])!r}")
            reply = c.cmd("version", timeout=TIME_BUDGET)  # everything before it was processed
            check(reply.startswith("VERSION "), f"version after the writes: {reply!r}")
            elapsed = time.monotonic() - started
            srv.assert_alive("after the writes")
            st = c.stats()
            rss = rctest.vm_rss_bytes(srv.pid)
            result.update(items=n, written=written, elapsed=elapsed, rss=rss, idle_rss=idle_rss,
                          limit=int(st["limit_maxbytes"]), hash_bytes=int(st["hash_bytes"]),
                          bytes=int(st["bytes"]), curr_items=int(st["curr_items"]),
                          evictions=int(st["evictions"]))
            print(f"    wrote {n} items, {written / MEGABYTE:.0f} MB in {elapsed:.1f} s; "
                  f"bytes={result['bytes']} curr_items={result['curr_items']} "
                  f"evictions={result['evictions']} limit_maxbytes={result['limit']} "
                  f"hash_bytes={result['hash_bytes']} VmRSS={rss} (idle {idle_rss})", flush=True)
            check_eq(result["limit"], LIMIT_MB * MEGABYTE, "limit_maxbytes")
            # The newest values survive, intact.
            for key, val in last:
                got = c.get(key)
                check(got == val, f"newest key {key!r}: "
                      + ("missing" if got is None else f"{len(got)} bytes, differs"))
            srv.check_serving("after the writes")

    def accounting():
        check(result, "no measurements (fill failed)")
        check(result["bytes"] <= result["limit"],
              f"stats bytes {result['bytes']} > limit_maxbytes {result['limit']}")
        check(result["evictions"] > 0, "10x the limit written but evictions == 0")
        check(result["curr_items"] > 0, "curr_items == 0 after the writes")

    def rss_bound():
        check(result, "no measurements (fill failed)")
        if os.environ.get("RC_SANITIZERS", "no") not in ("", "no"):
            # AddressSanitizer's allocator and quarantine own the heap: RSS says nothing then.
            raise rctest.Skip("sanitizer build: RSS is AddressSanitizer's, not the store's")
        check(result["rss"] is not None and result["idle_rss"] is not None, "VmRSS unavailable")
        grown = result["rss"] - result["idle_rss"]
        bound = (result["limit"] + result["hash_bytes"]) * RSS_SLACK
        verdict = (f"VmRSS grew {grown / MEGABYTE:.1f} MB (to {result['rss'] / MEGABYTE:.1f} MB) "
                   f"vs bound {bound / MEGABYTE:.1f} MB ((limit_maxbytes + hash_bytes) x {RSS_SLACK})")
        if grown <= bound:
            print(f"    {verdict}: within", flush=True)
            return
        if rctest.is_stock_memcached():
            print(f"    KNOWN: stock memcached exceeds the bound: {verdict}; not enforced for "
                  f"memcached itself", flush=True)
            return
        raise Failure(verdict)

    def overwrite_churn():
        if rctest.is_stock_memcached():
            raise rctest.Skip("stats segments is ringcached's own")
        rng = random.Random(SEED + 1)
        pool = bytes(rng.getrandbits(8) for _ in range(MAX_SIZE + 65536))
        limit_mb, keys = 16, 8000
        with rctest.ServerProcess(["-m", str(limit_mb)]) as srv, srv.connect(timeout=20) as c:
            started = time.monotonic()
            written, batch, batch_bytes = 0, [], 0
            while written < 10 * limit_mb * MEGABYTE:
                n = rng.randrange(keys)
                size = rng.randint(10, 8000)
                val = value_for(pool, n, size)
                batch.append(b"set churn_%05d 0 0 %d noreply\r\n%s\r\n" % (n, size, val))
                batch_bytes += size
                written += size
                if batch_bytes >= 2 * MEGABYTE:
                    c.send(b"".join(batch), timeout=TIME_BUDGET)
                    batch, batch_bytes = [], 0
                    if time.monotonic() - started > TIME_BUDGET:
                        raise Failure(f"writing took over {TIME_BUDGET:.0f} s")
            c.send(b"".join(batch), timeout=TIME_BUDGET)
            check(c.cmd("version", timeout=TIME_BUDGET).startswith("VERSION "), "version")
            st = c.stats()
            seg = c.stats("segments")
            live, limit = int(st["bytes"]), int(st["limit_maxbytes"])
            dead, total = int(seg["segment_dead_bytes"]), int(seg["segment_bytes"])
            print(f"    bytes={live} ({live / limit:.2f} of -m) curr_items={st['curr_items']} "
                  f"evictions={st['evictions']} segment_dead_bytes={dead} of {total} "
                  f"background_reclaims={seg['background_reclaims']}", flush=True)
            check(int(st["evictions"]) > 0, "no evictions: the churn did not fill the cache")
            check(live * 100 >= limit * 72, f"live bytes {live} < 72% of -m {limit}")
            check(dead * 100 <= total * 20, f"dead bytes {dead} > 20% of segment bytes {total}")
            # What is charged to -m: the sealed segments, the free ones and the tables, plus
            # the heads being written; over the limit by at most a copy's forced charge.
            charged, size = int(seg["store_allocated"]), int(seg["segment_size"])
            known = total + int(seg["free_segments"]) * size + int(st["hash_bytes"])
            print(f"    store_allocated={charged} allocator_overhead="
                  f"{seg['allocator_overhead']}", flush=True)
            check(known <= charged <= limit + size,
                  f"store_allocated {charged}: not within [{known}, {limit + size}]")
            srv.check_serving("after the churn")

    r.case("write 10 x 64 MB of mixed sizes", fill_and_measure)
    r.case("stats bytes <= limit_maxbytes, evicting", accounting)
    r.case("RSS growth <= (limit_maxbytes + hash_bytes) + 5%", rss_bound)
    r.case("overwrite churn: dead space reclaimed, >= 72% of -m live", overwrite_churn)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
