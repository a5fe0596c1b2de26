// t/unit/net/buffer_pool_test.cc -- net::BufferPool: spares kept as many as were lent at once,
// so that a steady load allocates nothing after its first round; Trim() frees the spares beyond
// the most lent at once since the last Trim (never below kMinSpare); a hard ceiling on spares.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "ringcached/net/buffer_pool.h"

namespace rc::net {
namespace {

// Lends `n` buffers at once and takes them all back, as a read round of n ready connections.
void Round(BufferPool* pool, std::size_t n) {
  std::vector<std::unique_ptr<char[]>> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(pool->Take());
  for (auto& b : out) pool->Give(std::move(b));
}

TEST(BufferPoolTest, ASteadyLoadAllocatesOnlyInItsFirstRound) {
  BufferPool pool;
  Round(&pool, 50);
  EXPECT_EQ(pool.count(), 50u);
  for (int i = 0; i < 100; ++i) Round(&pool, 50);
  EXPECT_EQ(pool.count(), 50u);  // 50 > kMinSpare: each round found its buffers spare
  pool.Trim();                   // the last second lent 50 at once: all kept
  EXPECT_EQ(pool.spare(), 50u);
  Round(&pool, 50);
  EXPECT_EQ(pool.count(), 50u);
}

TEST(BufferPoolTest, TrimGivesABurstBackWithinTwoCalls) {
  BufferPool pool;
  Round(&pool, 500);
  EXPECT_EQ(pool.spare(), 500u);
  EXPECT_TRUE(pool.WorthTrimming());
  pool.Trim();  // 500 were out at once since the last Trim: kept for now
  EXPECT_EQ(pool.spare(), 500u);
  Round(&pool, 40);
  pool.Trim();  // since then at most 40 at once
  EXPECT_EQ(pool.spare(), 40u);
  EXPECT_EQ(pool.count(), 40u);
  pool.Trim();  // none lent since: down to the floor
  EXPECT_EQ(pool.spare(), BufferPool::kMinSpare);
  EXPECT_FALSE(pool.WorthTrimming());
}

TEST(BufferPoolTest, BuffersStillLentAreNotCountedAsSpare) {
  BufferPool pool;
  std::vector<std::unique_ptr<char[]>> held;
  for (int i = 0; i < 100; ++i) held.push_back(pool.Take());
  Round(&pool, 100);  // 200 out at once
  pool.Trim();
  pool.Trim();  // 100 still out: the peak since is 100, and 100 spares stay
  EXPECT_EQ(pool.spare(), 100u);
  EXPECT_EQ(pool.count(), 200u);
  for (auto& b : held) pool.Give(std::move(b));
  EXPECT_EQ(pool.spare(), 200u);
}

TEST(BufferPoolTest, SparesNeverPassTheCeiling) {
  BufferPool pool;
  Round(&pool, BufferPool::kMaxSpare + 100);
  EXPECT_EQ(pool.spare(), BufferPool::kMaxSpare);
  EXPECT_EQ(pool.count(), BufferPool::kMaxSpare);
}

}  // namespace
}  // namespace rc::net
