// store/shard.cc -- a shard's hash table, S3-FIFO queues and ghost table (see shard.h).
#include "store/shard.h"

#include <sys/mman.h>

#include <algorithm>

#include "ringcached/base/check.h"
#include "ringcached/base/hash.h"

namespace rc::store::internal {
namespace {

// The small queue's share of the shard's bytes (S3-FIFO's 10%).
constexpr std::uint64_t kSmallShareDivisor = 10;
// Tail items someone holds a reference to are passed over; after this many in one call, give up
// on this shard (the caller moves on to the next one).
constexpr unsigned kMaxBusySkips = 16;
// Without evictions (-M), how many items at each queue's tail are checked for expiry: memcached's
// lru_pull_tail looks at 5.
constexpr unsigned kReclaimSearchDepth = 5;

// The bucket and ghost arrays of one table size share one anonymous mapping. It arrives zeroed,
// and when the table grows the old one goes straight back to the OS: a freed calloc() block
// would sit dirty in jemalloc's default arena for its decay time, on top of the memory limit.
std::size_t TableBytes(std::size_t buckets) {
  return buckets * (sizeof(Item*) + sizeof(std::uint16_t));
}

Item** MapTable(std::size_t buckets) {
  void* p = mmap(nullptr, TableBytes(buckets), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<Item**>(p);
}

void UnmapTable(Item** table, std::size_t buckets) { munmap(table, TableBytes(buckets)); }

}  // namespace

Shard::Shard(unsigned bucket_power, unsigned num_classes) : classes_(num_classes) {
  std::size_t n = std::size_t{1} << bucket_power;
  buckets_ = MapTable(n);
  RC_CHECK(buckets_ != nullptr);  // start-up: fatal
  ghost_ = reinterpret_cast<std::uint16_t*>(buckets_ + n);
  mask_ = n - 1;
  grow_at_ = n + n / 2;
}

Shard::~Shard() {
  for (std::size_t b = 0; b <= mask_; ++b) {
    Item* it = buckets_[b];
    while (it != nullptr) {
      Item* next = it->h_next;
      it->SetBits(it->GetBits() & ~kLinked);
      ReleaseItem(it);
      it = next;
    }
  }
  UnmapTable(buckets_, mask_ + 1);
}

void Shard::PushHead(Queue* q, Item* item) {
  item->q_prev = nullptr;
  item->q_next = q->head;
  if (q->head != nullptr) {
    q->head->q_prev = item;
  } else {
    q->tail = item;
  }
  q->head = item;
  q->bytes += item->usable_size();
  ++q->count;
}

void Shard::Remove(Queue* q, Item* item) {
  if (item->q_prev != nullptr) {
    item->q_prev->q_next = item->q_next;
  } else {
    q->head = item->q_next;
  }
  if (item->q_next != nullptr) {
    item->q_next->q_prev = item->q_prev;
  } else {
    q->tail = item->q_prev;
  }
  item->q_next = item->q_prev = nullptr;
  q->bytes -= item->usable_size();
  --q->count;
}

bool Shard::GhostTake(std::uint64_t hash) {
  std::uint16_t& slot = ghost_[hash & mask_];
  if (slot != Fingerprint(hash)) return false;
  slot = 0;
  return true;
}

void Shard::ChainRemove(Item* item, std::uint64_t hash) {
  Item** link = &buckets_[hash & mask_];
  while (*link != item) {
    RC_CHECK(*link != nullptr);  // a linked item is always in its bucket
    link = &(*link)->h_next;
  }
  *link = item->h_next;
  item->h_next = nullptr;
}

void Shard::Account(Item* item, bool add) {
  ClassCounters& cls = classes_[item->class_id - 1];
  std::uint64_t usable = item->usable_size();
  std::uint64_t total = item->total_size();
  if (add) {
    ++count_;
    linked_bytes_ += usable;
    ++cls.items;
    cls.requested_bytes += total;
  } else {
    --count_;
    linked_bytes_ -= usable;
    --cls.items;
    cls.requested_bytes -= total;
  }
}

void Shard::LinkLocked(Item* item, std::uint64_t hash, Item* old, base::RelTime now) {
  // Which queue: an item that replaces one that was read, or that lived in main, has shown its
  // key is wanted; so has a key the ghost table remembers. Everything else starts in small.
  bool to_main;
  if (old != nullptr) {
    to_main = (old->GetBits() & kInMain) != 0 || old->freq() > 0;
  } else {
    to_main = GhostTake(hash);
  }
  std::uint8_t keep = item->GetBits() & kCasHidden;
  item->SetBits(keep | kLinked | (to_main ? kInMain : 0));
  item->last_access.store(now, std::memory_order_relaxed);
  item->refcount.fetch_add(1, std::memory_order_relaxed);  // the table's reference

  if (old != nullptr) {
    // Swap in place in the chain: one walk, and the bucket keeps its order.
    Item** link = &buckets_[hash & mask_];
    while (*link != old) {
      RC_CHECK(*link != nullptr);
      link = &(*link)->h_next;
    }
    item->h_next = old->h_next;
    *link = item;
    old->h_next = nullptr;
    Remove(QueueOf(old), old);
    Account(old, false);
    old->SetBits(old->GetBits() & ~kLinked);
  } else {
    Item** head = &buckets_[hash & mask_];
    item->h_next = *head;
    *head = item;
  }
  PushHead(to_main ? &main_ : &small_, item);
  Account(item, true);
  ++counters_.total_items;

  if (old != nullptr) ReleaseItem(old);
  if (count_ > grow_at_) Grow();
}

void Shard::UnlinkLocked(Item* item, std::uint64_t hash, UnlinkCause cause, bool expired) {
  ChainRemove(item, hash);
  Remove(QueueOf(item), item);
  Account(item, false);
  std::uint8_t bits = item->GetBits();
  item->SetBits(bits & ~kLinked);

  ClassCounters& cls = classes_[item->class_id - 1];
  bool unfetched = (bits & kFetched) == 0;
  switch (cause) {
    case UnlinkCause::kRemove:
      break;
    case UnlinkCause::kEvict:
      ++counters_.evictions;
      ++cls.evicted;
      if (item->exptime.load(std::memory_order_relaxed) != 0) ++cls.evicted_nonzero;
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
  ReleaseItem(item);
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

bool Shard::ReclaimIfDead(Item* item, const Moment& m) {
  bool flushed = m.Flushed(item);
  if (!flushed && !m.Expired(item)) return false;
  UnlinkLocked(item, base::HashKey(item->key()), UnlinkCause::kReclaim, !flushed);
  return true;
}

bool Shard::EvictOneLocked(const Moment& m, bool evict) {
  if (!evict) {
    for (Queue* q : {&small_, &main_}) {
      Item* it = q->tail;
      for (unsigned i = 0; i < kReclaimSearchDepth && it != nullptr; ++i, it = it->q_prev) {
        if (ReclaimIfDead(it, m)) return true;
      }
    }
    return false;
  }

  // Every step either frees an item or moves one towards it (small -> main, or a frequency
  // decrement), and an item can be moved at most four times, so this bound is never the reason
  // to stop while something is evictable.
  std::uint64_t budget = 4 * (small_.count + main_.count) + 8;
  unsigned busy = 0;
  while (budget-- > 0) {
    bool from_small;
    if (small_.count == 0 && main_.count == 0) return false;
    if (small_.count == 0) {
      from_small = false;
    } else if (main_.count == 0) {
      from_small = true;
    } else {
      from_small = small_.bytes * kSmallShareDivisor > small_.bytes + main_.bytes;
    }
    Queue* q = from_small ? &small_ : &main_;
    Item* t = q->tail;

    if (ReclaimIfDead(t, m)) return true;

    if (t->refcount.load(std::memory_order_acquire) > 1) {
      if (++busy > kMaxBusySkips) return false;
      Remove(q, t);
      PushHead(q, t);
      continue;
    }

    std::uint8_t bits = t->GetBits();
    if ((bits & kFreqMask) != 0) {
      // Second chance. From small: promoted to main, frequency cleared, so it must be read again
      // to survive main's CLOCK pass. In main: reinserted with one access fewer.
      Remove(q, t);
      if (from_small) {
        t->SetBits((bits & ~kFreqMask) | kInMain);
      } else {
        t->SetBits(static_cast<std::uint8_t>(bits - 1));
      }
      PushHead(&main_, t);
      continue;
    }

    std::uint64_t hash = base::HashKey(t->key());
    if (from_small) GhostInsert(hash);
    UnlinkLocked(t, hash, UnlinkCause::kEvict);
    return true;
  }
  return false;
}

void Shard::Grow() {
  std::size_t n = (mask_ + 1) * 2;
  Item** buckets = MapTable(n);
  if (buckets == nullptr) {
    // Out of memory outside the arena: keep the longer chains and try again at twice the load.
    grow_at_ = count_ * 2;
    return;
  }
  std::size_t mask = n - 1;
  for (std::size_t b = 0; b <= mask_; ++b) {
    Item* it = buckets_[b];
    while (it != nullptr) {
      Item* next = it->h_next;
      Item** head = &buckets[base::HashKey(it->key()) & mask];
      it->h_next = *head;
      *head = it;
      it = next;
    }
  }
  // The ghost table restarts empty: its entries were placed by the old mask, and the history it
  // loses is at most one shard's worth of evictions.
  UnmapTable(buckets_, mask_ + 1);
  buckets_ = buckets;
  ghost_ = reinterpret_cast<std::uint16_t*>(buckets + n);
  mask_ = mask;
  grow_at_ = n + n / 2;
}

bool Shard::CrawlLocked(std::size_t* cursor, std::size_t max_items, std::size_t max_buckets,
                        const Moment& m, std::size_t* checked) {
  std::size_t visited = 0;
  std::size_t done = 0;
  while (*cursor <= mask_ && visited < max_buckets && done < max_items) {
    Item* it = buckets_[*cursor];
    while (it != nullptr) {
      Item* next = it->h_next;
      ++done;
      bool flushed = m.Flushed(it);
      if (flushed || m.Expired(it)) {
        // UnlinkLocked only uses hash & mask_, so the bucket index stands in for the hash.
        UnlinkLocked(it, *cursor, UnlinkCause::kCrawl, !flushed);
      }
      it = next;
    }
    ++*cursor;
    ++visited;
  }
  counters_.crawler_items_checked += done;
  *checked += done;
  return *cursor > mask_;
}

bool Shard::DumpLocked(const std::function<bool(const ItemInfo&)>& fn,
                       const Moment& m) const {
  for (std::size_t b = 0; b <= mask_; ++b) {
    for (const Item* it = buckets_[b]; it != nullptr; it = it->h_next) {
      if (m.Flushed(it) || m.Expired(it)) continue;
      ItemInfo info;
      info.key = it->key();
      info.exptime = it->exptime.load(std::memory_order_relaxed);
      info.last_access = it->last_access.load(std::memory_order_relaxed);
      info.cas = (it->GetBits() & kCasHidden) != 0 ? 0 : it->cas;
      info.fetched = (it->GetBits() & kFetched) != 0;
      info.class_id = ReportedClass(it->class_id);
      info.value_len = it->value_len;
      info.total_size = it->total_size();
      if (!fn(info)) return false;
    }
  }
  return true;
}

void Shard::OldestAccessLocked(std::vector<base::RelTime>* oldest, std::size_t max_walk) const {
  for (const Queue* q : {&small_, &main_}) {
    std::size_t walked = 0;
    for (const Item* it = q->tail; it != nullptr && walked < max_walk; it = it->q_prev, ++walked) {
      base::RelTime la = it->last_access.load(std::memory_order_relaxed);
      base::RelTime& slot = (*oldest)[it->class_id - 1];
      if (slot == 0 || la < slot) slot = la;
    }
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
