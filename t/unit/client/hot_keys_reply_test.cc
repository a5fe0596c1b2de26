// t/unit/client/hot_keys_reply_test.cc -- the client's parser of `config get hotkeys` replies
// (client/hot_keys.h) on canned replies in the exact format of the issue, fed whole and in
// fragments; and the per-instance copy choice that spreads client instances over the copies.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "client/hot_keys.h"
#include "client/member_list.h"

namespace rc::client {
namespace {

// A reply as a node writes it: the payload framed by a CONFIG hotkeys block and END.
std::string Reply(const std::string& payload) {
  return "CONFIG hotkeys 0 " + std::to_string(payload.size()) + "\r\n" + payload + "\r\nEND\r\n";
}

TEST(HotKeysReplyTest, ParsesVersionSlotTtlAndEveryKeyWithItsCopies) {
  // "aG90OjE=" is "hot:1", "dXNlcjo0Mg==" is "user:42".
  const std::string reply = Reply(
      "17 4 30\n"
      "aG90OjE= 12000 127.0.0.1:11311,127.0.0.1:11312,127.0.0.1:11313\n"
      "dXNlcjo0Mg== 5000.5\n");
  ASSERT_EQ(ConfigReplyLength(reply), reply.size());
  base::Result<HotList> list = ParseHotKeysReply(reply);
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list.value().version, 17u);
  EXPECT_EQ(list.value().slot, 4u);
  EXPECT_EQ(list.value().copy_ttl_s, 30u);
  ASSERT_EQ(list.value().keys.size(), 2u);
  const HotKey& hot = list.value().keys.at("hot:1");
  EXPECT_EQ(hot.reads_per_second, 12000);
  EXPECT_EQ(hot.copies, (std::vector<std::string>{"127.0.0.1:11311", "127.0.0.1:11312",
                                                  "127.0.0.1:11313"}));
  const HotKey& user = list.value().keys.at("user:42");
  EXPECT_EQ(user.reads_per_second, 5000.5);
  EXPECT_TRUE(user.copies.empty());  // a single node: read from the owner
}

TEST(HotKeysReplyTest, IsFramedWhateverTheFragmentation) {
  const std::string reply = Reply("3 0 10\naG90OjE= 900 a:1,b:2\n") + "VERSION 1.6\r\n";
  const std::size_t whole = reply.size() - std::string("VERSION 1.6\r\n").size();
  for (std::size_t cut = 0; cut < whole; ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(ConfigReplyLength(std::string_view(reply).substr(0, cut)), 0u);
  }
  EXPECT_EQ(ConfigReplyLength(reply), whole);  // the next reply is not taken
  ASSERT_TRUE(ParseHotKeysReply(reply.substr(0, whole)).ok());
}

TEST(HotKeysReplyTest, AnEmptyListANodeWithoutDetectionAndOneWithoutTheCommandMeanNoHotKeys) {
  for (const std::string& reply :
       {Reply("0 9 60\n"), std::string("ERROR\r\n"), std::string("END\r\n"),
        std::string("CLIENT_ERROR bad command line format\r\n")}) {
    SCOPED_TRACE(reply);
    ASSERT_EQ(ConfigReplyLength(reply), reply.size());
    base::Result<HotList> list = ParseHotKeysReply(reply);
    ASSERT_TRUE(list.ok()) << list.status().message();
    EXPECT_TRUE(list.value().keys.empty());
  }
  EXPECT_EQ(ParseHotKeysReply(Reply("0 9 60\n")).value().slot, 9u);
}

TEST(HotKeysReplyTest, MalformedRepliesAreRejectedWhole) {
  const std::map<std::string, std::string> bad = {
      {"header with two fields", Reply("1 2\n")},
      {"header not numbers", Reply("a b c\n")},
      {"negative slot", Reply("1 -2 3\n")},
      {"no trailing newline", Reply("1 2 3")},
      {"key not base64", Reply("1 2 3\n!!!! 10 a:1\n")},
      {"reads not a number", Reply("1 2 3\naG90OjE= many a:1\n")},
      {"an empty copy", Reply("1 2 3\naG90OjE= 10 a:1,,b:2\n")},
      {"too many fields", Reply("1 2 3\naG90OjE= 10 a:1 extra\n")},
      {"another block", "CONFIG cluster 0 2\r\n1\n\r\nEND\r\n"},
      {"another line", "STORED\r\n"},
  };
  for (const auto& [what, reply] : bad) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(ParseHotKeysReply(reply).ok());
  }
}

TEST(HotKeysReplyTest, TwelveInstancesSpreadEvenlyOverThreeCopies) {
  const std::vector<std::string> copies = {"a:1", "b:2", "c:3"};
  std::map<std::string, int> load;
  const auto all = [](std::string_view) { return true; };
  for (std::uint64_t slot = 100; slot < 112; ++slot) ++load[copies[ChooseHotCopy(copies, slot, all)]];
  EXPECT_EQ(load, (std::map<std::string, int>{{"a:1", 4}, {"b:2", 4}, {"c:3", 4}}));
}

TEST(HotKeysReplyTest, AnUnusableCopyPassesItsReadersToTheNextOne) {
  const std::vector<std::string> copies = {"a:1", "b:2", "c:3"};
  const auto not_b = [](std::string_view name) { return name != "b:2"; };
  EXPECT_EQ(ChooseHotCopy(copies, 1, not_b), 2u);
  EXPECT_EQ(ChooseHotCopy(copies, 2, not_b), 2u);
  EXPECT_EQ(ChooseHotCopy(copies, 3, not_b), 0u);
  EXPECT_EQ(ChooseHotCopy(copies, 1, [](std::string_view) { return false; }), 3u);
  EXPECT_EQ(ChooseHotCopy({}, 5, not_b), 0u);
}

}  // namespace
}  // namespace rc::client
