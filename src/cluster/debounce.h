// cluster/debounce.h -- when a changed member list becomes the ring: after a quiet period.
//
// Joins and leaves come in bursts (a rolling restart, a rack losing power). Rebuilding the ring
// once per burst rather than once per znode spares clients and peers a string of intermediate
// rings. A change is applied `delay` after the last change of a burst, but never more than
// `max_wait` after its first one, so a list that keeps changing still reaches the ring.
//
// Pure logic over caller-supplied times (milliseconds on any monotonic scale), so unit tests drive
// it without sleeping; membership.cc arms a libevent timer for deadline().
// Thread-safety: none; owned by the membership's loop.
#pragma once

#include <algorithm>
#include <cstdint>

namespace rc::cluster {

class Debouncer {
 public:
  using Millis = std::int64_t;

  // max_wait below delay is raised to delay.
  Debouncer(Millis delay, Millis max_wait) : delay_(delay), max_wait_(std::max(delay, max_wait)) {}

  // A change was seen at `now`.
  void Touch(Millis now) {
    if (!pending_) {
      pending_ = true;
      first_ = now;
    }
    last_ = now;
  }
  // A change waits to be applied.
  bool pending() const { return pending_; }
  // When the pending change is due. Meaningful only while pending().
  Millis deadline() const { return std::min(last_ + delay_, first_ + max_wait_); }
  bool Due(Millis now) const { return pending_ && now >= deadline(); }
  // The pending change has been applied (or dropped).
  void Clear() { pending_ = false; }

 private:
  Millis delay_;
  Millis max_wait_;
  bool pending_ = false;
  Millis first_ = 0;  // first change of the current burst
  Millis last_ = 0;   // latest change of the current burst
};

}  // namespace rc::cluster
