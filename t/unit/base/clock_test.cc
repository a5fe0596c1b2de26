// t/unit/base/clock_test.cc -- memcached's exptime rules (memcached.c realtime()), driven by a
// FakeClock so nothing sleeps.
#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "ringcached/base/clock.h"

namespace rc::base {
namespace {

using rc::testing::FakeClock;

TEST(ClockTest, ZeroMeansNever) {
  FakeClock clock;
  EXPECT_EQ(clock.ToRelTime(0), 0u);
}

TEST(ClockTest, RelativeUpToThirtyDays) {
  FakeClock clock;
  EXPECT_EQ(clock.ToRelTime(10), clock.Now() + 10);
  EXPECT_EQ(clock.ToRelTime(kRealtimeMaxDelta), clock.Now() + kRealtimeMaxDelta);
}

TEST(ClockTest, AboveThirtyDaysIsAbsoluteUnixTime) {
  FakeClock clock;
  std::int64_t in_an_hour = FakeClock::kStarted + clock.Now() + 3600;
  EXPECT_EQ(clock.ToRelTime(in_an_hour), clock.Now() + 3600);
}

TEST(ClockTest, PastAbsoluteAndNegativeAreAlreadyExpired) {
  FakeClock clock;
  // 1 is before any Now(): an item with it is expired at once (PROTOCOL.md section 2).
  EXPECT_EQ(clock.ToRelTime(-1), 1u);
  EXPECT_EQ(clock.ToRelTime(1000000000), 1u);            // 2001: long before the process
  EXPECT_EQ(clock.ToRelTime(kRealtimeMaxDelta + 86400), 1u);  // 31 days as a unix time: 1970
  EXPECT_LT(clock.ToRelTime(-1), clock.Now());
}

TEST(ClockTest, SystemClockNeverReportsZeroAndShifts) {
  SystemClock clock;
  RelTime before = clock.Now();
  EXPECT_GE(before, 2u);
  clock.Shift(100);
  EXPECT_GE(clock.Now(), before + 100);
}

}  // namespace
}  // namespace rc::base
