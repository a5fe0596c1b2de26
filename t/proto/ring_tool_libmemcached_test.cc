// t/proto/ring_tool_libmemcached_test.cc -- ringcached-ring against libmemcached itself: the owner
// the tool prints for each of 10,000 keys must be the server libmemcached picks for that key.
// Nothing is started and nothing is connected to: libmemcached routes a key
// (memcached_generate_hash, memcached_server_by_key) without talking to any server.
//
// Two ways of configuring libmemcached are checked against the tool:
//   * the C API a "Ketama-configured pool" uses: MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, then
//     memcached_server_add[_with_weight] in the tool's member order (KETAMA.md section 2);
//   * the configuration string the tool's `libmemcached` command prints, given to memcached().
// Server sets: the 3 loopback names of the brief, 25 names (the float32 quirk: 156 points each),
// and a weighted set. The keys mix "key:<n>", random printable ASCII and bytes >= 0x80, 1-250
// bytes long.
//
// The tool is $RINGCACHED_RING, else RC_RING_TOOL (t/proto/local.am: the build tree's binary).
#include <gtest/gtest.h>
#include <libmemcached/memcached.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string ToolPath() {
  if (const char* env = std::getenv("RINGCACHED_RING"); env != nullptr && *env != '\0') return env;
#ifdef RC_RING_TOOL
  return RC_RING_TOOL;
#else
  return "ringcached-ring";
#endif
}

// Runs the tool with `args` (shell words, already safe) and `input` on stdin; returns stdout, or
// fails the test when the tool exits non-zero.
std::string RunTool(const std::string& args, const std::string& input = "") {
  char path[] = "/tmp/ring_tool_test.XXXXXX";
  const int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  if (fd < 0) return "";
  ::close(fd);
  std::ofstream(path, std::ios::binary) << input;
  const std::string command = ToolPath() + " " + args + " < " + path;
  FILE* pipe = ::popen(command.c_str(), "r");
  std::string out;
  if (pipe != nullptr) {
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof(buf), pipe)) > 0;) out.append(buf, n);
    const int status = ::pclose(pipe);
    EXPECT_EQ(status, 0) << command;
  } else {
    ADD_FAILURE() << "popen " << command;
  }
  ::unlink(path);
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// 10,000 legal memcached keys (no byte <= 0x20, no 0x7f), reproducible.
std::vector<std::string> TestKeys() {
  std::vector<std::string> keys;
  for (int i = 0; i < 2000; ++i) keys.push_back("key:" + std::to_string(i));
  std::mt19937 rng(20241126);
  std::uniform_int_distribution<int> length(1, 250);
  std::uniform_int_distribution<int> printable(0x21, 0x7e);
  std::uniform_int_distribution<int> high(0x80, 0xff);
  while (keys.size() < 10000) {
    const bool with_high_bytes = keys.size() % 5 == 0;
    std::string key;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
      key.push_back(static_cast<char>(with_high_bytes && i % 3 == 1 ? high(rng) : printable(rng)));
    }
    keys.push_back(key);
  }
  return keys;
}

std::string Join(const std::vector<std::string>& keys) {
  std::string out;
  for (const std::string& k : keys) out += k + "\n";
  return out;
}

struct MemcDeleter {
  void operator()(memcached_st* m) const { memcached_free(m); }
};
using Memc = std::unique_ptr<memcached_st, MemcDeleter>;

struct Server {
  std::string host;
  in_port_t port;
  std::uint32_t weight;
};

// The tool's `members` output ("version -", then "name weight" lines) as libmemcached servers.
std::vector<Server> ToolMembers(const std::string& servers) {
  std::vector<Server> out;
  const std::vector<std::string> lines = Lines(RunTool("--servers=" + servers + " members"));
  EXPECT_FALSE(lines.empty());
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::size_t space = lines[i].find(' ');
    const std::string name = lines[i].substr(0, space);
    const std::size_t colon = name.rfind(':');
    out.push_back({name.substr(0, colon), static_cast<in_port_t>(std::stoi(name.substr(colon + 1))),
                   static_cast<std::uint32_t>(std::stoul(lines[i].substr(space + 1)))});
  }
  return out;
}

Memc KetamaWeightedClient(const std::vector<Server>& servers) {
  Memc memc(memcached_create(nullptr));
  EXPECT_EQ(memcached_behavior_set(memc.get(), MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1),
            MEMCACHED_SUCCESS);
  for (const Server& s : servers) {
    EXPECT_EQ(memcached_server_add_with_weight(memc.get(), s.host.c_str(), s.port, s.weight),
              MEMCACHED_SUCCESS);
  }
  return memc;
}

Memc ConfigStringClient(const std::string& config) {
  Memc memc(memcached(config.data(), config.size()));
  EXPECT_NE(memc, nullptr) << "libmemcached rejected: " << config;
  return memc;
}

std::string ServerName(const memcached_instance_st* instance) {
  return std::string(memcached_server_name(instance)) + ":" +
         std::to_string(memcached_server_port(instance));
}

// Counts keys whose tool owner is libmemcached's (by memcached_generate_hash and, as a cross-check,
// memcached_server_by_key), and prints the figure.
std::size_t Agreement(const std::string& what, memcached_st* memc,
                      const std::vector<std::string>& keys, const std::string& tool_output) {
  const std::vector<std::string> lines = Lines(tool_output);
  EXPECT_EQ(lines.size(), keys.size()) << what;
  std::size_t agree = 0;
  std::size_t shown = 0;
  for (std::size_t i = 0; i < keys.size() && i < lines.size(); ++i) {
    const std::string& key = keys[i];
    EXPECT_EQ(lines[i].substr(0, key.size() + 1), key + " ") << what << ": line " << i;
    const std::string tool_owner = lines[i].substr(key.size() + 1);
    const std::uint32_t index = memcached_generate_hash(memc, key.data(), key.size());
    const std::string lib_owner = ServerName(memcached_server_instance_by_position(memc, index));
    memcached_return_t rc;
    const memcached_instance_st* by_key =
        memcached_server_by_key(memc, key.data(), key.size(), &rc);
    const bool same =
        tool_owner == lib_owner && by_key != nullptr && ServerName(by_key) == lib_owner;
    agree += same;
    if (!same && shown++ < 5) {
      ADD_FAILURE() << what << ": key #" << i << " tool " << tool_owner << ", libmemcached "
                    << lib_owner;
    }
  }
  std::printf("[agreement] %s: %zu/%zu keys\n", what.c_str(), agree, keys.size());
  return agree;
}

class RingToolLibmemcachedTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RingToolLibmemcachedTest, OwnersMatchKetamaWeightedAndTheConfigString) {
  const std::string servers = GetParam();
  const std::vector<std::string> keys = TestKeys();
  const std::string owners = RunTool("--servers=" + servers + " owners", Join(keys));
  const std::vector<Server> members = ToolMembers(servers);

  const std::string label = std::to_string(members.size()) + " servers" +
                            (servers.find('=') != std::string::npos ? ", weighted" : "");
  Memc api = KetamaWeightedClient(members);
  EXPECT_EQ(Agreement(label + ", KETAMA_WEIGHTED", api.get(), keys, owners), keys.size());

  std::string config = RunTool("--servers=" + servers + " libmemcached");
  while (!config.empty() && config.back() == '\n') config.pop_back();
  Memc from_string = ConfigStringClient(config);
  ASSERT_NE(from_string, nullptr);
  EXPECT_EQ(Agreement(label + ", the tool's config string", from_string.get(), keys, owners),
            keys.size());
}

std::vector<std::string> ServerSets() {
  std::string twenty_five;  // N = 25: 156 points per server
  for (int i = 0; i < 25; ++i) {
    twenty_five += (i ? "," : "") + ("cache" + std::to_string(i) + ".example:11211");
  }
  return {"127.0.0.1:11311,127.0.0.1:11312,127.0.0.1:11313", twenty_five,
          "10.0.1.1:11211=600,10.0.1.2:11211=300,10.0.1.3:11211=200,10.0.1.4:11211=350,"
          "10.0.1.5:11211=1000,10.0.1.6:11211=800,10.0.1.7:11211=950,10.0.1.8:11211=100"};
}

INSTANTIATE_TEST_SUITE_P(ServerSets, RingToolLibmemcachedTest, ::testing::ValuesIn(ServerSets()));

TEST(RingToolLibmemcachedTest, TwemproxyProfileMatchesLibmemcachedWithFnv1a64) {
  // Profile B's ring is libmemcached's weighted ring with fnv1a_64 keys; its `libmemcached`
  // output says --HASH=FNV1A_64.
  const std::string servers = "127.0.0.1:11311,127.0.0.1:11312,127.0.0.1:11313";
  const std::vector<std::string> keys = TestKeys();
  const std::string owners =
      RunTool("--servers=" + servers + " --profile twemproxy owners", Join(keys));
  std::string config = RunTool("--servers=" + servers + " --profile twemproxy libmemcached");
  while (!config.empty() && config.back() == '\n') config.pop_back();
  EXPECT_NE(config.find("--HASH=FNV1A_64"), std::string::npos) << config;
  Memc memc = ConfigStringClient(config);
  ASSERT_NE(memc, nullptr);
  EXPECT_EQ(Agreement("3 servers, --profile twemproxy, the tool's config string", memc.get(), keys,
                      owners),
            keys.size());
}

}  // namespace
