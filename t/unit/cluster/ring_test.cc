// t/unit/cluster/ring_test.cc -- Ring against every vector file in ../shared/testdata/ketama
// (what real libmemcached 1.1.4, nutcracker 0.5.0 and spymemcached computed; see its README.md),
// plus the ring's own contract: lookups, holder lists, ties, profiles.
//
// For every file the agreement counts are printed as "[agreement] <file>: ..." lines (read them
// in t/unit/cluster_test.log) and recorded as test properties (--gtest_output=xml). Agreement
// must be total: there is no list of tolerated exceptions. A file the tests do not recognise is
// a failure too, so a vector set that grows (README.md: further lists are kept back for
// independent checks) is either checked or noticed.
#include "ringcached/cluster/ring.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ketama_vectors.h"
#include "mini_json.h"

namespace rc::cluster {
namespace {

namespace fs = std::filesystem;
using rc::testing::CsvTable;
using rc::testing::Json;
using rc::testing::JsonReader;
using rc::testing::KetamaVectorDir;
using rc::testing::ReadCsv;
using rc::testing::ReadWholeFile;
using rc::testing::Split;
using rc::testing::ToUint32;

using Keys = std::map<std::uint32_t, std::string>;

const Keys& AllKeys() {
  static const Keys keys = rc::testing::LoadKeys();
  return keys;
}

// Agreement counts for one vector file, per kind of check, in the order first counted.
class Tally {
 public:
  bool Count(const std::string& what, bool agree) {
    auto it =
        std::find_if(counts_.begin(), counts_.end(), [&](const auto& c) { return c.what == what; });
    if (it == counts_.end()) it = counts_.insert(counts_.end(), {what, 0, 0});
    it->agree += agree;
    ++it->total;
    return agree;
  }
  // Keeps the first few disagreements, to say *what* differs when a count falls short.
  void Note(const std::string& text) {
    if (notes_.size() < 5) notes_.push_back(text);
  }
  bool AllAgree() const {
    return !counts_.empty() && std::all_of(counts_.begin(), counts_.end(),
                                           [](const auto& c) { return c.agree == c.total; });
  }
  std::string Summary() const {
    std::ostringstream out;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      out << (i ? ", " : "") << counts_[i].what << " " << counts_[i].agree << "/"
          << counts_[i].total;
    }
    return out.str();
  }
  std::string Notes() const {
    std::string out;
    for (const std::string& n : notes_) out += "\n  " + n;
    return out;
  }

 private:
  struct Counts {
    std::string what;
    std::size_t agree;
    std::size_t total;
  };
  std::vector<Counts> counts_;
  std::vector<std::string> notes_;
};

void Report(const std::string& file, const Tally& tally) {
  std::printf("[agreement] %s: %s\n", file.c_str(), tally.Summary().c_str());
  ::testing::Test::RecordProperty(file, tally.Summary());
  EXPECT_TRUE(tally.AllAgree()) << file << ": " << tally.Summary() << tally.Notes();
}

std::string JoinIndices(const std::vector<std::uint32_t>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "|" : "") + std::to_string(v[i]);
  return out;
}

std::string_view KeyHashName(RingRecipe::KeyHash h) {
  switch (h) {
    case RingRecipe::KeyHash::kMd5:
      return "md5";
    case RingRecipe::KeyHash::kOneAtATime:
      return "one_at_a_time";
    case RingRecipe::KeyHash::kFnv1a64:
      return "fnv1a_64";
  }
  return "?";
}

// A server list as the vectors describe it: members in client order, and the server that the
// "owner_if_added" columns append.
struct VectorList {
  std::vector<RingMember> members;
  std::optional<RingMember> added;
};

// A list's ring, the ring without each member, and the ring with the added server.
struct RingFamily {
  Ring full;
  std::vector<Ring> without;                         // without[i]: member i left out
  std::vector<std::vector<std::uint32_t>> original;  // without[i]'s index -> full's index
  std::optional<Ring> with_added;

  RingFamily(const VectorList& list, const RingRecipe& recipe)
      : full(list.members, recipe, Ring::Index::kOwnersAndHolders) {
    const std::size_t n = list.members.size();
    for (std::size_t gone = 0; gone < n; ++gone) {
      std::vector<RingMember> rest;
      std::vector<std::uint32_t> map;
      for (std::size_t i = 0; i < n; ++i) {
        if (i == gone) continue;
        rest.push_back(list.members[i]);
        map.push_back(static_cast<std::uint32_t>(i));
      }
      without.emplace_back(std::move(rest), recipe);
      original.push_back(std::move(map));
    }
    if (list.added) {
      std::vector<RingMember> more = list.members;
      more.push_back(*list.added);
      with_added.emplace(std::move(more), recipe);
    }
  }

  std::uint32_t OwnerWithout(std::size_t gone, std::string_view key) const {
    return original[gone][without[gone].Owner(key)];
  }

  // The owner on the ring rebuilt without members a and b (each pair's ring built once).
  std::uint32_t OwnerWithoutTwo(std::uint32_t a, std::uint32_t b, std::string_view key) const {
    const auto pair = std::minmax(a, b);
    auto it = without_two.find(pair);
    if (it == without_two.end()) {
      std::vector<RingMember> rest;
      std::vector<std::uint32_t> map;
      for (std::uint32_t i = 0; i < full.members().size(); ++i) {
        if (i == a || i == b) continue;
        rest.push_back(full.members()[i]);
        map.push_back(i);
      }
      it = without_two.emplace(pair, std::make_pair(Ring(std::move(rest), full.recipe()),
                                                    std::move(map))).first;
    }
    return it->second.second[it->second.first.Owner(key)];
  }
  mutable std::map<std::pair<std::uint32_t, std::uint32_t>,
                   std::pair<Ring, std::vector<std::uint32_t>>>
      without_two;
};

// ---------------------------------------------------------------------------------------------
// libmemcached/: rings, owners (with removals, an addition and holder lists), summary.csv.

std::map<std::string, VectorList> LoadLibmemcachedLists(const fs::path& path) {
  const Json json = JsonReader(ReadWholeFile(path)).Parse();
  std::map<std::string, VectorList> lists;
  for (const auto& [name, list] : json.object) {
    VectorList v;
    for (const Json& s : list["servers"].array) {
      EXPECT_EQ(s["index"].AsUint32(), v.members.size()) << name << ": servers out of order";
      v.members.push_back(
          {s["host"].string + ":" + std::to_string(s["port"].AsUint32()), s["weight"].AsUint32()});
    }
    if (list.Has("added_server")) {
      const Json& a = list["added_server"];
      v.added = RingMember{a["host"].string + ":" + std::to_string(a["port"].AsUint32()),
                           a["weight"].AsUint32()};
    }
    lists[name] = std::move(v);
  }
  return lists;
}

// The client settings of each <mode> (README.md), as recipes.
std::optional<RingRecipe> RecipeForLibmemcachedMode(std::string_view mode) {
  if (mode == "ketama_weighted") return RingRecipe::For(RingProfile::kLibmemcached);
  if (mode == "ketama") return ParseRingRecipe("libmemcached-ketama");
  if (mode == "ketama_md5") return ParseRingRecipe("libmemcached-ketama-md5");
  if (mode == "ketama_spy") return ParseRingRecipe("libmemcached-ketama-spy");
  return std::nullopt;
}

void CheckLibmemcachedRing(const std::string& file, const CsvTable& t, const Ring& ring) {
  const std::size_t c_index = t.Column("point_index");
  const std::size_t c_value = t.Column("value");
  const std::size_t c_server = t.Column("server_index");
  const std::size_t c_name = t.Column("server");
  Tally tally;
  tally.Count("ring size", t.rows.size() == ring.points().size());
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const auto& row = t.rows[i];
    const bool agree = i < ring.points().size() && ToUint32(row[c_index]) == i &&
                       ring.points()[i].hash == ToUint32(row[c_value]) &&
                       ring.points()[i].member == ToUint32(row[c_server]) &&
                       ring.members()[ring.points()[i].member].name == row[c_name];
    if (!tally.Count("points", agree)) tally.Note("point " + std::to_string(i));
  }
  Report("libmemcached/" + file, tally);
}

void CheckLibmemcachedOwners(const std::string& file, const CsvTable& t, const RingFamily& f) {
  const Keys& keys = AllKeys();
  const std::size_t n = f.full.members().size();
  const std::size_t c_id = t.Column("key_id");
  const std::size_t c_hash = t.Column("key_hash");
  const std::size_t c_owner = t.Column("owner_index");
  const std::size_t c_owner_name = t.Column("owner");
  std::vector<std::size_t> c_removed;
  for (std::size_t i = 0; i < n; ++i) {
    c_removed.push_back(t.Column("owner_if_removed_" + std::to_string(i)));
  }
  EXPECT_FALSE(t.HasColumn("owner_if_removed_" + std::to_string(n))) << file;
  const std::size_t c_pref = t.Column("pref_list_derived");

  Tally tally;
  for (const auto& row : t.rows) {
    const std::string& key = keys.at(ToUint32(row[c_id]));
    const std::string at = "key_id " + row[c_id];
    tally.Count("key_hash", f.full.KeyHash(key) == ToUint32(row[c_hash]));
    const std::uint32_t owner = f.full.Owner(key);
    if (!tally.Count("owner", owner == ToUint32(row[c_owner]) &&
                                  f.full.members()[owner].name == row[c_owner_name])) {
      tally.Note(at + ": owner " + std::to_string(owner) + ", expected " + row[c_owner]);
    }
    for (std::size_t gone = 0; gone < n; ++gone) {
      if (!tally.Count("owner_if_removed",
                       f.OwnerWithout(gone, key) == ToUint32(row[c_removed[gone]]))) {
        tally.Note(at + ": without member " + std::to_string(gone));
      }
    }
    if (t.HasColumn("owner_if_added")) {
      tally.Count("owner_if_added", f.with_added && f.with_added->Owner(key) ==
                                                        ToUint32(row[t.Column("owner_if_added")]));
    }
    // Holders: the second is where this client sends the key once the owner is left out (the
    // vectors' owner_if_removed of the owner), 100%.
    std::uint32_t holders[3];
    const std::size_t got = f.full.Holders(key, 3, holders);
    if (!tally.Count("Holders(2)[1] == owner_if_removed[owner]",
                     got >= 2 && holders[0] == owner &&
                         holders[1] == ToUint32(row[c_removed[owner]]))) {
      tally.Note(at + ": second holder " + std::to_string(holders[1]) + ", expected " +
                 row[c_removed[owner]]);
    }
    if (n >= 3 && !tally.Count("Holders(3)[2] == owner without both",
                               got == 3 && holders[2] == f.OwnerWithoutTwo(holders[0],
                                                                           holders[1], key))) {
      tally.Note(at + ": third holder " + std::to_string(holders[2]));
    }
    if (!tally.Count("holders(3)", JoinIndices(f.full.Successors(key, 3)) == row[c_pref])) {
      tally.Note(at + ": holders " + JoinIndices(f.full.Successors(key, 3)) + ", expected " +
                 row[c_pref]);
    }
  }
  Report("libmemcached/" + file, tally);
}

void CheckLibmemcachedSummary(const CsvTable& t, const std::map<std::string, VectorList>& lists) {
  const Keys& keys = AllKeys();
  Tally tally;
  for (const auto& row : t.rows) {
    const std::string list_name = row[t.Column("list")];
    const std::string mode = row[t.Column("mode")];
    const std::string at = list_name + "." + mode;
    const auto recipe = RecipeForLibmemcachedMode(mode);
    if (!recipe || !lists.count(list_name)) {
      ADD_FAILURE() << "summary.csv: unknown list or mode " << at;
      continue;
    }
    const RingFamily f(lists.at(list_name), *recipe);
    const std::size_t n = f.full.members().size();

    std::vector<std::uint32_t> per_member(n, 0);
    for (const RingPoint& p : f.full.points()) ++per_member[p.member];
    std::string counts;
    for (std::size_t i = 0; i < n; ++i) counts += (i ? "|" : "") + std::to_string(per_member[i]);

    // "Removal result == next distinct member clockwise" and "an addition moves keys only onto
    // the new member", recomputed from our rings over the whole key set.
    std::size_t removal_checks = 0;
    std::size_t removal_matches = 0;
    std::size_t moved_elsewhere = 0;
    for (const auto& [id, key] : keys) {
      const std::vector<std::uint32_t> holders = f.full.Successors(key, 2);
      for (std::size_t gone = 0; gone < n; ++gone) {
        const std::uint32_t next = holders[0] == gone ? holders[1] : holders[0];
        ++removal_checks;
        removal_matches += f.OwnerWithout(gone, key) == next;
      }
      if (f.with_added) {
        const std::uint32_t now = f.with_added->Owner(key);
        moved_elsewhere += now != holders[0] && now != n;
      }
    }
    const std::string added =
        moved_elsewhere == 0 ? "yes" : "NO(" + std::to_string(moved_elsewhere) + ")";

    tally.Count("servers", ToUint32(row[t.Column("servers")]) == n);
    tally.Count("ring_points", ToUint32(row[t.Column("ring_points")]) == f.full.points().size());
    if (!tally.Count("points_per_server", row[t.Column("points_per_server")] == counts)) {
      tally.Note(at + ": points per server " + counts);
    }
    tally.Count("key_hash", row[t.Column("key_hash")] == KeyHashName(recipe->key_hash));
    tally.Count("removal_checks", ToUint32(row[t.Column("removal_checks")]) == removal_checks);
    if (!tally.Count("removal_matches",
                     ToUint32(row[t.Column("removal_matches_next_distinct_clockwise")]) ==
                         removal_matches)) {
      tally.Note(at + ": removal matches " + std::to_string(removal_matches));
    }
    if (!tally.Count("added_moves_only_to_new_server",
                     row[t.Column("added_moves_only_to_new_server")] == added)) {
      tally.Note(at + ": added " + added);
    }
  }
  Report("libmemcached/summary.csv", tally);
}

TEST(RingVectorsTest, EveryLibmemcachedFile) {
  const fs::path dir = KetamaVectorDir() / "libmemcached";
  ASSERT_TRUE(fs::is_directory(dir)) << dir << " is missing: the tests expect ../shared beside "
                                     << "the source tree (or $RC_SHARED)";
  const auto lists = LoadLibmemcachedLists(dir / "lists.json");
  std::size_t files = 0;
  for (const std::string& file : rc::testing::FilesIn(dir)) {
    SCOPED_TRACE(file);
    if (file == "lists.json") continue;  // read above
    ++files;
    const CsvTable t = ReadCsv(dir / file);
    if (file == "summary.csv") {
      CheckLibmemcachedSummary(t, lists);
      continue;
    }
    const std::vector<std::string> parts = Split(file, '.');  // kind.list.mode.csv
    const std::optional<RingRecipe> recipe =
        parts.size() == 4 ? RecipeForLibmemcachedMode(parts[2]) : std::nullopt;
    if (!recipe || parts[3] != "csv" || !lists.count(parts[1]) ||
        (parts[0] != "ring" && parts[0] != "owners")) {
      ADD_FAILURE() << "unrecognised vector file libmemcached/" << file;
      continue;
    }
    if (parts[0] == "ring") {
      CheckLibmemcachedRing(file, t, Ring(lists.at(parts[1]).members, *recipe));
    } else {
      CheckLibmemcachedOwners(file, t, RingFamily(lists.at(parts[1]), *recipe));
    }
  }
  EXPECT_GT(files, 0u);
}

// ---------------------------------------------------------------------------------------------
// twemproxy/: nutcracker.yml says how each pool was configured; owners.<pool>.csv what it did.

struct TwemproxyPool {
  std::string hash = "fnv1a_64";  // nc_conf.h CONF_DEFAULT_HASH
  std::string distribution;
  std::vector<std::string> entries;  // "127.0.0.1:31201:1 cache1.example"
  VectorList list;
};

// Reads the subset of YAML nutcracker.yml uses: top-level pool names, "key: value" lines and
// "- server" lines.
std::map<std::string, TwemproxyPool> LoadNutcrackerPools(const fs::path& path) {
  std::map<std::string, TwemproxyPool> pools;
  std::istringstream in(ReadWholeFile(path));
  std::string line;
  TwemproxyPool* pool = nullptr;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ') {
      const std::string name = line.substr(0, line.find(':'));
      pool = &pools[name];
      continue;
    }
    if (pool == nullptr) throw std::runtime_error("nutcracker.yml: a setting outside a pool");
    const std::size_t first = line.find_first_not_of(' ');
    const std::string body = line.substr(first);
    if (body.starts_with("- ")) {
      // "host:port:weight [alias]": twemproxy hashes the alias when there is one, else
      // host:port (conf_add_server).
      const std::string entry = body.substr(2);
      pool->entries.push_back(entry);
      const std::size_t space = entry.find(' ');
      const std::string address = entry.substr(0, space);
      const std::size_t weight_colon = address.rfind(':');
      RingMember m;
      m.weight = ToUint32(address.substr(weight_colon + 1));
      m.name =
          space == std::string::npos ? address.substr(0, weight_colon) : entry.substr(space + 1);
      pool->list.members.push_back(m);
    } else if (body.starts_with("hash: ")) {
      pool->hash = body.substr(6);
    } else if (body.starts_with("distribution: ")) {
      pool->distribution = body.substr(14);
    }
  }
  return pools;
}

TEST(RingVectorsTest, EveryTwemproxyFile) {
  const fs::path dir = KetamaVectorDir() / "twemproxy";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  const auto pools = LoadNutcrackerPools(dir / "nutcracker.yml");
  const Keys& keys = AllKeys();
  std::size_t files = 0;
  for (const std::string& file : rc::testing::FilesIn(dir)) {
    SCOPED_TRACE(file);
    if (file == "nutcracker.yml") continue;
    ++files;
    const std::vector<std::string> parts = Split(file, '.');  // owners.<pool>.csv
    if (parts.size() != 3 || parts[0] != "owners" || parts[2] != "csv" || !pools.count(parts[1])) {
      ADD_FAILURE() << "unrecognised vector file twemproxy/" << file;
      continue;
    }
    const TwemproxyPool& pool = pools.at(parts[1]);
    ASSERT_EQ(pool.distribution, "ketama");
    RingRecipe recipe = RingRecipe::For(RingProfile::kTwemproxy);
    if (pool.hash == "md5") {
      recipe = *ParseRingRecipe("twemproxy-md5");
    } else {
      ASSERT_EQ(pool.hash, "fnv1a_64") << "a twemproxy hash the ring does not implement";
    }
    const Ring ring(pool.list.members, recipe);
    const CsvTable t = ReadCsv(dir / file);
    const std::size_t c_id = t.Column("key_id");
    const std::size_t c_owner = t.Column("owner_index");
    const std::size_t c_entry = t.Column("twemproxy_server_entry");
    Tally tally;
    for (const auto& row : t.rows) {
      const std::uint32_t owner = ring.Owner(keys.at(ToUint32(row[c_id])));
      if (!tally.Count("owner",
                       owner == ToUint32(row[c_owner]) && pool.entries[owner] == row[c_entry])) {
        tally.Note("key_id " + row[c_id]);
      }
    }
    Report("twemproxy/" + file, tally);
  }
  EXPECT_GT(files, 0u);
}

// ---------------------------------------------------------------------------------------------
// spymemcached/: lists.json gives each file's server strings and weights.

TEST(RingVectorsTest, EverySpymemcachedFile) {
  const fs::path dir = KetamaVectorDir() / "spymemcached";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  const Json manifest = JsonReader(ReadWholeFile(dir / "lists.json")).Parse();
  const Keys& keys = AllKeys();
  std::size_t files = 0;
  for (const std::string& file : rc::testing::FilesIn(dir)) {
    SCOPED_TRACE(file);
    if (file == "lists.json") continue;
    ++files;
    if (!manifest.Has(file)) {
      ADD_FAILURE() << "spymemcached/" << file << " is not described in lists.json";
      continue;
    }
    const Json& run = manifest[file];
    std::vector<RingMember> members;
    for (const Json& s : run["servers"].array) members.push_back({s.string, 1});
    if (run["weights"].kind == Json::Kind::kArray) {
      ASSERT_EQ(run["weights"].array.size(), members.size());
      for (std::size_t i = 0; i < members.size(); ++i) {
        members[i].weight = run["weights"].array[i].AsUint32();
      }
    } else {
      ASSERT_EQ(run["weights"].string.rfind("none", 0), 0u) << "weights: " << run["weights"].string;
    }
    const Ring ring(members, RingProfile::kSpymemcached);
    const CsvTable t = ReadCsv(dir / file);
    const std::size_t c_id = t.Column("key_id");
    const std::size_t c_hash = t.Column("key_hash");
    const std::size_t c_owner = t.Column("owner_index");
    const std::size_t c_name = t.Column("owner");
    Tally tally;
    for (const auto& row : t.rows) {
      const std::string& key = keys.at(ToUint32(row[c_id]));
      tally.Count("key_hash", ring.KeyHash(key) == ToUint32(row[c_hash]));
      const std::uint32_t owner = ring.Owner(key);
      if (!tally.Count("owner", owner == ToUint32(row[c_owner]) &&
                                    ring.members()[owner].name == row[c_name])) {
        tally.Note("key_id " + row[c_id]);
      }
    }
    Report("spymemcached/" + file, tally);
  }
  EXPECT_GT(files, 0u);
}

TEST(RingVectorsTest, TopLevelFilesAreTheOnesTheTestsRead) {
  const fs::path dir = KetamaVectorDir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  // keys.csv feeds every test here, hashes.csv is KeyHashTest.EveryRowOfHashesCsv, README.md
  // documents the set, the folders have their own tests.
  const std::set<std::string> known = {"README.md", "keys.csv", "hashes.csv"};
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory()) {
      EXPECT_TRUE(name == "libmemcached" || name == "twemproxy" || name == "spymemcached" ||
                  name == "measurements")
          << "unrecognised vector folder " << name;
    } else {
      EXPECT_TRUE(known.count(name)) << "unrecognised vector file " << name;
    }
  }
  EXPECT_EQ(AllKeys().size(), 2000u);
}

// ---------------------------------------------------------------------------------------------
// The ring's own contract.

std::vector<RingMember> Loopback3() {
  return {{"127.0.0.1:11211", 1}, {"127.0.0.1:11212", 1}, {"127.0.0.1:11213", 1}};
}

TEST(RingTest, WorkedExampleOfKetamaMd) {
  // KETAMA.md section 2.8.
  const Ring ring(Loopback3(), RingProfile::kLibmemcached);
  ASSERT_EQ(ring.points().size(), 480u);
  EXPECT_EQ(ring.points().back().hash, 4292932786u);  // word 3 of MD5("127.0.0.1-0")
  EXPECT_EQ(ring.points().back().member, 0u);
  EXPECT_EQ(ring.KeyHash("key:0"), 2192279263u);
  EXPECT_EQ(ring.Owner("key:0"), 1u);
  EXPECT_EQ(ring.Successors("key:0", 3), (std::vector<std::uint32_t>{1, 0, 2}));
}

TEST(RingTest, AHashAboveEveryPointWrapsToPointZero) {
  const Ring ring(Loopback3(), RingProfile::kLibmemcached);
  // VDEAAAAA hashes to 4294758837, above this ring's last point (KETAMA.md section 2.4).
  ASSERT_EQ(ring.KeyHash("VDEAAAAA"), 4294758837u);
  EXPECT_EQ(ring.Owner("VDEAAAAA"), ring.points().front().member);
  EXPECT_EQ(ring.OwnerOfHash(0xffffffffu), ring.points().front().member);
  // A hash equal to a point belongs to that point (lower bound, ">=").
  const RingPoint& p = ring.points()[100];
  EXPECT_EQ(ring.OwnerOfHash(p.hash), p.member);
  EXPECT_EQ(ring.OwnerOfHash(p.hash + 1), ring.points()[101].member);
}

TEST(RingTest, EmptyRing) {
  const Ring ring;
  EXPECT_TRUE(ring.empty());
  EXPECT_TRUE(ring.members().empty());
  EXPECT_TRUE(ring.Successors("k", 3).empty());
  const Ring none(std::vector<RingMember>{}, RingProfile::kTwemproxy);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.profile(), RingProfile::kTwemproxy);
}

TEST(RingTest, SuccessorsAreDistinctOwnerFirstAndCappedByMembers) {
  const Ring ring(Loopback3(), RingProfile::kLibmemcached);
  for (int i = 0; i < 200; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const std::vector<std::uint32_t> all = ring.Successors(key, 10);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0], ring.Owner(key));
    EXPECT_EQ(std::set<std::uint32_t>(all.begin(), all.end()).size(), 3u);
    EXPECT_EQ(ring.Successors(key, 2), std::vector<std::uint32_t>(all.begin(), all.begin() + 2));
    EXPECT_TRUE(ring.Successors(key, 0).empty());
  }
}

TEST(RingTest, LongHolderListsUseTheBitmapPathAndAgreeWithTheShortOne) {
  std::vector<RingMember> members;
  for (int i = 0; i < 40; ++i) members.push_back({"10.0.0." + std::to_string(i) + ":11211", 1});
  const Ring ring(members, RingProfile::kLibmemcached);
  for (int i = 0; i < 100; ++i) {
    const std::string key = "k" + std::to_string(i);
    const std::vector<std::uint32_t> all = ring.Successors(key, 100);
    ASSERT_EQ(all.size(), 40u);
    EXPECT_EQ(std::set<std::uint32_t>(all.begin(), all.end()).size(), 40u);
    EXPECT_EQ(ring.Successors(key, 16), std::vector<std::uint32_t>(all.begin(), all.begin() + 16));
  }
}

TEST(RingTest, AMemberWithoutPointsIsNeverAHolder) {
  // Weight 1 beside 1000000: floor(1e-6 * 40 * 2) = 0 points.
  const Ring ring({{"big:1", 1000000}, {"tiny:2", 1}}, RingProfile::kLibmemcached);
  for (const RingPoint& p : ring.points()) EXPECT_EQ(p.member, 0u);
  EXPECT_EQ(ring.Successors("x", 5), std::vector<std::uint32_t>{0});
}

TEST(RingTest, SingleMemberOwnsEverything) {
  for (RingProfile profile :
       {RingProfile::kLibmemcached, RingProfile::kTwemproxy, RingProfile::kSpymemcached}) {
    const Ring ring({{"only:11311", 1}}, profile);
    EXPECT_EQ(ring.Owner("anything"), 0u);
    EXPECT_EQ(ring.Successors("anything", 3), std::vector<std::uint32_t>{0});
  }
}

TEST(RingTest, TiesFollowTheProfile) {
  // Two members with an equal point value are rare (about P^2/2^33 pairs), so build rings big
  // enough to hold several and check every tie: libmemcached lists the earlier member first and a
  // lookup lands on it; spymemcached the later one.
  std::vector<RingMember> members;
  for (int i = 0; i < 2000; ++i) {
    members.push_back(
        {"10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1:11211", 1});
  }
  for (RingProfile profile : {RingProfile::kLibmemcached, RingProfile::kSpymemcached}) {
    const Ring ring(members, profile);
    std::size_t ties = 0;
    for (std::size_t i = 1; i < ring.points().size(); ++i) {
      const RingPoint& a = ring.points()[i - 1];
      const RingPoint& b = ring.points()[i];
      ASSERT_LE(a.hash, b.hash);
      if (a.hash != b.hash || a.member == b.member) continue;
      ++ties;
      if (profile == RingProfile::kLibmemcached) {
        EXPECT_LT(a.member, b.member);
      } else {
        EXPECT_GT(a.member, b.member);
      }
      EXPECT_EQ(ring.OwnerOfHash(a.hash), a.member);
    }
    EXPECT_GT(ties, 0u) << RingProfileName(profile);
  }
}

TEST(RingTest, ProfilesAndRecipesByName) {
  for (RingProfile profile :
       {RingProfile::kLibmemcached, RingProfile::kTwemproxy, RingProfile::kSpymemcached}) {
    EXPECT_EQ(ParseRingProfile(RingProfileName(profile)), profile);
    EXPECT_EQ(ParseRingRecipe(RingProfileName(profile)), RingRecipe::For(profile));
  }
  EXPECT_EQ(ParseRingProfile("Libmemcached"), std::nullopt);
  EXPECT_EQ(ParseRingProfile(""), std::nullopt);
  EXPECT_EQ(ParseRingProfile("twemproxy-md5"), std::nullopt);
  EXPECT_EQ(ParseRingRecipe("ketama"), std::nullopt);
  for (std::string_view variant : {"twemproxy-md5", "libmemcached-ketama",
                                   "libmemcached-ketama-md5", "libmemcached-ketama-spy"}) {
    EXPECT_TRUE(ParseRingRecipe(variant).has_value()) << variant;
  }
  EXPECT_EQ(ParseRingRecipe("twemproxy-md5")->profile, RingProfile::kTwemproxy);
  EXPECT_EQ(ParseRingRecipe("libmemcached-ketama")->profile, RingProfile::kLibmemcached);
}

TEST(RingTest, TwemproxyMd5IsProfileAsRingAndKeys) {
  std::vector<RingMember> members;
  for (int i = 0; i < 25; ++i) members.push_back({"node" + std::to_string(i) + ":11311", 1});
  const Ring a(members, RingProfile::kLibmemcached);
  const Ring b(members, *ParseRingRecipe("twemproxy-md5"));
  ASSERT_EQ(a.points().size(), 25u * 156u);  // N = 25: the 156-point case
  for (std::size_t i = 0; i < a.points().size(); ++i) {
    ASSERT_EQ(a.points()[i].hash, b.points()[i].hash);
    ASSERT_EQ(a.points()[i].member, b.points()[i].member);
  }
  // Profile B differs only in the key hash.
  const Ring c(members, RingProfile::kTwemproxy);
  EXPECT_EQ(c.points().size(), a.points().size());
  EXPECT_NE(c.KeyHash("key:0"), a.KeyHash("key:0"));
}

TEST(RingTest, SpymemcachedIsUnweightedUnlessWeightsDiffer) {
  // N = 25: spymemcached without a weights map keeps 160 points; libmemcached has 156.
  std::vector<RingMember> members;
  for (int i = 0; i < 25; ++i) members.push_back({"10.0.0." + std::to_string(i) + ":11211", 1});
  EXPECT_EQ(Ring(members, RingProfile::kSpymemcached).points().size(), 25u * 160u);
  EXPECT_EQ(Ring(members, RingProfile::kLibmemcached).points().size(), 25u * 156u);
  members[0].weight = 2;
  const Ring weighted(members, RingProfile::kSpymemcached);
  std::uint32_t first = 0;
  for (const RingPoint& p : weighted.points()) first += p.member == 0;
  EXPECT_EQ(first, 4u * 76u);  // floor(2/26 * 40 * 25) = 76 digests
}

// Holders on rings the vectors do not cover: N = 25 (156 points a member, 160 once one is gone)
// and weights, every holder checked against a ring rebuilt without the ones before it.
TEST(RingTest, HoldersFollowTheRingRebuiltWithoutTheHoldersBefore) {
  for (const bool weighted : {false, true}) {
    std::vector<RingMember> members;
    for (int i = 0; i < 25; ++i) {
      members.push_back({"10.0.0." + std::to_string(i + 1) + ":11211",
                         weighted ? static_cast<std::uint32_t>(100 + 37 * (i % 7)) : 1u});
    }
    for (const RingProfile profile : {RingProfile::kLibmemcached, RingProfile::kTwemproxy}) {
      const Ring ring(members, profile, Ring::Index::kOwnersAndHolders);
      const Ring unindexed(members, profile);
      std::size_t agree = 0, total = 0, next_distinct = 0;
      for (int k = 0; k < 300; ++k) {
        const std::string key = "key:" + std::to_string(k);
        std::uint32_t holders[4];
        ASSERT_EQ(ring.Holders(key, 4, holders), 4u);
        // The table (three deep, then the slow way) and the slow way alone agree.
        std::uint32_t slow[4];
        ASSERT_EQ(unindexed.Holders(key, 4, slow), 4u);
        ASSERT_EQ(std::vector<std::uint32_t>(holders, holders + 4),
                  std::vector<std::uint32_t>(slow, slow + 4)) << key;
        std::vector<RingMember> rest = members;
        std::vector<std::uint32_t> map(25);
        for (std::uint32_t i = 0; i < 25; ++i) map[i] = i;
        for (int h = 1; h < 3; ++h) {
          // Leave out holder h-1 and look the key up again.
          const auto pos = std::find(map.begin(), map.end(), holders[h - 1]) - map.begin();
          rest.erase(rest.begin() + pos);
          map.erase(map.begin() + pos);
          const Ring rebuilt(rest, profile);
          ++total;
          agree += map[rebuilt.Owner(key)] == holders[h];
        }
        next_distinct += ring.Successors(key, 2)[1] == holders[1];
      }
      EXPECT_EQ(agree, total) << (weighted ? "weighted" : "equal weights");
      // And it is not simply the next distinct member clockwise (KETAMA.md section 2.5: 1,910
      // of 2,000 at N = 25). With MD5 keys: twemproxy's fnv1a_64 puts these 300 similar keys
      // in so narrow a span that none of them falls where the rebuilt ring differs.
      if (profile == RingProfile::kLibmemcached) {
        EXPECT_LT(next_distinct, 300u) << (weighted ? "weighted" : "equal weights");
      }
    }
  }
}

TEST(RingTest, HoldersAreDistinctAndCappedByMembers) {
  const Ring ring({{"a", 1}, {"b", 1}, {"c", 1}}, RingProfile::kLibmemcached);
  std::uint32_t out[8];
  for (int k = 0; k < 100; ++k) {
    const std::string key = "k" + std::to_string(k);
    ASSERT_EQ(ring.Holders(key, 8, out), 3u);
    EXPECT_EQ(out[0], ring.Owner(key));
    EXPECT_NE(out[0], out[1]);
    EXPECT_NE(out[1], out[2]);
    EXPECT_NE(out[0], out[2]);
    EXPECT_EQ(ring.Holders(key, 1, out), 1u);
    EXPECT_EQ(ring.Holders(key, 0, out), 0u);
  }
  EXPECT_EQ(Ring().Holders("k", 3, out), 0u);
}

// spymemcached's failover: h0 = hash(key), then h += hash("<t>" + key) for t = 0, 1, ..., each
// looked up on the unchanged ring; a holder is the first member not yet listed.
TEST(RingTest, SpymemcachedHoldersFollowItsFailoverSequence) {
  std::vector<RingMember> members;
  for (int i = 0; i < 5; ++i) members.push_back({"10.0.1." + std::to_string(i + 1) + ":11211", 1});
  const Ring ring(members, RingProfile::kSpymemcached);
  for (int k = 0; k < 200; ++k) {
    const std::string key = "user:" + std::to_string(k);
    std::vector<std::uint32_t> expected{ring.Owner(key)};
    std::uint32_t h = ring.KeyHash(key);
    for (int t = 0; t < 64 && expected.size() < 3; ++t) {
      h += ring.KeyHash(std::to_string(t) + key);
      const std::uint32_t m = ring.OwnerOfHash(h);
      if (std::find(expected.begin(), expected.end(), m) == expected.end()) expected.push_back(m);
    }
    std::uint32_t out[3];
    ASSERT_EQ(ring.Holders(key, 3, out), 3u);
    EXPECT_EQ(std::vector<std::uint32_t>(out, out + 3), expected) << key;
  }
}

}  // namespace
}  // namespace rc::cluster
