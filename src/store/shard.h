// store/shard.h -- one shard of the store: a chained hash table, two S3-FIFO queues, a ghost
// table, and the counters that `stats` sums.
//
// The store has 2^shard_bits shards, picked by the top bits of base::HashKey(key); the bucket
// within a shard is picked by the low bits. Each shard has one mutex guarding everything in it,
// so an operation on a key takes exactly one lock, held for a hash-chain walk and a few pointer
// writes, and never two shard locks at once.
//
// Eviction is S3-FIFO (Yang et al., SOSP'23; doc/store.md):
//   * New items enter the SMALL queue, or the MAIN queue when the ghost table remembers the key
//     was recently evicted from small, or when the item replaces one that had proven itself.
//   * A read only sets a saturating 2-bit frequency in the item (no list movement, no lock beyond
//     the one the lookup already holds).
//   * When memory is needed: if small holds more than 10% of the shard's bytes, its tail leaves:
//     to main if it was read while in small (frequency reset), else out of the cache, its key's
//     fingerprint going to the ghost table. Otherwise main's tail leaves unless its frequency is
//     non-zero, in which case it is reinserted at main's head with frequency - 1 (CLOCK).
//   * An expired or flushed item met at a tail is reclaimed, not evicted. An item someone holds
//     an ItemRef to is passed over: evicting it would not free memory until the ref is dropped.
// One-hit wonders thus leave from small quickly, while anything read twice settles in main.
//
// The ghost table is one 16-bit fingerprint per bucket, direct-mapped and overwritten on
// collision, so it remembers about as many evicted keys as the shard holds items, allocation-free.
//
// Thread-safety: methods named *Locked require the caller to hold mu; the rest are documented.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/store/store.h"
#include "store/item.h"

namespace rc::store::internal {

// The time and flush state one operation judges items by.
struct Moment {
  base::RelTime now = 0;
  std::uint64_t flush_seq = 0;  // items whose cas (sequence) is below this are flushed

  bool Expired(const Item* item) const {
    base::RelTime e = item->exptime.load(std::memory_order_relaxed);
    return e != 0 && e <= now;
  }
  bool Flushed(const Item* item) const { return item->cas < flush_seq; }
};

// Why an item leaves the table; decides which counters move.
enum class UnlinkCause : std::uint8_t {
  kRemove,   // delete, overwrite, or lazy expiry on lookup (the caller counts get_expired)
  kEvict,    // pushed out to make room
  kReclaim,  // expired or flushed, found at a queue's tail while making room
  kCrawl,    // expired or flushed, found by the crawler
};

struct ClassCounters {
  std::uint64_t items = 0;
  std::uint64_t requested_bytes = 0;
  std::uint64_t evicted = 0;
  std::uint64_t evicted_nonzero = 0;
  std::uint64_t reclaimed = 0;
  std::uint64_t expired_unfetched = 0;
  std::uint64_t evicted_unfetched = 0;
  std::uint64_t crawler_reclaimed = 0;
};

struct ShardCounters {
  std::uint64_t total_items = 0;
  std::uint64_t evictions = 0;
  std::uint64_t reclaimed = 0;
  std::uint64_t expired_unfetched = 0;
  std::uint64_t evicted_unfetched = 0;
  std::uint64_t crawler_reclaimed = 0;
  std::uint64_t crawler_items_checked = 0;
};

class Shard {
 public:
  // `bucket_power`: log2 of the initial bucket count. `num_classes`: size classes to count.
  Shard(unsigned bucket_power, unsigned num_classes);
  // Drops the table's reference on every linked item.
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  std::mutex mu;

  // The item linked under `key`, live or not, or nullptr.
  Item* FindLocked(std::uint64_t hash, std::string_view key) const {
    for (Item* it = buckets_[hash & mask_]; it != nullptr; it = it->h_next) {
      if (it->key_len == key.size() && std::memcmp(it->data(), key.data(), key.size()) == 0) {
        return it;
      }
    }
    return nullptr;
  }

  // Links `item` (which must carry its new cas already) under `hash`, replacing `old` when
  // non-null. Takes the table's reference on `item`, drops it on `old`.
  void LinkLocked(Item* item, std::uint64_t hash, Item* old, base::RelTime now);
  // Removes `item` from the table and its queue and drops the table's reference. `expired`
  // (kReclaim, kCrawl): it went because it expired rather than because of a flush.
  void UnlinkLocked(Item* item, std::uint64_t hash, UnlinkCause cause, bool expired = false);

  // Frees one item's worth of memory: reclaims an expired/flushed item or (with `evict`) evicts
  // one. Without `evict` (memcached -M) only a few items at each tail are checked for expiry.
  // False when nothing could go.
  bool EvictOneLocked(const Moment& m, bool evict);

  // Records a read: the item was fetched, its frequency goes up, its last access is now.
  static void BumpLocked(Item* item, base::RelTime now);

  // Checks items from bucket *cursor on, reclaiming expired and flushed ones, until `max_items`
  // were checked or `max_buckets` visited; *checked grows by the items checked. Returns true when
  // the cursor ran past the last bucket.
  bool CrawlLocked(std::size_t* cursor, std::size_t max_items, std::size_t max_buckets,
                   const Moment& m, std::size_t* checked);

  // Calls fn for every live item; false if fn asked to stop.
  bool DumpLocked(const std::function<bool(const ItemInfo&)>& fn, const Moment& m) const;

  // For each class, the least recent last access among up to `max_walk` items from each queue's
  // tail (memcached reports its LRU tail's age; our queues are not per class, so this samples).
  void OldestAccessLocked(std::vector<base::RelTime>* oldest, std::size_t max_walk) const;

  std::size_t buckets() const { return mask_ + 1; }
  std::uint64_t count() const { return count_; }
  std::uint64_t linked_bytes() const { return linked_bytes_; }
  const ShardCounters& counters() const { return counters_; }
  const std::vector<ClassCounters>& classes() const { return classes_; }
  void ResetCountersLocked();

 private:
  struct Queue {
    Item* head = nullptr;  // newest
    Item* tail = nullptr;  // oldest
    std::uint64_t bytes = 0;
    std::uint64_t count = 0;
  };

  static void PushHead(Queue* q, Item* item);
  static void Remove(Queue* q, Item* item);
  Queue* QueueOf(const Item* item) { return (item->GetBits() & kInMain) ? &main_ : &small_; }

  static std::uint16_t Fingerprint(std::uint64_t hash) {
    auto fp = static_cast<std::uint16_t>(hash >> 32);
    return fp == 0 ? 1 : fp;
  }
  void GhostInsert(std::uint64_t hash) { ghost_[hash & mask_] = Fingerprint(hash); }
  bool GhostTake(std::uint64_t hash);

  // Removes `item` from its bucket's chain.
  void ChainRemove(Item* item, std::uint64_t hash);
  // Adds `item` to (or takes it out of) the item, byte and per-class counts.
  void Account(Item* item, bool add);
  void Grow();
  bool ReclaimIfDead(Item* item, const Moment& m);

  Item** buckets_ = nullptr;
  std::uint16_t* ghost_ = nullptr;  // one fingerprint per bucket, right after buckets_
  std::size_t mask_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t grow_at_ = 0;        // grow when count_ passes this (1.5 items per bucket)
  std::uint64_t linked_bytes_ = 0;  // usable bytes of linked items
  Queue small_;
  Queue main_;
  ShardCounters counters_;
  std::vector<ClassCounters> classes_;  // index: class id - 1
};

}  // namespace rc::store::internal
