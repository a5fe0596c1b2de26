// engine/engine.h -- memcached's command semantics over a Store.
//
// The engine turns parsed requests into store operations and counts what memcached counts
// (cmd_get, get_hits, cas_badval...). It is synchronous and local: it never touches sockets, and
// it reports writes to a WriteObserver and offers misses to a MissLoader (engine/hooks.h) without
// knowing who implements them. Reply encoding belongs to the caller, which holds the ItemRefs it
// gets back and sends values straight from item memory.
//
// Thread-safety: one Engine is shared by all workers; every method may be called from any thread.
// Each worker passes its own CommandStats, so counting takes no lock.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/counter.h"
#include "ringcached/engine/hooks.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/request.h"
#include "ringcached/store/store.h"

namespace rc::engine {

// The command counters: each list below is the one place a counter is named. It declares the
// counter, and the stats code, Reset() and anything that exports counters (later /metrics) walk
// it with ForEach, in the list's order, which is memcached 1.6.18's order in `stats` (and, for
// the per-class list, in `stats slabs`). Adding a counter is one line here and a call that
// bumps it.
#define RC_COMMAND_COUNTERS(X)                                                                  \
  X(cmd_get) X(cmd_set) X(cmd_flush) X(cmd_touch) X(cmd_meta)                                   \
  X(get_hits) X(get_misses) X(get_expired) X(get_flushed)                                       \
  X(delete_misses) X(delete_hits) X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits)       \
  X(cas_misses) X(cas_hits) X(cas_badval) X(touch_hits) X(touch_misses)                         \
  X(store_too_large) X(store_no_memory)

// Per size class (`stats slabs`, memcached's slab_stats).
#define RC_CLASS_COUNTERS(X)                                                                    \
  X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) X(cas_hits) X(cas_badval)    \
  X(touch_hits)

#define RC_DECLARE_COUNTER(name) base::Counter name;
#define RC_COUNT_ONE(name) +1
#define RC_NAME_OF(name) #name,

struct ClassCommandStats {
  static constexpr std::size_t kCount = 0 RC_CLASS_COUNTERS(RC_COUNT_ONE);
  static constexpr std::array<const char*, kCount> kNames = {RC_CLASS_COUNTERS(RC_NAME_OF)};
  RC_CLASS_COUNTERS(RC_DECLARE_COUNTER)
  // Calls fn(counter) for each counter, in the list's order (kNames[i] names the i-th).
  template <typename Self, typename Fn>
  static void ForEach(Self& self, Fn&& fn) {
#define RC_VISIT_MEMBER(name) fn(self.name);
    RC_CLASS_COUNTERS(RC_VISIT_MEMBER)
#undef RC_VISIT_MEMBER
  }
};

// The command counters of `stats`, kept per worker and summed by the stats code.
struct CommandStats {
  // Class ids fit in a byte (store/size_classes.h).
  static constexpr unsigned kMaxClasses = 256;
  static constexpr std::size_t kCount = 0 RC_COMMAND_COUNTERS(RC_COUNT_ONE);
  static constexpr std::array<const char*, kCount> kNames = {RC_COMMAND_COUNTERS(RC_NAME_OF)};
  RC_COMMAND_COUNTERS(RC_DECLARE_COUNTER)
  std::array<ClassCommandStats, kMaxClasses> per_class;
  ClassCommandStats& ForClass(unsigned id) { return per_class[id < kMaxClasses ? id : 0]; }
  // Calls fn(counter) for each counter of RC_COMMAND_COUNTERS, in its order (kNames names them).
  template <typename Self, typename Fn>
  static void ForEach(Self& self, Fn&& fn) {
#define RC_VISIT_MEMBER(name) fn(self.name);
    RC_COMMAND_COUNTERS(RC_VISIT_MEMBER)
#undef RC_VISIT_MEMBER
  }
  void Reset();
};

#undef RC_DECLARE_COUNTER
#undef RC_COUNT_ONE
#undef RC_NAME_OF


// Meta get: the item to send and what the reply line reports.
struct MetaGetResult {
  // The hit, or the item mg N just vivified; empty on a miss. With `v` its value follows the line.
  store::ItemRef item;
  // For proto::FormatMetaReply. info.key points into `item` (a hit) or the request (a miss):
  // format the line before handing the item to the output queue.
  proto::MetaReplyInfo info;
};

// Meta arithmetic: an error line, or what the reply reports.
struct MetaArithmeticResult {
  // Non-empty: the whole reply ("CLIENT_ERROR cannot increment or decrement non-numeric value",
  // "SERVER_ERROR out of memory", "SERVER_ERROR Out of memory allocating new item", with "\r\n"),
  // sent even under `q`.
  std::string_view error;
  proto::MetaReplyInfo info;  // info.key points into the request
};

class Engine {
 public:
  // `store` and `clock` are not owned and must outlive the Engine.
  Engine(store::Store* store, const base::Clock* clock);

  // Wiring, done once by server/ before any worker starts. Not owned; may be null.
  // Adds an observer of every write (hooks.h); they are told in the order they were added.
  void add_write_observer(WriteObserver* observer) { observers_.push_back(observer); }
  void set_miss_loader(MissLoader* loader) { loader_ = loader; }
  MissLoader* miss_loader() const { return loader_; }
  // While `fence` is closed every read is a miss (hooks.h ReadFence).
  void set_read_fence(const ReadFence* fence) { read_fence_ = fence; }
  // Whether reads are fenced now (one load and a branch on a single node).
  bool Fenced() const { return read_fence_ != nullptr && !read_fence_->Open(); }

  // get/gets: one key of a retrieval command. Counts cmd_get and the hit or miss.
  store::ItemRef Get(std::string_view key, CommandStats* stats);
  // gat/gats: like Get, and sets the new expiry on a hit. Counts cmd_touch and touch_*.
  store::ItemRef GetAndTouch(std::string_view key, std::int64_t exptime, CommandStats* stats);

  // Storage, step 1: allocates the item for `req` (a storage command) with key `req.key`, for the
  // caller to fill with the data block. When a set cannot be stored (kTooLarge, kNoMemory) the
  // key's old value is removed, as memcached does (t/getset.t); the caller swallows the data
  // block and replies the error.
  store::Allocation BeginStore(const proto::Request& req, CommandStats* stats);
  // Storage, step 2: links the filled item per the command. Counts cmd_set and cas_*.
  store::Outcome CompleteStore(const proto::Request& req, store::ItemRef* item,
                               CommandStats* stats);
  // Storage, step 2 when the data block was bad ("CLIENT_ERROR bad data chunk"): memcached has
  // counted the set by then, so this counts it too.
  void AbandonStore(const store::ItemRef& item, CommandStats* stats);

  // Deletes the key; with a non-zero `compare_cas`, only if the item's CAS matches (kExists
  // otherwise), checked and unlinked under one lock.
  store::Outcome Delete(std::string_view key, CommandStats* stats, std::uint64_t compare_cas = 0);
  // Links `item` (a counter's initial value) only if the key is absent: the binary protocol's
  // incr/decr on a miss. Not a cmd_set (memcached stores it directly); the observer hears of it.
  store::Outcome AddCounter(store::ItemRef* item);
  // incr/decr. Counts incr_/decr_hits and misses; a non-numeric value counts neither.
  struct ArithmeticOptions {
    std::uint64_t compare_cas = 0;  // non-zero: only if the item's CAS matches (binary), else kExists
    bool count_miss = true;         // false when the caller creates the missing counter (binary)
  };
  store::IncrResult Arithmetic(std::string_view key, bool incr, std::uint64_t delta,
                               CommandStats* stats, const ArithmeticOptions& options);
  store::IncrResult Arithmetic(std::string_view key, bool incr, std::uint64_t delta,
                               CommandStats* stats) {
    return Arithmetic(key, incr, delta, stats, ArithmeticOptions{});
  }
  store::Outcome Touch(std::string_view key, std::int64_t exptime, CommandStats* stats);
  // flush_all [delay]. Counts cmd_flush.
  void FlushAll(std::int64_t delay, bool has_delay, CommandStats* stats);

  // Meta commands (engine/meta.cc), with memcached 1.6.18's semantics and counters. Each takes a
  // request MetaParser accepted and returns what proto::FormatMetaReply needs; whether `q`
  // suppresses the reply is proto::MetaReplySuppressed's call.
  //
  // E (use this token as the new CAS, memcached 1.6.27): whether `req`'s token may be used,
  // checked before the command runs. False when the command uses it (ms, md, ma, mg with N) and
  // it is 0 or beyond the version clock's skew bound (base/hybrid_clock.h): the caller answers
  // kMetaCasRefused and the command does nothing. Counted in `stats versions` as versions_refused.
  bool AdmitMetaCas(const proto::MetaRequest& req);
  // Whether `req` is a write a peer sends with the peer-only flag Y (REPLICATION.md section 4):
  // ms and md with E (the owner's version; md I too, an invalidation), mg with T, C and E (a TTL
  // change: the value's version and the change's stamp), or an access hint (below). The session
  // accepts Y only for these, and only from an authenticated peer; the commands below then apply
  // writes only if newer, count them apart from client traffic, and report them with
  // WriteEvent::from_peer.
  static bool IsPeerWrite(const proto::MetaRequest& req);
  // Whether `req` is a peer's access hint, mg with Y and no other flag but b: a read on the
  // owner, so that the item counts as read on this holder too (its eviction keeps what the
  // owner's clients read). A peer-only command, like the writes above.
  static bool IsAccessHint(const proto::MetaRequest& req);
  // A peer's access hint for `key` (an mg hint, or one key of rc_hints): counted as read here,
  // as nothing else. Whether the item is here.
  bool AccessHint(std::string_view key);
  // mg: lookup with h/l/t/T/N/R/u/W/X/Z semantics. Counts like get (cmd_get, get_hits or
  // get_misses, get_expired, get_flushed), or like touch (cmd_touch, touch_hits) when T applied
  // to an item; a vivified item counts as a hit.
  MetaGetResult MetaGet(const proto::MetaRequest& req, CommandStats* stats);
  // mg answered by a read-through fill (hooks.h MissLoader): the reply line `item` (the stored
  // fill, or an unlinked item holding the fetched value) gets, as for a first read of a fresh
  // item. Counts nothing: MetaGet() counted the miss that started the fill. info.key points into
  // `item`.
  proto::MetaReplyInfo MetaFilledInfo(const proto::MetaRequest& req,
                                      const store::ItemRef& item) const;
  // ms, step 1: allocates the item (key, F, T, <datalen>) for the data block, as BeginStore. On
  // kTooLarge / kNoMemory the key's old value is removed whatever the mode (memcached's
  // process_mset_command) and the caller replies proto::kTooLarge / kNoMemory and swallows the
  // block. A bad data chunk afterwards goes to AbandonStore(). A peer's copy (Y) that is not
  // newer than what this node has takes no memory: kExists, and the caller replies EX.
  store::Allocation BeginMetaSet(const proto::MetaRequest& req, CommandStats* stats);
  // ms, step 2: links the filled item per M (set/add/append/prepend/replace), C (compare; with
  // set or replace a cas) and I (with C: a lower CAS stores a stale value). Counts cmd_set and
  // cas_*. info: HD, NS, EX or NF; info.cas is the new CAS when stored, else 0.
  proto::MetaReplyInfo CompleteMetaSet(const proto::MetaRequest& req, store::ItemRef* item,
                                       CommandStats* stats);
  // md: delete, compare-and-delete (C), or invalidate (I, with T: new TTL). HD, NF or EX.
  // Counts delete_hits (a real delete only) or delete_misses (not found, CAS mismatch).
  proto::MetaReplyInfo MetaDelete(const proto::MetaRequest& req, CommandStats* stats);
  // ma: incr/decr (M), by D (default 1), compare (C), new TTL (T), create on a miss (N, with J
  // as the value). HD or VA (the number), NF, NS, EX, or an error. Counts incr_/decr_hits and
  // misses (a miss that creates counts nothing).
  MetaArithmeticResult MetaArithmetic(const proto::MetaRequest& req, CommandStats* stats);
  // me: fills *info and returns true, or returns false on a miss ("EN"). Counts cmd_meta (the
  // only command that does in 1.6.18). info->key points into the request.
  bool MetaDebug(const proto::MetaRequest& req, proto::MetaDebugInfo* info, CommandStats* stats);

  const base::Clock& clock() const { return *clock_; }
  store::Store& store() const { return *store_; }

 private:
  // Deletes the old value of a key whose new value was refused (too large, out of memory), as
  // memcached does, and reports it.
  void DeleteRefused(std::string_view key);
  void Notify(WriteEvent event) {
    if (observers_.empty()) return;
    if (event.item != nullptr && *event.item) event.version = event.item->version();
    for (WriteObserver* o : observers_) o->OnWrite(event);
  }
  bool observed() const { return !observers_.empty(); }
  // The read-through write fence of `key` (hooks.h MissLoader::FenceWrite), held while a write is
  // applied to the store; an empty lock when no loader is wired in.
  base::MovableLock Fence(std::string_view key) {
    return loader_ != nullptr ? loader_->FenceWrite(key) : base::MovableLock();
  }

  store::Store* store_;
  const base::Clock* clock_;
  std::vector<WriteObserver*> observers_;
  MissLoader* loader_ = nullptr;
  const ReadFence* read_fence_ = nullptr;
};

}  // namespace rc::engine
