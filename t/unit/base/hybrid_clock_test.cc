// t/unit/base/hybrid_clock_test.cc -- versions: the layout, uniqueness and order across threads,
// the wall clock as a floor, the counter's carry, and the skew bound on admitted versions.
#include "ringcached/base/hybrid_clock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"

namespace rc::base {
namespace {

// A wall clock set in milliseconds since the unix epoch.
class WallClock final : public Clock {
 public:
  RelTime Now() const override { return 2; }
  std::time_t ProcessStarted() const override { return 0; }
  std::int64_t UnixMillis() const override { return ms.load(); }
  std::atomic<std::int64_t> ms{HybridClock::kEpochUnixMillis + 3'000'000'000};  // Feb 2024
};

TEST(HybridClockTest, VersionsAreWallMillisecondsShiftedAndStayBelowTwoToThe53) {
  WallClock wall;
  HybridClock hlc(&wall, 1000);
  const std::uint64_t v = hlc.Mint();
  EXPECT_EQ(HybridClock::MillisOf(v), 3'000'000'000u);
  EXPECT_EQ(v & 1023, 0u);
  EXPECT_EQ(hlc.Mint(), v + 1);  // same millisecond: the counter
  // The year 2300 still fits.
  wall.ms = HybridClock::kEpochUnixMillis + std::int64_t{276} * 365 * 86400 * 1000;
  EXPECT_LT(hlc.Mint(), HybridClock::kLimit);
}

TEST(HybridClockTest, FollowsTheWallClockAndNeverGoesBack) {
  WallClock wall;
  HybridClock hlc(&wall, 1000);
  const std::uint64_t a = hlc.Mint();
  wall.ms += 5;
  const std::uint64_t b = hlc.Mint();
  EXPECT_EQ(b, a + (5 << 10) - (a & 1023));
  wall.ms -= 1000;  // the wall clock stepped back: versions keep increasing
  EXPECT_EQ(hlc.Mint(), b + 1);
}

TEST(HybridClockTest, MoreThanTheCounterHoldsInOneMillisecondCarriesIntoTheMilliseconds) {
  WallClock wall;
  HybridClock hlc(&wall, 1000);
  const std::uint64_t first = hlc.Mint();
  std::uint64_t v = first;
  for (int i = 0; i < 3000; ++i) {
    const std::uint64_t next = hlc.Mint();
    ASSERT_EQ(next, v + 1);
    v = next;
  }
  EXPECT_EQ(HybridClock::MillisOf(v), HybridClock::MillisOf(first) + 2);
  wall.ms += 10;  // the wall clock overtakes again
  EXPECT_EQ(hlc.Mint(), hlc.WallVersion());
}

TEST(HybridClockTest, UniqueAndIncreasingPerThreadAcrossThreads) {
  WallClock wall;
  HybridClock hlc(&wall, 1000);
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::vector<std::uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        if (i % 512 == 0) wall.ms += 1;  // the wall clock moves under the minting
        got[t].push_back(hlc.Mint());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::vector<std::uint64_t> all;
  for (const auto& g : got) {
    EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));
    EXPECT_EQ(std::adjacent_find(g.begin(), g.end()), g.end());
    all.insert(all.end(), g.begin(), g.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(hlc.Last(), all.back());
}

TEST(HybridClockTest, AdmitMovesTheClockPastWithinTheSkewBoundAndRefusesBeyondIt) {
  WallClock wall;
  HybridClock hlc(&wall, 1000);
  const std::uint64_t now = hlc.Mint();
  // 999 ms ahead: admitted, and the next version orders after it.
  const std::uint64_t ahead = hlc.WallVersion() + (std::uint64_t{999} << 10);
  EXPECT_TRUE(hlc.Admit(ahead));
  EXPECT_EQ(hlc.Mint(), ahead + 1);
  // 1001 ms ahead: refused and counted; the clock stays.
  EXPECT_FALSE(hlc.Admit(hlc.WallVersion() + (std::uint64_t{1001} << 10)));
  EXPECT_EQ(hlc.refused(), 1u);
  EXPECT_EQ(hlc.Mint(), ahead + 2);
  // An older version is admitted and leaves the clock where it is.
  EXPECT_TRUE(hlc.Admit(now));
  EXPECT_EQ(hlc.Mint(), ahead + 3);
  // 0 and 2^53 are never versions.
  EXPECT_FALSE(hlc.Admit(0));
  EXPECT_FALSE(hlc.Admit(HybridClock::kLimit));
  EXPECT_EQ(hlc.refused(), 3u);
}

TEST(HybridClockTest, AWallClockBeforeTheEpochStillGivesUniqueIncreasingVersions) {
  testing::FakeClock clock;  // 2023
  HybridClock hlc(&clock, 1000);
  EXPECT_EQ(hlc.Mint(), 1u);
  EXPECT_EQ(hlc.Mint(), 2u);
  EXPECT_TRUE(hlc.Admit(500));
  EXPECT_EQ(hlc.Mint(), 501u);
}

}  // namespace
}  // namespace rc::base
