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
// Member states (member_states.cc; ../shared/REPLICATION.md section 6). Warming: with
// replication every registration starts `warming`, and the node is up once each other member's
// hand-off walk has told it (rc_handoff_done) that it served the node's view -- or once
// --handoff-timeout passes. Drain: on SIGUSR1 or `shutdown graceful` the server asks the node to
// drain before the graceful stop. The node marks itself leaving (its znode's state: every node's
// view moves it off the key-holding ring, and `config get cluster` stops listing it), keeps
// serving while its hand-off walk pushes its keys to their next holders, and reports done once
// that walk has served the view it leaves in, every push is answered, and the view has been
// adopted for --handoff-drop-delay seconds (so that clients polling `config get cluster` have
// moved off it) -- or once --handoff-timeout passes. The server then deregisters it and stops
// gracefully.
//
// The node listens to the membership's events (cluster::MembershipListener) and counts them in
// `stats cluster`. It also keeps the local lease (cluster/lease.h) on the control thread: the
// engine's reads are fenced by it, peers ask it for grants, and it asks the peers itself
// (server/grant_asker.h) when ZooKeeper does not answer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ringcached/base/mutex.h"
#include "ringcached/base/status.h"
#include "ringcached/cluster/lease.h"
#include "ringcached/cluster/membership.h"
#include "ringcached/net/event_loop.h"
#include "ringcached/net/listener.h"
#include "ringcached/server/settings.h"
#include "server/admin.h"
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
  // With replication (a secret and --replicas above 1), the node registers warming.
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

  // Drains this node (above): `handed_off(version)` says whether the hand-off walk has served
  // ring version `version` and every push is answered (null without replication: nothing to
  // push). `done` runs on the control loop once drained (true) or timed out (false); the caller
  // posts its work elsewhere (Leave() may not run on the control loop). Once; any thread.
  void Drain(std::function<bool(std::int32_t version)> handed_off,
             std::chrono::milliseconds linger, std::chrono::milliseconds timeout,
             std::function<void(bool drained)> done);
  // Warming (above): starts the checks that move this node up, at most `timeout` after each
  // registration. Once, with replication; any thread.
  void StartWarming(std::chrono::milliseconds timeout);
  // A peer's rc_handoff_done (admin.h): counted, and for warming, remembered. Any thread.
  void HandoffServed(const HandoffReport& report);
  // What the peers' walks reported pushing to this node (`stats handoff`). Any thread.
  std::uint64_t keys_received() const { return keys_received_.load(); }
  std::uint64_t bytes_received() const { return bytes_received_.load(); }

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

  // Warming and drain, checked on one timer on the control loop (member_states.cc).
  event* states_timer_ = nullptr;
  void StartStateChecks();
  static void OnStatesTimer(evutil_socket_t, short, void* arg) noexcept;
  // Warming, on the control loop but the reports (any thread, under reports_mu_).
  void WarmStep(const cluster::ClusterView& view);
  bool warming_enabled_ = false;
  std::chrono::milliseconds warm_timeout_{0};
  std::chrono::steady_clock::time_point warm_since_;  // zero while not warming
  base::Mutex reports_mu_;
  std::map<std::string, std::int32_t, std::less<>> reports_ RC_GUARDED_BY(reports_mu_);
  std::int64_t reports_incarnation_ RC_GUARDED_BY(reports_mu_) = 0;
  std::atomic<std::uint64_t> keys_received_{0}, bytes_received_{0};
  std::atomic<std::int64_t> warm_ms_{0};  // how long the last warming took
  std::atomic<std::uint64_t> warm_timeouts_{0};
  // The drain, on the control loop; its phase is read by `stats cluster`.
  enum class DrainPhase : std::uint8_t { kNone, kMarking, kPushing, kLingering, kDone, kTimedOut };
  static std::string_view DrainPhaseName(DrainPhase phase);
  void DrainStep(const std::shared_ptr<const cluster::ClusterView>& view);
  struct DrainState {
    std::function<bool(std::int32_t)> handed_off;
    std::function<void(bool)> done;  // set while draining
    std::chrono::steady_clock::time_point started, deadline;
    std::chrono::milliseconds linger{0};
  };
  DrainState drain_;
  std::atomic<DrainPhase> drain_phase_{DrainPhase::kNone};
  std::atomic<std::int64_t> drain_ms_{0};  // how long the drain took (or has taken so far)
};

}  // namespace rc::server
