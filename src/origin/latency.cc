// origin/latency.cc -- see latency.h.
#include "origin/latency.h"

#include <bit>

namespace rc::origin {

std::size_t LatencyHistogram::BucketOf(std::uint64_t micros) {
  if (micros < kSubBuckets) return static_cast<std::size_t>(micros);
  // micros has its top bit at position `msb` >= 4; the next four bits pick the sub-bucket.
  const unsigned msb = 63 - static_cast<unsigned>(std::countl_zero(micros));
  const std::size_t sub = static_cast<std::size_t>(micros >> (msb - 4)) & (kSubBuckets - 1);
  const std::size_t bucket = kSubBuckets + (msb - 4) * kSubBuckets + sub;
  return bucket < kBuckets ? bucket : kBuckets - 1;
}

std::uint64_t LatencyHistogram::UpperBound(std::size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const std::size_t power = (bucket - kSubBuckets) / kSubBuckets + 4;  // msb of its values
  const std::uint64_t sub = (bucket - kSubBuckets) % kSubBuckets;
  // Values (16 + sub) << (power - 4) up to the next sub-bucket, exclusive.
  return ((kSubBuckets + sub + 1) << (power - 4)) - 1;
}

void LatencyHistogram::Record(std::uint64_t micros) {
  counts_[BucketOf(micros)].Add();
  total_.Add();
  if (micros > max_.Get()) {
    max_.Reset();
    max_.Add(micros);
  }
}

std::uint64_t LatencyHistogram::Percentile(double fraction) const {
  const std::uint64_t total = total_.Get();
  if (total == 0) return 0;
  // The rank of the sample that `fraction` of them are at or below (at least the first).
  auto rank = static_cast<std::uint64_t>(fraction * static_cast<double>(total) + 0.999999);
  if (rank == 0) rank = 1;
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b].Get();
    if (seen >= rank) {
      // A bucket's bound may exceed the largest sample; never report more than that.
      const std::uint64_t bound = UpperBound(b);
      return bound < max() ? bound : max();
    }
  }
  return max();
}

}  // namespace rc::origin
