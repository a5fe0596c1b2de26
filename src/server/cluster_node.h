// server/cluster_node.h -- the server's side of cluster membership (issue #5): this node's
// identity worked out from the settings and the bound listener, the control thread, and the
// cluster::Membership that runs on it. Exists only with --cluster; without it the server is the
// single node memcached is and none of this is created.
//
// Identity: the ring name is --advertise, or "<first -l address>:<bound port>" (the host name
// instead of a wildcard address; an IPv6 literal in brackets). The address stored in ZooKeeper
// (and returned by discovery) is the -l address when it names one interface, else the ring name's
// host, resolved once at start-up (DNS is allowed here: no worker runs yet).
//
// Threads: Join() and Leave() on the main thread; the membership on the control thread (DESIGN.md
// section 2); membership() and AddStats() from any thread.
//
// The node listens to the membership's events (cluster::MembershipListener) and counts them in
// `stats cluster`. It also keeps the local lease (cluster/lease.h) on the control thread: the
// engine's reads are fenced by it, peers ask it for grants, and it asks the peers itself
// (server/grant_asker.h) when ZooKeeper does not answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ringcached/base/status.h"
#include "ringcached/cluster/lease.h"
#include "ringcached/cluster/membership.h"
#include "ringcached/net/event_loop.h"
#include "ringcached/net/listener.h"
#include "ringcached/server/settings.h"
#include "server/grant_asker.h"
#include "server/peer_auth.h"
#include "server/stats.h"

namespace rc::server {

class ClusterNode final : private cluster::MembershipListener {
 public:
  // Starts the control thread and joins the cluster named by settings.cluster, blocking until
  // this node is registered and has its first ring. Fails when the ring name cannot be derived
  // or is taken by a live node (the message says what to change). While ZooKeeper is
  // unreachable this retries with backoff, logging each attempt, and does not return.
  static base::Result<std::unique_ptr<ClusterNode>> Join(const Settings& settings,
                                                         const net::Listener& listener);
  ~ClusterNode();  // Leave()

  // Leaves the cluster (this node's znode is deleted at once) and stops the control thread.
  // Idempotent.
  void Leave();

  const cluster::Membership& membership() const { return *membership_; }
  cluster::LeaseKeeper& lease() const { return *lease_; }
  // Starts keeping the lease, once the server is ready to serve: `wipe` empties the store when a
  // fenced node may serve again; the peers are asked for grants when ZooKeeper does not answer,
  // on links authenticated by `auth` (null without a cluster secret: plain connections). Once,
  // on the main thread.
  void StartLease(std::function<void()> wipe, const PeerAuth* auth);
  // `stats cluster`.
  void AddStats(StatSink& sink) const;

 private:
  ClusterNode() = default;

  // cluster::MembershipListener, on the control loop.
  void OnRegistered(std::int64_t incarnation) override;
  void OnViewAdopted(const std::shared_ptr<const cluster::ClusterView>& view) override;
  void OnSessionLost() override;
  void OnSessionExpired() override;

  // The events heard, for `stats cluster`.
  std::atomic<std::uint64_t> registrations_{0};
  std::atomic<std::uint64_t> views_adopted_{0};
  std::atomic<std::uint64_t> sessions_lost_{0};
  std::atomic<std::uint64_t> sessions_expired_{0};

  // Declared in this order so the membership goes first: it must not outlive its loop.
  std::unique_ptr<net::EventLoop> control_loop_;
  std::unique_ptr<cluster::Membership> membership_;
  // On the control loop, after the membership (it listens to it); gone once the loop stopped.
  std::unique_ptr<cluster::LeaseKeeper> lease_;
  std::unique_ptr<PeerGrantAsker> asker_;
  bool left_ = false;
};

}  // namespace rc::server
