// t/unit/base/hash_test.cc -- HashKey spreads keys over shards and buckets.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "ringcached/base/hash.h"

namespace rc::base {
namespace {

TEST(HashTest, DeterministicAndLengthSensitive) {
  EXPECT_EQ(HashKey("foo"), HashKey("foo"));
  EXPECT_NE(HashKey("foo"), HashKey(std::string_view("foo\0", 4)));
  EXPECT_NE(HashKey(""), HashKey(std::string_view("\0", 1)));
  EXPECT_NE(HashKey("key:12345678"), HashKey("key:12345679"));
}

TEST(HashTest, SequentialKeysSpreadEvenlyOverTopAndBottomBits) {
  // 64 shards from the top bits, 1024 buckets from the bottom bits: no bin may hold more than
  // twice its fair share of 65,536 sequential keys.
  std::vector<int> top(64), bottom(1024);
  for (int i = 0; i < 65536; ++i) {
    std::uint64_t h = HashKey("user:" + std::to_string(i));
    ++top[h >> 58];
    ++bottom[h & 1023];
  }
  for (int n : top) EXPECT_LT(n, 2 * 65536 / 64);
  for (int n : bottom) EXPECT_LT(n, 2 * 65536 / 1024);
}

TEST(HashTest, NoCollisionsAmongManyShortKeys) {
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 100000; ++i) seen.insert(HashKey("k" + std::to_string(i)));
  EXPECT_EQ(seen.size(), 100000u);
}

}  // namespace
}  // namespace rc::base
