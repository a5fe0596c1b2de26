// engine/hooks.h -- the seams through which higher modules extend the engine without the engine
// knowing them: replication and hot-key invalidation observe writes (cluster/), the local lease
// fences reads (cluster/), read-through loads misses (origin/). Declared here, in the lower layer; server/ wires implementations in.
#pragma once

#include <functional>
#include <mutex>
#include <string_view>

#include "ringcached/base/mutex.h"
#include "ringcached/store/store.h"

namespace rc::engine {

// What changed in the store. Views and the item are valid only during the call.
//
// What is reported, from every protocol (text, meta, binary), one event per change:
//   kStore       set/add/replace/cas/append/prepend and ms that stored; a binary incr/decr
//                creating its counter; ma N creating one
//   kFill        a read-through fill stored (server/origin_loader.h, on the origin thread, not
//                a worker: the origin's value, versioned as its fetch started)
//   kDelete      delete, md and binary delete, hit (`hit`) or miss: a miss is reported too, as
//                a tombstone, so that a copy elsewhere goes as well; and the delete of the old
//                value that a set refused as too large or out of memory makes (memcached's
//                rule, BeginStore)
//   kArithmetic  incr/decr, ma and binary incr/decr that changed the number, with the new item
//   kTouch       touch, gat/gats, mg T, binary touch/gat, ma T and md T: the item with its new
//                expiry (md I T: no item, the invalidation's kInvalidate comes first)
//   kInvalidate  md I: the item was kept but marked stale, with a new CAS
//   kFlush       flush_all (the delay in `exptime`)
// Not changes: reads; mg N vivifying a missing key (an empty placeholder holding the recache
// win, a guard against a stampede on this node only: the winner's set is the change, and a
// copy elsewhere without the placeholder only lets one more client recache); evictions and
// expiry (each node's own memory).
//
// Every event carries a version (base/hybrid_clock.h), taken under the store's shard lock as the
// write was applied, so for one key the versions are in the order the store applied the writes:
// the item's version (its CAS) for kStore, kArithmetic and kInvalidate (kInvalidate: no item,
// the new version here), the tombstone's for kDelete, the cut-off for an immediate kFlush (0 for
// a delayed one). kTouch keeps the item's version and brings the TTL change's own stamp.
struct WriteEvent {
  enum class Kind : unsigned char {
    kStore, kFill, kDelete, kTouch, kArithmetic, kFlush, kInvalidate
  };
  Kind kind = Kind::kStore;
  std::string_view key;               // empty for kFlush
  const store::ItemRef* item = nullptr;  // the item now linked (kStore, kFill, kArithmetic,
                                         // kTouch)
  std::int64_t exptime = 0;           // kTouch: as the client sent it; kFlush: the delay
  bool hit = true;                    // kDelete: whether the key was there
  std::uint64_t version = 0;          // see above; Engine::Notify takes it from `item` if given
  std::uint64_t ttl_stamp = 0;        // kTouch: the stamp of this TTL change
  bool from_peer = false;             // applied from a peer link (replication must not echo it)
};

// Told of every write that changed this node's store (the list above). Called on the worker
// thread (the origin thread for kFill), after the store applied the write, in the order the observers were added; must not
// block (queue and return). A write the store refused (a NOT_STORED add, a failed cas, a
// compare-and-delete whose CAS did not match) is never reported: forwarding it would let a
// replica overwrite a value this node correctly kept. Events are reported after the store's lock
// is released, so two writes of one key from two workers may reach an observer in either order;
// their versions, taken under the lock, give the store's order, and a consumer that keeps the
// higher version (replication applies "if newer") ends in the store's state.
class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  virtual void OnWrite(const WriteEvent& event) = 0;
};

// Whether this node may serve the values its store holds now: a cluster node only while it
// holds its local lease (cluster/lease.h, ../shared/REPLICATION.md section 5). While it may not,
// every read the engine answers (get, gets, gat, mg, me, binary get) is a miss, counted as one;
// a read-through node then fetches from its origin as on any miss. Writes are not stopped here:
// where they go is replication's question.
//
// Thread-safety: Open() from any worker thread, on every read: it must be cheap.
class ReadFence {
 public:
  virtual ~ReadFence() = default;
  virtual bool Open() const = 0;
};

// Fills misses from somewhere else (an origin database; server/origin_loader.h). The engine
// itself never loads: a connection that misses asks Wants() and Load(). What the engine does is
// fence its writes, so that a fill never lands over a write that arrived while it was in flight.
//
// Thread-safety: every method from any worker thread.
class MissLoader {
 public:
  virtual ~MissLoader() = default;
  // Whether a miss on `key` should be loaded (for example, the key matches a prefix).
  virtual bool Wants(std::string_view key) const = 0;
  // Starts loading `key`, or joins the load already in flight, and calls `done` later -- never
  // inside Load() -- on the calling thread's event loop (net::EventLoop::Current(), which must
  // exist), with the item to answer with: the stored fill, or an unlinked item holding the fetched
  // value when it was not stored; empty when the origin has no value, failed or timed out. Must
  // not block.
  virtual void Load(std::string_view key, std::function<void(store::ItemRef)> done) = 0;
  // Called by the engine before each write that may change or remove `key` (set and the other
  // storage commands, delete, incr/decr, touch, and their meta and binary forms), and held until
  // the store has applied it: a load of the key in flight will not store its value, and a
  // remembered origin miss is forgotten. Holding the lock across the store call is what makes
  // "the write wins" exact: a fill checks and stores under the same lock (doc/read-through.md).
  // The engine holds it around the store call only, never across the WriteObserver.
  virtual base::MovableLock FenceWrite(std::string_view key) = 0;
  // flush_all: no load in flight stores its value; remembered origin misses are forgotten.
  virtual void FenceFlush() = 0;
};

}  // namespace rc::engine
