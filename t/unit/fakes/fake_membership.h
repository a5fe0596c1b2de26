// t/unit/fakes/fake_membership.h -- a cluster::ClusterMembership kept in memory, for unit tests of
// the membership's consumers (replication, fencing, hand-off): the test adopts views, loses and
// expires sessions and registers incarnations, and the listeners hear each event at once, in
// order, on the test's thread (which stands in for the control loop).
#pragma once

#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "ringcached/cluster/membership.h"

namespace rc::testing {

class FakeMembership final : public cluster::ClusterMembership {
 public:
  explicit FakeMembership(cluster::RingProfile profile = cluster::RingProfile::kLibmemcached)
      : profile_(profile) {}

  // ---- cluster::ClusterMembership ---------------------------------------------------------
  std::shared_ptr<const cluster::ClusterView> view() const override { return view_; }
  cluster::MembershipStatus Status() const override {
    cluster::MembershipStatus s = status_;
    s.view = view_;
    return s;
  }
  void AddListener(cluster::MembershipListener* listener) override {
    listeners_.push_back(listener);
  }
  std::chrono::milliseconds LeaseAge() const override { return lease_age_; }
  // Recorded; the test adopts the view that shows it (as ZooKeeper would deliver it).
  void SetSelfState(cluster::MemberState state) override { self_states.push_back(state); }
  std::vector<cluster::MemberState> self_states;  // every SetSelfState, in order

  // ---- what the test drives ---------------------------------------------------------------
  // Registers this node under `incarnation`: state up, lease fresh.
  void Register(std::int64_t incarnation) {
    status_.state = cluster::NodeState::kUp;
    status_.incarnation = incarnation;
    lease_age_ = std::chrono::milliseconds(0);
    for (cluster::MembershipListener* l : listeners_) l->OnRegistered(incarnation);
  }
  // Adopts a view of `members` (in ring order) under `version`.
  std::shared_ptr<const cluster::ClusterView> Adopt(std::int32_t version,
                                                    std::vector<cluster::Member> members) {
    auto next = std::make_shared<cluster::ClusterView>();
    next->version = version;
    std::vector<cluster::RingMember> ring;
    for (const cluster::Member& m : members) ring.push_back({m.name, m.weight});
    next->ring = cluster::Ring(std::move(ring), profile_);
    next->members = std::move(members);
    next->adopted = std::chrono::steady_clock::now();
    view_ = next;
    ++status_.ring_changes;
    for (cluster::MembershipListener* l : listeners_) l->OnViewAdopted(view_);
    return view_;
  }
  void LoseSession() {
    status_.state = cluster::NodeState::kDisconnected;
    ++status_.disconnects;
    for (cluster::MembershipListener* l : listeners_) l->OnSessionLost();
  }
  void ExpireSession() {
    status_.state = cluster::NodeState::kRejoining;
    ++status_.session_expirations;
    for (cluster::MembershipListener* l : listeners_) l->OnSessionExpired();
  }
  // How long since ZooKeeper answered, as the test wants the lease to read.
  void SetLeaseAge(std::chrono::milliseconds age) { lease_age_ = age; }

 private:
  cluster::RingProfile profile_;
  std::shared_ptr<const cluster::ClusterView> view_;
  cluster::MembershipStatus status_;
  std::chrono::milliseconds lease_age_{0};
  std::vector<cluster::MembershipListener*> listeners_;
};

}  // namespace rc::testing
