// t/unit/server/cluster_options_test.cc -- the cluster options of the option table (issue #5):
// defaults, validation with the operator-facing messages, and `stats settings`, which gains the
// cluster keys only in a cluster (a single node stays memcached's, key for key).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "options_support.h"
#include "server/options.h"

namespace rc::server {
namespace {

using rc::testing::Parsed;
using rc::testing::ParseArgs;
using rc::testing::StatsOf;

constexpr const char* kUrl = "--cluster=zk://127.0.0.1:2181/ringcached/prod";

TEST(ClusterOptionsTest, DefaultsAreASingleNode) {
  Settings s;
  EXPECT_EQ(s.cluster, "");
  EXPECT_EQ(s.advertise, "");
  EXPECT_EQ(s.weight, 1u);
  EXPECT_EQ(s.ring_debounce_ms, 1000);
  EXPECT_EQ(s.ring_profile, "libmemcached");
  EXPECT_EQ(s.zk_session_timeout_ms, 10000);
  EXPECT_EQ(s.max_clock_skew_ms, 1000);
  EXPECT_EQ(s.cluster_secret_file, "");
  EXPECT_EQ(s.tombstone_ttl, 30);
  EXPECT_EQ(s.guest_ttl, 5);
  EXPECT_EQ(s.handoff_rate, 32 << 20);
  EXPECT_EQ(s.handoff_drop_delay, 60);
  EXPECT_EQ(s.handoff_timeout, 300);
  EXPECT_EQ(s.hot_key_qps, 5000);
  EXPECT_DOUBLE_EQ(s.hot_key_share, 0.2);
  EXPECT_EQ(s.hot_copies, 2);
  EXPECT_EQ(s.hot_copy_ttl, 10);
}

TEST(ClusterOptionsTest, EveryOptionIsApplied) {
  Parsed p = ParseArgs({kUrl, "--advertise", "cache1.example:11211", "--weight", "3",
                        "--ring-profile", "twemproxy", "--ring-debounce-ms", "0",
                        "--zk-session-timeout-ms", "4000", "--max-clock-skew-ms", "250",
                        "--cluster-secret-file", "/etc/rc.secret", "--tombstone-ttl", "60",
                        "--guest-ttl", "7", "--handoff-rate", "1048576",
                        "--handoff-drop-delay", "0", "--handoff-timeout", "9",
                        "--hot-key-qps", "0", "--hot-key-share", "0.5", "--hot-copies", "8",
                        "--hot-copy-ttl", "3600"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  EXPECT_EQ(p.settings.cluster, "zk://127.0.0.1:2181/ringcached/prod");
  EXPECT_EQ(p.settings.advertise, "cache1.example:11211");
  EXPECT_EQ(p.settings.weight, 3u);
  EXPECT_EQ(p.settings.ring_profile, "twemproxy");
  EXPECT_EQ(p.settings.ring_debounce_ms, 0);
  EXPECT_EQ(p.settings.zk_session_timeout_ms, 4000);
  EXPECT_EQ(p.settings.max_clock_skew_ms, 250);
  EXPECT_EQ(p.settings.cluster_secret_file, "/etc/rc.secret");
  EXPECT_EQ(p.settings.tombstone_ttl, 60);
  EXPECT_EQ(p.settings.guest_ttl, 7);
  EXPECT_EQ(p.settings.handoff_rate, 1048576);
  EXPECT_EQ(p.settings.handoff_drop_delay, 0);
  EXPECT_EQ(p.settings.handoff_timeout, 9);
  EXPECT_EQ(p.settings.hot_key_qps, 0);
  EXPECT_DOUBLE_EQ(p.settings.hot_key_share, 0.5);
  EXPECT_EQ(p.settings.hot_copies, 8);
  EXPECT_EQ(p.settings.hot_copy_ttl, 3600);
  EXPECT_EQ(p.settings.replicas, 2);  // a secret file: two copies by default
}

TEST(ClusterOptionsTest, MoreThanOneReplicaNeedsTheSecret) {
  Parsed p = ParseArgs({kUrl});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  EXPECT_EQ(p.settings.replicas, 1);  // no secret: no peer links, one copy
  p = ParseArgs({kUrl, "--replicas", "3", "--cluster-secret-file", "/etc/rc.secret"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  EXPECT_EQ(p.settings.replicas, 3);
  p = ParseArgs({kUrl, "--replicas", "2"});
  ASSERT_EQ(p.outcome, ParseOutcome::kExitError);
  EXPECT_NE(p.out.find("needs --cluster-secret-file"), std::string::npos) << p.out;
  EXPECT_EQ(ParseArgs({kUrl, "--replicas", "0"}).outcome, ParseOutcome::kExitError);
  EXPECT_EQ(ParseArgs({kUrl, "--replicas", "9"}).outcome, ParseOutcome::kExitError);
}

TEST(ClusterOptionsTest, ReplicationModeAndTimeout) {
  Parsed p = ParseArgs({kUrl});
  EXPECT_EQ(p.settings.replication, "async");
  EXPECT_EQ(p.settings.replication_timeout_ms, 1000);
  p = ParseArgs({kUrl, "--replication", "sync", "--replication-timeout-ms", "250"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  EXPECT_EQ(p.settings.replication, "sync");
  EXPECT_EQ(p.settings.replication_timeout_ms, 250);
  EXPECT_EQ(ParseArgs({kUrl, "--replication", "eventual"}).outcome, ParseOutcome::kExitError);
  EXPECT_EQ(ParseArgs({kUrl, "--replication-timeout-ms", "0"}).outcome,
            ParseOutcome::kExitError);
}

TEST(ClusterOptionsTest, BadValuesAreRefusedWithAReason) {
  const std::vector<std::vector<std::string>> kBad = {
      {"--cluster", "127.0.0.1:2181/x"},
      {"--cluster", "zk://127.0.0.1:2181"},
      {"--cluster", "zk://127.0.0.1/x"},
      {kUrl, "--advertise", "a b"},
      {kUrl, "--advertise", "/tmp/sock"},
      {kUrl, "--advertise", "cache1:abc"},  // a trailing port must be a number
      {kUrl, "--advertise", "cache1:"},
      {kUrl, "--advertise", "cache1:70000"},
      {kUrl, "--advertise", "[::1]:x"},
      {"--advertise", "cache1:abc"},  // refused with or without --cluster
      {kUrl, "--weight", "0"},
      {kUrl, "--weight", "65536"},
      {kUrl, "--weight", "x"},
      {kUrl, "--ring-profile", "ketama"},
      {kUrl, "--ring-debounce-ms", "-1"},
      {kUrl, "--ring-debounce-ms", "60001"},
      {kUrl, "--zk-session-timeout-ms", "100"},
      {kUrl, "--max-clock-skew-ms", "0"},
      {"--max-clock-skew-ms", "3600001"},
      {kUrl, "--tombstone-ttl", "0"},
      {kUrl, "--guest-ttl", "0"},
      {kUrl, "--guest-ttl", "3601"},
      {kUrl, "--handoff-rate", "65535"},
      {kUrl, "--handoff-rate", "2147483648"},
      {kUrl, "--handoff-drop-delay", "-1"},
      {kUrl, "--handoff-drop-delay", "86401"},
      {kUrl, "--handoff-timeout", "0"},
      {kUrl, "--handoff-timeout", "86401"},
      {"--hot-key-qps", "-1"},
      {"--hot-key-qps", "1000000001"},
      {"--hot-key-share", "1.5"},
      {"--hot-key-share", "-0.1"},
      {"--hot-key-share", "abc"},
      {kUrl, "--hot-copies", "9"},
      {kUrl, "--hot-copy-ttl", "0"},
      {kUrl, "--hot-copy-ttl", "3601"},
      {kUrl, "--cluster-secret-file", ""},
      {kUrl, "-s", "/tmp/rc.sock"},  // a cluster node needs TCP
      {kUrl, "-p", "0"},
  };
  for (const auto& args : kBad) {
    std::string described;
    for (const std::string& a : args) described += a + " ";
    SCOPED_TRACE(described);
    Parsed p = ParseArgs(args);
    EXPECT_EQ(p.outcome, ParseOutcome::kExitError);
    EXPECT_FALSE(p.out.empty());
  }
}

TEST(ClusterOptionsTest, AdvertiseTakesAnyNameWhoseTrailingPortIsANumber) {
  // Ring names are what clients list: host:port, [v6]:port, or any alias (twemproxy).
  for (const char* name : {"cache1.example:11211", "[::1]:11212", "10.0.0.1", "mc-alias-1",
                           "fe80::1", "cache1:0"}) {
    SCOPED_TRACE(name);
    Parsed p = ParseArgs({kUrl, "--advertise", name});
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_EQ(p.settings.advertise, name);
  }
  Parsed bad = ParseArgs({kUrl, "--advertise", "cache1:abc"});
  ASSERT_EQ(bad.outcome, ParseOutcome::kExitError);
  EXPECT_EQ(bad.out,
            "--advertise cache1:abc: Invalid port number \"abc\" in cache1:abc (expected 0 to "
            "65535)");
}

TEST(ClusterOptionsTest, StatsSettingsGainClusterKeysOnlyInACluster) {
  std::map<std::string, std::string> single = StatsOf(Settings{});
  EXPECT_EQ(single.count("cluster"), 0u);
  EXPECT_EQ(single.count("ring_profile"), 0u);

  Parsed p = ParseArgs({kUrl, "--advertise", "n1:11211", "--weight", "2"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  auto stats = SettingsForStats(p.settings, 0);
  ASSERT_GE(stats.size(), 20u);
  std::vector<std::string> tail;
  for (std::size_t i = stats.size() - 20; i < stats.size(); ++i) tail.push_back(stats[i].first);
  EXPECT_EQ(tail, (std::vector<std::string>{"cluster", "advertise", "weight", "ring_profile",
                                            "ring_debounce_ms", "zk_session_timeout_ms",
                                            "cluster_secret_file", "replicas", "replication",
                                            "replication_timeout_ms", "tombstone_ttl",
                                            "guest_ttl", "handoff_rate", "handoff_drop_delay",
                                            "handoff_timeout", "max_clock_skew_ms",
                                            "hot_key_qps", "hot_key_share", "hot_copies",
                                            "hot_copy_ttl"}));
  std::map<std::string, std::string> m(stats.begin(), stats.end());
  EXPECT_EQ(m["cluster"], "zk://127.0.0.1:2181/ringcached/prod");
  EXPECT_EQ(m["advertise"], "n1:11211");
  EXPECT_EQ(m["weight"], "2");
  EXPECT_EQ(m["ring_profile"], "libmemcached");
}

}  // namespace
}  // namespace rc::server
