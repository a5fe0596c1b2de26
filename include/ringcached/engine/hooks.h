// engine/hooks.h -- the seams through which higher modules extend the engine without the engine
// knowing them: replication observes writes (cluster/, issue #5), read-through loads misses
// (origin/, issue #6). Declared here, in the lower layer; server/ wires implementations in.
#pragma once

#include <functional>
#include <string_view>

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

// Fills misses from somewhere else (an origin database). Called on the worker thread; Load() must
// not block: it starts the fetch and calls `done` later, on the same worker thread, with the
// item it stored (empty when the origin has no value or failed).
class MissLoader {
 public:
  virtual ~MissLoader() = default;
  // Whether a miss on `key` should be loaded (for example, the key matches a prefix).
  virtual bool Wants(std::string_view key) const = 0;
  virtual void Load(std::string_view key, std::function<void(store::ItemRef)> done) = 0;
};

}  // namespace rc::engine
