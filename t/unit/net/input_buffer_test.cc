// t/unit/net/input_buffer_test.cc -- net::InputBuffer: borrowed from the pool on the first
// Reserve and given back on Release; data moved to the front before it grows; growth by doubling
// up to the limit; a grown buffer freed rather than pooled; datagram framing.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/input_buffer.h"

namespace rc::net {
namespace {

void Put(InputBuffer* in, const std::string& s) {
  ASSERT_TRUE(in->Reserve());
  ASSERT_GE(in->room(), s.size());
  std::memcpy(in->tail(), s.data(), s.size());
  in->Commit(s.size());
}

TEST(InputBufferTest, BorrowsAndGivesBack) {
  BufferPool pool;
  InputBuffer in(&pool, 1 << 20);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(in.capacity(), 0u);  // nothing held before bytes arrive
  Put(&in, "get a\r\nget b\r\n");
  EXPECT_EQ(in.capacity(), BufferPool::kSize);
  EXPECT_EQ(pool.count(), 1u);
  EXPECT_EQ(in.view(), "get a\r\nget b\r\n");
  in.Consume(7);
  EXPECT_EQ(in.view(), "get b\r\n");
  in.Consume(7);
  EXPECT_TRUE(in.empty());
  in.Release();
  EXPECT_EQ(in.capacity(), 0u);
  EXPECT_EQ(pool.spare(), 1u);  // back in the pool for the next connection
}

TEST(InputBufferTest, MovesToTheFrontBeforeGrowing) {
  BufferPool pool;
  InputBuffer in(&pool, 1 << 20);
  std::string fill(BufferPool::kSize, 'x');
  Put(&in, fill);
  in.Consume(BufferPool::kSize - 4);  // 4 bytes left at the end
  ASSERT_TRUE(in.Reserve());
  EXPECT_EQ(in.capacity(), BufferPool::kSize);  // moved, not grown
  EXPECT_EQ(in.view(), "xxxx");
  EXPECT_EQ(in.room(), BufferPool::kSize - 4);
}

TEST(InputBufferTest, GrowsUpToTheLimitAndFreesWhatGrew) {
  BufferPool pool;
  InputBuffer in(&pool, 4 * BufferPool::kSize);
  std::string chunk(BufferPool::kSize, 'k');
  Put(&in, chunk);
  EXPECT_TRUE(in.full());
  Put(&in, chunk);  // doubles
  EXPECT_EQ(in.capacity(), 2 * BufferPool::kSize);
  EXPECT_EQ(pool.spare(), 1u);  // the pool's buffer went back when the data moved out
  Put(&in, chunk);
  Put(&in, chunk);
  EXPECT_EQ(in.capacity(), 4 * BufferPool::kSize);
  EXPECT_EQ(in.size(), 4 * BufferPool::kSize);
  EXPECT_FALSE(in.Reserve());  // a request longer than the limit
  in.Release();
  EXPECT_EQ(pool.spare(), 1u);  // the grown buffer was freed, not pooled
}

TEST(InputBufferTest, Datagrams) {
  BufferPool pool;
  InputBuffer in(&pool, 1 << 20);
  char* d = in.Whole(65536);
  ASSERT_NE(d, nullptr);
  std::memcpy(d, "\0\1\0\0\0\1\0\0get k\r\n", 15);
  in.Frame(8, 15);
  EXPECT_EQ(in.view(), "get k\r\n");
  in.Frame(0, 0);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(in.Whole(65536), d);  // kept for the next datagram
}

}  // namespace
}  // namespace rc::net
