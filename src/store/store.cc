// store/store.cc -- Store's operations: lookups, writes, deletes, touch, incr/decr, meta get,
// flush_all and the crawler.
//
// Versions and flush: every link takes a version from the store's hybrid clock
// (base/hybrid_clock.h) under the shard lock, or the one its caller brought (meta E, a peer's
// write), and stores it in the item, with or without -C (with -C the CAS reads 0). The version is
// the client's CAS. flush_all mints a version as its cut-off; an item whose version is below it is
// flushed. Because the clock only moves forward, that cut-off is exact even within one second,
// which is what memcached achieves with settings.oldest_cas (items.c item_is_flushed) when CAS is
// on; we also get it with -C, where memcached falls back to whole seconds (a deliberate
// difference: a set right after flush_all never vanishes here). A delayed flush becomes such a
// cut-off at the first operation that sees the clock reach it. An item given a version from
// before the cut-off (meta E with an old token) is flushed at once, as in memcached.
//
// touch, gat and mg T keep the version (memcached keeps the CAS) and stamp the TTL change with a
// version of its own in the item's TTL stamp word (item.h), which the first touch makes room for.
//
// A linked item's bytes never change except its access time, state bits and (when it has room
// for one) its expiry: whatever gives a key a new value or a new CAS links a new item, and a
// touch that needs room for an expiry the item lacks writes a copy (Rewrite). So readers holding
// an ItemRef never see a value change under them.
//
// Semantics follow memcached 1.6 (memcached.c do_store_item, do_add_delta; items.c do_item_get);
// where we differ, the comment says so.
#include "ringcached/store/store.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cstring>
#include <mutex>

#include "ringcached/base/check.h"
#include "ringcached/base/hash.h"
#include "ringcached/base/log.h"
#include "store/item.h"
#include "store/shard.h"
#include "store/size_classes.h"
#include "store/store_impl.h"

namespace rc::store {

using internal::Index;
using internal::Item;
using internal::ItemClass;
using internal::Moment;
using internal::Pool;
using internal::Segment;
using internal::Shard;
using internal::UnlinkCause;

namespace {

constexpr std::size_t kDefaultSlots = 65536;  // memcached's default hash power 16, in all shards
constexpr unsigned kMaxHashPower = 32;
constexpr std::size_t kMinShardSlots = 64;
constexpr std::size_t kMinBytesPerSlot = 512;
constexpr unsigned kMaxShardBits = 16;
constexpr std::size_t kCrawlSlotsPerLock = 1024;
constexpr std::size_t kOldestAccessSample = 64;
// Segment size: 1 MiB (Segcache's), smaller for small caches so that there are always enough of
// them to turn over (at least 32), but never below 32 KiB.
constexpr std::size_t kMaxSegmentBytes = internal::kSegmentAlign;
constexpr std::size_t kMinSegmentBytes = 32 << 10;
constexpr std::size_t kMinSegments = 32;
// Items above this share of a segment get a dedicated one.
constexpr std::size_t kSharedMaxDivisor = 8;
// A cache this many segments or larger keeps one spare for eviction's copies; a smaller one
// keeps all of its limit for items and pays page faults for the copies instead.
constexpr std::size_t kMinSegmentsForSpare = 64;
// An expiry given to AllocateItem only so that the item has room for one (it is reset before
// the item is linked).
constexpr base::RelTime kRoomForExptime = ~base::RelTime{0};

std::size_t SegmentBytesFor(std::size_t limit) {
  std::size_t want = std::bit_floor(std::max<std::size_t>(limit / kMinSegments, 1));
  return std::clamp(want, kMinSegmentBytes, kMaxSegmentBytes);
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// memcached's safe_strtoull (util.c) over a value that is followed by "\r\n": leading
// whitespace and a sign are allowed (strtoull), there must be at least one digit, no overflow,
// and the digits must end at whitespace or the end of the value. So "9  " -- a decr result
// padded with spaces -- is numeric, and "12ab" is not. A '-' is accepted only when the negated
// result is still a small positive signed number (strtoull's wrap-around; "-0" is 0), exactly
// as memcached's negative-number check does.
bool ParseCounter(const char* p, std::size_t n, std::uint64_t* out) {
  std::size_t i = 0;
  while (i < n && IsSpace(p[i])) ++i;
  bool negative = false;
  if (i < n && (p[i] == '+' || p[i] == '-')) {
    negative = p[i] == '-';
    ++i;
  }
  std::size_t digits_start = i;
  std::uint64_t v = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') {
    auto d = static_cast<std::uint64_t>(p[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;  // ERANGE
    v = v * 10 + d;
    ++i;
  }
  if (i == digits_start) return false;
  if (i < n && !IsSpace(p[i])) return false;
  if (negative) {
    v = 0 - v;
    if (static_cast<std::int64_t>(v) < 0) return false;
  }
  *out = v;
  return true;
}

// Until an item is linked its version field is unused; Allocate() parks the key's hash there so
// that Put() does not hash the key a second time.
void StashHash(Item* item, std::uint64_t hash) { item->set_version(hash); }
std::uint64_t StashedHash(const Item* item) { return item->version(); }

}  // namespace

Store::Impl::Impl(const Options& opts, const base::Clock* clk)
    : options(opts),
      clock(clk),
      pool(std::make_unique<Pool>(opts.memory_limit, opts.evictions,
                                  SegmentBytesFor(opts.memory_limit))),
      versions(clk, opts.max_clock_skew_ms) {
  RC_CHECK(clock != nullptr);
  shard_bits = std::min(options.shard_bits, kMaxShardBits);
  // memcached's default table (2^16 entries) unless the cache is small: the tables are charged
  // to the limit, so a 1 MB cache starts with one entry per 512 bytes instead. They grow as
  // items arrive either way.
  std::size_t total_slots =
      std::min(kDefaultSlots, std::max<std::size_t>(opts.memory_limit / kMinBytesPerSlot, 1));
  if (options.hashpower_init != 0) {
    total_slots = std::size_t{1} << std::min(options.hashpower_init, kMaxHashPower);
  }
  std::size_t n = std::size_t{1} << shard_bits;
  std::size_t shard_slots = std::max(total_slots >> shard_bits, kMinShardSlots);
  shared_max = pool->segment_bytes() / kSharedMaxDivisor;
  // One segment kept back for eviction's copies (Pool::KeepSpare, NoteCopying): 1/64 of the
  // cache or less.
  spare_allowed =
      options.evictions && opts.memory_limit >= kMinSegmentsForSpare * pool->segment_bytes();
  num_classes = internal::ReportedClassOf(options.item_size_max + Segment::kHeaderBytes);
  outofmemory = std::make_unique<std::atomic<std::uint64_t>[]>(num_classes);
  shards.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    shards.push_back(std::make_unique<Shard>(shard_slots, num_classes, pool.get()));
  }
  if (options.background_reclaim && options.evictions) StartReclaimer();
}

Store::Impl::~Impl() {
  StopReclaimer();
  shards.clear();
  // Every segment goes back to the pool; one still referenced by an ItemRef that outlived the
  // Store is a bug in the caller, and it is leaked with its pool rather than freed under it.
  std::vector<Segment*> all;
  {
    base::MutexLock lock(empty_mu);
    if (emptying.seg != nullptr) all.push_back(emptying.seg);
  }
  if (main_head.seg != nullptr) all.push_back(main_head.seg);
  if (small_compact_head.seg != nullptr) all.push_back(small_compact_head.seg);
  for (Head& h : small_heads) {
    if (h.seg != nullptr) all.push_back(h.seg);
  }
  for (SegmentQueue* q : {&small_q, &main_q}) {
    for (Segment* s = q->oldest; s != nullptr; s = s->newer) all.push_back(s);
  }
  for (Segment* s : all) internal::ReleaseSegment(s);
  while (pool->DropFree()) {
  }
  if (pool->used() != 0) {
    // Segments still pinned (their last reference would find a destroyed pool): leak it.
    base::Log(0, "store: %zu bytes of segments still referenced at shutdown; leaking the pool",
              pool->used());
    (void)pool.release();
  }
}

void Store::Impl::PromoteFlush(base::RelTime now) {
  base::MutexLock lock(flush_mu);
  base::RelTime due = flush_due.load(std::memory_order_relaxed);
  if (due == 0 || now < due) return;  // someone else promoted it, or it was replaced
  flush_version.store(versions.Mint(), std::memory_order_release);
  flush_due.store(0, std::memory_order_release);
}

const void* Store::FindHint(std::uint64_t hash) {
  if (!impl_->pool->retains_memory()) return nullptr;
  Shard& s = impl_->ShardFor(hash);
  base::MutexLock lock(s.mu);
  return s.FirstTagMatchLocked(hash);
}

void Store::Prefetch(const void* hint) {
#ifndef __SANITIZE_THREAD__  // a racy read by design: ThreadSanitizer builds do without it
  if (hint != nullptr) (void)*static_cast<volatile const std::uint8_t*>(hint);
#endif
}

Item* Store::Impl::FindLiveLocked(Shard& s, std::uint64_t hash, std::string_view key,
                                  const Moment& m, MissReason* reason, std::size_t* slot) {
  Item* it = s.FindLocked(hash, key, slot);
  if (it == nullptr) {
    *reason = MissReason::kAbsent;
    return nullptr;
  }
  if (it->tombstone()) {
    // A miss. A live tombstone stays, and *slot points at it so that a write replaces it; a dead
    // one goes, and no lookup counts it as expired or flushed (it was never an item).
    *reason = MissReason::kAbsent;
    if (m.Flushed(it) || m.Expired(it)) {
      s.UnlinkLocked(*slot, hash, UnlinkCause::kRemove);
      *slot = Index::kNone;
    }
    return nullptr;
  }
  // Flushed is checked first, as memcached's do_item_get does, so get_flushed wins over
  // get_expired for an item that is both.
  if (m.Flushed(it)) {
    *reason = MissReason::kFlushed;
  } else if (m.Expired(it)) {
    *reason = MissReason::kExpired;
  } else {
    *reason = MissReason::kHit;
    return it;
  }
  s.UnlinkLocked(*slot, hash, UnlinkCause::kRemove);
  *slot = Index::kNone;
  return nullptr;
}

Allocation Store::Impl::AllocateItem(std::string_view key, std::uint32_t flags,
                                     base::RelTime exptime, std::uint32_t value_len,
                                     const Moment& m, bool ttl_stamp) {
  RC_CHECK(!key.empty() && key.size() <= 255);  // the engine enforces memcached's 250
  Allocation result;
  std::uint8_t layout = Item::LayoutFor(exptime, flags, value_len, ttl_stamp);
  std::size_t total = Item::TotalSize(layout, key.size(), value_len);
  if (total > options.item_size_max) {
    result.outcome = Outcome::kTooLarge;
    return result;
  }
  std::size_t stride = Item::Stride(total);
  const bool cas_hidden = !options.use_cas;
  Item* it = AllocateBytes(stride, m,
                           internal::NewItem{key, flags, exptime, value_len, m.now, cas_hidden,
                                             ttl_stamp});
  if (it == nullptr) {
    outofmemory[internal::ReportedClassOf(stride) - 1].fetch_add(1, std::memory_order_relaxed);
    result.outcome = Outcome::kNoMemory;
    return result;
  }
  StashHash(it, base::HashKey(key));
  result.item = ItemRef(it);
  result.outcome = Outcome::kStored;
  return result;
}

template <typename Edit>
Outcome Store::Impl::Rewrite(Shard& s, std::uint64_t hash, Item* it, Room room, Edit edit) {
  internal::AddRef(it);
  ItemRef old_ref(it);
  s.mu.unlock();
  Moment m = Now();
  base::RelTime e = it->exptime();
  Allocation a = AllocateItem(it->key(), it->client_flags(),
                              room.exptime && e == 0 ? kRoomForExptime : e, it->value_len(), m,
                              room.ttl_stamp || it->has_ttl_stamp());
  if (!a.item) {
    s.mu.lock();
    return Outcome::kNoMemory;
  }
  Item* copy = a.item.get();
  std::memcpy(copy->value(), it->value(), it->value_len());
  s.mu.lock();
  std::size_t slot = s.SlotOfLocked(hash, it);
  if (slot == Index::kNone) return Outcome::kNotFound;
  copy->set_key_binary(it->key_binary());
  copy->set_guest(it->guest());
  copy->set_version(it->version());
  if (copy->has_ttl_stamp()) copy->set_ttl_stamp(it->ttl_stamp());
  copy->set_exptime(it->exptime());
  copy->last_access.store(it->last_access.load(std::memory_order_relaxed),
                          std::memory_order_relaxed);
  copy->SetBits(it->GetBits());
  edit(copy);
  s.MoveLocked(slot, copy);
  return Outcome::kStored;
}

// ---------------------------------------------------------------------------------------------

Store::Store(const Options& options, const base::Clock* clock)
    : impl_(std::make_unique<Impl>(options, clock)) {}

Store::~Store() = default;

Lookup Store::Get(std::string_view key, const GetOptions& options) {
  Impl& im = *impl_;
  std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  Lookup result;
  for (;;) {
    Moment m = im.Now();
    base::MutexLock lock(s.mu);
    std::size_t slot;
    Item* it = im.FindLiveLocked(s, hash, key, m, &result.reason, &slot);
    if (it == nullptr) return result;
    if (options.touch) {
      if (Impl::TouchNeedsRoom(it, options.new_exptime)) {
        Outcome o = im.Rewrite(s, hash, it, Impl::kTouchRoom, [](Item*) {});
        if (o == Outcome::kNoMemory) {
          result.reason = MissReason::kAbsent;
          return result;
        }
        continue;
      }
      result.ttl_stamp = im.TouchLocked(it, options.new_exptime);
    }
    if (options.bump) Shard::BumpLocked(it, m.now);
    internal::AddRef(it);
    result.item = ItemRef(it);
    return result;
  }
}

Allocation Store::Allocate(std::string_view key, std::uint32_t flags, base::RelTime exptime,
                           std::uint32_t value_len) {
  return impl_->AllocateItem(key, flags, exptime, value_len, impl_->Now());
}

Outcome Store::Put(ItemRef* item, Mode mode, std::uint64_t cas_unique) {
  return Put(item, mode, cas_unique, PutOptions{});
}

Outcome Store::Put(ItemRef* item, Mode mode, std::uint64_t cas_unique,
                   const PutOptions& options) {
  Impl& im = *impl_;
  // Only an item from this store's Allocate() that was never linked (a failed Put leaves it so,
  // and it may be tried again): its cas field still holds the key's hash.
  RC_CHECK(*item && !item->get()->linked() &&
           internal::SegmentOf(item->get())->pool_id == im.pool->id());
  const std::uint64_t hash = StashedHash(item->get());
  Shard& s = im.ShardFor(hash);

  if (options.version != 0) RC_CHECK(options.version < base::HybridClock::kLimit);
  for (;;) {
    Item* it = item->get();
    const std::string_view key = it->key();
    Moment m = im.Now();
    base::MutexLock lock(s.mu);
    if (RC_UNLIKELY(internal::SegmentOf(it)->closed.load(std::memory_order_seq_cst))) {
      // Eviction emptied the segment while the value was arriving: nothing in it may be linked
      // any more. Move the new item to fresh memory and try again.
      lock.Unlock();
      Allocation a = im.AllocateItem(key, it->client_flags(), it->exptime(), it->value_len(), m);
      if (!a.item) return Outcome::kNoMemory;
      std::memcpy(a.item.get()->value(), it->value(), it->value_len());
      a.item.get()->set_key_binary(it->key_binary());
      *item = std::move(a.item);
      continue;
    }
    MissReason reason;
    std::size_t slot;
    Item* old = im.FindLiveLocked(s, hash, key, m, &reason, &slot);
    std::uint8_t inherit = 0;  // stale state carried over by a stale-tolerant cas
    switch (mode) {
      case Mode::kSet:
        if (options.if_newer) {
          if (!im.NewerLocked(s, old, slot, options.version, false, it, m)) {
            return Outcome::kExists;
          }
          it->SetBits(it->GetBits() | internal::kFromPeer);
        }
        break;
      case Mode::kAdd:
        if (old != nullptr) {
          // memcached promotes the present item on a failed add (do_store_item: do_item_update).
          old->last_access.store(m.now, std::memory_order_relaxed);
          return Outcome::kNotStored;
        }
        break;
      case Mode::kReplace:
        if (old == nullptr) return Outcome::kNotStored;
        break;
      case Mode::kCas:
        if (old == nullptr) return Outcome::kNotFound;
        // With -C every item's CAS reads 0, and memcached 1.6 treats a zero CAS as "no match":
        // cas on a present key is EXISTS.
        if (im.options.use_cas && old->version() == cas_unique) break;
        if (options.allow_stale && im.options.use_cas && cas_unique != 0 &&
            cas_unique < old->version()) {
          // An older writer finishing late (meta ms I): its value goes in, but marked stale so
          // that the next reader recaches; the expiry and any win token stay as they were.
          if (old->exptime() != it->exptime() && !it->has_exptime()) {
            // No room for the old expiry in the new item: give it some and come back.
            lock.Unlock();
            Allocation a = im.AllocateItem(key, it->client_flags(), old->exptime(),
                                           it->value_len(), m);
            if (!a.item) return Outcome::kNoMemory;
            std::memcpy(a.item.get()->value(), it->value(), it->value_len());
            a.item.get()->set_key_binary(it->key_binary());
            *item = std::move(a.item);
            continue;
          }
          it->set_exptime(old->exptime());
          inherit = internal::kStale | (old->GetBits() & internal::kWinTokenSent);
          break;
        }
        return Outcome::kExists;
      case Mode::kAppend:
      case Mode::kPrepend: {
        if (old == nullptr) return Outcome::kNotStored;
        if (im.options.use_cas && cas_unique != 0 && old->version() != cas_unique) {
          return Outcome::kExists;
        }
        // The combined item needs an allocation, which may evict, which takes shard locks: hold
        // a reference to the old item, drop the lock, and check afterwards that it is still the
        // one linked.
        internal::AddRef(old);
        ItemRef old_ref(old);
        lock.Unlock();
        std::uint64_t len = std::uint64_t{old->value_len()} + it->value_len();
        if (len > UINT32_MAX) return Outcome::kNotStored;
        Allocation a = im.AllocateItem(key, old->client_flags(), old->exptime(),
                                       static_cast<std::uint32_t>(len), m);
        // memcached 1.6 answers NOT_STORED when the combined item cannot be allocated, whether
        // it is too large or memory is short (do_store_item: "OOM trying to copy").
        if (a.outcome != Outcome::kStored) return Outcome::kNotStored;
        Item* combined = a.item.get();
        const Item* first = mode == Mode::kAppend ? old : it;
        const Item* second = mode == Mode::kAppend ? it : old;
        std::memcpy(combined->value(), first->value(), first->value_len());
        std::memcpy(combined->value() + first->value_len(), second->value(), second->value_len());
        // memcached's combined item loses ITEM_KEY_BINARY, so a meta `k` would then print the
        // raw key bytes; we keep the old item's bit instead.
        combined->set_key_binary(old->key_binary());
        lock.Lock();
        if (internal::SegmentOf(combined)->closed.load(std::memory_order_seq_cst)) continue;
        std::size_t old_slot = s.SlotOfLocked(hash, old);
        if (old_slot == Index::kNone) continue;  // replaced or deleted meanwhile: start over
        Moment m2 = im.Now();
        if (m2.Flushed(old) || m2.Expired(old)) {
          s.UnlinkLocked(old_slot, hash, UnlinkCause::kRemove);
          return Outcome::kNotStored;
        }
        // A touch may have changed the expiry since we copied it.
        if (old->exptime() != combined->exptime()) {
          if (!combined->has_exptime()) continue;
          combined->set_exptime(old->exptime());
        }
        combined->set_version(im.VersionFor(options.version));
        s.LinkLocked(combined, hash, old_slot, m2.now);
        s.MaybeRebuildLocked();
        *item = std::move(a.item);
        return Outcome::kStored;
      }
    }
    it->set_version(im.VersionFor(options.version));
    s.LinkLocked(it, hash, slot, m.now);
    if (inherit != 0) it->SetBits(it->GetBits() | inherit);
    s.MaybeRebuildLocked();
    return Outcome::kStored;
  }
}

Outcome Store::Delete(std::string_view key, unsigned* class_id) {
  DeleteResult r = Delete(key, DeleteOptions{});
  if (class_id != nullptr && r.outcome == Outcome::kDeleted) *class_id = r.class_id;
  return r.outcome;
}

bool Store::Newer(std::string_view key, std::uint64_t version) {
  Impl& im = *impl_;
  const std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  const Moment m = im.Now();
  base::MutexLock lock(s.mu);
  std::size_t slot;
  MissReason reason;
  Item* it = im.FindLiveLocked(s, hash, key, m, &reason, &slot);
  return im.NewerLocked(s, it, slot, version, false, nullptr, m);
}

DeleteResult Store::Delete(std::string_view key, const DeleteOptions& options) {
  Impl& im = *impl_;
  std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  DeleteResult result;
  bool looked = false;
  // With tombstones kept, a delete (hit or miss) links one in the key's place. It is allocated
  // before the shard lock is taken (allocating may evict), and dropped if it is not needed.
  const bool keep_tombstone = im.options.tombstone_ttl != 0 && !options.invalidate;
  Allocation tombstone;
  for (;;) {
    Moment m = im.Now();
    if (keep_tombstone && !tombstone.item) tombstone = im.AllocateTombstone(key, m);
    base::MutexLock lock(s.mu);
    if (tombstone.item && internal::SegmentOf(tombstone.item.get())->closed.load()) {
      lock.Unlock();
      tombstone = Allocation{};  // emptied by eviction meanwhile: take fresh memory
      continue;
    }
    std::size_t slot;
    MissReason reason;
    Item* it = im.FindLiveLocked(s, hash, key, m, &reason, &slot);
    if (!looked) {
      result.reason = reason;
      looked = true;
    }
    // An invalidation keeps the value: at an equal version it ties with itself, and loses.
    if (options.if_newer && !im.NewerLocked(s, it, slot, options.version, !options.invalidate,
                                            options.invalidate ? it : nullptr, m)) {
      result.outcome = Outcome::kExists;
      return result;
    }
    if (it == nullptr) {
      result.outcome = Outcome::kNotFound;
      // A delete miss is still a tombstone (one that an invalidation never makes).
      if (!options.invalidate) {
        result.version = im.VersionFor(options.version);
        im.LinkTombstoneLocked(s, hash, slot, result.version, &tombstone, m, options.if_newer);
      }
      return result;
    }
    result.class_id = ItemClass(it);
    if (options.compare_cas && im.VisibleCas(it) != options.cas) {
      result.outcome = Outcome::kExists;
      return result;
    }
    if (!options.invalidate) {
      result.version = im.VersionFor(options.version);
      if (!im.LinkTombstoneLocked(s, hash, slot, result.version, &tombstone, m,
                                  options.if_newer)) {
        s.UnlinkLocked(slot, hash, UnlinkCause::kRemove);
      }
      result.outcome = Outcome::kDeleted;
      return result;
    }
    // Invalidation (memcached process_mdelete_command with I): the item stays readable but
    // stale, the next reader wins the recache, and a CAS taken before the invalidation no longer
    // matches. A new CAS means a new item (the copy), which also keeps it on the right side of a
    // flush_all cut-off, like any other modification.
    const Impl::Room room{.exptime = options.set_exptime && options.exptime != 0};
    Outcome o = im.Rewrite(s, hash, it, room, [&](Item* copy) {
      if (options.set_exptime) copy->set_exptime(options.exptime);
      // The new version is a peer's (a copy) or minted here.
      const std::uint8_t from = options.if_newer ? internal::kFromPeer : 0;
      copy->SetBits(static_cast<std::uint8_t>(
          ((copy->GetBits() | internal::kStale) & ~(internal::kWinTokenSent | internal::kFromPeer)) |
          from));
      result.version = im.VersionFor(options.version);
      copy->set_version(result.version);
    });
    if (o == Outcome::kNotFound) continue;
    if (o == Outcome::kNoMemory) {
      // No memory for the invalidated copy: deleting is the safe way to make readers recache.
      std::size_t again;
      MissReason r2;
      if (im.FindLiveLocked(s, hash, key, im.Now(), &r2, &again) != nullptr) {
        s.UnlinkLocked(again, hash, UnlinkCause::kRemove);
      }
      result.version = im.VersionFor(options.version);
    }
    result.outcome = Outcome::kDeleted;
    result.invalidated = true;
    return result;
  }
}

// touch, gat, mg T and a peer's TTL change: the key's live item, with room made for an expiry
// and a TTL stamp, is handed to `apply` under the shard lock; `apply` returns the outcome.
template <typename Apply>
Outcome Store::Impl::ChangeTtl(std::string_view key, base::RelTime exptime, Apply apply,
                               std::uint64_t guest_version) {
  std::uint64_t hash = base::HashKey(key);
  Shard& s = ShardFor(hash);
  for (;;) {
    Moment m = Now();
    base::MutexLock lock(s.mu);
    MissReason reason;
    std::size_t slot;
    Item* it = FindLiveLocked(s, hash, key, m, &reason, &slot);
    if (it == nullptr) return Outcome::kNotFound;
    // A guest mark is a layout bit, immutable once linked: a copy takes it.
    const bool mark = guest_version != 0 && it->version() == guest_version && !it->guest();
    if (TouchNeedsRoom(it, exptime) || mark) {
      Outcome o = Rewrite(s, hash, it, kTouchRoom, [&](Item* copy) {
        if (mark) copy->set_guest(true);
      });
      if (o == Outcome::kNoMemory) return Outcome::kNoMemory;
      continue;
    }
    return apply(it, m);
  }
}

Outcome Store::Touch(std::string_view key, base::RelTime exptime, unsigned* class_id,
                     ItemRef* touched, std::uint64_t* ttl_stamp) {
  Impl& im = *impl_;
  return im.ChangeTtl(key, exptime, [&](Item* it, const Moment& m) {
    // memcached's touch is a fetch with a new expiry (items.c do_item_touch): it bumps the item
    // and leaves its CAS alone.
    const std::uint64_t stamp = im.TouchLocked(it, exptime);
    if (ttl_stamp != nullptr) *ttl_stamp = stamp;
    Shard::BumpLocked(it, m.now);
    if (class_id != nullptr) *class_id = ItemClass(it);
    if (touched != nullptr) {
      internal::AddRef(it);
      *touched = ItemRef(it);  // adopts the reference just taken
    }
    return Outcome::kTouched;
  });
}

Outcome Store::ApplyTtl(std::string_view key, std::uint64_t value_version,
                        std::uint64_t ttl_stamp, base::RelTime exptime, bool guest) {
  return impl_->ChangeTtl(
      key, exptime,
      [&](Item* it, const Moment&) {
        // Another value (an older or a newer write), or a TTL change already newer: nothing to
        // do.
        if (it->version() != value_version || it->ttl_stamp() >= ttl_stamp) {
          return Outcome::kExists;
        }
        it->set_exptime(exptime);
        it->set_ttl_stamp(ttl_stamp);
        return Outcome::kTouched;
      },
      guest ? value_version : 0);
}

IncrResult Store::IncrDecr(std::string_view key, bool incr, std::uint64_t delta) {
  return IncrDecr(key, incr, delta, IncrOptions{});
}

IncrResult Store::IncrDecr(std::string_view key, bool incr, std::uint64_t delta,
                           const IncrOptions& options) {
  Impl& im = *impl_;
  std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  IncrResult result;

  for (;;) {
    Moment m = im.Now();
    base::MutexLock lock(s.mu);
    MissReason reason;
    std::size_t slot;
    Item* it = im.FindLiveLocked(s, hash, key, m, &reason, &slot);
    if (it == nullptr) {
      result.outcome = Outcome::kNotFound;
      result.reason = reason;
      return result;
    }
    const std::uint32_t old_len = it->value_len();
    // memcached's do_add_delta: an empty value is non-numeric before the CAS is compared.
    if (old_len == 0) {
      result.outcome = Outcome::kNonNumeric;
      return result;
    }
    if (options.compare_cas != 0 && im.VisibleCas(it) != options.compare_cas) {
      result.outcome = Outcome::kExists;
      return result;
    }
    std::uint64_t value;
    if (!ParseCounter(it->value(), old_len, &value)) {
      result.outcome = Outcome::kNonNumeric;
      return result;
    }
    if (incr) {
      value += delta;  // wraps mod 2^64, as memcached does
    } else {
      value = delta > value ? 0 : value - delta;
    }
    char digits[20];
    auto conv = std::to_chars(digits, digits + sizeof(digits), value);
    auto len = static_cast<std::uint32_t>(conv.ptr - digits);
    result.value = value;

    // Always a new item: the number gets a new CAS, and a linked item's bytes never change under
    // a reader. A shorter number keeps the old length, padded with spaces, as memcached does when
    // it edits in place (it would shrink the value when it cannot, which makes the stored bytes
    // depend on whether a reader happened to hold the item; we keep one rule).
    std::uint32_t new_len = std::max(len, old_len);
    base::RelTime e = it->exptime();
    base::RelTime want = options.touch ? options.new_exptime : e;
    internal::AddRef(it);
    ItemRef old_ref(it);
    lock.Unlock();
    Allocation a = im.AllocateItem(key, it->client_flags(), want, new_len, m);
    if (a.outcome != Outcome::kStored) {
      result.outcome = Outcome::kNoMemory;  // memcached: "SERVER_ERROR out of memory"
      return result;
    }
    Item* fresh = a.item.get();
    std::memcpy(fresh->value(), digits, len);
    std::memset(fresh->value() + len, ' ', new_len - len);
    fresh->set_key_binary(it->key_binary());
    lock.Lock();
    if (internal::SegmentOf(fresh)->closed.load(std::memory_order_seq_cst)) continue;
    std::size_t old_slot = s.SlotOfLocked(hash, it);
    if (old_slot == Index::kNone) continue;  // replaced or deleted meanwhile: the number may be stale
    Moment m2 = im.Now();
    if (m2.Flushed(it) || m2.Expired(it)) continue;
    result.exptime_before = it->exptime();
    result.exptime = options.touch ? options.new_exptime : result.exptime_before;
    if (fresh->exptime() != result.exptime) {
      if (!fresh->has_exptime()) continue;  // touched meanwhile; the next pass sizes it right
      fresh->set_exptime(result.exptime);
    }
    fresh->set_version(im.VersionFor(options.version));
    // total_items counts it as memcached does: only when the number outgrew the old value,
    // where memcached cannot edit in place and links a new item.
    s.LinkLocked(fresh, hash, old_slot, m2.now, len > old_len);
    // The counter keeps the old item's standing in the eviction policy.
    fresh->SetBits(static_cast<std::uint8_t>(
        (fresh->GetBits() & ~(internal::kFreqMask | internal::kFetched)) |
        (it->GetBits() & (internal::kFreqMask | internal::kFetched | internal::kStale |
                          internal::kWinTokenSent))));
    s.MaybeRebuildLocked();
    result.outcome = Outcome::kStored;
    result.cas = im.VisibleCas(fresh);
    result.item = std::move(a.item);
    result.class_id = ItemClass(fresh);
    return result;
  }
}

MetaLookup Store::MetaGet(std::string_view key, const MetaGetOptions& options) {
  Impl& im = *impl_;
  const std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  MetaLookup r;
  // Whether a step will set a non-zero expiry on an existing item (which then needs room for it).
  bool touches = false;
  for (std::size_t i = 0; i < options.nsteps && i < options.steps.size(); ++i) {
    if (options.steps[i] == MetaStep::kTouch) touches = true;
  }
  // A vivified item is allocated with the shard unlocked (allocating may evict, which takes shard
  // locks) and linked only if the key is still missing when the lock is back. It is declared
  // before the lock so that an unused one is released after the lock is.
  Allocation fresh;
  bool looked = false;
  for (;;) {
    Moment m = im.Now();
    base::MutexLock lock(s.mu);
    MissReason reason;
    std::size_t slot;
    Item* it = im.FindLiveLocked(s, hash, key, m, &reason, &slot);
    if (!looked) {
      r.reason = reason;  // the first lookup's verdict is what the counters report
      looked = true;
    }
    if (it == nullptr) {
      if (!options.vivify) return r;
      if (!fresh.item) {
        lock.Unlock();
        // With room for an expiry: the N step (or a T step) sets one.
        fresh = im.AllocateItem(key, 0, kRoomForExptime, 0, m, touches);
        if (!fresh.item) return r;  // no memory for a placeholder: a plain miss, as memcached
        fresh.item.get()->set_key_binary(options.vivify_key_binary);
        fresh.item.get()->set_exptime(0);
        continue;
      }
      it = fresh.item.get();
      if (internal::SegmentOf(it)->closed.load(std::memory_order_seq_cst)) {
        lock.Unlock();
        fresh = Allocation{};
        continue;
      }
      it->set_version(im.VersionFor(options.vivify_version));
      s.LinkLocked(it, hash, slot, m.now);  // slot: a tombstone it replaces, or none
      s.MaybeRebuildLocked();
      r.created = true;
    } else if (touches && Impl::TouchNeedsRoom(it, options.touch_exptime)) {
      Outcome o = im.Rewrite(s, hash, it, Impl::kTouchRoom, [](Item*) {});
      if (o == Outcome::kNoMemory) return r;
      continue;
    }

    const std::uint8_t bits = it->GetBits();
    r.win_token_was_sent = (bits & internal::kWinTokenSent) != 0;
    r.stale = (bits & internal::kStale) != 0;
    r.fetched = (bits & internal::kFetched) != 0;
    r.last_access = it->last_access.load(std::memory_order_relaxed);
    base::RelTime e = it->exptime();
    bool won = false;
    bool read = false;
    for (std::size_t i = 0; i < options.nsteps && i < options.steps.size(); ++i) {
      switch (options.steps[i]) {
        case MetaStep::kTouch:
          e = options.touch_exptime;
          r.ttl_stamp = im.TouchLocked(it, e);
          r.touched = true;
          break;
        case MetaStep::kVivify:
          if (r.created) {
            e = options.vivify_exptime;
            it->set_exptime(e);
            won = true;
          }
          break;
        case MetaStep::kRecache:
          if (!r.win_token_was_sent && !r.created && e != 0 && e < options.recache_before) {
            won = true;
          }
          break;
        case MetaStep::kReadExpiry:
          r.exptime = e;
          read = true;
          break;
      }
    }
    if (!read) r.exptime = e;
    // A stale item whose win nobody holds yet goes to this caller.
    if (r.stale && !r.win_token_was_sent) won = true;
    if (won) it->SetBits(it->GetBits() | internal::kWinTokenSent);
    r.won = won;
    if (options.bump) Shard::BumpLocked(it, m.now);
    if (r.created) {
      r.item = std::move(fresh.item);
    } else {
      internal::AddRef(it);
      r.item = ItemRef(it);
    }
    return r;
  }
}

std::uint64_t Store::Flush(base::RelTime when) {
  Impl& im = *impl_;
  base::RelTime now = im.clock->Now();
  base::MutexLock lock(im.flush_mu);
  if (when == 0 || when <= now) {
    // Everything linked so far has a version below a new one; anything linked from now on
    // mints a larger one and survives. A pending delayed flush is replaced, as in memcached,
    // where each flush_all overwrites settings.oldest_live.
    const std::uint64_t cut = im.versions.Mint();
    im.flush_version.store(cut, std::memory_order_release);
    im.flush_due.store(0, std::memory_order_release);
    return cut;
  } else {
    // Takes effect at the first operation at or after `when` (Impl::Now). Unlike memcached, an
    // earlier flush already in effect stays in effect meanwhile: memcached's single
    // oldest_live would briefly make its victims visible again.
    im.flush_due.store(when, std::memory_order_release);
    return 0;
  }
}

bool Store::Drop(std::string_view key, std::uint64_t version) {
  Impl& im = *impl_;
  const std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  base::MutexLock lock(s.mu);
  std::size_t slot;
  Item* it = s.FindLocked(hash, key, &slot);
  if (it == nullptr || it->version() != version) return false;
  s.UnlinkLocked(slot, hash, UnlinkCause::kRemove, false);
  return true;
}

std::uint64_t Store::Clear() {
  Impl& im = *impl_;
  Scan scan;
  std::uint64_t cleared = 0;
  bool more = true;
  while (more) {
    more = im.ScanStep(&scan, kCrawlSlotsPerLock,
                       // Called with s.mu held (Impl::ScanStep), which the analysis cannot see.
                       [&](Shard& s, std::size_t slot, internal::Item*, std::uint64_t hash)
                           RC_NO_THREAD_SAFETY_ANALYSIS {
                             s.UnlinkLocked(slot, hash, UnlinkCause::kRemove, false);
                             ++cleared;
                           });
  }
  return cleared;
}

bool Store::ScanStep(Scan* scan, std::size_t max_slots,
                     const std::function<void(const ItemInfo&)>& fn) {
  Impl& im = *impl_;
  const Moment m = im.Now();
  return im.ScanStep(scan, max_slots,
                     [&](Shard&, std::size_t, const internal::Item* it, std::uint64_t) {
                       if (m.Flushed(it) || m.Expired(it)) return;
                       ItemInfo info;
                       Shard::DescribeLocked(it, &info);
                       fn(info);  // tombstones too: a hand-off scan carries them
                     });
}

std::size_t Store::Crawl(std::size_t max_items) {
  Impl& im = *impl_;
  base::MutexLock crawl_lock(im.crawl_mu);
  const Moment m = im.Now();
  std::size_t checked = 0;
  // At most one whole walk per call, so an empty store does not spin.
  bool walk_ended = false;
  while (checked < max_items && !walk_ended) {
    if (im.crawl_scan.done()) im.crawl_scan = Scan();
    // Steps of at most kCrawlSlotsPerLock slots, and no more than the items still wanted
    // (a slot holds at most one), so a call checks about `max_items`.
    walk_ended = !im.ScanStep(
        &im.crawl_scan, std::min(kCrawlSlotsPerLock, max_items - checked),
        // Called with s.mu held (Impl::ScanStep), which the analysis cannot see.
        [&](Shard& s, std::size_t slot, internal::Item* it, std::uint64_t hash)
            RC_NO_THREAD_SAFETY_ANALYSIS {
          ++checked;
          s.CountCrawled();
          const bool flushed = m.Flushed(it);
          if (flushed || m.Expired(it)) {
            s.UnlinkLocked(slot, hash, UnlinkCause::kCrawl, !flushed);
          }
        });
  }
  return checked;
}

void Store::Dump(const std::function<bool(const ItemInfo&)>& fn) {
  bool more = true;
  Scan scan;
  while (more && ScanStep(&scan, kCrawlSlotsPerLock, [&](const ItemInfo& info) {
           if (more && !info.tombstone) more = fn(info);  // metadump and friends show items
         })) {
  }
}

void Store::SetMemoryLimit(std::size_t bytes) { impl_->pool->set_limit(bytes); }

Stats Store::GetStats() const {
  const Impl& im = *impl_;
  Stats st;
  std::uint64_t slots = 0;
  std::uint64_t table_bytes = 0;
  for (const auto& s : im.shards) {
    base::MutexLock lock(s->mu);
    const internal::ShardCounters& c = s->counters();
    st.curr_items += s->count();
    st.bytes += s->linked_bytes();
    st.tombstones += s->tombstones();
    st.tombstone_bytes += s->tombstone_bytes();
    st.copies += s->copies();
    st.copy_bytes += s->copy_bytes();
    st.guests += s->guests();
    st.guest_bytes += s->guest_bytes();
    st.total_items += c.total_items;
    st.evictions += c.evictions;
    st.reclaimed += c.reclaimed;
    st.expired_unfetched += c.expired_unfetched;
    st.evicted_unfetched += c.evicted_unfetched;
    st.crawler_reclaimed += c.crawler_reclaimed;
    st.crawler_items_checked += c.crawler_items_checked;
    slots += s->table_slots();
    table_bytes += s->table_bytes();
  }
  st.memory_limit = im.pool->limit();
  st.allocated = im.pool->used();
  st.allocator_overhead = im.pool->overhead();
  st.malloc_fails = im.malloc_fails.load(std::memory_order_relaxed);
  st.hash_power_level = static_cast<unsigned>(std::bit_width(slots) - 1);
  st.hash_bytes = table_bytes;
  st.background_reclaims = im.background_reclaims.load(std::memory_order_relaxed);
  st.segments_emptied_in_steps = im.emptied_in_steps.load(std::memory_order_relaxed);
  st.segments_emptied_whole = im.emptied_whole.load(std::memory_order_relaxed);
  st.segment_size = im.pool->segment_bytes();
  st.free_segments = im.pool->free_count();
  {
    base::MutexLock lock(im.seg_mu);
    st.small_segments = im.small_q.count;
    st.main_segments = im.main_q.count;
    for (const SegmentQueue* q : {&im.small_q, &im.main_q}) {
      st.segment_bytes += q->bytes;
      for (const internal::Segment* s = q->oldest; s != nullptr; s = s->newer) {
        st.segment_live_bytes += s->live_bytes.load(std::memory_order_relaxed);
      }
    }
  }
  return st;
}

std::vector<ClassStats> Store::GetClassStats() const {
  const Impl& im = *impl_;
  std::vector<ClassStats> all(im.num_classes);
  std::vector<base::RelTime> oldest(im.num_classes, 0);
  for (const auto& s : im.shards) {
    base::MutexLock lock(s->mu);
    const std::vector<internal::ClassCounters>& cc = s->classes();
    for (unsigned i = 0; i < cc.size(); ++i) {
      ClassStats& cs = all[i];
      cs.items += cc[i].items;
      cs.requested_bytes += cc[i].requested_bytes;
      cs.evicted += cc[i].evicted;
      cs.evicted_nonzero += cc[i].evicted_nonzero;
      cs.reclaimed += cc[i].reclaimed;
      cs.expired_unfetched += cc[i].expired_unfetched;
      cs.evicted_unfetched += cc[i].evicted_unfetched;
      cs.crawler_reclaimed += cc[i].crawler_reclaimed;
    }
    s->OldestAccessLocked(&oldest, kOldestAccessSample);
  }
  // A class with items but none in the sample gets the oldest access sampled anywhere.
  base::RelTime oldest_sampled = 0;
  for (base::RelTime t : oldest) {
    if (t != 0 && (oldest_sampled == 0 || t < oldest_sampled)) oldest_sampled = t;
  }
  std::vector<ClassStats> result;
  for (unsigned i = 0; i < im.num_classes; ++i) {
    if (all[i].items == 0) continue;
    ClassStats cs = all[i];
    cs.id = i + 1;
    cs.chunk_size = internal::ReportedClassSize(i + 1);
    cs.outofmemory = im.outofmemory[i].load(std::memory_order_relaxed);
    cs.oldest_access = oldest[i] != 0 ? oldest[i] : oldest_sampled;
    result.push_back(cs);
  }
  return result;
}

void Store::ResetStats() {
  Impl& im = *impl_;
  for (auto& s : im.shards) {
    base::MutexLock lock(s->mu);
    s->ResetCountersLocked();
  }
  im.malloc_fails.store(0, std::memory_order_relaxed);
  for (unsigned i = 0; i < im.num_classes; ++i) {
    im.outofmemory[i].store(0, std::memory_order_relaxed);
  }
}

unsigned Store::ClassOf(std::size_t size) { return internal::ReportedClassOf(size); }

std::size_t Store::ClassSize(unsigned id) { return internal::ReportedClassSize(id); }

std::size_t Store::ItemOverhead() { return Item::HeaderSize(0); }

base::HybridClock& Store::versions() { return impl_->versions; }
std::uint64_t Store::flush_version() const {
  return impl_->flush_version.load(std::memory_order_acquire);
}

}  // namespace rc::store
