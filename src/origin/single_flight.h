// origin/single_flight.h -- the flight table: which keys are being fetched, who waits for each,
// which fetches a write has made stale, which keys the origin recently said it lacks, and the
// breaker. The rules of read_through.h, without threads or sockets (read_through.cc adds those),
// so that t/unit/origin can check them with a fake cache and a fake clock.
//
// The table is split into stripes by key hash. One stripe's mutex guards its flights, its
// remembered misses and the `waiters`/`stale`/`done` fields of its flights, and it is the "fill
// lock" of read_through.h: FenceWrite() returns it locked, Complete() holds it while it decides
// whether to store and calls Cache::Store(). Lock order: a stripe, then the store's own locks
// (inside Cache), then the breaker's; never two stripes, except FenceFlush() which takes them one
// at a time.
//
// A Flight leaves the table when it completes, or earlier when a write makes it stale: readers
// that miss after that write start a fresh fetch rather than join one whose query may predate
// the write. The stale flight lives on, owned by its fetch, until that fetch completes.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "origin/backend.h"
#include "origin/breaker.h"
#include "origin/latency.h"
#include "ringcached/origin/read_through.h"

struct event;

namespace rc::origin {

// One fetch of one key.
struct Flight {
  std::string key;
  SteadyClock::time_point started;
  bool probe = false;                    // the breaker's half-open probe
  std::uint64_t version = 0;             // the fill's (Cache::FillVersion, as it started)
  // Guarded by the key's stripe mutex:
  std::vector<ReadThrough::Waiter> waiters;
  bool stale = false;                    // a write to `key` came in: do not store the value
  bool done = false;                     // answered; later completions are ignored
  // Origin thread only (read_through.cc): the timeout timer.
  event* timer = nullptr;
};

class SingleFlight {
 public:
  // `cache` is not owned and must outlive this.
  SingleFlight(const Options& options, Cache* cache);

  // A reader's miss on `key`. Either the answer is known now (a remembered origin miss, the key is
  // in the cache after all, the breaker refuses: kAnswered, and the caller hands `answer` to its
  // waiter), or the waiter joined the fetch in flight (kJoined: it is now the table's), or a fetch
  // must start (kStart: the waiter is in `flight`, which the caller must fetch and Complete()).
  struct Admission {
    enum class Kind : std::uint8_t { kAnswered, kJoined, kStart };
    Kind kind = Kind::kAnswered;
    std::shared_ptr<const Answer> answer;  // kAnswered
    std::shared_ptr<Flight> flight;        // kStart
  };
  Admission Admit(std::string_view key, ReadThrough::Waiter* waiter, SteadyClock::time_point now);

  // Ends `flight` with the origin's `result`: stores a value unless the flight is stale,
  // remembers an origin miss, feeds the breaker and the counters, then calls every waiter (with
  // no lock held). Only the first completion of a flight counts; a later one (the origin
  // answering after the timeout did) returns false and does nothing else.
  bool Complete(const std::shared_ptr<Flight>& flight, Fetched result,
                SteadyClock::time_point now);

  // RC_NO_THREAD_SAFETY_ANALYSIS: the stripe's lock leaves in the returned MovableLock.
  base::MovableLock FenceWrite(std::string_view key) RC_NO_THREAD_SAFETY_ANALYSIS;
  void FenceFlush();

  Stats GetStats() const;

 private:
  static constexpr std::size_t kStripes = 64;
  struct Stripe {
    base::Mutex mu;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights RC_GUARDED_BY(mu);
    // Origin misses remembered, and when to forget each.
    std::unordered_map<std::string, SteadyClock::time_point> negative RC_GUARDED_BY(mu);
  };
  Stripe& StripeOf(std::string_view key);
  // Remembers an origin miss; with the stripe full, expired entries go first, and if none has
  // expired the miss is simply not remembered. Stripe locked.
  void RememberMissLocked(Stripe& s, const std::string& key, SteadyClock::time_point now)
      RC_REQUIRES(s.mu);

  const Options options_;
  Cache* cache_;
  Breaker breaker_;
  std::array<Stripe, kStripes> stripes_;
  LatencyHistogram latency_;  // written by Complete(), which runs on the origin thread

  std::atomic<std::uint64_t> fetches_{0}, hits_{0}, misses_{0}, errors_{0}, timeouts_{0},
      coalesced_{0}, negative_hits_{0}, cached_{0}, stored_{0}, stale_{0}, late_{0},
      in_flight_{0}, rejected_{0};
};

}  // namespace rc::origin
