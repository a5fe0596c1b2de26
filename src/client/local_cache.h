// client/local_cache.h -- LocalHotCache: the optional in-process copy of hot keys' values
// (Options::local_hot_cache; REPLICATION.md section 8). A read of a key that its owner lists
// as hot is answered from here while the entry is younger than the node's hot-copy TTL; only
// hot keys enter, and at most kMaxEntries of them.
//
// Outside the cluster's "no stale read after a delete's reply" promise: another client's write
// or delete of the key is seen here only once the entry expires (at most the hot-copy TTL,
// 10 s by default). This client's own writes drop the entry at once.
//
// Thread-safety: every method may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "ringcached/base/mutex.h"
#include "ringcached/client/client.h"

namespace rc::client {

class LocalHotCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxEntries = 1024;

  // The value kept for `key`, if any and not older than its TTL.
  std::optional<Item> Lookup(std::string_view key, Clock::time_point now);
  // Keeps `item` for `ttl` (a full cache first drops what expired, then keeps nothing new).
  void Store(std::string_view key, const Item& item, std::chrono::seconds ttl,
             Clock::time_point now);
  // Drops `key` (this client wrote it).
  void Forget(std::string_view key);
  std::size_t size() const;

 private:
  struct Entry {
    Item item;
    Clock::time_point expires;
  };
  mutable base::Mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_ RC_GUARDED_BY(mu_);
};

}  // namespace rc::client
