// store/pool.h -- the Pool: a dedicated jemalloc arena that segments come from, and the byte
// account they (and the hash tables) are charged against.
//
// Accounting is by usable size (what nallocx() returns), reserved BEFORE the allocation, so the
// charged total never passes the limit, not even briefly. The one exception is ForceReserve(),
// for the few bytes that must be found while a shard lock is held (a hash table growing, an item
// copied forward during eviction); the next allocation that finds the account over its limit
// evicts it back under.
//
// The limit charges are checked against is the "effective" limit: the configured one minus the
// arena's measured overhead (allocator metadata, extent padding: what the arena holds resident
// beyond the charged bytes), re-measured after every purge. With segments the overhead is small,
// but dedicated segments for large items come and go in every size, and this keeps RSS honest.
// That adjustment applies only while evictions are on (with -M a delete must make room for a
// write of the same size, so the limit stays -m itself).
//
// Shared segments that are freed are kept on a free list (still charged) and handed out again,
// so a full cache turns segments over without touching jemalloc or the page tables; they go back
// to jemalloc only when the account is over the limit (cache_memlimit lowered).
//
// Pools are registered in a small process-wide table so that the last ItemRef into a segment,
// which holds nothing but an item pointer, can find the pool to return the segment to.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "ringcached/base/check.h"
#include "ringcached/base/mutex.h"
#include "store/item.h"

namespace rc::store::internal {

class Pool {
 public:
  // Creates the arena (fatal if jemalloc cannot: that is start-up, not the request path).
  // `segment_bytes`: the size of a shared segment (a power of two, at most kSegmentAlign).
  Pool(std::size_t limit, bool account_overhead, std::size_t segment_bytes);
  // Frees the free list and destroys the arena. Every other segment must have been freed.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Charges `bytes` if that keeps the total within the effective limit, less the spare.
  bool Reserve(std::size_t bytes) {
    std::size_t cur = used_.load(std::memory_order_relaxed);
    std::size_t lim = writers_limit();
    do {
      if (bytes > lim || cur > lim - bytes) return false;
    } while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
    return true;
  }
  // Charges `bytes` whatever the limit (see the header comment).
  void ForceReserve(std::size_t bytes) { used_.fetch_add(bytes, std::memory_order_relaxed); }
  void Unreserve(std::size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  bool OverLimit() const { return used() > effective_limit(); }

  std::size_t segment_bytes() const { return segment_bytes_; }
  // The usable size of a dedicated segment holding `item_bytes` of item (header included).
  std::size_t DedicatedBytes(std::size_t item_bytes) const;

  // A shared segment from the free list, already charged; nullptr when the list is empty. A
  // writer (not `for_compaction`) does not get the spare: the last free segment of a full pool.
  Segment* TakeFree(bool for_compaction);
  // Keeps one shared segment of the limit for eviction's copies while `on` (see pool.cc).
  void KeepSpare(bool on) { spare_.store(on ? segment_bytes_ : 0, std::memory_order_relaxed); }
  // A new segment of `bytes` (segment_bytes() or a DedicatedBytes() value) whose charge the
  // caller has reserved. nullptr when jemalloc fails (the caller unreserves).
  Segment* AllocateSegment(std::size_t bytes, bool dedicated);
  // Returns a segment nobody references any more: to the free list, or to jemalloc with its charge.
  void Retire(Segment* segment);
  // Gives one free-list segment back to jemalloc, with its charge. False when the list is empty.
  bool DropFree();
  // How many segments the free list holds (read without its lock: a hint).
  std::size_t free_count() const { return free_count_.load(std::memory_order_relaxed); }
  // Whether a writer's TakeFree would find one (a hint, as free_count()).
  bool WriterMayTakeFree() const {
    return free_count() > (spare_.load(std::memory_order_relaxed) != 0 ? 1 : 0);
  }
  // Whether one more shared segment's charge would fit under the limit, less the spare.
  bool CanGrow() const { return used() + segment_bytes_ <= writers_limit(); }

  // Measures the arena's overhead if that has never been done (the first time memory runs
  // short, before any purge has measured it).
  void MeasureOnce() {
    if (RC_UNLIKELY(!measured_.load(std::memory_order_relaxed))) PurgeAndMeasure();
  }

  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  // The configured limit (-m, cache_memlimit), as `stats` reports it.
  std::size_t limit() const { return limit_.load(std::memory_order_relaxed); }
  std::size_t effective_limit() const { return effective_limit_.load(std::memory_order_relaxed); }
  // What the arena held resident beyond the charges at the last measurement (pool.cc).
  std::size_t overhead() const { return overhead_.load(std::memory_order_relaxed); }
  void set_limit(std::size_t bytes);
  std::uint8_t id() const { return id_; }
  // Whether memory the arena frees stays mapped (jemalloc's opt.retain), so that reading a
  // stale item address cannot fault (Store::FindHint).
  bool retains_memory() const { return retains_memory_; }

  static Pool* ById(std::uint8_t id) { return registry_[id].load(std::memory_order_acquire); }

 private:
  std::size_t writers_limit() const {
    std::size_t lim = effective_limit();
    std::size_t spare = spare_.load(std::memory_order_relaxed);
    return lim > spare ? lim - spare : 0;
  }
  void Free(Segment* segment);
  void PurgeAndMeasure();
  void UpdateEffectiveLimit();

  static constexpr unsigned kMaxPools = 256;
  static std::atomic<Pool*> registry_[kMaxPools];
  static base::Mutex registry_mu_;  // registering and unregistering (registry_ is read freely)

  std::atomic<std::size_t> used_{0};
  std::atomic<std::size_t> effective_limit_;
  std::atomic<std::size_t> freed_since_purge_{0};
  std::atomic<std::size_t> spare_{0};  // KeepSpare()
  std::atomic<std::size_t> limit_;
  std::atomic<std::size_t> overhead_{0};
  const bool account_overhead_;
  const std::size_t segment_bytes_;
  std::atomic<bool> measured_{false};
  std::mutex measure_mu_;  // one purge-and-measure at a time (guards no data)
  base::Mutex free_mu_;
  std::vector<Segment*> free_ RC_GUARDED_BY(free_mu_);  // shared segments ready for reuse (charged)
  std::atomic<std::size_t> free_count_{0};  // free_.size(), for free_count()
  unsigned arena_ = 0;
  int mallocx_flags_ = 0;
  std::size_t purge_mib_[3] = {};     // "arena.<arena_>.purge", resolved once
  std::size_t purge_miblen_ = 0;
  std::size_t resident_mib_[4] = {};  // "stats.arenas.<arena_>.resident"
  std::size_t resident_miblen_ = 0;
  std::uint8_t id_ = 0;
  bool retains_memory_ = false;
};

}  // namespace rc::store::internal
