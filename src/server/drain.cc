// server/drain.cc -- ClusterNode's drain (cluster_node.h, "Drain"; ../shared/REPLICATION.md
// section 6): a node asked to stop gracefully first moves its keys to their next holders.
//
// The phases, checked every 100 ms on the control loop:
//   marking    this node's znode says `leaving`; waiting for the view that says so (debounced
//              like any other) to be adopted here
//   pushing    the view is adopted: every node's ring leaves this one out, writes go to the union
//              of its keys' old and new holders, and the hand-off walks push each key to the
//              holders that lack it (this node pushes the keys it was the first holder of);
//              waiting until this node's walk has served the view and every push is answered
//   lingering  waiting until the view has been adopted for --handoff-drop-delay seconds, so that
//              clients polling `config get cluster` have moved off this node
//   done       the server deregisters the node and stops gracefully
// --drain-timeout bounds the whole: past it the phase is `timed_out` and the node leaves anyway.
#include <event2/event.h>

#include "ringcached/base/log.h"
#include "server/cluster_node.h"

namespace rc::server {

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
    drain_.timer = event_new(control_loop_->base(), -1, EV_PERSIST, &ClusterNode::OnDrainTimer, this);
    const timeval every{0, 100 * 1000};
    event_add(drain_.timer, &every);
  });
}

void ClusterNode::OnDrainTimer(evutil_socket_t, short, void* arg) noexcept {
  static_cast<ClusterNode*>(arg)->DrainStep();
}

void ClusterNode::DrainStep() {
  const auto now = std::chrono::steady_clock::now();
  drain_ms_.store(
      std::chrono::duration_cast<std::chrono::milliseconds>(now - drain_.started).count());
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  const cluster::Member* self =
      view != nullptr ? view->Find(membership_->options().self.name) : nullptr;
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
  event_free(drain_.timer);
  drain_.timer = nullptr;
  base::Log(0, phase == DrainPhase::kDone
                   ? "drain: done in %lld ms: every key handed over; leaving the cluster"
                   : "drain: timed out after %lld ms; leaving the cluster anyway",
            static_cast<long long>(drain_ms_.load()));
  drain_.done(phase == DrainPhase::kDone);
}

}  // namespace rc::server
