// base/hybrid_clock.h -- versions: the hybrid logical clock that orders every copy of a key.
//
// Every item the store links carries a version, and the version is the CAS clients see
// (../shared/REPLICATION.md section 3). A version is
//
//     (milliseconds since 2024-01-01 UTC) << 10  |  a counter of up to 10 bits
//
// so it reads as wall-clock time to a human with a shift, orders writes across nodes whose clocks
// agree to within the skew bound, and stays below 2^53 until the year 2302 (clients that keep a
// CAS in a double, as JavaScript and some PHP clients do, keep working). Mint() never returns the
// same value twice and never a smaller one than it returned before, so one node's CAS values are
// unique and increasing, as memcached promises. When more than 1024 versions are minted within one
// millisecond the counter carries into the millisecond field, which runs ahead of the wall clock
// until the wall clock catches up (the usual HLC rule).
//
// A version learned from elsewhere (a peer's write, a client's meta `E` token) moves the clock
// past it, so that the next write on this node orders after it, unless it is more than the skew
// bound ahead of this node's wall clock: Admit() refuses that, so one bad clock or one client
// cannot drag every node's versions into the future for good.
//
// Thread-safety: every method from any thread; Mint() and Admit() are one or two atomic
// operations on one word.
#pragma once

#include <atomic>
#include <cstdint>

#include "ringcached/base/clock.h"

namespace rc::base {

class HybridClock {
 public:
  static constexpr unsigned kCounterBits = 10;
  static constexpr std::int64_t kEpochUnixMillis = 1704067200000;  // 2024-01-01T00:00:00Z
  static constexpr std::uint64_t kLimit = std::uint64_t{1} << 53;  // every version is below

  // `wall` supplies the milliseconds (Clock::UnixMillis); not owned, must outlive this.
  HybridClock(const Clock* wall, std::uint64_t max_skew_ms);

  // A new version, above every version minted or admitted before.
  std::uint64_t Mint();
  // Accepts `v`, learned from elsewhere: false (and counted) when it is 0, at or above kLimit,
  // or more than the skew bound ahead of the wall clock; otherwise the clock moves past it and
  // the next Mint() is larger.
  bool Admit(std::uint64_t v);
  // The last version minted or admitted (0 before any).
  std::uint64_t Last() const { return last_.load(std::memory_order_relaxed); }
  // The clock's reading now, without minting: the last version or the wall's, whichever is
  // later (what a node tells a peer in the handshake).
  std::uint64_t Now() const {
    const std::uint64_t wall = WallVersion();
    const std::uint64_t last = Last();
    return last > wall ? last : wall;
  }
  // The version the wall clock alone gives now (its counter 0).
  std::uint64_t WallVersion() const;
  std::uint64_t max_skew_ms() const { return max_skew_ms_; }
  // How many versions Admit() refused.
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  // The milliseconds since the project epoch that a version stands for (for humans and logs).
  static std::uint64_t MillisOf(std::uint64_t v) { return v >> kCounterBits; }

 private:
  const Clock* wall_;
  const std::uint64_t max_skew_ms_;
  std::atomic<std::uint64_t> last_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace rc::base
