// t/unit/client/client_configs_test.cc -- the client configurations ringcached-ring prints. That
// libmemcached really builds the same ring from the string is checked against the library itself
// by t/proto/ring_tool_libmemcached_test; here: the exact text, and the profiles and hosts that
// cannot be expressed.
#include "client/client_configs.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rc::client {
namespace {

using cluster::ParseRingRecipe;
using cluster::RingMember;
using cluster::RingProfile;
using cluster::RingRecipe;

const std::vector<RingMember> kThree = {
    {"127.0.0.1:11311", 1}, {"127.0.0.1:11312", 1}, {"cache.example", 1}};

TEST(LibmemcachedConfigTest, EqualWeightsAreWrittenAsTwoToTurnWeightedKetamaOn) {
  auto s = LibmemcachedConfigString(kThree, RingRecipe::For(RingProfile::kLibmemcached));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s.value(),
            "--DISTRIBUTION=consistent --HASH=MD5 --SERVER=127.0.0.1:11311/?2 "
            "--SERVER=127.0.0.1:11312/?2 --SERVER=cache.example/?2");
}

TEST(LibmemcachedConfigTest, UnequalWeightsAreWrittenAsTheyAre) {
  auto s = LibmemcachedConfigString({{"10.0.1.1:11211", 600}, {"10.0.1.2:11211", 1}},
                                    RingRecipe::For(RingProfile::kLibmemcached));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s.value(),
            "--DISTRIBUTION=consistent --HASH=MD5 --SERVER=10.0.1.1:11211/?600 "
            "--SERVER=10.0.1.2:11211/?1");
}

TEST(LibmemcachedConfigTest, KeyHashFollowsTheProfile) {
  auto twemproxy = LibmemcachedConfigString(kThree, RingRecipe::For(RingProfile::kTwemproxy));
  ASSERT_TRUE(twemproxy.ok());
  EXPECT_NE(twemproxy.value().find(" --HASH=FNV1A_64 "), std::string::npos);
  // Plain KETAMA: one_at_a_time is the default hash, and weights of 1 stay unwritten (writing
  // them as 2 would switch the ring to the weighted one).
  auto plain = LibmemcachedConfigString(kThree, *ParseRingRecipe("libmemcached-ketama"));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.value(),
            "--DISTRIBUTION=consistent --SERVER=127.0.0.1:11311 --SERVER=127.0.0.1:11312 "
            "--SERVER=cache.example");
}

TEST(LibmemcachedConfigTest, WhatTheSyntaxCannotSayIsRefused) {
  EXPECT_FALSE(LibmemcachedConfigString(kThree, RingRecipe::For(RingProfile::kSpymemcached)).ok());
  EXPECT_FALSE(LibmemcachedConfigString(kThree, *ParseRingRecipe("libmemcached-ketama-spy")).ok());
  const RingRecipe a = RingRecipe::For(RingProfile::kLibmemcached);
  for (const char* name : {"[::1]:11311", "random:11311", "Md5", "12345:11311", "ab:11311",
                           "-host:11311", "host_:11311"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(LibmemcachedConfigString({{name, 1}}, a).ok());
  }
  EXPECT_FALSE(LibmemcachedConfigString({{"h1.example", 100000}}, a).ok());
  EXPECT_FALSE(LibmemcachedConfigString({}, a).ok());
  EXPECT_TRUE(LibmemcachedConfigString({{"my_host-1.example:11311", 1}}, a).ok());
}

TEST(TwemproxyPoolTest, ThePoolStanza) {
  auto s = TwemproxyPool(kThree, RingRecipe::For(RingProfile::kLibmemcached), {});
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s.value(),
            "ringcached:\n"
            "  listen: 127.0.0.1:22121\n"
            "  hash: md5\n"
            "  distribution: ketama\n"
            "  auto_eject_hosts: false\n"
            "  servers:\n"
            "   - 127.0.0.1:11311:1\n"
            "   - 127.0.0.1:11312:1\n"
            "   - cache.example:11211:1\n");
  auto b = TwemproxyPool({{"h:1", 5}}, RingRecipe::For(RingProfile::kTwemproxy),
                         {.pool = "beta", .listen = "0.0.0.0:22122"});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.value(),
            "beta:\n  listen: 0.0.0.0:22122\n  hash: fnv1a_64\n  distribution: ketama\n"
            "  auto_eject_hosts: false\n  servers:\n   - h:1:5\n");
}

TEST(TwemproxyPoolTest, RingsTwemproxyCannotComputeAreRefused) {
  EXPECT_FALSE(TwemproxyPool(kThree, RingRecipe::For(RingProfile::kSpymemcached), {}).ok());
  EXPECT_FALSE(TwemproxyPool(kThree, *ParseRingRecipe("libmemcached-ketama"), {}).ok());
  EXPECT_FALSE(TwemproxyPool({}, RingRecipe::For(RingProfile::kLibmemcached), {}).ok());
}

}  // namespace
}  // namespace rc::client
