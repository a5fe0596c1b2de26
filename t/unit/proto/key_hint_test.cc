// t/unit/proto/key_hint_test.cc -- proto::FirstKeyHint: the first request's key, told from the
// first bytes of a buffer, for the worker's cache warming (server/worker.cc). A wrong answer only
// wastes a load, but the hint is worthless if it misses the common requests, and it must never
// read past the buffer or run on without bound.
#include "ringcached/proto/key_hint.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace rc::proto {
namespace {

std::string_view Text(std::string_view in) { return FirstKeyHint(in, false); }

TEST(FirstKeyHint, TextCommandsName) {
  EXPECT_EQ(Text("get foo\r\n"), "foo");
  EXPECT_EQ(Text("gets foo bar baz\r\n"), "foo");
  EXPECT_EQ(Text("set k:1 0 0 5\r\nhello\r\n"), "k:1");
  EXPECT_EQ(Text("delete abc noreply\r\n"), "abc");
  EXPECT_EQ(Text("incr n 1\r\n"), "n");
  EXPECT_EQ(Text("get foo\n"), "foo");  // memcached accepts a bare \n
}

TEST(FirstKeyHint, GatSkipsTheExptime) {
  EXPECT_EQ(Text("gat 100 foo bar\r\n"), "foo");
  EXPECT_EQ(Text("gats 0 foo\r\n"), "foo");
  EXPECT_EQ(Text("gat 100"), "");
}

TEST(FirstKeyHint, MetaCommandsName) {
  EXPECT_EQ(Text("mg foo v f t\r\n"), "foo");
  EXPECT_EQ(Text("ms foo 2 T0\r\nhi\r\n"), "foo");
  EXPECT_EQ(Text("md foo q\r\n"), "foo");
}

TEST(FirstKeyHint, UnfinishedOrKeylessLinesTellNothing) {
  EXPECT_EQ(Text(""), "");
  EXPECT_EQ(Text("get"), "");
  EXPECT_EQ(Text("get "), "");
  EXPECT_EQ(Text("get fo"), "");  // the key may go on in the next read
  EXPECT_EQ(Text("version\r\n"), "");
  EXPECT_EQ(Text("stats\r\n"), "");
}

TEST(FirstKeyHint, StopsAtTheKeyLengthLimit) {
  std::string longest = "get " + std::string(250, 'k') + "\r\n";
  EXPECT_EQ(Text(longest).size(), 250u);
  std::string over = "get " + std::string(251, 'k') + "\r\n";
  EXPECT_EQ(Text(over), "");
  std::string endless = "get " + std::string(100000, 'k');
  EXPECT_EQ(Text(endless), "");
}

std::string BinaryGet(std::string_view key, unsigned extras) {
  std::string h(24 + extras, '\0');
  h[0] = static_cast<char>(0x80);
  h[2] = static_cast<char>(key.size() >> 8);
  h[3] = static_cast<char>(key.size() & 0xff);
  h[4] = static_cast<char>(extras);
  return h + std::string(key);
}

TEST(FirstKeyHint, BinaryHeaderGivesTheKey) {
  EXPECT_EQ(FirstKeyHint(BinaryGet("foo", 0), true), "foo");
  EXPECT_EQ(FirstKeyHint(BinaryGet("setkey", 8) + "value", true), "setkey");
}

TEST(FirstKeyHint, BinaryShortOrForeignBytesTellNothing) {
  std::string whole = BinaryGet("foo", 0);
  EXPECT_EQ(FirstKeyHint(whole.substr(0, 25), true), "");  // key not all there
  EXPECT_EQ(FirstKeyHint(whole.substr(0, 10), true), "");  // header not all there
  whole[0] = 'g';
  EXPECT_EQ(FirstKeyHint(whole, true), "");  // not a request magic
  EXPECT_EQ(FirstKeyHint(BinaryGet("", 0), true), "");  // no key (noop, version)
}

}  // namespace
}  // namespace rc::proto
