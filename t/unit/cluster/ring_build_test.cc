// t/unit/cluster/ring_build_test.cc -- the two client-specific inputs of a ring: point names
// (KETAMA.md sections 2.1, 4, 5.2) and libmemcached's float32 point count (section 2.2).
#include "cluster/ring_build.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rc::cluster {
namespace {

using Naming = RingRecipe::Naming;

TEST(RingNameTest, SplitsHostAndPort) {
  struct Case {
    std::string_view name, host;
    std::optional<std::uint32_t> port;
  } cases[] = {
      {"127.0.0.1:11212", "127.0.0.1", 11212},
      {"cache1.example", "cache1.example", std::nullopt},
      {"cache1.example:11211", "cache1.example", 11211},
      {"[::1]:11212", "::1", 11212},
      {"[::1]", "::1", std::nullopt},
      {"host:notaport", "host:notaport", std::nullopt},
      {"host:123456", "host:123456", std::nullopt},
      {"host:70000", "host:70000", std::nullopt},
      {":11211", ":11211", std::nullopt},
      {"host:", "host:", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const HostPort hp = SplitRingName(c.name);
    EXPECT_EQ(hp.host, c.host);
    EXPECT_EQ(hp.port, c.port);
  }
}

TEST(RingNameTest, EachFamilyNamesPointsItsOwnWay) {
  struct Case {
    std::string_view name;
    Naming naming;
    std::string_view prefix;
  } cases[] = {
      // libmemcached/twemproxy: ":11211" dropped, host kept verbatim (case too), IPv6 unbracketed.
      {"127.0.0.1:11211", Naming::kHostOrHostPort, "127.0.0.1"},
      {"127.0.0.1:11212", Naming::kHostOrHostPort, "127.0.0.1:11212"},
      {"cache1.example", Naming::kHostOrHostPort, "cache1.example"},
      {"Cache1.Example:11211", Naming::kHostOrHostPort, "Cache1.Example"},
      {"[::1]:11212", Naming::kHostOrHostPort, "::1:11212"},
      {"node06.example:01317", Naming::kHostOrHostPort, "node06.example:1317"},
      // spymemcached: the port always written.
      {"10.0.1.1:11211", Naming::kHostPort, "10.0.1.1:11211"},
      {"10.0.1.1", Naming::kHostPort, "10.0.1.1:11211"},
      // libmemcached KETAMA_SPY: a leading slash, the port always written.
      {"127.0.0.1:11211", Naming::kSlashHostPort, "/127.0.0.1:11211"},
      {"node01.example", Naming::kSlashHostPort, "/node01.example:11211"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(PointNamePrefix(c.name, c.naming), c.prefix);
  }
}

TEST(RingPointCountTest, EqualWeightsGive156PointsAtExactlyTheListedSizes) {
  // KETAMA.md section 2.2: verified with the real library for N = 1..100, and predicted by the
  // formula for larger N. Every other N up to the last listed value gives 160.
  const std::set<std::uint32_t> k156 = {25,  47,  50,  55,  61,  71,  94,  100, 107, 109,
                                        110, 115, 122, 142, 159, 163, 188, 193, 200, 209,
                                        214, 218, 219, 220, 230, 237, 243, 244, 279, 284};
  for (std::uint32_t weight : {1u, 7u, 1000u}) {
    for (std::uint32_t n = 1; n <= 284; ++n) {
      SCOPED_TRACE(testing::Message() << "N=" << n << " weight=" << weight);
      const std::uint32_t expected = k156.count(n) ? 156 : 160;
      EXPECT_EQ(WeightedPointCount(weight, std::uint64_t{weight} * n, n), expected);
    }
  }
}

TEST(RingPointCountTest, UnequalWeightsFollowTheFloatFormula) {
  // The W8 list (libketama's classic weights): 1264 points, not 8 x 160.
  const std::uint32_t weights[] = {600, 300, 200, 350, 1000, 800, 950, 100};
  const std::uint32_t expected[] = {176, 88, 56, 104, 296, 236, 280, 28};
  std::uint64_t total = 0;
  for (std::uint32_t w : weights) total += w;
  std::uint32_t sum = 0;
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(WeightedPointCount(weights[i], total, 8), expected[i]) << "member " << i;
    sum += WeightedPointCount(weights[i], total, 8);
  }
  EXPECT_EQ(sum, 1264u);
}

TEST(RingPointCountTest, ZeroWeightCountsAsOneAndATinyShareCanGetNoPoints) {
  EXPECT_EQ(WeightedPointCount(0, 3, 3), 160u);
  EXPECT_EQ(WeightedPointCount(1, 1000001, 2), 0u);
}

}  // namespace
}  // namespace rc::cluster
