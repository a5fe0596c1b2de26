#!/usr/bin/python3
# bench/latency.py -- latency of ringcached and memcached side by side, in the regimes users run
# them in (issue 13): few connections or many, busy or mostly idle, a client that waits for each
# reply or one that sends on a schedule. `make bench-latency` runs it; bench/README.md says how to
# read the table.
#
# Workload: text protocol, 32-byte values, set:get 1:10 over a preloaded key space (100k keys,
# uniform), rc-loadgen (bench/loadgen) as the client. The cells:
#   * closed loop (each connection waits for its reply, then sends again) with 1, 4, 8, 50 and
#     200 connections;
#   * paced (rc-loadgen --pace N): each connection sends one request 1/N s after its previous
#     reply, at 10 and 100/s over 50 and 500 connections and 1,000/s over 50: many clients that
#     are mostly idle, as memtier_benchmark's --rate-limiting models them;
#   * open loop (rc-loadgen --rate R, 50 connections) at 1k, 5k, 20k and 50k requests/s in all,
#     with latency measured from each request's intended send time (no coordinated omission).
# each under two server configurations: -t 1, and no -t at all (each server's shipped default).
#
# Pairing: for every cell and round both servers start fresh on free loopback ports, pinned to
# --server-cpu with taskset (the client to --client-cpu), are preloaded, then run the same client
# command with the same seed; the order alternates per round (A B, B A, ...). Each round gives one
# ratio ringcached / memcached per measure; the table shows the median of those ratios and their
# range over the rounds, so a range that straddles 1.0 means "not distinguishable in this run".
#
# Saturation: memcached's closed-loop throughput with 50 connections, in the same run and server
# configuration, stands for what the server can do on its core. A cell whose offered load (rate,
# or pace x connections) is above 70% of it shows throughput only: its latency would mostly be
# queueing, which says how overloaded the server is rather than how fast it answers.
#
# --memtier adds a cross-check with memtier_benchmark (if on PATH, or --memtier-path): closed
# loop with 1, 8 and 50 connections and --rate-limiting=100 over 50, against both servers in the
# same paired rounds, its own key space preloaded by memtier itself, figures from its "Totals".
#
# Every process is started through benchlib.py and stopped by its PID in `finally` blocks (and at
# exit, and dies with this script); every client run has a timeout.
#
# Usage: bench/latency.py [--quick] [--rounds N] [--only CELL,...] [--list] [--json PATH]
#                         [--ringcached-args ARGS] [--memtier] (see --help)
import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (Server, install_signal_handlers, loadgen_json, run_client,  # noqa: E402
                      stop_all, timed_client, version_of, wait_for_quiet)

SERVERS = ("ringcached", "memcached")
SATURATION_CELL = "closed-50"
OVERLOAD_SHARE = 0.7  # of memcached's saturation: above it a cell reports throughput only
LATE_SHARE = 0.001    # open loop: more than this share of requests sent 1 ms late gets a '*'


class Cell:
    """One row of the table. kind is "closed", "paced" (rate = requests/s per connection) or
    "open" (rate = requests/s in all)."""

    def __init__(self, name, kind, conns, rate=0, quick=False):
        self.name, self.kind, self.conns, self.rate, self.quick = name, kind, conns, rate, quick

    @property
    def offered(self):
        """Requests/s offered, or None for a closed loop (it offers what the server takes). For
        paced cells an upper bound: each interval starts when the previous reply arrives."""
        if self.kind == "paced":
            return self.rate * self.conns
        return self.rate if self.kind == "open" else None

    @property
    def title(self):
        plural = "s" if self.conns > 1 else ""
        if self.kind == "closed":
            return f"closed, {self.conns} conn{plural}"
        if self.kind == "paced":
            return f"paced {self.rate:g}/s x {self.conns} conns (<= {fmt_rate(self.offered)}/s)"
        return f"open {fmt_rate(self.rate)}/s, {self.conns} conns"

    def loadgen_args(self):
        args = ["-c", str(self.conns)]
        if self.kind == "paced":
            args += ["--pace", f"{self.rate:g}"]
        elif self.kind == "open":
            args += ["-r", f"{self.rate:g}"]
        return args


CELLS = [
    Cell("closed-1", "closed", 1, quick=True),
    Cell("closed-4", "closed", 4),
    Cell("closed-8", "closed", 8, quick=True),
    Cell(SATURATION_CELL, "closed", 50, quick=True),
    Cell("closed-200", "closed", 200),
    Cell("paced-10x50", "paced", 50, 10),
    Cell("paced-10x500", "paced", 500, 10),
    Cell("paced-100x50", "paced", 50, 100, quick=True),
    Cell("paced-100x500", "paced", 500, 100, quick=True),
    Cell("paced-1000x50", "paced", 50, 1000),
    Cell("open-1k", "open", 50, 1000),
    Cell("open-5k", "open", 50, 5000),
    Cell("open-20k", "open", 50, 20000, quick=True),
    Cell("open-50k", "open", 50, 50000),
]

# memtier_benchmark's cross-check: (name, connections, --rate-limiting or 0).
MEMTIER_CELLS = [("memtier-closed-1", 1, 0), ("memtier-closed-8", 8, 0),
                 ("memtier-closed-50", 50, 0), ("memtier-paced-100x50", 50, 100)]


def fmt_rate(v):
    return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"


# -- runs --------------------------------------------------------------------------------------

class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.binaries = {"ringcached": opts.ringcached, "memcached": opts.memcached}
        self.extra = {"ringcached": shlex.split(opts.ringcached_args),
                      "memcached": shlex.split(opts.memcached_args)}

    def server(self, name, threads):
        return Server(name, self.binaries[name], threads=threads, cpu=self.opts.server_cpu,
                      extra=self.extra[name])

    def timed_client(self, server, cmd):
        """Runs `cmd` pinned to the client CPU against a running server (benchlib)."""
        o = self.opts
        return timed_client(server, cmd, cpu=o.client_cpu, timeout=o.warmup + o.duration + 60)

    def run_loadgen(self, cell, server_name, threads, round_index):
        o = self.opts
        with self.server(server_name, threads) as server:
            base = [o.loadgen, "-s", f"127.0.0.1:{server.port}", "-k", str(o.keys), "-v", "32",
                    "-R", "1:10", "-S", str(1 + round_index), "-q"]
            # One connection (64 sets in flight on it): ringcached's default receive engine
            # changes once a worker has had 8 connections, so a preload over 8 would put the
            # server in a state the 1- and 4-connection cells never reach.
            out, err, rc = run_client(base + ["--preload-only", "-c", "1"], cpu=o.client_cpu,
                                      timeout=120)
            if rc != 0:
                raise RuntimeError(f"preload failed against {server_name}:\n{err}{out}")
            cmd = base + ["-t", f"{o.duration:g}", "-w", f"{o.warmup:g}",
                          "--server-pid", str(server.pid), "--label", cell.name]
            out, run = self.timed_client(server, cmd + cell.loadgen_args())
        j = loadgen_json(out)
        lat = j["lat_us"]
        run.update(ops_per_s=j["ops_per_s"], ops=j["ops"], p50_us=lat["p50"],
                   p99_us=lat["p99"], p999_us=lat["p999"], errors=j["errors"],
                   hit_ratio=j["hit_ratio"], late=j["late"], undrained=j["undrained"],
                   server_cpu_window_s=j["server_cpu_s"])
        return run

    def run_memtier(self, cell, server_name, threads, _round_index):
        o = self.opts
        _, conns, rate = cell
        test_time = max(1, round(o.duration))
        keys = ["--key-prefix=key:", "--key-minimum=1", f"--key-maximum={o.keys}"]
        base = [o.memtier_path, "-s", "127.0.0.1", "-P", "memcache_text", "-t", "1", "-d", "32",
                "--hide-histogram"] + keys
        with self.server(server_name, threads) as server, \
                tempfile.TemporaryDirectory(prefix="rc-memtier-") as tmp:
            port = ["-p", str(server.port)]
            # memtier's own preload recipe: every key once, in order, pipelined, one connection
            # (as for rc-loadgen: see run_loadgen).
            out, err, rc = run_client(base + port + ["-c", "1", "--ratio=1:0", "--key-pattern=P:P",
                                                     "-n", "allkeys", "--pipeline=64"],
                                      cpu=o.client_cpu, timeout=120)
            if rc != 0:
                raise RuntimeError(f"memtier preload failed against {server_name}:\n{err}{out}")
            report = os.path.join(tmp, "memtier.json")
            cmd = base + port + ["-c", str(conns), "--ratio=1:10", f"--test-time={test_time}",
                                 f"--json-out-file={report}"]
            if rate:
                cmd.append(f"--rate-limiting={rate}")
            _, run = self.timed_client(server, cmd)
            with open(report) as f:
                run.update(memtier_totals(json.load(f), test_time), errors=0, late=0)
        return run

    def run_cell(self, cell, config, runner):
        """Paired rounds of one cell under one server configuration; returns the rounds."""
        o = self.opts
        threads = None if config == "default" else int(config)
        rounds = []
        for r in range(o.rounds):
            order = SERVERS if r % 2 == 0 else SERVERS[::-1]
            waited, cores = wait_for_quiet(o.busy_threshold, o.quiet_wait)
            if cores > o.busy_threshold:
                print(f"    other load {cores:.2f} cores after waiting {waited:.1f} s; "
                      "measuring anyway", file=sys.stderr)
            pair = {name: runner(cell, name, threads, r) for name in order}
            rounds.append({"round": r + 1, "order": list(order), **pair,
                           "other_cores": max(p["other_cores"] for p in pair.values())})
            rc, mc = pair["ringcached"], pair["memcached"]
            print(f"    round {r + 1}: p50/p99/p99.9 us, ops/s: ringcached {fmt_run(rc)} | "
                  f"memcached {fmt_run(mc)} | other load {rounds[-1]['other_cores']:.2f} cores",
                  file=sys.stderr)
        return rounds


def memtier_totals(report, test_time):
    """ops/s and p50/p99/p99.9 (us) from the "Totals" of memtier_benchmark's --json-out-file
    report, the figures of its Totals line (latencies there in ms). ops/s is the request count
    over --test-time: the Ops/sec memtier prints divides by a run time it measures, which in
    short runs here came out as 0, 1 or 2 s for runs of the same length and count (once giving
    236 M ops/s); memtier's own figure and duration are kept in the JSON."""
    totals = report["ALL STATS"]["Totals"]
    pct = totals["Percentile Latencies"]
    return {"ops_per_s": totals["Count"] / test_time, "ops": totals["Count"],
            "p50_us": pct["p50.00"] * 1000.0, "p99_us": pct["p99.00"] * 1000.0,
            "p999_us": pct["p99.90"] * 1000.0, "memtier_ops_per_s": totals["Ops/sec"],
            "memtier_duration_ms": report["ALL STATS"]["Runtime"]["Total duration"]}


def fmt_run(run):
    return (f"{run['p50_us']:.0f}/{run['p99_us']:.0f}/{run['p999_us']:.0f} "
            f"{run['ops_per_s']:.0f}")


# -- summary and table -------------------------------------------------------------------------

MEASURES = (("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9"), ("ops_per_s", "ops/s"))


def summarize(name, title, kind, offered, config, rounds, busy_threshold):
    s = {"name": name, "title": title, "kind": kind, "config": config, "offered": offered,
         "rounds": rounds,
         "noisy_rounds": sum(r["other_cores"] > busy_threshold for r in rounds)}
    for server in SERVERS:
        runs = [r[server] for r in rounds]
        s[server] = {key: statistics.median(run[key] for run in runs) for key, _ in MEASURES}
        s[server]["errors"] = sum(run["errors"] for run in runs)
        s[server]["late_max"] = max((run["late"] / run["ops"] if run.get("ops") else 0.0)
                                    for run in runs)
    for key, _ in MEASURES:
        ratios = [r["ringcached"][key] / r["memcached"][key] for r in rounds
                  if r["memcached"][key] > 0]
        s[key + "_ratio"] = ((statistics.median(ratios), min(ratios), max(ratios))
                             if ratios else None)
    return s


def mark_overload(summaries, saturation):
    for s in summaries:
        sat = saturation.get(s["config"])
        s["saturation"] = sat
        s["overloaded"] = bool(s["offered"] and sat and s["offered"] > OVERLOAD_SHARE * sat)


def fmt_us(v):
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def fmt_ops(v):
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def fmt_ratio(r):
    return "-" if r is None else f"{r[0]:.2f} ({r[1]:.2f}-{r[2]:.2f})"


def table_row(s):
    rc, mc = s["ringcached"], s["memcached"]
    cells = [s["title"], s["config"]]
    for key, _ in MEASURES[:3]:
        if s["overloaded"]:
            cells += ["-", "-"]
            continue
        # Only the open loop charges a late send to the latency (paced: it lowers the rate).
        late = {n: "*" if s["kind"] == "open" and s[n]["late_max"] > LATE_SHARE else ""
                for n in SERVERS}
        cells += [f"{fmt_us(rc[key])}{late['ringcached']} / {fmt_us(mc[key])}{late['memcached']}",
                  fmt_ratio(s[key + "_ratio"])]
    cells += [f"{fmt_ops(rc['ops_per_s'])} / {fmt_ops(mc['ops_per_s'])}",
              fmt_ratio(s["ops_per_s_ratio"]), f"{s['noisy_rounds']}/{len(s['rounds'])}"]
    if rc["errors"] or mc["errors"]:
        cells[0] += f" (errors rc {rc['errors']}, mc {mc['errors']})"
    return "| " + " | ".join(cells) + " |"


def print_table(title, summaries):
    print()
    print(title)
    print()
    print("| cell | -t | p50 us rc / mc | p50 ratio | p99 us rc / mc | p99 ratio | "
          "p99.9 us rc / mc | p99.9 ratio | ops/s rc / mc | ops/s ratio | noisy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in summaries:
        print(table_row(s))


def print_notes(opts, saturation):
    sat = ", ".join(f"-t {c}: {fmt_ops(v)}/s" for c, v in saturation.items())
    print()
    print("rc / mc = median over the rounds of ringcached's and memcached's figure; ratio = "
          "median of the\nper-round ratios ringcached / memcached (below 1 is better for "
          "latency, above 1 for ops/s),\nwith the lowest and highest in brackets. "
          f"Latency \"-\": offered load above {OVERLOAD_SHARE:.0%} of memcached's\n"
          "saturation, throughput only. memcached's saturation (closed loop, 50 connections) "
          f"in this run:\n{sat}.\nclosed and paced: latency from send to reply; open: from "
          "the intended send time, and * = the\nclient sent over 0.1% of its requests more "
          "than 1 ms late in some round. noisy = rounds in which\nother processes used more "
          f"than {opts.busy_threshold:.2f} cores.")


def server_default_threads(binary):
    """The worker count a server runs without -t, from its --help ("(default: 4)"), or "?"."""
    try:
        text = subprocess.run([binary, "--help"], capture_output=True, text=True,
                              timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    m = re.search(r"--threads=\S*\s+number of threads.*?\(default: (\d+)\)", text)
    return m.group(1) if m else "?"


# -- main --------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="ringcached vs memcached latency, paired rounds (bench/README.md)")
    p.add_argument("--ringcached", default=os.environ.get("RINGCACHED", "./ringcached"),
                   help="ringcached binary (default: $RINGCACHED or ./ringcached)")
    p.add_argument("--memcached", default=shutil.which("memcached") or "/usr/bin/memcached")
    p.add_argument("--loadgen", default=os.environ.get("RC_LOADGEN", "./bench/rc-loadgen"),
                   help="rc-loadgen binary (default: $RC_LOADGEN or ./bench/rc-loadgen)")
    p.add_argument("--ringcached-args", default="",
                   help="extra ringcached options, e.g. '--io-engine=epoll'")
    p.add_argument("--memcached-args", default="", help="extra memcached options")
    p.add_argument("--quick", action="store_true",
                   help="the cells marked quick, 2 rounds of 1 s after 0.5 s of warm-up "
                        "(about two minutes)")
    p.add_argument("--only", default="", help="comma-separated cell names (see --list); "
                   f"{SATURATION_CELL} always runs")
    p.add_argument("--list", action="store_true", help="list the cells and exit")
    p.add_argument("--configs", default="1,default",
                   help="server configurations: thread counts for -t, or 'default' for no -t "
                        "(default: 1,default)")
    p.add_argument("--rounds", type=int, default=None,
                   help="paired rounds per cell (default 5, --quick 2)")
    p.add_argument("--duration", type=float, default=None,
                   help="measured seconds per run (default 3, --quick 1)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds of load before measuring (default 1, --quick 0.5)")
    p.add_argument("--keys", type=int, default=100000, help="preloaded keys (default 100000)")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--busy-threshold", type=float, default=0.15,
                   help="other load, in cores, above which a round counts as noisy")
    p.add_argument("--quiet-wait", type=float, default=None,
                   help="seconds to wait for a quiet machine before each pair (default 3, "
                        "--quick 0.5)")
    p.add_argument("--memtier", action="store_true",
                   help="also cross-check a few cells with memtier_benchmark")
    p.add_argument("--memtier-path", default="",
                   help="memtier_benchmark binary (implies --memtier; default: from PATH)")
    p.add_argument("--json", default="", help="also write every round's figures to this file")
    opts = p.parse_args(argv)
    defaults = {"rounds": (5, 2), "duration": (3.0, 1.0), "warmup": (1.0, 0.5),
                "quiet_wait": (3.0, 0.5)}
    for key, (full, quick) in defaults.items():
        if getattr(opts, key) is None:
            setattr(opts, key, quick if opts.quick else full)
    opts.configs = [c.strip() for c in opts.configs.split(",") if c.strip()]
    if opts.memtier_path:
        opts.memtier = True
    elif opts.memtier:
        opts.memtier_path = shutil.which("memtier_benchmark") or ""
    return opts


def select_cells(opts):
    if opts.only:
        names = set(opts.only.split(",")) | {SATURATION_CELL}
        unknown = names - {c.name for c in CELLS}
        if unknown:
            raise SystemExit(f"unknown cells: {', '.join(sorted(unknown))} (see --list)")
        return [c for c in CELLS if c.name in names]
    return [c for c in CELLS if c.quick or not opts.quick]


def check_setup(opts):
    """A message saying what is missing, or ''."""
    for path, what in ((opts.ringcached, "ringcached"), (opts.memcached, "memcached"),
                       (opts.loadgen, "loadgen")):
        if not os.access(path, os.X_OK):
            return f"{what} not found at {path} (build it, or pass --{what})"
    if shutil.which("taskset") is None:
        return "taskset not found (util-linux)"
    if opts.memtier and not os.access(opts.memtier_path, os.X_OK):
        return "memtier_benchmark is not on PATH (or pass --memtier-path)"
    for c in opts.configs:
        if c != "default" and not (c.isdigit() and int(c) > 0):
            return f"--configs: {c!r} is neither a thread count nor 'default'"
    if opts.rounds < 1:
        return "--rounds must be at least 1"
    return ""


def main(argv):
    install_signal_handlers()
    opts = parse_args(argv)
    if opts.list:
        for c in CELLS:
            print(f"{c.name:16} {'quick' if c.quick else '     '}  {c.title}")
        return 0
    cells = select_cells(opts)
    problem = check_setup(opts)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if opts.rounds < 3:
        print("note: fewer than 3 rounds; the ratio ranges mean little", file=sys.stderr)

    defaults = {name: server_default_threads(getattr(opts, name)) for name in SERVERS}
    extra = "".join(f"; {n} {getattr(opts, n + '_args')}" for n in SERVERS
                    if getattr(opts, n + "_args"))
    header = (f"ringcached: {version_of(opts.ringcached)} ({opts.ringcached})\n"
              f"memcached:  {version_of(opts.memcached)} ({opts.memcached})\n"
              f"machine: {os.cpu_count()} CPUs, {os.uname().release}; server on CPU "
              f"{opts.server_cpu}, client on CPU {opts.client_cpu}; {opts.rounds} rounds x "
              f"({opts.warmup:g} s warm-up + {opts.duration:g} s) per server; text, 32 B values, "
              f"1:10, {opts.keys} keys preloaded\n-t default = no -t: ringcached "
              f"{defaults['ringcached']} workers, memcached {defaults['memcached']}{extra}; "
              f"load average at start {os.getloadavg()[0]:.2f}")
    bench = Bench(opts)
    t0 = time.monotonic()
    summaries, memtier_summaries = [], []
    try:
        for config in opts.configs:
            for cell in cells:
                print(f"== {cell.name}: {cell.title} (-t {config})", file=sys.stderr)
                rounds = bench.run_cell(cell, config, bench.run_loadgen)
                summaries.append(summarize(cell.name, cell.title, cell.kind, cell.offered,
                                           config, rounds, opts.busy_threshold))
            if not opts.memtier:
                continue
            for cell in MEMTIER_CELLS:
                name, conns, rate = cell
                title = (f"memtier --rate-limiting={rate} x {conns} conns" if rate else
                         f"memtier closed, {conns} conn{'s' if conns > 1 else ''}")
                print(f"== {name}: {title} (-t {config})", file=sys.stderr)
                rounds = bench.run_cell(cell, config, bench.run_memtier)
                memtier_summaries.append(summarize(name, title, "paced" if rate else "closed",
                                                   rate * conns or None, config, rounds,
                                                   opts.busy_threshold))
    finally:
        stop_all()
    saturation = {s["config"]: s["memcached"]["ops_per_s"] for s in summaries
                  if s["name"] == SATURATION_CELL}
    mark_overload(summaries + memtier_summaries, saturation)
    header += f"; took {time.monotonic() - t0:.0f} s"
    print_table(header, summaries)
    if memtier_summaries:
        memtier_version = version_of(opts.memtier_path, "--version")
        print_table(f"memtier_benchmark cross-check ({memtier_version}; one client thread, its "
                    "own key space preloaded by memtier):", memtier_summaries)
    print_notes(opts, saturation)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"header": header, "saturation": saturation, "cells": summaries,
                       "memtier": memtier_summaries}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
