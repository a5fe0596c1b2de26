// bench/loadgen/histogram.h -- a latency histogram with bounded relative error, for rc-loadgen.
//
// Log-linear buckets in the manner of HdrHistogram: values below 128 ns get a bucket each; above
// that, every power of two is cut into 64 equal sub-buckets, so a reported percentile is within
// 1/64 (1.6%) of the true value, over the whole range up to 2^40 ns (18 minutes). 2,240 counters;
// recording is a count-leading-zeros and an increment. Merging is a sum, so each load-generator
// thread keeps its own and the main thread adds them at the end.
//
// Thread-safety: none; one per thread.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace rc::loadgen {

class Histogram {
 public:
  void Record(std::uint64_t ns) {
    ns = std::min<std::uint64_t>(ns, (std::uint64_t{1} << kMaxLog2) - 1);
    ++counts_[Index(ns)];
    ++total_;
    sum_ += ns;
    max_ = std::max(max_, ns);
  }

  void Merge(const Histogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
  }

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return total_ == 0 ? 0.0 : static_cast<double>(sum_) / total_; }

  // The value at quantile q (0..1): the middle of the bucket holding the ceil(q * count)-th
  // smallest value. 0 when empty.
  std::uint64_t Percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.5);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(Middle(i), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr unsigned kMaxLog2 = 40;
  static constexpr std::size_t kLinear = std::size_t{1} << (kSubBits + 1);  // 128

  static std::size_t Index(std::uint64_t v) {
    if (v < kLinear) return static_cast<std::size_t>(v);
    const unsigned log2 = 63 - static_cast<unsigned>(std::countl_zero(v));    // >= 7
    const unsigned shift = log2 - kSubBits;                                   // >= 1
    const std::uint64_t sub = (v >> shift) - (std::uint64_t{1} << kSubBits);  // 0..63
    return kLinear + (shift - 1) * (std::size_t{1} << kSubBits) + static_cast<std::size_t>(sub);
  }

  static std::uint64_t Middle(std::size_t index) {
    if (index < kLinear) return index;
    const std::size_t rest = index - kLinear;
    const unsigned shift = static_cast<unsigned>(rest >> kSubBits) + 1;
    const std::uint64_t sub =
        (rest & ((std::size_t{1} << kSubBits) - 1)) + (std::uint64_t{1} << kSubBits);
    return (sub << shift) + (std::uint64_t{1} << (shift - 1));
  }

  std::array<std::uint64_t, kLinear + (kMaxLog2 - kSubBits) * (std::size_t{1} << kSubBits)>
      counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace rc::loadgen
