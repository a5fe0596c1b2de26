// t/unit/client/local_cache_test.cc -- the client's optional local copy of hot keys
// (client/local_cache.h): entries live for their TTL and no longer, the client's own writes drop
// them, and the cache never holds more than kMaxEntries.
#include "client/local_cache.h"

#include <gtest/gtest.h>

namespace rc::client {
namespace {

using Clock = LocalHotCache::Clock;
using std::chrono::seconds;

TEST(LocalHotCacheTest, AnEntryLivesForItsTtlOnly) {
  LocalHotCache cache;
  const Clock::time_point t0 = Clock::now();
  cache.Store("k", Item{"v", 7}, seconds(2), t0);
  std::optional<Item> got = cache.Lookup("k", t0 + seconds(1));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->value, "v");
  EXPECT_EQ(got->flags, 7u);
  EXPECT_FALSE(cache.Lookup("k", t0 + seconds(2)).has_value());
  EXPECT_EQ(cache.size(), 0u);  // an expired entry found is dropped
  EXPECT_FALSE(cache.Lookup("absent", t0).has_value());
}

TEST(LocalHotCacheTest, ForgetDropsAnEntry) {
  LocalHotCache cache;
  const Clock::time_point t0 = Clock::now();
  cache.Store("k", Item{"v", 0}, seconds(10), t0);
  cache.Forget("k");
  EXPECT_FALSE(cache.Lookup("k", t0).has_value());
  cache.Forget("never-kept");  // harmless
}

TEST(LocalHotCacheTest, BoundedByMaxEntries) {
  LocalHotCache cache;
  const Clock::time_point t0 = Clock::now();
  for (std::size_t i = 0; i < LocalHotCache::kMaxEntries + 10; ++i) {
    cache.Store("k" + std::to_string(i), Item{"v", 0}, seconds(10), t0);
  }
  EXPECT_EQ(cache.size(), LocalHotCache::kMaxEntries);
  // A kept key is still updated when full ...
  cache.Store("k0", Item{"w", 0}, seconds(10), t0);
  EXPECT_EQ(cache.Lookup("k0", t0)->value, "w");
  // ... and once the entries have expired, new keys fit again.
  cache.Store("new", Item{"v", 0}, seconds(10), t0 + seconds(11));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.Lookup("new", t0 + seconds(11)).has_value());
}

}  // namespace
}  // namespace rc::client
