// t/unit/net/out_queue_test.cc -- net::OutQueue: text and pinned bytes in order, small pinned
// bytes copied (their pin dropped at once), large ones held until they leave, rollback dropping
// what it discards, and blocks going back to the pool. Read back with MoveTo (no sockets).
#include <gtest/gtest.h>

#include <string>

#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/out_queue.h"

namespace rc::net {
namespace {

// A pin that counts its drops in an int.
Pin CountingPin(int* drops) {
  return Pin(drops, [](void* p) noexcept { ++*static_cast<int*>(p); });
}

TEST(OutQueueTest, TextAndPinnedBytesInOrder) {
  BufferPool pool;
  OutQueue q(&pool);
  std::string big(4000, 'b');
  int small_drops = 0, big_drops = 0;
  q.Append("VALUE a 0 3\r\n");
  q.AppendPinned("abc", CountingPin(&small_drops), "\r\n");
  EXPECT_EQ(small_drops, 1);  // copied: the pin went at once
  q.Append("VALUE b 0 4000\r\n");
  q.AppendPinned(big, CountingPin(&big_drops), "\r\n");
  EXPECT_EQ(big_drops, 0);  // sent from where it is: held
  q.Append("END\r\n");
  EXPECT_EQ(q.pending_bytes(), 13 + 5 + 16 + 4002 + 5);
  std::string out;
  q.MoveTo(&out);
  EXPECT_EQ(out, "VALUE a 0 3\r\nabc\r\nVALUE b 0 4000\r\n" + big + "\r\nEND\r\n");
  EXPECT_EQ(big_drops, 1);
  EXPECT_TRUE(q.empty());
}

TEST(OutQueueTest, RollbackDropsWhatItDiscards) {
  BufferPool pool;
  OutQueue q(&pool);
  std::string big(1000, 'x');
  int kept = 0, discarded = 0;
  q.Append("first\r\n");
  q.AppendPinned(big, CountingPin(&kept));
  OutQueue::Mark mark = q.GetMark();
  q.Append("second");
  q.AppendPinned(big, CountingPin(&discarded));
  q.Append("third");
  q.Rollback(mark);
  EXPECT_EQ(discarded, 1);
  EXPECT_EQ(kept, 0);
  q.Append("ERROR\r\n");
  std::string out;
  q.MoveTo(&out);
  EXPECT_EQ(out, "first\r\n" + big + "ERROR\r\n");
  EXPECT_EQ(kept, 1);
}

TEST(OutQueueTest, LargeTextAndBlocksGoBack) {
  BufferPool pool;
  {
    OutQueue q(&pool);
    std::string line(BufferPool::kSize * 2 + 10, 's');  // larger than a block: its own
    q.Append("head ");
    q.Append(line);
    for (int i = 0; i < 3000; ++i) q.Append("0123456789");  // over two pool blocks
    std::string out;
    q.MoveTo(&out);
    EXPECT_EQ(out.size(), 5 + line.size() + 30000);
    EXPECT_EQ(out.substr(0, 5), "head ");
    EXPECT_EQ(out.substr(5, line.size()), line);
  }
  EXPECT_EQ(pool.spare(), pool.count());  // every pool block given back
  EXPECT_GE(pool.count(), 2u);
}

TEST(OutQueueTest, ReserveAndCommit) {
  BufferPool pool;
  OutQueue q(&pool);
  char* p = q.Reserve(64);
  std::size_t n = static_cast<std::size_t>(snprintf(p, 64, "STAT pid %d\r\n", 42));
  q.Commit(n);
  q.Commit(0);
  std::string out;
  q.MoveTo(&out);
  EXPECT_EQ(out, "STAT pid 42\r\n");
}

}  // namespace
}  // namespace rc::net
