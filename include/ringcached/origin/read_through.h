// origin/read_through.h -- read-through: a key the cache misses is fetched from an origin
// (PostgreSQL or an HTTP service), stored with a TTL and returned (DESIGN.md section 3,
// "Read-through at the owner"; issue #6). The only header of src/origin/ other modules may include.
//
// The origin module knows nothing of the store, the engine or connections. It fetches values and
// decides what to do with them; what "the cache" is comes in through the Cache interface below,
// which server/ implements over the store (server/origin_loader.cc).
//
// The rules, and where each one is kept:
//   * One fetch per key at a time (single-flight). Every miss on a key, from any connection on any
//     worker, that arrives while a fetch of that key is in flight joins it and gets its answer.
//   * Writes win. A set, delete, incr... of a key whose fetch is in flight makes that fetch stale:
//     its value is still handed to the readers waiting for it, but never stored. The write and
//     the fill serialise on a per-key lock (FenceWrite), so there is no moment in which a fill
//     can check "not stale" and then store over a write that slipped in between.
//   * An origin miss is remembered for `negative_ttl` seconds and answered as a miss without
//     asking the origin again; a write of the key forgets it at once.
//   * A fetch not answered within `timeout_ms` is a miss for its readers. Errors and timeouts in a
//     row open a circuit breaker: for `breaker_open_ms` every new fetch is answered as a miss at
//     once; then one probe fetch is let through, and its success closes the breaker again.
//   * Workers never wait. All origin I/O (libpq connections, libevent HTTP connections, timers)
//     runs on the origin thread, which ReadThrough owns; workers only take a short lock to look
//     at the flight table.
//
// Thread-safety: Fetch(), FenceWrite(), FenceFlush() and GetStats() from any thread; Open() and
// Stop() from the thread that owns the server (start-up and shutdown).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "ringcached/base/mutex.h"
#include "ringcached/base/status.h"

namespace rc::origin {

struct Options {
  // postgresql://user@host:port/db (also postgres://), or http://host[:port]/prefix/ where the
  // URL-encoded key is appended to the prefix.
  std::string url;
  // PostgreSQL: the statement, prepared once per connection, that takes the key as $1 and returns
  // the value in its first column, and optionally columns named "flags" and "ttl".
  std::string query;
  int connections = 4;             // origin connections held open (PostgreSQL) or used (HTTP)
  int timeout_ms = 500;            // a fetch not answered by then is answered as a miss
  int negative_ttl = 3;            // seconds an origin miss is remembered; 0: not at all
  int breaker_failures = 5;        // errors/timeouts in a row that open the breaker; 0: never
  int breaker_open_ms = 5000;      // how long the breaker stays open before a probe
  std::size_t max_value_size = 1u << 20;  // larger HTTP bodies are refused (an error)
  std::size_t max_negative = 65536;       // remembered origin misses, at most
};

// A value the origin returned.
struct Value {
  std::string bytes;
  std::uint32_t flags = 0;  // the "flags" column (PostgreSQL); 0 otherwise
  std::int64_t ttl = -1;    // the "ttl" column in seconds (PostgreSQL); -1: none given
};

// What the readers of a key are told. Shared, immutable, by every reader of one fetch.
struct Answer {
  enum class Kind : std::uint8_t {
    kValue,   // the origin returned `value`
    kMiss,    // the origin has no such key (or said so less than negative_ttl seconds ago)
    kCached,  // no fetch: the cache already held the key when the fetch would have started (a
              // fill that just landed); read it from the cache again
    kFailed,  // error, timeout, or the breaker is open: answer as a miss
  };
  Kind kind = Kind::kFailed;
  Value value;                // kValue
  bool stored = false;        // kValue: Cache::Store() linked it
  std::uint64_t version = 0;  // kValue and stored: what Cache::Store() reported (the item's CAS)
};

// The cache being filled (server/ implements it over the store). Both methods are called with the
// key's fill lock held, on any thread (a worker or the origin thread); they must be quick and must
// not call back into ReadThrough.
class Cache {
 public:
  virtual ~Cache() = default;
  // Whether the key is present now.
  virtual bool Contains(std::string_view key) = 0;
  // The version a fetch starting now gives its value: taken as the fetch starts, so that a write
  // that comes while it is in flight is newer everywhere (on another holder too).
  virtual std::uint64_t FillVersion() = 0;
  // Stores a fetched value with `version` (its FillVersion) unless the key is present (a write
  // that came before the fetch wins). True when it stored it.
  virtual bool Store(std::string_view key, const Value& value, std::uint64_t version) = 0;
};

// `stats origin`. Counters since start; a snapshot, not an atomic one.
struct Stats {
  std::uint64_t fetches = 0;         // origin requests started
  std::uint64_t hits = 0;            // ...answered with a value
  std::uint64_t misses = 0;          // ...answered "no such key"
  std::uint64_t errors = 0;          // ...failed (connection, query, HTTP status)
  std::uint64_t timeouts = 0;        // ...not answered within timeout_ms
  std::uint64_t coalesced = 0;       // readers that joined a fetch already in flight
  std::uint64_t negative_hits = 0;   // readers answered from a remembered origin miss
  std::uint64_t cached = 0;          // readers sent back to the cache (a fill had just landed)
  std::uint64_t stored = 0;          // fetched values stored
  std::uint64_t stale = 0;           // fetched values not stored because a write won
  std::uint64_t late = 0;            // origin answers that came after their timeout
  std::uint64_t in_flight = 0;       // fetches in progress now
  std::uint64_t breaker_opened = 0;  // times the breaker opened
  std::uint64_t breaker_rejected = 0;  // readers answered at once because it was open
  const char* breaker_state = "closed";  // "closed", "open" or "half-open"
  // Fetch latency (start to answer, timeouts included), microseconds.
  std::uint64_t latency_p50_us = 0, latency_p90_us = 0, latency_p99_us = 0,
                latency_p999_us = 0, latency_max_us = 0;
};

class Backend;
class SingleFlight;

class ReadThrough {
 public:
  // Told the answer of one Fetch(), exactly once: on the calling thread before Fetch() returns
  // when the answer is known at once (a remembered miss, an open breaker, a key already cached),
  // otherwise later on the origin thread. Must not block; server/ posts it to the reader's worker.
  using Waiter = std::function<void(std::shared_ptr<const Answer>)>;

  // Checks the options, connects to the origin and checks it can answer (for PostgreSQL:
  // prepares the query), then starts the origin thread. Blocking: start-up only, before any worker
  // runs. An unreachable origin or a bad query fails here with a message that names the origin
  // and the cause. `cache` is not owned and must outlive the ReadThrough.
  static base::Result<std::unique_ptr<ReadThrough>> Open(const Options& options, Cache* cache);
  ~ReadThrough();
  ReadThrough(const ReadThrough&) = delete;
  ReadThrough& operator=(const ReadThrough&) = delete;

  // Stops the origin thread and closes the origin connections. Waiters not answered yet are never
  // called. Idempotent.
  void Stop();

  // Fetches `key` for one reader, or joins the fetch in flight. Thread-safe; never blocks on the
  // origin.
  void Fetch(std::string_view key, Waiter waiter);

  // Called before every write of `key` to the cache, and held until the write is applied: a fetch
  // of the key in flight becomes stale (its value will not be stored) and a remembered origin miss
  // is forgotten. Thread-safe.
  base::MovableLock FenceWrite(std::string_view key);
  // flush_all: every fetch in flight becomes stale and every remembered miss is forgotten.
  void FenceFlush();

  Stats GetStats() const;
  // The origin URL with any password replaced by "***", for logs and stats.
  const std::string& description() const { return description_; }

 private:
  ReadThrough(const Options& options, Cache* cache);
  struct Impl;  // read_through.cc: the origin thread, its loop, timers and the backend
  std::unique_ptr<SingleFlight> flights_;
  std::unique_ptr<Impl> impl_;
  std::string description_;
};

// `url` with the password of any "user:password@" part replaced by "***".
std::string RedactUrl(std::string_view url);

// How long a backend lets one request run before it abandons it itself (libevent's connection
// timeout, PostgreSQL's statement_timeout): a little longer than timeout_ms, so that ReadThrough's
// own timer answers the readers first and the fetch counts as a timeout, and the backend then
// frees the connection.
inline int BackendTimeoutMs(const Options& options) { return options.timeout_ms + 100; }

}  // namespace rc::origin
