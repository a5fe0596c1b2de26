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
