// t/unit/fakes/fake_clock.h -- a Clock that moves only when a test says so.
#pragma once

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

  static constexpr std::time_t kStarted = 1700000000;

 private:
  base::RelTime now_ = 1000;
};

}  // namespace rc::testing
