// t/unit/cluster/debounce_test.cc -- when a member-list change reaches the ring (debounce.h),
// driven by explicit times: no clock, no sleeping.
#include "cluster/debounce.h"

#include <gtest/gtest.h>

namespace rc::cluster {
namespace {

TEST(DebouncerTest, NothingIsDueWithoutAChange) {
  Debouncer d(1000, 5000);
  EXPECT_FALSE(d.pending());
  EXPECT_FALSE(d.Due(1'000'000));
}

TEST(DebouncerTest, ASingleChangeIsDueOneIntervalLater) {
  Debouncer d(1000, 5000);
  d.Touch(10'000);
  EXPECT_TRUE(d.pending());
  EXPECT_EQ(d.deadline(), 11'000);
  EXPECT_FALSE(d.Due(10'999));
  EXPECT_TRUE(d.Due(11'000));
  d.Clear();
  EXPECT_FALSE(d.pending());
  EXPECT_FALSE(d.Due(20'000));
}

TEST(DebouncerTest, ABurstIsAppliedOnceAfterItGoesQuiet) {
  Debouncer d(1000, 5000);
  d.Touch(0);
  d.Touch(400);
  d.Touch(900);
  EXPECT_FALSE(d.Due(1'000));  // the first change alone would be due now
  EXPECT_FALSE(d.Due(1'899));
  EXPECT_TRUE(d.Due(1'900));
}

TEST(DebouncerTest, AListThatNeverSettlesStillReachesTheRingAtTheCap) {
  Debouncer d(1000, 5000);
  for (int t = 0; t <= 4'800; t += 600) d.Touch(t);
  EXPECT_EQ(d.deadline(), 5'000);
  EXPECT_FALSE(d.Due(4'999));
  EXPECT_TRUE(d.Due(5'000));
  d.Clear();
  d.Touch(5'100);  // the next burst starts its own cap
  EXPECT_EQ(d.deadline(), 6'100);
}

TEST(DebouncerTest, ZeroDelayAppliesAtOnce) {
  Debouncer d(0, 0);
  d.Touch(42);
  EXPECT_TRUE(d.Due(42));
}

TEST(DebouncerTest, CapBelowTheDelayIsRaisedToIt) {
  Debouncer d(1000, 10);
  d.Touch(0);
  EXPECT_EQ(d.deadline(), 1'000);
}

}  // namespace
}  // namespace rc::cluster
