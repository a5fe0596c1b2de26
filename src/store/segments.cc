// store/segments.cc -- the segment space: writer heads, the small and main segment queues, and
// eviction over whole segments (S3-FIFO's policy, Segcache's mechanism).
//
// New items are appended to the calling thread's small head. A full head is sealed onto the
// SMALL queue. When memory is short, the oldest segment leaves: from small while small holds more
// than a tenth of the queued bytes, else from main. Every item still linked in it is then judged
// as S3-FIFO judges an item at a queue's tail:
//   * expired or flushed: reclaimed;
//   * read since it arrived (frequency > 0): copied to the main head -- from small with its
//     frequency cleared (promotion), from main with one access fewer (CLOCK's second chance);
//   * unread, but small for this cache (under 7/8 of the mean item) and not kept this way
//     before: copied to the main head, marked (kSizeCredit) so that it gets this pass once;
//   * otherwise evicted, and a key evicted from small leaves a fingerprint in its shard's ghost
//     table, so that it comes back as proven.
// So one-hit wonders leave with their small segment, and anything read twice settles in main,
// while memory is only ever freed a whole segment at a time, with no fragmentation.
//
// Dead bytes come before live ones. Overwrites and deletes leave dead items in every segment,
// anywhere in a queue; evicting by queue order alone would drop live items while the dead ones
// further along hold their room (under overwrite churn 40% of the cache was dead). So a wholly
// dead segment near the old end of either queue is taken first; then the sparsest segment found
// in either queue is compacted, if that is sparse enough to be worth the copying, and only if
// none is does the queue whose turn it is (small while it holds more than its share) evict its
// oldest. A compacted segment's live items are copied to the newest end of the same queue
// (small's own compaction head, or the main head), keeping their frequency. The background
// reclaimer (reclaimer.cc) does this work ahead of the writers when it can.
//
// Emptying in steps. Emptying a segment walks every item in it, and compaction copies most of
// them: 50-250 us for a megabyte, which the one write that found no free segment used to pay
// while every request behind it waited. The background reclaimer does that work in idle time;
// when it cannot keep up (a busy core), the writers take it over in small steps, wherever
// overwrites and deletes leave dead items in the segments eviction takes (a write-once
// workload evicts whole segments: PaceWanted). A writer half way through its head that finds
// no free segment it may take chooses the next victim (with the reclaimer's bound, or the
// writers' own once a writer had to finish a walk: the steps are falling behind) without
// walking it; from then on every write, after taking its room, walks a few mean item strides
// of it, and the walk's end puts the segment on the free list, in time for the next writer
// that needs one. A writer that still finds none finishes what is left of the walk. One
// segment is walked this way at a time (empty_mu; a writer that finds another thread at it
// goes on), and its items stay readable until the walk reaches them.
//
// A dedicated segment (one large item) is judged the same way, but "copied forward" means the
// segment itself moves to main: no bytes are copied.
//
// With evictions off (-M) nothing live may go. CompactOne then picks the segment with the fewest
// live bytes and, if its dead bytes (deleted, overwritten) make room for the item asked for,
// copies the live items to the main head and frees it; new items then take the room left at the
// main head. Expired items are dead too, but only a walk finds them: when no segment is dead
// enough, the oldest segments are walked for them.
//
// A segment someone holds an ItemRef into is emptied like any other, but its memory returns to
// the pool only when the last reference is dropped (ReleaseSegment).
#include <algorithm>
#include <atomic>
#include <cstring>

#include "ringcached/base/check.h"
#include "ringcached/base/hash.h"
#include "store/store_impl.h"

namespace rc::store {

using internal::Item;
using internal::Moment;
using internal::Segment;
using internal::SegmentList;
using internal::Shard;
using internal::UnlinkCause;

namespace {

// The small queue's share of the queued bytes (S3-FIFO's 10%).
constexpr std::size_t kSmallShareDivisor = 10;
// Before the cache grows, a segment among the kSparseScan oldest of either queue that is at most
// kSparseEighths/8 live is compacted instead (ReclaimSparse); eviction first takes one there
// with nothing live.
constexpr std::size_t kSparseScan = 8;
constexpr std::size_t kSparseEighths = 1;
// When eviction comes (EvictOne), the sparsest segment of those it looks at in either queue
// (SparsestLocked: kScan at each old end, kScan more from a cursor that goes round each queue) is
// compacted instead of an oldest evicted, if it is at most that many sixteenths live: 14 when the
// background reclaimer does it in idle time, 13 (at most 4.3 bytes copied per byte freed) when a
// writer must. Measured under overwrite churn (memtier 1:1, 10 B-20 KB, -m 64): the live bytes
// kept went from 39 MB to 52 MB with 12 and 56-58 MB with 14 (memcached: 46 MB). Under Zipf churn
// a segment's hot items die soon after it is written and the rest stay: segments settle at
// 75-80% live, just above 12/16, and 13 catches them (memory_hit_ratio.py's 1:1 churn rows at
// -m 512: live bytes 0.975-1.010x memcached's with 12, 0.994-1.026x with 13; doc/store.md).
constexpr std::size_t kScan = 64;
constexpr std::size_t kBackgroundLiveSixteenths = 14;
constexpr std::size_t kInlineLiveSixteenths = 13;
// An unread item at a queue's old end whose stride is under kSmallItemEighths/8 of the mean
// stride of what eviction walks is kept for one more pass through main, once in its life
// (kSizeCredit). A hit ratio counts requests, not bytes, and a small item costs less room for
// the same chance of being asked for again; memcached's eviction within each slab class keeps
// a similar bias. Under 7/8, not under the mean: items of one value size whose keys differ in
// length by a few bytes are all "the mean" and get no credit. Measured (memory_hit_ratio.py
// churn row 10 B-20 KB, 1:1, uniform keys, -m 64): hit ratio 0.284 -> 0.357, memcached 0.327
// (doc/store.md, "Small items").
constexpr std::size_t kSmallItemEighths = 7;
// While a segment is being emptied in steps, each write walks this many mean item strides of it,
// and kPaceStridesShort while no free segment is left for writers. At 4 a walk ends within a
// quarter of a head's writes, enough when it evicts (a byte freed for every one or two walked)
// or compacts a sparse segment; compacting one near 14/16 live frees a byte for every 8 walked,
// and there the faster rate, or the writer that finds no segment, finishes it. The mean item
// stride, not the write's own: the largest 1% of writes are the set p99, and walking several of
// their own strides put 100 us and more on them. Measured (memory_hit_ratio.py's churn rows at
// -m 64 and 512; doc/store.md, "Emptying in steps"): set p99 of the 10 B - 20 KB, 1:1 rows
// 2.6-4.5x memcached's -> 1.1-2.4x.
constexpr std::size_t kPaceStrides = 4;
constexpr std::size_t kPaceStridesShort = 16;
// How many segments one allocation may evict or compact before it gives up (kNoMemory).
constexpr unsigned kMaxRoomAttempts = 256;

// Which small head the calling thread writes to.
std::size_t ThreadSlot() {
  static std::atomic<std::size_t> next{0};
  thread_local std::size_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

}  // namespace

void Store::Impl::PushNewestLocked(SegmentQueue* q, Segment* seg, SegmentList list) {
  seg->list = list;
  seg->older = q->newest;
  seg->newer = nullptr;
  if (q->newest != nullptr) {
    q->newest->newer = seg;
  } else {
    q->oldest = seg;
  }
  q->newest = seg;
  q->bytes += seg->bytes;
  ++q->count;
}

void Store::Impl::RemoveLocked(SegmentQueue* q, Segment* seg) {
  if (seg == main_cursor) main_cursor = seg->newer;
  if (seg == small_cursor) small_cursor = seg->newer;
  if (seg->newer != nullptr) {
    seg->newer->older = seg->older;
  } else {
    q->newest = seg->older;
  }
  if (seg->older != nullptr) {
    seg->older->newer = seg->newer;
  } else {
    q->oldest = seg->newer;
  }
  seg->newer = seg->older = nullptr;
  q->bytes -= seg->bytes;
  --q->count;
  seg->list = SegmentList::kNone;
}

Segment* Store::Impl::NewSharedSegment(bool force) {
  if (force || !pool->OverLimit()) {
    if (Segment* s = pool->TakeFree(force)) {
      if (!force) NoteSegmentTaken();
      return s;
    }
  }
  // Before the cache grows, reuse a segment whose items are all or nearly all gone (compacting
  // the few left): a workload that rewrites the same keys then turns over the same memory, as
  // memcached's slab chunks do, instead of faulting in new pages all the way to the limit. Not
  // under `force`, which is called with a shard lock held.
  if (!force && ReclaimSparse(kSparseEighths)) {
    if (Segment* s = pool->TakeFree(false)) return s;
  }
  std::size_t bytes = pool->segment_bytes();
  if (force) {
    pool->ForceReserve(bytes);
  } else if (!pool->Reserve(bytes)) {
    NoteSegmentTaken();  // none spare: the caller evicts inline, and the reclaimer catches up
    return nullptr;
  }
  Segment* s = pool->AllocateSegment(bytes, false);
  if (s == nullptr) {
    pool->Unreserve(bytes);
    malloc_fails.fetch_add(1, std::memory_order_relaxed);
  }
  return s;
}

Item* Store::Impl::AllocateBytes(std::size_t stride, const Moment& m,
                                 const internal::NewItem& init) {
  // Over the limit (it was lowered, or a table grew under a lock): every write evicts until the
  // account is back under it.
  for (unsigned i = 0; RC_UNLIKELY(pool->OverLimit()) && i < kMaxRoomAttempts; ++i) {
    if (!MakeRoom(m, stride)) break;
  }
  if (stride > shared_max) {
    std::size_t bytes = pool->DedicatedBytes(stride);
    if (bytes > pool->effective_limit()) return nullptr;  // could never fit: do not empty the cache
    const std::size_t max_attempts = kMaxRoomAttempts + 2 * bytes / pool->segment_bytes();
    for (std::size_t attempts = 0; !pool->Reserve(bytes); ++attempts) {
      // Free segments kept for reuse come first: they hold no items.
      if (pool->DropFree()) continue;
      if (attempts == max_attempts || !MakeRoom(m, bytes)) return nullptr;
    }
    Segment* seg = pool->AllocateSegment(bytes, true);
    if (seg == nullptr) {
      pool->Unreserve(bytes);
      malloc_fails.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    auto* item = reinterpret_cast<Item*>(seg->Append(stride));
    seg->refs.fetch_add(1, std::memory_order_relaxed);  // the caller's
    init.WriteTo(item);
    {
      base::MutexLock lock(seg_mu);
      PushNewestLocked(&small_q, seg, SegmentList::kSmall);
    }
    return item;
  }

  Head& head = small_heads[ThreadSlot() % kSmallHeads];
  for (unsigned attempts = 0;; ++attempts) {
    base::MutexLock lock(head.mu);
    Segment* seg = head.seg;
    if (seg != nullptr && seg->free_bytes() >= stride) {
      auto* item = reinterpret_cast<Item*>(seg->Append(stride));
      seg->refs.fetch_add(1, std::memory_order_relaxed);
      // The header is written under the head's lock: once another writer seals this segment,
      // eviction may walk it, and every item it meets must say how long it is.
      init.WriteTo(item);
      const std::size_t room = seg->free_bytes();
      lock.Unlock();
      PaceEmptying(m, room);
      return item;
    }
    Segment* fresh = NewSharedSegment(false);
    if (fresh == nullptr) {
      lock.Unlock();
      // Bounded: segments pinned by readers free nothing when evicted.
      if (attempts == kMaxRoomAttempts || !MakeRoom(m, stride)) return nullptr;
      if (!options.evictions) {
        if (Item* item = TakeFromMainHead(stride, init)) return item;
      }
      continue;
    }
    fresh->list = SegmentList::kOpen;
    head.seg = fresh;
    if (seg != nullptr) {
      base::MutexLock qlock(seg_mu);
      PushNewestLocked(&small_q, seg, SegmentList::kSmall);
    }
  }
}

Item* Store::Impl::CopyForwardLocked(const Item* item, bool to_small) {
  const std::size_t stride = item->stride();
  Head& head = to_small ? small_compact_head : main_head;
  base::MutexLock lock(head.mu);
  Segment* seg = head.seg;
  if (seg == nullptr || seg->free_bytes() < stride) {
    Segment* fresh = NewSharedSegment(true);
    if (fresh == nullptr) return nullptr;
    fresh->list = SegmentList::kOpen;
    head.seg = fresh;
    if (seg != nullptr) {
      base::MutexLock qlock(seg_mu);
      if (to_small) {
        PushNewestLocked(&small_q, seg, SegmentList::kSmall);
      } else {
        PushNewestLocked(&main_q, seg, SegmentList::kMain);
      }
    }
    seg = fresh;
  }
  auto* copy = reinterpret_cast<Item*>(seg->Append(stride));
  std::memcpy(static_cast<void*>(copy), static_cast<const void*>(item), item->total_size());
  return copy;
}

Item* Store::Impl::TakeFromMainHead(std::size_t stride,
                                    const internal::NewItem& init) {
  base::MutexLock lock(main_head.mu);
  Segment* seg = main_head.seg;
  if (seg == nullptr || seg->free_bytes() < stride) return nullptr;
  auto* item = reinterpret_cast<Item*>(seg->Append(stride));
  seg->refs.fetch_add(1, std::memory_order_relaxed);
  init.WriteTo(item);
  return item;
}

bool Store::Impl::MakeRoom(const Moment& m, std::size_t need, bool background) {
  pool->MeasureOnce();  // the first time memory runs short, learn the arena's overhead
  if (!options.evictions) return CompactOne(m, need);
  // A writer with no segment to take finishes the emptying writers are pacing, if there is
  // one: what is left of one segment's walk, rather than a whole other segment's.
  if (!background && emptying_active.load(std::memory_order_acquire) &&
      AdvanceEmptying(m, /*finish=*/true)) {
    return true;
  }
  return EvictOne(m, background, /*paced=*/false);
}

void Store::Impl::PaceEmptying(const Moment& m, std::size_t head_room) {
  if (emptying_active.load(std::memory_order_relaxed)) {
    (void)AdvanceEmptying(m, /*finish=*/false);
  } else if (head_room * 2 <= pool->segment_bytes() && PaceWanted()) {
    // Half way through the head and still no free segment for the next: the background
    // reclaimer is not keeping up (it has only idle time), so the writes that follow empty
    // the next victim in steps, rather than the one that finds none left, all at once.
    (void)EvictOne(m, /*background=*/false, /*paced=*/true);
  }
}

bool Store::Impl::AdvanceEmptying(const Moment& m, bool finish) {
  if (finish) {
    empty_mu.lock();
  } else if (!empty_mu.try_lock()) {
    return false;  // another writer is at it
  }
  bool stepped = false;
  bool done = false;
  if (emptying.seg != nullptr) {
    stepped = true;
    std::size_t budget = ~std::size_t{0};
    if (!finish) {
      // Faster once no free segment is left that a writer may take: the next writer to need
      // one would otherwise have to finish the walk alone.
      std::size_t strides = pool->WriterMayTakeFree() ? kPaceStrides : kPaceStridesShort;
      budget = std::max<std::size_t>(mean_stride.load(std::memory_order_relaxed), 1) * strides;
    }
    done = StepEmptying(&emptying, m, budget);
    if (done) emptying_active.store(false, std::memory_order_release);
    pace_behind.store(finish, std::memory_order_relaxed);
  }
  empty_mu.unlock();
  // Compaction's copies take room too (a segment 3/4 live frees a quarter of one): while the
  // free segments stay low, the next victim follows at once.
  if (done && PaceWanted()) (void)EvictOne(m, /*background=*/false, /*paced=*/true);
  return stepped;
}

bool Store::Impl::EvictOne(const Moment& m, bool background, bool paced) {
  // A segment with nothing linked left (deleted, overwritten data) costs nothing to take.
  if (ReclaimSparse(0)) {
    NoteDeadSpace(true);
    return true;
  }
  Segment* victim;
  bool from_small;
  bool compact;
  {
    base::MutexLock lock(seg_mu);
    if (small_q.count == 0 && main_q.count == 0) return false;
    // Dead space before live data, in either queue: the sparsest segment the scans of both
    // find is compacted within its own queue if it is sparse enough to be worth the copying.
    // (Looking only in the queue whose turn it is left main's dead space alone for as long as
    // small held more than its share: after a fill, for a whole -m of writes.)
    std::size_t max_live = background || (paced && !pace_behind.load(std::memory_order_relaxed))
                               ? kBackgroundLiveSixteenths
                               : kInlineLiveSixteenths;
    Segment* sparse_small = SparsestLocked(&small_q, &small_cursor, max_live);
    Segment* sparse_main = SparsestLocked(&main_q, &main_cursor, max_live);
    compact = sparse_small != nullptr || sparse_main != nullptr;
    NoteDeadSpace(compact);
    if (compact) {
      from_small = sparse_main == nullptr ||
                   (sparse_small != nullptr &&
                    sparse_small->live_bytes.load(std::memory_order_relaxed) <
                        sparse_main->live_bytes.load(std::memory_order_relaxed));
      victim = from_small ? sparse_small : sparse_main;
    } else {
      // Else S3-FIFO's turn: small's oldest while small holds more than its share.
      from_small = main_q.count == 0 ||
                   (small_q.count > 0 &&
                    small_q.bytes * kSmallShareDivisor > small_q.bytes + main_q.bytes);
      victim = from_small ? small_q.oldest : main_q.oldest;
    }
    NoteTurn(&victim_dead_score, victim->live_bytes.load(std::memory_order_relaxed) * 16 <
                                     victim->write_offset * 15);
    RemoveLocked(from_small ? &small_q : &main_q, victim);
    victim->list = SegmentList::kEvicting;
  }
  if (paced) {
    base::MutexLock lock(empty_mu);
    if (emptying.seg == nullptr) {
      if (BeginEmptying(&emptying, victim, from_small, compact, m)) {
        emptying_active.store(true, std::memory_order_release);
        emptied_in_steps.fetch_add(1, std::memory_order_relaxed);
      }
      return true;
    }
    // Another writer started one meanwhile: this victim is emptied at once, as without pacing.
  }
  if (!background) emptied_whole.fetch_add(1, std::memory_order_relaxed);
  Empty(victim, from_small, compact, m);
  return true;
}

bool Store::Impl::CompactOne(const Moment& m, std::size_t need) {
  Segment* victim = nullptr;
  bool from_small = false;
  {
    base::MutexLock lock(seg_mu);
    std::size_t best = ~std::size_t{0};
    for (SegmentQueue* q : {&small_q, &main_q}) {
      for (Segment* s = q->oldest; s != nullptr; s = s->newer) {
        std::size_t live = s->live_bytes.load(std::memory_order_relaxed);
        if (live < best) {
          best = live;
          victim = s;
          from_small = q == &small_q;
        }
      }
    }
    if (victim == nullptr) return false;
    // What compacting it frees: its dead items and its unused tail.
    std::size_t dead = victim->capacity() - std::min(best, victim->capacity());
    std::size_t spare = 0;
    {
      base::MutexLock hlock(main_head.mu);
      if (main_head.seg != nullptr) spare = main_head.seg->free_bytes();
    }
    // Worth it when what it frees (with the main head's spare room, where the copies go) holds
    // the item asked for: memcached's -M promise is that a delete makes room for a write of the
    // same size.
    if (best == victim->write_offset || dead + spare < need) {
      // Little is dead. Expired items count as dead too, but only a walk finds them: look in the
      // oldest segment for them, as memcached's -M looks at its LRU tail.
      victim = nullptr;
    } else {
      RemoveLocked(from_small ? &small_q : &main_q, victim);
      victim->list = SegmentList::kEvicting;
    }
  }
  if (victim == nullptr) {
    // Reclaim expired and flushed items in the oldest segments; memory comes back once a
    // segment is dead enough to compact.
    bool any = false;
    for (int pass = 0; pass < 2 && !any; ++pass) {
      Segment* s;
      {
        base::MutexLock lock(seg_mu);
        SegmentQueue* q = pass == 0 ? &small_q : &main_q;
        s = q->oldest;
        if (s == nullptr) continue;
        s->refs.fetch_add(1, std::memory_order_relaxed);  // keep it while we look
      }
      for (std::size_t off = 0; off < s->write_offset;) {
        auto* it = reinterpret_cast<Item*>(s->begin() + off);
        off += it->stride();
        std::uint64_t hash = base::HashKey(it->key());
        Shard& sh = ShardFor(hash);
        base::MutexLock lock(sh.mu);
        std::size_t slot = sh.SlotOfLocked(hash, it);
        if (slot == internal::Index::kNone) continue;
        bool flushed = m.Flushed(it);
        if (flushed || m.Expired(it)) {
          sh.UnlinkLocked(slot, hash, UnlinkCause::kReclaim, !flushed);
          any = true;
        }
      }
      internal::ReleaseSegment(s);
    }
    return any;
  }
  Empty(victim, from_small, true, m);
  return true;
}

bool Store::Impl::ReclaimSparse(std::size_t max_live_eighths) {
  Segment* victim = nullptr;
  SegmentQueue* from = nullptr;
  std::size_t least = ~std::size_t{0};
  {
    base::MutexLock lock(seg_mu);
    for (SegmentQueue* q : {&main_q, &small_q}) {
      Segment* s = q->oldest;
      for (std::size_t i = 0; i < kSparseScan && s != nullptr && least != 0; ++i, s = s->newer) {
        std::size_t live = s->live_bytes.load(std::memory_order_relaxed);
        // A dedicated segment holds one item: it is dead or it is not.
        if (live < least && (live == 0 || !s->dedicated)) {
          least = live;
          victim = s;
          from = q;
        }
      }
    }
    if (victim == nullptr || least * 8 > victim->capacity() * max_live_eighths) return false;
    RemoveLocked(from, victim);
    victim->list = SegmentList::kEvicting;
  }
  // Nothing live is lost: a sparse segment's items are all copied forward.
  Empty(victim, from == &small_q, least != 0, Now());
  return true;
}

Segment* Store::Impl::SparsestLocked(SegmentQueue* q, Segment** cursor,
                                     std::size_t max_live_sixteenths) {
  Segment* best = nullptr;
  std::size_t least = ~std::size_t{0};
  auto consider = [&](Segment* s) {
    std::size_t live = s->live_bytes.load(std::memory_order_relaxed);
    if (live < least && !s->dedicated) {
      least = live;
      best = s;
    }
  };
  Segment* s = q->oldest;
  for (std::size_t i = 0; i < kScan && s != nullptr; ++i, s = s->newer) consider(s);
  // Segments fall dead anywhere in a queue, not only at its old end: the cursor takes the scan
  // round all of it, kScan segments a call.
  if (*cursor == nullptr) *cursor = s;
  for (std::size_t i = 0; i < kScan && *cursor != nullptr; ++i) {
    consider(*cursor);
    *cursor = (*cursor)->newer;
  }
  if (best == nullptr || least * 16 > best->capacity() * max_live_sixteenths) return nullptr;
  return best;
}

void Store::Impl::Close(Segment* seg) {
  seg->closed.store(true, std::memory_order_seq_cst);
  // Every Put checks `closed` and links under its shard's lock. Taking each shard lock once
  // after setting it means that every Put that saw the segment open has finished linking, and
  // every later one sees it closed: from here on, which items in it are linked can only shrink,
  // and Item::linked() and live_bytes can be read without the shard locks.
  for (auto& s : shards) {
    base::MutexLock lock(s->mu);
  }
}

void Store::Impl::Empty(Segment* seg, bool from_small, bool keep_all, const Moment& m) {
  Emptying e;
  if (BeginEmptying(&e, seg, from_small, keep_all, m)) StepEmptying(&e, m, ~std::size_t{0});
}

bool Store::Impl::BeginEmptying(Emptying* e, Segment* seg, bool from_small, bool keep_all,
                                const Moment& m) {
  Close(seg);
  if (seg->dedicated) {
    auto* it = reinterpret_cast<Item*>(seg->begin());
    {
      std::uint64_t hash = base::HashKey(it->key());
      Shard& s = ShardFor(hash);
      base::MutexLock lock(s.mu);
      std::size_t slot = s.SlotOfLocked(hash, it);
      if (slot != internal::Index::kNone) {
        bool flushed = m.Flushed(it);
        if (flushed || m.Expired(it)) {
          s.UnlinkLocked(slot, hash, UnlinkCause::kReclaim, !flushed);
        } else if (keep_all || it->freq() > 0) {
          std::uint8_t bits = it->GetBits();
          if (!keep_all) {
            it->SetBits(from_small ? static_cast<std::uint8_t>(bits & ~internal::kFreqMask)
                                   : static_cast<std::uint8_t>(bits - 1));
          }
          // Moved, not copied: the segment goes to main's newest end, open to links again.
          seg->closed.store(false, std::memory_order_seq_cst);
          lock.Unlock();
          base::MutexLock qlock(seg_mu);
          PushNewestLocked(&main_q, seg, SegmentList::kMain);
          return false;
        } else {
          if (from_small) s.GhostInsertLocked(hash);
          s.UnlinkLocked(slot, hash, UnlinkCause::kEvict);
        }
      }
    }
    internal::ReleaseSegment(seg);
    return false;
  }
  *e = Emptying{};
  e->seg = seg;
  e->from_small = from_small;
  e->keep_all = keep_all;
  // Unread items smaller than this get one more pass (kSizeCredit); none while compacting.
  e->small_stride =
      keep_all ? 0 : mean_stride.load(std::memory_order_relaxed) * kSmallItemEighths / 8;
  return true;
}

bool Store::Impl::StepEmptying(Emptying* e, const Moment& m, std::size_t budget) {
  Segment* seg = e->seg;
  const std::size_t end = seg->write_offset;
  const std::size_t stop = budget >= end - e->off ? end : e->off + budget;
  std::size_t off = e->off;
  for (; off < stop && seg->live_bytes.load(std::memory_order_relaxed) != 0;) {
    auto* it = reinterpret_cast<Item*>(seg->begin() + off);
    off += it->stride();
    ++e->walked;
    // Exact since Close(): an item found unlinked stays so. One found linked may be unlinked by
    // the time the lock is taken, hence the check under it.
    if (!it->linked()) continue;
    std::uint64_t hash = base::HashKey(it->key());
    Shard& s = ShardFor(hash);
    base::MutexLock lock(s.mu);
    std::size_t slot = s.SlotOfLocked(hash, it);
    if (slot == internal::Index::kNone) continue;
    bool flushed = m.Flushed(it);
    if (flushed || m.Expired(it)) {
      s.UnlinkLocked(slot, hash, UnlinkCause::kReclaim, !flushed);
      continue;
    }
    std::uint8_t bits = it->GetBits();
    bool credit = (bits & (internal::kFreqMask | internal::kSizeCredit)) == 0 &&
                  it->stride() < e->small_stride;
    if (credit) bits |= internal::kSizeCredit;
    if (e->keep_all || credit || (bits & internal::kFreqMask) != 0) {
      // Compaction keeps an item in its queue; promotion, second chances and size credits go
      // to main. (With -M everything goes to the main head, where the writer asking for room
      // takes it.)
      if (Item* copy =
              CopyForwardLocked(it, e->keep_all && e->from_small && options.evictions)) {
        std::uint8_t next = bits;
        if (!e->keep_all && !credit) {
          next = e->from_small ? static_cast<std::uint8_t>(bits & ~internal::kFreqMask)
                               : static_cast<std::uint8_t>(bits - 1);
        }
        copy->SetBits(next);
        s.MoveLocked(slot, copy);
        e->copied += it->stride();
        continue;
      }
    }
    if (e->from_small) s.GhostInsertLocked(hash);
    s.UnlinkLocked(slot, hash, UnlinkCause::kEvict);
  }
  e->off = off;
  if (off < end && seg->live_bytes.load(std::memory_order_relaxed) != 0) return false;
  NoteCopying(e->copied * kCopiedDivisor >= seg->capacity());
  if (e->walked > 0) {
    // The mean stride of what was written (dead items too), a moving average over segments.
    std::uint32_t mean = mean_stride.load(std::memory_order_relaxed);
    auto here = static_cast<std::uint32_t>(off / e->walked);
    mean_stride.store(mean == 0 ? here : mean - mean / 8 + here / 8, std::memory_order_relaxed);
  }
  internal::ReleaseSegment(seg);
  e->seg = nullptr;
  return true;
}

}  // namespace rc::store
