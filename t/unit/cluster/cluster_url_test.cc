// t/unit/cluster/cluster_url_test.cc -- the --cluster URL (cluster_url.h) and the ring-name
// rules (member.h).
#include "ringcached/cluster/cluster_url.h"

#include <gtest/gtest.h>

#include "ringcached/cluster/member.h"

namespace rc::cluster {
namespace {

TEST(ClusterUrlTest, SplitsHostsAndPath) {
  base::Result<ClusterUrl> u = ParseClusterUrl("zk://127.0.0.1:2181/ringcached/prod");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u.value().hosts, "127.0.0.1:2181");
  EXPECT_EQ(u.value().path, "/ringcached/prod");

  u = ParseClusterUrl("zk://zk1.example:2181,zk2.example:2182,[::1]:2183/c");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u.value().hosts, "zk1.example:2181,zk2.example:2182,[::1]:2183");
  EXPECT_EQ(u.value().path, "/c");
}

TEST(ClusterUrlTest, RejectsWhatZooKeeperOrTheLayoutCannotUse) {
  const char* kBad[] = {
      "", "127.0.0.1:2181/c", "http://127.0.0.1:2181/c", "zk://127.0.0.1:2181",
      "zk://127.0.0.1:2181/", "zk:///c", "zk://127.0.0.1/c", "zk://127.0.0.1:0/c",
      "zk://127.0.0.1:65536/c", "zk://127.0.0.1:21x/c", "zk://a:1,/c", "zk://a:1,,b:2/c",
      "zk://:2181/c", "zk://::1:2181/c", "zk://[::1]/c", "zk://a:1/c/", "zk://a:1/c//d",
      "zk://a:1/c/./d", "zk://a:1/c/../d", "zk://a:1/c d",
  };
  for (const char* url : kBad) {
    SCOPED_TRACE(url);
    base::Result<ClusterUrl> u = ParseClusterUrl(url);
    ASSERT_FALSE(u.ok());
    EXPECT_NE(u.status().message().find("zk://host:port"), std::string::npos);
  }
}

TEST(RingNameTest, AcceptsClientStringsAndRejectsBadZnodeNames) {
  for (const char* ok : {"127.0.0.1:11211", "cache1.example", "[::1]:11212", "::1:11212", "a"}) {
    EXPECT_TRUE(CheckRingName(ok).ok()) << ok;
  }
  for (const char* bad : {"", ".", "..", "a/b", "/p", "a b", "tab\there", "caf\xc3\xa9"}) {
    EXPECT_FALSE(CheckRingName(bad).ok()) << bad;
  }
  EXPECT_FALSE(CheckRingName(std::string(256, 'a')).ok());
  EXPECT_TRUE(CheckRingName(std::string(255, 'a')).ok());
}

}  // namespace
}  // namespace rc::cluster
