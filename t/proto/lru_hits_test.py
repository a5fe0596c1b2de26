#!/usr/bin/python3
# t/proto/lru_hits_test.py -- `stats items` hits_to_hot/warm/cold/temp against get_hits (issue 13,
# item 6): memcached_exporter turns them into memcached_slab_lru_hits_total, which stayed empty
# while get_hits counted.
#
# memcached counts each get hit once in lru_hits[class | segment] and reports `stats items`
# hits_to_<segment> from it; its per-class `stats slabs` get_hits and the global get_hits are the
# sums of those (thread.c threadlocal_stats_aggregate). A get that touches (gat, gats, mg with T,
# binary GAT) is a touch hit instead, and no LRU hit (proto_text.c process_get_command; the
# reference transcript's `stats items/slabs` case reads hits_to_hot 10 + hits_to_cold 8 = get_hits
# 18). ringcached reports every item as cold (doc/deviations.md, "LRU"), so all of a class's hits
# are hits_to_cold there.
#
# The case stores keys of three sizes (three size classes), hits them with every get of the text,
# meta and binary protocols, a different number of times per size, adds misses and touches, and
# checks: per class, the hits_to_* sum is the class's `stats slabs` get_hits; the per-class sums
# are exactly the hits made on each size; their total is get_hits; touches count as touch_hits
# only. Against ringcached hits_to_hot, hits_to_warm and hits_to_temp must be 0. Checked against
# stock memcached first (RINGCACHED=/usr/bin/memcached).
import os
import struct
import sys

sys.path.insert(0, os.environ.get("RC_TESTLIB") or os.path.dirname(os.path.abspath(__file__)))
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

SEGMENTS = ("hot", "warm", "cold", "temp")
SIZES = (10, 900, 20000)  # value bytes: one size class each, in memcached and in ringcached

HEADER = struct.Struct(">BBHBBHIIQ")
GET, GETQ, NOOP, GETK, GETKQ, GAT = 0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x1d


def bin_request(op, key=b"", ext=b""):
    body = ext + key
    return HEADER.pack(0x80, op, len(key), len(ext), 0, 0, len(body), 0, 0) + body


def bin_round(c, packets):
    """Sends binary `packets` and a Noop; returns the opcodes of the responses before the Noop's."""
    c.send(b"".join(packets) + bin_request(NOOP))
    ops = []
    while True:
        magic, op, keylen, extlen, _, status, bodylen, _, _ = HEADER.unpack(c.read_exact(24))
        c.read_exact(bodylen)
        check_eq((magic, status), (0x81, 0), f"binary response to opcode 0x{op:02x}")
        if op == NOOP:
            return ops
        ops.append(op)


def hit_with_every_get(c, b, keys):
    """One round of get hits on the three `keys` through each protocol (text and meta over `c`,
    binary over `b`: a connection speaks the protocol of its first byte), with a miss of each
    kind: 10 hits. Every reply is read and checked, so the server has counted them all."""
    k1, k2, k3 = keys
    check_eq(sorted(c.get_multi(keys)), sorted(keys), "get of three keys")
    check_eq(list(c.get_multi([k1], verb="gets")), [k1], "gets")
    check_eq(c.get_multi(["lru_hits_missing"]), {}, "get of a missing key")
    check(c.cmd(f"mg {k1} v").startswith("VA "), "mg v")
    c.read_line()  # the value
    check_eq(c.cmd(f"mg {k2}"), "HD", "mg without flags")
    check_eq(c.cmd("mg lru_hits_missing v"), "EN", "mg of a missing key")
    got = bin_round(b, [bin_request(GET, k1.encode()), bin_request(GETK, k2.encode()),
                        bin_request(GETQ, k3.encode()), bin_request(GETKQ, k1.encode()),
                        bin_request(GETQ, b"lru_hits_missing")])
    check_eq(got, [GET, GETK, GETQ, GETKQ], "binary Get, GetK, GetQ, GetKQ (and a quiet miss)")


def touch_each(c, b, keys):
    """Four touch hits (gat, gats, mg T, binary GAT): counted as touches, not LRU hits."""
    k1, k2, k3 = keys
    check_eq(list(c.get_multi([k1], verb="gat 100")), [k1], "gat")
    check_eq(list(c.get_multi([k2], verb="gats 100")), [k2], "gats")
    check(c.cmd(f"mg {k3} T100 v").startswith("VA "), "mg T v")
    c.read_line()
    check_eq(bin_round(b, [bin_request(GAT, k1.encode(), struct.pack(">I", 100))]), [GAT],
             "binary GAT")


def per_class(st, field):
    """{class id: value} of the `stats items` (items:N:field) or `stats slabs` (N:field) lines."""
    out = {}
    for name, value in st.items():
        parts = name.split(":")
        if parts[-1] == field and parts[-2].isdigit():
            out[int(parts[-2])] = int(value)
    return out


def case_hits_by_class():
    with rctest.ServerProcess(["-m", "64"]) as srv, srv.connect() as c, srv.connect() as b:
        groups = [[f"lru_hits_{size}_{i}" for i in range(3)] for size in SIZES]
        for size, keys in zip(SIZES, groups):
            for k in keys:
                check_eq(c.set(k, b"v" * size), "STORED", f"set {k}")
        want = []
        for rounds, keys in enumerate(groups, start=1):  # 10, 20 and 30 hits by size
            for _ in range(rounds):
                hit_with_every_get(c, b, keys)
            touch_each(c, b, keys)
            want.append(10 * rounds)
        items, slabs, general = c.stats("items"), c.stats("slabs"), c.stats()

        segments = {seg: per_class(items, f"hits_to_{seg}") for seg in SEGMENTS}
        lru_hits = {cls: sum(segments[seg].get(cls, 0) for seg in SEGMENTS)
                    for cls in segments["cold"]}
        check_eq(sorted(lru_hits.values()), [0] * (len(lru_hits) - 3) + want,
                 f"hits_to_* summed per class ({segments})")
        check_eq(lru_hits, {cls: n for cls, n in per_class(slabs, "get_hits").items()
                            if cls in lru_hits}, "per class: hits_to_* sum vs stats slabs get_hits")
        check_eq(sum(lru_hits.values()), int(general["get_hits"]), "hits_to_* total vs get_hits")
        check_eq(int(general["get_hits"]), sum(want), "get_hits")
        check_eq(int(general["touch_hits"]), 4 * len(SIZES), "touch_hits")
        if not rctest.is_stock_memcached():
            # Every item is cold here, so every hit is a hit to cold.
            for seg in ("hot", "warm", "temp"):
                check_eq(sum(segments[seg].values()), 0, f"hits_to_{seg} total")
            check_eq(segments["cold"], lru_hits, "hits_to_cold per class")
        print(f"    per class: {lru_hits}; get_hits {general['get_hits']}")


def main():
    r = rctest.Runner("stats items LRU hits")
    r.case("hits_to_* by class: every get protocol, misses and touches excluded",
           case_hits_by_class)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
