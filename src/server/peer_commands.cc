// server/peer_commands.cc -- the accepting side of a peer link (../shared/REPLICATION.md
// section 4; the lines are cluster/peer_hello.h): rc_hello and rc_auth, after which the session
// is a peer session, and the peer-only meta flag (Y) is accepted on it.
//
// A node without PeerAuth (no --cluster-secret-file) answers both commands ERROR, as any unknown
// command. On one with it:
//   rc_hello  fields parsed (a bad one: RC_REFUSED); the configuration compared (a mismatch:
//             RC_REFUSED naming it, and a log line); the peer's clock admitted into this node's
//             version clock (further ahead than --max-clock-skew-ms: refused), so that this node
//             never mints a version below the peer's; then RC_HELLO with this node's fields and
//             its proof.
//   rc_auth   the peer's proof checked against every secret: RC_OK, and the session is a peer
//             session; else RC_REFUSED.
//   rc_lease  <name> <incarnation>: whether this node counts that member (cluster/lease.h Judge):
//             RC_LEASE granted <ms> | refused | unknown. With a cluster secret only on a peer
//             session; without one (no peer links to authenticate) on any, to any cluster node.
//   rc_handoff_done <name> <version> <incarnation> <keys> <bytes>: the peer's hand-off walk
//             served ring `version` (this node under `incarnation` in it), and pushed it that
//             many keys and bytes (server/handoff.cc sends it after its pushes, on the same
//             link): HD. Peer sessions only.
//   rc_hints <t|b> <key> <key> ...: access hints (server/replicator.h), the keys as they are (t)
//             or in base64 (b), each counted as read here as an mg hint's is: HD, or EN and the
//             positions (from 0) of the keys not here, so that the sender sends those items
//             again. One line for many keys, where an mg each cost both nodes a request's work a
//             key. Peer sessions only.
// Every refusal closes the connection once the line is sent. Nothing secret is logged.
//
// Incarnations (REPLICATION.md section 5): a hello from an older incarnation of a member than this
// node's ring has is refused, and a peer session whose sender has since registered again under a
// newer one is closed at its next message (CurrentPeer).
#include <charconv>

#include "ringcached/base/log.h"
#include "ringcached/proto/limits.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/request.h"
#include "ringcached/proto/text_reply.h"
#include "server/session.h"

namespace rc::server {
namespace {

// The fields after the verb, as one string (the parser split them into tokens).
std::string FieldsOf(const proto::Request& req) {
  std::string out;
  for (std::size_t i = 1; i < req.ntokens; ++i) {
    if (i > 1) out += ' ';
    out.append(req.tokens[i]);
  }
  return out;
}

}  // namespace

void Session::RefusePeer(const std::string& why) {
  out_->Append("RC_REFUSED " + why + "\r\n");
  peer_.reset();
  close_after_write_ = true;
}

void Session::AnswerLease(const proto::Request& req) {
  // With a cluster secret, only an authenticated peer may ask; without one, anyone (the answer
  // only says whether a member is counted, and memcached's port trusts its network anyway).
  cluster::LeaseKeeper* lease = context_->lease;
  std::int64_t incarnation = 0;
  if (lease == nullptr || datagrams_ || (context_->peer_auth != nullptr && !peer()) ||
      req.ntokens != 3 ||
      std::from_chars(req.tokens[2].data(), req.tokens[2].data() + req.tokens[2].size(),
                      incarnation)
              .ptr != req.tokens[2].data() + req.tokens[2].size()) {
    out_->Append(proto::kErrorReply);
    return;
  }
  const cluster::GrantReply reply = lease->Judge(req.tokens[1], incarnation);
  std::string line = "RC_LEASE " + std::string(cluster::GrantKindName(reply.kind));
  if (reply.kind == cluster::GrantReply::Kind::kGrant) {
    line += " " + std::to_string(reply.length.count());
  }
  out_->Append(line + "\r\n");
}

void Session::AnswerHandoffDone(const proto::Request& req) {
  HandoffReport report;
  const auto number = [](std::string_view token, auto* out) {
    return std::from_chars(token.data(), token.data() + token.size(), *out).ptr ==
           token.data() + token.size();
  };
  if (!peer() || req.ntokens != 6 || !number(req.tokens[2], &report.version) ||
      !number(req.tokens[3], &report.incarnation) || !number(req.tokens[4], &report.keys) ||
      !number(req.tokens[5], &report.bytes)) {
    out_->Append(proto::kErrorReply);
    return;
  }
  report.peer = req.tokens[1];
  context_->admin->HandoffServed(report);
  out_->Append("HD\r\n");
}

void Session::AnswerHints(const proto::Request& req) {
  if (!peer()) {
    out_->Append(proto::kErrorReply);
    return;
  }
  proto::KeyIterator keys(req.keys);
  std::string_view mode;
  if (!keys.Next(&mode) || (mode != "t" && mode != "b")) {
    out_->Append(proto::kErrorReply);
    return;
  }
  std::string missed;
  std::string_view key;
  char decoded[proto::kMaxKeyLength + 4];
  for (std::size_t i = 0; keys.Next(&key); ++i) {
    if (mode == "b") {
      const std::size_t n = key.size() <= (proto::kMaxKeyLength + 2) / 3 * 4
                                ? proto::Base64Decode(key.data(), key.size(), decoded)
                                : 0;
      key = std::string_view(decoded, n);
    }
    if (!key.empty() && key.size() <= proto::kMaxKeyLength &&
        context_->engine->AccessHint(key)) {
      continue;
    }
    missed += ' ';
    missed += std::to_string(i);
  }
  if (missed.empty()) {
    out_->Append("HD\r\n");
  } else {
    out_->Append("EN" + missed + "\r\n");
  }
}

void Session::ProcessPeer(const proto::Request& req) {
  if (req.tokens[0] == "rc_lease") return AnswerLease(req);
  if (req.tokens[0] == "rc_hints") return AnswerHints(req);
  if (req.tokens[0] == "rc_handoff_done") return AnswerHandoffDone(req);
  const PeerAuth* auth = context_->peer_auth;
  if (auth == nullptr || datagrams_) {
    out_->Append(proto::kErrorReply);
    return;
  }
  std::string proof;
  if (req.tokens[0] == "rc_hello") {
    if (peer_ != nullptr) return RefusePeer("a second rc_hello");
    base::Result<cluster::PeerHello> theirs = cluster::ParseHelloFields(FieldsOf(req), &proof);
    if (!theirs.ok()) return RefusePeer(theirs.status().message());
    cluster::PeerHello mine = auth->hello();
    const std::string mismatch = cluster::ConfigMismatch(mine, theirs.value());
    if (!mismatch.empty()) {
      base::Log(0, "peer: refused %s: %s", theirs.value().name.c_str(), mismatch.c_str());
      return RefusePeer(mismatch);
    }
    if (context_->lease != nullptr &&
        !context_->lease->Current(theirs.value().name, theirs.value().incarnation)) {
      base::Log(0, "peer: refused %s: incarnation %lld is older than this node's ring has",
                theirs.value().name.c_str(), static_cast<long long>(theirs.value().incarnation));
      return RefusePeer("an older incarnation of " + theirs.value().name);
    }
    if (theirs.value().clock != 0 && !auth->versions->Admit(theirs.value().clock)) {
      base::Log(0, "peer: refused %s: its clock is more than --max-clock-skew-ms ahead",
                theirs.value().name.c_str());
      return RefusePeer("clock ahead of " + mine.name + " by more than the skew bound");
    }
    mine.clock = auth->versions->Now();
    peer_ = std::make_unique<PeerState>();
    peer_->theirs = std::move(theirs).value();
    peer_->mine = std::move(mine);
    out_->Append(cluster::EncodeHelloReply(
        peer_->mine, cluster::PeerProof(auth->secrets.front(), cluster::PeerRole::kAcceptor,
                                        peer_->theirs, peer_->mine)));
    return;
  }
  // rc_auth proof=<hex>
  if (peer_ == nullptr || peer_->authenticated) return RefusePeer("rc_auth out of turn");
  if (req.ntokens != 2 || req.tokens[1].substr(0, 6) != "proof=" ||
      !cluster::CheckPeerProof(auth->secrets, cluster::PeerRole::kOpener, peer_->theirs,
                               peer_->mine, req.tokens[1].substr(6))) {
    base::Log(0, "peer: refused %s: wrong proof (not this cluster's secret)",
              peer_->theirs.name.c_str());
    return RefusePeer("wrong proof");
  }
  peer_->authenticated = true;
  peer_->views_checked = context_->lease != nullptr ? context_->lease->views_seen() : 0;
  record_->peer.store(true, std::memory_order_relaxed);
  context_->admin->PeerLinked();
  base::Log(1, "peer: %s linked (incarnation %lld)", peer_->theirs.name.c_str(),
            static_cast<long long>(peer_->theirs.incarnation));
  out_->Append("RC_OK\r\n");
}

bool Session::CurrentPeer() {
  const cluster::LeaseKeeper* lease = context_->lease;
  if (lease == nullptr) return true;
  const std::uint64_t seen = lease->views_seen();
  if (seen == peer_->views_checked) return true;
  peer_->views_checked = seen;
  if (lease->Current(peer_->theirs.name, peer_->theirs.incarnation)) return true;
  base::Log(0, "peer: closing %s's link of incarnation %lld: a newer one has registered",
            peer_->theirs.name.c_str(), static_cast<long long>(peer_->theirs.incarnation));
  RefusePeer("an older incarnation of " + peer_->theirs.name);
  return false;
}

}  // namespace rc::server
