// store/shard.h -- one shard of the store: its hash table, its ghost table, and the counters that
// `stats` sums.
//
// The store has 2^shard_bits shards, picked by the top bits of base::HashKey(key). Each shard has
// one mutex guarding everything in it, so an operation on a key takes exactly one shard lock.
// Items themselves live in segments that all shards share (item.h); the shard only knows which
// items are linked under its keys.
//
// Eviction works on segments (store/segments.cc), in S3-FIFO's terms (Yang et al., SOSP'23): a read
// sets a saturating 2-bit frequency in the item, and when a segment leaves its queue the items in
// it that were read are copied forward instead of evicted. The shard's part is the ghost table:
// an 8-bit fingerprint of each key evicted from the small queue, so that a key coming back soon
// after is treated as proven (its item starts with frequency 1 and survives its first eviction
// pass). The ghost table is direct-mapped and overwritten on collision, at least one fingerprint
// per two table slots, and lives in the index's mapping (index.h), so the two tables are
// rebuilt, charged and returned to the OS together.
//
// Thread-safety: methods named *Locked require the caller to hold mu; the rest are documented.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/hash.h"
#include "ringcached/base/mutex.h"
#include "ringcached/store/store.h"
#include "store/index.h"
#include "store/item.h"

namespace rc::store::internal {

class Pool;

// The time and flush state one operation judges items by.
struct Moment {
  base::RelTime now = 0;
  std::uint64_t flush_version = 0;  // items whose version is below this are flushed

  bool Expired(const Item* item) const {
    base::RelTime e = item->exptime();
    return e != 0 && e <= now;
  }
  bool Flushed(const Item* item) const { return item->version() < flush_version; }
};

// Why an item leaves the table; decides which counters move.
enum class UnlinkCause : std::uint8_t {
  kRemove,   // delete, overwrite, or lazy expiry on lookup (the caller counts get_expired)
  kEvict,    // pushed out to make room
  kReclaim,  // expired or flushed, found by eviction
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

// An item's size class for `stats` (1-based; see Store::ClassOf).
unsigned ItemClass(const Item* item);

class Shard {
 public:
  // `slots`: the initial table size. `num_classes`: size classes to count. The table is charged
  // to `pool`.
  Shard(std::size_t slots, unsigned num_classes, Pool* pool);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  base::Mutex mu;

  // The item linked under `key`, live or not, or nullptr; *slot (if given) is its table slot.
  Item* FindLocked(std::uint64_t hash, std::string_view key, std::size_t* slot = nullptr) const
      RC_REQUIRES(mu) {
    std::size_t i = index_.Find(hash, key);
    if (slot != nullptr) *slot = i;
    return i == Index::kNone ? nullptr : index_.At(i);
  }
  // Whether `item` is the one linked under its key (which hashes to `hash`); its slot if so.
  std::size_t SlotOfLocked(std::uint64_t hash, const Item* item) const RC_REQUIRES(mu) {
    return item->linked() ? index_.FindItem(hash, item) : Index::kNone;
  }

  // Links `item` (which must carry its CAS already) under `hash`, replacing the item in `slot`
  // when that is not Index::kNone. `new_write`: counts in total_items (an incr/decr that
  // memcached would do in place does not).
  void LinkLocked(Item* item, std::uint64_t hash, std::size_t slot, base::RelTime now,
                  bool new_write = true) RC_REQUIRES(mu);
  // Points `slot` at `copy`, a copy of the linked item there made by eviction (same key, CAS and
  // state): accounting moves from the old item's segment to the copy's.
  void MoveLocked(std::size_t slot, Item* copy) RC_REQUIRES(mu);
  // Removes the item in `slot`. `expired` (kReclaim, kCrawl): it went because it expired rather
  // than because of a flush.
  void UnlinkLocked(std::size_t slot, std::uint64_t hash, UnlinkCause cause, bool expired = false)
      RC_REQUIRES(mu);

  // Records a read: the item was fetched, its frequency goes up, its last access is now.
  static void BumpLocked(Item* item, base::RelTime now);

  void GhostInsertLocked(std::uint64_t hash) RC_REQUIRES(mu) {
    index_.trailer()[GhostSlot(hash)] = Fingerprint(hash);
  }

  // Rebuilds the table if it is due (Index::NeedsRebuild). Call right after linking, still
  // under the lock.
  void MaybeRebuildLocked() RC_REQUIRES(mu) {
    if (RC_UNLIKELY(index_.NeedsRebuild())) Rebuild();
  }

  // Calls visit(slot, item, hash) for each linked item whose key hash has its low 32 bits in
  // [from, to) (to <= 2^32), in slot order: the slots from from's home through to's, then on
  // to the end of that run of used slots, as far as linear probing can have moved an item past
  // its home. A key's hash never changes and homes follow it in order, so consecutive ranges
  // cover every item once whatever the table's size between calls. `visit` may unlink the item
  // in its slot (a tombstone stops no walk).
  template <typename Visit>
  void VisitHashRangeLocked(std::uint64_t from, std::uint64_t to, Visit visit) RC_REQUIRES(mu) {
    const std::size_t n = index_.slots();
    if (n == 0 || from >= to) return;
    const std::size_t last_home = index_.HomeOfPosition(to - 1);
    std::size_t i = index_.HomeOfPosition(from);
    for (std::size_t visited = 0; visited < n; ++visited, i = i + 1 == n ? 0 : i + 1) {
      if (index_.Unused(i)) {
        // Past the last home (allowing for the wrap to slot 0), a free slot ends the run.
        if (visited > last_home - index_.HomeOfPosition(from)) break;
        continue;
      }
      if (!index_.Occupied(i)) continue;
      Item* it = index_.At(i);
      const std::uint64_t hash = base::HashKey(it->key());
      const std::uint64_t position = hash & 0xffffffffull;
      if (position >= from && position < to) visit(i, it, hash);
    }
  }

  // The crawler checked one more item (`stats`: crawler_items_checked).
  void CountCrawled() RC_REQUIRES(mu) { ++counters_.crawler_items_checked; }

  // Fills `info` with what Store::Dump shows of `it`.
  static void DescribeLocked(const Item* it, ItemInfo* info);

  // Per class, the least recent last access among up to `max_items` linked items (sampled from a
  // rotating point in the table).
  void OldestAccessLocked(std::vector<base::RelTime>* oldest, std::size_t max_items)
      RC_REQUIRES(mu);

  // The first item with the key's tag near its home slot (Store::FindHint).
  const Item* FirstTagMatchLocked(std::uint64_t hash) const RC_REQUIRES(mu) {
    return index_.FirstTagMatch(hash);
  }

  std::size_t table_slots() const RC_REQUIRES(mu) { return index_.slots(); }
  // The index and the ghost table: one mapping.
  std::size_t table_bytes() const RC_REQUIRES(mu) { return index_.bytes(); }
  // Linked items, tombstones apart.
  std::uint64_t count() const RC_REQUIRES(mu) { return index_.live() - tombstones_; }
  std::uint64_t linked_bytes() const RC_REQUIRES(mu) { return linked_bytes_; }
  std::uint64_t tombstones() const RC_REQUIRES(mu) { return tombstones_; }
  std::uint64_t tombstone_bytes() const RC_REQUIRES(mu) { return tombstone_bytes_; }
  // Linked items whose version a peer minted (kFromPeer: replicas), and their strides.
  std::uint64_t copies() const RC_REQUIRES(mu) { return copies_; }
  std::uint64_t copy_bytes() const RC_REQUIRES(mu) { return copy_bytes_; }
  // Linked guest copies (the layout's kGuest), and their strides.
  std::uint64_t guests() const RC_REQUIRES(mu) { return guests_; }
  std::uint64_t guest_bytes() const RC_REQUIRES(mu) { return guest_bytes_; }
  // The item in a slot FindLocked or SlotOfLocked returned.
  Item* AtLocked(std::size_t slot) RC_REQUIRES(mu) { return index_.At(slot); }
  const ShardCounters& counters() const RC_REQUIRES(mu) { return counters_; }
  // Counters per class, index class id - 1, up to the largest class linked so far.
  const std::vector<ClassCounters>& classes() const RC_REQUIRES(mu) { return classes_; }
  void ResetCountersLocked() RC_REQUIRES(mu);

 private:
  // The low 8 bits: the shard comes from the top bits and the ghost slot from bits 16-47, so
  // these vary independently of both. One false match in 256 makes a cold key look proven once.
  static std::uint8_t Fingerprint(std::uint64_t hash) {
    auto fp = static_cast<std::uint8_t>(hash & 0xff);
    return fp == 0 ? 1 : fp;
  }
  std::size_t GhostSlot(std::uint64_t hash) const RC_REQUIRES(mu) {
    return static_cast<std::size_t>(((hash >> 16) & 0xffffffffull) * index_.trailer_bytes() >> 32);
  }
  bool GhostTakeLocked(std::uint64_t hash) RC_REQUIRES(mu);
  ClassCounters& CountersOf(const Item* item) RC_REQUIRES(mu);
  void Account(const Item* item, bool add) RC_REQUIRES(mu);
  void Rebuild() RC_REQUIRES(mu);
  // The ghost table lives in the index's trailer: one fingerprint per two slots, at least, and
  // whatever the mapping's last page has room for.
  static std::size_t GhostBytesFor(std::size_t slots) {
    return std::max<std::size_t>(slots / 2, 8);
  }

  Pool* pool_;
  Index index_ RC_GUARDED_BY(mu);
  std::uint64_t linked_bytes_ RC_GUARDED_BY(mu) = 0;  // strides of linked items
  std::uint64_t tombstones_ RC_GUARDED_BY(mu) = 0;    // linked tombstones, apart from items
  std::uint64_t tombstone_bytes_ RC_GUARDED_BY(mu) = 0;
  std::uint64_t copies_ RC_GUARDED_BY(mu) = 0;        // linked items with kFromPeer
  std::uint64_t copy_bytes_ RC_GUARDED_BY(mu) = 0;
  std::uint64_t guests_ RC_GUARDED_BY(mu) = 0;        // linked items with kGuest
  std::uint64_t guest_bytes_ RC_GUARDED_BY(mu) = 0;
  std::size_t sample_cursor_ RC_GUARDED_BY(mu) = 0;
  ShardCounters counters_ RC_GUARDED_BY(mu);
  unsigned num_classes_;
  // index: class id - 1; grown on demand (CountersOf)
  std::vector<ClassCounters> classes_ RC_GUARDED_BY(mu);
};

}  // namespace rc::store::internal
