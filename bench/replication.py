#!/usr/bin/python3
# bench/replication.py -- what replication costs (issue 17): two-node clusters with R = 2
# (asynchronous replication) against the same with R = 1, side by side in one run, in paired
# rounds.
#
# Setup: a private ZooKeeper (as the cluster tests start it: Debian's zookeeper package) and, per
# round, two fresh two-node clusters on it, one per configuration: R = 1 (no secret file) and
# R = 2 (a secret file: every write is copied to the other node). Both nodes of a cluster run
# -t 1 pinned to --server-cpu; rc-loadgen, pinned to --client-cpu, drives one node of it (the
# other only receives copies) with 50 connections, closed loop, text protocol, 32-byte values,
# set:get 1:10 over a preloaded key space (100k keys). The order of the two configurations
# alternates per round.
#
# Reported per round and as the median and range of the per-round ratios R=2 / R=1: throughput
# (ops/s at the client), and server CPU per request, summed over both nodes (for R = 2 it
# includes the receiving node's work: that is what the copy costs the cluster), with p50/p99.
# The target is a throughput ratio of at least 0.8.
#
# Usage: bench/replication.py [--rounds N] [--duration S] [--ringcached PATH] [--loadgen PATH]
import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "t", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "t", "proto"))
from benchlib import (Server, install_signal_handlers, loadgen_json, run_client,  # noqa: E402
                      stop_all, timed_client)
import zkcluster  # noqa: E402


def start_cluster(args, zk, path, secret):
    extra = ["--cluster", f"zk://{zk.hosts}{path}", "--ring-debounce-ms", "50"]
    if secret:
        extra += ["--cluster-secret-file", secret]
    nodes = [Server(f"{path}-{i}", args.ringcached, threads=1, memory_mb=512,
                    cpu=args.server_cpu, extra=extra).start() for i in range(2)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if all(n.stats("cluster").get("ring_members") == "2" for n in nodes):
                return nodes
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"cluster {path} did not form:\n{nodes[0].output()}")


def run(args, zk, label, path, secret):
    nodes = start_cluster(args, zk, path, secret)
    try:
        target = f"127.0.0.1:{nodes[0].port}"
        base = [args.loadgen, "-s", target, "-k", "100000", "-v", "32"]
        run_client(base + ["--preload-only"], cpu=args.client_cpu)
        cpu0 = sum(n.cpu_seconds() for n in nodes)
        out, _ = timed_client(nodes[0], base + ["-c", "50", "-R", "1:10", "-t",
                                                str(args.duration)],
                              cpu=args.client_cpu)
        cpu = sum(n.cpu_seconds() for n in nodes) - cpu0
        j = loadgen_json(out)
        ops = j["ops_per_s"]
        repl = nodes[0].stats("cluster")
        return {"label": label, "ops": ops, "cpu_per_req": cpu / max(j["ops"], 1),
                "p50": j["lat_us"]["p50"], "p99": j["lat_us"]["p99"],
                "repl_applied": int(repl.get("repl_applied", 0)),
                "repl_dropped": int(repl.get("repl_dropped", 0))}
    finally:
        for n in nodes:
            n.stop()


def main():
    p = argparse.ArgumentParser(description="replication R=2 against R=1, two-node clusters")
    p.add_argument("--ringcached", default=os.environ.get("RINGCACHED", "./ringcached"))
    p.add_argument("--loadgen", default=os.environ.get("RC_LOADGEN", "./bench/rc-loadgen"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--client-cpu", default="1")
    args = p.parse_args()
    missing = zkcluster.zookeeper_missing()
    if missing:
        sys.exit(f"replication.py: {missing}")
    install_signal_handlers()
    work = tempfile.mkdtemp(prefix="rc-bench-repl-")
    secret = zkcluster.write_secret(work, "benchmark secret")
    zk = zkcluster.ZooKeeper(work)
    zk.start()
    rows = []
    try:
        for r in range(args.rounds):
            pair = [("R=1", None), ("R=2", secret)]
            if r % 2:
                pair.reverse()
            got = {}
            for label, sec in pair:
                got[label] = run(args, zk, label, f"/bench/r{r}-{label[-1]}", sec)
            one, two = got["R=1"], got["R=2"]
            ratio = two["ops"] / one["ops"]
            cpu_ratio = two["cpu_per_req"] / one["cpu_per_req"]
            rows.append((ratio, cpu_ratio, one, two))
            print(f"  round {r + 1}: R=1 {one['ops']:9.0f} ops/s {one['cpu_per_req'] * 1e6:5.1f} "
                  f"us CPU/req p50/p99 {one['p50']}/{one['p99']} | R=2 {two['ops']:9.0f} ops/s "
                  f"{two['cpu_per_req'] * 1e6:5.1f} us CPU/req p50/p99 {two['p50']}/{two['p99']}"
                  f" (copies applied {two['repl_applied']}, dropped {two['repl_dropped']}) | "
                  f"ratio {ratio:.3f}, CPU/req ratio {cpu_ratio:.3f}", flush=True)
    finally:
        stop_all()
        zk.kill()
    ratios = [r[0] for r in rows]
    cpus = [r[1] for r in rows]
    print(f"\nR=2 / R=1, {args.rounds} paired rounds of {args.duration:g} s, two nodes -t 1 on "
          f"CPU {args.server_cpu}, client on CPU {args.client_cpu}, 50 connections, 1:10:")
    print(f"  throughput ratio   median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}-{max(ratios):.3f}); target >= 0.8")
    print(f"  CPU/request ratio  median {statistics.median(cpus):.3f} "
          f"(range {min(cpus):.3f}-{max(cpus):.3f}), both nodes summed")


if __name__ == "__main__":
    main()
