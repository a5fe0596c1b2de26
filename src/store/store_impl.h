// store/store_impl.h -- Store::Impl: what the store's operations and statistics (store.cc), its
// segment space and eviction (segments.cc) and its background reclaimer (reclaimer.cc) share.
//
// Lock order, outermost first: a small writer head's lock; a shard lock; the main head's or the
// small compaction head's lock; the segment-list lock. Nothing takes a lock of an earlier kind
// while holding a later one, and no code holds two shard locks at once. Allocation (which may evict, which takes shard locks)
// therefore never happens under a shard lock: operations that need a new item while they hold
// one drop it, allocate, and check again (the Rewrite pattern in store.cc). The only memory
// found under a shard lock is for copies eviction moves forward, taken from the main head
// without evicting (Pool::ForceReserve).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/hybrid_clock.h"
#include "ringcached/base/mutex.h"
#include "ringcached/store/store.h"
#include "store/item.h"
#include "store/pool.h"
#include "store/shard.h"

namespace rc::store {

// A FIFO list of sealed segments (newest at one end, oldest at the other).
struct SegmentQueue {
  internal::Segment* newest = nullptr;
  internal::Segment* oldest = nullptr;
  std::size_t bytes = 0;
  std::size_t count = 0;
};

struct Store::Impl {
  Impl(const Options& opts, const base::Clock* clk);
  ~Impl();

  // The top bits pick the shard.
  std::size_t ShardIndex(std::uint64_t hash) const {
    return shard_bits == 0 ? 0 : static_cast<std::size_t>(hash >> (64 - shard_bits));
  }
  internal::Shard& ShardFor(std::uint64_t hash) { return *shards[ShardIndex(hash)]; }

  // The current time and flush cut-off, promoting a delayed flush whose time has come.
  internal::Moment Now() {
    base::RelTime now = clock->Now();
    base::RelTime due = flush_due.load(std::memory_order_acquire);
    if (RC_UNLIKELY(due != 0 && now >= due)) PromoteFlush(now);
    return internal::Moment{now, flush_version.load(std::memory_order_acquire)};
  }
  void PromoteFlush(base::RelTime now);
  // The version a write links its item with: the caller's (meta E, a peer's, already admitted
  // by versions.Admit) or a new one. Under the shard lock, so that one key's versions follow the
  // order its writes are applied in.
  std::uint64_t VersionFor(std::uint64_t given) { return given != 0 ? given : versions.Mint(); }
  std::uint64_t VisibleCas(const internal::Item* it) const {
    return options.use_cas ? it->version() : 0;
  }

  // The live item under `key`, or nullptr; a dead one is unlinked on the way (lazy expiry).
  // *slot is the item's table slot.
  internal::Item* FindLiveLocked(internal::Shard& s, std::uint64_t hash, std::string_view key,
                                 const internal::Moment& m, MissReason* reason, std::size_t* slot)
      RC_REQUIRES(s.mu);

  // An unlinked item with room for `value_len` value bytes (store.cc), and for a TTL stamp
  // when `ttl_stamp`.
  Allocation AllocateItem(std::string_view key, std::uint32_t flags, base::RelTime exptime,
                          std::uint32_t value_len, const internal::Moment& m,
                          bool ttl_stamp = false);

  // Optional words a rewritten copy needs room for, beyond what the item has.
  struct Room {
    bool exptime = false;
    bool ttl_stamp = false;
  };
  // With s.mu held and `it` the live item linked under its key: drops the lock, writes a
  // copy of `it` (with the `room` asked for), lets `edit` change the copy, and links it in place
  // of `it` if `it` is still the one linked; returns with the lock held again. kStored when the
  // copy is linked, kNotFound when `it` changed meanwhile (look again), kNoMemory when no memory
  // could be found for the copy.
  template <typename Edit>
  Outcome Rewrite(internal::Shard& s, std::uint64_t hash, internal::Item* it, Room room,
                  Edit edit) RC_REQUIRES(s.mu);
  // Whether a peer's write of `version` is newer than what the key holds here: its item `it`, or
  // the tombstone at `slot` when `it` is null (FindLiveLocked leaves a tombstone's slot), and
  // than the flush cut-off (a write at or below it must not bring flushed data back).
  //
  // Equal versions (two holders minted the same one, REPLICATION.md section 3) are ordered by
  // content, so that every holder keeps the same one whatever order the copies arrive in and
  // however many minters there were: a tombstone over a value, else the value that orders
  // after (bytes, then flags). The copy is a delete (`tombstone`), or the item `value`, or not
  // known yet (neither): an equal version then counts as newer, for the caller to decide again.
  bool NewerLocked(internal::Shard& s, const internal::Item* it, std::size_t slot,
                   std::uint64_t version, bool tombstone, const internal::Item* value,
                   const internal::Moment& m) RC_REQUIRES(s.mu) {
    if (version <= m.flush_version) return false;
    const internal::Item* present =
        it != nullptr ? it : (slot != internal::Index::kNone ? s.AtLocked(slot) : nullptr);
    if (present == nullptr || present->version() < version) return true;
    if (present->version() > version) return false;
    if (tombstone || present->tombstone()) return tombstone && !present->tombstone();
    if (value == nullptr) return true;
    const std::string_view mine(present->value(), present->value_len());
    const std::string_view theirs(value->value(), value->value_len());
    if (const int order = theirs.compare(mine); order != 0) return order > 0;
    return value->client_flags() > present->client_flags();
  }
  // A tombstone for `key`: a valueless item that expires after Options::tombstone_ttl.
  Allocation AllocateTombstone(std::string_view key, const internal::Moment& m) {
    Allocation a = AllocateItem(key, 0, m.now + options.tombstone_ttl, 0, m);
    if (a.item) a.item.get()->set_tombstone();
    return a;
  }
  // Links *tombstone (if any) in `slot` (the key's item or tombstone, or kNone) with `version`.
  // False when there is none to link (tombstones off, or no memory for one).
  bool LinkTombstoneLocked(internal::Shard& s, std::uint64_t hash, std::size_t slot,
                           std::uint64_t version, Allocation* tombstone, const internal::Moment& m,
                           bool from_peer = false) RC_REQUIRES(s.mu) {
    if (!tombstone->item) return false;
    internal::Item* t = tombstone->item.get();
    t->set_version(version);
    if (from_peer) t->SetBits(t->GetBits() | internal::kFromPeer);
    s.LinkLocked(t, hash, slot, m.now, /*new_write=*/false);
    s.MaybeRebuildLocked();
    return true;
  }

  // touch, gat, mg T: whether `it` needs a copy with more room before TouchLocked can set
  // `exptime` on it (room for an expiry, and for the TTL stamp).
  static bool TouchNeedsRoom(const internal::Item* it, base::RelTime exptime) {
    return !it->has_ttl_stamp() || (exptime != 0 && !it->has_exptime());
  }
  static constexpr Room kTouchRoom{.exptime = true, .ttl_stamp = true};
  // touch, gat, mg T and a peer's or the guest cut's TTL change (store.cc); a `guest_version`
  // marks the item of that version a guest copy, copying it if it is not one yet.
  template <typename Apply>
  Outcome ChangeTtl(std::string_view key, base::RelTime exptime, Apply apply,
                    std::uint64_t guest_version = 0);
  // Sets the expiry of a linked item with the room for it, and stamps the change with a new
  // version (kept CAS: memcached's touch leaves the CAS alone). Returns the stamp.
  std::uint64_t TouchLocked(internal::Item* it, base::RelTime exptime) {
    it->set_exptime(exptime);
    const std::uint64_t stamp = versions.Mint();
    it->set_ttl_stamp(stamp);
    return stamp;
  }

  // --- segments.cc: the segment space -------------------------------------------------------

  // `stride` bytes for a new item, in a shared segment (from this thread's small head) or a
  // dedicated one; the returned memory is pinned by one reference for the caller, and the header
  // `init` describes is written into it. Evicts (or, with -M, compacts) when memory is short;
  // nullptr when nothing can make room.
  internal::Item* AllocateBytes(std::size_t stride, const internal::Moment& m,
                                const internal::NewItem& init);
  // Under the item's shard lock: a copy of `item` at the main head (or, `to_small`, small's
  // compaction head), for eviction to move forward. Never evicts.
  internal::Item* CopyForwardLocked(const internal::Item* item, bool to_small);
  // Frees one segment's worth of memory, or as near as it can: with evictions on, dead space
  // first (compaction), then S3-FIFO over segments; with -M, compaction of the emptiest segment.
  // False when nothing could go.
  // `need`: the stride the caller wants room for (-M compacts only when that can come of it).
  // `background`: called by the reclaimer, which may copy more to keep more (segments.cc).
  bool MakeRoom(const internal::Moment& m, std::size_t need, bool background = false);
  // MakeRoom with evictions on: takes a victim off its queue and empties it, or (`paced`)
  // hands it to the writers to empty in steps (the `emptying` below), if none is being.
  bool EvictOne(const internal::Moment& m, bool background, bool paced);
  // A segment being emptied: Empty's walk, resumable, so that writers can take it in steps.
  struct Emptying {
    internal::Segment* seg = nullptr;
    bool from_small = false;
    bool keep_all = false;
    std::size_t copied = 0;  // bytes copied forward
    std::size_t small_stride = 0;
    std::size_t off = 0;
    std::size_t walked = 0;
  };
  // Closes `seg` and sets *e up to walk it; false when there is nothing to walk (a dedicated
  // segment is dealt with at once).
  bool BeginEmptying(Emptying* e, internal::Segment* seg, bool from_small, bool keep_all,
                     const internal::Moment& m);
  // Walks about `budget` bytes more of e's segment; true (and the segment released) when done.
  bool StepEmptying(Emptying* e, const internal::Moment& m, std::size_t budget);
  // Called by a writer after it took room for an item, with `head_room` left in its head:
  // steps the segment writers are emptying, or starts one when free segments run short.
  void PaceEmptying(const internal::Moment& m, std::size_t head_room);
  // Walks the writers' emptying one step further, or (`finish`: waiting for another thread at
  // it) to its end. False when there was none, or another thread was at it.
  bool AdvanceEmptying(const internal::Moment& m, bool finish);
  bool CompactOne(const internal::Moment& m, std::size_t need);
  // -M: `stride` bytes from the spare room at the main head, where compaction leaves what it
  // freed; nullptr when there is not enough.
  internal::Item* TakeFromMainHead(std::size_t stride, const internal::NewItem& init);
  // Evicts, copies forward or reclaims every linked item in `seg` (taken off its list), then
  // drops the store's reference. `from_small`: S3-FIFO's small queue (a read item is promoted
  // with its frequency cleared) rather than main (reinserted with one access fewer).
  // `keep_all`: compaction, every live item is copied forward.
  void Empty(internal::Segment* seg, bool from_small, bool keep_all, const internal::Moment& m);
  // Marks `seg` closed to new links and waits out every Put that saw it open (see segments.cc).
  void Close(internal::Segment* seg);
  // Takes the segment with the fewest live bytes among the few oldest of each queue, if it is
  // at most `max_live_eighths`/8 live (0: nothing linked), and compacts it: its live items (if
  // any) are copied to the newest end of their queue. False when there is none.
  bool ReclaimSparse(std::size_t max_live_eighths);
  // `q`'s segment with the fewest live bytes of those it looks at (resuming from *cursor), if
  // it is at most `max_live_sixteenths`/16 live, sparse enough to compact rather than evict an
  // oldest (segments.cc); nullptr when none is. Under seg_mu.
  internal::Segment* SparsestLocked(SegmentQueue* q, internal::Segment** cursor,
                                    std::size_t max_live_sixteenths) RC_REQUIRES(seg_mu);
  // Adds a sealed segment to a list / takes the oldest one off. Under seg_mu.
  void PushNewestLocked(SegmentQueue* q, internal::Segment* seg, internal::SegmentList list)
      RC_REQUIRES(seg_mu);
  void RemoveLocked(SegmentQueue* q, internal::Segment* seg) RC_REQUIRES(seg_mu);
  // A fresh shared segment: from the free list, or newly allocated if the charge fits (or
  // `force`). nullptr when neither.
  internal::Segment* NewSharedSegment(bool force);

  // The background reclaimer (reclaimer.cc), with Options::background_reclaim.
  void StartReclaimer();
  void StopReclaimer();
  // Called by a writer that took a segment: wakes the reclaimer if the spare segments run low.
  void NoteSegmentTaken();
  // Whether the cache is full, eviction has been reclaiming dead space, and the cache holds
  // fewer spare segments than it then keeps ready.
  bool ReserveLow() const;
  // Whether writers should start emptying a segment in steps: the cache is full, no free
  // segment is left that a writer may take, and the segments eviction takes have had items
  // overwritten or deleted (victim_dead_score). A write-once workload evicts whole segments as
  // it always did: there a segment emptied ahead waits on the free list holding no data, which
  // cost the 32 B fill 1.2% of -m kept.
  bool PaceWanted() const {
    return options.evictions && !pool->CanGrow() && !pool->WriterMayTakeFree() &&
           victim_dead_score.load(std::memory_order_relaxed) >= kQuarterScore;
  }
  // Eviction's records, each a moving average (score / 256) of recent turns, updated racily:
  //   dead_space_score: it found dead space to reclaim (compaction) rather than dropping live
  //     items; while a quarter of turns do, the reclaimer keeps its reserve (ReserveLow);
  //   victim_dead_score: the segment it took had at least 1/16 of it dead (PaceWanted);
  //   copy_score: emptying a segment copied at least 1/kCopiedDivisor of it forward; while a
  //     quarter of turns do, the pool keeps its spare segment for the copies (Pool::KeepSpare).
  //     A few items do not need it: in a write-once fill of 32-byte values the ghost table's
  //     false matches copy about 14 items a segment, and with the spare kept for them the fill
  //     kept 0.607 of -m instead of 0.618. The Pareto churn rows did not move (paired runs).
  static int NoteTurn(std::atomic<int>* score, bool yes) {
    int old = score->load(std::memory_order_relaxed);
    int now = old - old / 8 + (yes ? 32 : 0);
    score->store(now, std::memory_order_relaxed);
    return now;
  }
  void NoteDeadSpace(bool found) { NoteTurn(&dead_space_score, found); }
  void NoteCopying(bool copied) {
    int score = NoteTurn(&copy_score, copied);
    if (spare_allowed) pool->KeepSpare(score >= kQuarterScore);  // once a segment: cheap
  }
  static constexpr int kQuarterScore = 64;  // of the scores' 256: a quarter of recent turns
  static constexpr std::size_t kCopiedDivisor = 64;
  void ReclaimerMain();

  Options options;
  const base::Clock* clock;
  std::unique_ptr<internal::Pool> pool;
  unsigned shard_bits;
  std::vector<std::unique_ptr<internal::Shard>> shards;
  unsigned num_classes;
  std::unique_ptr<std::atomic<std::uint64_t>[]> outofmemory;  // per class
  std::atomic<std::uint64_t> malloc_fails{0};

  base::HybridClock versions;                   // every item's version (its CAS)
  std::atomic<std::uint64_t> flush_version{0};  // items with a lower version are flushed
  std::atomic<base::RelTime> flush_due{0};  // a delayed flush not yet in effect (0: none)
  base::Mutex flush_mu;

  base::Mutex crawl_mu;
  Store::Scan crawl_scan RC_GUARDED_BY(crawl_mu);  // the crawler's walk (Store::Crawl)

  // One step of a Scan (Store::ScanStep): visit(shard, slot, item, hash) for the items of about
  // `max_slots` slots of one shard, under its lock. False once the walk is complete. (The
  // thread-safety analysis does not follow a lock into a callback: a `visit` that calls a
  // ...Locked method of the shard says so with RC_NO_THREAD_SAFETY_ANALYSIS.)
  template <typename Visit>
  bool ScanStep(Store::Scan* scan, std::size_t max_slots, Visit visit) {
    if (scan->done_) return false;
    internal::Shard& s = *shards[scan->shard_];
    {
      base::MutexLock lock(s.mu);
      constexpr std::uint64_t kEnd = std::uint64_t{1} << 32;
      const std::size_t slots = std::max<std::size_t>(s.table_slots(), 1);
      // About max_slots slots' worth of hash space (at least one position).
      const std::uint64_t span = std::max<std::uint64_t>((kEnd * max_slots) / slots, 1);
      const std::uint64_t to = std::min(kEnd, scan->from_ + span);
      s.VisitHashRangeLocked(scan->from_, to,
                             [&](std::size_t slot, internal::Item* it, std::uint64_t hash) {
                               visit(s, slot, it, hash);
                             });
      scan->from_ = to;
    }
    if (scan->from_ == (std::uint64_t{1} << 32)) {
      scan->from_ = 0;
      if (++scan->shard_ == shards.size()) scan->done_ = true;
    }
    return !scan->done_;
  }

  // The segment space. Items up to shared_max bytes share segments; larger ones get their own.
  struct Head {
    base::Mutex mu;
    internal::Segment* seg RC_GUARDED_BY(mu) = nullptr;
  };
  static constexpr std::size_t kSmallHeads = 8;
  std::size_t shared_max = 0;
  std::array<Head, kSmallHeads> small_heads;  // new items, one head per writer thread (mod 8)
  Head main_head;                             // copies moved forward by eviction
  Head small_compact_head;                    // small's items that compaction keeps in small
  mutable base::Mutex seg_mu;                 // the two queues and their cursors
  SegmentQueue small_q RC_GUARDED_BY(seg_mu);
  SegmentQueue main_q RC_GUARDED_BY(seg_mu);
  // Where SparsestLocked's scans go on.
  internal::Segment* main_cursor RC_GUARDED_BY(seg_mu) = nullptr;
  internal::Segment* small_cursor RC_GUARDED_BY(seg_mu) = nullptr;

  // The reclaimer's thread and the spare segments it keeps ready (reclaim_reserve).
  std::thread reclaimer;
  base::Mutex reclaim_mu;
  std::condition_variable_any reclaim_cv;
  bool reclaim_stop RC_GUARDED_BY(reclaim_mu) = false;
  std::atomic<bool> reclaim_wanted{false};
  std::size_t reclaim_reserve = 0;
  std::atomic<int> dead_space_score{0};       // NoteTurn's scores (racy updates are fine)
  std::atomic<int> victim_dead_score{0};
  std::atomic<int> copy_score{0};
  bool spare_allowed = false;                 // the cache is large enough for a spare segment
  std::atomic<std::uint32_t> mean_stride{0};  // of the items eviction walks (Empty; racy is fine)
  std::atomic<std::uint64_t> background_reclaims{0};  // segments it freed

  // The segment writers are emptying in steps (AdvanceEmptying), if any.
  base::Mutex empty_mu;
  Emptying emptying RC_GUARDED_BY(empty_mu);
  std::atomic<bool> emptying_active{false};
  std::atomic<bool> pace_behind{false};  // the last step was a writer finishing the walk
  std::atomic<std::uint64_t> emptied_in_steps{0};  // by writers, in steps (Stats)
  std::atomic<std::uint64_t> emptied_whole{0};     // by writers, all at once (Stats)
};

}  // namespace rc::store
