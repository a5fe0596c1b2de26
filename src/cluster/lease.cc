// cluster/lease.cc -- see lease.h. The keeper's decisions, all on the control loop:
//
//   Tick (every half probe interval)
//     the loop did not run for two intervals (a pause) -> ZooKeeper's silence counts from now
//     a newer probe answered -> held: renew to its send time + L; fenced: wipe, then open
//     ZooKeeper silent for two intervals, not fenced -> a round of asking the peers
//   a round's answers: a refusal -> fenced; a majority of grants -> renewed; the round over,
//     no majority and the lease lapsed -> fenced
//   OnSessionExpired -> fenced, unless grants hold the lease;  OnRegistered -> (fenced: wipe,
//     then) open
#include "ringcached/cluster/lease.h"

#include <event2/event.h>
#include <time.h>

#include <algorithm>
#include <functional>

#include "ringcached/base/check.h"
#include "ringcached/base/log.h"
#include "ringcached/net/event_loop.h"

namespace rc::cluster {

std::string_view GrantKindName(GrantReply::Kind kind) {
  switch (kind) {
    case GrantReply::Kind::kGrant: return "granted";
    case GrantReply::Kind::kRefuse: return "refused";
    case GrantReply::Kind::kUnknown: return "unknown";
  }
  return "unknown";
}

std::int64_t LeaseKeeper::NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

LeaseKeeper::LeaseKeeper(ClusterMembership* membership, net::EventLoop* loop, std::string self,
                         std::function<std::int64_t()> clock)
    : membership_(membership), loop_(loop), self_(std::move(self)), clock_(std::move(clock)) {}

LeaseKeeper::~LeaseKeeper() {
  if (timer_ != nullptr) event_free(timer_);
}

void LeaseKeeper::Start() {
  loop_->RunInLoop([this] {
    membership_->AddListener(this);  // on the loop: the membership is running
    timer_ = event_new(loop_->base(), -1, 0, &LeaseKeeper::OnTimer, this);
    RC_CHECK(timer_ != nullptr);
    // Joined already (the server starts the keeper once registered): the lease starts held.
    const MembershipStatus st = membership_->Status();
    if (st.state == NodeState::kUp && !registered_) OnRegistered(st.incarnation);
    if (st.view != nullptr) OnViewAdopted(st.view);
    OnTimer(-1, 0, this);
  });
}

void LeaseKeeper::OnTimer(int, short, void* arg) noexcept {
  auto* self = static_cast<LeaseKeeper*>(arg);
  self->Tick(self->clock_());
  const std::int64_t half = std::max<std::int64_t>(self->IntervalMs() / 2, 10);
  const timeval tv{static_cast<time_t>(half / 1000), static_cast<suseconds_t>(half % 1000 * 1000)};
  evtimer_add(self->timer_, &tv);
}

std::int64_t LeaseKeeper::LengthMs() const {
  return LeaseLengthMs(membership_->Status().session_timeout_ms);
}

std::int64_t LeaseKeeper::IntervalMs() const {
  return ProbeIntervalMs(membership_->Status().session_timeout_ms);
}

void LeaseKeeper::Tick(std::int64_t now) {
  const std::int64_t interval = IntervalMs();
  {
    base::MutexLock lock(mu_);
    length_ms_ = LengthMs();
  }
  // The loop did not run for a while (the process was stopped, the machine frozen): whatever
  // ZooKeeper did meanwhile, its silence is counted afresh, so that it gets the first word.
  if (last_tick_ != 0 && now - last_tick_ > 2 * interval) quiet_from_ = now;
  last_tick_ = now;
  const std::int64_t answered = membership_->LastAnswerSentMs();
  if (answered > answered_) {
    answered_ = answered;
    if (!registered_) {
      // An answer for a session this keeper has not heard registered: OnRegistered comes.
    } else if (fenced()) {
      // The same session, alive after all (a fence by a refusal or a failed round, then
      // ZooKeeper back): what was refused meanwhile is missing here, so the store goes.
      if (answered >= fenced_at_) Lift(now, "ZooKeeper answered again");
    } else {
      RenewTo(answered + LengthMs());
      base::MutexLock lock(mu_);
      ++counts_.zk_renewals;
    }
  }
  const std::int64_t silent_from = std::max(answered_, quiet_from_);
  if (incarnation_ != 0 && !fenced() && asker_ != nullptr && round_.waiting == 0 &&
      now - silent_from >= 2 * interval && now - round_.asked_at >= interval) {
    AskPeers(now);
  }
}

void LeaseKeeper::RenewTo(std::int64_t until) {
  if (fenced()) return;
  if (until > deadline_ms_.load(std::memory_order_relaxed)) {
    deadline_ms_.store(until, std::memory_order_relaxed);
  }
}

void LeaseKeeper::Fence(const std::string& why) {
  const bool again = fenced();
  deadline_ms_.store(0, std::memory_order_relaxed);
  fenced_.store(true, std::memory_order_relaxed);
  round_ = Round{};
  if (again) return;
  fenced_at_ = clock_();
  {
    base::MutexLock lock(mu_);
    ++counts_.fences;
    counts_.fenced_reason = why;
  }
  base::Log(0, "cluster: fenced (%s): serving no cached value and taking no peer writes until "
               "ZooKeeper answers; then the store is emptied", why.c_str());
}

void LeaseKeeper::Lift(std::int64_t now, const char* how) {
  // Emptied before it opens: not one read may see what the store held while fenced.
  if (wipe_) wipe_();
  fenced_.store(false, std::memory_order_relaxed);
  deadline_ms_.store(now + LengthMs(), std::memory_order_relaxed);
  quiet_from_ = now;
  {
    base::MutexLock lock(mu_);
    ++counts_.wipes;
  }
  base::Log(0, "cluster: %s; the store was emptied and the node serves again", how);
}

void LeaseKeeper::OnRegistered(std::int64_t incarnation) {
  incarnation_ = incarnation;
  registered_ = true;
  const std::int64_t now = clock_();
  answered_ = std::max(answered_, membership_->LastAnswerSentMs());
  if (fenced()) {
    Lift(now, "registered again under a new incarnation");
  } else {
    RenewTo(now + LengthMs());
    quiet_from_ = now;
  }
}

void LeaseKeeper::OnSessionExpired() {
  registered_ = false;
  // Held under its peers' grants through a ZooKeeper-wide outage, a majority counted this node
  // a member all along: its store is as current as theirs, and it registers again keeping it.
  if (OpenAt(clock_())) {
    base::Log(0, "cluster: the session expired while the peers' grants held the lease; the "
                 "store is kept");
    return;
  }
  Fence("this node's ZooKeeper session expired or its znode was deleted");
}

void LeaseKeeper::OnViewAdopted(const std::shared_ptr<const ClusterView>& view) {
  {
    base::MutexLock lock(mu_);
    for (const Member& m : view->everyone()) {
      auto it = incarnations_.find(m.name);
      if (it == incarnations_.end()) {
        incarnations_.emplace(m.name, m.incarnation);
      } else {
        it->second = std::max(it->second, m.incarnation);
      }
    }
  }
  views_seen_.fetch_add(1, std::memory_order_relaxed);
}

void LeaseKeeper::AskPeers(std::int64_t now) {
  std::shared_ptr<const ClusterView> view = membership_->view();
  if (view == nullptr) return;
  // Leaving members count: they hold sessions and answer for the view as any member does.
  const std::size_t members = view->everyone().size();
  if (view->Find(self_) == nullptr) return;  // not in its own view: nobody can vouch for it
  round_ = Round{};
  round_.id = next_round_++;
  round_.asked_at = now;
  round_.ring = members;
  round_.waiting = members - 1;
  {
    base::MutexLock lock(mu_);
    ++counts_.grant_rounds;
  }
  if (round_.waiting == 0) {
    // A ring of one: it is its own majority.
    RenewTo(now + LengthMs());
    return;
  }
  base::Log(1, "cluster: ZooKeeper has not answered for %lld ms; asking %zu peer(s) for grants",
            static_cast<long long>(now - std::max(answered_, quiet_from_)), round_.waiting);
  const std::uint64_t id = round_.id;
  asker_->Ask(*view, self_, incarnation_, std::chrono::milliseconds(IntervalMs()),
              [this, id](const std::string& asked, GrantReply reply) {
                OnGrantReply(id, asked, reply);
              });
}

void LeaseKeeper::OnGrantReply(std::uint64_t id, const std::string& member, GrantReply reply) {
  if (id != round_.id || round_.waiting == 0) return;  // a round that ended
  --round_.waiting;
  {
    base::MutexLock lock(mu_);
    switch (reply.kind) {
      case GrantReply::Kind::kGrant: ++counts_.grants_received; break;
      case GrantReply::Kind::kRefuse: ++counts_.refusals_received; break;
      case GrantReply::Kind::kUnknown: ++counts_.unknown_received; break;
    }
  }
  if (reply.kind == GrantReply::Kind::kRefuse) {
    // Its ring has dropped this node (or has a newer incarnation of it): ZooKeeper told it so.
    Fence("refused by " + member + ", whose ring no longer has this node");
    return;
  }
  // Votes for a majority of the ring, this node's own included.
  const std::size_t need = round_.ring / 2 + 1;
  if (reply.kind == GrantReply::Kind::kGrant) {
    round_.grants.push_back(reply.length.count());
    if (round_.grants.size() + 1 >= need) {
      // The lease runs as long as the shortest grant among the longest that make a majority.
      std::vector<std::int64_t> longest = round_.grants;
      std::sort(longest.begin(), longest.end(), std::greater<>());
      RenewTo(round_.asked_at + longest[need - 2]);
      if (round_.grants.size() + 1 == need) {
        base::MutexLock lock(mu_);
        ++counts_.grant_renewals;
      }
    }
  }
  if (round_.waiting == 0 && round_.grants.size() + 1 < need && !OpenAt(clock_())) {
    Fence("ZooKeeper silent and " + std::to_string(round_.grants.size() + 1) + " of " +
          std::to_string(round_.ring) + " ring members vouch for this node, not a majority");
  }
}

GrantReply LeaseKeeper::Judge(std::string_view asker, std::int64_t incarnation) {
  GrantReply reply;
  std::shared_ptr<const ClusterView> view = membership_->view();
  if (fenced() || view == nullptr) {
    reply.kind = GrantReply::Kind::kUnknown;
  } else {
    const Member* it = view->Find(asker);
    if (it == nullptr || it->incarnation > incarnation ||
        !membership_->ListsMember(asker)) {
      reply.kind = GrantReply::Kind::kRefuse;
    } else if (it->incarnation < incarnation) {
      reply.kind = GrantReply::Kind::kUnknown;  // it registered again; this ring is behind
    } else {
      reply.kind = GrantReply::Kind::kGrant;
      reply.length = std::chrono::milliseconds(LengthMs());
    }
  }
  base::MutexLock lock(mu_);
  switch (reply.kind) {
    case GrantReply::Kind::kGrant: ++counts_.grants_given; break;
    case GrantReply::Kind::kRefuse: ++counts_.refusals_given; break;
    case GrantReply::Kind::kUnknown: ++counts_.unknown_given; break;
  }
  return reply;
}

bool LeaseKeeper::Current(std::string_view name, std::int64_t incarnation) const {
  base::MutexLock lock(mu_);
  auto it = incarnations_.find(name);
  return it == incarnations_.end() || it->second <= incarnation;
}

LeaseStatus LeaseKeeper::Status() const {
  LeaseStatus st;
  {
    base::MutexLock lock(mu_);
    st = counts_;
    st.length_ms = length_ms_;
  }
  const std::int64_t now = clock_();
  const std::int64_t deadline = deadline_ms_.load(std::memory_order_relaxed);
  st.state = fenced() ? "fenced" : now < deadline ? "held" : "lapsed";
  st.left_ms = std::max<std::int64_t>(deadline - now, 0);
  return st;
}

}  // namespace rc::cluster
