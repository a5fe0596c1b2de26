// t/unit/base/cpus_test.cc -- base::UsableCpus: the cgroup v2 quota line, and the affinity mask
// (narrowed here for the test's own thread, then restored).
#include <gtest/gtest.h>
#include <sched.h>

#include "ringcached/base/cpus.h"

namespace rc::base {
namespace {

TEST(CpusTest, QuotaLines) {
  EXPECT_EQ(CpusFromQuota("max 100000\n"), 0);
  EXPECT_EQ(CpusFromQuota("100000 100000\n"), 1);
  EXPECT_EQ(CpusFromQuota("150000 100000"), 2);  // a part of a CPU still needs one
  EXPECT_EQ(CpusFromQuota("50000 100000"), 1);
  EXPECT_EQ(CpusFromQuota("400000 100000\n"), 4);
  for (const char* bad : {"", "\n", "max", "abc 100000", "100000 0", "100000 x", "-5 100000"}) {
    EXPECT_EQ(CpusFromQuota(bad), 0) << bad;
  }
}

TEST(CpusTest, FollowsTheAffinityMask) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  int all = UsableCpus();
  EXPECT_GE(all, 1);
  EXPECT_LE(all, CPU_COUNT(&saved));

  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  EXPECT_EQ(UsableCpus(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(UsableCpus(), all);
}

}  // namespace
}  // namespace rc::base
