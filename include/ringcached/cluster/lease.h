// cluster/lease.h -- the local lease: whether this node may serve what its store holds
// (../shared/REPLICATION.md section 5, "Fencing"), and what it answers a peer that asks the same
// of it.
//
// A node that was away -- stopped, frozen, cut off -- long enough for ZooKeeper to expire its
// session has been dropped from everybody's ring meanwhile, and the writes to its keys went to
// other holders. Serving its store when it comes back would serve what changed while it was
// away. So a node serves only while it holds a lease:
//
//   * ZooKeeper renews it. The membership asks ZooKeeper about this node's own znode every
//     probe interval; an answer to a request sent at time s proves the session was alive at s, so
//     it could not expire before s + the session timeout T. The lease runs to s + 3T/4: it always
//     lapses before the session could have, whatever the node was doing meanwhile.
//   * The workers check it on every read (one atomic load and a coarse clock read: Open()),
//     so after a pause every thread knows at once, before it answers anything: a lapsed lease
//     turns every read into a miss.
//   * Peers renew it when ZooKeeper does not answer. Once no probe has been answered for two
//     intervals (counted by a running control loop: time spent stopped does not count), the node
//     asks every other member of its last ring for a grant: "I count you as a member for the next
//     L ms" (a member that is itself fenced answers "unknown"; one whose ring lacks the asker, or
//     has a newer incarnation of it, refuses). Grants from a majority of the last ring, counting
//     the node itself, renew the lease to the ask's time plus the shortest of those grants: a
//     ZooKeeper outage with every node healthy keeps the whole cache serving.
//   * A node is fenced when its session expired after its lease lapsed, when a peer refused it,
//     or when a round of asking ended without a majority after its lease lapsed. (A session that
//     expires while grants hold the lease -- a ZooKeeper-wide outage -- fences nobody: the node
//     registers again and keeps its store.) A fenced node serves nothing, accepts no
//     peer writes, and treats every key as one it does not hold (its writes go to the holders).
//     When ZooKeeper next answers -- a new registration after an expired session, or the same
//     session found alive -- the store is wiped (the `wipe` given to Start), and only then does
//     the lease open again. Only a fenced node is wiped.
//
// Two nodes alone cannot tell a ZooKeeper outage plus the other's death from a partition: the
// survivor has no majority (1 of 2) and is fenced until ZooKeeper answers. doc/replication.md
// says what a client with a static server list sees meanwhile.
//
// Threads: the keeper runs on the control loop (its timer, the membership's events, the asker's
// answers); Open(), fenced(), Judge(), Current() and Status() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/mutex.h"
#include "ringcached/cluster/membership.h"
#include "ringcached/engine/hooks.h"

struct event;

namespace rc::net {
class EventLoop;
}

namespace rc::cluster {

// What a member answers a node that asks it for a grant.
struct GrantReply {
  enum class Kind : std::uint8_t { kGrant, kRefuse, kUnknown };
  Kind kind = Kind::kUnknown;
  std::chrono::milliseconds length{0};  // kGrant: for how long, from when it was asked
};
std::string_view GrantKindName(GrantReply::Kind kind);  // "granted", "refused", "unknown"

// Asks the other members of a ring for grants; the server implements it over peer links.
class GrantAsker {
 public:
  virtual ~GrantAsker() = default;
  // Asks every member of `view` but `self` whether it counts `self` (under `incarnation`) a
  // member. `answer` is called once per member asked, on the control loop, never from inside
  // Ask: with its reply, or kUnknown when it did not answer within `timeout`.
  using AnswerFn = std::function<void(const std::string& member, GrantReply reply)>;
  virtual void Ask(const ClusterView& view, const std::string& self, std::int64_t incarnation,
                   std::chrono::milliseconds timeout, AnswerFn answer) = 0;
};

// A snapshot for `stats cluster` and `stats replication`.
struct LeaseStatus {
  std::string_view state;           // "held", "lapsed" or "fenced"
  std::int64_t left_ms = 0;         // until the lease lapses (0 once it has)
  std::int64_t length_ms = 0;       // what a renewal gives: 3/4 of the session timeout
  std::string fenced_reason;        // why it was last fenced ("" never)
  std::uint64_t fences = 0;         // times fenced
  std::uint64_t wipes = 0;          // stores wiped on leaving the fence
  std::uint64_t zk_renewals = 0;    // renewals by a ZooKeeper answer
  std::uint64_t grant_rounds = 0;   // rounds of asking the peers
  std::uint64_t grant_renewals = 0; // renewals by a majority of grants
  std::uint64_t grants_received = 0, refusals_received = 0, unknown_received = 0;
  std::uint64_t grants_given = 0, refusals_given = 0, unknown_given = 0;
};

class LeaseKeeper final : public MembershipListener, public engine::ReadFence {
 public:
  // `membership` and `loop` (the control loop the membership runs on) are not owned and must
  // outlive this object; the loop must be stopped before this object goes.
  // `clock` is the control loop's time (tests give their own); the workers' Open() always
  // reads NowMs().
  LeaseKeeper(ClusterMembership* membership, net::EventLoop* loop, std::string self,
              std::function<std::int64_t()> clock = &LeaseKeeper::NowMs);
  ~LeaseKeeper() override;
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Listens to the membership and starts the timer, on the loop (tests instead add the keeper as
  // a listener and call Tick themselves). Call once, after the node joined; until then the lease
  // is not held.
  void Start();
  // What empties the store, on the control loop, before a fenced node serves again. Before
  // Start.
  void set_wipe(std::function<void()> wipe) { wipe_ = std::move(wipe); }
  // Who asks the peers when ZooKeeper does not answer (none: a lapsed lease waits for
  // ZooKeeper). On the loop, or before Start.
  void set_asker(GrantAsker* asker) { asker_ = asker; }

  // ---- any thread ------------------------------------------------------------------------------
  // engine::ReadFence: whether the lease is held now.
  bool Open() const override { return NowMs() < deadline_ms_.load(std::memory_order_relaxed); }
  bool OpenAt(std::int64_t now_ms) const {
    return now_ms < deadline_ms_.load(std::memory_order_relaxed);
  }
  bool fenced() const { return fenced_.load(std::memory_order_relaxed); }
  // What this node answers `asker` asking for a grant under `incarnation`.
  GrantReply Judge(std::string_view asker, std::int64_t incarnation);
  // Whether messages from `name` under `incarnation` are current: false when this node's ring
  // has a newer incarnation of that name (REPLICATION.md section 5: refused).
  bool Current(std::string_view name, std::int64_t incarnation) const;
  // Changes each time a view is adopted: a peer session re-checks Current() when it moved.
  std::uint64_t views_seen() const { return views_seen_.load(std::memory_order_relaxed); }
  LeaseStatus Status() const;

  // The clock of leases and probes: CLOCK_MONOTONIC_COARSE, in milliseconds (the same epoch as
  // std::chrono::steady_clock, which the membership's probe times use).
  static std::int64_t NowMs();

  // ---- the control loop (the timer calls Tick; tests call it with their own `now`) ------------
  void Tick(std::int64_t now_ms);
  // MembershipListener.
  void OnRegistered(std::int64_t incarnation) override;
  void OnViewAdopted(const std::shared_ptr<const ClusterView>& view) override;
  void OnSessionExpired() override;

 private:
  static void OnTimer(int, short, void* arg) noexcept;
  // The lease's length and the probe interval, from the negotiated session timeout.
  std::int64_t LengthMs() const;
  std::int64_t IntervalMs() const;
  void RenewTo(std::int64_t until_ms);
  void Fence(const std::string& why);
  // Leaves the fence (ZooKeeper answered): wipes the store, then opens the lease.
  void Lift(std::int64_t now_ms, const char* how);
  void AskPeers(std::int64_t now_ms);
  void OnGrantReply(std::uint64_t round, const std::string& member, GrantReply reply);

  ClusterMembership* const membership_;
  net::EventLoop* const loop_;
  const std::string self_;
  const std::function<std::int64_t()> clock_;
  std::function<void()> wipe_;
  GrantAsker* asker_ = nullptr;
  event* timer_ = nullptr;

  // What the workers read: the lease runs until deadline_ms_ (0 while fenced).
  std::atomic<std::int64_t> deadline_ms_{0};
  std::atomic<bool> fenced_{false};
  std::atomic<std::uint64_t> views_seen_{0};

  // ---- the control loop ------------------------------------------------------------------------
  std::int64_t incarnation_ = 0;
  std::int64_t answered_ = 0;      // the probe send time last turned into a renewal
  std::int64_t fenced_at_ = 0;     // when it was fenced
  std::int64_t last_tick_ = 0;
  std::int64_t quiet_from_ = 0;    // ZooKeeper's silence is counted from here (a pause resets it)
  bool registered_ = false;        // registered under incarnation_, not expired since
  // The round of asking under way.
  struct Round {
    std::uint64_t id = 0;
    std::int64_t asked_at = 0;
    std::size_t ring = 0;          // members of the ring asked about, this node included
    std::size_t waiting = 0;       // answers still to come
    std::vector<std::int64_t> grants;  // lengths granted, ms
  };
  Round round_;
  std::uint64_t next_round_ = 1;

  // ---- any thread, under mu_ -------------------------------------------------------------------
  mutable base::Mutex mu_;
  std::map<std::string, std::int64_t, std::less<>> incarnations_ RC_GUARDED_BY(mu_);
  LeaseStatus counts_ RC_GUARDED_BY(mu_);  // counters and the reason; state and times apart
  std::int64_t length_ms_ RC_GUARDED_BY(mu_) = 0;
};

}  // namespace rc::cluster
