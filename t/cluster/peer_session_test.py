#!/usr/bin/python3
# t/cluster/peer_session_test.py -- the accepting side of a peer link, against a real node in a
# private ZooKeeper cluster, with this script playing the other node (REPLICATION.md section 4;
# cluster/peer_hello.h, server/peer_commands.cc). The script computes its proofs with Python's
# hmac module, so the node's HMAC-SHA256 is checked against an independent one.
#
#   * the handshake: RC_HELLO's fields and proof (verified here), rc_auth, RC_OK; the link is
#     counted apart from clients and is exempt from -o idle_timeout;
#   * refusals, each closing the link: a wrong secret, a mismatched configuration (named in the
#     reply), a clock beyond the skew bound, rc_auth out of turn; a node without
#     --cluster-secret-file answers ERROR; a secret file others may read stops start-up;
#   * the peer-only flag Y: refused on a client connection; on the peer link, ms/md/mg apply only
#     if newer than the node's item or tombstone, and clients then read the result;
#   * the local lease's question (rc_lease, cluster/lease.h): answered as the node's ring says, to
#     a peer only (to anyone on a node without a secret); a hello from an older incarnation of a
#     member is refused.
import hashlib
import hmac
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkcluster  # noqa: E402
import rctest  # noqa: E402
from rctest import Failure, check, check_eq  # noqa: E402

SECRET = "correct horse battery staple"
EPOCH_MS = 1704067200000


def now_version():
    return (int(time.time() * 1000) - EPOCH_MS) << 10


class Peer:
    """This script as a peer node: one connection to the node under test."""

    def __init__(self, node, name="10.9.9.9:1", secret=SECRET, **fields):
        self.node, self.name, self.secret = node, name, secret
        self.conn = node.connect(timeout=5.0)
        self.fields = dict(proto=1, cluster=node.path, name=name, incarnation=1, ring=0,
                           clock=0, profile="libmemcached", replicas=2, item_max=1048576,
                           mode="async", nonce=secrets.token_hex(16))
        self.fields.update(fields)

    def proof(self, role, opener, acceptor):
        msg = (f"ringcached-peer {role} 1 {opener['nonce']} {acceptor['nonce']} "
               f"{opener['name']} {acceptor['name']}")
        return hmac.new(self.secret.encode(), msg.encode(), hashlib.sha256).hexdigest()

    def hello(self):
        line = "rc_hello " + " ".join(f"{k}={v}" for k, v in self.fields.items())
        return self.conn.cmd(line)

    def handshake(self):
        reply = self.hello()
        check(reply.startswith("RC_HELLO "), f"RC_HELLO expected: {reply!r}")
        theirs = dict(f.split("=", 1) for f in reply.split()[1:])
        check_eq(theirs["name"], self.node.ring_name, "the acceptor's name")
        check_eq(theirs["proof"], self.proof("acceptor", self.fields, theirs),
                 "the acceptor's proof (HMAC-SHA256 computed here)")
        check(int(theirs["clock"]) > 0, "the acceptor's clock")
        self.theirs = theirs
        return self.conn.cmd("rc_auth proof=" + self.proof("opener", self.fields, theirs))

    def closed(self):
        return self.conn.wait_closed(3.0)


def refused(peer, step, want):
    reply = step()
    check(reply.startswith("RC_REFUSED"), f"refusal expected, got {reply!r}")
    check(want in reply, f"{want!r} not in {reply!r}")
    check(peer.closed(), "the link was not closed after RC_REFUSED")


def case_handshake_and_counting(c):
    n = c.node
    before = n.cluster_stats()
    p = Peer(n)
    check_eq(p.handshake(), "RC_OK", "rc_auth")
    st = n.cluster_stats()
    check_eq(st["peer_connections"], "1", "peer_connections")
    check_eq(int(st["peer_links_total"]), int(before["peer_links_total"]) + 1, "peer_links_total")
    # The stats connection itself is the only client (the ones closed just before may take the
    # server a moment to count out).
    def one_client():
        with n.connect() as client:
            return client.stats()["curr_connections"] == "1"
    zkcluster.eventually(one_client, 5)
    # -o idle_timeout=1: a quiet client is closed, the quiet peer link is not.
    idle = n.connect()
    time.sleep(2.6)
    check(idle.wait_closed(2.0), "an idle client was not closed")
    check_eq(p.conn.cmd("mn"), "MN", "the idle peer link still answers")
    c.peer = p


def case_refusals(c):
    n = c.node
    p = Peer(n, secret="not the secret")
    reply = p.hello()
    check(reply.startswith("RC_HELLO "), f"{reply!r}")
    theirs = dict(f.split("=", 1) for f in reply.split()[1:])
    check(theirs["proof"] != p.proof("acceptor", p.fields, theirs),
          "the acceptor's proof verified under a wrong secret")
    refused(p, lambda: p.conn.cmd("rc_auth proof=" + p.proof("opener", p.fields, theirs)),
            "wrong proof")
    for field, value, want in (("replicas", 3, "replicas 2 here, 3 at 10.9.9.9:1"),
                               ("profile", "twemproxy", "ring profile libmemcached here"),
                               ("mode", "sync", "replication mode async here"),
                               ("item_max", 2097152, "item size limit"),
                               ("cluster", "/elsewhere", "cluster "),
                               ("clock", now_version() + (60000 << 10), "clock ahead")):
        p = Peer(n, **{field: value})
        refused(p, p.hello, want)
    p = Peer(n)
    refused(p, lambda: p.conn.cmd("rc_auth proof=" + "0" * 64), "out of turn")
    p = Peer(n, nonce="xyz")
    refused(p, p.hello, "bad nonce")
    check("refused 10.9.9.9:1: replicas 2 here, 3 at 10.9.9.9:1" in n.output(),
          "no log line naming the mismatch")
    check(SECRET not in n.output(), "the secret appears in the log")


def case_peer_only_flag(c):
    n = c.node
    v = now_version()
    with n.connect() as client:
        client.send(f"ms pk 1 E{v} Y10.9.9.9:1\r\nx\r\nmn\r\n".encode())
        check_eq(client.read_line(), b"CLIENT_ERROR bad peer command", "Y from a client")
        check_eq(client.read_line(), b"MN", "the data block was swallowed")
        check_eq(client.cmd(f"md pk E{v} Y10.9.9.9:1"), "CLIENT_ERROR bad peer command",
                 "md Y from a client")
    p = c.peer
    # A write from the peer applies only if newer than what the node holds.
    p.conn.send(f"ms pk 2 T0 F5 E{v + 10} Y{p.name}\r\nv1\r\n".encode())
    check_eq(p.conn.read_line(), b"HD", "ms from the peer")
    p.conn.send(f"ms pk 2 E{v + 5} Y{p.name}\r\nv0\r\n".encode())
    check_eq(p.conn.read_line(), b"EX", "an older copy is refused")
    with n.connect() as client:
        check_eq(client.get_multi(["pk"], verb="gets")["pk"], (5, b"v1", v + 10),
                 "clients read the peer's value, flags and version (its CAS)")
        # A client write afterwards orders after the peer's version.
        check_eq(client.set("pk", "mine"), "STORED", "client set")
        mine = client.get_multi(["pk"], verb="gets")["pk"][2]
        check(mine > v + 10, "the node's clock moved past the peer's version")
    # A peer's delete, if newer, leaves a tombstone no older copy gets past.
    check_eq(p.conn.cmd(f"md pk E{mine - 1} Y{p.name}"), "EX", "an older delete")
    check_eq(p.conn.cmd(f"md pk E{mine + 1} Y{p.name}"), "HD", "a newer delete")
    p.conn.send(f"ms pk 3 E{mine} Y{p.name}\r\nold\r\n".encode())
    check_eq(p.conn.read_line(), b"EX", "a copy older than the tombstone")
    check_eq(p.conn.cmd(f"md nokey E{mine + 2} Y{p.name}"), "HD", "a delete of a missing key")
    p.conn.send(f"ms nokey 3 E{mine + 1} Y{p.name}\r\nold\r\n".encode())
    check_eq(p.conn.read_line(), b"EX", "a missing key's tombstone holds too")
    # A TTL change from the peer: the value's version and a newer stamp.
    p.conn.send(f"ms tk 1 E{v + 100} Y{p.name}\r\nt\r\n".encode())
    check_eq(p.conn.read_line(), b"HD", "ms tk")
    check_eq(p.conn.cmd(f"mg tk T500 C{v + 99} E{v + 200} Y{p.name}"), "EX", "another value")
    check_eq(p.conn.cmd(f"mg tk T500 C{v + 100} E{v + 200} Y{p.name}"), "HD", "the TTL change")
    check_eq(p.conn.cmd(f"mg tk T900 C{v + 100} E{v + 150} Y{p.name}"), "EX", "an older stamp")
    # A peer's invalidation (md I), if newer: the value stays, stale, with the peer's version.
    p.conn.send(f"ms ik 1 E{v + 300} Y{p.name}\r\ni\r\n".encode())
    check_eq(p.conn.read_line(), b"HD", "ms ik")
    check_eq(p.conn.cmd(f"md ik I E{v + 299} Y{p.name}"), "EX", "an older invalidation")
    check_eq(p.conn.cmd(f"md ik I E{v + 301} Y{p.name}"), "HD", "the invalidation")
    # An access hint (mg with Y alone): read here as the owner's clients read it there, HD or EN.
    p.conn.send(f"ms hk 1 E{v + 400} Y{p.name}\r\nh\r\n".encode())
    check_eq(p.conn.read_line(), b"HD", "ms hk")
    with n.connect() as client:
        check(" fetch=no " in client.cmd("me hk") + " ", "a copy enters unread")
        check_eq(client.cmd(f"mg hk Y{p.name}"), "CLIENT_ERROR bad peer command",
                 "a hint from a client")
    check_eq(p.conn.cmd(f"mg hk Y{p.name}"), "HD", "a hint")
    check_eq(p.conn.cmd(f"mg nokey Y{p.name}"), "EN", "a hint of a missing key")
    # Hints in a batch (rc_hints, keys as they are or in base64): HD, or EN and the positions of
    # the keys not here.
    p.conn.send(f"ms hk2 1 E{v + 500} Y{p.name}\r\nh\r\n".encode())
    check_eq(p.conn.read_line(), b"HD", "ms hk2")
    with n.connect() as client:
        check_eq(client.cmd("rc_hints t hk2"), "ERROR", "rc_hints from a client")
        check(" fetch=no " in client.cmd("me hk2") + " ", "not read by a client's rc_hints")
    check_eq(p.conn.cmd("rc_hints t nokey hk2 nokey2"), "EN 0 2", "a batch with misses")
    check_eq(p.conn.cmd("rc_hints b aGsy aGs="), "HD", "a batch in base64 (hk2 hk)")
    check_eq(p.conn.cmd("rc_hints b aGsy !!"), "EN 1", "a base64 key that decodes to nothing")
    check_eq(p.conn.cmd("rc_hints x hk2"), "ERROR", "a batch of no known form")
    with n.connect() as client:
        check(" fetch=yes " in client.cmd("me hk") + " ", "the hinted copy counts as read")
        check(" fetch=yes " in client.cmd("me hk2") + " ", "the batch's copy counts as read")
        ik = client.cmd("mg ik c")
        check(sorted(ik.split()[1:]) == sorted([f"c{v + 301}", "W", "X"]),
              f"the invalidated copy: {ik!r}")
        check(client.get("pk") is None, "a deleted key reads as a miss")
        ttl = client.cmd("mg tk t")
        check(ttl.startswith("HD t") and 490 <= int(ttl[4:]) <= 500, f"the TTL: {ttl!r}")
        st = client.stats()
        check_eq(st["curr_items"], "4", "tombstones are not items")
        check_eq(st["get_hits"], "4", "hints are not client reads")
        check_eq(client.stats("versions")["versions_refused"], "1",
                 "the far clock in case_refusals was counted")


def case_lease_questions_and_incarnations(c):
    n = c.node
    st = n.cluster_stats()
    me, incarnation = n.ring_name, int(st["self_incarnation"])
    # rc_lease is a peer's question: refused to a client when the node has a secret.
    with n.connect() as client:
        check_eq(client.cmd(f"rc_lease {me} {incarnation}"), "ERROR", "rc_lease from a client")
    p = c.peer
    reply = p.conn.cmd(f"rc_lease {me} {incarnation}")
    check(reply.startswith("RC_LEASE granted "), f"a member of its ring: {reply!r}")
    check_eq(int(reply.split()[2]), int(st["zk_session_timeout_ms"]) * 3 // 4, "the grant")
    check_eq(p.conn.cmd(f"rc_lease {me} {incarnation - 1}"), "RC_LEASE refused",
             "an older incarnation than its ring has")
    check_eq(p.conn.cmd(f"rc_lease {me} {incarnation + 1}"), "RC_LEASE unknown",
             "a newer incarnation: its ring is behind")
    check_eq(p.conn.cmd("rc_lease 10.8.8.8:1 5"), "RC_LEASE refused", "not in its ring")
    check_eq(p.conn.cmd(f"rc_lease {me} x"), "ERROR", "a malformed question")
    after = n.cluster_stats()
    check_eq(int(after["lease_grants_given"]) - int(st["lease_grants_given"]), 1, "grants given")
    check_eq(int(after["lease_refusals_given"]) - int(st["lease_refusals_given"]), 2,
             "refusals given")
    # A hello from an older incarnation of a member than the node's ring has is refused.
    old = Peer(n, name=me, incarnation=incarnation - 1)
    refused(old, old.hello, "an older incarnation of " + me)


def case_without_secret(c):
    n2 = zkcluster.Node(c.url, extra_args=c.args, name="nosecret")
    try:
        n2.start()
        zkcluster.eventually(n2.up, 20)
        st = n2.cluster_stats()
        with n2.connect() as client:
            check_eq(client.cmd("rc_hello proto=1"), "ERROR", "rc_hello without a secret file")
            check_eq(client.cmd("rc_auth proof=00"), "ERROR", "rc_auth without a secret file")
            # No peer links to authenticate: the lease's question is answered to anyone.
            check(client.cmd(f"rc_lease {n2.ring_name} {st['self_incarnation']}")
                  .startswith("RC_LEASE granted "), "rc_lease without a secret file")
    finally:
        n2.kill()
    loose = os.path.join(c.workdir, "loose-secret")
    with open(loose, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(loose, 0o644)
    p = subprocess.run([rctest.binary(), "-p", str(zkcluster.free_port()), "-U", "0",
                        "-l", "127.0.0.1", "--cluster", c.url, "--cluster-secret-file", loose]
                       + rctest.root_args(), capture_output=True, text=True, timeout=30)
    check(p.returncode != 0, "a secret file others may read was accepted")
    check("chmod 600" in p.stderr and SECRET not in p.stderr, f"the message: {p.stderr!r}")


class Setup:
    def __init__(self, workdir):
        self.workdir = workdir
        self.zk = zkcluster.ZooKeeper(workdir)
        self.path = f"/ringcached/peer{os.getpid()}"
        self.url = f"zk://{self.zk.hosts}{self.path}"
        self.args = ["--ring-debounce-ms", "100", "--zk-session-timeout-ms", "4000"]
        self.secret_file = zkcluster.write_secret(workdir, SECRET)
        self.node = None
        self.peer = None


def main():
    zkcluster.require()
    rctest.binary()
    r = rctest.Runner("peer links: the accepting side", time_limit=170)
    workdir = tempfile.mkdtemp(prefix="rc-peer-")
    c = Setup(workdir)
    try:
        c.zk.start()
        c.node = zkcluster.Node(c.url, extra_args=c.args + [
            "--cluster-secret-file", c.secret_file, "-o", "idle_timeout=1"], name="node")
        c.node.path = c.path
        c.node.start()
        zkcluster.eventually(c.node.up, 20)
        r.case("handshake: proofs both ways; counted apart; exempt from idle_timeout",
               case_handshake_and_counting, c)
        r.case("refused: wrong secret, mismatched configuration, far clock, out of turn",
               case_refusals, c)
        if c.peer is not None:
            r.case("the peer-only flag: refused to clients; on the link, applied if newer",
                   case_peer_only_flag, c)
            r.case("rc_lease: granted, refused or unknown as the ring says, only to a peer; "
                   "an older incarnation's hello refused",
                   case_lease_questions_and_incarnations, c)
        r.case("no secret file: ERROR; a readable secret file stops start-up",
               case_without_secret, c)
    finally:
        if c.peer is not None:
            c.peer.conn.close()
        if c.node is not None:
            c.node.kill()
        c.zk.kill()
        subprocess.run(["rm", "-rf", workdir])
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
