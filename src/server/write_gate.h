// server/write_gate.h -- WriteGate: whether the reply to a client's write may go at once, or waits
// for more than this node's store.
//
// Synchronous replication (../shared/REPLICATION.md section 4, issue 17) acknowledges a write
// only once the key's holders have it. The session asks its worker's gate after every request it
// executed; a gate that holds the request's writes gets the session to park the request's reply
// (server/parked.cc): it is kept back, in order, with everything after it, until the gate
// releases it. Without a gate (a single node) nothing waits; with asynchronous replication only a
// fenced node's writes do (server/replicator.h), so the session asks Holding() first, which costs
// no allocation.
//
// Thread-safety: one gate per worker, called on that worker's thread only.
#pragma once

#include <cstdint>
#include <memory>

namespace rc::server {

class WriteGate {
 public:
  // Whom a held request's end is told: `notify(waiter, id, acknowledged)`, unless `*alive` is
  // false by then (the session closed). Plain data, so that holding a write allocates nothing
  // (a std::function of these captures would, on every synchronous write).
  struct Release {
    std::shared_ptr<bool> alive;
    void (*notify)(void* waiter, std::uint64_t id, bool acknowledged) = nullptr;
    void* waiter = nullptr;
    std::uint64_t id = 0;
    explicit operator bool() const { return notify != nullptr; }
    void operator()(bool acknowledged) const {
      if (*alive) notify(waiter, id, acknowledged);
    }
  };

  virtual ~WriteGate() = default;
  // Called after each request a session executed (before its reply is sent). If the writes the
  // engine reported on this worker since the previous call must be acknowledged first, returns
  // true and later calls `release` once, on this worker's loop, never from inside Hold(): with
  // true when they are acknowledged, and the request's own reply goes; with false when the gate
  // gives up on them (a timeout, a lost holder), and the session answers SERVER_ERROR instead:
  // the outcome is unknown, the write may be on some holders (never a false STORED). False:
  // the reply goes now.
  virtual bool Hold(Release release) = 0;
  // Whether Hold() would hold the request just executed: it made writes that must be
  // acknowledged first.
  virtual bool Holding() = 0;
  // The same point for a request nobody can wait for (a datagram: UDP writes are treated as
  // asynchronous): its writes need no hold.
  virtual void Forget() {}
};

}  // namespace rc::server
