// t/unit/origin/breaker_test.cc -- the circuit breaker (src/origin/breaker.h): closed -> open
// after N failures in a row, refusals while open, one probe after the open period, and the probe
// alone deciding whether it closes or opens again.
#include "origin/breaker.h"

#include <gtest/gtest.h>

namespace rc::origin {
namespace {

using namespace std::chrono_literals;
using A = Breaker::Admission;
using C = Breaker::Change;
using S = Breaker::State;

TEST(BreakerTest, OpensAfterFailuresInARowOnly) {
  Breaker b(3, 1000ms);
  const auto t = Breaker::Clock::time_point{} + 1h;
  EXPECT_EQ(b.Record(false, false, t), C::kNone);
  EXPECT_EQ(b.Record(false, false, t), C::kNone);
  EXPECT_EQ(b.Record(true, false, t), C::kNone);  // a success resets the count
  EXPECT_EQ(b.Record(false, false, t), C::kNone);
  EXPECT_EQ(b.Record(false, false, t), C::kNone);
  EXPECT_EQ(b.state(), S::kClosed);
  EXPECT_EQ(b.Admit(t), A::kAllow);
  EXPECT_EQ(b.Record(false, false, t), C::kOpened);
  EXPECT_EQ(b.state(), S::kOpen);
  EXPECT_EQ(b.opened(), 1u);
}

TEST(BreakerTest, OpenRefusesThenLetsOneProbeThrough) {
  Breaker b(1, 1000ms);
  const auto t = Breaker::Clock::time_point{} + 1h;
  ASSERT_EQ(b.Record(false, false, t), C::kOpened);
  EXPECT_EQ(b.Admit(t + 999ms), A::kReject);
  EXPECT_EQ(b.Admit(t + 1000ms), A::kProbe);
  EXPECT_EQ(b.state(), S::kHalfOpen);
  EXPECT_EQ(b.Admit(t + 1001ms), A::kReject);  // one probe at a time
  // Late answers of fetches from before the breaker opened do not decide anything.
  EXPECT_EQ(b.Record(true, false, t + 1002ms), C::kNone);
  EXPECT_EQ(b.state(), S::kHalfOpen);
  EXPECT_EQ(b.Record(true, true, t + 1003ms), C::kClosed);
  EXPECT_EQ(b.state(), S::kClosed);
  EXPECT_EQ(b.Admit(t + 1004ms), A::kAllow);
}

TEST(BreakerTest, AFailedProbeOpensItAgainForAFullPeriod) {
  Breaker b(1, 1000ms);
  const auto t = Breaker::Clock::time_point{} + 1h;
  ASSERT_EQ(b.Record(false, false, t), C::kOpened);
  ASSERT_EQ(b.Admit(t + 1500ms), A::kProbe);
  EXPECT_EQ(b.Record(false, true, t + 1600ms), C::kOpened);
  EXPECT_EQ(b.Admit(t + 2500ms), A::kReject);
  EXPECT_EQ(b.Admit(t + 2600ms), A::kProbe);
  EXPECT_EQ(b.opened(), 2u);
}

TEST(BreakerTest, ThresholdZeroNeverOpens) {
  Breaker b(0, 1000ms);
  const auto t = Breaker::Clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) EXPECT_EQ(b.Record(false, false, t), C::kNone);
  EXPECT_EQ(b.Admit(t), A::kAllow);
}

}  // namespace
}  // namespace rc::origin
