// client/router.cc -- see router.h.
#include "client/router.h"

#include <algorithm>

namespace rc::client {

Router::Router(std::vector<cluster::RingMember> members, cluster::RingProfile profile)
    : ring_(std::make_unique<const cluster::Ring>(std::move(members), profile,
                                                  cluster::Ring::Index::kOwnersAndHolders)) {}

std::size_t Router::ReadOrder(std::string_view key, const IsTko& is_tko, std::uint32_t* out,
                              std::size_t max) const {
  // The first three holders come from the ring's table (one binary search); the rest, needed
  // only when those three are all TKO, the slow way.
  constexpr std::size_t kFast = 3;
  const std::size_t n_members = ring_->members().size();
  std::uint32_t holders[kFast];
  std::size_t n = ring_->Holders(key, std::min(kFast, n_members), holders);
  std::size_t written = 0;
  for (std::size_t i = 0; i < n && written < max; ++i) {
    if (!is_tko(holders[i])) out[written++] = holders[i];
  }
  if (written == 0 && n_members > kFast) {
    std::vector<std::uint32_t> all(n_members);
    n = ring_->Holders(key, n_members, all.data());
    for (std::size_t i = kFast; i < n && written < max; ++i) {
      if (!is_tko(all[i])) out[written++] = all[i];
    }
  }
  if (written == 0 && n > 0) out[written++] = holders[0];
  return written;
}

std::uint32_t Router::WriteTarget(std::string_view key, const IsTko& is_tko) const {
  const std::uint32_t owner = ring_->Owner(key);
  if (ring_->profile() == cluster::RingProfile::kSpymemcached) {
    if (!is_tko(owner)) return owner;
    std::uint32_t first;
    return ReadOrder(key, is_tko, &first, 1) == 1 ? first : owner;
  }
  // An ejecting libmemcached routes EVERY key by the rebuilt ring, not only the failed node's:
  // with weights (or at N = 25, 47...) the others' point counts change too, and some keys of
  // live owners move (owner_if_removed_* in the vectors).
  const auto n = static_cast<std::uint32_t>(ring_->members().size());
  std::uint32_t first_tko = 0;
  while (first_tko < n && !is_tko(first_tko)) ++first_tko;
  if (first_tko == n) return owner;  // the usual case: no allocation
  std::vector<bool> tko(n);
  for (std::uint32_t i = first_tko; i < n; ++i) tko[i] = is_tko(i);
  const std::shared_ptr<const Ejected> ejected = EjectedFor(std::move(tko));
  if (ejected->ring->empty()) return owner;
  return ejected->to_member[ejected->ring->Owner(key)];
}

std::shared_ptr<const Router::Ejected> Router::EjectedFor(std::vector<bool> tko) const {
  {
    base::MutexLock lock(mu_);
    if (ejected_ != nullptr && ejected_->tko == tko) return ejected_;
  }
  // Built outside the lock: a few MD5s per member. Two callers may both build; either result is
  // the same ring.
  auto next = std::make_shared<Ejected>();
  std::vector<cluster::RingMember> live;
  for (std::uint32_t i = 0; i < tko.size(); ++i) {
    if (tko[i]) continue;
    live.push_back(ring_->members()[i]);
    next->to_member.push_back(i);
  }
  next->ring = std::make_unique<cluster::Ring>(std::move(live), ring_->recipe());
  next->tko = std::move(tko);
  base::MutexLock lock(mu_);
  ejected_ = next;
  return next;
}

}  // namespace rc::client
