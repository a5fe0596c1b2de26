// server/handoff.cc -- the Replicator's hand-off walk (replicator.h, "Hand-off";
// ../shared/REPLICATION.md section 6): when the view changes, each key whose holder list
// changed is pushed to its new holders.
//
// Worker 0's tick (every 100 ms) notices a new view and starts a walk of the store
// (Store::ScanStep: every item linked for the whole walk is met at least once, whatever the
// table and eviction do meanwhile). For each item and tombstone it meets it compares the key's
// holders in the view already served (`from`) with those of the newest view (`to`), members told
// apart by name and incarnation, so that a node back empty under the same name is a new holder:
//
//   * the key is pushed by the first of its old holders that is still a member, unchanged, in the
//     new view -- only if that is this node (so each copy goes once, not from every holder);
//   * it goes to each new holder that was not an old one, as the item is now (EncodeCopy: the
//     same peer write as a resync), applied there only if newer.
//
// When the walk has served a view, each member it pushed to, and each warming member (cluster_node.h,
// "Member states"), is told so: `rc_handoff_done <this node> <version> <their incarnation> <keys>
// <bytes>` (what this walk pushed to it), queued on the same links as the pushes, so it arrives
// after them. A node tells the warming members at its first view too (a new process has nothing
// to push).
//
// Dropping: once a walk has pushed for a view, every push is answered, and that view has been
// adopted for --handoff-drop-delay seconds (long enough for clients that poll `config get cluster`
// to have moved), a second walk unlinks what this node no longer holds (Store::Drop, only the version it
// met, no tombstone), so that its memory goes to the keys it does hold. A new view cancels it.
//
// The walk runs in slices on a timer of its own (every 5 ms while a walk is on): a slice stops
// after about a quarter of a millisecond, so that the requests of worker 0's connections never
// wait longer than that behind it, and spends at most --handoff-rate bytes a second (a budget per
// slice); it waits while a link has more than a quarter of its backlog bound waiting, so live
// writes are not crowded out. A view that changes during a walk starts it again, from `from`
// towards the newest view.
#include <algorithm>
#include <charconv>
#include <cstring>

#include "ringcached/base/log.h"
#include "ringcached/proto/client_codec.h"
#include "server/replicator.h"

namespace rc::server {
namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// How long a slice may hold worker 0: what a request of its connections may wait behind one.
constexpr auto kSliceTime = std::chrono::microseconds(250);

bool SameMember(const cluster::Member& a, const cluster::Member& b) {
  return a.name == b.name && a.incarnation == b.incarnation;
}

}  // namespace

void Replicator::OnWalkTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* w = static_cast<PerWorker*>(arg);
  Replicator* self = w->replicator;
  if (!self->walk_.active || !self->Serving()) return;  // the tick starts it again
  self->WalkSlice(*w);
  if (self->walk_.active) {
    const timeval tv{0, kWalkSliceEveryMs * 1000};
    evtimer_add(self->walk_.timer, &tv);
  }
}

void Replicator::HandOff() {
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr) return;
  if (walk_.from == nullptr) {
    walk_.from = view;  // the view this node started in: its holders have what it has
    handoff_from_.store(view->version, std::memory_order_relaxed);
    ReportServed(*workers_.front(), *view);  // a new process has nothing to push
    return;
  }
  if (walk_.dropping && view->version != walk_.from->version) {
    walk_.dropping = false;  // a new view: push for it first, drop afterwards
    walk_.active = false;
    handoff_dropping_.store(false, std::memory_order_relaxed);
  }
  const bool pushing = walk_.active && !walk_.dropping;
  if (view->version != (pushing ? walk_.to : walk_.from)->version) {
    if (!pushing) {
      handoff_started_.Add();
      handoff_started_ms_.store(NowMs(), std::memory_order_relaxed);
    }
    base::Log(1, "handoff: ring version %d -> %d: pushing the keys whose holders changed",
              walk_.from->version, view->version);
    walk_.to = view;
    walk_.scan = store::Store::Scan();
    walk_.active = true;  // what an interrupted walk pushed is told with the next one's
    handoff_active_.store(true, std::memory_order_relaxed);
    handoff_to_.store(view->version, std::memory_order_relaxed);
  } else if (!walk_.active && walk_.drop_due_ms != 0 && NowMs() >= walk_.drop_due_ms &&
             AllAnswered()) {
    // Dropped only once the pushes are acknowledged: the new holders have them.
    walk_.drop_due_ms = 0;
    walk_.dropping = true;
    walk_.active = true;
    walk_.scan = store::Store::Scan();
    handoff_dropping_.store(true, std::memory_order_relaxed);
  }
  // Slices run on the walk's own timer; the tick only makes sure one is armed.
  if (walk_.active && !evtimer_pending(walk_.timer, nullptr)) {
    const timeval tv{0, kWalkSliceEveryMs * 1000};
    evtimer_add(walk_.timer, &tv);
  }
}

void Replicator::WalkSlice(PerWorker& w) {
  if (walk_.dropping) return DropSlice();
  const cluster::ClusterView& from = *walk_.from;
  const cluster::ClusterView& to = *walk_.to;
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  constexpr std::size_t kSlotsPerStep = 128;
  // A slice's share of the rate, and at most a tenth of a second's worth saved up.
  walk_.credit = std::min(
      walk_.credit + static_cast<double>(handoff_rate_) * kWalkSliceEveryMs / 1000,
      static_cast<double>(handoff_rate_) / 10);
  const auto slice_end = std::chrono::steady_clock::now() + kSliceTime;
  struct Push {
    Copy copy;
    std::uint32_t targets[8];
    std::size_t ntargets = 0;
  };
  std::vector<Push> pushes;
  std::string bytes;
  while (walk_.credit > 0 && !walk_.scan.done()) {
    {
      base::MutexLock lock(w.mu);
      const bool busy = std::any_of(w.links.begin(), w.links.end(), [](const auto& kv) {
        return kv.second->pending_bytes() > PeerLink::kMaxBacklog / 4;
      });
      if (busy) return;  // the links catch up first
    }
    pushes.clear();
    store_->ScanStep(&walk_.scan, kSlotsPerStep, [&](const store::ItemInfo& info) {
      std::uint32_t old_holders[8], new_holders[8];
      const std::size_t nold = from.ring.Holders(info.key, n, old_holders);
      const std::size_t nnew = to.ring.Holders(info.key, n, new_holders);
      // Still a member: on the new ring, or leaving it (a draining node pushes its own keys).
      auto in_new = [&](const cluster::Member& m) {
        const cluster::Member* x = to.Find(m.name);
        return x != nullptr && SameMember(*x, m);
      };
      // The pusher: the first old holder still a member, unchanged.
      const cluster::Member* pusher = nullptr;
      for (std::size_t i = 0; i < nold && pusher == nullptr; ++i) {
        if (in_new(from.members[old_holders[i]])) pusher = &from.members[old_holders[i]];
      }
      if (pusher == nullptr || pusher->name != self_) return;
      Push p;
      for (std::size_t i = 0; i < nnew; ++i) {
        const cluster::Member& m = to.members[new_holders[i]];
        if (m.name == self_) continue;
        const bool old = std::any_of(old_holders, old_holders + nold, [&](std::uint32_t h) {
          return SameMember(from.members[h], m);
        });
        if (!old) p.targets[p.ntargets++] = new_holders[i];
      }
      if (p.ntargets == 0) return;
      p.copy = {std::string(info.key), info.tombstone, info.cas};
      pushes.push_back(std::move(p));
    });
    for (const Push& p : pushes) {
      PeerLink::Kind kind;
      if (!EncodeCopy(p.copy, &bytes, &kind)) continue;  // gone since
      for (std::size_t i = 0; i < p.ntargets; ++i) {
        const cluster::Member& target = to.members[p.targets[i]];
        LinkTo(w, target)->Queue(bytes, 0, kind);
        walk_.credit -= static_cast<double>(bytes.size());
        handoff_bytes_.Add(bytes.size());
        HandoffWalk::Sent& sent = walk_.sent_to[target.name];
        sent.keys += 1;
        sent.bytes += bytes.size();
      }
      handoff_keys_.Add();
    }
    if (std::chrono::steady_clock::now() >= slice_end) break;
  }
  if (!walk_.scan.done()) return;
  base::Log(1, "handoff: ring version %d served: %llu keys pushed in all so far", to.version,
            static_cast<unsigned long long>(handoff_keys_.Get()));
  walk_.from = walk_.to;
  walk_.to = nullptr;
  walk_.active = false;
  walk_.drop_due_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(walk_.from->adopted.time_since_epoch())
          .count() +
      drop_delay_ms_;
  handoff_finished_.Add();
  handoff_finished_ms_.store(NowMs(), std::memory_order_relaxed);
  handoff_from_.store(walk_.from->version, std::memory_order_relaxed);
  handoff_active_.store(false, std::memory_order_relaxed);
  ReportServed(w, *walk_.from);
}

void Replicator::ReportServed(PerWorker& w, const cluster::ClusterView& view) {
  for (const cluster::Member& m : view.members) {
    const auto sent = walk_.sent_to.find(m.name);
    if (m.name == self_ ||
        (m.state != cluster::MemberState::kWarming && sent == walk_.sent_to.end())) {
      continue;
    }
    const HandoffWalk::Sent counts =
        sent != walk_.sent_to.end() ? sent->second : HandoffWalk::Sent{};
    LinkTo(w, m)->Queue("rc_handoff_done " + self_ + " " + std::to_string(view.version) + " " +
                        std::to_string(m.incarnation) + " " + std::to_string(counts.keys) + " " +
                        std::to_string(counts.bytes) + "\r\n");
  }
  walk_.sent_to.clear();
}

void Replicator::DropSlice() {
  const cluster::ClusterView& view = *walk_.from;
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  const auto self = std::find_if(view.members.begin(), view.members.end(),
                                 [&](const cluster::Member& m) { return m.name == self_; });
  const auto slice_end = std::chrono::steady_clock::now() + kSliceTime;
  std::vector<Copy> gone;
  while (self != view.members.end() && !walk_.scan.done()) {
    gone.clear();
    const auto index = static_cast<std::uint32_t>(self - view.members.begin());
    store_->ScanStep(&walk_.scan, 128, [&](const store::ItemInfo& info) {
      std::uint32_t holders[8];
      const std::size_t count = view.ring.Holders(info.key, n, holders);
      if (std::find(holders, holders + count, index) == holders + count) {
        gone.push_back({std::string(info.key), info.tombstone, info.cas});
      }
    });
    for (const Copy& c : gone) {
      if (store_->Drop(c.key, c.version)) handoff_dropped_.Add();
    }
    if (std::chrono::steady_clock::now() >= slice_end) return;
  }
  base::Log(1, "handoff: dropped what ring version %d gives other nodes (%llu keys in all so far)",
            view.version, static_cast<unsigned long long>(handoff_dropped_.Get()));
  walk_.dropping = false;
  walk_.active = false;
  handoff_dropping_.store(false, std::memory_order_relaxed);
}

bool Replicator::HandedOff(std::int32_t version) const {
  return !handoff_active_.load(std::memory_order_relaxed) &&
         handoff_from_.load(std::memory_order_relaxed) >= version && AllAnswered();
}

bool Replicator::AllAnswered() const {
  for (const auto& w : workers_) {
    base::MutexLock lock(w->mu);
    for (const auto& [name, link] : w->links) {
      if (link->unanswered_seen() != 0) return false;
    }
  }
  return true;
}

Replicator::Pending Replicator::PendingOnLinks() const {
  Pending p;
  for (const auto& w : workers_) {
    base::MutexLock lock(w->mu);
    for (const auto& [name, link] : w->links) {
      p.bytes += link->pending_bytes_seen();
      p.messages += link->unanswered_seen();
    }
  }
  return p;
}

// ---- a warming node's misses ------------------------------------------------------------------

const cluster::Member* Replicator::PreviousHolder(const cluster::ClusterView& view,
                                                  std::string_view key) const {
  // Only while this node is warming (a change under way, and it is on the new ring only), and
  // serving: a fenced node trusts neither its store nor its view of who held what.
  if (!view.changing() || view.before_members.empty() || !Serving()) return nullptr;
  const cluster::Member* me = view.Find(self_);
  if (me == nullptr || me->state != cluster::MemberState::kWarming) return nullptr;
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  std::uint32_t holders[8];
  const std::size_t count = view.ring.Holders(key, n, holders);
  const bool held = std::any_of(holders, holders + count,
                                [&](std::uint32_t h) { return view.members[h].name == self_; });
  if (!held) return nullptr;
  std::uint32_t previous;
  if (view.before_ring.Holders(key, 1, &previous) != 1) return nullptr;
  const cluster::Member& m = view.before_members[previous];
  return m.name == self_ ? nullptr : &m;
}

bool Replicator::Wants(std::string_view key) const {
  if (origin_ != nullptr && origin_->Wants(key)) return true;
  // The view as adopted, not as a tick last saw it: a joiner's clients may read from it at
  // once. (One atomic load per miss; PreviousHolder returns at once while no member changes.)
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  return view != nullptr && PreviousHolder(*view, key) != nullptr;
}

void Replicator::Load(std::string_view key, std::function<void(store::ItemRef)> done) {
  // What the previous holder does not have goes to the origin, if there is one.
  auto or_origin = [this, key = std::string(key), done = std::move(done)](store::ItemRef item) {
    if (!item && origin_ != nullptr && origin_->Wants(key)) return origin_->Load(key, done);
    done(std::move(item));
  };
  PerWorker* w = Current();
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  const cluster::Member* previous =
      w != nullptr && view != nullptr ? PreviousHolder(*view, key) : nullptr;
  if (previous == nullptr) {
    // Never inside Load(): on the caller's loop (MissLoader's contract: it has one).
    net::EventLoop::Current()->RunInLoop([or_origin] { or_origin(store::ItemRef()); });
    return;
  }
  // One answer: the reply, or the timeout, whichever comes first. The fetch keeps itself alive
  // until then (the timer only points at it).
  struct Fetch {
    std::function<void(store::ItemRef)> done;
    event* timer = nullptr;
    bool finished = false;
    std::shared_ptr<Fetch> self;
    void Finish(store::ItemRef item) {
      if (finished) return;
      finished = true;
      event_free(timer);
      timer = nullptr;
      std::shared_ptr<Fetch> keep = std::move(self);
      done(std::move(item));
    }
  };
  auto fetch = std::make_shared<Fetch>();
  fetch->self = fetch;
  fetch->done = std::move(or_origin);
  fetch->timer = evtimer_new(
      w->slot.loop->base(),
      [](evutil_socket_t, short, void* arg) noexcept {
        static_cast<Fetch*>(arg)->Finish(store::ItemRef());
      },
      fetch.get());
  const timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  evtimer_add(fetch->timer, &tv);
  warm_fetches_.Add();
  const bool sent = LinkTo(*w, *previous)
                        ->Forward(GetLine(key, "v f t c"),
                                  [this, fetch, key = std::string(key)](const std::string* reply) {
                                    fetch->Finish(reply != nullptr ? StoreFetched(key, *reply)
                                                                   : store::ItemRef());
                                  });
  if (!sent) w->slot.loop->RunInLoop([fetch] { fetch->Finish(store::ItemRef()); });
}

store::ItemRef Replicator::StoreFetched(std::string_view key, const std::string& reply) {
  proto::client::MetaReply r;
  if (proto::client::ParseMetaReply(reply, &r) != proto::client::ReplyStatus::kOk ||
      r.code != "VA") {
    return store::ItemRef();
  }
  auto number = [&r](char flag, auto* out) {
    const std::optional<std::string_view> token = r.Flag(flag);
    return token.has_value() &&
           std::from_chars(token->data(), token->data() + token->size(), *out).ptr ==
               token->data() + token->size();
  };
  std::uint32_t flags = 0;
  long long ttl = -1;
  std::uint64_t version = 0;
  if (!number('f', &flags) || !number('t', &ttl) || !number('c', &version)) {
    return store::ItemRef();
  }
  const base::RelTime exptime =
      ttl < 0 ? 0 : clock_->Now() + static_cast<base::RelTime>(std::max(ttl, 1LL));
  store::Allocation alloc =
      store_->Allocate(key, flags, exptime, static_cast<std::uint32_t>(r.value.size()));
  if (!alloc.item) return store::ItemRef();
  if (!r.value.empty()) std::memcpy(alloc.item.writable_value(), r.value.data(), r.value.size());
  if (store_->Put(&alloc.item, store::Mode::kSet, 0,
                  store::PutOptions{.version = version, .if_newer = true}) ==
      store::Outcome::kStored) {
    warm_fetched_.Add();
    return std::move(alloc.item);
  }
  // Something newer is here already (a write that came meanwhile): that is the answer.
  return std::move(store_->Get(key).item);
}

Replicator::HandoffRow Replicator::Handoff() const {
  HandoffRow r;
  r.scanning = handoff_active_.load(std::memory_order_relaxed);
  r.dropping = handoff_dropping_.load(std::memory_order_relaxed);
  r.keys_dropped = handoff_dropped_.Get();
  r.from_version = handoff_from_.load(std::memory_order_relaxed);
  r.to_version = r.scanning ? handoff_to_.load(std::memory_order_relaxed) : r.from_version;
  r.scans_started = handoff_started_.Get();
  r.scans_finished = handoff_finished_.Get();
  r.keys_sent = handoff_keys_.Get();
  r.bytes_sent = handoff_bytes_.Get();
  r.last_started_ms = handoff_started_ms_.load(std::memory_order_relaxed);
  r.last_finished_ms = handoff_finished_ms_.load(std::memory_order_relaxed);
  r.warm_fetches = warm_fetches_.Get();
  r.warm_fetched = warm_fetched_.Get();
  return r;
}

}  // namespace rc::server
