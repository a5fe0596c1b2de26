// store/pool.cc -- the Pool: segments from a dedicated jemalloc arena, and their byte account.
//
// Why a dedicated arena: segment memory then never shares extents with the rest of the process
// (connection buffers), so what the store frees can go back to the OS on the arena's own
// schedule, and the arena's statistics describe the store alone: the Pool purges it and measures
// its overhead to keep RSS, not just the charges, within the limit. Segments bypass the thread
// cache (MALLOCX_TCACHE_NONE): they are large, and a cache would hide freed memory from the arena.
//
// Sanitizer builds (RC_SANITIZERS) take segments from aligned_alloc instead, so AddressSanitizer
// sees plain heap blocks. The accounting is the same.
#include <jemalloc/jemalloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "ringcached/base/check.h"
#include "ringcached/store/store.h"
#include "store/item.h"
#include "store/pool.h"

namespace rc::store {
namespace internal {
namespace {

// Returning freed pages to the OS. The memory limit is meant as a bound on RSS, so the pages the
// arena keeps "dirty" (freed, still resident, ready for reuse) must stay few. Time-based decay
// alone cannot promise that: right after a burst of churn, a 1 s decay still holds up to a
// second's worth of frees (measured: +40 MB over a 64 MB limit when value sizes drift), while
// decay 0 purges every freed extent at once and costs large values half their set rate or more,
// because each reuse faults its pages in again. So: a 1 s decay for idle periods, plus an
// explicit purge each time the bytes freed since the last one reach 1/kPurgeDivisor of the
// limit, which bounds dirty pages by volume whatever the churn rate. muzzy_decay_ms = 0 makes
// purges use MADV_DONTNEED, not MADV_FREE, whose pages still count in RSS until the kernel
// needs them.
constexpr long kDirtyDecayMs = 1000;
constexpr long kMuzzyDecayMs = 0;
constexpr std::size_t kPurgeDivisor = 64;
constexpr std::size_t kMinPurgeBytes = 256 << 10;
// The measured overhead may take at most this share of the limit from the items; beyond it,
// fragmentation is pathological and shrinking the cache further would not be the right answer.
constexpr std::size_t kMaxOverheadDivisor = 8;

#ifndef RC_SANITIZERS
void SetArenaDecay(unsigned arena, const char* what, long ms) {
  char name[64];
  std::snprintf(name, sizeof(name), "arena.%u.%s", arena, what);
  ssize_t value = ms;
  // Not fatal: an older jemalloc without decay controls still works, with more RSS slack.
  (void)mallctl(name, nullptr, nullptr, &value, sizeof(value));
}

bool OvercommitDisabled() {
  std::FILE* f = std::fopen("/proc/sys/vm/overcommit_memory", "r");
  if (f == nullptr) return true;  // unknown: assume the cautious answer
  int mode = 0;
  bool read = std::fscanf(f, "%d", &mode) == 1;
  std::fclose(f);
  return !read || mode == 2;
}
#endif

// How far ahead of the write offset a shared segment's pages are faulted in.
constexpr std::size_t kPopulateAhead = 64 << 10;

}  // namespace

// Faults in the pages the writer is about to fill, a batch per system call. Memory the arena has
// not used yet (or has purged) otherwise takes one page fault per 4 KB as items are written, and
// a fault's fixed costs (the trap, the memory cgroup charge, the page-table lock) are most of a
// page's price: with 100 KB values over a cache still growing, page faults took 9% of the
// server's CPU, 6.5% when populated in batches. A shared segment is populated kPopulateAhead at a
// time, so an open segment holds at most that much memory it has not written; a dedicated one
// exactly as far as its item. Best effort: kernels before 5.14 lack MADV_POPULATE_WRITE, and the
// pages then fault in as they are written.
void Segment::Populate() {
  static const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  std::size_t target = dedicated ? write_offset
                                 : std::min(capacity(), std::max(write_offset,
                                                                 populated + kPopulateAhead));
  auto from = reinterpret_cast<std::uintptr_t>(begin() + populated) & ~(page - 1);
  auto to = (reinterpret_cast<std::uintptr_t>(begin() + target) + page - 1) & ~(page - 1);
#ifdef MADV_POPULATE_WRITE
  (void)madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE);
#else
  (void)from;
  (void)to;
#endif
  populated = target;
}

std::atomic<Pool*> Pool::registry_[kMaxPools];
base::Mutex Pool::registry_mu_;

Pool::Pool(std::size_t limit, bool account_overhead, std::size_t segment_bytes)
    : effective_limit_(limit),
      limit_(limit),
      account_overhead_(account_overhead),
      segment_bytes_(segment_bytes) {
  RC_CHECK(std::has_single_bit(segment_bytes) && segment_bytes <= kSegmentAlign);
  {
    base::MutexLock lock(registry_mu_);
    unsigned slot = 0;
    while (slot < kMaxPools && registry_[slot].load(std::memory_order_relaxed) != nullptr) ++slot;
    RC_CHECK(slot < kMaxPools);  // more than 256 live Stores in one process
    id_ = static_cast<std::uint8_t>(slot);
    registry_[slot].store(this, std::memory_order_release);
  }
#ifndef RC_SANITIZERS
  std::size_t len = sizeof(arena_);
  RC_CHECK(mallctl("arenas.create", &arena_, &len, nullptr, 0) == 0);
  SetArenaDecay(arena_, "dirty_decay_ms", kDirtyDecayMs);
  SetArenaDecay(arena_, "muzzy_decay_ms", kMuzzyDecayMs);
  // Every segment is aligned to kSegmentAlign (item.h). That also turns off jemalloc's
  // cache-oblivious random offset for large extents, so a segment touches no page beyond its size.
  mallocx_flags_ = MALLOCX_ARENA(arena_) | MALLOCX_TCACHE_NONE |
                   MALLOCX_LG_ALIGN(std::countr_zero(kSegmentAlign));

  // Freed memory stays readable when jemalloc retains it (opt.retain) and the kernel
  // overcommits: with overcommit off (vm.overcommit_memory = 2) jemalloc decommits what it
  // retains by remapping it PROT_NONE.
  bool retain = false;
  std::size_t retain_len = sizeof(retain);
  retains_memory_ = mallctl("opt.retain", &retain, &retain_len, nullptr, 0) == 0 && retain &&
                    !OvercommitDisabled();

  purge_miblen_ = sizeof(purge_mib_) / sizeof(purge_mib_[0]);
  RC_CHECK(mallctlnametomib("arena.0.purge", purge_mib_, &purge_miblen_) == 0);
  purge_mib_[1] = arena_;
  resident_miblen_ = sizeof(resident_mib_) / sizeof(resident_mib_[0]);
  if (mallctlnametomib("stats.arenas.0.resident", resident_mib_, &resident_miblen_) == 0) {
    resident_mib_[2] = arena_;
  } else {
    resident_miblen_ = 0;  // jemalloc built without statistics: no overhead measurement
  }
#endif
}

Pool::~Pool() {
  for (Segment* s : free_) {
    used_.fetch_sub(s->bytes, std::memory_order_relaxed);
    Free(s);
  }
#ifndef RC_SANITIZERS
  char name[64];
  std::snprintf(name, sizeof(name), "arena.%u.destroy", arena_);
  (void)mallctl(name, nullptr, nullptr, nullptr, 0);
#endif
  base::MutexLock lock(registry_mu_);
  registry_[id_].store(nullptr, std::memory_order_release);
}

void Pool::set_limit(std::size_t bytes) {
  limit_.store(bytes, std::memory_order_relaxed);
  UpdateEffectiveLimit();
}

void Pool::UpdateEffectiveLimit() {
  std::size_t lim = limit_.load(std::memory_order_relaxed);
  std::size_t over = account_overhead_ ? std::min(overhead_.load(std::memory_order_relaxed),
                                                  lim / kMaxOverheadDivisor)
                                       : 0;
  effective_limit_.store(lim - over, std::memory_order_relaxed);
}

std::size_t Pool::DedicatedBytes(std::size_t item_bytes) const {
  std::size_t want = Segment::kHeaderBytes + item_bytes;
#ifdef RC_SANITIZERS
  return (want + 4095) & ~std::size_t{4095};
#else
  return nallocx(want, mallocx_flags_);
#endif
}

// The spare (KeepSpare). Eviction copies the items it keeps into a fresh segment before it frees
// the one it empties. In a full pool that fresh segment lies beyond the limit, so the emptied one
// must then go back to jemalloc, and the purge that bounds dirty pages unmaps it, only for the
// next copy to fault a segment's pages in again: at -m 64, where every free crosses the purge
// threshold, each compaction did, and zeroing and unmapping pages took a third of the set p99
// under churn. With one segment of the limit kept back from writers, the copy takes the spare,
// the emptied segment returns to the free list as the next spare, and no page moves. The store
// keeps it only while eviction copies items (Store::Impl::NoteCopying): a write-once fill copies
// nothing and keeps all of the limit for items.
Segment* Pool::TakeFree(bool for_compaction) {
  base::MutexLock lock(free_mu_);
  if (free_.empty()) return nullptr;
  if (!for_compaction && free_.size() == 1 &&
      used() + spare_.load(std::memory_order_relaxed) > effective_limit()) {
    return nullptr;
  }
  Segment* s = free_.back();
  free_.pop_back();
  free_count_.store(free_.size(), std::memory_order_relaxed);
  s->Reset();
  s->populated = s->capacity();  // written before: its pages are present
  return s;
}

Segment* Pool::AllocateSegment(std::size_t bytes, bool dedicated) {
#ifdef RC_SANITIZERS
  void* mem = std::aligned_alloc(kSegmentAlign, (bytes + kSegmentAlign - 1) & ~(kSegmentAlign - 1));
#else
  void* mem = mallocx(bytes, mallocx_flags_);
#endif
  if (mem == nullptr) return nullptr;
  auto* s = new (mem) Segment;
  s->pool_id = id_;
  s->dedicated = dedicated;
  s->bytes = bytes;
  s->populated = 0;
  s->reserved_ = 0;
  s->Reset();
  return s;
}

void Pool::Retire(Segment* segment) {
  if (!segment->dedicated && !OverLimit()) {
    segment->list = SegmentList::kFree;
    base::MutexLock lock(free_mu_);
    free_.push_back(segment);
    free_count_.store(free_.size(), std::memory_order_relaxed);
    return;
  }
  std::size_t bytes = segment->bytes;
  Free(segment);
  used_.fetch_sub(bytes, std::memory_order_relaxed);
#ifndef RC_SANITIZERS
  std::size_t threshold = std::max(limit() / kPurgeDivisor, kMinPurgeBytes);
  if (freed_since_purge_.fetch_add(bytes, std::memory_order_relaxed) + bytes >= threshold &&
      freed_since_purge_.exchange(0, std::memory_order_relaxed) >= threshold) {
    PurgeAndMeasure();
  }
#endif
}

bool Pool::DropFree() {
  Segment* s;
  {
    base::MutexLock lock(free_mu_);
    if (free_.empty()) return false;
    s = free_.back();
    free_.pop_back();
    free_count_.store(free_.size(), std::memory_order_relaxed);
  }
  std::size_t bytes = s->bytes;
  Free(s);
  used_.fetch_sub(bytes, std::memory_order_relaxed);
  return true;
}

void Pool::Free(Segment* segment) {
#ifdef RC_SANITIZERS
  std::free(segment);
#else
  sdallocx(segment, segment->bytes, mallocx_flags_);
#endif
}

void ReleaseSegment(Segment* segment) {
  if (segment->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    Pool::ById(segment->pool_id)->Retire(segment);
  }
}

void Pool::PurgeAndMeasure() {
#ifndef RC_SANITIZERS
  // Synchronous, on whichever thread crossed the line: it madvises at most about a threshold's
  // worth of dirty pages, amortised over the frees that made them. A concurrent caller skips.
  std::unique_lock<std::mutex> lock(measure_mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  (void)mallctlbymib(purge_mib_, purge_miblen_, nullptr, nullptr, nullptr, 0);
  measured_.store(true, std::memory_order_relaxed);
  if (resident_miblen_ == 0) return;
  // Right after the purge nothing is dirty, so what the arena holds beyond the charges is
  // slab fragmentation, allocator metadata and the padding page of large extents. jemalloc's
  // "resident" is an upper bound (it counts every page of an active extent, touched or not),
  // so holding charges + overhead within the limit holds the arena's real RSS within it too.
  // The price is some capacity: measured with 64 MB limits, items kept 92-97% of -m, more than
  // memcached's slab rounding typically leaves them.
  std::uint64_t epoch = 1;
  (void)mallctl("epoch", nullptr, nullptr, &epoch, sizeof(epoch));
  std::size_t resident = 0;
  std::size_t len = sizeof(resident);
  if (mallctlbymib(resident_mib_, resident_miblen_, &resident, &len, nullptr, 0) != 0) return;
  std::size_t charged = used();
  overhead_.store(resident > charged ? resident - charged : 0, std::memory_order_relaxed);
  UpdateEffectiveLimit();
#endif
}

}  // namespace internal
}  // namespace rc::store
