// base/counter.h -- Counter: a statistic written by one thread and read by any.
//
// Each worker owns its counters and bumps them without a lock or a locked instruction (a relaxed
// load and store compile to plain moves on x86-64); `stats` sums them across workers. Relaxed
// atomics make the concurrent read well-defined; a reader may see a value a few increments old,
// as memcached's per-thread stats do.
#pragma once

#include <atomic>
#include <cstdint>

namespace rc::base {

class Counter {
 public:
  void Add(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t Get() const { return v_.load(std::memory_order_relaxed); }
  void Reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

}  // namespace rc::base
