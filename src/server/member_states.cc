// server/member_states.cc -- ClusterNode's moves between member states (cluster_node.h;
// ../shared/REPLICATION.md section 6): warming -> up once a joiner's keys have arrived, and
// up -> leaving -> gone when a node drains. Both are checked on one timer, every 100 ms on the
// control loop.
//
// Warming (with replication). Every registration -- a joiner, or this node back under a new
// incarnation -- starts `warming` (MembershipOptions::register_warming): on the key-holding ring,
// receiving writes and hand-off, out of `config get cluster`. Each member's hand-off walk, once
// it has served a view, tells every warming member of it so (rc_handoff_done, on the same link
// as its pushes, so it arrives after them; HandoffServed here). The node is up once every other
// member has said so for the view it is on -- or once --handoff-timeout has passed (a member
// that cannot push, being fenced, would otherwise keep it out of the clients' list for good).
//
// Drain. The phases:
//   marking    this node's znode says `leaving`; waiting for the view that says so (debounced
//              like any other) to be adopted here
//   pushing    the view is adopted: every node's ring leaves this one out, writes go to the union
//              of its keys' old and new holders, and the hand-off walks push each key to the
//              holders that lack it (this node pushes the keys it was the first holder of);
//              waiting until this node's walk has served the view and every push is answered
//   lingering  waiting until the view has been adopted for --handoff-drop-delay seconds, so that
//              clients polling `config get cluster` have moved off this node
//   done       the server deregisters the node and stops gracefully
// --handoff-timeout bounds the whole: past it the phase is `timed_out` and the node leaves
// anyway.
#include <event2/event.h>

#include "ringcached/base/log.h"
#include "server/cluster_node.h"

namespace rc::server {
namespace {

constexpr timeval kCheckEvery{0, 100 * 1000};

std::int64_t Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

std::string_view ClusterNode::DrainPhaseName(DrainPhase phase) {
  switch (phase) {
    case DrainPhase::kNone: return "none";
    case DrainPhase::kMarking: return "marking";
    case DrainPhase::kPushing: return "pushing";
    case DrainPhase::kLingering: return "lingering";
    case DrainPhase::kDone: return "done";
    case DrainPhase::kTimedOut: return "timed_out";
  }
  return "none";
}

void ClusterNode::StartStateChecks() {
  if (states_timer_ != nullptr) return;
  states_timer_ =
      event_new(control_loop_->base(), -1, EV_PERSIST, &ClusterNode::OnStatesTimer, this);
  event_add(states_timer_, &kCheckEvery);
}

void ClusterNode::OnStatesTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* self = static_cast<ClusterNode*>(arg);
  std::shared_ptr<const cluster::ClusterView> view = self->membership_->view();
  if (view == nullptr) return;
  self->WarmStep(*view);
  if (self->drain_.done) self->DrainStep(view);
}

// ---- warming --------------------------------------------------------------------------------

void ClusterNode::StartWarming(std::chrono::milliseconds timeout) {
  control_loop_->RunInLoop([this, timeout] {
    warm_timeout_ = timeout;
    warming_enabled_ = true;
    StartStateChecks();
  });
}

void ClusterNode::HandoffServed(const HandoffReport& report) {
  keys_received_.fetch_add(report.keys);
  bytes_received_.fetch_add(report.bytes);
  base::MutexLock lock(reports_mu_);
  if (report.incarnation != reports_incarnation_) {
    if (report.incarnation < reports_incarnation_) return;  // for an earlier incarnation
    reports_.clear();
    reports_incarnation_ = report.incarnation;
  }
  std::int32_t& v = reports_[std::string(report.peer)];
  v = std::max(v, report.version);
}

void ClusterNode::WarmStep(const cluster::ClusterView& view) {
  if (!warming_enabled_) return;
  const cluster::Member* self = view.Find(membership_->options().self.name);
  if (self == nullptr || self->state != cluster::MemberState::kWarming) {
    warm_since_ = {};
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  const std::vector<cluster::Member> everyone = view.everyone();
  std::size_t waiting = 0;
  {
    base::MutexLock lock(reports_mu_);
    for (const cluster::Member& m : everyone) {
      if (m.name == self->name) continue;
      const auto it = reports_.find(m.name);
      const bool served = reports_incarnation_ == self->incarnation && it != reports_.end() &&
                          it->second >= view.version;
      waiting += served ? 0 : 1;
    }
  }
  if (warm_since_ == std::chrono::steady_clock::time_point{}) {
    warm_since_ = now;
    base::Log(1, "warming: waiting for the hand-off of %zu member(s) (ring version %d)",
              waiting, view.version);
  }
  const bool timed_out = now - warm_since_ >= warm_timeout_;
  if (waiting > 0 && !timed_out) return;
  warm_ms_.store(Ms(now - warm_since_));
  if (waiting > 0) {
    warm_timeouts_.fetch_add(1);
    base::Log(0, "warming: %zu member(s) did not hand over within --handoff-timeout; up anyway",
              waiting);
  } else {
    base::Log(1, "warming: every member handed over in %lld ms; up",
              static_cast<long long>(warm_ms_.load()));
  }
  membership_->SetSelfState(cluster::MemberState::kUp);  // again until adopted: a no-op
}

// ---- drain ----------------------------------------------------------------------------------

void ClusterNode::Drain(std::function<bool(std::int32_t)> handed_off,
                        std::chrono::milliseconds linger, std::chrono::milliseconds timeout,
                        std::function<void(bool)> done) {
  control_loop_->RunInLoop([this, handed_off = std::move(handed_off), linger, timeout,
                            done = std::move(done)]() mutable {
    if (drain_phase_.load() != DrainPhase::kNone) return;
    drain_.handed_off = std::move(handed_off);
    drain_.done = std::move(done);
    drain_.linger = linger;
    drain_.started = std::chrono::steady_clock::now();
    drain_.deadline = drain_.started + timeout;
    drain_phase_.store(DrainPhase::kMarking);
    base::Log(0, "drain: %s is leaving: handing its keys to their next holders (at most %lld s)",
              membership_->options().self.name.c_str(),
              static_cast<long long>(timeout.count() / 1000));
    membership_->SetSelfState(cluster::MemberState::kLeaving);
    StartStateChecks();
  });
}

void ClusterNode::DrainStep(const std::shared_ptr<const cluster::ClusterView>& view) {
  const auto now = std::chrono::steady_clock::now();
  drain_ms_.store(Ms(now - drain_.started));
  const cluster::Member* self = view->Find(membership_->options().self.name);
  DrainPhase phase = DrainPhase::kMarking;
  if (self != nullptr && self->state == cluster::MemberState::kLeaving) {
    phase = DrainPhase::kPushing;
    if (!drain_.handed_off || drain_.handed_off(view->version)) {
      phase = now - view->adopted >= drain_.linger ? DrainPhase::kDone : DrainPhase::kLingering;
    }
  }
  if (phase != DrainPhase::kDone && now >= drain_.deadline) phase = DrainPhase::kTimedOut;
  if (phase != drain_phase_.load()) {
    base::Log(1, "drain: %s", std::string(DrainPhaseName(phase)).c_str());
  }
  drain_phase_.store(phase);
  if (phase != DrainPhase::kDone && phase != DrainPhase::kTimedOut) return;
  base::Log(0, phase == DrainPhase::kDone
                   ? "drain: done in %lld ms: every key handed over; leaving the cluster"
                   : "drain: timed out after %lld ms; leaving the cluster anyway",
            static_cast<long long>(drain_ms_.load()));
  std::function<void(bool)> done = std::move(drain_.done);
  drain_.done = nullptr;  // once
  done(phase == DrainPhase::kDone);
}

}  // namespace rc::server
