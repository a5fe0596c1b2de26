#!/usr/bin/python3
# bench/side_by_side.py -- ringcached against memcached under the same load, in paired rounds.
#
# For every workload and every round, both servers are started fresh on free loopback ports,
# pinned to one core (taskset, --server-cpu), with the load generator pinned to the other
# (--client-cpu). The keys are preloaded, then the same client command runs against each server
# in turn; the order alternates from round to round (A B, B A, A B ...) so a drift in the
# machine's speed does not favour either. Each round yields one ratio ringcached / memcached
# measured minutes apart at most, which is what the table reports (median and range), rather
# than two numbers taken at different times.
#
# Measured per run:
#   * ops/s, from the client (memcaslap's "TPS", or rc-loadgen's JSON);
#   * the server's CPU time, utime + stime from /proc/<pid>/stat (all its threads) over the run;
#     requests per server CPU-second is the steadiest figure on a shared machine, because time
#     the server spends descheduled is not in it;
#   * p50/p99 latency (rc-loadgen only; memcaslap's histogram is log2-coarse);
#   * the whole machine's busy time from /proc/stat. Whatever is neither the server nor the
#     client (nor this script) is "other load". A pair with other load above --busy-threshold
#     (in cores) is redone, up to --max-redo times; after that it is kept and counted as noisy.
#
# Clients: memcaslap (libmemcached-tools) for plain throughput, as issue 4 asks; rc-loadgen
# (bench/loadgen) for what memcaslap cannot do: preloaded key spaces, pipelining, multi-get of
# 10/100 keys, fixed-rate open-loop latency, percentiles. memcaslap never reads a key it has not
# set itself, so its rows have no preload and a growing key space.
#
# Every process this script starts is stopped by its PID (SIGTERM, then SIGKILL), in `finally`
# blocks and at exit, and a server also dies with the script (PR_SET_PDEATHSIG); the process
# handling lives in benchlib.py, shared with latency.py and memory_hit_ratio.py.
#
# Usage: bench/side_by_side.py [--quick] [--only NAME[,NAME]] [--list] [--rounds N]
#        (make bench-side-by-side in the build tree passes the binaries' paths; see README.md)
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Server, install_signal_handlers, loadgen_json, run_client,  # noqa: E402
                      stop_all, timed_client, version_of, wait_for_quiet)

# -- workloads -------------------------------------------------------------------------------------

class Workload:
    """One row of the table. `client` is "memcaslap" or "loadgen"; `args` are rc-loadgen options
    (without server, duration and preload), or a dict for memcaslap."""

    def __init__(self, name, title, client, threads=1, quick=False, memory_mb=1024, **spec):
        self.name, self.title, self.client = name, title, client
        self.threads, self.quick, self.memory_mb = threads, quick, memory_mb
        self.spec = spec


def lg(name, title, *, quick=False, threads=1, memory_mb=1024, args=(), keys=100000,
       value=32):
    return Workload(name, title, "loadgen", threads=threads, quick=quick, memory_mb=memory_mb,
                    args=list(args), keys=keys, value=value)


def mcs(name, title, *, quick=False, threads=1, value=32, set_frac=1 / 11, binary=False,
        memory_mb=1024):
    return Workload(name, title, "memcaslap", threads=threads, quick=quick, memory_mb=memory_mb,
                    value=value, set_frac=set_frac, binary=binary)


# The list: text and binary, 32 B / 1 KB / 100 KB, 1:10 and 1:1, pipelined and not,
# multi-get of 10 and 100, -t 1 and -t 2, p99 at a fixed 40 k ops/s (and CPU per request at 20,
# 40 and 80 k ops/s, issue 13). 50 connections throughout.
WORKLOADS = [
    lg("text-32B", "text 32 B 1:10, 100k keys", quick=True),
    lg("text-32B-p16", "text 32 B 1:10, pipeline 16", quick=True, args=["-d", "16"]),
    mcs("mcs-text-32B", "memcaslap text 32 B 1:10", quick=True),
    mcs("mcs-text-1KB", "memcaslap text 1 KB 1:10", quick=True, value=1024),
    mcs("mcs-text-100KB", "memcaslap text 100 KB 1:10", value=102400, memory_mb=2048),
    mcs("mcs-text-32B-1:1", "memcaslap text 32 B 1:1", set_frac=0.5),
    mcs("mcs-bin-32B", "memcaslap binary 32 B 1:10", binary=True),
    mcs("mcs-bin-1KB", "memcaslap binary 1 KB 1:10", binary=True, value=1024),
    lg("text-1KB-1:1", "text 1 KB 1:1", value=1024, args=["-R", "1:1"]),
    # After the preload, overwrites grow ringcached's log-structured store until whole segments
    # fall dead (about a second here), and faulting in that memory costs it ~3% of a 3 s window
    # that memcached, which rewrites its slab chunks in place, does not pay: a warm-up of 3 s
    # measures the steady state (bench/README.md quotes both).
    lg("text-100KB", "text 100 KB 1:10, 1k keys", value=102400, keys=1000, args=["-w", "3"]),
    lg("bin-32B", "binary 32 B 1:10", args=["-P", "binary"]),
    lg("bin-32B-p16", "binary 32 B 1:10, pipeline 16", quick=True,
       args=["-P", "binary", "-d", "16"]),
    lg("text-mget10", "text multi-get 10 keys", quick=True, args=["-R", "0:1", "-m", "10"]),
    lg("text-mget100", "text multi-get 100 keys", args=["-R", "0:1", "-m", "100"]),
    lg("bin-mget10", "binary multi-get 10 keys", args=["-P", "binary", "-R", "0:1", "-m", "10"]),
    lg("bin-mget100", "binary multi-get 100 keys", args=["-P", "binary", "-R", "0:1", "-m", "100"]),
    # --spin: the client polls between due times; the script waits for a quiet machine first, and
    # then polling schedules requests to a few microseconds (loadgen.cc explains the trade-off).
    lg("text-20k", "text 32 B 1:10 at 20k/s (open loop)", args=["-r", "20000", "--spin"]),
    lg("text-40k", "text 32 B 1:10 at 40k/s (open loop)", quick=True,
       args=["-r", "40000", "--spin"]),
    lg("text-80k", "text 32 B 1:10 at 80k/s (open loop)", args=["-r", "80000", "--spin"]),
    lg("bin-40k", "binary 32 B 1:10 at 40k/s (open loop)",
       args=["-P", "binary", "-r", "40000", "--spin"]),
    lg("t2-text-32B", "-t 2: text 32 B 1:10", quick=True, threads=2),
    lg("t2-text-32B-p16", "-t 2: text 32 B 1:10, pipeline 16", threads=2, args=["-d", "16"]),
    mcs("t2-mcs-text-1KB", "-t 2: memcaslap text 1 KB 1:10", threads=2, value=1024),
    lg("t2-text-mget10", "-t 2: text multi-get 10 keys", threads=2, args=["-R", "0:1", "-m", "10"]),
]


# -- one run -----------------------------------------------------------------------------------

class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.binaries = {"ringcached": opts.ringcached, "memcached": opts.memcached}

    def run_once(self, workload, server_name, round_index):
        """Starts a fresh server, preloads, runs the client; returns a dict of measures."""
        o = self.opts
        server = Server(server_name, self.binaries[server_name], threads=workload.threads,
                        memory_mb=workload.memory_mb, cpu=o.server_cpu)
        with server:
            spec = workload.spec
            seed = 1 + round_index  # the same sequence for both servers within a round
            if workload.client == "loadgen":
                base = [o.loadgen, "-s", f"127.0.0.1:{server.port}", "-k", str(spec["keys"]),
                        "-v", str(spec["value"]), "-S", str(seed), "-q"]
                out, err, rc = run_client(base + ["--preload-only", "-c", "8"], cpu=o.client_cpu)
                if rc != 0:
                    raise RuntimeError(f"preload failed against {server_name}:\n{err}{out}")
                cmd = base + ["-t", str(o.duration), "--server-pid", str(server.pid),
                              "--label", workload.name] + spec["args"]
            else:
                cmd = self.memcaslap_cmd(workload, server.port)

            out, run = timed_client(server, cmd, cpu=o.client_cpu)
        srv = run["server_cpu_s"]
        result = {"server": server_name, **run}
        if workload.client == "loadgen":
            j = loadgen_json(out)
            result.update(ops_per_s=j["ops_per_s"], ops=j["ops"], p50_us=j["lat_us"]["p50"],
                          p99_us=j["lat_us"]["p99"], p999_us=j["lat_us"]["p999"],
                          errors=j["errors"], hit_ratio=j["hit_ratio"], late=j["late"],
                          # rc-loadgen's own window excludes connecting and draining
                          server_cpu_window_s=j["server_cpu_s"])
            cpu = j["server_cpu_s"] if j["server_cpu_s"] > 0 else srv
            result["ops_per_cpu_s"] = j["ops"] / cpu if cpu > 0 else 0.0
        else:
            m = re.search(r"Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+)", out)
            if not m:
                raise RuntimeError(f"unexpected memcaslap output:\n{out}{err}")
            ops = int(m.group(2))
            misses = re.search(r"get_misses: (\d+)", out)
            result.update(ops_per_s=float(m.group(3)), ops=ops, p50_us=None, p99_us=None,
                          errors=0, misses=int(misses.group(1)) if misses else None,
                          ops_per_cpu_s=ops / srv if srv > 0 else 0.0)
        return result

    def memcaslap_cmd(self, workload, port):
        spec = workload.spec
        cfg = tempfile.NamedTemporaryFile("w", prefix="rc-memcaslap-", suffix=".cfg", delete=False)
        v = spec["value"]
        cfg.write(f"key\n16 16 1\nvalue\n{v} {v} 1\ncmd\n0 {spec['set_frac']:.4f}\n"
                  f"1 {1 - spec['set_frac']:.4f}\n")
        cfg.close()
        self._cfg_files.append(cfg.name)
        cmd = [self.opts.memcaslap, "-s", f"127.0.0.1:{port}", "-T", "1", "-c", "50",
               "-t", f"{max(1, round(self.opts.duration))}s", "-F", cfg.name]
        if spec["binary"]:
            cmd.append("-B")
        return cmd

    _cfg_files = []

    def within_budget(self):
        """Whether redoing a round or waiting for quiet still fits the time budget: the share of
        the budget used must not run ahead of the share of workloads done."""
        o = self.opts
        elapsed = time.monotonic() - self.started
        return elapsed < o.budget * (self.workloads_done + 1) / self.workloads_total

    def run_workload(self, workload):
        o = self.opts
        rounds = []
        noisy = 0
        for r in range(o.rounds):
            order = ["ringcached", "memcached"] if r % 2 == 0 else ["memcached", "ringcached"]
            for attempt in range(o.max_redo + 1):
                if self.within_budget():
                    waited, cores = wait_for_quiet(o.busy_threshold, o.quiet_wait)
                    if cores > o.busy_threshold:
                        print(f"    other load {cores:.2f} cores after waiting {waited:.0f} s; "
                              "measuring anyway", file=sys.stderr)
                pair = {name: self.run_once(workload, name, r) for name in order}
                worst = max(p["other_cores"] for p in pair.values())
                if worst <= o.busy_threshold:
                    break
                if attempt < o.max_redo and self.within_budget():
                    print(f"    round {r + 1}: other load {worst:.2f} cores, redoing",
                          file=sys.stderr)
                    continue
                noisy += 1
                break
            rc, mc = pair["ringcached"], pair["memcached"]
            ratio = rc["ops_per_s"] / mc["ops_per_s"] if mc["ops_per_s"] else float("nan")
            cpu_ratio = (rc["ops_per_cpu_s"] / mc["ops_per_cpu_s"]
                         if mc["ops_per_cpu_s"] else float("nan"))
            rounds.append({"round": r + 1, "order": order, "ringcached": rc, "memcached": mc,
                           "ratio": ratio, "cpu_ratio": cpu_ratio, "other_cores": worst})
            print(f"    round {r + 1}: ringcached {rc['ops_per_s']:>9.0f} ops/s "
                  f"{rc['ops_per_cpu_s']:>9.0f}/CPU-s | memcached {mc['ops_per_s']:>9.0f} ops/s "
                  f"{mc['ops_per_cpu_s']:>9.0f}/CPU-s | ratio {ratio:.3f}, CPU ratio "
                  f"{cpu_ratio:.3f}, other load {worst:.2f} cores", file=sys.stderr)
        return summarize(workload, rounds, noisy)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(workload, rounds, noisy):
    s = {"name": workload.name, "title": workload.title, "threads": workload.threads,
         "client": workload.client, "rounds": rounds, "noisy_rounds": noisy}
    for name in ("ringcached", "memcached"):
        runs = [r[name] for r in rounds]
        s[name] = {"ops_per_s": med(r["ops_per_s"] for r in runs),
                   "ops_per_cpu_s": med(r["ops_per_cpu_s"] for r in runs),
                   "p50_us": med(r["p50_us"] for r in runs),
                   "p99_us": med(r["p99_us"] for r in runs),
                   "errors": sum(r["errors"] for r in runs),
                   # the share of requests rc-loadgen sent more than 1 ms after their due time
                   "late_max": max((r.get("late", 0) / r["ops"] if r["ops"] else 0.0)
                                   for r in runs)}
    s["ratio"] = s["ringcached"]["ops_per_s"] / s["memcached"]["ops_per_s"]
    s["ratio_min"] = min(r["ratio"] for r in rounds)
    s["ratio_max"] = max(r["ratio"] for r in rounds)
    s["cpu_ratio"] = s["ringcached"]["ops_per_cpu_s"] / s["memcached"]["ops_per_cpu_s"]
    s["cpu_ratio_min"] = min(r["cpu_ratio"] for r in rounds)
    s["cpu_ratio_max"] = max(r["cpu_ratio"] for r in rounds)
    s["other_cores_max"] = max(r["other_cores"] for r in rounds)
    return s


# -- output ------------------------------------------------------------------------------------

def fmt_k(v):
    return "-" if v is None else f"{v / 1000:.1f}k"


def fmt_lat(s, name):
    p50, p99 = s[name]["p50_us"], s[name]["p99_us"]
    if p50 is None:
        return "-"
    late = "*" if s[name]["late_max"] > 0.001 else ""
    return f"{p50:.0f}/{p99:.0f}{late}"


def print_table(summaries, opts, header):
    print()
    print(header)
    print()
    print("| workload | -t | rc ops/s | mc ops/s | ratio | round ratios | rc req/CPU-s | "
          "mc req/CPU-s | CPU ratio | CPU round ratios | rc p50/p99 us | mc p50/p99 us | "
          "noisy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        rc, mc = s["ringcached"], s["memcached"]
        flag = "" if (rc["errors"] == 0 and mc["errors"] == 0) else \
            f" (errors rc {rc['errors']}, mc {mc['errors']})"
        print(f"| {s['title']}{flag} | {s['threads']} | {fmt_k(rc['ops_per_s'])} | "
              f"{fmt_k(mc['ops_per_s'])} | {s['ratio']:.2f} | "
              f"{s['ratio_min']:.2f}-{s['ratio_max']:.2f} | {fmt_k(rc['ops_per_cpu_s'])} | "
              f"{fmt_k(mc['ops_per_cpu_s'])} | {s['cpu_ratio']:.2f} | "
              f"{s['cpu_ratio_min']:.2f}-{s['cpu_ratio_max']:.2f} | {fmt_lat(s, 'ringcached')} | "
              f"{fmt_lat(s, 'memcached')} | {s['noisy_rounds']}/{len(s['rounds'])} |")
    print()
    print("ratio = median ringcached ops/s / median memcached ops/s; round ratios = the lowest and "
          "highest\nper-round ratio; req/CPU-s = requests per second of server CPU (utime+stime); "
          "noisy = rounds\nkept although other processes used more than "
          f"{opts.busy_threshold:.2f} cores (after up to {opts.max_redo} redos, time budget "
          "permitting).\np50/p99 from rc-loadgen (open-loop rows: from the intended send time); "
          "* = in some round the client\nsent over 0.1% of its requests more than 1 ms late "
          "(it was descheduled), so those\npercentiles include the client's own delays.")


def parse_args(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__ if __doc__ else "ringcached vs memcached")
    p.add_argument("--ringcached", default=os.environ.get("RINGCACHED", "./ringcached"),
                   help="ringcached binary (default: $RINGCACHED or ./ringcached)")
    p.add_argument("--memcached", default="/usr/bin/memcached")
    p.add_argument("--loadgen", default=os.environ.get("RC_LOADGEN", "./bench/rc-loadgen"),
                   help="rc-loadgen binary (default: $RC_LOADGEN or ./bench/rc-loadgen)")
    p.add_argument("--memcaslap", default="/usr/bin/memcaslap")
    p.add_argument("--quick", action="store_true",
                   help="the workloads marked quick, 3 rounds of 1.5 s (about two minutes)")
    p.add_argument("--only", default="", help="comma-separated workload names (see --list)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--rounds", type=int, default=3, help="paired rounds per workload (>= 3)")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per run (default 3, --quick 1.5)")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--busy-threshold", type=float, default=0.15,
                   help="other load, in cores, above which a round is redone (default 0.15)")
    p.add_argument("--max-redo", type=int, default=2,
                   help="times a noisy round is redone, time budget permitting (default 2)")
    p.add_argument("--quiet-wait", type=float, default=None,
                   help="seconds to wait for a quiet machine before each round (default 5, "
                        "--quick 2)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds; waits and redos stop when the run falls behind this budget "
                        "(default 540, --quick 120)")
    p.add_argument("--json", default="", help="also write every round's figures to this file")
    opts = p.parse_args(argv)
    if opts.duration is None:
        opts.duration = 1.5 if opts.quick else 3.0
    if opts.quiet_wait is None:
        opts.quiet_wait = 2.0 if opts.quick else 5.0
    if opts.budget is None:
        opts.budget = 120.0 if opts.quick else 540.0
    opts.here = here
    return opts


def main(argv):
    install_signal_handlers()
    opts = parse_args(argv)
    if opts.list:
        for w in WORKLOADS:
            print(f"{w.name:20} {'quick ' if w.quick else '      '}-t {w.threads}  {w.title}")
        return 0
    selected = WORKLOADS
    if opts.only:
        names = set(opts.only.split(","))
        unknown = names - {w.name for w in WORKLOADS}
        if unknown:
            print(f"unknown workloads: {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
            return 2
        selected = [w for w in WORKLOADS if w.name in names]
    elif opts.quick:
        selected = [w for w in WORKLOADS if w.quick]
    for path, what in ((opts.ringcached, "ringcached"), (opts.memcached, "memcached"),
                       (opts.loadgen, "rc-loadgen")):
        if not os.access(path, os.X_OK):
            print(f"{what} not found at {path} (build it, or pass --{what.replace('rc-', '')})",
                  file=sys.stderr)
            return 2
    if any(w.client == "memcaslap" for w in selected) and not os.access(opts.memcaslap, os.X_OK):
        print(f"memcaslap not found at {opts.memcaslap} (apt install libmemcached-tools)",
              file=sys.stderr)
        return 2
    if opts.rounds < 3:
        print("note: fewer than 3 rounds; the ranges mean little", file=sys.stderr)

    load0 = os.getloadavg()
    header = (f"ringcached: {version_of(opts.ringcached)} ({opts.ringcached})\n"
              f"memcached:  {version_of(opts.memcached)}\n"
              f"machine: {os.cpu_count()} CPUs, {os.uname().release}; server on CPU "
              f"{opts.server_cpu}, client on CPU {opts.client_cpu}; {opts.rounds} rounds x "
              f"{opts.duration:g} s per server; 50 connections; load average at start "
              f"{load0[0]:.2f}")
    bench = Bench(opts)
    bench.started = t0 = time.monotonic()
    bench.workloads_total = len(selected)
    summaries = []
    try:
        for i, w in enumerate(selected):
            bench.workloads_done = i
            print(f"== {w.name}: {w.title} (-t {w.threads})", file=sys.stderr)
            summaries.append(bench.run_workload(w))
    finally:
        for path in Bench._cfg_files:
            try:
                os.unlink(path)
            except OSError:
                pass
        stop_all()
    header += f"; took {time.monotonic() - t0:.0f} s"
    print_table(summaries, opts, header)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"header": header, "workloads": summaries}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
