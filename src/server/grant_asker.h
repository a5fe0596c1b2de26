// server/grant_asker.h -- PeerGrantAsker: the local lease's questions to the peers
// (cluster/lease.h, ../shared/REPLICATION.md section 5), asked over peer links of its own on the
// control loop.
//
// When ZooKeeper stops answering, the lease keeper asks every other member of its last ring
// whether it still counts this node a member. Each question is one peer-only command on an
// authenticated link (server/peer_commands.cc):
//
//   rc_lease <asker's ring name> <asker's incarnation>
//   RC_LEASE granted <ms> | RC_LEASE refused | RC_LEASE unknown
//
// sent as a forwarded request (PeerLink::Forward: its reply ends at an MN; with no cluster secret
// the link skips the handshake and the command is accepted unauthenticated), so a link that fails
// or a peer that does not answer within the round's timeout counts as "unknown". The links are
// the worker's kind (peer_link.h), kept per peer on the control loop and dropped with members
// that leave the ring; they carry nothing else.
//
// Thread-safety: on the control loop only.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "ringcached/cluster/lease.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/event_loop.h"
#include "server/peer_auth.h"
#include "server/peer_link.h"

namespace rc::server {

class PeerGrantAsker final : public cluster::GrantAsker {
 public:
  // `loop` (the control loop) and `auth` (null: a cluster without a secret, plain connections)
  // are not owned and must outlive this object, which must be destroyed on the loop's thread or
  // after it stopped.
  PeerGrantAsker(net::EventLoop* loop, const PeerAuth* auth);
  ~PeerGrantAsker() override;

  void Ask(const cluster::ClusterView& view, const std::string& self, std::int64_t incarnation,
           std::chrono::milliseconds timeout, AnswerFn answer) override;

  // The reply line's meaning (a malformed one: unknown).
  static cluster::GrantReply ParseReply(const std::string& reply);

 private:
  struct Question;
  static void OnTimeout(evutil_socket_t, short, void* arg) noexcept;
  PeerLink* LinkTo(const cluster::Member& peer);

  net::EventLoop* const loop_;
  const PeerAuth* const auth_;
  net::BufferPool pool_;
  std::unordered_map<std::string, std::unique_ptr<PeerLink>> links_;
  // Members whose link has not answered the last question put to it.
  std::unordered_set<std::string> unanswered_;
};

}  // namespace rc::server
