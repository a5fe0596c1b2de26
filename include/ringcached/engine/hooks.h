// engine/hooks.h -- the seams through which higher modules extend the engine without the engine
// knowing them: replication observes writes (cluster/, issue #5), read-through loads misses
// (origin/, issue #6). Declared here, in the lower layer; server/ wires implementations in.
#pragma once

#include <functional>
#include <mutex>
#include <string_view>

#include "ringcached/base/mutex.h"
#include "ringcached/store/store.h"

namespace rc::engine {

// What changed in the store. Views and the item are valid only during the call.
struct WriteEvent {
  // kInvalidate: meta `md <key> I`: the item was kept but marked stale, with a new CAS (a T
  // given with it is reported as a separate kTouch).
  enum class Kind : unsigned char { kStore, kDelete, kTouch, kArithmetic, kFlush, kInvalidate };
  Kind kind = Kind::kStore;
  std::string_view key;               // empty for kFlush
  const store::ItemRef* item = nullptr;  // the item now linked (kStore, kArithmetic, kTouch)
  std::int64_t exptime = 0;           // kTouch: as the client sent it; kFlush: the delay
};

// Told of every write that changed this node's store. Called on the worker thread, after the
// store accepted the write; must not block (queue and return). A write the store refused (a
// NOT_STORED add, a failed cas) is never reported: forwarding it would let a replica overwrite a
// value this node correctly kept.
class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  virtual void OnWrite(const WriteEvent& event) = 0;
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
