// base/hybrid_clock.cc -- HybridClock: minting and admitting versions (see hybrid_clock.h).
#include "ringcached/base/hybrid_clock.h"

#include "ringcached/base/check.h"

namespace rc::base {

HybridClock::HybridClock(const Clock* wall, std::uint64_t max_skew_ms)
    : wall_(wall), max_skew_ms_(max_skew_ms) {
  RC_CHECK(wall_ != nullptr);
}

std::uint64_t HybridClock::WallVersion() const {
  const std::int64_t ms = wall_->UnixMillis() - kEpochUnixMillis;
  // A wall clock before the epoch (a test's fake one, a machine that lost its time) counts as
  // the epoch: versions are then the counter alone, still unique and increasing.
  return ms <= 0 ? 0 : static_cast<std::uint64_t>(ms) << kCounterBits;
}

std::uint64_t HybridClock::Mint() {
  const std::uint64_t floor = WallVersion();
  // The common case is one locked add: the clock is at or ahead of the wall.
  std::uint64_t v = last_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (v >= floor) return v;
  // Behind the wall clock (the first write in a new millisecond): jump to it. Nobody can have
  // been handed `floor` yet, since every value handed out is at most last_.
  std::uint64_t seen = v;
  while (seen < floor) {
    if (last_.compare_exchange_weak(seen, floor, std::memory_order_relaxed)) return floor;
  }
  // Someone else moved the clock past the wall meanwhile; `v` is still ours and unique, but it
  // is below what they minted, so take a fresh one above it.
  return last_.fetch_add(1, std::memory_order_relaxed) + 1;
}

bool HybridClock::Admit(std::uint64_t v) {
  if (v == 0 || v >= kLimit || v > WallVersion() + (max_skew_ms_ << kCounterBits)) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  std::uint64_t seen = last_.load(std::memory_order_relaxed);
  while (seen < v && !last_.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
  }
  return true;
}

}  // namespace rc::base
