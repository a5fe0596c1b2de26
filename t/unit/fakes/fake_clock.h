// t/unit/fakes/fake_clock.h -- a Clock that moves only when a test says so.
#pragma once

#include <cstdint>
#include <ctime>

#include "ringcached/base/clock.h"

namespace rc::testing {

class FakeClock final : public base::Clock {
 public:
  // Starts at RelTime 1000, with the epoch at a fixed, plausible unix time.
  base::RelTime Now() const override { return now_; }
  std::time_t ProcessStarted() const override { return kStarted; }
  void Advance(unsigned seconds) { now_ += seconds; }
  void Set(base::RelTime t) { now_ = t; }
  // Before the versions' epoch (2024), so a store under this clock mints versions 1, 2, 3...
  std::int64_t UnixMillis() const override {
    return (std::int64_t{kStarted} + now_) * 1000 + extra_ms_;
  }
  void AdvanceMillis(std::int64_t ms) { extra_ms_ += ms; }

  static constexpr std::time_t kStarted = 1700000000;

 private:
  base::RelTime now_ = 1000;
  std::int64_t extra_ms_ = 0;
};

}  // namespace rc::testing
