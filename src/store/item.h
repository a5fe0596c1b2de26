// store/item.h -- the item header, and the Pool that item memory comes from and is charged to.
//
// An item is ONE jemalloc allocation: a 56-byte header, the key, the value and "\r\n". Keeping
// the CRLF lets a connection send value_with_crlf() as one iovec. Memcached's header is 48 bytes
// plus 8 of CAS; ours is the same 56 bytes including the hash-chain link and both eviction-queue
// links (doc/store.md).
//
//   0        8        16       24       32   36   40   44   48   52 53 54 55 56
//   +--------+--------+--------+--------+----+----+----+----+----+--+--+--+--+------+-------+----+
//   | h_next | q_next | q_prev |  cas   |refs|exp |atim|flag|vlen|kl|bt|cl|pl| key  | value |\r\n|
//   +--------+--------+--------+--------+----+----+----+----+----+--+--+--+--+------+-------+----+
//   h_next   next item in the same hash bucket (shard's chained table)
//   q_next   neighbour towards the queue's tail (older); q_prev towards the head (newer)
//   cas      the modification sequence number; CAS unique when CAS is on (always non-zero once
//            linked; also drives flush_all's exact cut-off)
//   refs     reference count: the hash table holds one while linked, each ItemRef one
//   exp      expiry (RelTime, 0 = never); atim: last access (RelTime)
//   flag     client flags; vlen: value length (without CRLF); kl: key length (1..250)
//   bt       Bits below (S3-FIFO frequency, which queue, linked, fetched, CAS hidden, and the
//            meta protocol's stale / win-token-sent state)
//   cl       size class id (SizeClasses); the usable size is the class size
//   pl       low 7 bits: id of the Pool (store) the item belongs to, so a last ItemRef can free
//            it; top bit: the key arrived base64-encoded (meta `b`), so meta replies encode it
//
// Lifetime: Allocate -> refs 1 (the caller's ItemRef). Link adds the table's reference; unlink
// drops it. Whoever drops the count to zero frees the memory and the charge, on any thread.
// Fields other than refs, exp, atim, bt and cas never change while anyone but the shard (under its
// lock) can see the item; the first four are atomics so ItemRef readers race with nothing, and
// cas, which a meta invalidation renews in place, is written and read through std::atomic_ref
// wherever an ItemRef holder may be reading it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "ringcached/base/check.h"
#include "ringcached/base/clock.h"
#include "store/size_classes.h"

namespace rc::store::internal {

// Item::bits.
inline constexpr std::uint8_t kFreqMask = 0x03;   // S3-FIFO access count, saturating at 3
inline constexpr std::uint8_t kInMain = 0x04;     // in the main queue (else the small queue)
inline constexpr std::uint8_t kLinked = 0x08;     // in the hash table and a queue
inline constexpr std::uint8_t kFetched = 0x10;    // read at least once since it was linked
inline constexpr std::uint8_t kCasHidden = 0x20;  // -C: cas() reads as 0
// The meta protocol's anti-stampede state (memcached ITEM_STALE, ITEM_TOKEN_SENT).
inline constexpr std::uint8_t kStale = 0x40;         // invalidated (md I, ms I): serve, but recache
inline constexpr std::uint8_t kWinTokenSent = 0x80;  // a client was told it won the recache (W)

struct Item {
  Item* h_next;
  Item* q_next;
  Item* q_prev;
  std::uint64_t cas;
  std::atomic<std::uint32_t> refcount;
  std::atomic<base::RelTime> exptime;
  std::atomic<base::RelTime> last_access;
  std::uint32_t client_flags;
  std::uint32_t value_len;
  std::uint8_t key_len;
  std::atomic<std::uint8_t> bits;
  std::uint8_t class_id;
  // Both written once, before the item is linked (append/prepend and incr copy key_binary over).
  std::uint8_t pool_id : 7;
  std::uint8_t key_binary : 1;

  char* data() { return reinterpret_cast<char*>(this + 1); }
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  std::string_view key() const { return {data(), key_len}; }
  char* value() { return data() + key_len; }
  const char* value() const { return data() + key_len; }

  std::uint8_t GetBits() const { return bits.load(std::memory_order_relaxed); }
  // Only the shard that owns the item (under its lock) or the allocating thread writes bits.
  void SetBits(std::uint8_t b) { bits.store(b, std::memory_order_relaxed); }
  bool linked() const { return (GetBits() & kLinked) != 0; }
  unsigned freq() const { return GetBits() & kFreqMask; }

  // Header + key + value + CRLF: the bytes the item needs, before rounding up to its class.
  std::size_t total_size() const { return TotalSize(key_len, value_len); }
  std::size_t usable_size() const { return SizeClasses::Get().ClassSize(class_id); }

  static std::size_t TotalSize(std::size_t key_len, std::size_t value_len) {
    return sizeof(Item) + key_len + value_len + 2;
  }
};

static_assert(sizeof(Item) == 56, "the item header must stay within memcached's 48 + 8 bytes");

// A size class as `stats` reports it: jemalloc's classes renumbered from the smallest one an item
// (header + 1-byte key + "\r\n") can occupy, so that small items are class 1 as in memcached and
// tools that dump class 1 find them.
inline unsigned ReportedClass(unsigned class_id) {
  static const unsigned first = SizeClasses::Get().ClassOf(Item::TotalSize(1, 0));
  return class_id >= first ? class_id - first + 1 : 1;
}
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Item memory: a dedicated jemalloc arena and the account it is charged against. Accounting is
// by usable size (the class size, what nallocx() returns), reserved BEFORE the allocation, so the
// charged total can never pass the limit, not even briefly.
//
// The limit charges are checked against is the "effective" limit: the configured one minus the
// arena's measured overhead (slab fragmentation, allocator metadata, extent padding: what the
// arena holds resident beyond the charged bytes), re-measured after every purge. Charged bytes
// thus never exceed -m, and neither, give or take one purge interval of dirty pages, does the
// arena's resident memory. See item.cc for the purge policy.
//
// That adjustment applies only while evictions are on. With -M the operator's contract is that a
// delete makes room for a write of the same size, and space freed inside jemalloc's slabs is
// reusable by that write even though it stays resident, so the limit stays -m itself.
//
// Pools are registered in a small process-wide table so that an ItemRef, which holds nothing but
// the item pointer, can find the pool to return memory to (Item::pool_id).
//
// Thread-safety: every method may be called from any thread.
class Pool {
 public:
  // Creates the arena (fatal if jemalloc cannot: that is start-up, not the request path).
  // `account_overhead`: hold charges below the limit minus the measured arena overhead (the
  // store passes its evictions setting).
  Pool(std::size_t limit, bool account_overhead);
  // Destroys the arena. Every item must have been freed.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Charges `usable` bytes if that keeps the total within the effective limit.
  bool Reserve(std::size_t usable) {
    std::size_t cur = used_.load(std::memory_order_relaxed);
    std::size_t lim = effective_limit_.load(std::memory_order_relaxed);
    do {
      if (usable > lim || cur > lim - usable) return false;
    } while (!used_.compare_exchange_weak(cur, cur + usable, std::memory_order_relaxed));
    return true;
  }
  void Unreserve(std::size_t usable) { used_.fetch_sub(usable, std::memory_order_relaxed); }

  // Allocates `total` bytes of size class `class_id`, whose size the caller has reserved.
  // nullptr on failure.
  void* Allocate(std::size_t total, unsigned class_id);
  // Returns an item's memory and its charge.
  void Free(Item* item);

  // Measures the arena's overhead if that has never been done (the first time memory runs
  // short, before any purge has measured it).
  void MeasureOnce() {
    if (RC_UNLIKELY(!measured_.load(std::memory_order_relaxed))) PurgeAndMeasure();
  }

  std::size_t used() const { return used_.load(std::memory_order_relaxed); }
  // The configured limit (-m, cache_memlimit), as `stats` reports it.
  std::size_t limit() const { return limit_.load(std::memory_order_relaxed); }
  // What charges are held to: the limit less the measured overhead.
  std::size_t effective_limit() const { return effective_limit_.load(std::memory_order_relaxed); }
  void set_limit(std::size_t bytes);
  std::uint8_t id() const { return id_; }

  static Pool* ById(std::uint8_t id) { return registry_[id].load(std::memory_order_acquire); }

 private:
  void PurgeAndMeasure();
  void UpdateEffectiveLimit();

  // Pool ids are 7 bits wide in the item header (Item::pool_id).
  static constexpr unsigned kMaxPools = 128;
  static std::atomic<Pool*> registry_[kMaxPools];
  static std::mutex registry_mu_;

  std::atomic<std::size_t> used_{0};
  std::atomic<std::size_t> effective_limit_;
  std::atomic<std::size_t> freed_since_purge_{0};  // next to used_: one cache line for all three
  std::atomic<std::size_t> limit_;
  std::atomic<std::size_t> overhead_{0};
  const bool account_overhead_;
  std::atomic<bool> measured_{false};
  std::mutex measure_mu_;  // one purge-and-measure at a time
  unsigned arena_ = 0;
  int mallocx_flags_ = 0;        // small classes
  int large_mallocx_flags_ = 0;  // large classes: page-aligned (see item.cc)
  std::size_t purge_mib_[3] = {};     // "arena.<arena_>.purge", resolved once
  std::size_t purge_miblen_ = 0;
  std::size_t resident_mib_[4] = {};  // "stats.arenas.<arena_>.resident"
  std::size_t resident_miblen_ = 0;
  std::uint8_t id_ = 0;
};

// Drops one reference; the last one frees the item.
inline void ReleaseItem(Item* item) {
  if (item->refcount.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    Pool::ById(item->pool_id)->Free(item);
  }
}

}  // namespace rc::store::internal
