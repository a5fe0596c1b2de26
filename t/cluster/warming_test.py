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
# Then a fourth node joins under load, through ejecting libmemcached clients (pylibmc,
# KETAMA_WEIGHTED, remove_failed, retry_timeout 1 s) configured with all four from the start: the
# joiner's port refuses, so it is ejected until it runs, then taken back. A reader of prefilled
# keys never misses (its reads of the joiner's keys, warming or not, hit), a writer that reads
# back each write never sees an old value, and neither gets an error once the joiner serves
# (before, libmemcached answers the ejected server's keys with its own error).
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
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
    s.extra.remove(joiner)
    s.nodes = old + [joiner]


def ejecting_client(names):
    import pylibmc
    return pylibmc.Client(names, binary=False,
                          behaviors={"ketama_weighted": True, "remove_failed": 1,
                                     "retry_timeout": 1, "dead_timeout": 1,
                                     "connect_timeout": 1000, "receive_timeout": 2000,
                                     "send_timeout": 2000})


class Load(threading.Thread):
    """Reads prefilled keys (`read_keys`, values "v"+key) or overwrites `write_keys` and reads
    each back, through an ejecting client of `names`, until stopped (at most `limit` s)."""

    def __init__(self, names, read_keys=None, write_keys=None, limit=60.0):
        super().__init__(daemon=True)
        self.names, self.read_keys, self.write_keys = names, read_keys, write_keys
        self.limit = limit
        self.stop = threading.Event()
        self.ops = self.misses = self.stale = self.errors = 0
        self.errors_since = None  # errors since mark()
        self.last_error = ""

    def mark(self):
        self.errors_since = 0

    def run(self):
        c = ejecting_client(self.names)
        deadline = time.monotonic() + self.limit
        i = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            i += 1
            try:
                if self.read_keys is not None:
                    key = self.read_keys[i % len(self.read_keys)]
                    if c.get(key) != "v" + key:
                        self.misses += 1
                else:
                    key = self.write_keys[i % len(self.write_keys)]
                    value = f"x{i}"
                    if c.set(key, value) and c.get(key) != value:
                        self.stale += 1
                self.ops += 1
            except Exception as e:  # noqa: BLE001 -- the ejected node's refusals, counted
                self.errors += 1
                self.last_error = str(e)
                if self.errors_since is not None:
                    self.errors_since += 1


def case_join_under_load_ejecting(s):
    keys = [f"e{i}" for i in range(KEYS)]
    c = client([n.ring_name for n in s.nodes])
    for i in range(0, len(keys), 500):
        check(not c.set_multi({k: "v" + k for k in keys[i:i + 500]}), "prefill failed")
    joiner = zkcluster.Node(s.url, extra_args=s.args, name="joiner2")
    s.extra.append(joiner)
    names = [n.ring_name for n in s.nodes] + [joiner.ring_name]
    want = holders(s.nodes + [joiner], keys)
    theirs = [k for k in keys if joiner.ring_name in want[k]]
    reader = Load(names, read_keys=theirs)
    writer = Load(names, write_keys=[f"x{i}" for i in range(2000)])
    reader.start()
    writer.start()
    time.sleep(1.5)  # the clients eject the joiner, whose port refuses
    before = (reader.ops, reader.misses)
    joiner.start()
    zkcluster.eventually(joiner.up, 20)
    t0 = time.monotonic()
    st = joiner.cluster_stats()
    warming = dict(zip(st["ring_member_names"].split(","),
                       st["ring_member_states"].split(",")))[joiner.ring_name]
    # The clients take the joiner back after their retry timeout, while it warms.
    zkcluster.eventually(lambda: int(joiner.cluster_stats()["ring_version"]) > 0 and
                         int(joiner.raw(b"stats\r\n").split(b"cmd_get ")[1].split(b"\r")[0]) > 0,
                         20, step=0.1)
    served_at = time.monotonic() - t0
    time.sleep(1.0)  # every client has taken it back
    reader.mark()
    writer.mark()
    time.sleep(2.0)
    reader.stop.set()
    writer.stop.set()
    reader.join(10)
    writer.join(10)
    h = handoff(joiner)
    gets = int(joiner.raw(b"stats\r\n").split(b"cmd_get ")[1].split(b"\r")[0])
    print(f"    joiner {warming} when it came up; clients read from it {served_at:.1f} s later; "
          f"reader: {reader.ops} gets of the {len(theirs)} keys it holds, {reader.misses} misses "
          f"({before[1]} before it started), {reader.errors} errors ({reader.errors_since} once "
          f"it served; last: {reader.last_error}); writer: {writer.ops} set+get, {writer.stale} "
          f"stale, {writer.errors} errors ({writer.errors_since}); the joiner answered {gets} "
          f"gets, fetched {h['handoff_warming_fetches']} misses from previous holders, stored "
          f"{h['handoff_warming_fetched']}")
    check_eq(warming, "warming", "the joiner's state when it came up")
    check_eq(reader.misses, 0, "misses of prefilled keys")
    check_eq(writer.stale, 0, "stale reads")
    check_eq((reader.errors_since, writer.errors_since), (0, 0),
             "client errors once the joiner served")
    check(gets > 0, "the clients never read from the joiner")


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
        r.case("a joiner under load through ejecting clients: no miss, no stale read",
               case_join_under_load_ejecting, s)
    finally:
        for n in s.nodes + s.extra:
            n.kill()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
