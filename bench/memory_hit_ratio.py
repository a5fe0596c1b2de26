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
# RSS / -m is also sampled after (c), (d) and (e); the table's "any overfill" row is the largest.
#
# Usage: bench/memory_hit_ratio.py [--quick] [--only a,b,c,d,e]   (make bench-memory runs it)
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Server, install_signal_handlers, loadgen_json, run_client,  # noqa: E402
                      stop_all, version_of, vm_rss_bytes)

KEY_LEN = 16
MB = 1 << 20
SERVERS = ("ringcached", "memcached")


class Runner:
    def __init__(self, opts):
        self.opts = opts
        self.binaries = {"ringcached": opts.ringcached, "memcached": opts.memcached}
        self.rss = {name: [] for name in SERVERS}  # (measure, RSS / -m)
        self.errors = {name: {} for name in SERVERS}  # measure -> refused sets while filling

    def server(self, name, memory_mb):
        return Server(name, self.binaries[name], threads=1, memory_mb=memory_mb,
                      cpu=self.opts.server_cpu)

    def loadgen(self, server, *args):
        cmd = [self.opts.loadgen, "-s", f"127.0.0.1:{server.port}", "-c", "1", "-q",
               "--key-len", str(KEY_LEN)] + [str(a) for a in args]
        out, err, rc = run_client(cmd, cpu=self.opts.client_cpu, timeout=1800)
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
    p.add_argument("--only", default="abcde", help="which measures, e.g. --only ac")
    p.add_argument("--quick", action="store_true", help="shorter Zipf, hot-set and shift phases")
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
    for path, what in ((opts.ringcached, "ringcached"), (opts.memcached, "memcached"),
                       (opts.loadgen, "loadgen")):
        if not os.access(path, os.X_OK):
            print(f"{what} not found at {path} (build it, or pass --{what})", file=sys.stderr)
            return 2
    run = Runner(opts)
    res = {name: {} for name in SERVERS}
    failures = []
    t0 = time.monotonic()
    try:
        for name in SERVERS:
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
    finally:
        stop_all()

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
    print(f"ringcached: {version_of(opts.ringcached)}; memcached: {version_of(opts.memcached)}; "
          f"-m {m}, -t 1, 16 B keys, one client connection; took {time.monotonic() - t0:.0f} s")
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
    for f in failures:
        print(f"\nFAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
