// t/unit/client/tko_test.cc -- the client's TKO state machine (client/tko.h), every transition,
// with time passed in by hand.
#include <gtest/gtest.h>

#include "client/tko.h"

namespace rc::client {
namespace {

using std::chrono::milliseconds;
using Clock = TkoState::Clock;

const Clock::time_point kT0 = Clock::time_point() + std::chrono::hours(1);

TEST(TkoStateTest, TheNthConsecutiveTimeoutMakesTheNodeTko) {
  TkoState s(3, milliseconds(1000));
  EXPECT_FALSE(s.OnTimeout(kT0));
  EXPECT_FALSE(s.OnTimeout(kT0));
  EXPECT_FALSE(s.tko());
  EXPECT_TRUE(s.OnTimeout(kT0));
  EXPECT_TRUE(s.tko());
  EXPECT_EQ(s.tko_count(), 1u);
}

TEST(TkoStateTest, ASuccessStartsTheTimeoutCountOver) {
  TkoState s(3, milliseconds(1000));
  s.OnTimeout(kT0);
  s.OnTimeout(kT0);
  s.OnSuccess();
  EXPECT_EQ(s.consecutive_timeouts(), 0u);
  EXPECT_FALSE(s.OnTimeout(kT0));
  EXPECT_FALSE(s.OnTimeout(kT0));
  EXPECT_FALSE(s.tko());
}

TEST(TkoStateTest, AConnectErrorMakesTheNodeTkoAtOnce) {
  TkoState s(3, milliseconds(1000));
  s.OnConnectError(kT0);
  EXPECT_TRUE(s.tko());
  // More failures while TKO change nothing (no new mark, no earlier probe).
  s.OnConnectError(kT0 + milliseconds(500));
  EXPECT_FALSE(s.OnTimeout(kT0 + milliseconds(600)));
  EXPECT_EQ(s.tko_count(), 1u);
}

TEST(TkoStateTest, OneProbeIsDueAfterTheIntervalAndItsAnswerBringsTheNodeBack) {
  TkoState s(1, milliseconds(1000));
  s.OnTimeout(kT0);
  ASSERT_TRUE(s.tko());
  EXPECT_FALSE(s.TakeProbe(kT0 + milliseconds(999)));
  EXPECT_TRUE(s.TakeProbe(kT0 + milliseconds(1000)));
  EXPECT_FALSE(s.TakeProbe(kT0 + milliseconds(1001)));  // one probe at a time
  EXPECT_TRUE(s.tko());                                 // still TKO while probing
  s.OnProbeResult(true, kT0 + milliseconds(1010));
  EXPECT_FALSE(s.tko());
  EXPECT_FALSE(s.TakeProbe(kT0 + milliseconds(5000)));  // nothing to probe while up
}

TEST(TkoStateTest, AFailedProbeSchedulesTheNextOneAnIntervalLater) {
  TkoState s(3, milliseconds(1000));
  s.OnConnectError(kT0);
  ASSERT_TRUE(s.TakeProbe(kT0 + milliseconds(1000)));
  s.OnProbeResult(false, kT0 + milliseconds(1200));
  EXPECT_TRUE(s.tko());
  EXPECT_FALSE(s.TakeProbe(kT0 + milliseconds(2100)));
  EXPECT_TRUE(s.TakeProbe(kT0 + milliseconds(2200)));
  s.OnProbeResult(true, kT0 + milliseconds(2210));
  EXPECT_FALSE(s.tko());
  // Back up, it takes N timeouts again, and counts as a second mark.
  s.OnTimeout(kT0 + milliseconds(3000));
  s.OnTimeout(kT0 + milliseconds(3000));
  EXPECT_FALSE(s.tko());
  s.OnTimeout(kT0 + milliseconds(3000));
  EXPECT_TRUE(s.tko());
  EXPECT_EQ(s.tko_count(), 2u);
}

TEST(TkoStateTest, AProbeResultWithoutAProbeIsIgnored) {
  TkoState s(3, milliseconds(1000));
  s.OnProbeResult(false, kT0);
  EXPECT_FALSE(s.tko());
  s.OnConnectError(kT0);
  s.OnProbeResult(true, kT0);  // nobody took a probe: a stray answer does not bring it back
  EXPECT_TRUE(s.tko());
}

}  // namespace
}  // namespace rc::client
