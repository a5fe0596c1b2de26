#!/usr/bin/python3
# t/cluster/sync_replication_test.py -- synchronous replication (--replication sync; issue 17,
# REPLICATION.md section 4): a write is answered only once every other holder of the key has
# acknowledged it. Two nodes, R = 2, a private ZooKeeper:
#   * STORED means the other node has it: read there at once, no waiting;
#   * with the other node stopped (SIGSTOP), a write is answered SERVER_ERROR after
#     --replication-timeout-ms (the outcome is unknown; never a false STORED), a quiet meta write
#     says so too, a noreply write cannot, and what follows each waits behind it in order;
#   * once the other node runs again (SIGCONT), writes are STORED again;
#   * libmemcached (pylibmc) with a failure limit of 1 takes such a SERVER_ERROR as an answer,
#     not a server failure: it keeps sending the node its keys.
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

TIMEOUT_MS = 300
FAILED = "SERVER_ERROR replication to the key's holders did not complete"


def case_stored_means_replicated(s):
    a, b = s.nodes
    with a.connect() as ca, b.connect() as cb:
        for i in range(200):
            check_eq(ca.set(f"s{i}", f"v{i}"), "STORED", "set")
            check_eq(cb.get(f"s{i}"), f"v{i}".encode(), "the other node, right after STORED")
        ca.send(b"ms m 2 T60\r\nmm\r\n")
        check_eq(ca.read_line(), b"HD", "ms")
        check_eq(cb.get("m"), b"mm", "ms on the other node")
        check_eq(ca.cmd("delete s0"), "DELETED", "delete")
        check(cb.get("s0") is None, "the delete on the other node")


def case_unreachable_holder(s):
    a, b = s.nodes
    b.pause()
    try:
        with a.connect() as c:
            t0 = time.monotonic()
            check_eq(c.set("u1", "x"), FAILED, "set while the other holder is stopped")
            took = time.monotonic() - t0
            check(took >= TIMEOUT_MS / 1000 * 0.9, f"answered after {took:.3f} s")
            # Pipelined: the replies keep their order, each write waits its turn.
            c.send(b"ms u2 1 q\r\ny\r\nset u3 0 0 1 noreply\r\nz\r\nget u1\r\n")
            check_eq(c.read_line().decode(), FAILED, "a quiet ms says it failed")
            check_eq(c.read_line(), b"VALUE u1 0 1", "the get after the noreply set")
            check_eq(c.read_line(), b"x", "value")
            check_eq(c.read_line(), b"END", "END")
            check(c.get("nosuchkey") is None, "reads are not held")
    finally:
        b.resume()
    with a.connect() as c:
        deadline = time.monotonic() + 10
        while c.set("back", "1") != "STORED":
            check(time.monotonic() < deadline, "writes not STORED again after SIGCONT")
            time.sleep(0.1)
    with b.connect() as c:
        check_eq(c.get("back"), b"1", "the other node after SIGCONT")


def case_server_error_is_not_a_server_failure(s):
    # The design's premise for sync mode: libmemcached with a failure limit of 1 ejects a server
    # after one connection or I/O failure, but a SERVER_ERROR reply is an answer, not a failure,
    # so a write that times out on its replicas does not make the client drop a healthy node.
    import pylibmc
    a, b = s.nodes

    def count(node, field):
        with node.connect() as conn:
            return int(conn.stats()[field])
    c = pylibmc.Client([a.ring_name, b.ring_name], binary=False, behaviors={
        "ketama_weighted": True, "remove_failed": 1, "failure_limit": 1, "retry_timeout": 30,
        "dead_timeout": 30, "connect_timeout": 500, "receive_timeout": 2000 * 1000,
        "send_timeout": 2000 * 1000})
    # Keys the client sends to a: counted by a's cmd_set.
    before = count(a, "cmd_set")
    owned_by_a = []
    for i in range(40):
        c.set(f"lm{i}", "v")
        now = count(a, "cmd_set")
        if now > before:
            owned_by_a.append(f"lm{i}")
        before = now
    check(len(owned_by_a) >= 5, f"a owns {len(owned_by_a)} of 40 keys")
    b.pause()
    try:
        errors = 0
        for k in owned_by_a[:3]:
            try:
                c.set(k, "during")
            except pylibmc.Error:
                errors += 1
        check_eq(errors, 3, "sets to a with its replica stopped fail (SERVER_ERROR)")
    finally:
        b.resume()
    # a was not ejected: its keys still go to a (a's counters move), not to b.
    deadline = time.monotonic() + 10
    while True:
        try:
            c.set("probe-after", "x")
            break
        except pylibmc.Error:
            check(time.monotonic() < deadline, "writes not STORED again after SIGCONT")
            time.sleep(0.1)
    gets_before = count(a, "cmd_get")
    for k in owned_by_a:
        check(c.get(k) is not None, f"{k} through the client")
    check_eq(count(a, "cmd_get") - gets_before, len(owned_by_a),
             "a still gets its keys' reads: the SERVER_ERRORs did not eject it")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.url = f"zk://{self.zk.hosts}/ringcached/sync{os.getpid()}"
        self.secret = zkcluster.write_secret(workdir, "sync test secret")
        self.nodes = []


def main():
    zkcluster.require()
    rctest.binary()
    r = rctest.Runner("synchronous replication", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-sync-")
    s = Setup(workdir)
    try:
        s.zk.start()
        # A long session, so that SIGSTOP does not make the stopped node leave the ring.
        s.nodes = zkcluster.start_nodes(s.url, 2, [
            "--ring-debounce-ms", "100", "--zk-session-timeout-ms", "20000",
            "--cluster-secret-file", s.secret, "--replication", "sync",
            "--replication-timeout-ms", str(TIMEOUT_MS)])
        r.case("STORED means every holder has it", case_stored_means_replicated, s)
        r.case("a stopped holder: SERVER_ERROR after the timeout, in order; STORED once back",
               case_unreachable_holder, s)
        r.case("libmemcached (failure limit 1) does not eject a node for its SERVER_ERROR",
               case_server_error_is_not_a_server_failure, s)
    finally:
        for n in s.nodes:
            try:
                n.resume()
            except OSError:
                pass
            n.kill()
        s.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
