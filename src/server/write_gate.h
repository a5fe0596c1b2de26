// server/write_gate.h -- WriteGate: whether the reply to a client's write may go at once, or waits
// for more than this node's store.
//
// Synchronous replication (../shared/REPLICATION.md section 4, issue 17) acknowledges a write
// only once the key's holders have it. The session asks its worker's gate after every request it
// executed; a gate that holds the request's writes gets the session to park the request's reply
// (server/parked.cc): it is kept back, in order, with everything after it, until the gate
// releases it. Without a gate (a single node, or async replication) nothing waits.
//
// Thread-safety: one gate per worker, called on that worker's thread only.
#pragma once

#include <functional>

namespace rc::server {

class WriteGate {
 public:
  virtual ~WriteGate() = default;
  // Called after each request a session executed (before its reply is sent). If the writes the
  // engine reported on this worker since the previous call must be acknowledged first, returns
  // true and later calls `released` once, on this worker's loop, never from inside Hold() --
  // when they are acknowledged, or when the gate gives up on them (its own timeout and reply
  // policy). False: the reply goes now.
  virtual bool Hold(std::function<void()> released) = 0;
};

}  // namespace rc::server
