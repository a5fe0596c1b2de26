// server/watchers.h -- `watch`: connections that receive a live log of what the server does
// (memcached logger.c). A watcher asks for event kinds (fetchers, mutations, connevents, ...);
// workers emit a line per event of a kind someone watches, and each line travels to the
// watcher's own worker through its event loop, so a watcher connection is still only ever
// touched by its own thread.
//
// Cost when nobody watches: one relaxed atomic load per event site (mask()).
// Thread-safety: every method from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/mutex.h"

namespace rc::server {

enum WatchKind : unsigned {
  kWatchFetchers = 1u << 0,
  kWatchMutations = 1u << 1,
  kWatchEvictions = 1u << 2,
  kWatchConnEvents = 1u << 3,
  kWatchSysEvents = 1u << 4,
  kWatchRawCmds = 1u << 5,
};

// Maps a `watch` argument to its kind; 0 for an unknown word (the caller answers ERROR).
unsigned WatchKindOf(std::string_view word);

// A connevents line's body, as memcached writes it: "type=conn_new rip=... rport=...
// transport=tcp|local [reason=...] cfd=N". `addr` is ConnRecord::addr() ("tcp:1.2.3.4:port",
// "tcp6:[::1]:port" or "unix:path"); `reason` may be null.
std::string ConnEventBody(std::string_view addr, int fd, const char* type, const char* reason);

class Watchers {
 public:
  // memcached's WATCHER_LIMIT.
  static constexpr std::size_t kLimit = 5;
  // Receives one log line (ending in "\n"). Runs on the emitting thread: must not block.
  using Deliver = std::function<void(std::string line)>;

  // Adds a watcher of `kinds`; returns its id, or -1 when kLimit watchers exist.
  int Add(unsigned kinds, Deliver deliver);
  void Remove(int id);

  // The union of every watcher's kinds: emit nothing unless (mask() & kind).
  unsigned mask() const { return mask_.load(std::memory_order_relaxed); }
  // Sends `body` (the part after "ts=... gid=... ") to every watcher of `kind`.
  void Emit(unsigned kind, std::string_view body);

  std::uint64_t count() const;
  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  // A line dropped because its watcher's backlog was full.
  void CountSkipped() { skipped_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    int id;
    unsigned kinds;
    Deliver deliver;
  };
  mutable base::Mutex mu_;
  std::vector<Entry> entries_ RC_GUARDED_BY(mu_);
  int next_id_ RC_GUARDED_BY(mu_) = 0;
  std::atomic<unsigned> mask_{0};
  std::atomic<std::uint64_t> gid_{0};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace rc::server
