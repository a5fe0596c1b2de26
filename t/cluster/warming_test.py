#!/usr/bin/python3
# t/cluster/warming_test.py -- warming (issue 19; ../shared/REPLICATION.md section 6;
# server/member_states.cc, server/handoff.cc): a joiner is `warming` until every member's
# hand-off walk has served it; meanwhile it receives writes, is left out of `config get
# cluster`, and fetches its misses from each key's previous holder before it answers.
#
# Two nodes, R = 2, holding 12,000 keys, push at the slowest --handoff-rate (64 KiB/s), so a
# third node's hand-off takes several seconds. While it warms:
#   * `config get cluster` lists the two only; `stats cluster` lists the joiner as warming;
#   * reading the joiner's own keys from it directly hits, every one (text get, multi-get, meta
#     mg and binary get), and the values are current: keys rewritten and deleted through a client
#     of the old ring read back new and gone;
#   * once both walks are done it is up, listed by `config get cluster` under a new version.
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402
from handoff_test import handoff, holders  # noqa: E402
from drain_test import client, parse_config  # noqa: E402

KEYS = 12000


def binary_get(node, key):
    """A binary-protocol Get: the value, or None on a miss."""
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
        k = key.encode()
        s.sendall(struct.pack(">BBHBBHIIQ", 0x80, 0x00, len(k), 0, 0, 0, len(k), 0, 0) + k)
        head = b""
        while len(head) < 24:
            head += s.recv(24 - len(head))
        _, _, _, extlen, _, status, total, _, _ = struct.unpack(">BBHBBHIIQ", head)
        body = b""
        while len(body) < total:
            body += s.recv(total - len(body))
        return body[extlen:] if status == 0 else None


def case_warming_join(s):
    keys = [f"w{i}" for i in range(KEYS)]
    old = s.nodes
    c = client([n.ring_name for n in old])
    for i in range(0, len(keys), 500):
        check(not c.set_multi({k: "v" + k for k in keys[i:i + 500]}), "prefill failed")
    version_before, listed_before = parse_config(old[0].config_get_cluster())
    joiner = zkcluster.Node(s.url, extra_args=s.args, name="joiner")
    s.extra.append(joiner)
    joiner.start()
    zkcluster.eventually(joiner.up, 20)
    zkcluster.eventually(lambda: all(n.cluster_stats()["ring_members"] == "3"
                                     for n in old + [joiner]), 20)
    st = joiner.cluster_stats()
    states = dict(zip(st["ring_member_names"].split(","), st["ring_member_states"].split(",")))
    check_eq(states[joiner.ring_name], "warming", "the joiner's state while its keys arrive")
    _, listed = parse_config(old[1].config_get_cluster())
    check_eq(sorted(listed), sorted(listed_before), "config get cluster while the joiner warms")

    want = holders(old + [joiner], keys)
    mine = [k for k in keys if joiner.ring_name in want[k]]
    # Rewritten and deleted through the old ring while it warms: the joiner gets them too.
    rewritten, deleted = mine[:200], mine[200:400]
    c.set_multi({k: "new" + k for k in rewritten})
    c.delete_multi(deleted)
    expected = {k: ("new" + k if k in rewritten else None if k in deleted else "v" + k)
                for k in mine}
    t0 = time.monotonic()
    got = {}
    with joiner.connect() as jc:
        for i in range(0, 3000, 100):  # text multi-get
            got.update({k: v[1].decode() for k, v in jc.get_multi(mine[i:i + 100]).items()})
        for k in mine[3000:3300]:  # meta
            jc.send(f"mg {k} v\r\n".encode())
            line = jc.read_line().decode()
            if line.startswith("VA "):
                got[k] = jc.read_exact(int(line.split()[1]) + 2)[:-2].decode()
            else:
                check_eq(line, "EN", f"mg {k}")
    for k in mine[3300:3500]:
        v = binary_get(joiner, k)
        if v is not None:
            got[k] = v.decode()
    read = mine[:3500]
    took = time.monotonic() - t0
    h = handoff(joiner)
    still_warming = dict(zip(joiner.cluster_stats()["ring_member_names"].split(","),
                             joiner.cluster_stats()["ring_member_states"].split(",")))
    wrong = [k for k in read if got.get(k) != expected[k]]
    hits = sum(1 for k in read if k in got)
    print(f"    joiner holds {len(mine)} keys; read {len(read)} of them from it in {took:.2f} s "
          f"while {still_warming[joiner.ring_name]}: {hits} hits, {len(wrong)} wrong "
          f"(expected {sum(1 for k in read if expected[k] is not None)} hits); fetched from the "
          f"previous holder {h['handoff_warming_fetches']}, stored {h['handoff_warming_fetched']}")
    check_eq(wrong[:5], [], "keys read from the warming joiner that differ from the last write")
    check(int(h["handoff_warming_fetches"]) > 0, "no miss was fetched from a previous holder")

    # Up once both walks are done, and then listed.
    def up_and_listed():
        _, names = parse_config(old[0].config_get_cluster())
        return joiner.ring_name in names
    zkcluster.eventually(up_and_listed, 120, step=0.2)
    version_after, _ = parse_config(old[0].config_get_cluster())
    st = joiner.cluster_stats()
    print(f"    up after {st['warming_ms']} ms of warming (timeouts {st['warming_timeouts']}); "
          f"config version {version_before} -> {version_after}")
    check_eq(st["warming_timeouts"], "0", "warming ended by the members' reports")
    check("warming: every member handed over" in joiner.output(), "the joiner's log")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/warming{os.getpid()}"
        secret = zkcluster.write_secret(workdir, "warming test secret")
        self.args = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", "2000",
                     "--cluster-secret-file", secret, "-m", "64", "--handoff-rate", "65536"]
        self.nodes = []
        self.extra = []


def main():
    zkcluster.require(pylibmc=True)
    rctest.binary()
    r = rctest.Runner("warming", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-warming-")
    s = Setup(workdir)
    try:
        s.zk.start()
        s.nodes = zkcluster.start_nodes(s.url, 2, s.args, prefix="warm")
        r.case("a joiner warms: out of config get cluster, its reads hit and are current, "
               "then up", case_warming_join, s)
    finally:
        for n in s.nodes + s.extra:
            n.kill()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
