// client/client_tool.cc -- ringcached-client: the client library from the command line. One-shot
// commands (get, set, delete, mget, where, nodes), `load` (client/load.h), and `shell`, which
// reads commands on stdin and answers each with one line on stdout through ONE long-lived
// client -- what scripts and the tests use to watch failover and ring changes as an application
// would see them. man/ringcached-client.1 documents the commands and the shell's replies.
//
// Errors go to stderr as one "ringcached-client: ..." line, with a <sysexits.h> exit code:
//   1              get: the key is not there; delete: it was not there
//   64 EX_USAGE        bad command line
//   65 EX_DATAERR      a key is not a valid memcached key
//   69 EX_UNAVAILABLE  no node answered (discovery, or the request itself)
//   76 EX_PROTOCOL     a node answered with an error line
#include <getopt.h>
#include <sysexits.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "client/load.h"
#include "ringcached/client/client.h"
#include "ringcached/client/zookeeper.h"

namespace {

using rc::base::Result;
using rc::base::Status;
using rc::client::Client;
using rc::client::Options;

int Fail(int code, const std::string& message) {
  std::cerr << "ringcached-client: " << message << "\n";
  return code;
}

int Usage(const std::string& message) {
  return Fail(EX_USAGE, message + " (ringcached-client --help for usage)");
}

int FailStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
      return Fail(EX_DATAERR, s.message());
    case Status::Code::kInternal:
      return Fail(EX_PROTOCOL, "the node answered " + s.message());
    default:
      return Fail(EX_UNAVAILABLE, s.message());
  }
}

constexpr const char kHelp[] =
    "usage: ringcached-client (--servers H:P,... | --node H:P | --zk URL) [options] COMMAND [ARGS]\n"
    "commands:\n"
    "  get KEY                 print the value (exit 1 on a miss)\n"
    "  set KEY VALUE           store it (--ttl S, --flags N)\n"
    "  delete KEY              delete it (exit 1 when it was not there)\n"
    "  mget KEY...             print \"KEY VALUE\" for each key present\n"
    "  where KEY...            print \"KEY READ_NODE WRITE_NODE\"\n"
    "  nodes                   print the ring version, then \"NAME up|tko\" per member\n"
    "  shell                   read commands from stdin, one reply line each\n"
    "  load                    run a load (--keys --value-size --keys-dist --zipf-s --ratio\n"
    "                          --requests --duration --clients --hot-key --hot-share)\n"
    "options:\n"
    "  --servers LIST          a fixed member list, host:port[=weight],...\n"
    "  --node HOST:PORT        discover the members from a node and follow them (repeatable)\n"
    "  --zk URL                follow the members in ZooKeeper (zk://host:port/path)\n"
    "  --profile NAME          libmemcached | twemproxy | spymemcached (default: the node's)\n"
    "  --timeout-ms MS         per request round (default 1000)\n"
    "  --tko-timeouts N        consecutive timeouts that make a node TKO (default 3)\n"
    "  --no-hot-keys           do not poll the nodes' hot keys\n"
    "  --local-hot-cache       keep hot keys' values in the process for up to the hot-copy TTL\n"
    "                          (outside the no-stale-read-after-delete promise)\n";

enum OptionId {
  kServers = 256, kNode, kZk, kProfile, kTimeout, kTkoTimeouts, kNoHot, kLocalCache, kTtl, kFlags, kKeys,
  kValueSize, kKeysDist, kZipfS, kRatio, kRequests, kDuration, kClients, kHotKey, kHotShare,
  kSeed, kHelpOpt,
};

bool ParseUint(const char* s, std::uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0) return false;
  *out = v;
  return true;
}

bool ParseDouble(const char* s, double* out) {
  char* end = nullptr;
  *out = std::strtod(s, &end);
  return *s != '\0' && *end == '\0';
}

// The shell: one client, one reply line per command line (see the man page).
int RunShell(Client& client) {
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    std::vector<std::string> args;
    for (std::string a; in >> a;) args.push_back(a);
    std::string out;
    const auto error = [](const Status& s) { return "ERROR " + s.message(); };
    if (cmd == "get" && args.size() == 1) {
      Result<std::optional<rc::client::Item>> got = client.Get(args[0]);
      out = !got.ok() ? error(got.status())
                      : got.value() ? "VALUE " + got.value()->value : std::string("MISS");
    } else if (cmd == "set" && (args.size() == 2 || args.size() == 3)) {
      const std::int64_t ttl = args.size() == 3 ? std::atoll(args[2].c_str()) : 0;
      Status s = client.Set(args[0], args[1], 0, ttl);
      out = s.ok() ? "STORED" : error(s);
    } else if (cmd == "delete" && args.size() == 1) {
      Result<bool> d = client.Delete(args[0]);
      out = !d.ok() ? error(d.status()) : d.value() ? "DELETED" : "NOT_FOUND";
    } else if (cmd == "mget" && !args.empty()) {
      std::vector<std::string_view> keys(args.begin(), args.end());
      auto got = client.GetMulti(keys);
      if (!got.ok()) {
        out = error(got.status());
      } else {
        out = "VALUES " + std::to_string(got.value().size());
        for (const auto& [k, item] : got.value()) out += " " + k + "=" + item.value;
      }
    } else if (cmd == "where" && args.size() == 1) {
      out = "READ " + client.ReadNode(args[0]) + " WRITE " + client.WriteNode(args[0]);
    } else if (cmd == "nodes" && args.empty()) {
      out = "RING " + std::to_string(client.ring_version());
      for (const rc::client::NodeInfo& n : client.Nodes()) {
        out += " " + n.name + "=" + (n.tko ? "tko" : "up");
      }
    } else if (cmd == "hot" && args.empty()) {
      out = "HOT";
      for (const rc::client::NodeInfo& n : client.Nodes()) {
        out += " " + n.name + "=" + std::to_string(n.hot_slot) + ":" + std::to_string(n.hot_keys);
      }
    } else if (cmd == "stats" && args.empty()) {
      out = "STATS local_hits=" + std::to_string(client.Stats().local_hits);
    } else if (cmd.empty()) {
      continue;
    } else {
      out = "ERROR unknown command or wrong arguments: " + line;
    }
    std::cout << out << std::endl;
  }
  return EX_OK;
}

}  // namespace

int main(int argc, char** argv) {
  static const option kLong[] = {
      {"servers", required_argument, nullptr, kServers},
      {"node", required_argument, nullptr, kNode},
      {"zk", required_argument, nullptr, kZk},
      {"profile", required_argument, nullptr, kProfile},
      {"timeout-ms", required_argument, nullptr, kTimeout},
      {"tko-timeouts", required_argument, nullptr, kTkoTimeouts},
      {"no-hot-keys", no_argument, nullptr, kNoHot},
      {"local-hot-cache", no_argument, nullptr, kLocalCache},
      {"ttl", required_argument, nullptr, kTtl},
      {"flags", required_argument, nullptr, kFlags},
      {"keys", required_argument, nullptr, kKeys},
      {"value-size", required_argument, nullptr, kValueSize},
      {"keys-dist", required_argument, nullptr, kKeysDist},
      {"zipf-s", required_argument, nullptr, kZipfS},
      {"ratio", required_argument, nullptr, kRatio},
      {"requests", required_argument, nullptr, kRequests},
      {"duration", required_argument, nullptr, kDuration},
      {"clients", required_argument, nullptr, kClients},
      {"hot-key", required_argument, nullptr, kHotKey},
      {"hot-share", required_argument, nullptr, kHotShare},
      {"seed", required_argument, nullptr, kSeed},
      {"help", no_argument, nullptr, kHelpOpt},
      {nullptr, 0, nullptr, 0},
  };
  Options options;
  rc::client::LoadOptions load;
  std::int64_t ttl = 0;
  std::uint64_t flags = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "", kLong, nullptr)) != -1) {
    std::uint64_t n = 0;
    double d = 0;
    switch (c) {
      case kServers:
        options.servers.push_back(optarg);
        break;
      case kNode:
        options.discovery.push_back(optarg);
        break;
      case kZk:
        options.member_source = rc::client::ZooKeeperMemberSource(optarg, options.timeout);
        break;
      case kProfile: {
        auto p = rc::cluster::ParseRingProfile(optarg);
        if (!p) return Usage(std::string("unknown --profile ") + optarg);
        options.profile = *p;
        break;
      }
      case kTimeout:
        if (!ParseUint(optarg, &n) || n == 0) return Usage("--timeout-ms wants milliseconds > 0");
        options.timeout = std::chrono::milliseconds(n);
        break;
      case kTkoTimeouts:
        if (!ParseUint(optarg, &n) || n == 0) return Usage("--tko-timeouts wants a count > 0");
        options.timeouts_to_tko = static_cast<std::uint32_t>(n);
        break;
      case kNoHot:
        options.hot_poll_interval = std::chrono::milliseconds(0);
        break;
      case kLocalCache:
        options.local_hot_cache = true;
        break;
      case kTtl:
        if (!ParseUint(optarg, &n)) return Usage("--ttl wants seconds");
        ttl = static_cast<std::int64_t>(n);
        break;
      case kFlags:
        if (!ParseUint(optarg, &flags) || flags > UINT32_MAX) return Usage("bad --flags");
        break;
      case kKeys:
        if (!ParseUint(optarg, &load.keys) || load.keys == 0) return Usage("--keys wants N > 0");
        break;
      case kValueSize:
        if (!ParseUint(optarg, &n)) return Usage("--value-size wants bytes");
        load.value_size = n;
        break;
      case kKeysDist:
        if (std::string(optarg) != "zipf" && std::string(optarg) != "uniform") {
          return Usage("--keys-dist is zipf or uniform");
        }
        load.zipf = std::string(optarg) == "zipf";
        break;
      case kZipfS:
        if (!ParseDouble(optarg, &load.zipf_s) || load.zipf_s <= 0) return Usage("bad --zipf-s");
        break;
      case kRatio: {
        const std::string r(optarg);
        const std::size_t colon = r.find(':');
        std::uint64_t sets = 0, gets = 0;
        if (colon == std::string::npos || !ParseUint(r.substr(0, colon).c_str(), &sets) ||
            !ParseUint(r.substr(colon + 1).c_str(), &gets) || sets + gets == 0) {
          return Usage("--ratio wants SETS:GETS, e.g. 1:9");
        }
        load.sets = static_cast<std::uint32_t>(sets);
        load.gets = static_cast<std::uint32_t>(gets);
        break;
      }
      case kRequests:
        if (!ParseUint(optarg, &n) || n == 0) return Usage("--requests wants N > 0");
        load.requests = n;
        break;
      case kDuration:
        if (!ParseDouble(optarg, &d) || d <= 0) return Usage("--duration wants seconds > 0");
        load.duration = std::chrono::milliseconds(static_cast<std::int64_t>(d * 1000));
        break;
      case kClients:
        if (!ParseUint(optarg, &n) || n == 0 || n > 4096) return Usage("--clients wants 1-4096");
        load.clients = static_cast<std::uint32_t>(n);
        break;
      case kHotKey:
        load.hot_key = optarg;
        break;
      case kHotShare:
        if (!ParseDouble(optarg, &load.hot_share) || load.hot_share < 0 || load.hot_share > 1) {
          return Usage("--hot-share wants a share between 0 and 1");
        }
        break;
      case kSeed:
        if (!ParseUint(optarg, &load.seed)) return Usage("bad --seed");
        break;
      case kHelpOpt:
        std::cout << kHelp;
        return EX_OK;
      default:
        return Usage(std::string("unknown or incomplete option ") + argv[optind - 1]);
    }
  }
  std::vector<std::string> args(argv + optind, argv + argc);
  if (args.empty()) return Usage("no command");
  if (!options.servers.empty() + !options.discovery.empty() +
          static_cast<bool>(options.member_source) != 1) {
    return Usage("give one of --servers, --node or --zk");
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  const auto want = [&](std::size_t lo, std::size_t hi) { return args.size() >= lo && args.size() <= hi; };

  if (cmd == "load") {
    if (!want(0, 0)) return Usage("load takes options only");
    if (!load.requests && !load.duration) return Usage("load needs --requests and/or --duration");
    Result<rc::client::LoadReport> report =
        rc::client::RunLoad(load, [&] { return Client::Open(options); });
    if (!report.ok()) return FailStatus(report.status());
    rc::client::PrintReport(report.value(), std::cout);
    return EX_OK;
  }
  const bool known = (cmd == "get" && want(1, 1)) || (cmd == "set" && want(2, 2)) ||
                     (cmd == "delete" && want(1, 1)) || (cmd == "mget" && want(1, SIZE_MAX)) ||
                     (cmd == "where" && want(1, SIZE_MAX)) || (cmd == "nodes" && want(0, 0)) ||
                     (cmd == "shell" && want(0, 0));
  if (!known) return Usage("unknown command or wrong arguments: " + cmd);
  if (cmd != "shell") options.hot_poll_interval = std::chrono::milliseconds(0);
  Result<std::unique_ptr<Client>> opened = Client::Open(options);
  if (!opened.ok()) return FailStatus(opened.status());
  Client& client = *opened.value();

  if (cmd == "get") {
    Result<std::optional<rc::client::Item>> got = client.Get(args[0]);
    if (!got.ok()) return FailStatus(got.status());
    if (!got.value()) return 1;
    std::cout << got.value()->value << "\n";
  } else if (cmd == "set") {
    Status s = client.Set(args[0], args[1], static_cast<std::uint32_t>(flags), ttl);
    if (!s.ok()) return FailStatus(s);
  } else if (cmd == "delete") {
    Result<bool> d = client.Delete(args[0]);
    if (!d.ok()) return FailStatus(d.status());
    if (!d.value()) return 1;
  } else if (cmd == "mget") {
    std::vector<std::string_view> keys(args.begin(), args.end());
    auto got = client.GetMulti(keys);
    if (!got.ok()) return FailStatus(got.status());
    for (const auto& [k, item] : got.value()) std::cout << k << " " << item.value << "\n";
  } else if (cmd == "where") {
    for (const std::string& k : args) {
      std::cout << k << " " << client.ReadNode(k) << " " << client.WriteNode(k) << "\n";
    }
  } else if (cmd == "nodes") {
    std::cout << client.ring_version() << "\n";
    for (const rc::client::NodeInfo& n : client.Nodes()) {
      std::cout << n.name << " " << (n.tko ? "tko" : "up") << "\n";
    }
  } else {
    return RunShell(client);
  }
  return EX_OK;
}
