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
#include <string_view>

#include "ringcached/base/clock.h"
#include "ringcached/base/counter.h"
#include "ringcached/engine/hooks.h"
#include "ringcached/proto/request.h"
#include "ringcached/store/store.h"

namespace rc::engine {

// Per size class command counters (`stats slabs`, memcached's slab_stats).
struct ClassCommandStats {
  base::Counter get_hits, cmd_set, delete_hits, incr_hits, decr_hits, cas_hits, cas_badval,
      touch_hits;
};

// The command counters of `stats`, kept per worker and summed by the stats code.
struct CommandStats {
  // Class ids fit in a byte (store/size_classes.h).
  static constexpr unsigned kMaxClasses = 256;
  base::Counter cmd_get, cmd_set, cmd_flush, cmd_touch, cmd_meta;
  base::Counter get_hits, get_misses, get_expired, get_flushed;
  base::Counter delete_hits, delete_misses;
  base::Counter incr_hits, incr_misses, decr_hits, decr_misses;
  base::Counter cas_hits, cas_misses, cas_badval;
  base::Counter touch_hits, touch_misses;
  base::Counter store_too_large, store_no_memory;
  std::array<ClassCommandStats, kMaxClasses> per_class;
  ClassCommandStats& ForClass(unsigned id) { return per_class[id < kMaxClasses ? id : 0]; }
  void Reset();
};


class Engine {
 public:
  // `store` and `clock` are not owned and must outlive the Engine.
  Engine(store::Store* store, const base::Clock* clock);

  // Wiring, done once by server/ before any worker starts. Not owned; may be null.
  void set_write_observer(WriteObserver* observer) { observer_ = observer; }
  void set_miss_loader(MissLoader* loader) { loader_ = loader; }
  MissLoader* miss_loader() const { return loader_; }

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

  store::Outcome Delete(std::string_view key, CommandStats* stats);
  store::IncrResult Arithmetic(std::string_view key, bool incr, std::uint64_t delta,
                               CommandStats* stats);
  store::Outcome Touch(std::string_view key, std::int64_t exptime, CommandStats* stats);
  // flush_all [delay]. Counts cmd_flush.
  void FlushAll(std::int64_t delay, bool has_delay, CommandStats* stats);

  const base::Clock& clock() const { return *clock_; }
  store::Store& store() const { return *store_; }

 private:
  void Notify(const WriteEvent& event) {
    if (observer_ != nullptr) observer_->OnWrite(event);
  }

  store::Store* store_;
  const base::Clock* clock_;
  WriteObserver* observer_ = nullptr;
  MissLoader* loader_ = nullptr;
};

}  // namespace rc::engine
