#!/usr/bin/python3
# bench/replication.py -- what replication costs and what it buys (issues 17 and 19), side by side
# in one run, in paired rounds. Six measures (--only picks some):
#
#   throughput  R = 2 asynchronous against R = 1: two two-node clusters per round, one per
#               configuration (R = 1: no secret file; R = 2: a secret file, so every write is
#               copied to the other node). rc-loadgen drives one node (node 0; the other only
#               receives copies) with 50 connections, closed loop, text protocol, 32-byte values,
#               set:get 1:10 over a preloaded key space (100k keys), for --duration seconds.
#               Reported: throughput (ops/s at the client) and server CPU per request, summed
#               over both nodes (for R = 2 it includes the receiving node's work: that is what
#               the copy costs the cluster), p50/p99, and the median and range of the per-round
#               ratios R=2 / R=1. Target: throughput ratio >= 0.8.
#               Replication lag under that load, from the same R = 2 run: node 0's
#               `stats replication` after the run, `<peer>:lag_p50_us` / `lag_p99_us` (from node
#               0's apply to node 1's answer; the upper bound of a power-of-two bucket, so within
#               a factor of two) and `<peer>:dropped`. The lag histogram counts from the node's
#               start and cannot be reset, so the R = 2 cluster is preloaded through node 1 (its
#               copies fill node 0, which does not send them on): node 0's lag and drops then
#               count the measured run's writes only. Both nodes share --server-cpu, so the lag
#               includes waiting for the scheduler to run the receiving node.
#   sync        synchronous replication's set latency against R = 1: per round three two-node
#               clusters, the order rotating: R = 1, R = 2 async (a reference: what the copy costs
#               when nobody waits for it) and R = 2 with `--replication sync` (a set is answered
#               once node 1 has acknowledged its copy); 100k keys preloaded through node 0, then a
#               write-heavy load on node 0, set:get 1:1, 32-byte values, in three shapes of
#               --duration seconds each: closed loop with 1 connection (the bare round trip),
#               closed loop with 8 connections (saturates the shared server core, so latency
#               there is mostly queueing: connections / throughput), and open loop at --sync-rate
#               (10k) requests/s over 16 connections (latency from each request's intended send
#               time). Reported: set p50/p99 (rc-loadgen's per-kind histogram, `set_lat_us`), the
#               ratios sync / R=1 (median and range over the rounds), ops/s and server CPU per
#               request (both nodes), and sync's errors (a SERVER_ERROR is a copy not acknowledged
#               within --replication-timeout-ms). Target: sync set p99 <= 2x R=1's.
#   capacity    hit ratio at equal -m, R = 1 against R = 2: two two-node clusters per round, each
#               node -m --capacity-m (64), 1 KB values. The client spreads the keys over both
#               nodes: each node is driven by its own rc-loadgen (8 connections; the two run at
#               once) on half of the key ids, a contiguous range standing for the keys Ketama
#               gives that node (for capacity only how many keys a node is sent matters, and with
#               two nodes and R = 2 both nodes hold every key, so no write reaches a non-holder).
#               The key space, --capacity-keys (300k: about 300 MB of key+value against
#               2 x 64 MB), is larger than even R = 1's memory. It is filled once (a set of every
#               key), then, for Zipf(0.99) and then uniform key choice: a warm-up and a measured
#               window of --capacity-ops (200k) requests per node each, set:get 1:10 with
#               look-aside (a get that misses is followed by a set of its key, as a cache's
#               client does). Reported: the window's get hit ratio, get_hits / cmd_get summed
#               over both nodes (differences of `stats`, checked against the clients' counts),
#               for R=1 and R=2 and the ratio R=2 / R=1; items held (curr_items, both nodes) and,
#               for R = 2, how many of them are copies (`stats replication` copies). R = 2 holds
#               each key twice, so about half as many unique keys: uniform key choice shows that
#               most directly, Zipf what it costs a skewed workload.
#   failover    hit ratio across a failover with a full cache: per round a fresh three-node
#               cluster, R = 2 asynchronous, -m --failover-m (32) per node, 2 KB values, and a
#               client that routes keys as a Ketama client does and fails over as users
#               configure it: pylibmc (libmemcached) with KETAMA_WEIGHTED and
#               REMOVE_FAILED_SERVERS, failure limit 1, as t/cluster/failover_test.py. It sets
#               every key of --failover-keys (100k: about 400 MB with the copies, against
#               3 x 32 MB), then reads Zipf(0.99) keys with look-aside (a miss is set) for a
#               warm-up (--failover-warmup reads, 300k, at most --failover-warmup-s, 20 s), so
#               that access hints -- every second each node tells a key's other holders which of
#               its keys clients read, so that eviction there keeps them -- have shaped the
#               replicas; then, 1.5 s later, it reads a seeded Zipf sequence of --failover-reads
#               (30k) keys, read-only ("before"), kills one node with SIGKILL (a different one
#               each round), and reads the same sequence again ("after"): the dead node's keys
#               go to their next holder, the node the cluster copied them to. A read that fails
#               (the first to the dead node, which ejects it) is retried, as an application
#               would; one that fails three times counts as a miss. Reported: hit ratio before
#               and after and the ratio after / before, overall and for the dead node's keys
#               alone (owners from ringcached-ring, next to --ringcached); what the dead node
#               held, evicted and sent as hints. Target: after >= 99% of before. The client is
#               Python (about 15k reads/s), pinned to --client-cpu; the ratio is a count, not a
#               throughput, but the client's speed sets how fast the caches turn over.
#   restore     hand-off after a loss (issue 19): three nodes (R = 2, 2 s sessions) each holding
#               --restore-mb (256 MB; preloaded through node 0 in 4 KB values); node 2 is killed
#               with SIGKILL, and the survivors push the keys it held to their new holders.
#               Reported: the time from the survivors' new ring to both walks done, the MB pushed
#               and the rate, and the live load's p99 on node 0 (rc-loadgen open loop at
#               --restore-rate-live, 1:10, in 1 s runs) during the walk against before the kill,
#               and against the median of the 3 s before and the 3 s after the walk (this
#               machine's p99 drifts between minutes as much as a walk moves it).
#               Target: p99 during <= 1.2x before at the default --handoff-rate.
#   join        the hit ratio over time across a join, with hand-off and without: per round two
#               two-node clusters, the order alternating, each holding --join-keys 1 KB keys
#               (-m large enough to keep them all): R = 2 (hand-off: the joiner warms, out of
#               `config get cluster`, until its keys have arrived) and R = 1 (no hand-off: a
#               plain consistent-hashing join, as memcached's clients see one). A reader that
#               follows `config get cluster` (polled every 100 ms; its pylibmc KETAMA_WEIGHTED
#               client rebuilt on each new version) reads Zipf(0.99) keys with look-aside (a
#               miss is set), for --join-before s, then a third node joins, and it reads on for
#               --join-after s. Reported: the hit ratio per 0.5 s window, before (mean) and the
#               lowest window after the join, the dip (points) and the windows below before - 1
#               point. Target: dip <= 1 point with hand-off.
#
# Every node runs -t 1 pinned to --server-cpu (all but node 0 to --peer-cpu when given); clients
# run pinned to --client-cpu. A private
# ZooKeeper (Debian's zookeeper package, as the cluster tests start it) serves every cluster. The
# order of the configurations alternates per round. Before each timed run the script waits (up
# to --quiet-wait s) for the machine to be quiet; a round in which other processes used more
# than --busy-threshold cores counts as noisy (throughput, sync). Every client run is bounded in
# requests and in time; every process is stopped by PID (benchlib, zkcluster). --quick: 2 rounds
# of shorter runs and smaller key spaces (about 2 minutes); the full run (3 rounds) takes about
# 6 minutes. --json PATH keeps every round's figures.
#
# Usage: bench/replication.py [--only throughput,sync,capacity,failover,restore,join] [--quick]
#          [--rounds N] [--restore-mb MB] [--handoff-rate BYTES]
#          [--duration S] [--sync-rate OPS] [--json PATH] [--ringcached PATH] [--loadgen PATH]
#          (the full run of every measure takes about 8 minutes)
import argparse
import bisect
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "t", "cluster"))
sys.path.insert(0, os.path.join(HERE, "..", "t", "proto"))
from benchlib import (CLK_TCK, Server, children_cpu_seconds, install_signal_handlers,  # noqa
                      loadgen_json, machine_times, run_client, spread, stop_all, stop_process,
                      wait_for_quiet)
import zkcluster  # noqa: E402

MEASURES = ("throughput", "sync", "capacity", "failover", "restore", "join")


# -- clusters --------------------------------------------------------------------------------------

def start_cluster(args, zk, path, count, secret=None, memory_mb=512, extra=()):
    """`count` nodes of the cluster at `path`, -t 1, node 0 on --server-cpu and the others on
    --peer-cpu (the same CPU unless given), returned once each sees all."""
    flags = ["--cluster", f"zk://{zk.hosts}{path}", "--ring-debounce-ms", "50"] + list(extra)
    if secret:
        flags += ["--cluster-secret-file", secret]
    nodes = [Server(f"{path}-{i}", args.ringcached, threads=1, memory_mb=memory_mb,
                    cpu=args.server_cpu if i == 0 else (args.peer_cpu or args.server_cpu),
                    extra=flags).start() for i in range(count)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            # Every member listed, and up (with a secret a node warms until its keys arrived).
            if all(n.stats("cluster").get("ring_members") == str(count) and
                   set(n.stats("cluster").get("ring_member_states", "").split(",")) == {"up"}
                   for n in nodes):
                return nodes
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"cluster {path} did not form:\n{nodes[0].output()}")


def stop_nodes(nodes):
    for n in nodes:
        n.stop()


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def peer_stats(node):
    """`stats replication` per peer: {peer name: {field: int}} (the name has a colon itself)."""
    out = {}
    for key, value in node.stats("replication").items():
        peer, sep, field = key.rpartition(":")
        if sep and ":" in peer:
            try:
                out.setdefault(peer, {})[field] = int(value)
            except ValueError:
                pass
    return out


def run_clients(cmds, cpu, timeout):
    """Runs the clients at once (each pinned to `cpu`), each to completion; their JSON lines."""
    results = [None] * len(cmds)

    def go(i):
        try:
            results[i] = run_client(cmds[i], cpu=cpu, timeout=timeout)
        except RuntimeError as e:
            results[i] = ("", str(e), -1)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(cmds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = []
    for cmd, (stdout, stderr, rc) in zip(cmds, results):
        if rc != 0:
            raise RuntimeError(f"client failed (status {rc}): {' '.join(cmd)}\n{stderr}{stdout}")
        out.append(loadgen_json(stdout) if "--preload-only" not in cmd else None)
    return out


def cluster_client(nodes, cmd, cpu, timeout):
    """Runs one rc-loadgen against a running cluster: (its JSON line, the nodes' CPU seconds
    summed, and other_cores: what the rest of the machine was busy with meanwhile, in cores)."""
    busy0, _ = machine_times()
    srv0, cli0, t0 = sum(n.cpu_seconds() for n in nodes), children_cpu_seconds(), time.monotonic()
    out, err, rc = run_client(cmd, cpu=cpu, timeout=timeout)
    wall = time.monotonic() - t0
    srv = sum(n.cpu_seconds() for n in nodes) - srv0
    cli = children_cpu_seconds() - cli0
    busy1, _ = machine_times()
    if rc != 0:
        raise RuntimeError(f"client failed (status {rc}):\n{' '.join(cmd)}\n{err}{out}")
    for n in nodes:
        if n.proc.poll() is not None:
            raise RuntimeError(f"{n.name} died during the run:\n{n.output()}")
    other = max(0.0, (busy1 - busy0) / CLK_TCK - srv - cli) / wall
    return loadgen_json(out), srv, other


def quiet(args):
    """Waits (at most --quiet-wait s) for the machine to be quiet before a cluster's run."""
    if args.quiet_wait > 0:
        wait_for_quiet(args.busy_threshold, args.quiet_wait)


def sum_stats(nodes, fields):
    totals = dict.fromkeys(fields, 0)
    for n in nodes:
        st = n.stats()
        for f in fields:
            totals[f] += int(st.get(f, 0))
    return totals


def med(values):
    return statistics.median(values) if values else float("nan")


# -- throughput, and lag under that load -----------------------------------------------------------

def run_throughput(args, zk, label, path, secret):
    nodes = start_cluster(args, zk, path, 2, secret)
    try:
        keys = args.keys
        base = [args.loadgen, "-k", str(keys), "-v", "32"]
        target = ["-s", f"127.0.0.1:{nodes[0].port}"]
        if secret:
            # Preloaded through node 1: node 0 receives the keys as copies and sends nothing, so
            # its peer links' lag and drops count the measured run only.
            run_client(base + ["-s", f"127.0.0.1:{nodes[1].port}", "--preload-only"],
                       cpu=args.client_cpu, timeout=120)
            peer0 = f"127.0.0.1:{nodes[0].port}"

            def settled():
                p = peer_stats(nodes[1]).get(peer0, {})
                return (int(nodes[0].stats().get("curr_items", 0)) >= keys
                        and p.get("pending_bytes", 1) == 0)
            wait_until(settled, 30, "the preload's copies on node 0")
        else:
            run_client(base + target + ["--preload-only"], cpu=args.client_cpu, timeout=120)
        quiet(args)
        j, cpu, other = cluster_client(nodes, base + target + ["-c", "50", "-R", "1:10", "-t",
                                                               str(args.duration)],
                                       args.client_cpu, args.duration + 60)
        row = {"label": label, "ops": j["ops_per_s"], "cpu_per_req": cpu / max(j["ops"], 1),
               "p50": j["lat_us"]["p50"], "p99": j["lat_us"]["p99"], "errors": j["errors"],
               "other_cores": other}
        if secret:
            time.sleep(0.2)  # the last answers of the run
            peers = peer_stats(nodes[0])
            p = next(iter(peers.values()), {})
            row.update({"lag_p50_us": p.get("lag_p50_us", 0), "lag_p99_us": p.get("lag_p99_us", 0),
                        "dropped": p.get("dropped", 0), "applied": p.get("applied", 0),
                        "queued": p.get("queued", 0), "resyncs": p.get("resyncs", 0),
                        "sets": j["sets"]})
        return row
    finally:
        stop_nodes(nodes)


def measure_throughput(args, zk, secret, results):
    print(f"\n== throughput and lag: R=2 async against R=1, two nodes, 50 connections, 1:10, "
          f"{args.duration:g} s", flush=True)
    rows = []
    for r in range(args.rounds):
        pair = [("R=1", None), ("R=2", secret)]
        if r % 2:
            pair.reverse()
        got = {label: run_throughput(args, zk, label, f"/bench/t{r}-{label[-1]}", sec)
               for label, sec in pair}
        one, two = got["R=1"], got["R=2"]
        ratio = two["ops"] / one["ops"]
        cpu_ratio = two["cpu_per_req"] / one["cpu_per_req"]
        rows.append({"round": r + 1, "ratio": ratio, "cpu_ratio": cpu_ratio, "R=1": one,
                     "R=2": two})
        print(f"  round {r + 1}: R=1 {one['ops']:9.0f} ops/s {one['cpu_per_req'] * 1e6:5.1f} "
              f"us CPU/req p50/p99 {one['p50']:.0f}/{one['p99']:.0f} | R=2 {two['ops']:9.0f} "
              f"ops/s {two['cpu_per_req'] * 1e6:5.1f} us CPU/req p50/p99 "
              f"{two['p50']:.0f}/{two['p99']:.0f} | ratio {ratio:.3f}, CPU/req ratio "
              f"{cpu_ratio:.3f} | lag p50/p99 {two['lag_p50_us']}/{two['lag_p99_us']} us, "
              f"copies applied {two['applied']} of {two['sets']} sets, dropped {two['dropped']}",
              flush=True)
    results["throughput"] = rows
    return rows


def report_throughput(args, rows):
    print(f"\nthroughput: R=2 / R=1, {len(rows)} paired rounds of {args.duration:g} s, two nodes "
          f"-t 1 on CPU {args.server_cpu}, client on CPU {args.client_cpu}, 50 connections, 1:10:")
    print(f"  ops/s R=1 / R=2      {med([r['R=1']['ops'] for r in rows]):.0f} / "
          f"{med([r['R=2']['ops'] for r in rows]):.0f}")
    print(f"  throughput ratio     {spread([r['ratio'] for r in rows])}; target >= 0.8")
    print(f"  CPU/request ratio    {spread([r['cpu_ratio'] for r in rows])}, both nodes summed")
    print(f"  lag p50 us           {spread([r['R=2']['lag_p50_us'] for r in rows], '{:.0f}')}"
          f" (power-of-two bucket bounds)")
    print(f"  lag p99 us           {spread([r['R=2']['lag_p99_us'] for r in rows], '{:.0f}')}")
    print(f"  dropped per round    {[r['R=2']['dropped'] for r in rows]}")
    noisy = sum(max(r["R=1"]["other_cores"], r["R=2"]["other_cores"]) > args.busy_threshold
                for r in rows)
    print(f"  noisy rounds         {noisy}/{len(rows)} (other processes over "
          f"{args.busy_threshold} cores)")


# -- sync: synchronous mode's set latency ----------------------------------------------------------

def sync_shapes(args):
    """(key, description, rc-loadgen flags) of the sync measure's loads."""
    return [("c1", "closed loop, 1 conn", ["-c", "1"]),
            ("c8", "closed loop, 8 conns", ["-c", "8"]),
            ("open", f"open loop {args.sync_rate}/s, 16 conns",
             ["-c", "16", "-r", str(args.sync_rate)])]


def run_sync(args, zk, label, path, secret):
    extra = ["--replication", "sync"] if label == "sync" else []
    nodes = start_cluster(args, zk, path, 2, secret, extra=extra)
    try:
        base = [args.loadgen, "-s", f"127.0.0.1:{nodes[0].port}", "-k", str(args.keys), "-v",
                "32", "-R", "1:1"]
        run_client(base + ["--preload-only"], cpu=args.client_cpu, timeout=120)
        row = {"label": label}
        for shape, _, flags in sync_shapes(args):
            quiet(args)
            j, cpu, other = cluster_client(nodes, base + flags + ["-t", str(args.duration)],
                                           args.client_cpu, args.duration + 60)
            row[shape] = {"ops": j["ops_per_s"], "cpu_per_req": cpu / max(j["ops"], 1),
                          "set_p50": j["set_lat_us"]["p50"],
                          "set_p99": j["set_lat_us"]["p99"], "get_p99": j["get_lat_us"]["p99"],
                          "errors": j["errors"], "late": j["late"], "sets": j["sets"],
                          "other_cores": other}
        return row
    finally:
        stop_nodes(nodes)


def measure_sync(args, zk, secret, results):
    print(f"\n== sync: R=2 --replication sync against R=1 (and R=2 async), two nodes, set:get 1:1, "
          f"{args.duration:g} s per load", flush=True)
    rows = []
    for r in range(args.rounds):
        # R=1, async R=2 (a reference: what the copy costs when nobody waits for it) and sync,
        # the order rotating per round.
        order = ["R=1", "async", "sync"]
        order = order[r % 3:] + order[:r % 3]
        got = {label: run_sync(args, zk, label, f"/bench/s{r}-{label}",
                               None if label == "R=1" else secret) for label in order}
        row = {"round": r + 1, **got}
        print(f"  round {r + 1}:", flush=True)
        for shape, what, _ in sync_shapes(args):
            one, asy, syn = got["R=1"][shape], got["async"][shape], got["sync"][shape]
            row[f"{shape}_p99_ratio"] = syn["set_p99"] / max(one["set_p99"], 1e-9)
            row[f"{shape}_p50_ratio"] = syn["set_p50"] / max(one["set_p50"], 1e-9)
            row[f"{shape}_noisy"] = max(x["other_cores"] for x in (one, asy, syn)) > \
                args.busy_threshold
            row[f"{shape}_late"] = one["late"] + asy["late"] + syn["late"]
            print(f"    {what:28} set p50/p99 us R=1 {one['set_p50']:.0f}/{one['set_p99']:.0f}, "
                  f"async {asy['set_p50']:.0f}/{asy['set_p99']:.0f}, sync "
                  f"{syn['set_p50']:.0f}/{syn['set_p99']:.0f}: sync p99 ratio "
                  f"{row[f'{shape}_p99_ratio']:.2f}; ops/s {one['ops']:.0f} / {asy['ops']:.0f} / "
                  f"{syn['ops']:.0f}, CPU us/req {one['cpu_per_req'] * 1e6:.1f} / "
                  f"{asy['cpu_per_req'] * 1e6:.1f} / {syn['cpu_per_req'] * 1e6:.1f}; sync errors "
                  f"{syn['errors']}{'; noisy' if row[f'{shape}_noisy'] else ''}"
                  f"{'; late sends ' + str(row[f'{shape}_late']) if row[f'{shape}_late'] else ''}",
                  flush=True)
        rows.append(row)
    results["sync"] = rows
    return rows


def report_sync(args, rows):
    print(f"\nsync: set latency, R=1 / R=2 async / R=2 sync, {len(rows)} rounds of "
          f"{args.duration:g} s, two nodes -t 1 on CPU {args.server_cpu}"
          f"{f' and {args.peer_cpu}' if args.peer_cpu else ''}, set:get 1:1, 32 B:")
    for shape, what, _ in sync_shapes(args):
        one, asy, syn = ([r[c][shape] for r in rows] for c in ("R=1", "async", "sync"))

        def m(xs, f, scale=1):
            return f"{med([x[f] * scale for x in xs]):.{1 if scale != 1 else 0}f}"
        noisy = sum(r[f"{shape}_noisy"] for r in rows)
        print(f"  {what:28} set p50 R=1 / async / sync {m(one, 'set_p50')} / {m(asy, 'set_p50')}"
              f" / {m(syn, 'set_p50')} us; sync / R=1 "
              f"{spread([r[f'{shape}_p50_ratio'] for r in rows], '{:.2f}')}")
        print(f"  {'':28} set p99 R=1 / async / sync {m(one, 'set_p99')} / {m(asy, 'set_p99')}"
              f" / {m(syn, 'set_p99')} us; sync / R=1 "
              f"{spread([r[f'{shape}_p99_ratio'] for r in rows], '{:.2f}')}; target <= 2")
        print(f"  {'':28} ops/s {m(one, 'ops')} / {m(asy, 'ops')} / {m(syn, 'ops')}, server CPU "
              f"us/req {m(one, 'cpu_per_req', 1e6)} / {m(asy, 'cpu_per_req', 1e6)} / "
              f"{m(syn, 'cpu_per_req', 1e6)}; sync errors {sum(x['errors'] for x in syn)}; "
              f"noisy {noisy}/{len(rows)}")


# -- capacity: hit ratio at equal -m ---------------------------------------------------------------

def run_capacity(args, zk, label, path, secret):
    nodes = start_cluster(args, zk, path, 2, secret, memory_mb=args.capacity_m)
    try:
        half = args.capacity_keys // 2
        value = str(args.capacity_value)
        per_node = [[args.loadgen, "-s", f"127.0.0.1:{n.port}", "-k", str(half),
                     "--key-offset", str(i * half), "-v", value, "-q"]
                    for i, n in enumerate(nodes)]
        run_clients([c + ["--preload-only", "-c", "8"] for c in per_node], args.client_cpu,
                    timeout=300)
        row = {"label": label}
        ops = str(args.capacity_ops)
        for dist, seed in (("zipf", 11), ("uniform", 21)):
            load = ["-c", "8", "-R", "1:10", "-L", "-D", dist, "-t", "0", "-n", ops]
            run_clients([c + load + ["-S", str(seed + i)] for i, c in enumerate(per_node)],
                        args.client_cpu, timeout=args.capacity_timeout)
            fields = ("get_hits", "cmd_get", "evictions")
            s0 = sum_stats(nodes, fields)
            js = run_clients([c + load + ["-S", str(seed + 100 + i)]
                              for i, c in enumerate(per_node)],
                             args.client_cpu, timeout=args.capacity_timeout)
            s1 = sum_stats(nodes, fields + ("curr_items",))
            gets = s1["cmd_get"] - s0["cmd_get"]
            hits = s1["get_hits"] - s0["get_hits"]
            client_gets = sum(j["get_keys"] for j in js)
            client_hits = sum(j["hits"] for j in js)
            copies = (sum(int(n.stats("replication").get("copies", 0)) for n in nodes)
                      if secret else 0)
            row[dist] = {"hit_ratio": hits / max(gets, 1), "gets": gets, "hits": hits,
                         "copies": copies,
                         "client_hit_ratio": client_hits / max(client_gets, 1),
                         "client_gets": client_gets, "items": s1["curr_items"],
                         "evictions": s1["evictions"] - s0["evictions"],
                         "ops_per_s": sum(j["ops_per_s"] for j in js)}
        return row
    finally:
        stop_nodes(nodes)


def measure_capacity(args, zk, secret, results):
    print(f"\n== capacity: hit ratio at -m {args.capacity_m} per node, R=1 against R=2 async, "
          f"two nodes, {args.capacity_keys} keys of {args.capacity_value} B, 1:10", flush=True)
    rows = []
    for r in range(args.rounds):
        pair = [("R=1", None), ("R=2", secret)]
        if r % 2:
            pair.reverse()
        got = {label: run_capacity(args, zk, label, f"/bench/c{r}-{label[-1]}", sec)
               for label, sec in pair}
        row = {"round": r + 1, "R=1": got["R=1"], "R=2": got["R=2"]}
        line = [f"  round {r + 1}:"]
        for dist in ("zipf", "uniform"):
            one, two = got["R=1"][dist], got["R=2"][dist]
            row[f"{dist}_ratio"] = two["hit_ratio"] / max(one["hit_ratio"], 1e-9)
            line.append(f"{dist}: hit ratio R=1 {one['hit_ratio']:.4f} ({one['items']} items) "
                        f"R=2 {two['hit_ratio']:.4f} ({two['items']} items, {two['copies']} of "
                        f"them copies), ratio {row[f'{dist}_ratio']:.3f} |")
            for x in (one, two):
                if abs(x["hit_ratio"] - x["client_hit_ratio"]) > 0.002 or x["gets"] != \
                        x["client_gets"]:
                    line.append(f"(server and client counts differ: {x['hits']}/{x['gets']} "
                                f"against the clients' {x['client_hit_ratio']:.4f} of "
                                f"{x['client_gets']})")
        rows.append(row)
        print(" ".join(line).rstrip(" |"), flush=True)
    results["capacity"] = rows
    return rows


def report_capacity(args, rows):
    print(f"\ncapacity: get hit ratio at -m {args.capacity_m} per node, two nodes, "
          f"{args.capacity_keys} keys of {args.capacity_value} B, set:get 1:10, "
          f"{len(rows)} paired rounds:")
    for dist in ("zipf", "uniform"):
        one = [r["R=1"][dist] for r in rows]
        two = [r["R=2"][dist] for r in rows]
        print(f"  {dist:8} hit ratio R=1 {spread([x['hit_ratio'] for x in one], '{:.4f}')}, "
              f"R=2 {spread([x['hit_ratio'] for x in two], '{:.4f}')}; R=2 / R=1 "
              f"{spread([r[f'{dist}_ratio'] for r in rows])}; items held R=1 / R=2 "
              f"{med([x['items'] for x in one]):.0f} / {med([x['items'] for x in two]):.0f} "
              f"(copies {med([x['copies'] for x in two]):.0f})")


# -- failover: hit ratio with a full cache ---------------------------------------------------------

class Zipf:
    """Ranks 0..n-1 with P(i) proportional to 1 / (i + 1)^theta, seeded."""

    def __init__(self, n, theta=0.99):
        self.cdf = list(itertools.accumulate(1.0 / (i + 1) ** theta for i in range(n)))

    def draws(self, count, seed):
        rng = random.Random(seed)
        total = self.cdf[-1]
        cdf = self.cdf
        return [bisect.bisect_left(cdf, rng.random() * total) for _ in range(count)]


def failover_client(servers):
    import pylibmc
    return pylibmc.Client(servers, binary=False, behaviors={
        "ketama_weighted": True, "remove_failed": 1, "failure_limit": 1, "retry_timeout": 30,
        "dead_timeout": 30, "connect_timeout": 500, "receive_timeout": 1000 * 1000,
        "send_timeout": 1000 * 1000})


def owners(args, servers, keys):
    """{key: owner ring name} from ringcached-ring next to --ringcached, or None without it."""
    tool = os.path.join(os.path.dirname(os.path.abspath(args.ringcached)), "ringcached-ring")
    if not os.access(tool, os.X_OK):
        return None
    out = subprocess.run([tool, "--servers", ",".join(servers), "owners"],
                         input="\n".join(keys) + "\n", capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def read_window(client, keys, seq, deadline):
    """Reads keys[i] for i in seq (retrying a failed read twice); per read, hit or not, and how
    many reads failed three times (counted as misses)."""
    import pylibmc
    hits = []
    failed = 0
    for i in seq:
        if time.monotonic() > deadline:
            break
        got = None
        for attempt in range(3):
            try:
                got = client.get(keys[i])
                break
            except pylibmc.Error:
                failed += attempt == 2
        hits.append(got is not None)
    return hits, failed


def run_failover(args, zk, path, secret, victim_index, zipf, seed):
    quiet(args)
    nodes = start_cluster(args, zk, path, 3, secret, memory_mb=args.failover_m)
    try:
        import pylibmc
        servers = [f"127.0.0.1:{n.port}" for n in nodes]
        keys = [f"fo:{i:08d}" for i in range(args.failover_keys)]
        value = b"v" * args.failover_value
        client = failover_client(servers)
        t0 = time.monotonic()
        deadline = t0 + args.failover_fill_s
        filled = 0
        for k in keys:
            if time.monotonic() > deadline:
                break
            client.set(k, value)
            filled += 1
        fill_s = time.monotonic() - t0
        # Warm-up: Zipf reads, a miss set (look-aside), so the caches and the hints follow the load.
        t0 = time.monotonic()
        deadline = t0 + args.failover_warmup_s
        warm_hits = warm = 0
        for i in zipf.draws(args.failover_warmup, seed):
            if time.monotonic() > deadline:
                break
            warm += 1
            if client.get(keys[i]) is None:
                try:
                    client.set(keys[i], value)
                except pylibmc.Error:
                    pass
            else:
                warm_hits += 1
        warm_s = time.monotonic() - t0
        time.sleep(1.5)  # the last second's hints sent and applied
        seq = zipf.draws(args.failover_reads, seed + 1)
        t0 = time.monotonic()
        before, before_failed = read_window(client, keys, seq, t0 + args.failover_window_s)
        before_s = time.monotonic() - t0
        victim = nodes[victim_index]
        vstats = victim.stats()
        vpeers = peer_stats(victim)
        os.kill(victim.pid, signal.SIGKILL)
        stop_process(victim.proc)  # reaped
        t0 = time.monotonic()
        after, after_failed = read_window(client, keys, seq[:len(before)],
                                          t0 + args.failover_window_s)
        after_s = time.monotonic() - t0
        n = min(len(before), len(after))
        before, after = before[:n], after[:n]
        row = {"victim": victim_index, "filled": filled, "fill_s": fill_s, "warm": warm,
               "warm_s": warm_s, "warm_hit_ratio": warm_hits / max(warm, 1), "reads": n,
               "before_s": before_s, "after_s": after_s,
               "before": sum(before) / max(n, 1), "after": sum(after) / max(n, 1),
               "failed": before_failed + after_failed,
               "victim_items": int(vstats.get("curr_items", 0)),
               "victim_evictions": int(vstats.get("evictions", 0)),
               "victim_hints_sent": sum(x.get("hints", 0) for x in vpeers.values()),
               "victim_dropped": sum(x.get("dropped", 0) for x in vpeers.values()),
               "victim_resyncs": sum(x.get("resyncs", 0) for x in vpeers.values())}
        row["ratio"] = row["after"] / max(row["before"], 1e-9)
        own = owners(args, servers, [keys[i] for i in set(seq[:n])])
        if own is not None:
            mine = [j for j in range(n) if own.get(keys[seq[j]]) == servers[victim_index]]
            row["victim_reads"] = len(mine)
            row["victim_before"] = sum(before[j] for j in mine) / max(len(mine), 1)
            row["victim_after"] = sum(after[j] for j in mine) / max(len(mine), 1)
            row["victim_ratio"] = row["victim_after"] / max(row["victim_before"], 1e-9)
        return row
    finally:
        stop_nodes([x for x in nodes if x.proc.poll() is None])


def measure_failover(args, zk, secret, results):
    try:
        import pylibmc  # noqa: F401
    except ImportError:
        print("\n== failover: skipped, pylibmc is not installed (Debian: python3-pylibmc)")
        return []
    print(f"\n== failover: three nodes, R=2 async, -m {args.failover_m}, {args.failover_keys} keys "
          f"of {args.failover_value} B, pylibmc, Zipf reads; kill -9 of one node", flush=True)
    zipf = Zipf(args.failover_keys)
    rows = []
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {int(c) for c in str(args.client_cpu).split(",")})
    try:
        for r in range(args.rounds):
            row = run_failover(args, zk, f"/bench/f{r}", secret, r % 3, zipf, 1000 + r)
            row["round"] = r + 1
            rows.append(row)
            victim = ""
            if "victim_ratio" in row:
                victim = (f"; the dead node's keys ({row['victim_reads']} reads) "
                          f"{row['victim_before']:.4f} -> {row['victim_after']:.4f}, ratio "
                          f"{row['victim_ratio']:.4f}")
            print(f"  round {r + 1}: fill {row['filled']} keys in {row['fill_s']:.1f} s, warm-up "
                  f"{row['warm']} reads in {row['warm_s']:.1f} s (hit ratio "
                  f"{row['warm_hit_ratio']:.3f}); {row['reads']} reads before "
                  f"({row['before_s']:.1f} s) and after ({row['after_s']:.1f} s) kill -9 of node "
                  f"{row['victim']}: hit ratio {row['before']:.4f} -> {row['after']:.4f}, ratio "
                  f"{row['ratio']:.4f}{victim}; reads failed {row['failed']}; the dead node had "
                  f"{row['victim_items']} items, {row['victim_evictions']} evictions, sent "
                  f"{row['victim_hints_sent']} hints, dropped {row['victim_dropped']} copies",
                  flush=True)
    finally:
        os.sched_setaffinity(0, affinity)
    results["failover"] = rows
    return rows


def report_failover(args, rows):
    print(f"\nfailover: hit ratio of the same {med([r['reads'] for r in rows]):.0f} Zipf reads "
          f"before and after kill -9 of one of three nodes, R=2 async, -m {args.failover_m}, "
          f"{len(rows)} rounds:")
    print(f"  before {spread([r['before'] for r in rows], '{:.4f}')}, after "
          f"{spread([r['after'] for r in rows], '{:.4f}')}; after / before "
          f"{spread([r['ratio'] for r in rows], '{:.4f}')}; target >= 0.99")
    if all("victim_ratio" in r for r in rows):
        print(f"  the dead node's keys only: before "
              f"{spread([r['victim_before'] for r in rows], '{:.4f}')}, after "
              f"{spread([r['victim_after'] for r in rows], '{:.4f}')}; after / before "
              f"{spread([r['victim_ratio'] for r in rows], '{:.4f}')}")


# -- main ------------------------------------------------------------------------------------------

# -- restore: R copies again after a loss, and the live load meanwhile -----------------------------

def handoff_idle(nodes):
    """Every node has pushed for the ring it is on."""
    for n in nodes:
        h, c = n.stats("handoff"), n.stats("cluster")
        if h.get("handoff_state") != "idle" or h.get("handoff_from_version") != c.get("ring_version"):
            return False
    return True


def live_chunk(args, node, keys):
    """One second of the live load on `node`: its JSON line."""
    cmd = [args.loadgen, "-s", f"127.0.0.1:{node.port}", "-k", str(keys), "-v",
           str(args.restore_value), "-c", "50", "-R", "1:10", "-r", str(args.restore_rate_live),
           "-t", "1"]
    out, err, rc = run_client(cmd, cpu=args.client_cpu, timeout=30)
    if rc != 0:
        raise RuntimeError(f"live load failed: {err}{out}")
    return loadgen_json(out)


def run_restore(args, zk, path, secret):
    """Three nodes holding --restore-mb each; node 2 is killed; the time and rate until the
    survivors have pushed its keys to their new holders, and the live p99 on node 0 in 1 s
    chunks before and during."""
    keys = args.restore_mb * (1 << 20) * 3 // 2 // args.restore_value
    nodes = start_cluster(args, zk, path, 3, secret, memory_mb=args.restore_mb * 2,
                          extra=["--zk-session-timeout-ms", "2000"] +
                                (["--handoff-rate", str(args.handoff_rate)]
                                 if args.handoff_rate else []))
    try:
        run_client([args.loadgen, "-s", f"127.0.0.1:{nodes[0].port}", "-k", str(keys), "-v",
                    str(args.restore_value), "-c", "8", "--preload-only"],
                   cpu=args.client_cpu, timeout=600)
        time.sleep(6)  # node 0's guest copies of keys it does not hold expire
        wait_until(lambda: all(sum(p.get("pending_bytes", 0) for p in peer_stats(n).values()) == 0
                               for n in nodes), 60, "the preload's copies")
        held = [int(n.stats().get("bytes", 0)) for n in nodes]
        quiet(args)
        before = [live_chunk(args, nodes[0], keys) for _ in range(3)]
        survivors = nodes[:2]
        sent0 = sum(int(n.stats("handoff")["handoff_bytes_sent"]) for n in survivors)
        victim = nodes[2]
        os.kill(victim.pid, signal.SIGKILL)
        stop_process(victim.proc)
        wait_until(lambda: all(n.stats("cluster").get("ring_members") == "2" for n in survivors),
                   20, "the survivors to drop the dead node")
        t0 = time.monotonic()
        during = []
        while not handoff_idle(survivors):
            if time.monotonic() - t0 > 600:
                raise RuntimeError("the hand-off did not finish in 10 minutes")
            during.append(live_chunk(args, nodes[0], keys))
        took = time.monotonic() - t0
        sent = sum(int(n.stats("handoff")["handoff_bytes_sent"]) for n in survivors) - sent0
        # The same load once the walk is done: with "before", the baseline the walk is judged
        # against (this machine's p99 drifts between minutes as much as a walk moves it).
        after = [live_chunk(args, nodes[0], keys) for _ in range(3)]
        row = {"held_mb": [h / 2**20 for h in held], "seconds": took, "mb": sent / 2**20,
               "mb_per_s": sent / 2**20 / max(took, 1e-3),
               "p99_before": med([j["lat_us"]["p99"] for j in before]),
               "p99_after": med([j["lat_us"]["p99"] for j in after]),
               "p99_baseline": med([j["lat_us"]["p99"] for j in before + after]),
               "p99_during": med([j["lat_us"]["p99"] for j in during]) if during else float("nan"),
               "p99_during_max": max([j["lat_us"]["p99"] for j in during], default=float("nan")),
               "chunks": len(during)}
        print(f"    held {', '.join(f'{h:.0f}' for h in row['held_mb'])} MB; restored "
              f"{row['mb']:.0f} MB in {took:.1f} s ({row['mb_per_s']:.1f} MB/s; the walk's time "
              f"counts whole 1 s load chunks); live p99 {row['p99_before']} us before, "
              f"{row['p99_during']} us during (max {row['p99_during_max']}), "
              f"{row['p99_after']} us after", flush=True)
        return row
    finally:
        stop_nodes([n for n in nodes if n.proc.poll() is None])


def measure_restore(args, zk, secret, results):
    print(f"\n== restore: kill -9 one of three nodes holding {args.restore_mb} MB each (R=2, "
          f"{args.restore_value} B values); live load on a survivor, open loop "
          f"{args.restore_rate_live}/s 1:10", flush=True)
    rows = []
    for r in range(args.rounds):
        print(f"  round {r + 1}:", flush=True)
        rows.append(run_restore(args, zk, f"/bench/restore{os.getpid()}-{r}", secret))
    results["restore"] = rows


def report_restore(args, rows):
    rate = args.handoff_rate or "the default"
    print(f"\nrestore: R copies again after kill -9 of one of three nodes holding "
          f"{args.restore_mb} MB each, --handoff-rate {rate}, {len(rows)} rounds:")
    print(f"  time to restore       {spread([r['seconds'] for r in rows], '{:.1f}')} s")
    print(f"  pushed                {spread([r['mb'] for r in rows], '{:.0f}')} MB, "
          f"{spread([r['mb_per_s'] for r in rows], '{:.1f}')} MB/s")
    ratios = [r["p99_during"] / r["p99_before"] for r in rows if r["p99_before"]]
    print(f"  live p99 during/before {spread(ratios)} (target <= 1.2); before "
          f"{spread([r['p99_before'] for r in rows], '{:.0f}')} us, during "
          f"{spread([r['p99_during'] for r in rows], '{:.0f}')} us, after "
          f"{spread([r['p99_after'] for r in rows], '{:.0f}')} us")
    ratios = [r["p99_during"] / r["p99_baseline"] for r in rows if r["p99_baseline"]]
    print(f"  live p99 during/(before and after) {spread(ratios)}")


# -- join: the hit ratio across a join -------------------------------------------------------------

def config_names(node):
    """The ring names `config get cluster` lists on `node`, and its version."""
    import socket
    with socket.create_connection(("127.0.0.1", node.port), timeout=2) as s:
        s.sendall(b"config get cluster\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.decode().split("\r\n")[1].split("\n")
    return int(lines[0]), [f"{e.split('|')[1]}:{e.split('|')[2]}" for e in lines[1].split()]


class JoinReader(threading.Thread):
    """Reads Zipf keys with look-aside through a client that follows `config get cluster`,
    counting hits per window of `window` s; at most `limit` s."""

    def __init__(self, nodes, keys, value, window, limit, seed):
        super().__init__(daemon=True)
        self.nodes, self.keys, self.value = list(nodes), keys, value
        self.window, self.limit, self.seed = window, limit, seed
        self.stop = threading.Event()
        self.windows = []  # (start s, gets, hits)
        self.versions = []
        self.lock = threading.Lock()

    def add_node(self, node):
        with self.lock:
            self.nodes.append(node)

    def run(self):
        import pylibmc
        zipf = Zipf(len(self.keys))
        draws = zipf.draws(400000, self.seed)
        version, names = config_names(self.nodes[0])
        client = pylibmc.Client(names, binary=False, behaviors={"ketama_weighted": True})
        self.versions.append((0.0, version, len(names)))
        t0 = polled = time.monotonic()
        start, gets, hits, i = t0, 0, 0, 0
        while not self.stop.is_set() and time.monotonic() - t0 < self.limit:
            now = time.monotonic()
            if now - start >= self.window:
                self.windows.append((start - t0, gets, hits))
                start, gets, hits = now, 0, 0
            if now - polled >= 0.1:
                polled = now
                with self.lock:
                    nodes = list(self.nodes)
                for n in nodes:
                    try:
                        v, names = config_names(n)
                        break
                    except OSError:
                        continue
                if v != version:
                    version = v
                    client = pylibmc.Client(names, binary=False,
                                            behaviors={"ketama_weighted": True})
                    self.versions.append((now - t0, version, len(names)))
            key = self.keys[draws[i % len(draws)]]
            i += 1
            gets += 1
            try:
                if client.get(key) is not None:
                    hits += 1
                else:
                    client.set(key, self.value)
            except pylibmc.Error:
                pass
        self.windows.append((start - t0, gets, hits))


def run_join(args, zk, path, secret, seed):
    """One cluster (R = 2 with `secret`, else R = 1): two nodes filled, a reader, a join; the
    reader's windows and when the joiner was listed."""
    quiet(args)
    memory = max(64, args.join_keys * 3 // 1000)  # every key, with its copy, and room to spare
    flags = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", "2000"]
    nodes = start_cluster(args, zk, path, 2, secret, memory_mb=memory, extra=flags)
    joiner = None
    try:
        keys = [f"jn:{i:08d}" for i in range(args.join_keys)]
        value = b"v" * args.join_value
        import pylibmc
        c = pylibmc.Client([f"127.0.0.1:{n.port}" for n in nodes], binary=False,
                           behaviors={"ketama_weighted": True})
        for i in range(0, len(keys), 1000):
            c.set_multi({k: value for k in keys[i:i + 1000]})
        wait_until(lambda: all(sum(p.get("pending_bytes", 0) for p in peer_stats(n).values()) == 0
                               for n in nodes), 60, "the fill's copies")
        reader = JoinReader(nodes, keys, value, 0.5, args.join_before + args.join_after + 30,
                            seed)
        reader.start()
        time.sleep(args.join_before)
        flags_all = ["--cluster", f"zk://{zk.hosts}{path}"] + flags + (
            ["--cluster-secret-file", secret] if secret else [])
        joiner = Server(f"{path}-joiner", args.ringcached, threads=1, memory_mb=memory,
                        cpu=args.peer_cpu or args.server_cpu, extra=flags_all)
        t_join = time.monotonic()
        joiner.start()
        reader.add_node(joiner)
        time.sleep(args.join_after)
        reader.stop.set()
        reader.join(30)
        listed = [t for t, _, n in reader.versions if n == 3]
        start = reader.windows[0][0] if reader.windows else 0.0
        # Windows relative to the join (reader time 0 is its start; the join came join_before
        # s later, give or take the reader's start-up).
        offset = args.join_before
        curve = [(round(t - offset, 1), h / g if g else float("nan")) for t, g, h in reader.windows]
        before = [r for t, r in curve if t < 0 and t >= -args.join_before + 1]
        after = [r for t, r in curve if t >= 0]
        base = statistics.mean(before) if before else float("nan")
        low = min(after) if after else float("nan")
        return {"curve": curve, "before": base, "lowest_after": low,
                "dip_points": (base - low) * 100,
                "windows_below": sum(1 for r in after if r < base - 0.01),
                "listed_after_s": (listed[0] - offset) if listed else None,
                "join_start_s": time.monotonic() - t_join, "start": start}
    finally:
        stop_nodes([n for n in nodes + ([joiner] if joiner else []) if n.proc and
                    n.proc.poll() is None])


def measure_join(args, zk, secret, results):
    print(f"\n== join: a third node joins two holding {args.join_keys} keys of "
          f"{args.join_value} B; a Zipf(0.99) look-aside reader that follows config get "
          f"cluster; hit ratio per 0.5 s", flush=True)
    rows = {"handoff": [], "none": []}
    for r in range(args.rounds):
        order = ["handoff", "none"] if r % 2 == 0 else ["none", "handoff"]
        for label in order:
            row = run_join(args, zk, f"/bench/join{os.getpid()}-{r}-{label}",
                           secret if label == "handoff" else None, seed=r)
            rows[label].append(row)
            curve = " ".join(f"{t:+.1f}:{h:.3f}" for t, h in row["curve"]
                             if -2 <= t <= args.join_after)
            listed = row["listed_after_s"]
            print(f"  round {r + 1} {'R=2, hand-off' if label == 'handoff' else 'R=1, none':14s}"
                  f" before {row['before']:.3f}, lowest after {row['lowest_after']:.3f}, dip "
                  f"{row['dip_points']:.1f} points, {row['windows_below']} windows below; "
                  f"joiner listed {'-' if listed is None else f'{listed:.1f}'} s after it "
                  f"started\n    {curve}", flush=True)
    results["join"] = rows


def report_join(args, rows):
    print(f"\njoin: hit ratio across a join, {args.join_keys} keys, {len(rows['handoff'])} rounds:")
    for label, name in (("handoff", "R=2 with hand-off"), ("none", "R=1 without")):
        rs = rows[label]
        print(f"  {name:18s} before {spread([r['before'] for r in rs])}, lowest after "
              f"{spread([r['lowest_after'] for r in rs])}, dip "
              f"{spread([r['dip_points'] for r in rs], '{:.1f}')} points, windows below "
              f"{spread([r['windows_below'] for r in rs], '{:.0f}')}")
    print("  target: dip <= 1 point with hand-off")


def main():
    p = argparse.ArgumentParser(description="replication: R=2 against R=1 (throughput, lag, sync "
                                "latency, capacity, failover hit ratio)")
    p.add_argument("--ringcached", default=os.environ.get("RINGCACHED", "./ringcached"))
    p.add_argument("--loadgen", default=os.environ.get("RC_LOADGEN", "./bench/rc-loadgen"))
    p.add_argument("--only", default=",".join(MEASURES),
                   help=f"comma-separated measures (default all): {','.join(MEASURES)}")
    p.add_argument("--quick", action="store_true",
                   help="2 rounds, shorter runs, smaller key spaces (about 2 minutes)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per measure (default 3)")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds per throughput and sync run (default 3)")
    p.add_argument("--keys", type=int, default=100000,
                   help="preloaded keys, throughput and sync (default 100000)")
    p.add_argument("--sync-rate", type=int, default=10000,
                   help="sync: the open-loop rate, requests/s (default 10000)")
    p.add_argument("--capacity-m", type=int, default=64, help="capacity: -m per node (default 64)")
    p.add_argument("--capacity-keys", type=int, default=None,
                   help="capacity: key space over both nodes (default 300000)")
    p.add_argument("--capacity-value", type=int, default=1024)
    p.add_argument("--capacity-ops", type=int, default=None,
                   help="capacity: requests per node in the warm-up and in the window "
                   "(default 200000)")
    p.add_argument("--capacity-timeout", type=float, default=60,
                   help="capacity: seconds a client run may take at most")
    p.add_argument("--failover-m", type=int, default=32, help="failover: -m per node (default 32)")
    p.add_argument("--failover-keys", type=int, default=None,
                   help="failover: keys (default 100000)")
    p.add_argument("--failover-value", type=int, default=2048)
    p.add_argument("--failover-warmup", type=int, default=None,
                   help="failover: warm-up reads (default 300000)")
    p.add_argument("--failover-warmup-s", type=float, default=None,
                   help="failover: at most this many seconds of warm-up (default 20)")
    p.add_argument("--failover-reads", type=int, default=None,
                   help="failover: reads per window (default 30000)")
    p.add_argument("--failover-fill-s", type=float, default=30,
                   help="failover: at most this many seconds of fill")
    p.add_argument("--failover-window-s", type=float, default=20,
                   help="failover: at most this many seconds per read window")
    p.add_argument("--restore-mb", type=int, default=None,
                   help="restore: MB each node holds (default 256, --quick 64; 1024 for the "
                        "issue's large run)")
    p.add_argument("--restore-value", type=int, default=4096)
    p.add_argument("--restore-rate-live", type=int, default=5000,
                   help="restore: the live load's rate on a survivor, requests/s")
    p.add_argument("--handoff-rate", type=int, default=0,
                   help="restore: the nodes' --handoff-rate (default: theirs)")
    p.add_argument("--join-keys", type=int, default=None,
                   help="join: keys the two nodes hold (default 50000, --quick 20000)")
    p.add_argument("--join-value", type=int, default=1024)
    p.add_argument("--join-before", type=float, default=3.0,
                   help="join: seconds of reading before the join")
    p.add_argument("--join-after", type=float, default=8.0,
                   help="join: seconds of reading after it")
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--peer-cpu", default=None,
                   help="the CPU of every node but node 0 (default: --server-cpu); with "
                        "--peer-cpu 1 a copy is applied on the client's core instead of queueing "
                        "behind node 0's requests, as on separate machines")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--busy-threshold", type=float, default=0.15,
                   help="cores of other load that make a run noisy (default 0.15)")
    p.add_argument("--quiet-wait", type=float, default=None,
                   help="seconds to wait for a quiet machine before each run (default 5, "
                   "--quick 2)")
    p.add_argument("--json", default="", help="also write every round's figures to this file")
    args = p.parse_args()
    quick = args.quick

    def dflt(name, full, short):
        if getattr(args, name) is None:
            setattr(args, name, short if quick else full)
    dflt("rounds", 3, 2)
    dflt("duration", 3.0, 1.5)
    dflt("quiet_wait", 5.0, 2.0)
    dflt("capacity_keys", 300000, 200000)
    dflt("capacity_ops", 200000, 100000)
    dflt("failover_keys", 100000, 50000)
    dflt("failover_warmup", 300000, 60000)
    dflt("failover_warmup_s", 20.0, 5.0)
    dflt("failover_reads", 30000, 10000)
    dflt("restore_mb", 256, 64)
    dflt("join_keys", 50000, 20000)
    only = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in only if m not in MEASURES]
    if unknown:
        sys.exit(f"replication.py: unknown measure {','.join(unknown)} "
                 f"(known: {','.join(MEASURES)})")
    missing = zkcluster.zookeeper_missing()
    if missing:
        sys.exit(f"replication.py: {missing}")
    install_signal_handlers()
    work = tempfile.mkdtemp(prefix="rc-bench-repl-")
    secret = zkcluster.write_secret(work, "benchmark secret")
    zk = zkcluster.ZooKeeper(work)
    zk.start()
    results = {}
    measures = {"throughput": (measure_throughput, report_throughput),
                "sync": (measure_sync, report_sync),
                "capacity": (measure_capacity, report_capacity),
                "failover": (measure_failover, report_failover),
                "restore": (measure_restore, report_restore),
                "join": (measure_join, report_join)}
    t0 = time.monotonic()
    try:
        for m in MEASURES:
            if m in only:
                t = time.monotonic()
                measures[m][0](args, zk, secret, results)
                print(f"  ({m}: {time.monotonic() - t:.0f} s)", flush=True)
    finally:
        stop_all()
        zk.kill()
        subprocess.run(["rm", "-rf", work])
    print(f"\n==== summary ({time.monotonic() - t0:.0f} s; {args.ringcached})")
    for m in MEASURES:
        if results.get(m):
            measures[m][1](args, results[m])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
