// origin/latency.h -- a latency histogram for `stats origin` (p50, p90, p99, p99.9, max).
//
// Log-linear buckets, as HdrHistogram's: values below 16 us get a bucket each; above, every power
// of two is cut into 16 equal buckets, so a percentile is reported within 1/16 (6%) of the truth,
// rounded up to its bucket's upper bound. 40 powers of two cover 16 us to about 12 days.
//
// Thread-safety: Record() from one thread at a time (the origin thread); Percentile() and max()
// from any thread, reading relaxed counters (a snapshot a few samples old, as with every stat).
#pragma once

#include <array>
#include <cstdint>

#include "ringcached/base/counter.h"

namespace rc::origin {

class LatencyHistogram {
 public:
  void Record(std::uint64_t micros);
  // The smallest bucket bound at or above which `fraction` (0..1) of the samples lie; 0 with no
  // samples.
  std::uint64_t Percentile(double fraction) const;
  std::uint64_t max() const { return max_.Get(); }

  static std::size_t BucketOf(std::uint64_t micros);
  static std::uint64_t UpperBound(std::size_t bucket);

 private:
  static constexpr std::size_t kSubBuckets = 16;
  static constexpr std::size_t kBuckets = kSubBuckets + 40 * kSubBuckets;
  std::array<base::Counter, kBuckets> counts_;
  base::Counter total_;
  base::Counter max_;
};

}  // namespace rc::origin
