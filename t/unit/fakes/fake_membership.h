// t/unit/fakes/fake_membership.h -- a cluster::ClusterMembership kept in memory, for unit tests of
// the membership's consumers (replication, fencing, hand-off): the test adopts views, loses and
// expires sessions and registers incarnations, and the listeners hear each event at once, in
// order, on the test's thread (which stands in for the control loop).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
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
  std::int64_t LastAnswerSentMs() const override { return last_answer_sent_ms_; }
  // The raw member list is the adopted view's, unless the test says a member is gone from it.
  bool ListsMember(std::string_view name) const override {
    if (unlisted_ == name) return false;
    if (view_ == nullptr) return false;
    for (const cluster::Member& m : view_->members) {
      if (m.name == name) return true;
    }
    return false;
  }
  // Recorded; the test adopts the view that shows it (as ZooKeeper would deliver it).
  void SetSelfState(cluster::MemberState state) override { self_states.push_back(state); }
  std::vector<cluster::MemberState> self_states;  // every SetSelfState, in order

  // ---- what the test drives ---------------------------------------------------------------
  // Registers this node under `incarnation`: state up.
  void Register(std::int64_t incarnation) {
    status_.state = cluster::NodeState::kUp;
    status_.incarnation = incarnation;
    for (cluster::MembershipListener* l : listeners_) l->OnRegistered(incarnation);
  }
  // Adopts a view of `members` (in ring order) under `version`.
  std::shared_ptr<const cluster::ClusterView> Adopt(std::int32_t version,
                                                    std::vector<cluster::Member> members) {
    auto next = std::make_shared<cluster::ClusterView>();
    next->version = version;
    cluster::SetViewMembers(next.get(), std::move(members), profile_);
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
  // ZooKeeper answered a probe sent at `sent_ms` (the local lease's evidence).
  void AnswerProbe(std::int64_t sent_ms) { last_answer_sent_ms_ = sent_ms; }
  // The negotiated session timeout Status() reports (the lease is 3/4 of it).
  void SetSessionTimeout(int ms) { status_.session_timeout_ms = ms; }
  // The newest member list (before debouncing) has lost `name` ("" for none).
  void Unlist(std::string name) { unlisted_ = std::move(name); }

 private:
  cluster::RingProfile profile_;
  std::shared_ptr<const cluster::ClusterView> view_;
  cluster::MembershipStatus status_;
  std::int64_t last_answer_sent_ms_ = 0;
  std::string unlisted_;
  std::vector<cluster::MembershipListener*> listeners_;
};

}  // namespace rc::testing
