// t/unit/cluster/discovery_test.cc -- the ElastiCache auto-discovery replies (discovery.h),
// byte for byte, including AWS's own example whose byte count is known (191).
#include "ringcached/cluster/discovery.h"

#include <gtest/gtest.h>

#include <string>

namespace rc::cluster {
namespace {

Member M(std::string name, std::string address, int port) {
  Member m;
  m.name = std::move(name);
  m.address = std::move(address);
  m.port = port;
  return m;
}

ClusterView View(std::int32_t version, std::vector<Member> members) {
  ClusterView v;
  v.version = version;
  v.members = std::move(members);
  return v;
}

TEST(DiscoveryTest, ConfigGetClusterMatchesAwsExampleByteCount) {
  // From AWS's "Adding Auto Discovery To Your Client Library", as recorded by client test suites:
  // "CONFIG cluster 0 191" for this payload. Our ring names carry no ":11211" suffix here.
  ClusterView v = View(1, {M("test1.rtstcw.0001.apne1.cache.amazonaws.com", "172.31.12.60", 11211),
                           M("test1.rtstcw.0002.apne1.cache.amazonaws.com", "172.31.3.240", 11211),
                           M("test1.rtstcw.0003.apne1.cache.amazonaws.com", "172.31.10.26", 11211)});
  std::string payload =
      "1\ntest1.rtstcw.0001.apne1.cache.amazonaws.com|172.31.12.60|11211 "
      "test1.rtstcw.0002.apne1.cache.amazonaws.com|172.31.3.240|11211 "
      "test1.rtstcw.0003.apne1.cache.amazonaws.com|172.31.10.26|11211\n";
  EXPECT_EQ(DiscoveryPayload(v), payload);
  EXPECT_EQ(payload.size(), 191u);
  EXPECT_EQ(ConfigGetClusterReply(v), "CONFIG cluster 0 191\r\n" + payload + "\r\nEND\r\n");
  EXPECT_EQ(LegacyDiscoveryValue(v),
            "VALUE AmazonElastiCache:cluster 0 191\r\n" + payload + "\r\n");
}

TEST(DiscoveryTest, LoopbackClusterWithPortsInNames) {
  ClusterView v = View(7, {M("127.0.0.1:11311", "127.0.0.1", 11311),
                           M("127.0.0.1:11312", "127.0.0.1", 11312)});
  EXPECT_EQ(ConfigGetClusterReply(v),
            "CONFIG cluster 0 54\r\n7\n127.0.0.1|127.0.0.1|11311 127.0.0.1|127.0.0.1|11312\n"
            "\r\nEND\r\n");
}

TEST(DiscoveryTest, ClientsArePointedAtUpMembersOnly) {
  // A warming member is not listed until it is up; a leaving one no longer is.
  std::vector<Member> all = {M("127.0.0.1:11311", "127.0.0.1", 11311),
                             M("127.0.0.1:11312", "127.0.0.1", 11312),
                             M("127.0.0.1:11313", "127.0.0.1", 11313)};
  all[0].state = MemberState::kLeaving;
  all[2].state = MemberState::kWarming;
  ClusterView v;
  v.version = 9;
  SetViewMembers(&v, all, RingProfile::kLibmemcached);
  EXPECT_EQ(ConfigGetClusterReply(v),
            "CONFIG cluster 0 28\r\n9\n127.0.0.1|127.0.0.1|11312\n\r\nEND\r\n");
  // A cluster starting, every member warming: all of them, rather than none.
  for (Member& m : all) m.state = MemberState::kWarming;
  SetViewMembers(&v, all, RingProfile::kLibmemcached);
  EXPECT_EQ(DiscoveryPayload(v),
            "9\n127.0.0.1|127.0.0.1|11311 127.0.0.1|127.0.0.1|11312 127.0.0.1|127.0.0.1|11313\n");
}

TEST(DiscoveryTest, ViewRingsFollowTheMembersStates) {
  std::vector<Member> all;
  for (int port : {11311, 11312, 11313, 11314}) {
    all.push_back(M("127.0.0.1:" + std::to_string(port), "127.0.0.1", port));
  }
  ClusterView v;
  SetViewMembers(&v, all, RingProfile::kLibmemcached);
  EXPECT_FALSE(v.changing());  // every member up: one ring
  EXPECT_EQ(v.members.size(), 4u);
  EXPECT_TRUE(v.before_members.empty());
  EXPECT_EQ(v.everyone(), all);

  all[1].state = MemberState::kLeaving;
  all[3].state = MemberState::kWarming;
  SetViewMembers(&v, all, RingProfile::kLibmemcached);
  EXPECT_TRUE(v.changing());
  // Keys are held by the up and warming members; the ring before the change has the up and
  // leaving ones.
  ASSERT_EQ(v.members.size(), 3u);
  EXPECT_EQ(v.members[2].name, "127.0.0.1:11314");
  EXPECT_EQ(v.ring.members().size(), 3u);
  ASSERT_EQ(v.before_members.size(), 3u);
  EXPECT_EQ(v.before_members[1].name, "127.0.0.1:11312");
  EXPECT_EQ(v.before_ring.members().size(), 3u);
  EXPECT_EQ(v.everyone(), all);
  ASSERT_NE(v.Find("127.0.0.1:11312"), nullptr);
  EXPECT_EQ(v.Find("127.0.0.1:11312")->state, MemberState::kLeaving);
  EXPECT_EQ(v.Find("127.0.0.1:11399"), nullptr);
  // The leaving member's keys: on the new ring they go to the members left, and on the ring
  // before it, the leaving member still holds some.
  int held_before = 0;
  for (int i = 0; i < 1000; ++i) {
    std::uint32_t h[2];
    const std::string key = "key" + std::to_string(i);
    ASSERT_EQ(v.ring.Holders(key, 2, h), 2u);
    EXPECT_NE(v.members[h[0]].name, "127.0.0.1:11312");
    ASSERT_EQ(v.before_ring.Holders(key, 2, h), 2u);
    held_before += v.before_members[h[0]].name == "127.0.0.1:11312" ? 1 : 0;
  }
  EXPECT_GT(held_before, 100);
}

TEST(DiscoveryTest, EmptyViewStillHasBothLines) {
  EXPECT_EQ(ConfigGetClusterReply(View(0, {})), "CONFIG cluster 0 3\r\n0\n\n\r\nEND\r\n");
}

TEST(DiscoveryTest, HostIsTheRingNameWithoutItsPort) {
  EXPECT_EQ(DiscoveryHost(M("cache1.example:11211", "", 11211)), "cache1.example");
  EXPECT_EQ(DiscoveryHost(M("cache1.example", "", 11211)), "cache1.example");
  EXPECT_EQ(DiscoveryHost(M("[::1]:11212", "::1", 11212)), "::1");
  EXPECT_EQ(DiscoveryHost(M("::1:11212", "::1", 11212)), "::1");
  // A name whose port differs from the served port keeps it: the name is what clients use.
  EXPECT_EQ(DiscoveryHost(M("vip.example:80", "10.0.0.1", 11211)), "vip.example:80");
  EXPECT_EQ(DiscoveryPayload(View(3, {M("cache1.example", "", 11211)})),
            "3\ncache1.example||11211\n");
}

}  // namespace
}  // namespace rc::cluster
