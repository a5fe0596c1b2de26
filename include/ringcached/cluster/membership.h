// cluster/membership.h -- this node's membership in a ZooKeeper-coordinated cluster, and the ring
// it derives from the live members (DESIGN.md sections 2-3, "Membership").
//
// ZooKeeper layout, under the --cluster path P:
//   P/members               its data is empty; its data version counts state changes
//   P/members/<ring name>   EPHEMERAL, one per live node; data = member JSON (member.h)
// The view version is the cversion of P/members (ZooKeeper bumps it on every child created or
// deleted) plus the data version of P/members, which a node bumps in the same transaction as it
// writes its own new state. Both only grow, so two nodes that read the same member list read the
// same version, and a join, a leave or a state change gives a new one.
//
// What a node does:
//   * Join: connect (an unreachable ZooKeeper is retried with backoff, each retry logged),
//     create the missing components of P/members, and create its own znode with a fresh
//     incarnation. A znode already holding the name is judged by its ephemeralOwner: this
//     session's or an earlier session's of this process, or a dead predecessor's (same address
//     and port, which this process has bound), is replaced; a live node's (another session, other
//     address or port) is a configuration error that stops start-up.
//   * Watch P/members (its children) and every member's data, and publish each new member list
//     as an immutable ClusterView, debounced:
//     a view is adopted once the list has been quiet for the debounce interval (at most five
//     intervals after the first change), so a burst of joins rebuilds the ring once. The first
//     view after joining is adopted at once.
//   * Probe: read its own znode every ProbeIntervalMs while connected. Each answer proves the
//     session alive when the probe was sent: the local lease (lease.h) is renewed from it.
//   * Faults: through a disconnect the node keeps its last view (whether it may serve is the
//     lease's question); when the session expires it opens a new one and registers again under a
//     new incarnation.
//   * Leave: closing the session deletes the znode at once, so the others see the node go
//     without waiting for the session timeout.
//
// Threads: the state machine runs on the control loop given to the constructor (DESIGN.md
// section 2: one control thread with its own event_base for ZooKeeper and ring changes).
// ZooKeeper's own threads only hand results over to that loop. view() and Status() may be called
// from any thread: the view is an immutable snapshot swapped whole (STYLE.md snippet 6).
//
// Consumers (replication, fencing, hand-off: ../shared/REPLICATION.md sections 4-6) see the
// membership through the ClusterMembership interface below: the view, the events as callbacks
// on the control loop, and the evidence the local lease (lease.h) is kept on. Membership implements it over ZooKeeper;
// t/unit/fakes/fake_membership.h implements it in memory for unit tests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/status.h"
#include "ringcached/cluster/member.h"
#include "ringcached/cluster/ring.h"

namespace rc::net {
class EventLoop;
}

namespace rc::cluster {

struct MembershipOptions {
  std::string zk_hosts;  // ClusterUrl::hosts
  std::string path;      // ClusterUrl::path
  Member self;           // name, address, port, weight; incarnation and state are set here
  RingProfile profile = RingProfile::kLibmemcached;
  std::chrono::milliseconds debounce{1000};
  std::chrono::milliseconds session_timeout{10000};  // asked for; the server may clamp it
  // Each registration (each new incarnation) starts `warming` rather than `up`: its keys are
  // handed to it first (REPLICATION.md section 6); the node says when it is up (SetSelfState).
  bool register_warming = false;
};

// The local lease's length and the membership's probe interval, from the negotiated session
// timeout (lease.h says why 3/4): four probes fit in a lease.
inline std::int64_t LeaseLengthMs(int session_timeout_ms) {
  return static_cast<std::int64_t>(session_timeout_ms) * 3 / 4;
}
inline std::int64_t ProbeIntervalMs(int session_timeout_ms) {
  return std::max<std::int64_t>(LeaseLengthMs(session_timeout_ms) / 4, 20);
}

// One adopted member list. Never changes once published.
//
// Its rings follow the members' states (../shared/REPLICATION.md section 6): `ring` is the one
// keys are held on, of the up and warming members. While a member is warming or leaving, the
// ring before that change -- of the up and leaving members, the one clients may still be on --
// is kept beside it: writes go to a key's holders on both, so that a client on either reads
// current data. A leaving member is on `before_ring` only, a warming one on `ring` only.
struct ClusterView {
  std::int32_t version = 0;     // the view version (above): `config get cluster` shows it
  std::vector<Member> members;  // up and warming, ordered by name (byte order): the ring's order
  Ring ring;                    // built from members, in the same order
  std::vector<Member> before_members;  // up and leaving, by name; empty when every member is up
  Ring before_ring;                    // built from before_members
  std::chrono::steady_clock::time_point adopted;  // when this node adopted the view

  // Whether a member is warming or leaving.
  bool changing() const { return !before_members.empty(); }
  // Every member, whatever its state, by name.
  std::vector<Member> everyone() const;
  // The member named `name` on either ring, or null.
  const Member* Find(std::string_view name) const;
};
// Fills `view`'s members and rings from every member (any state, ordered by name).
void SetViewMembers(ClusterView* view, std::vector<Member> everyone, RingProfile profile);

// Where this node stands with ZooKeeper. (Its place in the data plane is its MemberState.)
enum class NodeState : std::uint8_t {
  kUnregistered,  // not registered yet
  kUp,            // registered, session connected
  kDisconnected,  // registered, but the session is reconnecting: serving with the last view
  kRejoining,     // the session expired (or the znode vanished): registering again
  kConflict,      // re-registering failed: a live node of another session holds the name
  kLeft,          // Leave() was called
};
std::string_view NodeStateName(NodeState state);

// A consistent snapshot of everything `stats cluster` reports.
struct MembershipStatus {
  NodeState state = NodeState::kUnregistered;
  std::int64_t incarnation = 0;
  std::string session_state;       // "connected", "connecting", "expired", "closed"...
  std::int64_t session_id = 0;     // 0 while there is no session
  int session_timeout_ms = 0;      // negotiated with the server; 0 until connected
  std::uint64_t ring_changes = 0;  // views adopted since start
  std::uint64_t session_expirations = 0;
  std::uint64_t disconnects = 0;
  std::shared_ptr<const ClusterView> view;  // null until the first view
};

// Told of the membership's events, on the control loop, in the order they happen. Each must
// return quickly (queue work, never block the loop).
class MembershipListener {
 public:
  virtual ~MembershipListener() = default;
  // This node's znode is in place under `incarnation` (a new one after every lost session).
  virtual void OnRegistered(std::int64_t incarnation) { (void)incarnation; }
  // A new view is adopted: view() now returns it.
  virtual void OnViewAdopted(const std::shared_ptr<const ClusterView>& view) { (void)view; }
  // The connection to ZooKeeper was lost; the session may still live (the client reconnects).
  // Probes go unanswered from here, and the local lease runs down (lease.h).
  virtual void OnSessionLost() {}
  // This node's znode is gone -- its session expired, or the znode was deleted under a live
  // one -- and it registers again under a new incarnation.
  virtual void OnSessionExpired() {}
};

// What the cluster's consumers need of the membership.
class ClusterMembership {
 public:
  virtual ~ClusterMembership() = default;
  // The adopted view; null before the first. Any thread.
  virtual std::shared_ptr<const ClusterView> view() const = 0;
  virtual MembershipStatus Status() const = 0;  // any thread
  // Adds a listener (not owned; it must outlive this object). On the control loop, or before
  // the membership starts.
  virtual void AddListener(MembershipListener* listener) = 0;
  // The local lease's evidence (cluster/lease.h): the steady-clock millisecond at which the
  // newest request ZooKeeper answered for this node's session (a probe of its own znode, every
  // ProbeIntervalMs) was sent; 0 before the first. Any thread.
  virtual std::int64_t LastAnswerSentMs() const = 0;
  // Whether the newest member list read from ZooKeeper, before debouncing, has `name` (a peer
  // asking for a grant is refused as soon as this node has seen it gone). Any thread.
  virtual bool ListsMember(std::string_view name) const = 0;
  // Moves this node to `state` in the data plane (warming, up, leaving): its znode says so, and
  // the view version changes with it on every node. Asynchronous; any thread.
  virtual void SetSelfState(MemberState state) = 0;
};

class Membership final : public ClusterMembership {
 public:
  // `loop` runs the membership; it is not owned, must outlive this object, and must be stopped
  // (its thread joined) before this object is destroyed.
  Membership(MembershipOptions options, net::EventLoop* loop);
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  // Starts joining, asynchronously on the loop. Call once. Thread-safe.
  void Join();
  // Blocks until the node is registered and has adopted its first view (OK), or until joining
  // turned out to be impossible: another live node holds the name (a configuration error; the
  // message says which node and what to change). There is no time limit: an unreachable
  // ZooKeeper is retried with backoff for as long as it takes. Not from the loop's thread.
  base::Status WaitJoined();
  // Closes the session, which deletes this node's znode at once. Blocks until done (at most a
  // few seconds when ZooKeeper does not answer). Idempotent. Not from the loop's thread.
  void Leave();

  const MembershipOptions& options() const { return options_; }
  std::shared_ptr<const ClusterView> view() const override;
  MembershipStatus Status() const override;
  void AddListener(MembershipListener* listener) override;
  std::int64_t LastAnswerSentMs() const override;
  bool ListsMember(std::string_view name) const override;
  void SetSelfState(MemberState state) override;

 private:
  struct Impl;  // src/cluster/membership.cc; keeps ZooKeeper out of this header
  MembershipOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rc::cluster
