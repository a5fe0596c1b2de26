// store/shard.cc -- a shard's table, ghost table and counters (see shard.h).
#include "store/shard.h"

#include <algorithm>
#include <cstring>

#include "ringcached/base/check.h"
#include "ringcached/base/hash.h"
#include "store/pool.h"
#include "store/size_classes.h"

namespace rc::store::internal {

unsigned ItemClass(const Item* item) { return ReportedClassOf(item->class_stride()); }

Shard::Shard(std::size_t slots, unsigned num_classes, Pool* pool)
    : pool_(pool), num_classes_(num_classes) {
  RC_CHECK(index_.Init(slots, GhostBytesFor(slots)));  // start-up: fatal
  pool_->ForceReserve(table_bytes());
}

Shard::~Shard() {
  // Items are not released one by one: the store frees whole segments.
  pool_->Unreserve(table_bytes());
}

bool Shard::GhostTakeLocked(std::uint64_t hash) {
  std::uint8_t& slot = index_.trailer()[GhostSlot(hash)];
  if (slot != Fingerprint(hash)) return false;
  slot = 0;
  return true;
}

ClassCounters& Shard::CountersOf(const Item* item) {
  unsigned id = ItemClass(item);
  // Grown to the largest class seen: a shard of small items does not carry counters for the
  // classes up to -I (64 shards x ~60 classes x 64 bytes, a quarter of a megabyte).
  if (RC_UNLIKELY(id > classes_.size())) classes_.resize(std::min<std::size_t>(id, num_classes_));
  return classes_[id - 1];
}

void Shard::Account(const Item* item, bool add) {
  std::uint64_t stride = item->stride();
  Segment* seg = SegmentOf(item);
  if (item->tombstone()) {
    // Charged to the limit like any bytes in a segment, but not an item of any class.
    if (add) {
      ++tombstones_;
      tombstone_bytes_ += stride;
      seg->live_bytes.fetch_add(stride, std::memory_order_relaxed);
    } else {
      --tombstones_;
      tombstone_bytes_ -= stride;
      seg->live_bytes.fetch_sub(stride, std::memory_order_relaxed);
    }
    return;
  }
  ClassCounters& cls = CountersOf(item);
  std::uint64_t total = item->total_size();
  if ((item->GetBits() & kFromPeer) != 0) {
    copies_ += add ? 1 : -1;
    copy_bytes_ += add ? stride : -stride;
  }
  if (item->guest()) {
    guests_ += add ? 1 : -1;
    guest_bytes_ += add ? stride : -stride;
  }
  if (add) {
    linked_bytes_ += stride;
    ++cls.items;
    cls.requested_bytes += total;
    seg->live_bytes.fetch_add(stride, std::memory_order_relaxed);
  } else {
    linked_bytes_ -= stride;
    --cls.items;
    cls.requested_bytes -= total;
    seg->live_bytes.fetch_sub(stride, std::memory_order_relaxed);
  }
}

void Shard::LinkLocked(Item* item, std::uint64_t hash, std::size_t slot, base::RelTime now,
                       bool new_write) {
  // An item that replaces one that was read has shown its key is wanted; so has a key the ghost
  // table remembers. It starts with one access, so the first eviction pass copies it forward.
  bool proven;
  if (slot != Index::kNone) {
    Item* old = index_.At(slot);
    proven = old->freq() > 0 || (old->GetBits() & kFetched) != 0;
    Account(old, false);
    old->SetBits(old->GetBits() & ~kLinked);
    index_.Replace(slot, item);
  } else {
    proven = GhostTakeLocked(hash);
    index_.Insert(hash, item);
  }
  // A tombstone is never proven: eviction drops it rather than copying it forward.
  if (item->tombstone()) proven = false;
  item->SetBits(static_cast<std::uint8_t>((item->GetBits() & (kStale | kWinTokenSent | kFromPeer)) |
                                          kLinked |
                                          (proven ? 1 : 0)));
  item->last_access.store(now, std::memory_order_relaxed);
  Account(item, true);
  if (new_write && !item->tombstone()) ++counters_.total_items;
}

void Shard::MoveLocked(std::size_t slot, Item* copy) {
  Item* old = index_.At(slot);
  Account(old, false);
  old->SetBits(old->GetBits() & ~kLinked);
  index_.Replace(slot, copy);
  Account(copy, true);
}

void Shard::UnlinkLocked(std::size_t slot, std::uint64_t hash, UnlinkCause cause, bool expired) {
  (void)hash;
  Item* item = index_.At(slot);
  index_.Erase(slot);
  Account(item, false);
  std::uint8_t bits = item->GetBits();
  item->SetBits(bits & ~kLinked);
  if (item->tombstone()) return;  // memcached's counters count items only

  ClassCounters& cls = CountersOf(item);
  bool unfetched = (bits & kFetched) == 0;
  switch (cause) {
    case UnlinkCause::kRemove:
      break;
    case UnlinkCause::kEvict:
      ++counters_.evictions;
      ++cls.evicted;
      if (item->exptime() != 0) ++cls.evicted_nonzero;
      if (unfetched) {
        ++counters_.evicted_unfetched;
        ++cls.evicted_unfetched;
      }
      break;
    case UnlinkCause::kReclaim:
      ++counters_.reclaimed;
      ++cls.reclaimed;
      if (expired && unfetched) {
        ++counters_.expired_unfetched;
        ++cls.expired_unfetched;
      }
      break;
    case UnlinkCause::kCrawl:
      ++counters_.crawler_reclaimed;
      ++cls.crawler_reclaimed;
      if (expired && unfetched) {
        ++counters_.expired_unfetched;
        ++cls.expired_unfetched;
      }
      break;
  }
}

void Shard::BumpLocked(Item* item, base::RelTime now) {
  std::uint8_t bits = item->GetBits();
  std::uint8_t next = bits | kFetched;
  if ((bits & kFreqMask) != kFreqMask) ++next;  // saturating increment of the low two bits
  // Skip stores that change nothing: a hot item's cache line then stays clean between reads.
  if (next != bits) item->SetBits(next);
  if (item->last_access.load(std::memory_order_relaxed) != now) {
    item->last_access.store(now, std::memory_order_relaxed);
  }
}

void Shard::Rebuild() {
  std::size_t slots = index_.RebuildSlots();
  Index fresh;
  if (!fresh.Init(slots, GhostBytesFor(slots))) {
    // Out of memory outside the arena. The table still works until it is nearly full; past that
    // there is nothing sensible left to do.
    RC_CHECK(index_.live() + 16 < index_.slots());
    return;
  }
  std::size_t before = table_bytes();
  fresh.TakeFrom(index_, [](const Item* it) { return base::HashKey(it->key()); });
  index_.Swap(fresh);
  // A rebuild at the same size (clearing tombstones) keeps the ghost table; one that resizes
  // starts it empty: its entries were placed for the old size, and the history it loses is at
  // most one shard's worth of evictions.
  if (index_.trailer_bytes() == fresh.trailer_bytes()) {
    std::memcpy(index_.trailer(), fresh.trailer(), fresh.trailer_bytes());
  }
  std::size_t after = table_bytes();
  if (after > before) {
    pool_->ForceReserve(after - before);
  } else {
    pool_->Unreserve(before - after);
  }
}

void Shard::DescribeLocked(const Item* it, ItemInfo* info) {
  info->key = it->key();
  info->exptime = it->exptime();
  info->last_access = it->last_access.load(std::memory_order_relaxed);
  info->cas = it->cas_hidden() ? 0 : it->version();
  info->fetched = (it->GetBits() & kFetched) != 0;
  info->class_id = ItemClass(it);
  info->value_len = it->value_len();
  info->total_size = it->total_size();
  info->tombstone = it->tombstone();
}

void Shard::OldestAccessLocked(std::vector<base::RelTime>* oldest, std::size_t max_items) {
  const std::size_t n = index_.slots();
  std::size_t seen = 0;
  for (std::size_t visited = 0; visited < n && seen < max_items; ++visited) {
    std::size_t i = sample_cursor_;
    sample_cursor_ = sample_cursor_ + 1 >= n ? 0 : sample_cursor_ + 1;
    if (!index_.Occupied(i)) continue;
    const Item* it = index_.At(i);
    if (it->tombstone()) continue;
    ++seen;
    base::RelTime la = it->last_access.load(std::memory_order_relaxed);
    base::RelTime& slot = (*oldest)[ItemClass(it) - 1];
    if (slot == 0 || la < slot) slot = la;
  }
}

void Shard::ResetCountersLocked() {
  counters_ = ShardCounters{};
  for (ClassCounters& c : classes_) {
    std::uint64_t items = c.items;
    std::uint64_t requested = c.requested_bytes;
    c = ClassCounters{};
    c.items = items;
    c.requested_bytes = requested;
  }
}

}  // namespace rc::store::internal
