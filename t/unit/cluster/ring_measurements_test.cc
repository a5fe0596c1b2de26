// t/unit/cluster/ring_measurements_test.cc -- the ring against ../shared/testdata/ketama/
// measurements/: load balance and key movement that real libmemcached (and, where it cannot go,
// the validated reimplementation) measured on 3, 10 and 100 servers under three naming schemes.
//
// What is recomputed here, to the four decimals the files give:
//   * every row: the point count per server and the exact hash-space share of the busiest and the
//     idlest server (share_*_over_mean; no keys involved, so this is cheap and exact);
//   * rows with N <= 10 of libmemcached_ketama_weighted.csv: everything measured over the
//     1,000,000 keys "key:0" .. "key:999999" (keys per server, keys moved by each removal and by
//     an addition). The N = 100 rows would need 100 million lookups; their shares are checked.
// imbalance_random_names.csv summarises 300 random name sets that were not recorded, so only its
// point counts can be checked.
//
// The schemes' server names are not in the files; these reproduce every share exactly:
//   ip    = 10.0.0.<i+1>:11211    dns = cache<i+1>.example.com:11211    ports = 127.0.0.1:<20000+i>
// and the server an addition appends is the next one of the same scheme.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "ketama_vectors.h"
#include "ringcached/cluster/ring.h"

namespace rc::cluster {
namespace {

namespace fs = std::filesystem;
using rc::testing::CsvTable;
using rc::testing::ToUint32;

RingMember SchemeMember(const std::string& scheme, std::uint32_t i) {
  if (scheme == "ip") return {"10.0.0." + std::to_string(i + 1) + ":11211", 1};
  if (scheme == "dns") return {"cache" + std::to_string(i + 1) + ".example.com:11211", 1};
  if (scheme == "ports") return {"127.0.0.1:" + std::to_string(20000 + i), 1};
  throw std::runtime_error("unknown naming scheme " + scheme);
}

std::vector<RingMember> SchemeMembers(const std::string& scheme, std::uint32_t n) {
  std::vector<RingMember> members;
  for (std::uint32_t i = 0; i < n; ++i) members.push_back(SchemeMember(scheme, i));
  return members;
}

std::string Fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

// Each member's share of the 2^32 hash space: the arc ending at each of its points.
std::vector<double> HashSpaceShares(const Ring& ring) {
  std::vector<double> share(ring.members().size(), 0.0);
  const auto& p = ring.points();
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double from = i ? p[i - 1].hash : static_cast<double>(p.back().hash) - 4294967296.0;
    share[p[i].member] += (p[i].hash - from) / 4294967296.0;
  }
  return share;
}

std::string PointsPerServer(const Ring& ring) {
  std::vector<std::uint32_t> n(ring.members().size(), 0);
  for (const RingPoint& p : ring.points()) ++n[p.member];
  const auto [lo, hi] = std::minmax_element(n.begin(), n.end());
  return *lo == *hi ? std::to_string(*lo) : "mixed";
}

struct Checker {
  std::size_t agree = 0;
  std::size_t total = 0;
  std::vector<std::string> notes;
  void Expect(const std::string& what, const std::string& got, const std::string& want) {
    ++total;
    if (got == want) {
      ++agree;
    } else if (notes.size() < 10) {
      notes.push_back(what + ": got " + got + ", file says " + want);
    }
  }
  void Report(const std::string& file) {
    std::string all;
    for (const std::string& n : notes) all += "\n  " + n;
    std::printf("[agreement] measurements/%s: %zu/%zu values\n", file.c_str(), agree, total);
    ::testing::Test::RecordProperty("measurements/" + file,
                                    std::to_string(agree) + "/" + std::to_string(total));
    EXPECT_EQ(agree, total) << file << all;
  }
};

void CheckShares(const std::string& file, const RingRecipe& recipe, const std::string& pps_column,
                 Checker* check) {
  const CsvTable t = rc::testing::ReadCsv(rc::testing::KetamaVectorDir() / "measurements" / file);
  for (const auto& row : t.rows) {
    const std::string scheme = row[t.Column("scheme")];
    const std::uint32_t n = ToUint32(row[t.Column("N")]);
    const std::string at = scheme + " N=" + std::to_string(n);
    const Ring ring(SchemeMembers(scheme, n), recipe);
    check->Expect(at + " points_per_server", PointsPerServer(ring), row[t.Column(pps_column)]);
    const std::vector<double> share = HashSpaceShares(ring);
    const auto [lo, hi] = std::minmax_element(share.begin(), share.end());
    check->Expect(at + " share_max", Fixed4(*hi * n), row[t.Column("share_max_over_mean")]);
    check->Expect(at + " share_min", Fixed4(*lo * n), row[t.Column("share_min_over_mean")]);
  }
}

TEST(RingMeasurementsTest, KetamaWeightedSharesAndKeyMovement) {
  const std::string file = "libmemcached_ketama_weighted.csv";
  const RingRecipe recipe = RingRecipe::For(RingProfile::kLibmemcached);
  Checker check;
  CheckShares(file, recipe, "points_per_server", &check);

  constexpr std::uint32_t kKeys = 1000000;
  std::vector<std::uint32_t> hashes(kKeys);
  const Ring hasher({{"x", 1}}, recipe);
  for (std::uint32_t k = 0; k < kKeys; ++k) hashes[k] = hasher.KeyHash("key:" + std::to_string(k));

  const CsvTable t = rc::testing::ReadCsv(rc::testing::KetamaVectorDir() / "measurements" / file);
  for (const auto& row : t.rows) {
    const std::string scheme = row[t.Column("scheme")];
    const std::uint32_t n = ToUint32(row[t.Column("N")]);
    if (n > 10) continue;
    ASSERT_EQ(ToUint32(row[t.Column("nkeys")]), kKeys);
    const std::string at = scheme + " N=" + std::to_string(n);
    const std::vector<RingMember> members = SchemeMembers(scheme, n);
    const Ring ring(members, recipe);

    std::vector<std::uint32_t> owner(kKeys);
    std::vector<double> per_member(n, 0);
    for (std::uint32_t k = 0; k < kKeys; ++k) ++per_member[owner[k] = ring.OwnerOfHash(hashes[k])];
    const auto [lo, hi] = std::minmax_element(per_member.begin(), per_member.end());
    const double mean = static_cast<double>(kKeys) / n;
    check.Expect(at + " keys_max", Fixed4(*hi / mean), row[t.Column("keys_max_over_mean")]);
    check.Expect(at + " keys_min", Fixed4(*lo / mean), row[t.Column("keys_min_over_mean")]);

    double moved_sum = 0, moved_min = 1, moved_max = 0, nonvictim_sum = 0;
    for (std::uint32_t gone = 0; gone < n; ++gone) {
      std::vector<RingMember> rest = members;
      rest.erase(rest.begin() + gone);
      const Ring without(rest, recipe);
      std::size_t moved = 0, nonvictim = 0;
      for (std::uint32_t k = 0; k < kKeys; ++k) {
        std::uint32_t now = without.OwnerOfHash(hashes[k]);
        if (now >= gone) ++now;  // back to the full list's index
        moved += now != owner[k];
        nonvictim += now != owner[k] && owner[k] != gone;
      }
      const double f = static_cast<double>(moved) / kKeys;
      moved_sum += f;
      moved_min = std::min(moved_min, f);
      moved_max = std::max(moved_max, f);
      nonvictim_sum += static_cast<double>(nonvictim) / kKeys;
    }
    check.Expect(at + " remove_moved_avg", Fixed4(moved_sum / n),
                 row[t.Column("remove_moved_avg")]);
    check.Expect(at + " remove_moved_min", Fixed4(moved_min), row[t.Column("remove_moved_min")]);
    check.Expect(at + " remove_moved_max", Fixed4(moved_max), row[t.Column("remove_moved_max")]);
    char nonvictim[32];
    std::snprintf(nonvictim, sizeof(nonvictim), "%.5f", nonvictim_sum / n);
    check.Expect(at + " remove_nonvictim_moved_avg", nonvictim,
                 row[t.Column("remove_nonvictim_moved_avg")]);

    std::vector<RingMember> more = members;
    more.push_back(SchemeMember(scheme, n));
    const Ring with_added(more, recipe);
    std::size_t moved = 0, elsewhere = 0;
    for (std::uint32_t k = 0; k < kKeys; ++k) {
      const std::uint32_t now = with_added.OwnerOfHash(hashes[k]);
      moved += now != owner[k];
      elsewhere += now != owner[k] && now != n;
    }
    check.Expect(at + " add_moved", Fixed4(static_cast<double>(moved) / kKeys),
                 row[t.Column("add_moved")]);
    // The new server's exact hash-space share (not its key count).
    check.Expect(at + " add_new_server_share", Fixed4(HashSpaceShares(with_added)[n]),
                 row[t.Column("add_new_server_share")]);
    check.Expect(at + " add_moves_not_to_new", std::to_string(elsewhere),
                 row[t.Column("add_moves_not_to_new")]);
  }
  check.Report(file);
}

TEST(RingMeasurementsTest, PlainKetamaShares) {
  Checker check;
  CheckShares("libmemcached_ketama_plain.csv", *ParseRingRecipe("libmemcached-ketama"),
              "points_per_server", &check);
  check.Report("libmemcached_ketama_plain.csv");
}

TEST(RingMeasurementsTest, Fixed160PointReimplementationShares) {
  // Textbook ketama without the float quirk: libmemcached names, always 160 points -- which is
  // spymemcached's unweighted point rule.
  RingRecipe fixed = RingRecipe::For(RingProfile::kLibmemcached);
  fixed.points = RingRecipe::Points::kMd5x160UnlessWeighted;
  Checker check;
  CheckShares("reimpl_fixed_160_points.csv", fixed, "points_per_server", &check);
  check.Report("reimpl_fixed_160_points.csv");
}

TEST(RingMeasurementsTest, RandomNameSetsPointCounts) {
  const std::string file = "imbalance_random_names.csv";
  const CsvTable t = rc::testing::ReadCsv(rc::testing::KetamaVectorDir() / "measurements" / file);
  Checker check;
  for (const auto& row : t.rows) {
    const std::string mode = row[t.Column("mode")];
    const std::uint32_t n = ToUint32(row[t.Column("N")]);
    const auto recipe = ParseRingRecipe(mode == "ketama_weighted" ? "libmemcached"
                                        : mode == "ketama"        ? "libmemcached-ketama"
                                                                  : "unknown mode");
    ASSERT_TRUE(recipe) << mode;
    const Ring ring(SchemeMembers("ip", n), *recipe);
    check.Expect(mode + " N=" + std::to_string(n), PointsPerServer(ring),
                 row[t.Column("points_per_server")]);
  }
  check.Report(file);
}

TEST(RingMeasurementsTest, EveryMeasurementFileIsChecked) {
  const std::vector<std::string> expected = {
      "imbalance_random_names.csv", "libmemcached_ketama_plain.csv",
      "libmemcached_ketama_weighted.csv", "reimpl_fixed_160_points.csv"};
  EXPECT_EQ(rc::testing::FilesIn(rc::testing::KetamaVectorDir() / "measurements"), expected);
}

}  // namespace
}  // namespace rc::cluster
