// store/store.h -- the item store: the only header of src/store/ other modules may include.
//
// The store keeps items (key, value, client flags, expiry, version) packed into segments allocated
// from a dedicated jemalloc arena, accounts segments and hash tables against the memory limit,
// and evicts whole segments when full (or refuses, with evictions off: memcached -M). It knows
// nothing of protocols, connections or the cluster. See doc/store.md for the layout and the
// eviction policy.
//
// Thread-safety: every method may be called from any thread. The store is split into shards by
// key hash, each with its own lock, hash table and eviction queue, so workers on different keys
// rarely contend. An ItemRef may be used and destroyed on any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/hybrid_clock.h"

namespace rc::store {

namespace internal {
struct Item;
}

// What a write did. Each value maps to exactly one protocol reply; none of them is an error.
enum class Outcome : std::uint8_t {
  kStored,
  kNotStored,   // add on a present key; replace/append/prepend on a missing one
  kExists,      // cas: the item changed since the client read it
  kNotFound,    // cas/delete/touch/incr on a missing key
  kDeleted,
  kTouched,
  kTooLarge,    // the whole item would exceed the item size limit (-I)
  kNoMemory,    // full, and evictions are off or nothing could be evicted
  kNonNumeric,  // incr/decr on a value that is not a decimal number
};

// How Put() links a new item.
enum class Mode : std::uint8_t { kSet, kAdd, kReplace, kAppend, kPrepend, kCas };

// Why a lookup missed, for get_expired / get_flushed.
enum class MissReason : std::uint8_t { kHit, kAbsent, kExpired, kFlushed };

// A counted reference to an item (it pins the segment the item lives in). While an ItemRef is
// alive the item's memory stays valid even if another thread deletes, replaces or evicts the key,
// which is what lets a connection write a value straight from item memory with writev. Move-only;
// destroying it drops the reference.
class ItemRef {
 public:
  ItemRef() = default;
  explicit ItemRef(internal::Item* item) : item_(item) {}  // adopts one segment reference
  ItemRef(ItemRef&& other) noexcept : item_(other.item_) { other.item_ = nullptr; }
  ItemRef& operator=(ItemRef&& other) noexcept;
  ItemRef(const ItemRef&) = delete;
  ItemRef& operator=(const ItemRef&) = delete;
  ~ItemRef() {
    if (item_ != nullptr) Reset();  // most are moved-from: no call for them
  }

  explicit operator bool() const { return item_ != nullptr; }
  void Reset();

  std::string_view key() const;
  std::string_view value() const;            // the value bytes (no "\r\n" follows them)
  std::uint32_t flags() const;
  std::uint64_t cas() const;                 // 0 when CAS is disabled (-C)
  std::uint64_t version() const;             // the CAS, even with -C (base/hybrid_clock.h)
  // The version of the item's latest TTL change (touch, gat, mg T): its version until touched.
  // Read it only while no other thread can touch the item (the store's results carry it).
  std::uint64_t ttl_stamp() const;
  base::RelTime exptime() const;             // 0 = never
  base::RelTime last_access() const;
  // The value to fill (value().size() bytes), for an item from Allocate() that has not been
  // Put() yet.
  char* writable_value() const;
  // The item's size class, as `stats slabs` numbers them (see Store::ClassOf).
  unsigned class_id() const;
  // Read at least once since it was linked (memcached ITEM_FETCHED).
  bool fetched() const;
  // The meta protocol's anti-stampede state (memcached ITEM_STALE, ITEM_TOKEN_SENT): the item
  // was invalidated (md/ms with I) and should be recached; a client has been told it won the
  // right to recache it (W), so others are told to wait (Z).
  bool stale() const;
  bool win_token_sent() const;
  // The key arrived base64-encoded (meta `b`); meta replies send it encoded. Set it, if at all,
  // on an item from Allocate() before Put().
  bool key_binary() const;
  void set_key_binary(bool binary);

  internal::Item* get() const { return item_; }

  // Gives up the reference without dropping it, for a holder that keeps items as plain pointers
  // (net::Pin, through server/); Unpin() drops such a reference later.
  void* Release() {
    void* item = item_;
    item_ = nullptr;
    return item;
  }
  static void Unpin(void* item) noexcept { ItemRef(static_cast<internal::Item*>(item)).Reset(); }

 private:
  internal::Item* item_ = nullptr;
};

struct Options {
  std::size_t memory_limit = 64u << 20;   // -m, in bytes
  bool evictions = true;                  // false: -M
  bool use_cas = true;                    // false: -C
  std::size_t item_size_max = 1u << 20;   // -I: the largest whole item (header + key + value)
  unsigned hashpower_init = 0;            // -o hashpower: log2 of initial buckets; 0 = default
  unsigned shard_bits = 6;                // 2^shard_bits shards
  // A thread that keeps a few free segments ready in a full cache, so that writers seldom
  // evict inline (store/reclaimer.cc). With evictions only.
  bool background_reclaim = false;
  // How far ahead of this node's wall clock an admitted version may be (--max-clock-skew-ms).
  std::uint64_t max_clock_skew_ms = 1000;
  // Seconds a delete's tombstone is kept (--tombstone-ttl); 0: deletes keep none, as a single
  // node needs none. With tombstones, every delete, hit or miss, links one (key and version, no
  // value): lookups see a miss, and a write from a peer older than the delete is refused.
  base::RelTime tombstone_ttl = 0;
};

struct GetOptions {
  bool bump = true;                  // record the access (eviction recency, last-access time)
  bool touch = false;                // also set a new expiry (gat, touch)
  base::RelTime new_exptime = 0;     // with touch
};

struct Lookup {
  ItemRef item;                         // empty on a miss
  MissReason reason = MissReason::kAbsent;
  std::uint64_t ttl_stamp = 0;          // with GetOptions::touch: the TTL change's stamp
};

struct Allocation {
  ItemRef item;                         // empty when outcome is kTooLarge or kNoMemory
  Outcome outcome = Outcome::kStored;
};

struct IncrResult {
  Outcome outcome = Outcome::kNotFound;  // kStored, kNotFound, kNonNumeric, kNoMemory; kExists
                                         // when IncrOptions::compare_cas did not match
  std::uint64_t value = 0;               // the new number
  std::uint64_t cas = 0;
  unsigned class_id = 0;                 // the class of the item incremented (for stats)
  // With IncrOptions (meta ma):
  MissReason reason = MissReason::kHit;  // on kNotFound, why
  base::RelTime exptime_before = 0;      // the expiry before IncrOptions::touch applied
  base::RelTime exptime = 0;             // the expiry now
  ItemRef item;                          // kStored: the item now linked (a new one each time)
};

// Every write below takes `version` as the new item's (or tombstone's) version when it is not 0:
// one from meta `E` or a peer, admitted first with versions().Admit(). 0 mints a new one.

// Extras of incr/decr for meta `ma`.
struct IncrOptions {
  std::uint64_t compare_cas = 0;    // non-zero: only if the item's CAS (0 with -C) is this
  bool touch = false;               // also set a new expiry (ma T)
  base::RelTime new_exptime = 0;
  std::uint64_t version = 0;
};

// How Put() treats a CAS mismatch (meta `ms ... C<cas> I`).
struct PutOptions {
  // kCas only: a cas_unique LOWER than the present item's is accepted as well. The new item then
  // keeps the old one's expiry and win token and is marked stale, so the next reader recaches
  // (memcached do_store_item, CAS_STALE).
  bool allow_stale = false;
  std::uint64_t version = 0;
  // A copy from a peer (replication, hand-off) with its owner's `version`: kSet only, linked
  // only if that version is newer than the key's item or tombstone here and than the flush
  // cut-off; otherwise kExists and nothing changes. Equal versions are ordered by content, the
  // same way on every node (store_impl.h NewerLocked).
  bool if_newer = false;
};

// Meta `md`: delete conditionally, or invalidate instead of deleting.
struct DeleteOptions {
  bool compare_cas = false;         // only if the item's CAS (0 with -C) equals `cas`, else kExists
  std::uint64_t cas = 0;
  bool invalidate = false;          // keep the item: mark it stale, withdraw its win token, give it
                                    // a new CAS (md I)
  bool set_exptime = false;         // with invalidate: also set the expiry (md I T<ttl>)
  base::RelTime exptime = 0;
  std::uint64_t version = 0;        // the tombstone's, or the invalidated item's
  // A peer's delete with its owner's `version`: only if that version is newer than the key's
  // item or tombstone here (at an equal version a delete beats a value); otherwise kExists and
  // nothing changes.
  bool if_newer = false;
};

struct DeleteResult {
  Outcome outcome = Outcome::kNotFound;  // kDeleted (deleted or invalidated), kNotFound, kExists
  bool invalidated = false;
  unsigned class_id = 0;                 // the item's class when found
  MissReason reason = MissReason::kAbsent;  // on kNotFound, why
  // A delete hit or miss: the tombstone's version; an invalidation: the item's new version.
  // 0 when nothing was written (a compare that did not match).
  std::uint64_t version = 0;
};

// One step of a meta get (mg), applied in the order the request gave its flags, under the
// item's lock; the order decides what `t` shows and what R compares against.
enum class MetaStep : std::uint8_t {
  kTouch,       // T: set the expiry to MetaGetOptions::touch_exptime
  kVivify,      // N: on an item this call created, set the expiry to vivify_exptime; a win
  kRecache,     // R: a win if nobody holds one, the item was not just created, and its expiry is
                //    set and earlier than recache_before
  kReadExpiry,  // t: record the expiry as it is at this point (MetaLookup::exptime)
};

struct MetaGetOptions {
  bool bump = true;                 // record the access (not with mg u)
  bool vivify = false;              // N: on a miss, link an empty item and hand this caller the win
  bool vivify_key_binary = false;   // the vivified item's key_binary()
  base::RelTime vivify_exptime = 0;
  base::RelTime touch_exptime = 0;
  base::RelTime recache_before = 0;
  std::uint64_t vivify_version = 0;  // the vivified item's version (E); 0 mints one
  std::array<MetaStep, 4> steps{};
  std::uint8_t nsteps = 0;
};

// What a meta get saw. Every field but `item` and `won` describes the item as it was BEFORE this
// call (fetched, last access: mg h, l), except `exptime` (see MetaStep::kReadExpiry).
struct MetaLookup {
  ItemRef item;                          // empty on a miss (and no vivification)
  MissReason reason = MissReason::kAbsent;  // of the lookup, even when the miss was vivified
  bool created = false;                  // vivified by this call
  bool touched = false;                  // a kTouch step ran
  bool won = false;                      // W: this caller won the recache; the item now says so
  bool win_token_was_sent = false;       // Z: someone else had won already
  bool stale = false;                    // X
  bool fetched = false;                  // h
  base::RelTime last_access = 0;         // l
  base::RelTime exptime = 0;             // at the kReadExpiry step, else after every step
  std::uint64_t ttl_stamp = 0;           // when `touched`: the TTL change's stamp
};

// Figures for `stats`; a snapshot taken across shards, not an atomic one.
struct Stats {
  std::uint64_t curr_items = 0;
  std::uint64_t total_items = 0;       // items linked since start (or `stats reset`)
  std::uint64_t bytes = 0;             // bytes linked items occupy in their segments
  std::uint64_t memory_limit = 0;
  std::uint64_t allocated = 0;         // charged to the limit: segments (in use, filling, free)
                                       // and tables
  std::uint64_t allocator_overhead = 0;  // the arena's measured overhead, taken off the limit
  std::uint64_t evictions = 0;
  std::uint64_t reclaimed = 0;         // expired items whose memory was reused or freed
  std::uint64_t expired_unfetched = 0;
  std::uint64_t evicted_unfetched = 0;
  std::uint64_t crawler_reclaimed = 0;
  std::uint64_t crawler_items_checked = 0;
  std::uint64_t malloc_fails = 0;
  unsigned hash_power_level = 0;       // log2 of the total bucket count
  std::uint64_t hash_bytes = 0;        // hash and ghost tables (charged to the limit)
  // The segment space (`stats segments`).
  std::uint64_t segment_size = 0;         // of a shared segment
  std::uint64_t small_segments = 0;       // sealed, in S3-FIFO's small queue
  std::uint64_t main_segments = 0;        // sealed, in the main queue
  std::uint64_t free_segments = 0;        // ready for reuse
  std::uint64_t segment_bytes = 0;        // the sealed segments' (not the heads being written)
  std::uint64_t segment_live_bytes = 0;   // what linked items occupy of those
  std::uint64_t background_reclaims = 0;  // segments the background reclaimer freed
  // Segments writers emptied (evicted or compacted): in steps, a few items a write, or whole,
  // by the one write that found no free segment (doc/store.md, "Emptying in steps").
  std::uint64_t segments_emptied_in_steps = 0;
  std::uint64_t segments_emptied_whole = 0;
  // Tombstones (Options::tombstone_ttl): kept out of curr_items and bytes, charged to the limit.
  std::uint64_t tombstones = 0;
  std::uint64_t tombstone_bytes = 0;
  // Items whose version a peer minted (replicas: PutOptions::if_newer), counted in curr_items
  // and bytes too; their bytes are strides, as segment_live_bytes counts.
  std::uint64_t copies = 0;
  std::uint64_t copy_bytes = 0;
  // Guest copies (ApplyTtl's `guest`: written here by a client, held by other nodes), counted in
  // curr_items and bytes too.
  std::uint64_t guests = 0;
  std::uint64_t guest_bytes = 0;
};

// Per size class figures for `stats slabs` / `stats items`. Classes are jemalloc's size classes,
// used as size buckets: an item is counted in the class its size falls in, numbered from 1 (the
// smallest class an item can fall in) upwards in size order.
struct ClassStats {
  unsigned id = 0;
  std::size_t chunk_size = 0;          // the class's upper bound
  std::uint64_t items = 0;
  std::uint64_t requested_bytes = 0;   // sum of item sizes before rounding up to the class
  std::uint64_t evicted = 0;
  std::uint64_t evicted_nonzero = 0;   // evicted items that had an expiry set
  std::uint64_t outofmemory = 0;
  std::uint64_t reclaimed = 0;
  std::uint64_t expired_unfetched = 0;
  std::uint64_t evicted_unfetched = 0;
  std::uint64_t crawler_reclaimed = 0;
  base::RelTime oldest_access = 0;     // last access of the least recently used item
};

// What Dump() shows of an item (cachedump, lru_crawler metadump).
struct ItemInfo {
  std::string_view key;
  base::RelTime exptime = 0;
  base::RelTime last_access = 0;
  std::uint64_t cas = 0;
  bool fetched = false;
  unsigned class_id = 0;
  std::uint32_t value_len = 0;
  std::size_t total_size = 0;          // header + key + value + "\r\n"
  bool tombstone = false;              // a delete's tombstone (ScanStep only; Dump skips them)
};

class Store {
 public:
  // `clock` is not owned and must outlive the Store.
  Store(const Options& options, const base::Clock* clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Cache warming, for a caller about to look up several keys (a worker's read round):
  // FindHint() returns, under the shard lock, the address of the item that the slots of the key
  // whose base::HashKey is `hash` point to (or null); Prefetch() loads from such an address
  // with no lock, so that a caller can issue the loads for all its keys back to back and their
  // cache misses overlap. The item may have gone meanwhile: its memory stays mapped, since the
  // arena never unmaps what it frees (FindHint returns null when that is not so: sanitizer
  // builds, a jemalloc without opt.retain), and Prefetch only reads one byte of it. (Nothing to
  // do with memcached's touch, which is Touch(key, exptime) below.)
  const void* FindHint(std::uint64_t hash);
  static void Prefetch(const void* hint);

  // The live item for `key`, or a miss with its reason. An expired or flushed item is unlinked
  // here ("lazy expiry"); the crawler reclaims the ones nobody asks for.
  Lookup Get(std::string_view key, const GetOptions& options = {});

  // Allocates an unlinked item with room for `value_len` value bytes, to be filled through
  // writable_value() and then linked with Put(). kTooLarge when the whole item exceeds the item
  // size limit; kNoMemory when memory is full and nothing can be evicted (or evictions are off).
  Allocation Allocate(std::string_view key, std::uint32_t flags, base::RelTime exptime,
                      std::uint32_t value_len);

  // Links `item` under its key according to `mode`. For kCas, `cas_unique` must match the
  // present item's CAS. For kAppend/kPrepend a new item holding both values replaces the old one
  // (flags and expiry kept from the old item). On kStored, `item` refers to the linked item,
  // whose cas() is the new CAS (its version: PutOptions::version, or a new one).
  Outcome Put(ItemRef* item, Mode mode, std::uint64_t cas_unique = 0);
  // The same, with a stale-tolerant CAS (PutOptions).
  Outcome Put(ItemRef* item, Mode mode, std::uint64_t cas_unique, const PutOptions& options);

  // Whether a peer's copy of `key` with `version` could be linked now (PutOptions::if_newer): a
  // check before taking memory for one that is not newer. Put still decides (an equal version
  // is decided by the value, not known yet here).
  bool Newer(std::string_view key, std::uint64_t version);

  // Removes the key. kDeleted or kNotFound. On kDeleted, *class_id (if given) is the removed
  // item's size class.
  Outcome Delete(std::string_view key, unsigned* class_id = nullptr);
  // Meta delete: compare-and-delete, or invalidate (DeleteOptions).
  DeleteResult Delete(std::string_view key, const DeleteOptions& options);

  // Sets a new expiry, keeping the CAS, and stamps the change with a new version. kTouched or
  // kNotFound; on kTouched, *class_id (if given) is the item's, *touched (if given) refers to
  // it and *ttl_stamp (if given) is the stamp.
  Outcome Touch(std::string_view key, base::RelTime exptime, unsigned* class_id = nullptr,
                ItemRef* touched = nullptr, std::uint64_t* ttl_stamp = nullptr);

  // A peer's TTL change (touch, gat, mg T on the owner): sets `exptime` on the key's item if its
  // version is `value_version` and its TTL stamp is older than `ttl_stamp`, which it then takes.
  // kTouched; kExists when the item has another version or a newer stamp; kNotFound.
  // With `guest`, the item is marked a guest copy (this node does not hold the key: counted in
  // Stats::guests), which takes a copy of an item not marked yet.
  Outcome ApplyTtl(std::string_view key, std::uint64_t value_version, std::uint64_t ttl_stamp,
                   base::RelTime exptime, bool guest = false);

  // incr/decr on a value holding a decimal number (memcached do_add_delta): incr wraps at 2^64,
  // decr stops at 0; a shorter result keeps the value's length, right-padded with spaces.
  IncrResult IncrDecr(std::string_view key, bool incr, std::uint64_t delta);
  // The same with meta ma's extras: compare-and-increment and a new expiry. As memcached checks
  // them: an empty value is non-numeric before the CAS is compared, any other value after.
  IncrResult IncrDecr(std::string_view key, bool incr, std::uint64_t delta,
                      const IncrOptions& options);

  // Meta get: one lookup that, under the item's lock, may vivify a missing key, apply TTL steps,
  // and hand out the recache win (memcached process_mget_command). An item found stale with no
  // win handed out yet gives this caller the win. Bumps the item after reading what it reports.
  MetaLookup MetaGet(std::string_view key, const MetaGetOptions& options);

  // flush_all: items last updated at or before `when` become invisible once `when` has come
  // (an exact cut-off by version when `when` is now). 0 means now. Returns the cut-off version
  // for a flush now, 0 for a delayed one.
  std::uint64_t Flush(base::RelTime when);
  // Unlinks the key's item or tombstone if its version is `version` -- nothing newer came since
  // -- leaving no tombstone (a cluster node dropping a key it no longer holds, once its new
  // holders have it). True if it went.
  bool Drop(std::string_view key, std::uint64_t version);
  // Unlinks every item and tombstone now (a fenced cluster node's wipe: cluster/lease.h).
  // Unlike Flush, it leaves no cut-off behind: a copy that arrives afterwards with an older
  // version (a peer's, a hand-off) is stored as usual. Returns how many entries went. Takes one
  // shard's lock at a time.
  std::uint64_t Clear();
  // The flush cut-off in effect: items with a lower version are flushed (0: none).
  std::uint64_t flush_version() const;

  // The clock that mints versions (every item's CAS); Admit() a version learned elsewhere
  // before passing it to a write.
  base::HybridClock& versions();

  // A resumable walk over every item: where the next ScanStep goes on (a shard, and a point in
  // the order of its keys' hashes).
  class Scan {
   public:
    bool done() const { return done_; }

   private:
    friend class Store;
    std::size_t shard_ = 0;
    std::uint64_t from_ = 0;  // the items whose hash's low 32 bits are below are behind
    bool done_ = false;
  };
  // Advances `scan` over about `max_slots` slots of one shard's table, holding only that
  // shard's lock, and calls fn for each live item it meets (under the lock: fn must not call
  // back into the store). The walk goes in the order of the keys' hashes, not of where items
  // sit, so an item linked for the whole walk is met at least once whatever happens meanwhile:
  // the table growing, compaction and eviction copying items forward (an item added or removed
  // during the walk may or may not be met). False once the walk is complete.
  bool ScanStep(Scan* scan, std::size_t max_slots, const std::function<void(const ItemInfo&)>& fn);

  // One step of the background crawler: checks about `max_items` items (whole steps of its
  // Scan, which it starts again each time a walk ends; at most one walk per call), reclaiming
  // expired and flushed ones. Returns how many it checked. Any thread; takes a shard's lock at
  // a time, briefly.
  std::size_t Crawl(std::size_t max_items);

  // Calls `fn` for every live item, along a Scan: a shard's lock at a time, for a few hundred
  // slots. `fn` must not call back into the store. Stops early when `fn` returns false.
  void Dump(const std::function<bool(const ItemInfo&)>& fn);

  // cache_memlimit: changes the memory limit; evicts down to it lazily, as writes arrive.
  void SetMemoryLimit(std::size_t bytes);

  Stats GetStats() const;
  std::vector<ClassStats> GetClassStats() const;
  // `stats reset`: zeroes the counters (not curr_items, bytes or the limit).
  void ResetStats();

  // The size class an item of `size` total bytes is counted in. Classes are jemalloc's size
  // classes, numbered from the smallest one an item can occupy, so small items are class 1 as in
  // memcached (items themselves are packed into segments, not rounded up to a class).
  static unsigned ClassOf(std::size_t size);
  // The upper bound of class `id` (as ClassOf numbers them); 0 when there is no such class.
  static std::size_t ClassSize(unsigned id);
  // Bytes of header the store adds to key + value at the least (no expiry, flags 0, value under
  // 256 bytes; each of those adds 4), for `stats sizes` and documentation.
  static std::size_t ItemOverhead();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rc::store
