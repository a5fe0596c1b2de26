// store/item.cc -- the Pool (a dedicated jemalloc arena plus its byte account) and ItemRef.
//
// Why a dedicated arena: item memory then never shares extents with the rest of the process
// (connection buffers), so what the store frees can go back to the OS on the arena's own
// schedule, and the arena's statistics describe items alone: the Pool purges it and measures
// its overhead to keep RSS, not just the charges, within the limit. Items bypass the thread cache
// (MALLOCX_TCACHE_NONE): a cache would hide freed memory from the arena, and the accounting
// already serialises on an atomic, so the per-bin lock it saves is not the bottleneck.
//
// Sanitizer builds (RC_SANITIZERS) take items from plain malloc instead, so AddressSanitizer sees
// every item as its own block and reports a use after the last ItemRef let go, or an overrun of
// the value. The accounting is identical: it charges jemalloc's class size either way.
#include <jemalloc/jemalloc.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>

#include "ringcached/base/check.h"
#include "ringcached/store/store.h"
#include "store/item.h"

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
#endif

}  // namespace

std::atomic<Pool*> Pool::registry_[kMaxPools];
std::mutex Pool::registry_mu_;

Pool::Pool(std::size_t limit, bool account_overhead)
    : effective_limit_(limit), limit_(limit), account_overhead_(account_overhead) {
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    unsigned slot = 0;
    while (slot < kMaxPools && registry_[slot].load(std::memory_order_relaxed) != nullptr) ++slot;
    RC_CHECK(slot < kMaxPools);  // more than 128 live Stores in one process
    id_ = static_cast<std::uint8_t>(slot);
    registry_[slot].store(this, std::memory_order_release);
  }
#ifndef RC_SANITIZERS
  std::size_t len = sizeof(arena_);
  RC_CHECK(mallctl("arenas.create", &arena_, &len, nullptr, 0) == 0);
  SetArenaDecay(arena_, "dirty_decay_ms", kDirtyDecayMs);
  SetArenaDecay(arena_, "muzzy_decay_ms", kMuzzyDecayMs);
  mallocx_flags_ = MALLOCX_ARENA(arena_) | MALLOCX_TCACHE_NONE;
  // Large extents carry one page of padding so that, by default ("cache oblivious"), jemalloc
  // can start the data at a random cache line within the first page. The data then touches one
  // page more than its class size -- 25% more RSS than we account for a 16 KiB item. Asking for
  // page alignment turns the random offset off: the data starts at the extent's first page and
  // the padding page at its end is never touched.
  std::size_t page = SizeClasses::Get().page();
  large_mallocx_flags_ = mallocx_flags_ | MALLOCX_LG_ALIGN(std::countr_zero(page));

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
#ifndef RC_SANITIZERS
  char name[64];
  std::snprintf(name, sizeof(name), "arena.%u.destroy", arena_);
  (void)mallctl(name, nullptr, nullptr, nullptr, 0);
#endif
  std::lock_guard<std::mutex> lock(registry_mu_);
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

void* Pool::Allocate(std::size_t total, unsigned class_id) {
#ifdef RC_SANITIZERS
  (void)class_id;
  return std::malloc(total);
#else
  return mallocx(total, SizeClasses::Get().IsLarge(class_id) ? large_mallocx_flags_
                                                              : mallocx_flags_);
#endif
}

void Pool::Free(Item* item) {
  std::size_t usable = item->usable_size();
#ifdef RC_SANITIZERS
  std::free(item);
  used_.fetch_sub(usable, std::memory_order_relaxed);
#else
  // sdallocx accepts any size between the request and the usable size; the class size is the
  // cheapest for jemalloc to map back to its bin.
  sdallocx(item, usable,
           SizeClasses::Get().IsLarge(item->class_id) ? large_mallocx_flags_ : mallocx_flags_);
  used_.fetch_sub(usable, std::memory_order_relaxed);
  std::size_t threshold = std::max(limit() / kPurgeDivisor, kMinPurgeBytes);
  if (freed_since_purge_.fetch_add(usable, std::memory_order_relaxed) + usable >= threshold &&
      freed_since_purge_.exchange(0, std::memory_order_relaxed) >= threshold) {
    PurgeAndMeasure();
  }
#endif
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

// ---------------------------------------------------------------------------------------------
// ItemRef

ItemRef& ItemRef::operator=(ItemRef&& other) noexcept {
  if (this != &other) {
    Reset();
    item_ = other.item_;
    other.item_ = nullptr;
  }
  return *this;
}

void ItemRef::Reset() {
  if (item_ != nullptr) {
    internal::ReleaseItem(item_);
    item_ = nullptr;
  }
}

std::string_view ItemRef::key() const { return item_->key(); }

std::string_view ItemRef::value() const { return {item_->value(), item_->value_len}; }

std::string_view ItemRef::value_with_crlf() const {
  return {item_->value(), static_cast<std::size_t>(item_->value_len) + 2};
}

std::uint32_t ItemRef::flags() const { return item_->client_flags; }

std::uint64_t ItemRef::cas() const {
  if ((item_->GetBits() & internal::kCasHidden) != 0) return 0;
  // A meta invalidation may renew the CAS of a linked item while we hold it.
  return std::atomic_ref<std::uint64_t>(item_->cas).load(std::memory_order_relaxed);
}

bool ItemRef::fetched() const { return (item_->GetBits() & internal::kFetched) != 0; }

bool ItemRef::stale() const { return (item_->GetBits() & internal::kStale) != 0; }

bool ItemRef::win_token_sent() const {
  return (item_->GetBits() & internal::kWinTokenSent) != 0;
}

bool ItemRef::key_binary() const { return item_->key_binary != 0; }

void ItemRef::set_key_binary(bool binary) {
  RC_CHECK(!item_->linked() && item_->cas == 0);  // only before Put()
  item_->key_binary = binary ? 1 : 0;
}

base::RelTime ItemRef::exptime() const { return item_->exptime.load(std::memory_order_relaxed); }

base::RelTime ItemRef::last_access() const {
  return item_->last_access.load(std::memory_order_relaxed);
}

char* ItemRef::writable_value() const { return item_->value(); }

unsigned ItemRef::class_id() const { return internal::ReportedClass(item_->class_id); }

}  // namespace rc::store
