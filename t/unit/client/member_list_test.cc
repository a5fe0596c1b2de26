// t/unit/client/member_list_test.cc -- the ring tool's inputs: --servers lists, `config get
// cluster` replies (ElastiCache auto-discovery format), and the canonical member order. No
// sockets: the network halves are exercised by t/proto. ZooKeeper's member data and URLs are
// read with the cluster module's code, tested in t/unit/cluster (member_json_test.cc,
// cluster_url_test.cc).
#include "client/member_list.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rc::client {
namespace {

using cluster::RingMember;

std::vector<std::string> Names(const MemberList& list) {
  std::vector<std::string> names;
  for (const RingMember& m : list.members) names.push_back(m.name);
  return names;
}

TEST(ServerListTest, NamesWeightsAndCanonicalOrder) {
  auto list = ParseServerList("127.0.0.1:11312=3,127.0.0.1:11311,cache.example");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_FALSE(list.value().version.has_value());
  EXPECT_EQ(Names(list.value()),
            (std::vector<std::string>{"127.0.0.1:11311", "127.0.0.1:11312", "cache.example"}));
  EXPECT_EQ(list.value().members[0].weight, 1u);
  EXPECT_EQ(list.value().members[1].weight, 3u);
}

TEST(ServerListTest, BadListsAreRefusedWithAReason) {
  for (const char* bad :
       {"", ",", "a,,b", "a,", "a=0", "a=-1", "a=x", "a=", "=3", "a b", "a,a", "a=1,a=2"}) {
    SCOPED_TRACE(bad);
    auto list = ParseServerList(bad);
    ASSERT_FALSE(list.ok());
    EXPECT_EQ(list.status().code(), base::Status::Code::kInvalidArgument);
    EXPECT_FALSE(list.status().message().empty());
  }
}

TEST(CanonicalOrderTest, IsByteOrder) {
  std::vector<RingMember> m = {{"b", 1}, {"\xe9", 1}, {"B", 1}, {"a:2", 1}, {"a", 1}};
  ASSERT_TRUE(Canonicalize(&m).ok());
  std::vector<std::string> names;
  for (const RingMember& x : m) names.push_back(x.name);
  // Upper case before lower case, a prefix first, bytes >= 0x80 last (unsigned, like memcmp).
  EXPECT_EQ(names, (std::vector<std::string>{"B", "a", "a:2", "b", "\xe9"}));
}

constexpr char kReply[] =
    "CONFIG cluster 0 79\r\n"
    "12\n"
    "node-b.example|10.0.0.2|11312 node-a.example|10.0.0.1|11311 |10.0.0.3|11313\n"
    "\r\nEND\r\n";

TEST(ClusterConfigTest, ParsesTheAutoDiscoveryFormat) {
  ASSERT_EQ(std::string_view(kReply).find("\r\n") + 2 + 79 + 7, sizeof(kReply) - 1);
  auto list = ParseClusterConfig(kReply);
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list.value().version, 12);
  // Ring name "<host>:<port>", the IP when the host field is empty; canonical order.
  EXPECT_EQ(Names(list.value()), (std::vector<std::string>{"10.0.0.3:11313", "node-a.example:11311",
                                                           "node-b.example:11312"}));
  for (const RingMember& m : list.value().members) EXPECT_EQ(m.weight, 1u);
}

TEST(ClusterConfigTest, EmptyClusterAndIpv6) {
  auto empty = ParseClusterConfig("CONFIG cluster 0 2\r\n7\n\r\nEND\r\n");
  ASSERT_TRUE(empty.ok()) << empty.status().message();
  EXPECT_EQ(empty.value().version, 7);
  EXPECT_TRUE(empty.value().members.empty());
  auto v6 = ParseClusterConfig("CONFIG cluster 0 13\r\n1\n|::1|11311\n\r\nEND\r\n");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(Names(v6.value()), std::vector<std::string>{"[::1]:11311"});
}

TEST(ClusterConfigTest, ReplyLengthFramesTheReply) {
  const std::string reply = kReply;
  for (std::size_t cut = 0; cut < reply.size(); ++cut) {
    EXPECT_EQ(ConfigReplyLength(reply.substr(0, cut)), 0u) << cut;
  }
  EXPECT_EQ(ConfigReplyLength(reply), reply.size());
  EXPECT_EQ(ConfigReplyLength(reply + "junk"), reply.size());
  EXPECT_EQ(ConfigReplyLength("END\r\n"), 5u);
  EXPECT_EQ(ConfigReplyLength("ERROR\r\n"), 7u);
}

TEST(ClusterConfigTest, NoConfigurationIsNotFound) {
  for (const char* reply : {"END\r\n", "ERROR\r\n", "CLIENT_ERROR bad command line format\r\n",
                            "SERVER_ERROR no cluster\r\n"}) {
    SCOPED_TRACE(reply);
    auto list = ParseClusterConfig(reply);
    ASSERT_FALSE(list.ok());
    EXPECT_EQ(list.status().code(), base::Status::Code::kNotFound);
  }
}

TEST(ClusterConfigTest, MalformedRepliesAreInvalid) {
  for (const char* reply : {
           "VALUE x 0 1\r\n",                                     // not a CONFIG block
           "CONFIG cluster 0 99\r\n1\nh|i|1\n\r\nEND\r\n",        // length too long
           "CONFIG cluster 0 5\r\n1\nh|i|1\n\r\nEND\r\n",         // length too short
           "CONFIG cluster 0 8\r\n1\nh|i|1\n\r\nEN",              // truncated
           "CONFIG cluster 0 8\r\nx\nh|i|1\n\r\nEND\r\n",         // bad version
           "CONFIG cluster 0 6\r\n1\nh|1\n\r\nEND\r\n",           // two fields
           "CONFIG cluster 0 8\r\n1\nh|i|0\n\r\nEND\r\n",         // port 0
           "CONFIG cluster 0 12\r\n1\nh|i|99999\n\r\nEND\r\n",    // port too big
           "CONFIG cluster 0 14\r\n1\nh|i|1 h|j|1\n\r\nEND\r\n",  // duplicate name
           "CONFIG cluster x 8\r\n1\nh|i|1\n\r\nEND\r\n",         // bad flags
       }) {
    SCOPED_TRACE(reply);
    auto list = ParseClusterConfig(reply);
    ASSERT_FALSE(list.ok());
    EXPECT_EQ(list.status().code(), base::Status::Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace rc::client
