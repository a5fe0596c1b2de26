// client/local_cache.cc -- see local_cache.h.
#include "client/local_cache.h"

namespace rc::client {

std::optional<Item> LocalHotCache::Lookup(std::string_view key, Clock::time_point now) {
  base::MutexLock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.item;
}

void LocalHotCache::Store(std::string_view key, const Item& item, std::chrono::seconds ttl,
                          Clock::time_point now) {
  base::MutexLock lock(mu_);
  if (entries_.size() >= kMaxEntries && entries_.find(key) == entries_.end()) {
    std::erase_if(entries_, [now](const auto& e) { return e.second.expires <= now; });
    if (entries_.size() >= kMaxEntries) return;
  }
  entries_.insert_or_assign(std::string(key), Entry{item, now + ttl});
}

void LocalHotCache::Forget(std::string_view key) {
  base::MutexLock lock(mu_);
  if (auto it = entries_.find(key); it != entries_.end()) entries_.erase(it);
}

std::size_t LocalHotCache::size() const {
  base::MutexLock lock(mu_);
  return entries_.size();
}

}  // namespace rc::client
