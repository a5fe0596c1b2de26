// server/replicator.cc -- see replicator.h.
#include "server/replicator.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "ringcached/base/hash.h"
#include "ringcached/proto/meta.h"

namespace rc::server {
namespace {

void AppendNumber(std::string* out, char flag, std::uint64_t n) {
  char buf[24];
  buf[0] = ' ';
  buf[1] = flag;
  const auto end = std::to_chars(buf + 2, buf + sizeof buf, n).ptr;
  out->append(buf, static_cast<std::size_t>(end - buf));
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Replicator::Replicator(const cluster::ClusterMembership* membership, const PeerAuth* auth,
                       std::string self, int replicas, store::Store* store,
                       const base::Clock* clock, std::vector<WorkerSlot> workers, bool sync,
                       int timeout_ms, int guest_ttl, const engine::ReadFence* lease,
                       std::int64_t handoff_rate, int drop_delay_s)
    : membership_(membership), auth_(auth), self_(std::move(self)), replicas_(replicas),
      store_(store), clock_(clock), sync_(sync), timeout_ms_(timeout_ms), guest_ttl_(guest_ttl),
      lease_(lease), handoff_rate_(handoff_rate),
      drop_delay_ms_(static_cast<std::int64_t>(drop_delay_s) * 1000) {
  for (const WorkerSlot& slot : workers) {
    workers_.push_back(std::make_unique<PerWorker>());
    workers_.back()->slot = slot;
    workers_.back()->replicator = this;
  }
  // Worker 0 ticks from the start: it watches the view for hand-off. (Its loop is not running
  // yet, so the timer can be added from here.)
  if (!workers_.empty()) {
    StartTick(*workers_.front());
    walk_.timer = evtimer_new(workers_.front()->slot.loop->base(), &Replicator::OnWalkTimer,
                              workers_.front().get());
  }
}

void Replicator::StartTick(PerWorker& w) {
  if (w.tick != nullptr) return;
  w.tick = event_new(w.slot.loop->base(), -1, EV_PERSIST, &Replicator::OnTick, &w);
  const timeval tv{0, kTickMs * 1000};
  evtimer_add(w.tick, &tv);
}

Replicator::PerWorker* Replicator::Current() {
  net::EventLoop* loop = net::EventLoop::Current();
  for (auto& w : workers_) {
    if (w->slot.loop == loop) return w.get();
  }
  return nullptr;  // not a worker (a test, the crawler): nothing to send from here
}

Replicator::~Replicator() {
  if (walk_.timer != nullptr) event_free(walk_.timer);
  for (auto& w : workers_) {
    if (w->tick != nullptr) event_free(w->tick);
    if (w->hint_timer != nullptr) event_free(w->hint_timer);
    for (auto& [ticket, p] : w->pending) {
      if (p->timer != nullptr) event_free(p->timer);
    }
    for (PerWorker::PendingMap::node_type& spare : w->spare_pending) {
      if (spare.mapped()->timer != nullptr) event_free(spare.mapped()->timer);
    }
  }
}

PeerLink* Replicator::LinkTo(PerWorker& w, const cluster::Member& peer) {
  base::MutexLock lock(w.mu);
  auto it = w.links.find(peer.name);
  if (it != w.links.end()) return it->second.get();
  PerWorker* worker = &w;
  StartTick(w);
  auto link = std::make_unique<PeerLink>(
      w.slot.loop, w.slot.pool, auth_, peer,
      [this, worker](std::uint64_t ticket, bool ok) { OnAck(*worker, ticket, ok); });
  PeerLink* raw = link.get();
  w.links.emplace(peer.name, std::move(link));
  return raw;
}

bool Replicator::Encode(const engine::WriteEvent& e, std::string* out,
                        std::uint64_t ttl_cap) const {
  using Kind = engine::WriteEvent::Kind;
  const char* command;
  switch (e.kind) {
    case Kind::kStore:
    case Kind::kFill:
    case Kind::kArithmetic: command = "ms"; break;
    case Kind::kDelete:
    case Kind::kInvalidate: command = "md"; break;
    case Kind::kTouch: command = "mg"; break;
    default: return false;  // kFlush: node-local
  }
  if (e.version == 0) return false;
  const bool plain = proto::IsPlainKey(e.key);
  out->append(command);
  out->push_back(' ');
  if (plain) {
    out->append(e.key);
  } else {
    char encoded[(proto::kMaxKeyLength + 2) / 3 * 4 + 4];
    out->append(encoded, proto::Base64Encode(e.key.data(), e.key.size(), encoded));
  }
  const base::RelTime now = clock_->Now();
  auto ttl_of = [now, ttl_cap](const store::ItemRef& item, std::uint64_t* ttl) {
    const base::RelTime exptime = item.exptime();
    if (exptime == 0) return *ttl = ttl_cap, true;
    if (exptime <= now) return false;  // expired already: nothing to send
    *ttl = exptime - now;
    if (ttl_cap != 0) *ttl = std::min<std::uint64_t>(*ttl, ttl_cap);
    return true;
  };
  std::uint64_t ttl = 0;
  const bool stored = e.kind == Kind::kStore || e.kind == Kind::kFill || e.kind == Kind::kArithmetic;
  switch (e.kind) {
    case Kind::kStore:
    case Kind::kFill:
    case Kind::kArithmetic: {
      if (e.item == nullptr || !*e.item || !ttl_of(*e.item, &ttl)) return false;
      const std::string_view value = e.item->value();
      out->push_back(' ');
      char len[16];
      out->append(len, static_cast<std::size_t>(std::to_chars(len, len + 16, value.size()).ptr -
                                                 len));
      if (e.item->flags() != 0) AppendNumber(out, 'F', e.item->flags());
      if (ttl != 0) AppendNumber(out, 'T', ttl);
      AppendNumber(out, 'E', e.version);
      break;
    }
    case Kind::kInvalidate:
      out->append(" I");
      [[fallthrough]];
    case Kind::kDelete:
      AppendNumber(out, 'E', e.version);
      break;
    case Kind::kTouch:
      if (e.item == nullptr || !*e.item || !ttl_of(*e.item, &ttl)) return false;
      AppendNumber(out, 'T', ttl);
      AppendNumber(out, 'C', e.version);
      AppendNumber(out, 'E', e.ttl_stamp);
      break;
    default:
      return false;
  }
  out->append(" Y");
  out->append(self_);
  if (!plain) out->append(" b");
  out->append("\r\n");
  if (stored) {
    out->append(e.item->value());
    out->append("\r\n");
  }
  return true;
}

bool Replicator::EncodeItem(std::string_view key, std::string* out,
                            std::uint64_t ttl_cap) const {
  store::ItemRef item = std::move(store_->Get(key, store::GetOptions{.bump = false}).item);
  if (!item) return false;  // gone
  return Encode({.kind = engine::WriteEvent::Kind::kStore, .key = key, .item = &item,
                 .version = item.version()},
                out, ttl_cap);
}

void Replicator::OnWrite(const engine::WriteEvent& event) {
  // flush_all is node-local (clients send it to every node); it has no key to place.
  if (replicas_ < 2 || event.kind == engine::WriteEvent::Kind::kFlush) return;
  if (event.from_peer) {
    // A peer's copy of a client's write made elsewhere (a non-holder, a failover): if this node
    // owns the key and it is hot, its copies follow (nobody waits for them).
    PerWorker* w = Current();
    if (w == nullptr || hot_ == nullptr || !Serving()) return;
    FollowHotList(*w);
    if (w->hot == nullptr || w->hot->keys.empty() || !w->hot->Contains(event.key)) return;
    if (std::shared_ptr<const cluster::ClusterView> view = membership_->view()) {
      SendToHotCopies(*w, *view, event, /*wait=*/false);
    }
    return;
  }
  PerWorker* w = Current();
  if (w == nullptr) {
    // Not a worker (the origin thread's fills): the write leaves from the worker its key hashes
    // to, encoded now (the item is valid only during this call). Nobody waits for it.
    std::string bytes;
    if (workers_.empty() || !Encode(event, &bytes)) return;
    PerWorker* to = workers_[base::HashKey(event.key) % workers_.size()].get();
    to->slot.loop->RunInLoop([this, to, key = std::string(event.key), bytes = std::move(bytes)] {
      std::string encoded = bytes;
      SendToHolders(*to, key, nullptr, &encoded, /*gated=*/false, PeerLink::Kind::kWrite,
                    Serving());
    });
    return;
  }
  const bool serving = Serving();
  FollowHotList(*w);
  const bool deleting = event.kind == engine::WriteEvent::Kind::kDelete ||
                        event.kind == engine::WriteEvent::Kind::kInvalidate;
  // A hot key's copies (hot_copies.cc): a delete's reply waits for every holder and copy.
  const bool hot = serving && w->hot != nullptr && !w->hot->keys.empty() &&
                   w->hot->Contains(event.key);
  w->encoded.clear();
  SendToHolders(*w, event.key, &event, &w->encoded, sync_ || !serving || (hot && deleting),
                deleting ? PeerLink::Kind::kDelete : PeerLink::Kind::kWrite, serving);
  if (w->encoded.capacity() > kMaxKeptEncoded) std::string().swap(w->encoded);  // a large value
  if (hot) {
    if (std::shared_ptr<const cluster::ClusterView> view = membership_->view()) {
      SendToHotCopies(*w, *view, event, /*wait=*/true);
    }
  }
  // The hints due by now go with the write: the peers wake for it anyway. (A slice on the timer
  // is a wake-up of its own for both nodes, and a synchronous write waits behind it.)
  if (w->hint_next < w->hint_queue.size()) {
    const std::size_t due = HintsDue(*w);
    if (due >= w->hint_next + kHintsWithAWrite) SendHints(*w, due - w->hint_next);
  }
}

void Replicator::SendToHolders(PerWorker& w, std::string_view key,
                               const engine::WriteEvent* event, std::string* bytes, bool gated,
                               PeerLink::Kind kind, bool serving) {
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr) return;
  if (view->version != w.view_version) DropLinksOutside(w, *view);
  if (view->members.size() < 2 && view->before_members.size() < 2) return;
  const std::size_t r = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  // The key's holders, and while a member warms or leaves, its holders on the ring before that
  // too (the union: clients on either ring read current data).
  const cluster::Member* targets[16];
  std::size_t ntargets = 0;
  bool holder = false;
  auto add_holders = [&](const cluster::Ring& ring, const std::vector<cluster::Member>& members) {
    std::uint32_t holders[8];
    const std::size_t n = ring.Holders(key, r, holders);
    for (std::size_t i = 0; i < n; ++i) {
      const cluster::Member& m = members[holders[i]];
      if (m.name == self_) {
        holder = serving;
      } else if (std::none_of(targets, targets + ntargets,
                              [&](const cluster::Member* t) { return t->name == m.name; })) {
        targets[ntargets++] = &m;
      }
    }
  };
  add_holders(view->ring, view->members);
  if (view->changing()) add_holders(view->before_ring, view->before_members);
  for (std::size_t i = 0; i < ntargets; ++i) {
    const cluster::Member& m = *targets[i];
    if (bytes->empty() && (event == nullptr || !Encode(*event, bytes))) return;
    std::uint64_t ticket = 0;
    // A leaving member's copy is sent, not waited for: it is about to go, and its going must
    // not fail the writes that were in flight to it.
    if (gated && m.state != cluster::MemberState::kLeaving) {
      // The request's writes share one ticket; each holder's answer counts towards it. A hot
      // key's delete in asynchronous mode waits for the holders without failing on them.
      if (!sync_ && serving) {
        ticket = LenientTicket(w);
        ++w.current->lenient_needed;
      } else {
        ticket = CurrentPending(w).ticket;
        ++w.current->needed;
      }
    }
    LinkTo(w, m)->Queue(*bytes, ticket, kind);
  }
  if (!holder && event != nullptr) {
    w.guest_writes.Add();
    KeepAsGuest(*event);
  }
}

void Replicator::KeepAsGuest(const engine::WriteEvent& event) {
  if (event.item == nullptr || !*event.item) return;
  const base::RelTime cap = clock_->Now() + static_cast<base::RelTime>(guest_ttl_);
  const base::RelTime exptime = event.item->exptime();
  // Only the value this write made, if still there: a later write is kept (or cut) by its own.
  // A shorter expiry of its own stays; either way the item is marked (and counted) a guest.
  store_->ApplyTtl(event.key, event.item->version(), store_->versions().Mint(),
                   exptime != 0 && exptime <= cap ? exptime : cap, /*guest=*/true);
}

bool Replicator::Holding() {
  PerWorker* w = Current();
  return w != nullptr && w->current != nullptr;
}

bool Replicator::Hold(Release release) {
  PerWorker* w = Current();
  if (w == nullptr || w->current == nullptr) return false;
  PerWorker::Pending* p = w->current;
  w->current = nullptr;
  p->release = std::move(release);
  // Settled already (a link failed on the spot): the timer fires at once, so `release` never
  // runs inside Hold().
  const bool settled =
      p->failed > 0 || (p->acked >= p->needed && p->lenient_answered >= p->lenient_needed);
  timeval tv{settled ? 0 : timeout_ms_ / 1000, settled ? 0 : (timeout_ms_ % 1000) * 1000};
  evtimer_add(p->timer, &tv);
  return true;
}

void Replicator::Forget() {
  PerWorker* w = Current();
  if (w == nullptr || w->current == nullptr) return;
  // Nobody waits for these (a datagram's writes): their answers are counted, not awaited.
  const std::uint64_t ticket = w->current->ticket;
  w->current = nullptr;
  Retire(*w, ticket);
}

Replicator::PerWorker::Pending& Replicator::CurrentPending(PerWorker& w) {
  if (w.current != nullptr) return *w.current;
  const std::uint64_t ticket = w.next_ticket++;
  if (w.spare_pending.empty()) {
    auto p = std::make_unique<PerWorker::Pending>();
    p->worker = &w;
    p->timer = evtimer_new(w.slot.loop->base(), &Replicator::OnTimeout, p.get());
    p->ticket = ticket;
    w.current = p.get();
    w.pending.emplace(ticket, std::move(p));
    return *w.current;
  }
  PerWorker::PendingMap::node_type node = std::move(w.spare_pending.back());
  w.spare_pending.pop_back();
  PerWorker::Pending& p = *node.mapped();
  event* timer = p.timer;
  p = PerWorker::Pending{.worker = &w, .ticket = ticket, .timer = timer};
  node.key() = ticket;
  w.current = &p;
  w.pending.insert(std::move(node));
  return p;
}

void Replicator::Retire(PerWorker& w, std::uint64_t ticket) {
  PerWorker::PendingMap::node_type node = w.pending.extract(ticket);
  if (node.empty()) return;
  PerWorker::Pending& p = *node.mapped();
  if (p.timer != nullptr) evtimer_del(p.timer);
  if (p.lenient != 0) w.lenient_tickets.erase(p.lenient);
  p.release = Release();
  if (w.spare_pending.size() < kMaxSparePending) {
    w.spare_pending.push_back(std::move(node));
  } else if (p.timer != nullptr) {
    event_free(p.timer);  // the node frees the rest
  }
}

std::uint64_t Replicator::LenientTicket(PerWorker& w) {
  CurrentPending(w);
  if (w.current->lenient == 0) {
    w.current->lenient = w.next_ticket++;
    w.lenient_tickets.emplace(w.current->lenient, w.current->ticket);
  }
  return w.current->lenient;
}

void Replicator::OnAck(PerWorker& w, std::uint64_t ticket, bool acknowledged) {
  bool lenient = false;
  if (auto l = w.lenient_tickets.find(ticket); l != w.lenient_tickets.end()) {
    ticket = l->second;
    lenient = true;
  }
  auto it = w.pending.find(ticket);
  if (it == w.pending.end()) return;  // settled already (timed out), or forgotten
  PerWorker::Pending* p = it->second.get();
  if (lenient) {
    ++p->lenient_answered;
    if (!acknowledged) hot_delete_failures_.Add();
  } else {
    (acknowledged ? p->acked : p->failed) += 1;
  }
  Settle(p, false);
}

void Replicator::OnTimeout(evutil_socket_t, short, void* arg) noexcept {
  auto* p = static_cast<PerWorker::Pending*>(arg);
  p->worker->replicator->Settle(p, true);
}

void Replicator::Settle(PerWorker::Pending* p, bool timed_out) {
  if (!p->release) return;  // not held yet: Hold() looks at it
  const bool all = p->acked >= p->needed;
  const bool copies = p->lenient_answered >= p->lenient_needed;
  if (!(all && copies) && !timed_out && p->failed == 0) return;  // still waiting
  if (timed_out && !copies) {
    hot_delete_failures_.Add(static_cast<std::uint64_t>(p->lenient_needed - p->lenient_answered));
  }
  const Release release = std::move(p->release);
  Retire(*p->worker, p->ticket);  // p is a spare now
  release(all);
}

Replicator::Route Replicator::Forward(std::string_view key,
                                     const std::function<std::string()>& request,
                                     AnswerFn answer) {
  PerWorker* w = Current();
  if (w == nullptr) return Route::kHere;
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr || (view->members.size() < 2 && !view->changing())) return Route::kHere;
  if (view->version != w->view_version) DropLinksOutside(*w, *view);
  // Not in its own view (joining, or between sessions): it has no better idea where keys live.
  // A leaving member holds nothing any more: its keys' owners answer.
  if (view->Find(self_) == nullptr) return Route::kHere;
  std::uint32_t holders[8];
  const std::size_t n = view->ring.Holders(
      key, std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8), holders);
  if (n == 0) return Route::kHere;
  const auto self = std::lower_bound(
      view->members.begin(), view->members.end(), self_,
      [](const cluster::Member& m, const std::string& name) { return m.name < name; });
  const auto index = static_cast<std::uint32_t>(self - view->members.begin());
  const bool holder = self != view->members.end() && self->name == self_ &&
                      std::find(holders, holders + n, index) != holders + n;
  std::uint32_t owner_index = holders[0];
  if (holder) {
    if (Serving()) return Route::kHere;
    // Not serving: the first holder that is not this node answers; with no other, nobody can.
    const auto other = std::find_if(holders, holders + n,
                                    [&](std::uint32_t h) { return h != index; });
    if (other == holders + n) return Route::kFailed;
    owner_index = *other;
  }
  PeerLink* owner = LinkTo(*w, view->members[owner_index]);
  if (!owner->Forward(request(), std::move(answer))) return Route::kFailed;
  // A guest copy here would now be older than the owner's value: it goes (expired, quietly: no
  // tombstone, nothing sent), so this node never serves the old one.
  store::ItemRef guest = std::move(store_->Get(key, store::GetOptions{.bump = false}).item);
  if (guest) {
    store_->ApplyTtl(key, guest.version(), store_->versions().Mint(), clock_->ToRelTime(-1));
  }
  return Route::kSent;
}

std::uint64_t Replicator::guest_writes() const {
  std::uint64_t n = 0;
  for (const auto& w : workers_) n += w->guest_writes.Get();
  return n;
}

void Replicator::HintSampler::OnRead(std::string_view key, std::size_t) {
  // Every read, not a sample of them: a key read once in a while on the owner must reach its
  // replicas before their eviction reaches its copy (bench/replication.py, failover: one read
  // in four sampled kept 0.984 of the hit ratio across a kill -9, every read 1.003).
  if (keys_.size() >= kMaxKeys || keys_.find(key) != keys_.end()) return;
  keys_.emplace(key);
}

std::vector<std::string> Replicator::HintSampler::Take() {
  std::vector<std::string> keys;
  keys.reserve(keys_.size());
  for (auto it = keys_.begin(); it != keys_.end();) {
    keys.push_back(std::move(keys_.extract(it++).value()));
  }
  return keys;
}

void Replicator::OnTick(evutil_socket_t, short, void* arg) noexcept {
  auto* w = static_cast<PerWorker*>(arg);
  w->replicator->Tick(*w);
}

void Replicator::Tick(PerWorker& w) {
  // A member that left takes its link along even if no write came since (its counters leave
  // `stats` with it).
  if (std::shared_ptr<const cluster::ClusterView> view = membership_->view();
      view != nullptr && view->version != w.view_version) {
    DropLinksOutside(w, *view);
  }
  // A node that may not serve its store does not send from it either: it may be stale.
  if (!Serving()) return;
  std::vector<PeerLink*> links;
  {
    base::MutexLock lock(w.mu);
    for (auto& [name, link] : w.links) links.push_back(link.get());
  }
  for (PeerLink* link : links) {
    if (link->needs_resync() && w.resyncs.count(link->peer().name) == 0) {
      link->BeginResync();
      w.resyncs.emplace(link->peer().name, store::Store::Scan());
    }
  }
  for (auto it = w.resyncs.begin(); it != w.resyncs.end();) {
    auto link = std::find_if(links.begin(), links.end(),
                             [&](PeerLink* l) { return l->peer().name == it->first; });
    const bool more = link != links.end() && Resync(**link, &it->second);
    it = more ? std::next(it) : w.resyncs.erase(it);
  }
  if (++w.ticks % kHintEveryTicks == 0) StartHints(w);
  FollowHotList(w);
  if (&w == workers_.front().get()) {
    HandOff();
    RefreshHotCopies(w);
  }
}

bool Replicator::Resync(PeerLink& link, store::Store::Scan* scan) {
  // Waits while the link is down or busy: a resync must not crowd out live writes.
  constexpr std::size_t kSlotsPerStep = 4096;
  constexpr int kStepsPerTick = 16;
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr) return false;
  const auto peer = std::find_if(view->members.begin(), view->members.end(),
                                 [&](const cluster::Member& m) { return m.name == link.peer().name; });
  if (peer == view->members.end()) return false;  // it left: its link goes too
  const auto peer_index = static_cast<std::uint32_t>(peer - view->members.begin());
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  std::vector<Copy> found;
  for (int step = 0; step < kStepsPerTick && !scan->done(); ++step) {
    if (!link.ready() || link.pending_bytes() > PeerLink::kMaxBacklog / 4) return true;
    found.clear();
    store_->ScanStep(scan, kSlotsPerStep, [&](const store::ItemInfo& info) {
      std::uint32_t holders[8];
      const std::size_t count = view->ring.Holders(info.key, n, holders);
      if (std::find(holders, holders + count, peer_index) != holders + count) {
        found.push_back({std::string(info.key), info.tombstone, info.cas});
      }
    });
    std::string bytes;
    for (const Copy& c : found) {
      PeerLink::Kind kind;
      if (EncodeCopy(c, &bytes, &kind)) link.Queue(bytes, 0, kind);
    }
  }
  return !scan->done();
}

bool Replicator::EncodeCopy(const Copy& c, std::string* out, PeerLink::Kind* kind) const {
  out->clear();
  if (c.tombstone) {
    *kind = PeerLink::Kind::kDelete;
    return Encode({.kind = engine::WriteEvent::Kind::kDelete, .key = c.key, .version = c.version},
                  out);
  }
  *kind = PeerLink::Kind::kWrite;
  return EncodeItem(c.key, out);
}

void Replicator::StartHints(PerWorker& w) {
  SendHints(w, w.hint_queue.size());  // the slices fell behind: the rest goes now
  w.hint_queue = w.hints.Take();
  w.hint_next = 0;
  w.hint_started_us = NowMicros();
  if (w.hint_queue.empty()) return;
  if (w.hint_timer == nullptr) {
    w.hint_timer = event_new(w.slot.loop->base(), -1, EV_PERSIST, &Replicator::OnHintTimer, &w);
  }
  const timeval tv{0, kHintSliceMs * 1000};
  evtimer_add(w.hint_timer, &tv);
}

void Replicator::OnHintTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* w = static_cast<PerWorker*>(arg);
  // What is due and no write took, a few at least once any is (a handful of hints need not keep
  // a timer running for a second).
  constexpr std::size_t kAtLeast = 16;
  const std::size_t due = HintsDue(*w);
  if (due > w->hint_next) w->replicator->SendHints(*w, std::max(kAtLeast, due - w->hint_next));
  if (w->hint_next >= w->hint_queue.size()) {
    evtimer_del(w->hint_timer);
    w->hint_queue.clear();
    w->hint_next = 0;
  }
}

std::size_t Replicator::HintsDue(const PerWorker& w) {
  const std::int64_t elapsed = NowMicros() - w.hint_started_us;
  const std::size_t n = w.hint_queue.size();
  if (elapsed >= kHintSpreadMs * 1000) return n;
  return (n * static_cast<std::size_t>(std::max<std::int64_t>(elapsed, 0)) +
          kHintSpreadMs * 1000 - 1) / (kHintSpreadMs * 1000);
}

void Replicator::SendHints(PerWorker& w, std::size_t count) {
  const std::size_t end = std::min(w.hint_queue.size(), w.hint_next + count);
  if (w.hint_next >= end) return;
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr || view->members.size() < 2 || !Serving()) {
    w.hint_next = w.hint_queue.size();  // nobody to tell, or nothing this node may vouch for
    return;
  }
  // Per peer, an rc_hints line of keys as they are and one of keys in base64, sent once they
  // hold kHintsPerLine keys or kHintLineBytes (a line of one more key stays under the 2,048
  // bytes a peer's parser waits for a line's end: past that it closes the connection), and at
  // the end.
  constexpr std::size_t kHintsPerLine = 32;
  constexpr std::size_t kHintLineBytes = 1024;
  static_assert(kHintLineBytes + (proto::kMaxKeyLength + 2) / 3 * 4 + 3 < 2048);
  struct Batch {
    PeerLink* link;
    HintLine plain{false}, base64{true};
  };
  std::vector<Batch> batches;
  const auto send = [this](PeerLink* link, HintLine* line) {
    if (line->keys.empty()) return;
    line->bytes += "\r\n";
    link->QueueHints(line->bytes, std::move(line->keys),
                     [this, link](const std::string& missed) { SendAgain(*link, missed); });
    *line = HintLine{line->base64};
  };
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  for (; w.hint_next < end; ++w.hint_next) {
    std::string& key = w.hint_queue[w.hint_next];
    std::uint32_t holders[8];
    const std::size_t count_holders = view->ring.Holders(key, n, holders);
    for (std::size_t i = 0; i < count_holders; ++i) {
      const cluster::Member& m = view->members[holders[i]];
      if (m.name == self_) continue;
      PeerLink* link = LinkTo(w, m);
      auto batch = std::find_if(batches.begin(), batches.end(),
                                [link](const Batch& b) { return b.link == link; });
      if (batch == batches.end()) batch = batches.insert(batches.end(), Batch{link});
      HintLine& line = proto::IsPlainKey(key) ? batch->plain : batch->base64;
      line.Add(key);
      if (line.keys.size() == kHintsPerLine || line.bytes.size() >= kHintLineBytes) {
        send(link, &line);
      }
    }
  }
  for (Batch& b : batches) {
    send(b.link, &b.plain);
    send(b.link, &b.base64);
  }
}

void Replicator::HintLine::Add(const std::string& key) {
  if (bytes.empty()) bytes = base64 ? "rc_hints b" : "rc_hints t";
  bytes += ' ';
  if (base64) {
    char encoded[(proto::kMaxKeyLength + 2) / 3 * 4 + 4];
    bytes.append(encoded, proto::Base64Encode(key.data(), key.size(), encoded));
  } else {
    bytes += key;
  }
  keys.push_back(key);
}

std::string Replicator::GetLine(std::string_view key, std::string_view flags) {
  if (proto::IsPlainKey(key)) return "mg " + std::string(key) + " " + std::string(flags) + "\r\n";
  char encoded[(proto::kMaxKeyLength + 2) / 3 * 4 + 4];
  return "mg " + std::string(encoded, proto::Base64Encode(key.data(), key.size(), encoded)) +
         " " + std::string(flags) + " b\r\n";
}

void Replicator::SendAgain(PeerLink& link, const std::string& key) {
  // The peer had no copy of a key clients read here (evicted there before a hint came, or
  // never received): it gets the item again, then a hint, so that it enters as read.
  std::string bytes;
  if (!EncodeItem(key, &bytes)) return;
  link.Queue(bytes, 0, PeerLink::Kind::kWrite);
  HintLine line{!proto::IsPlainKey(key)};
  line.Add(key);
  line.bytes += "\r\n";
  link.QueueHints(line.bytes, {}, nullptr);  // a miss of this one is not sent again
}

void Replicator::DropLinksOutside(PerWorker& w, const cluster::ClusterView& view) {
  base::MutexLock lock(w.mu);
  for (auto it = w.links.begin(); it != w.links.end();) {
    const bool member = view.Find(it->first) != nullptr;
    it = member ? std::next(it) : w.links.erase(it);
  }
  w.view_version = view.version;
}

std::uint64_t Replicator::PeerRow::LagPercentile(double q) const {
  std::uint64_t total = 0;
  for (std::uint64_t n : lag) total += n;
  if (total == 0) return 0;
  const auto want = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.5);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < lag.size(); ++i) {
    seen += lag[i];
    if (seen >= want && seen > 0) return std::uint64_t{1} << i;
  }
  return std::uint64_t{1} << (lag.size() - 1);
}

std::vector<Replicator::PeerRow> Replicator::PerPeer() const {
  std::vector<PeerRow> rows;
  for (const auto& w : workers_) {
    base::MutexLock lock(w->mu);
    for (const auto& entry : w->links) {
      const std::string& name = entry.first;
      const PeerLink* link = entry.second.get();
      auto it = std::find_if(rows.begin(), rows.end(),
                             [&name](const PeerRow& r) { return r.name == name; });
      if (it == rows.end()) {
        rows.push_back(PeerRow{});
        rows.back().name = name;
        it = rows.end() - 1;
      }
      const PeerLink::Counters& c = link->counters();
      ++it->links;
      if (link->ready()) ++it->ready;
      it->queued += c.queued.Get();
      it->applied += c.applied.Get();
      it->not_newer += c.not_newer.Get();
      it->failed += c.failed.Get();
      it->dropped += c.dropped.Get();
      it->retried += c.retried.Get();
      it->connects += c.connects.Get();
      it->hints += c.hints.Get();
      it->hint_misses += c.hint_misses.Get();
      it->resyncs += c.resyncs.Get();
      it->pending_bytes += link->pending_bytes_seen();
      for (std::size_t i = 0; i < it->lag.size(); ++i) it->lag[i] += c.lag[i].Get();
    }
  }
  std::sort(rows.begin(), rows.end(),
            [](const PeerRow& a, const PeerRow& b) { return a.name < b.name; });
  return rows;
}

Replicator::Totals Replicator::GetTotals() const {
  Totals t;
  for (const auto& w : workers_) {
    base::MutexLock lock(w->mu);
    for (const auto& [name, link] : w->links) {
      const PeerLink::Counters& c = link->counters();
      t.queued += c.queued.Get();
      t.applied += c.applied.Get();
      t.not_newer += c.not_newer.Get();
      t.failed += c.failed.Get();
      t.dropped += c.dropped.Get();
      t.retried += c.retried.Get();
      t.connects += c.connects.Get();
      t.hints += c.hints.Get();
      t.hint_misses += c.hint_misses.Get();
      t.resyncs += c.resyncs.Get();
      ++t.links;
      if (link->ready()) ++t.ready;
    }
  }
  return t;
}

}  // namespace rc::server
