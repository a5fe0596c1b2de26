// server/conn_registry.h -- what `stats conns` shows of every socket, across all workers.
//
// Connections live on their workers, but `stats conns` runs on whichever worker received it, so
// each connection publishes a small record here when it opens and removes it when it closes. The
// record's changing fields are atomics, written by the owning worker with plain relaxed stores.
//
// A record is small because every idle connection carries one: the names `stats conns` prints
// are not kept in it but made when asked for -- a TCP peer's from its socket (a record is removed
// under the registry's lock before its socket closes, so the socket is open while ForEach runs),
// the listener's from one copy per listening socket (Intern). Records are found by fd, in a table
// indexed by it, as memcached keeps its conns.
//
// Thread-safety: Add/Remove/ForEach from any thread (one mutex, taken only at open and close and
// by `stats conns`).
#pragma once

#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/mutex.h"
#include "ringcached/net/listener.h"

namespace rc::server {

struct ConnRecord {
  enum class Kind : unsigned char { kListener, kTcp, kUnix, kUdp };
  int fd = -1;
  Kind kind = Kind::kListener;
  // The listening socket's name (ConnRegistry::Intern): "tcp:127.0.0.1:11211", "unix:/path"...
  const std::string* name = nullptr;
  std::atomic<const char*> state{"conn_parse_cmd"};
  std::atomic<base::RelTime> last_cmd{0};
  // An authenticated peer link: exempt from -o idle_timeout, counted apart from clients.
  std::atomic<bool> peer{false};

  // `addr`: the peer's name for TCP ("tcp:127.0.0.1:40000", "tcp6:[::1]:40000"), the
  // listener's otherwise. Only while the socket is open.
  std::string addr() const { return kind == Kind::kTcp ? net::PeerName(fd) : *name; }
  // `listen_addr`: the listener that accepted the connection; empty for listeners and UDP.
  std::string_view listen_addr() const {
    return kind == Kind::kTcp || kind == Kind::kUnix ? std::string_view(*name) : "";
  }
};

class ConnRegistry {
 public:
  // A copy of `name` that lives as long as the registry, for ConnRecord::name.
  const std::string* Intern(const std::string& name) {
    base::MutexLock lock(mu_);
    return &*names_.insert(name).first;
  }
  void Add(ConnRecord* record) {
    base::MutexLock lock(mu_);
    auto fd = static_cast<std::size_t>(record->fd);
    if (fd >= records_.size()) records_.resize(fd + 1);
    records_[fd] = record;
  }
  void Remove(ConnRecord* record) {
    base::MutexLock lock(mu_);
    auto fd = static_cast<std::size_t>(record->fd);
    if (fd < records_.size() && records_[fd] == record) records_[fd] = nullptr;
  }
  // In fd order; `fn` runs under the registry's lock and must not block.
  void ForEach(const std::function<void(const ConnRecord&)>& fn) const {
    base::MutexLock lock(mu_);
    for (const ConnRecord* record : records_) {
      if (record != nullptr) fn(*record);
    }
  }

 private:
  mutable base::Mutex mu_;
  std::vector<ConnRecord*> records_ RC_GUARDED_BY(mu_);  // by fd
  std::set<std::string> names_ RC_GUARDED_BY(mu_);
};

}  // namespace rc::server
