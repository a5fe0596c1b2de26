// base/clock.h -- server time, in memcached's units.
//
// memcached measures time in whole seconds relative to process start ("rel_time_t", memcached.c
// realtime() and current_time). Items store expiry and access times in those 32-bit units, which
// is both compact and what the protocol's TTL rules are written in. Clock is an interface so unit
// tests drive time with a FakeClock (t/unit/fakes) and never sleep; SystemClock also implements
// the `debugtime` shift that memcached's debug builds offer (PROTOCOL.md section 9).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace rc::base {

using RelTime = std::uint32_t;  // seconds since the clock's epoch; 0 means "never" for expiry

// Relative TTLs above this many seconds are absolute unix times (memcached REALTIME_MAXDELTA).
inline constexpr std::int64_t kRealtimeMaxDelta = 60 * 60 * 24 * 30;

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds since ProcessStarted(); never 0 (so 0 can mean "never expires").
  virtual RelTime Now() const = 0;
  // The unix time that RelTime 0 stands for.
  virtual std::time_t ProcessStarted() const = 0;

  // memcached's realtime(): turns a protocol exptime into a RelTime deadline.
  //   0 -> 0 (never); negative -> already expired; 1..30 days -> now + exptime;
  //   above 30 days -> an absolute unix time, already expired if not after process start.
  RelTime ToRelTime(std::int64_t exptime) const;
  // Wall-clock milliseconds since the unix epoch, not moved by `debugtime` (versions:
  // base/hybrid_clock.h).
  virtual std::int64_t UnixMillis() const = 0;

  // The unix time of a RelTime (for stats and dumps).
  std::time_t ToUnixTime(RelTime t) const { return ProcessStarted() + static_cast<std::time_t>(t); }
};

// The production clock: wall time read with CLOCK_REALTIME_COARSE, shifted by `debugtime`.
class SystemClock final : public Clock {
 public:
  SystemClock();
  RelTime Now() const override;
  std::time_t ProcessStarted() const override { return started_; }
  std::int64_t UnixMillis() const override;
  // debugtime: moves the clock by `seconds` (cumulative). Used by tests of expiry.
  void Shift(std::int64_t seconds) { shift_.fetch_add(seconds, std::memory_order_relaxed); }

 private:
  std::time_t started_;
  std::atomic<std::int64_t> shift_{0};
};

}  // namespace rc::base
