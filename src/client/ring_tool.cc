// client/ring_tool.cc -- ringcached-ring: prints a cluster's Ketama ring as its clients compute
// it, from a member list given by hand (--servers), asked of a running node (--node) or read from
// ZooKeeper (--zk). Operators use it to configure clients (`libmemcached`, `twemproxy`) and to ask
// where keys live; tests use `owners` to compare the ring with real client libraries.
//
// Output is line-oriented and stable, for scripts: fields separated by one space, no headers.
// Errors go to stderr as one "ringcached-ring: ..." line, with a <sysexits.h> exit code:
//   64 EX_USAGE        bad command line (unknown option or command, bad --servers list or URL)
//   65 EX_DATAERR      a key is not a valid memcached key
//   69 EX_UNAVAILABLE  the node or ZooKeeper cannot be reached, has no member list, or it is empty
//   76 EX_PROTOCOL     the node's reply to `config get cluster` is malformed
//   78 EX_CONFIG       the profile's ring cannot be written as the requested client configuration
// man/ringcached-ring.1 documents the commands.
#include <getopt.h>
#include <sysexits.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/client_configs.h"
#include "client/member_list.h"
#include "client/node_source.h"
#include "client/zk_source.h"
#include "ringcached/base/version.h"
#include "ringcached/cluster/cluster_url.h"
#include "ringcached/cluster/ring.h"

namespace {

using rc::base::Result;
using rc::base::Status;
using rc::client::MemberList;
using rc::cluster::Ring;
using rc::cluster::RingRecipe;

constexpr char kUsage[] =
    "Usage: ringcached-ring MEMBERS [OPTIONS] COMMAND [ARGS...]\n"
    "Prints a ringcached cluster's Ketama ring exactly as its clients compute it.\n"
    "\n"
    "MEMBERS (exactly one):\n"
    "  --servers NAME[=WEIGHT],...      ring names as clients write them (host or host:port)\n"
    "  --node HOST:PORT                 ask a running node (`config get cluster`; the format\n"
    "                                   has no weights: every member gets weight 1)\n"
    "  --zk zk://HOST:PORT[,...]/PATH   read ZooKeeper: the children of PATH/members\n"
    "Members are numbered in the cluster's canonical order: by ring name, byte by byte.\n"
    "\n"
    "OPTIONS:\n"
    "  --profile NAME     the clients' ring: libmemcached (default; KETAMA_WEIGHTED), twemproxy\n"
    "                     (fnv1a_64 keys), spymemcached (KetamaConnectionFactory); variants:\n"
    "                     twemproxy-md5, libmemcached-ketama, libmemcached-ketama-md5,\n"
    "                     libmemcached-ketama-spy\n"
    "  --timeout SECONDS  for --node and --zk (default 5)\n"
    "  --pool NAME        twemproxy pool name (default ringcached)\n"
    "  --listen ADDR      twemproxy pool listen address (default 127.0.0.1:22121)\n"
    "  -v, --verbose      let the ZooKeeper client log warnings\n"
    "  -h, --help         this text\n"
    "  -V, --version      the version\n"
    "\n"
    "COMMANDS:\n"
    "  members            \"version V\" (\"version -\" for --servers), then \"NAME WEIGHT STATE\"\n"
    "                     lines (STATE: up, or from --zk warming or leaving; a leaving member\n"
    "                     is off the ring)\n"
    "  ring               one \"INDEX HASH MEMBER_INDEX NAME\" line per ring point, in ring order\n"
    "  libmemcached       a libmemcached configuration string that yields this ring\n"
    "  twemproxy          a nutcracker.yml server pool that yields this ring\n"
    "  owner KEY...       \"KEY OWNER\" per key\n"
    "  holders N KEY...   \"KEY HOLDER...\": the first N distinct members clockwise, owner first\n"
    "  failover N KEY...  \"KEY HOLDER...\": the owner, then where the profile's clients send\n"
    "                     the key once the members before have failed (the cluster's copies)\n"
    "  owners             \"KEY OWNER\" lines for keys read from stdin, one per line\n";

struct Options {
  std::optional<std::string> servers, node, zk;
  std::string profile = "libmemcached";
  std::chrono::milliseconds timeout{5000};
  rc::client::TwemproxyPoolOptions twemproxy;
  bool verbose = false;
};

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "ringcached-ring: %s\n", message.c_str());
  return code;
}

int UsageError(const std::string& message) {
  return Fail(EX_USAGE, message + " (ringcached-ring --help for usage)");
}

// memcached's text-protocol key rule (memcached.c tokenize/process_*): 1-250 bytes, none of them
// a space or control character. "" when `key` is fine, else why not.
std::string KeyProblem(std::string_view key) {
  if (key.empty()) return "empty key";
  if (key.size() > 250) return "key longer than 250 bytes";
  for (char c : key) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "key contains a space or control character";
    }
  }
  return "";
}

// Reads the member list from the one source given; on failure prints why and sets *exit_code.
std::optional<MemberList> LoadMembers(const Options& o, int* exit_code) {
  if (o.servers) {
    Result<MemberList> list = rc::client::ParseServerList(*o.servers);
    if (!list.ok()) {
      *exit_code = UsageError("--servers: " + list.status().message());
      return std::nullopt;
    }
    return list.value();
  }
  if (o.node) {
    const rc::cluster::HostPort hp = rc::cluster::SplitRingName(*o.node);
    if (hp.host.empty()) {
      *exit_code = UsageError("--node: bad address \"" + *o.node + "\"");
      return std::nullopt;
    }
    Result<MemberList> list = rc::client::FetchFromNode(*o.node, o.timeout);
    if (!list.ok()) {
      const bool malformed = list.status().code() == Status::Code::kInvalidArgument;
      *exit_code = Fail(malformed ? EX_PROTOCOL : EX_UNAVAILABLE,
                        "--node " + *o.node + ": " + list.status().message());
      return std::nullopt;
    }
    return list.value();
  }
  if (Result<rc::cluster::ClusterUrl> url = rc::cluster::ParseClusterUrl(*o.zk); !url.ok()) {
    *exit_code = UsageError("--zk: " + url.status().message());
    return std::nullopt;
  }
  std::vector<std::string> warnings;
  Result<MemberList> list = rc::client::FetchFromZooKeeper(
      *o.zk, {.timeout = o.timeout, .verbose = o.verbose}, &warnings);
  for (const std::string& w : warnings) {
    std::fprintf(stderr, "ringcached-ring: warning: %s\n", w.c_str());
  }
  if (!list.ok()) {
    *exit_code = Fail(EX_UNAVAILABLE, "--zk: " + list.status().message());
    return std::nullopt;
  }
  return list.value();
}

int PrintMembers(const MemberList& list) {
  if (list.version) {
    std::printf("version %lld\n", static_cast<long long>(*list.version));
  } else {
    std::printf("version -\n");
  }
  // Every member with its state, by name: the leaving ones too, though they are off the ring.
  struct Row {
    const rc::cluster::RingMember* member;
    const char* state;
  };
  std::vector<Row> rows;
  for (const auto& m : list.members) {
    const bool warming =
        std::find(list.warming.begin(), list.warming.end(), m.name) != list.warming.end();
    rows.push_back({&m, warming ? "warming" : "up"});
  }
  for (const auto& m : list.leaving) rows.push_back({&m, "leaving"});
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.member->name < b.member->name; });
  for (const Row& r : rows) {
    std::printf("%s %u %s\n", r.member->name.c_str(), r.member->weight, r.state);
  }
  return EX_OK;
}

int PrintRing(const Ring& ring) {
  std::string out;
  for (std::size_t i = 0; i < ring.points().size(); ++i) {
    const rc::cluster::RingPoint& p = ring.points()[i];
    out += std::to_string(i) + " " + std::to_string(p.hash) + " " + std::to_string(p.member) + " " +
           ring.members()[p.member].name + "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return EX_OK;
}

int PrintOwners(const Ring& ring, const std::vector<std::string>& keys) {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (std::string why = KeyProblem(keys[i]); !why.empty()) {
      return Fail(EX_DATAERR, "key " + std::to_string(i + 1) + ": " + why);
    }
  }
  for (const std::string& key : keys) {
    std::printf("%s %s\n", key.c_str(), ring.members()[ring.Owner(key)].name.c_str());
  }
  return EX_OK;
}

// `holders` (Ring::Successors) and `failover` (Ring::Holders, REPLICATION.md section 2).
int PrintHolders(const Ring& ring, const std::string& command, std::string_view count,
                 const std::vector<std::string>& keys) {
  std::size_t n = 0;
  for (char c : count) {
    if (c < '0' || c > '9' || n > 100000) {
      return UsageError(command + ": N must be a positive integer");
    }
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n == 0) return UsageError(command + ": N must be a positive integer");
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (std::string why = KeyProblem(keys[i]); !why.empty()) {
      return Fail(EX_DATAERR, "key " + std::to_string(i + 1) + ": " + why);
    }
  }
  std::vector<std::uint32_t> holders(std::min(n, ring.members().size()));
  for (const std::string& key : keys) {
    std::string line = key;
    if (command == "failover") {
      holders.resize(ring.Holders(key, holders.size(), holders.data()));
    } else {
      holders = ring.Successors(key, n);
    }
    for (std::uint32_t h : holders) line += " " + ring.members()[h].name;
    std::printf("%s\n", line.c_str());
    holders.resize(std::min(n, ring.members().size()));
  }
  return EX_OK;
}

int PrintOwnersOfStdin(const Ring& ring) {
  std::ios::sync_with_stdio(false);
  std::string key;
  std::string out;
  std::size_t line = 0;
  while (std::getline(std::cin, key)) {
    ++line;
    if (!key.empty() && key.back() == '\r') key.pop_back();
    if (key.empty()) continue;
    if (std::string why = KeyProblem(key); !why.empty()) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      return Fail(EX_DATAERR, "stdin line " + std::to_string(line) + ": " + why);
    }
    out += key;
    out += ' ';
    out += ring.members()[ring.Owner(key)].name;
    out += '\n';
    if (out.size() > (1u << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return EX_OK;
}

}  // namespace

int main(int argc, char** argv) {
  enum LongOnly { kServers = 1000, kNode, kZk, kProfile, kTimeout, kPool, kListen };
  static const option kOptions[] = {
      {"servers", required_argument, nullptr, kServers},
      {"node", required_argument, nullptr, kNode},
      {"zk", required_argument, nullptr, kZk},
      {"profile", required_argument, nullptr, kProfile},
      {"timeout", required_argument, nullptr, kTimeout},
      {"pool", required_argument, nullptr, kPool},
      {"listen", required_argument, nullptr, kListen},
      {"verbose", no_argument, nullptr, 'v'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  Options o;
  int sources = 0;
  // "+": stop at the command, so keys that start with '-' reach it untouched.
  for (int c; (c = getopt_long(argc, argv, "+vhV", kOptions, nullptr)) != -1;) {
    switch (c) {
      case kServers:
        o.servers = optarg;
        ++sources;
        break;
      case kNode:
        o.node = optarg;
        ++sources;
        break;
      case kZk:
        o.zk = optarg;
        ++sources;
        break;
      case kProfile:
        o.profile = optarg;
        break;
      case kTimeout: {
        char* end = nullptr;
        const double seconds = std::strtod(optarg, &end);
        if (end == optarg || *end != '\0' || !(seconds > 0) || seconds > 3600) {
          return UsageError("--timeout: expected seconds (0 < t <= 3600), not \"" +
                            std::string(optarg) + "\"");
        }
        o.timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000 + 0.5));
        break;
      }
      case kPool:
        o.twemproxy.pool = optarg;
        break;
      case kListen:
        o.twemproxy.listen = optarg;
        break;
      case 'v':
        o.verbose = true;
        break;
      case 'h':
        std::fputs(kUsage, stdout);
        return EX_OK;
      case 'V':
        std::printf("ringcached-ring %s\n", RC_PRODUCT_VERSION);
        return EX_OK;
      default:
        return UsageError("bad option");  // getopt_long has said which
    }
  }
  if (sources != 1) return UsageError("give exactly one of --servers, --node, --zk");
  const std::optional<RingRecipe> recipe = rc::cluster::ParseRingRecipe(o.profile);
  if (!recipe) return UsageError("unknown --profile \"" + o.profile + "\"");
  if (optind >= argc) return UsageError("no command");
  const std::string command = argv[optind];
  std::vector<std::string> args(argv + optind + 1, argv + argc);

  const auto want_args = [&](std::size_t min, std::size_t max) {
    return args.size() >= min && args.size() <= max;
  };
  if (command == "members" || command == "ring" || command == "libmemcached" ||
      command == "twemproxy" || command == "owners") {
    if (!want_args(0, 0)) return UsageError(command + " takes no arguments");
  } else if (command == "owner") {
    if (!want_args(1, SIZE_MAX)) return UsageError("owner: give at least one key");
  } else if (command == "holders" || command == "failover") {
    if (!want_args(2, SIZE_MAX)) return UsageError(command + ": give N and at least one key");
  } else {
    return UsageError("unknown command \"" + command + "\"");
  }

  int exit_code = EX_OK;
  const std::optional<MemberList> list = LoadMembers(o, &exit_code);
  if (!list) return exit_code;
  if (command == "members") return PrintMembers(*list);
  if (command == "libmemcached" || command == "twemproxy") {
    Result<std::string> text = command == "libmemcached"
                                   ? rc::client::LibmemcachedConfigString(list->members, *recipe)
                                   : rc::client::TwemproxyPool(list->members, *recipe, o.twemproxy);
    if (!text.ok()) {
      const bool empty = list->members.empty();
      return Fail(
          empty ? EX_UNAVAILABLE : EX_CONFIG,
          command + ": " + (empty ? "the cluster has no members" : text.status().message()));
    }
    std::fputs(text.value().c_str(), stdout);
    if (command == "libmemcached") std::fputc('\n', stdout);
    return EX_OK;
  }

  const Ring ring(list->members, *recipe);
  if (ring.empty()) return Fail(EX_UNAVAILABLE, "the ring is empty: the cluster has no members");
  if (command == "ring") return PrintRing(ring);
  if (command == "owner") return PrintOwners(ring, args);
  if (command == "holders" || command == "failover") {
    return PrintHolders(ring, command, args[0],
                        std::vector<std::string>(args.begin() + 1, args.end()));
  }
  return PrintOwnersOfStdin(ring);
}
