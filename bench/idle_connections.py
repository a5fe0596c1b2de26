#!/usr/bin/python3
# bench/idle_connections.py -- what an idle connection costs in memory, ringcached against
# memcached: the per-connection RSS delta, (RSS with N idle connections - RSS with none) / N.
#
# Caches hold many idle connections (a web fleet keeps one or more per process), so the memory
# a connection keeps between requests is multiplied by thousands. For each N (1,000 and 10,000 by
# default) and each server, a fresh server (both with the same -m and -t) gets one connection
# that sets and reads a key and closes (so the store and the first worker are warm), its RSS is
# read, then N connections open one after another, each doing what the mode says, and stay open;
# half a second later RSS is read again. Modes:
#   * connect: nothing is sent;
#   * get: one `get` of the key the warm-up stored (a hit: input read, reply sent);
#   * set+get: one `set` of a new 32-byte value and one `get` of it. This row also counts the
#     items: memcached's 1 MB slab page is zeroed whole when its first item arrives (in the
#     baseline), while ringcached's log-structured store takes pages as items are written, so
#     up to ~10,000 small items cost memcached nothing more and ringcached about 60 bytes each.
#
# The client raises its open-file limit to the hard limit and needs N + a few descriptors; the
# servers get -c N + 100. Every server is stopped by its PID (benchlib).
#
# Usage: bench/idle_connections.py --ringcached PATH [--memcached PATH] [--conns 1000,10000]
#        [--modes connect,get,set+get] [--threads N] [--rounds R]   (make bench-idle)
import argparse
import resource
import socket
import statistics
import sys
import time

import benchlib

VALUE = b"x" * 32


def request(sock, data, end=b"END\r\n"):
    sock.sendall(data)
    buf = b""
    while not buf.endswith(end):
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"connection closed after {buf!r}")
        buf += chunk


def use(sock, mode, i):
    if mode == "get":
        request(sock, b"get warm\r\n")
    elif mode == "set+get":
        request(sock, b"set idle%d 0 0 %d\r\n%s\r\nget idle%d\r\n" % (i, len(VALUE), VALUE, i))


def per_connection_bytes(binary, name, threads, n, mode):
    extra = ["-c", str(n + 100)]
    with benchlib.Server(name, binary, threads=threads, memory_mb=256, extra=extra) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as warm:
            request(warm, b"set warm 0 0 %d\r\n%s\r\nget warm\r\n" % (len(VALUE), VALUE))
        time.sleep(0.3)
        before = benchlib.vm_rss_bytes(srv.pid)
        conns = []
        try:
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                conns.append(s)
                use(s, mode, i)
            time.sleep(0.5)
            after = benchlib.vm_rss_bytes(srv.pid)
        finally:
            for s in conns:
                s.close()
    return (after - before) / n


def main():
    ap = argparse.ArgumentParser(description="RSS per idle connection, ringcached vs memcached")
    ap.add_argument("--ringcached", required=True)
    ap.add_argument("--memcached", default="memcached")
    ap.add_argument("--conns", default="1000,10000")
    ap.add_argument("--modes", default="connect,get,set+get")
    ap.add_argument("--threads", type=int, default=None,
                    help="-t for both servers (default: each server's own default)")
    ap.add_argument("--rounds", type=int, default=3, help="fresh servers per cell; median kept")
    args = ap.parse_args()
    benchlib.install_signal_handlers()

    counts = [int(x) for x in args.conns.split(",")]
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(counts) + 64
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit(f"idle_connections: {max(counts)} connections need an open-file limit of {want}, "
                 f"the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    print(f"# RSS per idle connection, -m 256, -t {args.threads or 'default'}, "
          f"median of {args.rounds} fresh servers per cell")
    print("| connections | mode | ringcached B/conn | memcached B/conn | ratio |")
    print("|---|---|---|---|---|")
    for n in counts:
        for mode in args.modes.split(","):
            rc, mc = [], []
            for _ in range(args.rounds):
                rc.append(per_connection_bytes(args.ringcached, "ringcached", args.threads, n, mode))
                mc.append(per_connection_bytes(args.memcached, "memcached", args.threads, n, mode))
            r, m = statistics.median(rc), statistics.median(mc)
            print(f"| {n} | {mode} | {r:.0f} | {m:.0f} | {r / m:.2f} |", flush=True)


if __name__ == "__main__":
    main()
