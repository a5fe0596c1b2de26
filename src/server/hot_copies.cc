// server/hot_copies.cc -- the Replicator's hot-key spreading (replicator.h, "Hot keys";
// ../shared/REPLICATION.md section 7): which nodes get a hot key's extra copies, the copies
// sent and refreshed while the key stays hot, a client write of it sent on to them, and the
// readers `config get hotkeys` lists.
//
// Who: the owner only (holder 1 on the key-holding ring), and only keys the detector lists.
// Where: Ring::Holders(key, R + --hot-copies) beyond the first R, less any member that holds
// the key on either ring (its regular copy keeps its own TTL), less this node.
// What: every write of the key this node applies, a client's (a delete's reply waits for the
// copies) or a peer's (a client wrote it elsewhere), as the holders get it but with its TTL
// capped.
// How long: min(--hot-copy-ttl, the item's remaining TTL), renewed every third of the hot-copy
// TTL by `mg <key> T<ttl> C<version> E<stamp> Y<me>` (the peer TTL change every holder already
// takes; it applies only to the same version), answered HD; any other answer (EN: it has no
// copy; EX: another version) sends the copy again.
#include <algorithm>

#include "server/replicator.h"

namespace rc::server {

void Replicator::set_hot_keys(const HotKeyDetector* detector, int copies, int copy_ttl) {
  hot_ = detector;
  hot_copies_ = std::min<int>(copies, static_cast<int>(kMaxHotCopies));
  hot_copy_ttl_ = copy_ttl;
}

void Replicator::FollowHotList(PerWorker& w) {
  if (hot_ == nullptr) return;
  if (w.hot == nullptr || w.hot->version != hot_->version()) w.hot = hot_->list();
}

std::size_t Replicator::HotCopyTargets(const PerWorker& w, const cluster::ClusterView& view,
                                       std::string_view key,
                                       const cluster::Member** out) const {
  if (hot_copies_ == 0 || w.hot == nullptr || !w.hot->Contains(key)) return 0;
  const std::size_t r = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  std::uint32_t holders[8 + kMaxHotCopies];
  const std::size_t n =
      view.ring.Holders(key, r + static_cast<std::size_t>(hot_copies_), holders);
  if (n == 0 || view.members[holders[0]].name != self_) return 0;  // not the owner
  auto holds_before = [&](const cluster::Member& m) {
    if (!view.changing()) return false;
    std::uint32_t before[8];
    const std::size_t k = view.before_ring.Holders(key, r, before);
    return std::any_of(before, before + k,
                       [&](std::uint32_t i) { return view.before_members[i].name == m.name; });
  };
  std::size_t count = 0;
  for (std::size_t i = r; i < n; ++i) {
    const cluster::Member& m = view.members[holders[i]];
    if (m.name == self_ || holds_before(m)) continue;
    out[count++] = &m;
  }
  return count;
}

std::vector<std::string> Replicator::ReadersOf(std::string_view key) const {
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr || view->members.empty() || !Serving()) return {};
  const std::size_t r = std::min<std::size_t>(static_cast<std::size_t>(replicas_), 8);
  std::uint32_t holders[8 + kMaxHotCopies];
  const std::size_t n = view->ring.Holders(key, r + static_cast<std::size_t>(hot_copies_), holders);
  if (n == 0 || view->members[holders[0]].name != self_) return {};
  std::vector<std::string> readers;
  for (std::size_t i = 0; i < n; ++i) readers.push_back(view->members[holders[i]].name);
  return readers;
}

void Replicator::SendToHotCopies(PerWorker& w, const cluster::ClusterView& view,
                                 const engine::WriteEvent& event, bool wait) {
  const cluster::Member* targets[kMaxHotCopies];
  const std::size_t n = HotCopyTargets(w, view, event.key, targets);
  if (n == 0) return;
  const bool deleting = event.kind == engine::WriteEvent::Kind::kDelete ||
                        event.kind == engine::WriteEvent::Kind::kInvalidate;
  std::string bytes;
  if (!Encode(event, &bytes, static_cast<std::uint64_t>(hot_copy_ttl_))) return;
  for (std::size_t i = 0; i < n; ++i) {
    if (deleting) {
      hot_deletes_.Add();
      LinkTo(w, *targets[i])->Queue(bytes, wait ? LenientTicket(w) : 0, PeerLink::Kind::kDelete);
      if (wait) ++w.current->lenient_needed;
    } else {
      hot_sent_.Add();
      LinkTo(w, *targets[i])->Queue(bytes, 0, PeerLink::Kind::kWrite);
    }
  }
}

void Replicator::RefreshHotCopies(PerWorker& w) {
  FollowHotList(w);
  if (w.hot == nullptr || w.hot->keys.empty() || hot_copies_ == 0) return;
  // At once when a key became hot, then every third of the copies' TTL (at most every second):
  // a copy outlives two lost refreshes.
  const int every = std::max(1000 / kTickMs, hot_copy_ttl_ * 1000 / 3 / kTickMs);
  if (w.hot->version == w.hot_refreshed_version && w.ticks - w.hot_refreshed_tick < every) return;
  w.hot_refreshed_tick = w.ticks;
  w.hot_refreshed_version = w.hot->version;
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr) return;
  const base::RelTime now = clock_->Now();
  for (const cluster::HotKey& hot : w.hot->keys) {
    const cluster::Member* targets[kMaxHotCopies];
    const std::size_t n = HotCopyTargets(w, *view, hot.key, targets);
    if (n == 0) continue;
    store::ItemRef item =
        std::move(store_->Get(hot.key, store::GetOptions{.bump = false}).item);
    if (!item) continue;  // deleted or evicted: its copies were told, or die by their TTL
    const base::RelTime exptime = item.exptime();
    if (exptime != 0 && exptime <= now) continue;
    std::string line;
    if (!Encode({.kind = engine::WriteEvent::Kind::kTouch, .key = hot.key, .item = &item,
                 .version = item.version(), .ttl_stamp = store_->versions().Mint()},
                &line, static_cast<std::uint64_t>(hot_copy_ttl_))) {
      continue;
    }
    // The TTL change goes as a forwarded request: its answer says whether the copy is there.
    for (std::size_t i = 0; i < n; ++i) {
      hot_refreshes_.Add();
      PerWorker* worker = &w;
      LinkTo(w, *targets[i])
          ->Forward(line, [this, worker, peer = *targets[i], key = hot.key](
                              const std::string* reply) {
            if (reply != nullptr && reply->rfind("HD", 0) == 0) return;
            SendHotCopy(*worker, peer, key);
          });
    }
  }
}

void Replicator::SendHotCopy(PerWorker& w, const cluster::Member& peer, const std::string& key) {
  std::shared_ptr<const cluster::ClusterView> view = membership_->view();
  if (view == nullptr || view->Find(peer.name) == nullptr) return;  // it left meanwhile
  std::string bytes;
  if (!EncodeItem(key, &bytes, static_cast<std::uint64_t>(hot_copy_ttl_))) return;
  hot_resent_.Add();
  LinkTo(w, peer)->Queue(bytes, 0, PeerLink::Kind::kWrite);
}

Replicator::HotCopyRow Replicator::HotCopies() const {
  return {.copies_sent = hot_sent_.Get(),
          .refreshes = hot_refreshes_.Get(),
          .resent = hot_resent_.Get(),
          .deletes = hot_deletes_.Get(),
          .delete_failures = hot_delete_failures_.Get()};
}

}  // namespace rc::server
