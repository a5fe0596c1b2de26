// t/unit/client/routing_test.cc -- the client library's routing (client/router.h,
// client/topology.h) against the ground truth of ../shared/testdata/ketama: for every key of
// every list, the node the library reads from and writes to equals the owner the real client
// of the profile picks (libmemcached KETAMA_WEIGHTED, twemproxy's default fnv1a_64, unmodified
// spymemcached); with one node TKO every write goes where real libmemcached sends it once that
// server is removed (owner_if_removed_*), and the TKO node's keys are read from there too. Then hot keys: the copy chosen by the slot, and the
// next one when it is TKO. No sockets: Nodes only open connections when asked to.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "client/member_list.h"
#include "client/router.h"
#include "client/topology.h"
#include "cluster/ketama_vectors.h"

namespace rc::client {
namespace {

using cluster::RingProfile;
using rc::testing::CsvTable;
using rc::testing::KetamaVectorDir;
using rc::testing::ReadCsv;
using rc::testing::ToUint32;

const std::map<std::uint32_t, std::string>& Keys() {
  static const auto keys = rc::testing::LoadKeys();
  return keys;
}

// The lists of libmemcached/lists.json, in list order, as --servers strings.
struct VectorList {
  const char* name;
  std::vector<std::string> servers;  // "host:port[=weight]"
};
const std::vector<VectorList>& Lists() {
  static const std::vector<VectorList> lists = {
      {"L3_loopback", {"127.0.0.1:11211", "127.0.0.1:11212", "127.0.0.1:11213"}},
      {"L5_hostnames",
       {"cache1.example:11211", "cache2.example:11211", "cache3.example:11211",
        "cache4.example:11211", "cache5.example:11211"}},
      {"L10_mixed_ports",
       {"node01.example:11211", "node02.example:11211", "node03.example:11211",
        "node04.example:11211", "node05.example:11211", "node06.example:11317",
        "node07.example:11318", "node08.example:11319", "node09.example:11320",
        "node10.example:11321"}},
      {"W8_libketama",
       {"10.0.1.1:11211=600", "10.0.1.2:11211=300", "10.0.1.3:11211=200", "10.0.1.4:11211=350",
        "10.0.1.5:11211=1000", "10.0.1.6:11211=800", "10.0.1.7:11211=950",
        "10.0.1.8:11211=100"}},
  };
  return lists;
}

std::string NameOf(const std::string& server) { return server.substr(0, server.find('=')); }

// The router a Client builds for `servers`: the same parser, the same canonical order.
Router MakeRouter(const std::vector<std::string>& servers, RingProfile profile) {
  std::string spec;
  for (const std::string& s : servers) spec += (spec.empty() ? "" : ",") + s;
  base::Result<MemberList> list = ParseServerList(spec);
  EXPECT_TRUE(list.ok()) << list.status().message();
  return Router(list.value().members, profile);
}

std::string Name(const Router& r, std::uint32_t member) { return r.members()[member].name; }

TEST(ClientRoutingTest, LibmemcachedOwnersAndOwnersAfterARemovalMatchTheRealLibrary) {
  for (const VectorList& list : Lists()) {
    SCOPED_TRACE(list.name);
    const Router router = MakeRouter(list.servers, RingProfile::kLibmemcached);
    const CsvTable t = ReadCsv(KetamaVectorDir() / "libmemcached" /
                               (std::string("owners.") + list.name + ".ketama_weighted.csv"));
    const auto none = [](std::uint32_t) { return false; };
    for (const auto& row : t.rows) {
      const std::string& key = Keys().at(ToUint32(row[t.Column("key_id")]));
      const std::string owner = NameOf(list.servers[ToUint32(row[t.Column("owner_index")])]);
      std::uint32_t read;
      ASSERT_EQ(router.ReadOrder(key, none, &read, 1), 1u);
      ASSERT_EQ(Name(router, read), owner) << "key_id " << row[0];
      ASSERT_EQ(Name(router, router.WriteTarget(key, none)), owner) << "key_id " << row[0];
    }
    // One TKO set at a time, every key (the router keeps one rebuilt ring).
    for (std::size_t i = 0; i < list.servers.size(); ++i) {
      const std::string removed = NameOf(list.servers[i]);
      const auto tko = [&](std::uint32_t m) { return Name(router, m) == removed; };
      const std::size_t column = t.Column("owner_if_removed_" + std::to_string(i));
      for (const auto& row : t.rows) {
        const std::string& key = Keys().at(ToUint32(row[t.Column("key_id")]));
        const std::string owner = NameOf(list.servers[ToUint32(row[t.Column("owner_index")])]);
        const std::string want = NameOf(list.servers[ToUint32(row[column])]);
        ASSERT_EQ(Name(router, router.WriteTarget(key, tko)), want)
            << "key_id " << row[0] << " without " << removed;
        // Reads move only off the TKO node: to the next holder, the post-ejection owner.
        std::uint32_t read;
        ASSERT_EQ(router.ReadOrder(key, tko, &read, 1), 1u);
        ASSERT_EQ(Name(router, read), owner == removed ? want : owner)
            << "key_id " << row[0] << " without " << removed;
      }
    }
    EXPECT_EQ(t.rows.size(), 2000u);
  }
}

TEST(ClientRoutingTest, WithTwoNodesTkoWritesGoToTheOwnerOnTheRingOfTheOthers) {
  // An ejecting libmemcached with two servers failed builds its continuum from the others alone
  // (with W8's weights every remaining member's point count changes).
  const VectorList& w8 = Lists()[3];
  const Router router = MakeRouter(w8.servers, RingProfile::kLibmemcached);
  const std::vector<std::string> down = {"10.0.1.5:11211", "10.0.1.7:11211"};
  std::vector<cluster::RingMember> live;
  for (const cluster::RingMember& m : router.members()) {
    if (m.name != down[0] && m.name != down[1]) live.push_back(m);
  }
  const cluster::Ring rebuilt(live, RingProfile::kLibmemcached);
  const auto tko = [&](std::uint32_t m) {
    return Name(router, m) == down[0] || Name(router, m) == down[1];
  };
  for (const auto& [id, key] : Keys()) {
    ASSERT_EQ(Name(router, router.WriteTarget(key, tko)),
              rebuilt.members()[rebuilt.Owner(key)].name)
        << "key_id " << id;
    std::uint32_t read;
    router.ReadOrder(key, tko, &read, 1);
    ASSERT_FALSE(tko(read)) << "key_id " << id;
  }
}

TEST(ClientRoutingTest, TwemproxyDefaultHashOwnersMatchNutcracker) {
  for (const char* list : {"L3", "L5"}) {
    SCOPED_TRACE(list);
    const VectorList& servers = std::string(list) == "L3" ? Lists()[0] : Lists()[1];
    const Router router = MakeRouter(servers.servers, RingProfile::kTwemproxy);
    const CsvTable t = ReadCsv(KetamaVectorDir() / "twemproxy" /
                               (std::string("owners.tw_") + list + "_default.csv"));
    for (const auto& row : t.rows) {
      const std::string& key = Keys().at(ToUint32(row[t.Column("key_id")]));
      std::uint32_t read;
      router.ReadOrder(key, [](std::uint32_t) { return false; }, &read, 1);
      ASSERT_EQ(Name(router, read), row[t.Column("equivalent_list_server")]) << "key " << row[0];
    }
    EXPECT_EQ(t.rows.size(), 2000u);
  }
}

TEST(ClientRoutingTest, SpymemcachedOwnersMatchTheJavaClient) {
  const std::vector<std::pair<const char*, std::vector<std::string>>> files = {
      {"owners.L3_loopback.SPYMEMCACHED.csv", Lists()[0].servers},
      {"owners.S8_spytest.SPYMEMCACHED.csv",
       {"10.0.1.1:11211", "10.0.1.2:11211", "10.0.1.3:11211", "10.0.1.4:11211", "10.0.1.5:11211",
        "10.0.1.6:11211", "10.0.1.7:11211", "10.0.1.8:11211"}},
  };
  for (const auto& [file, servers] : files) {
    SCOPED_TRACE(file);
    const Router router = MakeRouter(servers, RingProfile::kSpymemcached);
    const CsvTable t = ReadCsv(KetamaVectorDir() / "spymemcached" / file);
    for (const auto& row : t.rows) {
      const std::string& key = Keys().at(ToUint32(row[t.Column("key_id")]));
      const auto none = [](std::uint32_t) { return false; };
      ASSERT_EQ(Name(router, router.WriteTarget(key, none)), row[t.Column("owner")])
          << "key " << row[0];
    }
    EXPECT_EQ(t.rows.size(), 1951u);
  }
}

// Three nodes; `hot` is what the owner of `key` reported.
struct HotFixture {
  std::vector<std::shared_ptr<Node>> nodes;
  std::unique_ptr<Topology> topo;
  explicit HotFixture(std::uint64_t slot, const std::string& key,
                      std::vector<std::string> copies) {
    std::vector<cluster::RingMember> members = {
        {"127.0.0.1:11211", 1}, {"127.0.0.1:11212", 1}, {"127.0.0.1:11213", 1}};
    for (const auto& m : members) {
      nodes.push_back(std::make_shared<Node>(m.name, 3, std::chrono::seconds(1)));
    }
    topo = std::make_unique<Topology>(7, members, RingProfile::kLibmemcached, nodes);
    auto list = std::make_shared<HotList>();
    list->slot = slot;
    list->keys[key].copies = std::move(copies);
    nodes[topo->router().Owner(key)]->set_hot(std::move(list));
  }
  std::string FirstRead(const std::string& key) const {
    std::uint32_t out[4];
    EXPECT_GE(topo->ReadOrder(key, out, 4), 1u);
    return nodes[out[0]]->name();
  }
};

TEST(ClientRoutingTest, AHotKeyIsReadFromTheCopyItsSlotPicksAndTheNextWhenThatOneIsTko) {
  const std::vector<std::string> copies = {"127.0.0.1:11212", "127.0.0.1:11213",
                                           "127.0.0.1:11211"};
  for (std::uint64_t slot = 0; slot < 6; ++slot) {
    HotFixture f(slot, "hot", copies);
    EXPECT_EQ(f.FirstRead("hot"), copies[slot % 3]) << "slot " << slot;
    EXPECT_EQ(f.FirstRead("cold"), f.nodes[f.topo->router().Owner("cold")]->name());
    // Writes of a hot key go to its owner whatever the slot.
    EXPECT_EQ(f.nodes[f.topo->WriteTarget("hot")]->name(),
              f.nodes[f.topo->router().Owner("hot")]->name());
  }
  HotFixture f(4, "hot", copies);  // picks copies[1]
  f.nodes[2]->OnConnectError();    // 127.0.0.1:11213, copies[1], is TKO
  EXPECT_EQ(f.FirstRead("hot"), copies[2]);
}

TEST(ClientRoutingTest, AHotKeyWithoutCopiesOrWithUnknownCopiesIsReadFromItsOwner) {
  HotFixture bare(1, "hot", {});
  const std::string owner = bare.nodes[bare.topo->router().Owner("hot")]->name();
  EXPECT_EQ(bare.FirstRead("hot"), owner);
  HotFixture strangers(1, "hot", {"10.9.9.9:1", "10.9.9.8:1"});
  EXPECT_EQ(strangers.FirstRead("hot"), owner);
}

}  // namespace
}  // namespace rc::client
