// server/conn_registry.h -- what `stats conns` shows of every socket, across all workers.
//
// Connections live on their workers, but `stats conns` runs on whichever worker received it, so
// each connection publishes a small record here when it opens and removes it when it closes. The
// record's changing fields are atomics, written by the owning worker with plain relaxed stores.
//
// Thread-safety: Add/Remove/ForEach from any thread (one mutex, taken only at open and close and
// by `stats conns`).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "ringcached/base/clock.h"

namespace rc::server {

struct ConnRecord {
  int fd = -1;
  std::string addr;         // "tcp:127.0.0.1:40000", "unix:/path"
  std::string listen_addr;  // the listener that accepted it; empty for listeners themselves
  std::atomic<const char*> state{"conn_parse_cmd"};
  std::atomic<base::RelTime> last_cmd{0};
};

class ConnRegistry {
 public:
  void Add(ConnRecord* record) {
    std::lock_guard<std::mutex> lock(mu_);
    records_[record->fd] = record;
  }
  void Remove(ConnRecord* record) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find(record->fd);
    if (it != records_.end() && it->second == record) records_.erase(it);
  }
  // In fd order; `fn` runs under the registry's lock and must not block.
  void ForEach(const std::function<void(const ConnRecord&)>& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [fd, record] : records_) fn(*record);
  }

 private:
  mutable std::mutex mu_;
  std::map<int, ConnRecord*> records_;
};

}  // namespace rc::server
