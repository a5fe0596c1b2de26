#!/usr/bin/python3
# bench/hot_keys.py -- hot keys (issue 20; ../shared/REPLICATION.md section 7), side by side in
# one run, in paired rounds. Four measures (--only picks some):
#
#   detect      a single node (-t 1, --hot-key-qps --detect-qps (200), --hot-key-share 0) with
#               --detect-keys (1M) keys preloaded, read by rc-loadgen in open loop at
#               --detect-rate (100k) gets/s, Zipf(0.99) over them, for --detect-s (6) seconds.
#               Reported: how long after the reads began the hottest key was listed in `stats
#               hotkeys`, and, from the list at the end, recall of the keys whose true rate
#               (the node's measured read rate times the key's Zipf probability) is at least
#               1.2x the threshold and precision against keys at most 0.8x of it.
#               Targets: listed within 2 s; recall and precision >= 0.95.
#   overhead    detection on (the default --hot-key-qps 5000) against off (--hot-key-qps 0), a
#               single node -t 1, rc-loadgen 50 connections closed loop, 1:10 set:get over 100k
#               preloaded keys, Zipf(0.99) (hot and watched keys all along) and uniform; and an
#               open loop at 20k requests/s, Zipf. Reported: throughput and server CPU per
#               request, and the per-round ratios on/off (median and range). Target: cost <= 2%.
#   single-key  a stock client hammering one key: ringcached against memcached 1.6.18, both at
#               -t 1 and at their own default -t, rc-loadgen 50 connections, gets of one
#               preloaded key (32 B), closed loop. Reported: gets/s and the ratio.
#               Target: ratio >= 1.
#   spread      three nodes (R = 2, -t 1 each, --hot-key-qps --spread-qps): `ringcached-client
#               load` with --spread-clients (12) client instances, 10k keys, one of them taking
#               50% of the reads, for --spread-s (8) seconds, in three configurations: hot copies
#               (--hot-copies 1: the key on all three nodes), holders only (--hot-copies 0: the
#               clients spread its reads over its R = 2 holders) and no spreading (the client
#               with --no-hot-keys: every read on the owner, as a stock client). Reported: max/mean
#               of the nodes' `cmd_get` deltas from 3 s after the start to the end, and over the
#               first 3 s. Target: <= 1.5 with spreading (about 2 without).
#
# Servers are pinned to --server-cpu, clients to --client-cpu (benchlib). --quick: 2 rounds of
# shorter runs. --json PATH keeps every round's figures.
#
# Usage: bench/hot_keys.py [--only detect,overhead,single-key,spread] [--quick] [--rounds N]
#          [--json PATH] [--ringcached PATH] [--memcached PATH] [--loadgen PATH] [--client PATH]
import argparse
import json
import os
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
from benchlib import (Server, install_signal_handlers, loadgen_json, run_client,  # noqa: E402
                      spread, stop_all, timed_client)
import zkcluster  # noqa: E402
from replication import start_cluster  # noqa: E402  (three nodes, each -t 1, all up)

MEASURES = ("detect", "overhead", "single-key", "spread")


def hot_list(server):
    """[(key, reads/s)] of `stats hotkeys`, and the whole reply."""
    st = server.stats("hotkeys")
    out = []
    for i in range(int(st.get("hot_keys", 0))):
        out.append((st[f"hotkey:{i}:key"], float(st[f"hotkey:{i}:reads_per_sec"])))
    return out, st


def key_name(prefix, key_len, n):
    digits = key_len - len(prefix)
    return prefix + str(n).zfill(digits)


# -- detect ---------------------------------------------------------------------------------------

def zipf_probabilities(n, theta):
    weights = [(r + 1) ** -theta for r in range(n)]
    total = sum(weights)
    return [w / total for w in weights]


def measure_detect(args, results):
    rows = []
    probs = zipf_probabilities(args.detect_keys, 0.99)
    threshold = args.detect_qps
    for rnd in range(args.rounds):
        srv = Server("ringcached", args.ringcached, threads=1, memory_mb=512, cpu=args.server_cpu,
                     extra=["--hot-key-qps", str(threshold), "--hot-key-share", "0"]).start()
        try:
            base = [args.loadgen, "-s", f"127.0.0.1:{srv.port}", "-k", str(args.detect_keys),
                    "-v", "32", "-q"]
            run_client(base + ["--preload-only", "-c", "16", "-d", "8"], cpu=args.client_cpu,
                       timeout=120)
            time.sleep(args.detect_quiet)  # the preload's windows pass: the node is quiet
            top = key_name("key:", 16, 0)
            cmd = base + ["-R", "0:1", "-D", "zipf", "-r", str(args.detect_rate), "-c", "50",
                          "-t", str(args.detect_s), "-S", str(rnd + 1)]
            listed_after = [None]
            stop = threading.Event()
            started = time.monotonic()

            def poll():
                while not stop.is_set():
                    if any(k == top for k, _ in hot_list(srv)[0]):
                        listed_after[0] = time.monotonic() - started
                        return
                    time.sleep(0.05)

            poller = threading.Thread(target=poll)
            poller.start()
            final = {}

            def snapshot():  # the list while the load still runs
                final["list"], final["stats"] = hot_list(srv)

            timer = threading.Timer(args.detect_s - 0.5, snapshot)
            timer.start()
            out, err, rc = run_client(cmd, cpu=args.client_cpu, timeout=args.detect_s + 60)
            stop.set()
            poller.join()
            timer.join()
            if rc != 0:
                raise RuntimeError(f"rc-loadgen failed: {err}")
            node_rate = float(final["stats"]["node_reads_per_sec"])
            listed = {k for k, _ in final["list"]}
            above = [key_name("key:", 16, r) for r, p in enumerate(probs)
                     if p * node_rate >= 1.2 * threshold]
            below_listed = [k for k in listed
                            if k.startswith("key:") and
                            probs[int(k[4:])] * node_rate <= 0.8 * threshold]
            recall = sum(1 for k in above if k in listed) / len(above) if above else 1.0
            precision = 1.0 - len(below_listed) / len(listed) if listed else 1.0
            rows.append({"round": rnd, "listed_after_s": listed_after[0], "node_rate": node_rate,
                         "above": len(above), "listed": len(listed), "recall": recall,
                         "precision": precision,
                         "achieved": loadgen_json(out).get("ops_per_s")})
            print(f"  detect round {rnd}: top key listed after "
                  f"{listed_after[0] if listed_after[0] is None else round(listed_after[0], 2)} s;"
                  f" {node_rate:.0f} reads/s, {len(above)} keys >= 1.2x, {len(listed)} listed, "
                  f"recall {recall:.3f}, precision {precision:.3f}", flush=True)
        finally:
            srv.stop()
    results["detect"] = rows


def report_detect(args, rows):
    print(f"\n-- detect: single node, Zipf(0.99) over {args.detect_keys} keys at "
          f"{args.detect_rate} gets/s, --hot-key-qps {args.detect_qps}")
    after = [r["listed_after_s"] for r in rows if r["listed_after_s"] is not None]
    print(f"  hottest key listed after (s): {spread(after, '{:.2f}')}"
          f"{'' if len(after) == len(rows) else '  (not listed in some rounds)'}")
    print(f"  keys >= 1.2x threshold: {spread([r['above'] for r in rows], '{:.0f}')}; listed: "
          f"{spread([r['listed'] for r in rows], '{:.0f}')}")
    print(f"  recall {spread([r['recall'] for r in rows])}   "
          f"precision {spread([r['precision'] for r in rows])}")


# -- overhead -------------------------------------------------------------------------------------

OVERHEAD_SHAPES = (
    ("closed-zipf", ["-c", "50", "-D", "zipf"]),
    ("closed-uniform", ["-c", "50"]),
    ("open-20k-zipf", ["-c", "50", "-D", "zipf", "-r", "20000"]),
)


def run_loadgen(args, srv, shape_flags, keys=100000, extra=()):
    base = [args.loadgen, "-s", f"127.0.0.1:{srv.port}", "-k", str(keys), "-v", "32", "-q"]
    run_client(base + ["--preload-only", "-c", "8", "-d", "8"], cpu=args.client_cpu, timeout=120)
    cmd = base + ["-t", str(args.duration), "-w", "0.5"] + list(shape_flags) + list(extra)
    out, acct = timed_client(srv, cmd, cpu=args.client_cpu, timeout=args.duration + 60)
    j = loadgen_json(out)
    return {"ops": j["ops_per_s"], "cpu_us_per_req": acct["server_cpu_s"] * 1e6 / max(1, j["ops"]),
            "p50": j["lat_us"]["p50"], "p99": j["lat_us"]["p99"]}


def measure_overhead(args, results):
    rows = []
    for rnd in range(args.rounds):
        for name, flags in OVERHEAD_SHAPES:
            pair = {}
            order = ("on", "off") if rnd % 2 == 0 else ("off", "on")
            for mode in order:
                extra = [] if mode == "on" else ["--hot-key-qps", "0"]
                with Server("ringcached", args.ringcached, threads=1, memory_mb=256,
                            cpu=args.server_cpu, extra=extra) as srv:
                    pair[mode] = run_loadgen(args, srv, flags)
            rows.append({"round": rnd, "shape": name, **{m: pair[m] for m in pair}})
            print(f"  overhead {name} round {rnd}: on {pair['on']['ops']:.0f} ops/s "
                  f"{pair['on']['cpu_us_per_req']:.2f} us/req, off {pair['off']['ops']:.0f} "
                  f"ops/s {pair['off']['cpu_us_per_req']:.2f} us/req", flush=True)
    results["overhead"] = rows


def quartiles(values):
    """'q1-q3' of the values (the middle half of the rounds), or '-' for fewer than 4."""
    if len(values) < 4:
        return "-"
    q = statistics.quantiles(values, n=4)
    return f"{q[0]:.3f}-{q[2]:.3f}"


def report_overhead(args, rows):
    print("\n-- overhead: detection on (--hot-key-qps 5000) / off (0), single node -t 1; "
          "median (range), middle half")
    print(f"  {'shape':16} {'ops on/off':>22} {'':>12} {'CPU/req on/off':>22} {'':>12}")
    for name, _ in OVERHEAD_SHAPES:
        rs = [r for r in rows if r["shape"] == name]
        ops = [r["on"]["ops"] / r["off"]["ops"] for r in rs]
        cpu = [r["on"]["cpu_us_per_req"] / r["off"]["cpu_us_per_req"] for r in rs]
        print(f"  {name:16} {spread(ops):>22} {quartiles(ops):>12} {spread(cpu):>22} "
              f"{quartiles(cpu):>12}")


# -- single key -----------------------------------------------------------------------------------

def measure_single_key(args, results):
    rows = []
    for rnd in range(args.rounds):
        for threads in (1, None):
            pair = {}
            order = ("ringcached", "memcached") if rnd % 2 == 0 else ("memcached", "ringcached")
            for name in order:
                binary = args.ringcached if name == "ringcached" else args.memcached
                with Server(name, binary, threads=threads, memory_mb=64,
                            cpu=args.server_cpu if threads == 1 else None) as srv:
                    pair[name] = run_loadgen(args, srv, ["-c", "50", "-R", "0:1"], keys=1)
                    if name == "ringcached":
                        pair["listed"] = len(hot_list(srv)[0])
            label = "-t 1" if threads == 1 else "default -t"
            rows.append({"round": rnd, "threads": label, **pair})
            print(f"  single-key {label} round {rnd}: ringcached {pair['ringcached']['ops']:.0f}"
                  f" gets/s (hot keys listed: {pair['listed']}), memcached "
                  f"{pair['memcached']['ops']:.0f}", flush=True)
    results["single-key"] = rows


def report_single_key(args, rows):
    print("\n-- single key: 50 connections reading one key, ringcached / memcached")
    for label in ("-t 1", "default -t"):
        rs = [r for r in rows if r["threads"] == label]
        ratio = [r["ringcached"]["ops"] / r["memcached"]["ops"] for r in rs]
        print(f"  {label:11} ringcached {spread([r['ringcached']['ops'] for r in rs], '{:.0f}')}"
              f"  memcached {spread([r['memcached']['ops'] for r in rs], '{:.0f}')}"
              f"  ratio {spread(ratio)}")


# -- spread ---------------------------------------------------------------------------------------

def measure_spread(args, results, zk):
    rows = []
    modes = ("spread", "replicas", "none")
    for rnd in range(args.rounds):
        order = modes if rnd % 2 == 0 else tuple(reversed(modes))
        for mode in order:
            extra = ["--hot-key-qps", str(args.spread_qps),
                     "--hot-copies", "1" if mode == "spread" else "0"]
            nodes = start_cluster(args, zk, f"/ringcached/hotbench{os.getpid()}-{rnd}-{mode}",
                                  3, secret=args.secret, memory_mb=64, extra=extra)
            try:
                cmd = [args.client, "--node", f"127.0.0.1:{nodes[0].port}"]
                if mode == "none":
                    cmd.append("--no-hot-keys")
                cmd += ["load",
                       "--keys", "10000", "--value-size", "32", "--keys-dist", "uniform",
                       "--ratio", "0:1", "--clients", str(args.spread_clients),
                       "--hot-key", "celebrity", "--hot-share", "0.5",
                       "--duration", str(args.spread_s)]
                done = {}

                def go():
                    done["out"] = run_client(cmd, cpu=args.client_cpu,
                                             timeout=args.spread_s + 60)
                t = threading.Thread(target=go)
                start = [int(n.stats().get("cmd_get", 0)) for n in nodes]
                t.start()
                time.sleep(3.0)
                before = [int(n.stats().get("cmd_get", 0)) for n in nodes]
                first = [b - a for a, b in zip(start, before)]
                t0 = time.monotonic()
                t.join()
                after = [int(n.stats().get("cmd_get", 0)) for n in nodes]
                window = time.monotonic() - t0
                out, err, rc = done["out"]
                if rc != 0:
                    raise RuntimeError(f"ringcached-client load failed ({rc}): {err}{out}")
                deltas = [a - b for a, b in zip(after, before)]
                mean = sum(deltas) / len(deltas)
                ratio = max(deltas) / mean if mean > 0 else float("nan")
                first_mean = sum(first) / len(first)
                first_ratio = max(first) / first_mean if first_mean > 0 else float("nan")
                rows.append({"round": rnd, "mode": mode, "deltas": deltas, "window_s": window,
                             "max_over_mean": ratio, "first_3s": first_ratio,
                             "client": out.strip().splitlines()[-3:]})
                print(f"  spread {mode} round {rnd}: cmd_get deltas {deltas}, max/mean "
                      f"{ratio:.2f} (first 3 s: {first_ratio:.2f})", flush=True)
            finally:
                for n in nodes:
                    n.stop()
    results["spread"] = rows


def report_spread(args, rows):
    print(f"\n-- spread: three nodes, R = 2, {args.spread_clients} client instances, one key "
          "taking 50% of reads; max/mean of the nodes' cmd_get")
    print(f"  {'':44} {'from 3 s on':>22} {'first 3 s':>22}")
    for mode, label in (("spread", "hot copies (--hot-copies 1)"),
                        ("replicas", "holders only (--hot-copies 0)"),
                        ("none", "no spreading (client --no-hot-keys)")):
        rs = [r for r in rows if r["mode"] == mode]
        print(f"  {label:44} {spread([r['max_over_mean'] for r in rs]):>22} "
              f"{spread([r['first_3s'] for r in rs]):>22}")


def main():
    p = argparse.ArgumentParser(description="hot keys: detection, its cost, the single-key rate, "
                                "spreading")
    p.add_argument("--ringcached", default=os.environ.get("RINGCACHED", "./ringcached"))
    p.add_argument("--memcached", default=os.environ.get("MEMCACHED", "memcached"))
    p.add_argument("--loadgen", default=os.environ.get("RC_LOADGEN", "./bench/rc-loadgen"))
    p.add_argument("--client", default=os.environ.get("RC_CLIENT", "./ringcached-client"))
    p.add_argument("--only", default=",".join(MEASURES))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--duration", type=float, default=None, help="overhead, single-key runs (s)")
    p.add_argument("--detect-keys", type=int, default=1000000)
    p.add_argument("--detect-rate", type=int, default=100000)
    p.add_argument("--detect-qps", type=int, default=200)
    p.add_argument("--detect-s", type=float, default=6.0)
    p.add_argument("--detect-quiet", type=float, default=5.0,
                   help="seconds after the preload before the reads (its windows pass)")
    p.add_argument("--spread-qps", type=int, default=2000)
    p.add_argument("--spread-clients", type=int, default=12)
    p.add_argument("--spread-s", type=float, default=8.0)
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--peer-cpu", default=None,
                   help="spread: the CPU of every node but node 0 (default: --server-cpu)")
    p.add_argument("--client-cpu", default="1")
    p.add_argument("--json", default="")
    args = p.parse_args()
    if args.rounds is None:
        args.rounds = 2 if args.quick else 4
    if args.duration is None:
        args.duration = 2.0 if args.quick else 4.0
    only = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in only if m not in MEASURES]
    if unknown:
        sys.exit(f"hot_keys.py: unknown measure {','.join(unknown)} (known: {','.join(MEASURES)})")
    install_signal_handlers()
    results = {}
    work = tempfile.mkdtemp(prefix="rc-bench-hot-")
    zk = None
    t0 = time.monotonic()
    try:
        if "detect" in only:
            measure_detect(args, results)
        if "overhead" in only:
            measure_overhead(args, results)
        if "single-key" in only:
            measure_single_key(args, results)
        if "spread" in only:
            missing = zkcluster.zookeeper_missing()
            if missing:
                sys.exit(f"hot_keys.py: {missing}")
            args.secret = zkcluster.write_secret(work, "benchmark secret")
            zk = zkcluster.ZooKeeper(work)
            zk.start()
            measure_spread(args, results, zk)
    finally:
        stop_all()
        if zk is not None:
            zk.kill()
        subprocess.run(["rm", "-rf", work])
    print(f"\n==== summary ({time.monotonic() - t0:.0f} s; {args.ringcached})")
    reports = {"detect": report_detect, "overhead": report_overhead,
               "single-key": report_single_key, "spread": report_spread}
    for m in MEASURES:
        if results.get(m):
            reports[m](args, results[m])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "results": results}, f,
                      indent=1)


if __name__ == "__main__":
    main()
