#!/usr/bin/python3
# bench/memory_hit_ratio.py -- how much data ringcached and memcached keep in the same -m, and how
# well they choose what to keep: the memory and hit-ratio rows of issue 4, side by side.
#
# Every measure starts a fresh server of each kind with the same -m (64 MB unless said otherwise)
# and drives it with rc-loadgen over one connection, with seeded key choices, so both servers see
# the same request sequence (a look-aside fill follows its miss by at most the pipeline depth).
# Keys are 16 bytes ("key:000000000042"), so key + value sizes are exact.
#
#   (a) Overfill: 2 x -m of key+value bytes, as sets of distinct keys, with 32 B and with 1 KB
#       values. Kept = curr_items x (16 + value) / -m, checked by reading back a uniform sample of
#       the keys (the hit ratio of the sample times the keys written). RSS / -m is VmRSS after
#       the overfill over -m (so it includes the hash table and the process itself).
#   (b) Item overhead: `stats bytes` / curr_items - (key + value) for 10,000 items of a known
#       size, in a server that holds all of them.
#   (c) Zipf(0.99) look-aside over 3x capacity, 1 KB values: gets drawn from Zipf over
#       3 x (-m / (16 + 1024)) keys; a miss is followed by a set of that key. Warm-up first, then
#       the steady hit ratio. The ideal is the probability mass of the top capacity keys.
#   (d) Hot set: 20% of capacity (1 KB values) is read (look-aside) after every half capacity of
#       new cold keys written once and never read, for 10 x capacity of cold keys in all. Reported:
#       the hot set's hit ratio after its first pass (target 1.000).
#   (e) Size shift: memory is filled 2x over with 100 B values, then the workload moves to 4 KB
#       values: look-aside uniform gets over a 4 KB key set of half of -m. Reported: the hit ratio
#       of the second half of that phase (after the shift), and of the first half.
#
#   (f) Churn (issue 14): overwrite-heavy workloads with mixed value sizes, to judge how much of
#       -m each server keeps live when overwrites leave dead space behind (memcached frees an
#       overwritten item's chunk at once; ringcached's log-structured segments keep it until they
#       are compacted or evicted). One row per combination of
#         value sizes   uniform 10 B - 20 KB (rc-loadgen --value-sizes uniform:10:20000, mean
#                       10,005 B), or heavy-tailed: bounded Pareto on 100 B - 100 KB with
#                       alpha 1 (pareto:100:102400:1: median 200 B, 90% under 1 KB, 0.9% over
#                       10 KB, mean 694 B, a third of the bytes in values over 10 KB);
#         set:get       1:1 and 1:10;
#         key choice    uniform and Zipf(0.99);
#         -m            64 and 512 (--churn-m);
#       each size drawn afresh per set, so an overwrite usually changes the item's size. The key
#       space holds 3 x -m of key+value bytes (keys = 3 x -m / (16 + mean value)), so the cache
#       must choose. Each row starts a fresh server of each kind (the order alternates by row)
#       and sends both the same seeded sequence over one connection:
#         1. fill: sets only, uniform key choice whatever the row's, the row's sizes, until
#            2 x -m bytes are written (pipeline 64). That leaves 49% of the keys written, about
#            1.5 x -m of key+value, so both servers are full of live items and evicting before the
#            workload starts; filling with Zipf's key choice would not (its sets keep hitting the
#            same keys, and memcached would hold every key written at -m 512);
#         2. warm-up: the row's set:get mix and key choice, pipeline 16, a quarter as many
#            requests as the window;
#         3. the measured window: the same, for enough requests to write -m bytes of sets, at
#            least --churn-min-ops and at most --churn-max-ops (full: 200k-1.5M, --quick:
#            100k-300k), so the heavy-tailed 1:10 rows at -m 512 write only part of -m.
#       Reported per server: the key+value bytes held at the end (every key's value size asked for
#       with `mg <key> s` after the window: the user's data, counted alike for both servers),
#       `stats bytes` (live items, each server's own item header included: 59 bytes an item in
#       memcached, 16-23 here in these rows) and curr_items at the end; the get hit ratio of the
#       window (from the difference of get_hits and get_misses, checked against the client's
#       count); evictions in the window; VmRSS / -m at the end; set and get p99 latency in the
#       window (rc-loadgen's, send to reply, so with pipeline 16 it includes waiting behind up to
#       15 requests); the ratios ringcached / memcached of key+value held, live bytes and hit
#       ratio; and ringcached's segment_dead_bytes (space in sealed segments held by no live item),
#       from `stats` or `stats segments`, "-" where the binary has neither. Every client run is
#       bounded by a request count and a time limit; a row where a time limit cut a run short is
#       marked, since its two servers then did not see the same requests. Before each server's run
#       the script waits (up to --quiet-wait s) for the machine to be quiet, and a latency measured
#       while other processes kept more than 0.15 of a core busy is marked *.
#       --quick runs four rows at -m 64 (each size, ratio and key choice twice).
#
# RSS / -m is also sampled after (c), (d) and (e); the table's "any overfill" row is the largest.
#
# Usage: bench/memory_hit_ratio.py [--quick] [--only a,b,c,d,e,f] [--churn-m 64,512]
#                                  [--churn-rows ID|PATTERN,...] [--list-churn]
#                                  (make bench-memory runs it)
import argparse
import fnmatch
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (CLK_TCK, Server, children_cpu_seconds, install_signal_handlers,  # noqa
                      loadgen_json, machine_times, run_client, stop_all, version_of,
                      vm_rss_bytes, wait_for_quiet)

KEY_LEN = 16
MB = 1 << 20
SERVERS = ("ringcached", "memcached")

# (f): the value-size distributions (rc-loadgen --value-sizes), key choices and ratios.
CHURN_SIZES = (("uniform 10 B-20 KB", "uni", "uniform:10:20000"),
               ("Pareto 100 B-100 KB", "par", "pareto:100:102400:1"))
CHURN_RATIOS = ("1:1", "1:10")
CHURN_DISTS = (("uniform", "uniform"), ("Zipf 0.99", "zipf:0.99"))
CHURN_PIPELINE = 16
CHURN_FILL_PIPELINE = 64
NOISY_CORES = 0.15  # other load during a window above which its latencies are marked (*)
# --quick: a half of the 2 x 2 x 2 design at each -m, in which every size, ratio and key choice
# appears twice and every pair of them once.
CHURN_QUICK = (("uni", "1:1", "uniform"), ("uni", "1:10", "Zipf 0.99"),
               ("par", "1:1", "Zipf 0.99"), ("par", "1:10", "uniform"))


def value_sizes_mean(spec):
    """The exact mean of rc-loadgen's --value-sizes SPEC (ValueSizes::mean() in
    bench/loadgen/workload.cc, computed the same way)."""
    shape, *f = spec.split(":")
    if shape == "uniform":
        return (int(f[0]) + int(f[1])) / 2
    if shape == "pareto":
        lo, hi, alpha = int(f[0]), int(f[1]), float(f[2])
        tail = 1 - (lo / hi) ** alpha
        # Sizes are rounded to whole bytes: E = lo + sum over k in [lo, hi) of P(size > k).
        return lo + sum((lo / (k + 0.5)) ** alpha - (lo / hi) ** alpha
                        for k in range(lo, hi)) / tail
    return float(f[0] if f else shape)


class ChurnRow:
    """One workload of (f) and the request counts of its three phases."""

    def __init__(self, size, ratio, dist, memory_mb, min_ops, max_ops):
        (self.size_title, size_id, self.sizes), (self.dist_title, self.dist) = size, dist
        self.ratio, self.memory_mb = ratio, memory_mb
        self.id = f"{size_id}-{ratio}-{dist[1].split(':')[0]}-m{memory_mb}"
        self.title = f"{self.size_title}, {ratio}, {self.dist_title}"
        self.value_mean = value_sizes_mean(self.sizes)
        item = KEY_LEN + self.value_mean
        limit = memory_mb * MB
        self.keys = round(3 * limit / item)
        self.fill_sets = math.ceil(2 * limit / item)
        sets, gets = (int(x) for x in ratio.split(":"))
        set_bytes_per_request = item * sets / (sets + gets)
        self.ops = min(max_ops, max(min_ops, math.ceil(limit / set_bytes_per_request)))
        self.warm_ops = self.ops // 4
        self.window_writes = self.ops * set_bytes_per_request / limit  # x -m, expected


def churn_rows(opts):
    rows = []
    for m in opts.churn_m:
        for size in CHURN_SIZES:
            for ratio in CHURN_RATIOS:
                for dist in CHURN_DISTS:
                    if opts.quick and (size[1], ratio, dist[0]) not in CHURN_QUICK:
                        continue
                    rows.append(ChurnRow(size, ratio, dist, m, opts.churn_min_ops,
                                         opts.churn_max_ops))
    if opts.churn_rows:
        wanted = opts.churn_rows.split(",")
        rows = [r for r in rows if any(fnmatch.fnmatchcase(r.id, w) for w in wanted)]
    return rows


class Runner:
    def __init__(self, opts):
        self.opts = opts
        self.binaries = {"ringcached": opts.ringcached, "memcached": opts.memcached}
        self.rss = {name: [] for name in SERVERS}  # (measure, RSS / -m)
        self.errors = {name: {} for name in SERVERS}  # measure -> refused sets while filling

    def server(self, name, memory_mb):
        return Server(name, self.binaries[name], threads=1, memory_mb=memory_mb,
                      cpu=self.opts.server_cpu)

    def loadgen(self, server, *args, timeout=1800):
        cmd = [self.opts.loadgen, "-s", f"127.0.0.1:{server.port}", "-c", "1", "-q",
               "--key-len", str(KEY_LEN)] + [str(a) for a in args]
        out, err, rc = run_client(cmd, cpu=self.opts.client_cpu, timeout=timeout)
        # A preload that saw error replies exits 1 but still prints its JSON line.
        j = loadgen_json(out) if out.lstrip().startswith("{") else None
        if rc != 0 and not (rc == 1 and j is not None and j.get("preload_errors")):
            raise RuntimeError(f"rc-loadgen failed against {server.name}:\n{' '.join(cmd)}\n"
                               f"{err}{out}")
        return j

    def fill(self, server, keys, value, offset=0, measure=""):
        """Sets keys [offset, offset + keys) once each, in order, pipelined. Sets the server
        refuses (memcached: "SERVER_ERROR out of memory storing object" while overfilled) are
        counted in self.errors, not fatal."""
        j = self.loadgen(server, "--preload-only", "-k", keys, "--key-offset", offset,
                         "-v", value)
        if j.get("preload_errors"):
            self.errors[server.name][measure] = (self.errors[server.name].get(measure, 0) +
                                                 j["preload_errors"])
        return j

    def note_rss(self, server, measure, memory_mb):
        time.sleep(self.opts.settle)
        rss = vm_rss_bytes(server.pid)
        ratio = rss / (memory_mb * MB) if rss else float("nan")
        self.rss[server.name].append((measure, ratio))
        return ratio

    # (a)
    def overfill(self, name, value):
        m = self.opts.memory_mb
        keys = (2 * m * MB) // (KEY_LEN + value)
        with self.server(name, m) as srv:
            self.fill(srv, keys, value, measure=f"overfill {value} B")
            st = srv.stats()
            items = int(st["curr_items"])
            sample = self.loadgen(srv, "-k", keys, "-v", value, "-R", "0:1", "-d", "32",
                                  "-n", self.opts.sample, "-t", "0", "-S", "7")
            rss = self.note_rss(srv, f"overfill {value} B", m)
        kept = items * (KEY_LEN + value) / (m * MB)
        readback = sample["hit_ratio"] * keys * (KEY_LEN + value) / (m * MB)
        return {"kept": kept, "readback": readback, "rss": rss, "items": items, "keys": keys}

    # (b)
    def overhead(self, name, value):
        n = 10000
        with self.server(name, 1024) as srv:
            self.fill(srv, n, value, measure="overhead")
            st = srv.stats()
        items = int(st["curr_items"])
        return int(st["bytes"]) / items - (KEY_LEN + value) if items else float("nan")

    # (c)
    def zipf(self, name):
        m = self.opts.memory_mb
        capacity = (m * MB) // (KEY_LEN + 1024)
        keys = 3 * capacity
        common = ["-k", keys, "-v", 1024, "-R", "0:1", "-D", "zipf:0.99", "-L", "-d", "16",
                  "-t", "0"]
        with self.server(name, m) as srv:
            self.loadgen(srv, *common, "-n", self.opts.zipf_warm, "-S", 1)
            j = self.loadgen(srv, *common, "-n", self.opts.zipf_ops, "-S", 2)
            self.note_rss(srv, "zipf", m)
        return {"hit": j["hit_ratio"], "keys": keys, "capacity": capacity,
                "ideal": zipf_top_mass(keys, capacity, 0.99)}

    # (d)
    def hot_set(self, name):
        m = self.opts.memory_mb
        capacity = (m * MB) // (KEY_LEN + 1024)
        hot = capacity // 5
        batch = capacity // 2
        cycles = self.opts.hot_cycles
        hits = gets = 0
        with self.server(name, m) as srv:
            self.fill(srv, hot, 1024, measure="hot set")
            for c in range(cycles):
                j = self.loadgen(srv, "-k", hot, "-v", 1024, "-R", "0:1", "-D", "seq", "-L",
                                 "-d", "16", "-n", hot, "-t", "0")
                if c > 0:  # the first pass follows the fill directly
                    hits += j["hits"]
                    gets += j["get_keys"]
                self.fill(srv, batch, 1024, offset=hot + c * batch, measure="hot set")
            j = self.loadgen(srv, "-k", hot, "-v", 1024, "-R", "0:1", "-D", "seq", "-L",
                             "-d", "16", "-n", hot, "-t", "0")
            hits += j["hits"]
            gets += j["get_keys"]
            self.note_rss(srv, "hot set", m)
        return {"hit": hits / gets if gets else float("nan"), "hot": hot,
                "cold": cycles * batch, "capacity": capacity}

    # (e)
    def size_shift(self, name):
        m = self.opts.memory_mb
        small, large = 100, 4096
        small_keys = (2 * m * MB) // (KEY_LEN + small)
        large_keys = (m * MB // 2) // (KEY_LEN + large)
        ops = self.opts.shift_ops
        common = ["-k", large_keys, "--key-offset", small_keys, "-v", large, "-R", "0:1", "-L",
                  "-d", "16", "-t", "0", "-n", ops // 2]
        with self.server(name, m) as srv:
            self.fill(srv, small_keys, small, measure="size shift")
            first = self.loadgen(srv, *common, "-S", 1)
            second = self.loadgen(srv, *common, "-S", 2)
            self.note_rss(srv, "size shift", m)
        return {"first": first["hit_ratio"], "after": second["hit_ratio"],
                "large_keys": large_keys, "errors": first["errors"] + second["errors"]}

    # (f)
    def held(self, srv, keys):
        """The server's `stats` and the key + value bytes it holds of the row's keys, from a scan
        of them that agrees with `curr_items` before and after it. ringcached's reclaimer may
        still be refilling its free segments after the window (evicting, as it would have in
        the window), so a scan is repeated until the store is still."""
        for _ in range(5):
            end = srv.stats()
            items_before = int(end["curr_items"])
            items, data = srv.held(keys)
            if items == items_before == int(srv.stats()["curr_items"]):
                return end, data
            time.sleep(1)
        raise RuntimeError(f"{srv.name}: curr_items and a scan of the keys still disagree: "
                           f"{items} held, curr_items {items_before}")

    def churn(self, name, row):
        """One churn row against one server: fill, warm-up, measured window (see the file
        comment). Every phase is bounded by its request count and by --churn-time-cap seconds."""
        cap = self.opts.churn_time_cap
        # The fill is not measured, so it runs with a deeper pipeline (faster, the same requests).
        phases = (("fill", "1:0", "uniform", CHURN_FILL_PIPELINE, row.fill_sets, 11),
                  ("warm-up", row.ratio, row.dist, CHURN_PIPELINE, row.warm_ops, 12),
                  ("window", row.ratio, row.dist, CHURN_PIPELINE, row.ops, 13))
        out = {"capped": [], "errors": 0}
        # As side_by_side.py does: give another process's burst a moment to pass.
        waited, cores = wait_for_quiet(NOISY_CORES, self.opts.quiet_wait)
        if cores > NOISY_CORES:
            print(f"   other load {cores:.2f} cores after waiting {waited:.0f} s; measuring anyway",
                  file=sys.stderr)
        with self.server(name, row.memory_mb) as srv:
            for phase, ratio, dist, pipeline, ops, seed in phases:
                if phase == "window":
                    before = srv.stats()
                    busy0, srv0, cli0 = (machine_times()[0], srv.cpu_seconds(),
                                         children_cpu_seconds())
                t0 = time.monotonic()
                j = self.loadgen(srv, "-k", row.keys, "--value-sizes", row.sizes, "-D", dist,
                                 "-d", pipeline, "-R", ratio, "-n", ops, "-t", cap, "-S", seed,
                                 timeout=cap + 60)
                out[f"{phase}_s"] = time.monotonic() - t0
                out["errors"] += j["errors"]
                if j["ops"] < ops:  # the time limit ended it: not the same sequence as the other
                    out["capped"].append(f"{phase} {j['ops']}/{ops}")
            # What else kept the machine busy during the window, in cores, as side_by_side.py
            # counts it: percentiles are the first figures another process spoils.
            other = ((machine_times()[0] - busy0) / CLK_TCK - (srv.cpu_seconds() - srv0) -
                     (children_cpu_seconds() - cli0))
            out["other_cores"] = max(0.0, other) / out["window_s"]
            after = srv.stats()
            time.sleep(self.opts.settle)
            rss = vm_rss_bytes(srv.pid)
            end, held_data = self.held(srv, row.keys)
            if name == "ringcached" and "segment_dead_bytes" not in end:
                end.update(srv.stats("segments"))  # newer binaries keep it there; old: absent

        def delta(stat):
            return int(after[stat]) - int(before[stat])

        hits, misses = delta("get_hits"), delta("get_misses")
        out.update({
            "bytes": int(end["bytes"]),
            "items": int(end["curr_items"]),
            "data": held_data,
            "hit": hits / (hits + misses) if hits + misses else float("nan"),
            "client_hit": j["hit_ratio"],
            "evictions": delta("evictions"),
            "rss": rss / (row.memory_mb * MB) if rss else float("nan"),
            "set_p99": j["set_lat_us"]["p99"],
            "get_p99": j["get_lat_us"]["p99"],
            "dead": int(end["segment_dead_bytes"]) if "segment_dead_bytes" in end else None,
            "value_mean_drawn": j["value_mean_drawn"],
            "value_mean": j["value_mean"],
            "ops_per_s": j["ops_per_s"],
        })
        if abs(out["hit"] - out["client_hit"]) > 0.001:
            raise RuntimeError(f"hit ratio from stats {out['hit']:.4f} but the client counted "
                               f"{out['client_hit']:.4f}: another client on this server?")
        return out


def zipf_top_mass(n, top, theta):
    total = head = 0.0
    for r in range(1, n + 1):
        w = r ** -theta
        total += w
        if r <= top:
            head += w
    return head / total


def parse_args(argv):
    p = argparse.ArgumentParser(description="memory efficiency and hit ratios, side by side")
    p.add_argument("--ringcached", default=os.environ.get("RINGCACHED", "./ringcached"))
    p.add_argument("--memcached", default="/usr/bin/memcached")
    p.add_argument("--loadgen", default=os.environ.get("RC_LOADGEN", "./bench/rc-loadgen"))
    p.add_argument("--memory-mb", type=int, default=64, help="-m for every measure (default 64)")
    p.add_argument("--only", default="abcdef", help="which measures, e.g. --only ac")
    p.add_argument("--quick", action="store_true",
                   help="shorter Zipf, hot-set and shift phases; churn: 4 rows at -m 64")
    p.add_argument("--churn-m", default=None,
                   help="(f): the -m values, comma-separated (default 64,512; --quick 64)")
    p.add_argument("--churn-rows", default="",
                   help="(f): only these rows: ids or shell patterns, comma-separated, e.g. "
                        "'par-*-m512,uni-1:1-uniform-m64' (--list-churn shows the ids)")
    p.add_argument("--list-churn", action="store_true", help="list the churn rows and exit")
    p.add_argument("--churn-min-ops", type=int, default=None,
                   help="(f): least requests in a measured window (default 200k; --quick 100k)")
    p.add_argument("--churn-max-ops", type=int, default=None,
                   help="(f): most requests in a measured window (default 1.5M; --quick 300k)")
    p.add_argument("--quiet-wait", type=float, default=None,
                   help="(f): seconds to wait for the machine to be quiet before each server's "
                        "run of a row (default 5; --quick 2)")
    p.add_argument("--churn-time-cap", type=float, default=None,
                   help="(f): seconds any one client run may take (default 120; --quick 40)")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--settle", type=float, default=1.0,
                   help="seconds between the end of a workload and reading RSS (default 1)")
    opts = p.parse_args(argv)
    opts.sample = 100000
    opts.zipf_warm = 600000 if opts.quick else 1500000
    opts.zipf_ops = 400000 if opts.quick else 1000000
    opts.hot_cycles = 8 if opts.quick else 20
    opts.shift_ops = 100000 if opts.quick else 300000
    opts.churn_m = [int(x) for x in (opts.churn_m or ("64" if opts.quick else "64,512")).split(",")]
    if opts.churn_min_ops is None:
        opts.churn_min_ops = 100000 if opts.quick else 200000
    if opts.churn_max_ops is None:
        opts.churn_max_ops = 300000 if opts.quick else 1500000
    if opts.quiet_wait is None:
        opts.quiet_wait = 2.0 if opts.quick else 5.0
    if opts.churn_time_cap is None:
        opts.churn_time_cap = 40.0 if opts.quick else 120.0
    return opts


def fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    return f"{v:.{digits}f}"


def main(argv):
    install_signal_handlers()
    opts = parse_args(argv)
    churn = churn_rows(opts) if "f" in opts.only else []
    if opts.list_churn:
        print("| id | workload | -m | keys | fill sets | warm-up requests | window requests | "
              "window writes x -m |")
        print("|---|---|---|---|---|---|---|---|")
        for c in churn_rows(opts):
            print(f"| {c.id} | {c.title} | {c.memory_mb} | {c.keys} | {c.fill_sets} | "
                  f"{c.warm_ops} | {c.ops} | {c.window_writes:.2f} |")
        return 0
    for path, what in ((opts.ringcached, "ringcached"), (opts.memcached, "memcached"),
                       (opts.loadgen, "loadgen")):
        if not os.access(path, os.X_OK):
            print(f"{what} not found at {path} (build it, or pass --{what})", file=sys.stderr)
            return 2
    run = Runner(opts)
    res = {name: {} for name in SERVERS}
    churn_res = {c.id: {} for c in churn}
    failures = []
    t0 = time.monotonic()
    classic = any(letter in opts.only for letter in "abcde")
    try:
        for name in SERVERS if classic else ():
            r = res[name]
            print(f"== {name}", file=sys.stderr)

            def measure(letter, what, fn):
                # A measure that fails is reported and left out of the table; the others run.
                if letter not in opts.only:
                    return
                try:
                    fn()
                except RuntimeError as e:
                    failures.append(f"{name} ({letter}) {what}: {e}")
                    print(f"   ({letter}) {what} FAILED: {e}", file=sys.stderr)

            def overfills():
                for value in (32, 1024):
                    r[f"over{value}"] = run.overfill(name, value)
                    print(f"   (a) overfill {value} B: {r[f'over{value}']}", file=sys.stderr)

            def overheads():
                r["ovh32"] = run.overhead(name, 32)
                r["ovh1k"] = run.overhead(name, 1024)
                print(f"   (b) overhead: {r['ovh32']:.1f} B (32 B values), {r['ovh1k']:.1f} B "
                      "(1 KB)", file=sys.stderr)

            def zipf():
                r["zipf"] = run.zipf(name)
                print(f"   (c) zipf: {r['zipf']}", file=sys.stderr)

            def hot():
                r["hot"] = run.hot_set(name)
                print(f"   (d) hot set: {r['hot']}", file=sys.stderr)

            def shift():
                r["shift"] = run.size_shift(name)
                print(f"   (e) size shift: {r['shift']}", file=sys.stderr)

            measure("a", "overfill", overfills)
            measure("b", "item overhead", overheads)
            measure("c", "Zipf", zipf)
            measure("d", "hot set", hot)
            measure("e", "size shift", shift)

        for i, c in enumerate(churn):
            # The order alternates by row, so neither server always runs on a machine that has
            # just been busy with the other.
            for name in SERVERS if i % 2 == 0 else SERVERS[::-1]:
                try:
                    v = churn_res[c.id][name] = run.churn(name, c)
                except RuntimeError as e:
                    failures.append(f"{name} (f) churn {c.id}: {e}")
                    print(f"   (f) {c.id} {name} FAILED: {e}", file=sys.stderr)
                    continue
                print(f"   (f) {c.id} {name}: {v['bytes'] / MB:.1f} MB live, {v['items']} items, "
                      f"hit {v['hit']:.4f}, {v['evictions']} evictions, RSS/-m {v['rss']:.3f}, "
                      f"p99 set/get {v['set_p99']:.0f}/{v['get_p99']:.0f} us; fill "
                      f"{v['fill_s']:.1f} s, warm-up {v['warm-up_s']:.1f} s, window "
                      f"{v['window_s']:.1f} s ({v['ops_per_s'] / 1000:.0f}k req/s, other load "
                      f"{v['other_cores']:.2f} cores); sizes drawn "
                      f"mean {v['value_mean_drawn']:.0f} B (expected {v['value_mean']:.0f})",
                      file=sys.stderr)
    finally:
        stop_all()

    print()
    print(f"ringcached: {version_of(opts.ringcached)} ({opts.ringcached}); "
          f"memcached: {version_of(opts.memcached)}; -t 1, 16 B keys, one client connection; "
          f"took {time.monotonic() - t0:.0f} s")
    if classic:
        print_classic_table(opts, run, res)
    if churn:
        print_churn_table(churn, churn_res)
    for f in failures:
        print(f"\nFAILED: {f}")
    return 1 if failures else 0


def print_classic_table(opts, run, res):
    """Measures (a) to (e)."""
    m = opts.memory_mb
    rows = []

    def row(measure, key, fn, target, digits=3):
        vals = [fn(res[n][key]) if key in res[n] else None for n in SERVERS]
        rows.append((measure, fmt(vals[0], digits), fmt(vals[1], digits), target))

    row("item overhead in `stats bytes` beyond key+value, 16 B key + 32 B value (B)", "ovh32",
        lambda v: v, "memcached: 59", 1)
    row("item overhead in `stats bytes` beyond key+value, 16 B key + 1 KB value (B)", "ovh1k",
        lambda v: v, "memcached: 59", 1)
    row(f"-m {m} overfilled 2x with 32 B values: key+value kept / -m", "over32",
        lambda v: v["kept"], ">= 0.60")
    row("  the same, from reading back a sample of the keys", "over32",
        lambda v: v["readback"], "")
    row(f"-m {m} overfilled 2x with 1 KB values: key+value kept / -m", "over1024",
        lambda v: v["kept"], ">= 0.90")
    row("  the same, from reading back a sample of the keys", "over1024",
        lambda v: v["readback"], "")
    row("RSS / -m after the 32 B overfill", "over32", lambda v: v["rss"], "<= 1.10")
    row("RSS / -m after the 1 KB overfill", "over1024", lambda v: v["rss"], "<= 1.10")
    def largest_rss(name):
        if not run.rss[name]:
            return None
        measure, ratio = max(run.rss[name], key=lambda mr: mr[1])
        return f"{ratio:.3f} ({measure})"

    rows.append(("RSS / -m after any overfill (the largest of all measures)",
                 fmt(largest_rss("ringcached")), fmt(largest_rss("memcached")), "<= 1.10"))
    ideal = next((res[n]["zipf"]["ideal"] for n in SERVERS if "zipf" in res[n]), None)
    row(f"Zipf(0.99) look-aside over 3x capacity, 1 KB values: steady hit ratio"
        f"{f' (ideal {ideal:.3f})' if ideal else ''}", "zipf", lambda v: v["hit"], ">= 0.88")
    row("hot set (20% of capacity) re-read while 10x capacity of cold keys stream through: "
        "hot-set hit ratio", "hot", lambda v: v["hit"], "1.000")
    row("sizes shift 100 B -> 4 KB: hit ratio after the shift (second half)", "shift",
        lambda v: v["after"], ">= memcached")
    row("  the same, first half (adapting)", "shift", lambda v: v["first"], "")

    print()
    print(f"(a)-(e) at -m {m}:")
    print()
    print("| measure | ringcached | memcached | target |")
    print("|---|---|---|---|")
    for measure, a, b, target in rows:
        print(f"| {measure} | {a} | {b} | {target} |")
    for n in SERVERS:
        for measure, count in run.errors[n].items():
            print(f"\nnote: {n} refused {count} sets while filling ({measure}): "
                  "SERVER_ERROR out of memory or similar")
        if "shift" in res[n] and res[n]["shift"]["errors"]:
            print(f"\nnote: {n} answered {res[n]['shift']['errors']} requests of the size-shift "
                  "phase with an error (e.g. SERVER_ERROR out of memory)")


def print_churn_table(churn, churn_res):
    """Measure (f): one line per row, each figure as ringcached / memcached."""
    def pair(v, key, f):
        return " / ".join(f(v[n][key]) if n in v else "-" for n in SERVERS)

    def latency(v, key):
        return " / ".join(f"{v[n][key]:.0f}{'*' if v[n]['other_cores'] > NOISY_CORES else ''}"
                          if n in v else "-" for n in SERVERS)

    def ratio(v, key):
        if any(n not in v for n in SERVERS) or not v["memcached"][key]:
            return "-"
        return f"{v['ringcached'][key] / v['memcached'][key]:.3f}"

    def dead(v):
        rc = v.get("ringcached")
        return "-" if rc is None or rc["dead"] is None else f"{rc['dead'] / MB:.1f}"

    print()
    print("(f) churn: overwrites with mixed value sizes; each pair is ringcached / memcached; "
          "hit ratio, evictions and p99 over the measured window, the rest at its end; "
          "`--list-churn` gives each row's request counts")
    print()
    print("| workload | -m | keys | key+value held MB | held rc/mc | live MB (`stats bytes`) | "
          "live rc/mc | curr_items | hit ratio | hit rc/mc | evictions | RSS / -m | "
          "set p99 us | get p99 us | rc segment_dead_bytes MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in churn:
        v = churn_res[c.id]
        capped = any(v[n]["capped"] for n in v)
        print(f"| {c.title}{' (time-capped)' if capped else ''} | {c.memory_mb} | {c.keys} | "
              f"{pair(v, 'data', lambda x: f'{x / MB:.1f}')} | {ratio(v, 'data')} | "
              f"{pair(v, 'bytes', lambda x: f'{x / MB:.1f}')} | {ratio(v, 'bytes')} | "
              f"{pair(v, 'items', str)} | {pair(v, 'hit', lambda x: f'{x:.3f}')} | "
              f"{ratio(v, 'hit')} | {pair(v, 'evictions', str)} | "
              f"{pair(v, 'rss', lambda x: f'{x:.3f}')} | "
              f"{latency(v, 'set_p99')} | {latency(v, 'get_p99')} | {dead(v)} |")
    if any(v[n]["other_cores"] > NOISY_CORES for v in churn_res.values() for n in v):
        print(f"\n*: other processes kept more than {NOISY_CORES} of a core busy during that "
              "window; its latencies include their interference")
    for c in churn:
        for n, v in churn_res[c.id].items():
            if v["errors"]:
                print(f"\nnote: {n} answered {v['errors']} requests of {c.id} with an error "
                      "(e.g. SERVER_ERROR out of memory)")
            if v["capped"]:
                print(f"\nnote: {n}, {c.id}: the time limit (--churn-time-cap) ended "
                      f"{', '.join(v['capped'])} requests early")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
