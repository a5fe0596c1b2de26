// base/clock.cc -- SystemClock and the exptime conversion rules of memcached.c realtime().
#include "ringcached/base/clock.h"

#include <time.h>

namespace rc::base {

RelTime Clock::ToRelTime(std::int64_t exptime) const {
  if (exptime == 0) return 0;
  // A negative exptime means "already expired" (memcached 1.6 maps it to the past as well); 1 is
  // the earliest RelTime, and Now() is never below 2, so the item is expired at once.
  if (exptime < 0) return 1;
  if (exptime > kRealtimeMaxDelta) {
    // Absolute unix time. One in the past (or before we started) is expired at once.
    if (exptime <= ProcessStarted()) return 1;
    std::int64_t rel = exptime - ProcessStarted();
    return rel > UINT32_MAX ? UINT32_MAX : static_cast<RelTime>(rel);
  }
  return static_cast<RelTime>(exptime + Now());
}

// Like memcached, start the epoch a little in the past so that Now() is never 0 or 1 and "1"
// can stand for "expired before anything happened".
SystemClock::SystemClock() : started_(std::time(nullptr) - 2) {}

RelTime SystemClock::Now() const {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  std::int64_t rel = ts.tv_sec - started_ + shift_.load(std::memory_order_relaxed);
  return rel < 2 ? 2 : static_cast<RelTime>(rel);
}

// Coarse (a few milliseconds' resolution, no system call): the hybrid clock's counter orders
// what falls within one tick.
std::int64_t SystemClock::UnixMillis() const {
  timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace rc::base
