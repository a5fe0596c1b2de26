// server/options.cc -- the one option table (kOptions, plus kExtended for -o) and everything it
// drives: the splitting of the command line and --config-file into options, the -h text,
// validation, and the `stats settings` list. Also the one host:port splitter (SplitHostPort), so
// that the -l and --advertise that start-up validates are read the same way by the listener
// (server.cc) and the cluster node (cluster_node.cc).
//
// Parsing is two-phase, as in memcached's main(): each option is applied as it is met (so a later
// -p overrides an earlier one), then Validate() checks the rules that involve several options
// (-I against -m and slab_chunk_max, hot+warm LRU percentages, temporary_ttl needing the LRU
// maintainer). Options are applied in the order given, as memcached's getopt loop does: the last
// -p wins and each -v counts.
//
// Sources for every rule and message: memcached 1.6.x memcached.c, main() (the getopt loop, the
// getsubopt loop for -o, and the checks after it) and process_stat_settings(). Where we differ on
// purpose the comment says so.
#include "server/options.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <string_view>
#include <vector>

#include "ringcached/base/file.h"
#include "ringcached/base/version.h"
#include "ringcached/cluster/cluster_url.h"
#include "ringcached/cluster/member.h"
#include "ringcached/cluster/ring.h"
#include "ringcached/origin/read_through.h"

namespace rc::server {
namespace {

// -V, -h and -i name the product version and the memcached release whose options and protocol
// we follow (base/version.h: `version` answers with the latter, for clients' sake).
constexpr const char* kVersionLine =
    "ringcached " RC_PRODUCT_VERSION " (memcached " RC_MEMCACHED_VERSION " compatible)\n";

// memcached.c: settings.slab_page_size, ITEM_SIZE_MAX_LOWER_LIMIT, ITEM_SIZE_MAX_UPPER_LIMIT.
constexpr std::size_t kSlabPageSize = std::size_t{1} << 20;
constexpr std::size_t kItemSizeMaxLower = 1024;
constexpr std::size_t kItemSizeMaxUpper = std::size_t{1} << 30;

// -h layout: memcached pads the option column to 26 characters.
constexpr std::size_t kHelpColumn = 26;

enum class Source : unsigned char { kConfigFile, kCommandLine };

// What the apply functions share while one ParseCommandLine() call runs.
struct ParseState {
  Settings* s = nullptr;
  Source source = Source::kCommandLine;
  bool tcp_specified = false;           // memcached's tcp_specified / udp_specified: decide
  bool udp_specified = false;           // whether -U alone also moves the TCP port
  bool slab_chunk_max_changed = false;  // memcached's slab_chunk_size_changed
  bool cmdline_listen_seen = false;     // first -l on the command line drops the file's list
  bool cmdline_verbose_seen = false;    // first -v on the command line drops the file's level
};

// ---- value parsing --------------------------------------------------------------------------
// memcached uses atoi()/atof(), which read "12ab" as 12 and "abc" as 0. We accept whole numbers
// only, so a typo is reported instead of silently becoming 0.

bool ParseInt(std::string_view text, long long* out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool ParseIntIn(std::string_view text, long long lo, long long hi, long long* out) {
  return ParseInt(text, out) && *out >= lo && *out <= hi;
}

bool ParseDouble(std::string_view text, double* out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return false;
  std::string copy(text);
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(copy.c_str(), &end);
  return errno == 0 && end == copy.c_str() + copy.size() && std::isfinite(*out);
}

// "<digits>[suffix]" -> digits * unit. A bare number is multiplied by `plain_unit`; `suffixes`
// lists the accepted (case-insensitive) suffix letters among k, m, g, t.
bool ParseScaled(std::string_view text, unsigned long long plain_unit, std::string_view suffixes,
                 unsigned long long* out) {
  unsigned long long unit = plain_unit;
  if (!text.empty()) {
    char last = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
    if (std::isalpha(static_cast<unsigned char>(last))) {
      if (suffixes.find(last) == std::string_view::npos) return false;
      switch (last) {
        case 'k': unit = 1ull << 10; break;
        case 'm': unit = 1ull << 20; break;
        case 'g': unit = 1ull << 30; break;
        case 't': unit = 1ull << 40; break;
        default: return false;
      }
      text.remove_suffix(1);
    }
  }
  if (text.empty() || text.front() == '-' || text.front() == '+') return false;
  unsigned long long n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (n != 0 && unit > ULLONG_MAX / n) return false;
  *out = n * unit;
  return true;
}

bool ParseBool(std::string_view text, bool* out) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") {
    *out = true;
    return true;
  }
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") {
    *out = false;
    return true;
  }
  return false;
}

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

bool NotAWholeNumber(std::string_view text, std::string* err) {
  *err = "expects a whole number, got " + Quoted(text);
  return false;
}

// Parses an int option that must be at least `min`; `message` is memcached's wording.
// A whole number from `min` to `max`, else `message`.
bool ParseInRange(std::string_view text, long long min, long long max, const char* message,
                  int* field, std::string* err) {
  long long n = 0;
  if (!ParseInt(text, &n)) return NotAWholeNumber(text, err);
  if (n < min || n > max) {
    *err = message;
    return false;
  }
  *field = static_cast<int>(n);
  return true;
}

bool ParseAtLeast(std::string_view text, long long min, const char* message, int* field,
                  std::string* err) {
  return ParseInRange(text, min, INT_MAX, message, field, err);
}

bool ParsePort(std::string_view text, int* field, std::string* err) {
  // memcached checks only port > 65535 ("ERROR: Invalid port number %d."), after all options;
  // -1 asks for an ephemeral port (server_socket() turns it into 0).
  long long n = 0;
  if (!ParseInt(text, &n)) return NotAWholeNumber(text, err);
  if (n < -1 || n > 65535) {
    *err = "Invalid port number " + std::string(text) + " (use 0 to disable, -1 for any free port)";
    return false;
  }
  *field = static_cast<int>(n);
  return true;
}

// ---- the option table -----------------------------------------------------------------------

using ApplyFn = bool (*)(const std::string& value, ParseState& st, std::string* err);

enum class Arg : unsigned char {
  kNone,   // a switch: -d. In a config file: "daemon = true"
  kCount,  // -v, repeatable. In a config file: "verbose = 2"
  kValue,  // -p 11211, --port=11211. In a config file: "port = 11211"
};

struct OptionSpec {
  const char* long_name;
  char short_name;          // '\0': long name only
  Arg arg;
  const char* value_label;  // "<num>" in -h; nullptr for switches
  const char* help;         // -h text; '\n' starts an indented continuation line
  const char* help_extra;   // raw lines printed after the entry (-vv, -vvv); may be nullptr
  bool in_config_file;      // help, version, license and config-file are command-line only
  ApplyFn apply;            // nullptr for the four handled by ParseCommandLine itself
};

bool ApplyExtended(const std::string& value, ParseState& st, std::string* err);

const OptionSpec kOptions[] = {
    {"port", 'p', Arg::kValue, "<num>",
     "TCP port to listen on (default: 11211, 0 is off,\n-1 picks a free port)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       st.tcp_specified = true;
       return ParsePort(v, &st.s->port, err);
     }},
    {"udp-port", 'U', Arg::kValue, "<num>", "UDP port to listen on (default: 0, off)", nullptr,
     true,
     [](const std::string& v, ParseState& st, std::string* err) {
       st.udp_specified = true;
       return ParsePort(v, &st.s->udp_port, err);
     }},
    {"unix-socket", 's', Arg::kValue, "<file>",
     "UNIX socket to listen on (disables network support)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (v.empty()) {
         *err = "the UNIX socket path is empty";
         return false;
       }
       st.s->unix_socket = v;
       return true;
     }},
    {"unix-mask", 'a', Arg::kValue, "<mask>",
     "access mask for UNIX socket, in octal (default: 700)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       // memcached takes strtol(optarg, NULL, 8) and ignores junk ("9" becomes 0, a mode that
       // locks everybody out); we insist on octal digits.
       if (v.empty() || v.size() > 5 || v.find_first_not_of("01234567") != std::string::npos ||
           std::strtol(v.c_str(), nullptr, 8) > 07777) {
         *err = "expects an octal mask such as 700, got " + Quoted(v);
         return false;
       }
       st.s->unix_mask = static_cast<int>(std::strtol(v.c_str(), nullptr, 8));
       return true;
     }},
    {"enable-shutdown", 'A', Arg::kNone, nullptr, "enable ascii \"shutdown\" command", nullptr,
     true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->enable_shutdown = true;
       return true;
     }},
    {"listen", 'l', Arg::kValue, "<addr>",
     "interface to listen on (default: INADDR_ANY)\n"
     "several addresses: separate them with commas or repeat -l",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (st.source == Source::kCommandLine && !st.cmdline_listen_seen) {
         st.cmdline_listen_seen = true;
         st.s->listen.clear();
       }
       if (v.find_first_not_of(',') == std::string::npos) {
         *err = "no address given";
         return false;
       }
       std::size_t start = 0;
       while (start <= v.size()) {
         std::size_t comma = v.find(',', start);
         std::string addr = v.substr(start, comma == std::string::npos ? std::string::npos
                                                                       : comma - start);
         start = comma == std::string::npos ? v.size() + 1 : comma + 1;
         if (addr.empty()) continue;  // memcached's strtok() skips "a,,b" and a trailing comma
         base::Result<HostPort> split = ParseListenAddress(addr);
         if (!split.ok()) {
           *err = split.status().message();
           return false;
         }
         // memcached skips an -l whose text already occurs in the list (a substring test, so
         // 127.0.0.1 hides 127.0.0.10); we skip exact duplicates only.
         bool seen = false;
         for (const std::string& a : st.s->listen) seen = seen || a == addr;
         if (!seen) st.s->listen.push_back(addr);
       }
       return true;
     }},
    {"daemon", 'd', Arg::kNone, nullptr, "run as a daemon", nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->daemonize = true;
       return true;
     }},
    {"enable-coredumps", 'r', Arg::kNone, nullptr, "maximize core file limit", nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->enable_coredumps = true;
       return true;
     }},
    {"user", 'u', Arg::kValue, "<user>", "assume identity of <username> (only when run as root)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string*) {
       st.s->user = v;
       return true;
     }},
    {"memory-limit", 'm', Arg::kValue, "<num>",
     "item memory in megabytes (default: 64)\na k, m, g or t suffix gives another unit", nullptr,
     true,
     [](const std::string& v, ParseState& st, std::string* err) {
       // memcached 1.6.18: atoi(optarg) megabytes, no suffix, no check (1.6.24 rejects negative
       // values). The suffix is ours; a bare number means megabytes as in memcached.
       unsigned long long bytes = 0;
       if (!ParseScaled(v, 1ull << 20, "kmgt", &bytes) || bytes > SIZE_MAX) {
         *err = "expects a size in megabytes (or with a k, m, g or t suffix), got " + Quoted(v);
         return false;
       }
       st.s->maxbytes = static_cast<std::size_t>(bytes);
       return true;
     }},
    {"disable-evictions", 'M', Arg::kNone, nullptr,
     "return error on memory exhausted instead of evicting", nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->evictions = false;
       return true;
     }},
    {"conn-limit", 'c', Arg::kValue, "<num>", "max simultaneous connections (default: 1024)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseAtLeast(v, 1, "Maximum connections must be greater than 0", &st.s->maxconns,
                           err);
     }},
    {"lock-memory", 'k', Arg::kNone, nullptr, "lock down all paged memory", nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->lock_memory = true;
       return true;
     }},
    {"verbose", 'v', Arg::kCount, nullptr, "verbose (print errors/warnings while in event loop)",
     "-vv                       very verbose (also print client commands/responses)\n"
     "-vvv                      extremely verbose (internal state transitions)\n",
     true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (st.source == Source::kCommandLine) {
         if (!st.cmdline_verbose_seen) {
           st.cmdline_verbose_seen = true;
           st.s->verbose = 0;
         }
         ++st.s->verbose;
         return true;
       }
       long long level = 0;
       bool on = false;
       if (ParseIntIn(v, 0, 10, &level)) {
         st.s->verbose = static_cast<int>(level);
       } else if (ParseBool(v, &on)) {
         st.s->verbose = on ? 1 : 0;
       } else {
         *err = "expects a level (0 to 3) or true/false, got " + Quoted(v);
         return false;
       }
       return true;
     }},
    {"help", 'h', Arg::kNone, nullptr, "print this help and exit", nullptr, false, nullptr},
    {"license", 'i', Arg::kNone, nullptr, "print license information and exit", nullptr, false,
     nullptr},
    {"version", 'V', Arg::kNone, nullptr, "print version and exit", nullptr, false, nullptr},
    {"pidfile", 'P', Arg::kValue, "<file>", "save PID in <file>, only used with -d option", nullptr,
     true,
     [](const std::string& v, ParseState& st, std::string*) {
       st.s->pid_file = v;
       return true;
     }},
    {"slab-growth-factor", 'f', Arg::kValue, "<num>", "chunk size growth factor (default: 1.25)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       double f = 0;
       if (!ParseDouble(v, &f)) {
         *err = "expects a number, got " + Quoted(v);
         return false;
       }
       if (f <= 1.0) {
         *err = "Factor must be greater than 1";
         return false;
       }
       st.s->growth_factor = f;
       return true;
     }},
    {"slab-min-size", 'n', Arg::kValue, "<bytes>",
     "min space used for key+value+flags (default: 48)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseAtLeast(v, 1, "Chunk size must be greater than 0", &st.s->chunk_size, err);
     }},
    {"enable-largepages", 'L', Arg::kNone, nullptr, "try to use large memory pages (if available)",
     nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->large_pages = true;
       return true;
     }},
    // memcached's -D has no long name; ours lets a config file set it.
    {"prefix-delimiter", 'D', Arg::kValue, "<char>",
     "Use <char> as the delimiter between key prefixes and IDs.\n"
     "This is used for per-prefix stats reporting. The default is\n"
     "\":\" (colon). If this option is specified, stats collection\n"
     "is turned on automatically; if not, then it may be turned on\n"
     "by sending the \"stats detail on\" command to the server.",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (v.empty()) {
         *err = "No delimiter specified";
         return false;
       }
       st.s->prefix_delimiter = v[0];  // memcached takes the first character
       st.s->detail_enabled = true;
       return true;
     }},
    {"threads", 't', Arg::kValue, "<num>", "number of threads to use (default: 4)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseAtLeast(v, 1, "Number of threads must be greater than 0", &st.s->num_threads,
                           err);
     }},
    {"oversubscribe", '\0', Arg::kNone, nullptr,
     "run all -t worker threads even when they outnumber the\n"
     "CPUs this process can use (default: one per CPU at most)",
     nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->oversubscribe = true;
       return true;
     }},
    {"max-reqs-per-event", 'R', Arg::kValue, "<num>",
     "maximum number of requests per event, limits the\n"
     "requests processed per connection to prevent\n"
     "starvation (default: 20)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       // memcached 1.6.18 rejects only 0; 1.6.24 also rejects negative values.
       return ParseAtLeast(v, 1, "Number of requests per event must be greater than 0",
                           &st.s->reqs_per_event, err);
     }},
    {"disable-cas", 'C', Arg::kNone, nullptr, "disable use of CAS", nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->use_cas = false;
       return true;
     }},
    {"listen-backlog", 'b', Arg::kValue, "<num>", "set the backlog queue limit (default: 1024)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseAtLeast(v, 0, "Listen backlog must not be negative", &st.s->backlog, err);
     }},
    {"protocol", 'B', Arg::kValue, "<name>",
     "protocol - one of ascii, binary, or auto (default: auto-negotiate)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (v == "auto") {
         st.s->protocol = Protocol::kAuto;
       } else if (v == "binary") {
         st.s->protocol = Protocol::kBinary;
       } else if (v == "ascii") {
         st.s->protocol = Protocol::kAscii;
       } else {
         *err = "Invalid value for binding protocol: " + v +
                " -- should be one of auto, binary, or ascii";
         return false;
       }
       return true;
     }},
    {"max-item-size", 'I', Arg::kValue, "<num>",
     "adjusts max item size\n(default: 1m, min: 1k, max: 1024m)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       // Bytes, or k/m suffixed as in memcached. Limits are checked in Validate(), after every
       // option, because they depend on -m.
       unsigned long long bytes = 0;
       if (!ParseScaled(v, 1, "km", &bytes) || bytes > SIZE_MAX) {
         *err = "expects a size in bytes, optionally with a k or m suffix, got " + Quoted(v);
         return false;
       }
       st.s->item_size_max = static_cast<std::size_t>(bytes);
       return true;
     }},
    {"disable-flush-all", 'F', Arg::kNone, nullptr, "disable flush_all command", nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->flush_enabled = false;
       return true;
     }},
    {"disable-dumping", 'X', Arg::kNone, nullptr,
     "disable stats cachedump and lru_crawler metadump", nullptr, true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->dump_enabled = false;
       return true;
     }},
    {"disable-watch", 'W', Arg::kNone, nullptr, "disable watch commands (live logging)", nullptr,
     true,
     [](const std::string&, ParseState& st, std::string*) {
       st.s->watch_enabled = false;
       return true;
     }},
    {"extended", 'o', Arg::kValue, "<opts>",
     "comma separated list of extended options\nmost options have a 'no_' prefix to disable",
     nullptr, true, ApplyExtended},
    // Cluster options (issue #5; DESIGN.md section 3, "Membership"). Without --cluster the others
    // are accepted and have no effect.
    {"cluster", '\0', Arg::kValue, "<url>",
     "join the cluster kept in ZooKeeper at <url>:\n"
     "zk://host:port[,host:port...]/path (default: none,\n"
     "a single node, as memcached)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       base::Result<cluster::ClusterUrl> url = cluster::ParseClusterUrl(v);
       if (!url.ok()) {
         *err = url.status().message();
         return false;
       }
       st.s->cluster = v;
       return true;
     }},
    {"advertise", '\0', Arg::kValue, "<name>",
     "this node's ring name, exactly as clients list it\n"
     "(default: <first -l address>:<port>)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       base::Status ok = cluster::CheckRingName(v);
       if (!ok.ok()) {
         *err = ok.message();
         return false;
       }
       // Any name will do (a twemproxy alias too), but a trailing ":port" must be one: clients
       // would otherwise take the whole name for a host (cluster/ring_build.cc SplitRingName).
       base::Result<HostPort> split = SplitHostPort(v);
       if (!split.ok()) {
         *err = split.status().message();
         return false;
       }
       st.s->advertise = v;
       return true;
     }},
    {"weight", '\0', Arg::kValue, "<num>", "this node's Ketama weight, 1 to 65535 (default: 1)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!ParseInt(v, &n)) return NotAWholeNumber(v, err);
       if (n < 1 || n > 65535) {
         *err = "the weight must be between 1 and 65535";
         return false;
       }
       st.s->weight = static_cast<std::uint32_t>(n);
       return true;
     }},
    {"ring-profile", '\0', Arg::kValue, "<name>",
     "the clients' Ketama variant: libmemcached,\n"
     "twemproxy or spymemcached (default: libmemcached)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (!cluster::ParseRingProfile(v)) {
         *err = "expects libmemcached, twemproxy or spymemcached, got " + Quoted(v);
         return false;
       }
       st.s->ring_profile = v;
       return true;
     }},
    {"ring-debounce-ms", '\0', Arg::kValue, "<ms>",
     "rebuild the ring once the member list has been\n"
     "quiet this long, 0 to 60000 (default: 1000)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 0, 60000,
                           "the ring debounce must be between 0 and 60000 milliseconds",
                           &st.s->ring_debounce_ms, err);
     }},
    {"zk-session-timeout-ms", '\0', Arg::kValue, "<ms>",
     "ZooKeeper session timeout to ask for, 500 to\n"
     "600000; the server may clamp it (default: 10000)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 500, 600000,
                           "the session timeout must be between 500 and 600000 milliseconds",
                           &st.s->zk_session_timeout_ms, err);
     }},
    {"cluster-secret-file", '\0', Arg::kValue, "<file>",
     "the cluster's shared secret (mode 0600): this node\n"
     "accepts peer links that prove they hold it\n"
     "(default: none, no peer links)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (v.empty()) {
         *err = "expects a file name";
         return false;
       }
       st.s->cluster_secret_file = v;
       return true;
     }},
    {"replicas", '\0', Arg::kValue, "<num>",
     "copies of each key on the ring, 1 (no replication)\n"
     "to 8; more than 1 needs --cluster-secret-file\n"
     "(default: 2 with a secret file, else 1)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 8, "the replica count must be between 1 and 8",
                           &st.s->replicas, err);
     }},
    {"replication", '\0', Arg::kValue, "<mode>",
     "async: a write is answered once applied here, its\n"
     "copies follow; sync: once every holder has it\n"
     "(default: async)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (v != "async" && v != "sync") {
         *err = "expects async or sync, got " + Quoted(v);
         return false;
       }
       st.s->replication = v;
       return true;
     }},
    {"replication-timeout-ms", '\0', Arg::kValue, "<ms>",
     "sync: a write not acknowledged by every holder by\n"
     "then is answered SERVER_ERROR, 1 to 60000\n"
     "(default: 1000)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 60000,
                           "the replication timeout must be between 1 and 60000 milliseconds",
                           &st.s->replication_timeout_ms, err);
     }},
    {"tombstone-ttl", '\0', Arg::kValue, "<secs>",
     "with peer links: seconds a delete's tombstone is\n"
     "kept, 1 to 86400 (default: 30)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 86400, "the tombstone TTL must be between 1 and 86400 seconds",
                           &st.s->tombstone_ttl, err);
     }},
    {"guest-ttl", '\0', Arg::kValue, "<secs>",
     "with replication: seconds a node keeps a client's\n"
     "write of a key it does not hold (sent on to the\n"
     "key's holders), 1 to 3600 (default: 5)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 3600, "the guest TTL must be between 1 and 3600 seconds",
                           &st.s->guest_ttl, err);
     }},
    {"handoff-rate", '\0', Arg::kValue, "<bytes>",
     "with replication: bytes a second a node pushes to\n"
     "the new holders of its keys when the ring\n"
     "changes, 65536 to 2147483647 (default: 33554432)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 65536, 2147483647,
                           "the hand-off rate must be between 65536 and 2147483647 bytes a second",
                           &st.s->handoff_rate, err);
     }},
    {"handoff-drop-delay", '\0', Arg::kValue, "<secs>",
     "with replication: seconds after a ring change\n"
     "before a node drops the keys it no longer holds,\n"
     "0 to 86400 (default: 60)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 0, 86400,
                           "the hand-off drop delay must be between 0 and 86400 seconds",
                           &st.s->handoff_drop_delay, err);
     }},
    {"handoff-timeout", '\0', Arg::kValue, "<secs>",
     "with replication: how long a draining node waits\n"
     "for its keys to reach their next holders before\n"
     "it leaves anyway, and a joining one for its keys\n"
     "before it is up anyway, 1 to 86400 (default: 300)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 86400, "the hand-off timeout must be between 1 and 86400 seconds",
                           &st.s->handoff_timeout, err);
     }},
    {"max-clock-skew-ms", '\0', Arg::kValue, "<ms>",
     "refuse versions (CAS values from meta E, and from\n"
     "peers) further ahead of this node's clock than\n"
     "this, 1 to 3600000 (default: 1000)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 3600000,
                           "the clock skew bound must be between 1 and 3600000 milliseconds",
                           &st.s->max_clock_skew_ms, err);
     }},
    // Hot keys (../shared/REPLICATION.md section 7; server/hot_key_detector.h).
    {"hot-key-qps", '\0', Arg::kValue, "<reads>",
     "reads a second on this node that make a key hot\n"
     "(`stats hotkeys`; spread over extra copies with\n"
     "replication), 0 (off) to 1000000000 (default: 5000)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 0, 1000000000,
                           "the hot-key rate must be between 0 and 1000000000 reads a second",
                           &st.s->hot_key_qps, err);
     }},
    {"hot-key-share", '\0', Arg::kValue, "<fraction>",
     "the share of a busy node's reads (it serves more\n"
     "than --hot-key-qps) that also makes a key hot,\n"
     "0 (off) to 1 (default: 0.2)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       double f = -1;
       if (!ParseDouble(v, &f) || f < 0 || f > 1) {
         *err = "the hot-key share must be a number from 0 to 1, got " + Quoted(v);
         return false;
       }
       st.s->hot_key_share = f;
       return true;
     }},
    {"hot-copies", '\0', Arg::kValue, "<n>",
     "with replication: extra nodes a hot key is copied\n"
     "to beyond its holders, 0 to 8 (default: 2)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 0, 8, "the hot copies must be between 0 and 8", &st.s->hot_copies,
                           err);
     }},
    {"hot-copy-ttl", '\0', Arg::kValue, "<secs>",
     "with replication: seconds a hot key's extra copy\n"
     "lives unless refreshed (never past the item's own\n"
     "expiry), 1 to 3600 (default: 10)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 3600, "the hot-copy TTL must be between 1 and 3600 seconds",
                           &st.s->hot_copy_ttl, err);
     }},
    // Read-through options (issue #6; DESIGN.md section 3, "Read-through at the owner").
    // Without --origin the others are accepted and have no effect.
    {"origin", '\0', Arg::kValue, "<url>",
     "on a miss, fetch the key from this origin, store it\n"
     "and return it: postgresql://user@host:port/db or\n"
     "http://host:port/prefix/ (default: none)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       std::string lower;
       for (char c : v.substr(0, 13)) {
         lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
       }
       if (lower.rfind("https://", 0) == 0) {
         *err = "https origins are not supported (no TLS in this build)";
         return false;
       }
       if (lower.rfind("http://", 0) != 0 && lower.rfind("postgresql://", 0) != 0 &&
           lower.rfind("postgres://", 0) != 0) {
         *err = "expects postgresql://... or http://host:port/prefix/, got " + Quoted(v);
         return false;
       }
       st.s->origin = v;
       return true;
     }},
    {"origin-query", '\0', Arg::kValue, "<sql>",
     "PostgreSQL origin: the query, taking the key as $1 and\n"
     "returning the value first; optional columns \"flags\"\n"
     "and \"ttl\" (seconds)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (v.find_first_not_of(" \t") == std::string::npos) {
         *err = "the query is empty";
         return false;
       }
       st.s->origin_query = v;
       return true;
     }},
    {"origin-key-prefix", '\0', Arg::kValue, "<prefix>",
     "read through only keys starting with <prefix>\n(default: every key)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string*) {
       st.s->origin_key_prefix = v;
       return true;
     }},
    {"origin-ttl", '\0', Arg::kValue, "<secs>",
     "exptime of values fetched from the origin, unless\n"
     "its ttl column says otherwise (default: 300)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseAtLeast(v, 0, "the origin TTL must not be negative", &st.s->origin_ttl, err);
     }},
    {"origin-negative-ttl", '\0', Arg::kValue, "<secs>",
     "remember keys the origin lacks this long; 0: not\nat all (default: 3)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseAtLeast(v, 0, "the negative TTL must not be negative",
                           &st.s->origin_negative_ttl, err);
     }},
    {"origin-timeout-ms", '\0', Arg::kValue, "<ms>",
     "a fetch not answered by then is a miss; keep it\n"
     "below the clients' timeouts (default: 500)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 600000,
                           "the origin timeout must be between 1 and 600000 milliseconds",
                           &st.s->origin_timeout_ms, err);
     }},
    {"origin-connections", '\0', Arg::kValue, "<num>",
     "connections to the origin, 1 to 256 (default: 4)", nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 256,
                           "the origin connections must be between 1 and 256",
                           &st.s->origin_connections, err);
     }},
    {"origin-breaker-failures", '\0', Arg::kValue, "<num>",
     "errors or timeouts in a row that open the circuit\n"
     "breaker; 0: never (default: 5)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseAtLeast(v, 0, "the breaker threshold must not be negative",
                           &st.s->origin_breaker_failures, err);
     }},
    {"origin-breaker-open-ms", '\0', Arg::kValue, "<ms>",
     "how long an open breaker answers misses without\n"
     "the origin before it tries again (default: 5000)",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       return ParseInRange(v, 1, 3600000,
                           "the breaker period must be between 1 and 3600000 milliseconds",
                           &st.s->origin_breaker_open_ms, err);
     }},
    {"io-engine", '\0', Arg::kValue, "<name>",
     "how connections receive: epoll (default) or io_uring",
     nullptr, true,
     [](const std::string& v, ParseState& st, std::string* err) {
       if (v != "io_uring" && v != "epoll") {
         *err = "expects epoll or io_uring, got " + Quoted(v);
         return false;
       }
       st.s->io_engine = v;
       return true;
     }},
    {"config-file", '\0', Arg::kValue, "<file>",
     "read options from <file>, one \"long-name = value\" per line;\n"
     "options given on the command line override the file",
     nullptr, false, nullptr},
};

const OptionSpec* FindOption(std::string_view long_name) {
  for (const OptionSpec& spec : kOptions) {
    if (long_name == spec.long_name) return &spec;
  }
  return nullptr;
}

// ---- -o sub-options -------------------------------------------------------------------------

enum class SubArg : unsigned char { kNone, kOptional, kRequired };

// `value` is empty when the sub-option was given without "=..."; memcached's getsubopt() loop
// ignores a value given to a switch ("lru_crawler=1" is lru_crawler), and so do we.
using SubApplyFn = bool (*)(const std::optional<std::string>& value, ParseState& st,
                            std::string* err);

struct ExtendedSpec {
  const char* name;
  SubArg arg;
  const char* help;  // nullptr: accepted, but neither in -h nor in AllExtendedOptionNames()
  SubApplyFn apply;
};

bool NoOp(const std::optional<std::string>&, ParseState&, std::string*) { return true; }

// Parses a sub-option's int, which must lie in [lo, hi]; `range_message` is memcached's wording.
bool SubInt(const std::optional<std::string>& v, long long lo, long long hi,
            const std::string& range_message, long long* out, std::string* err) {
  if (!ParseInt(*v, out)) return NotAWholeNumber(*v, err);
  if (*out < lo || *out > hi) {
    *err = range_message;
    return false;
  }
  return true;
}

bool SubDouble(const std::optional<std::string>& v, double* out, std::string* err) {
  if (!ParseDouble(*v, out)) {
    *err = "expects a number, got " + Quoted(*v);
    return false;
  }
  return true;
}

// A size in kilobytes (watcher_logbuf_size, worker_logbuf_size) into an int of bytes.
bool SubKilobytes(const std::optional<std::string>& v, int* field, std::string* err) {
  long long kb = 0;
  if (!SubInt(v, 0, INT_MAX / 1024, "is out of range", &kb, err)) return false;
  *field = static_cast<int>(kb * 1024);
  return true;
}

const ExtendedSpec kExtended[] = {
    {"maxconns_fast", SubArg::kNone,
     "immediately close new connections after limit (default: enabled)",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->maxconns_fast = true;
       return true;
     }},
    {"no_maxconns_fast", SubArg::kNone,
     "queue new connections past the limit instead of closing them",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->maxconns_fast = false;
       return true;
     }},
    {"hashpower", SubArg::kRequired,
     "an integer multiplier for how large the hash\n"
     "table should be. normally grows at runtime. (default starts at: 0)\n"
     "set based on \"STAT hash_power_level\"",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!ParseInt(*v, &n)) return NotAWholeNumber(*v, err);
       if (n < 12) {
         *err = "Initial hashtable multiplier of " + *v + " is too low";
         return false;
       }
       if (n > 32) {
         *err = "Initial hashtable multiplier of " + *v +
                " is too high; choose a value based on \"STAT hash_power_level\"";
         return false;
       }
       st.s->hashpower_init = static_cast<int>(n);
       return true;
     }},
    {"no_hashexpand", SubArg::kNone, "disables hash table expansion (dangerous)",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->hash_expand = false;
       return true;
     }},
    {"tail_repair_time", SubArg::kRequired,
     "time in seconds for how long to wait before\n"
     "forcefully killing LRU tail item.\n"
     "disabled by default; very dangerous option.",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 10, INT_MAX, "Cannot set tail_repair_time to less than 10 seconds", &n,
                   err)) {
         return false;
       }
       st.s->tail_repair_time = static_cast<int>(n);
       return true;
     }},
    {"hash_algorithm", SubArg::kRequired,
     "the hash table algorithm\ndefault is murmur3 hash. options: jenkins, murmur3, xxh3",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       if (*v != "jenkins" && *v != "murmur3" && *v != "xxh3") {
         *err = "Unknown hash_algorithm option (jenkins, murmur3, xxh3)";
         return false;
       }
       st.s->hash_algorithm = *v;
       return true;
     }},
    {"lru_crawler", SubArg::kNone, "enable LRU Crawler background thread (default: enabled)",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->lru_crawler = true;
       return true;
     }},
    {"no_lru_crawler", SubArg::kNone, "disable LRU Crawler background thread.",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->lru_crawler = false;
       return true;
     }},
    {"lru_crawler_sleep", SubArg::kRequired, "microseconds to sleep between items\ndefault is 100.",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 0, 1000000, "LRU crawler sleep must be between 0 and 1 second", &n, err)) {
         return false;
       }
       st.s->lru_crawler_sleep = static_cast<int>(n);
       return true;
     }},
    {"lru_crawler_tocrawl", SubArg::kRequired,
     "max items to crawl per slab per run\ndefault is 0 (unlimited)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 0, INT_MAX, "lru_crawler_tocrawl takes a numeric 32bit value", &n, err)) {
         return false;
       }
       st.s->lru_crawler_tocrawl = static_cast<int>(n);
       return true;
     }},
    {"read_buf_mem_limit", SubArg::kRequired,
     "limit in megabytes for connection read/response buffers.\n"
     "do not adjust unless you have high (20k+) conn. limits.\n"
     "0 means unlimited (default: 0)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 0, 4095, "read_buf_mem_limit must be between 0 and 4095 (megabytes)", &n,
                   err)) {
         return false;
       }
       st.s->read_buf_mem_limit = static_cast<int>(n);
       return true;
     }},
    {"lru_maintainer", SubArg::kNone, "enable new LRU system + background thread (default)",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->lru_maintainer = true;
       st.s->lru_segmented = true;
       return true;
     }},
    {"no_lru_maintainer", SubArg::kNone, "disable new LRU system + background thread.",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->lru_maintainer = false;
       st.s->lru_segmented = false;
       return true;
     }},
    {"hot_lru_pct", SubArg::kRequired,
     "pct of slab memory to reserve for hot lru.\n(requires lru_maintainer, default pct: 20)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 1, 79, "hot_lru_pct must be > 1 and < 80", &n, err)) return false;
       st.s->hot_lru_pct = static_cast<int>(n);
       return true;
     }},
    {"warm_lru_pct", SubArg::kRequired,
     "pct of slab memory to reserve for warm lru.\n(requires lru_maintainer, default pct: 40)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 1, 79, "warm_lru_pct must be > 1 and < 80", &n, err)) return false;
       st.s->warm_lru_pct = static_cast<int>(n);
       return true;
     }},
    {"hot_max_factor", SubArg::kRequired,
     "items idle > cold lru age * drop from hot lru. (default: 0.20)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       double f = 0;
       if (!SubDouble(v, &f, err)) return false;
       if (f <= 0) {
         *err = "hot_max_factor must be > 0";
         return false;
       }
       st.s->hot_max_factor = f;
       return true;
     }},
    {"warm_max_factor", SubArg::kRequired,
     "items idle > cold lru age * this drop from warm. (default: 2.00)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       double f = 0;
       if (!SubDouble(v, &f, err)) return false;
       if (f <= 0) {
         *err = "warm_max_factor must be > 0";
         return false;
       }
       st.s->warm_max_factor = f;
       return true;
     }},
    // Not a memcached 1.6.18 token (there, temporary_ttl= is what turns the temp LRU on).
    {"temp_lru", SubArg::kNone,
     "give short-TTL items their own LRU (requires lru_maintainer;\n"
     "temporary_ttl=N also turns this on)",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->temp_lru = true;
       return true;
     }},
    {"temporary_ttl", SubArg::kRequired,
     "TTL's below get separate LRU, can't be evicted.\n(requires lru_maintainer, default: 61)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 0, INT_MAX, "temporary_ttl must not be negative", &n, err)) return false;
       st.s->temp_lru = true;
       st.s->temporary_ttl = static_cast<int>(n);
       return true;
     }},
    {"idle_timeout", SubArg::kRequired, "timeout for idle connections. (default: 0, no timeout)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 0, INT_MAX, "idle_timeout must not be negative", &n, err)) return false;
       st.s->idle_timeout = static_cast<int>(n);
       return true;
     }},
    {"slab_chunk_max", SubArg::kRequired,
     "(EXPERIMENTAL) maximum slab chunk size in bytes, as\n"
     "memcached 1.6.18 reads it (k/m suffix accepted).\n"
     "use extreme care. (default: 524288)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       // memcached 1.6.18 parses bytes (safe_strtol) although its -h says kilobytes; 1.6.24
       // switched to kilobytes. The 1.6.18 suite passes bytes: "-I 1024 -o slab_chunk_max=1024".
       unsigned long long bytes = 0;
       if (!ParseScaled(*v, 1, "km", &bytes) || bytes == 0 || bytes > INT_MAX) {
         *err = "could not parse argument to slab_chunk_max (bytes, greater than 0): " + Quoted(*v);
         return false;
       }
       st.s->slab_chunk_max = static_cast<std::size_t>(bytes);
       st.slab_chunk_max_changed = true;
       return true;
     }},
    {"watcher_logbuf_size", SubArg::kRequired,
     "size in kilobytes of per-watcher write buffer. (default: 256)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       return SubKilobytes(v, &st.s->watcher_logbuf_size, err);
     }},
    {"worker_logbuf_size", SubArg::kRequired,
     "size in kilobytes of per-worker-thread buffer\n"
     "read by background thread, then written to watchers. (default: 64)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       return SubKilobytes(v, &st.s->worker_logbuf_size, err);
     }},
    {"track_sizes", SubArg::kNone, "enable dynamic reports for 'stats sizes' command.",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->track_sizes = true;
       return true;
     }},
    {"modern", SubArg::kNone, "enables options which will be default in future.\ncurrently: nothing",
     NoOp},
    {"no_modern", SubArg::kNone, "uses defaults of previous major version (1.4.x)",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       // memcached's NO_MODERN case, field for field.
       if (!st.slab_chunk_max_changed) st.s->slab_chunk_max = kSlabPageSize;
       st.s->slab_reassign = false;
       st.s->slab_automove = 0;
       st.s->maxconns_fast = false;
       st.s->lru_segmented = false;
       st.s->hash_algorithm = "jenkins";
       st.s->lru_crawler = false;
       st.s->lru_maintainer = false;
       return true;
     }},
    {"slab_reassign", SubArg::kNone, "allow slab pages to move between classes (default: enabled)",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->slab_reassign = true;
       return true;
     }},
    {"no_slab_reassign", SubArg::kNone, "never move slab pages between classes",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->slab_reassign = false;
       return true;
     }},
    {"slab_automove", SubArg::kOptional,
     "0 = off, 1 = move pages by age (default), 2 = aggressively;\nno value means 1",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 1;
       if (v && !SubInt(v, 0, 2, "slab_automove must be between 0 and 2", &n, err)) return false;
       st.s->slab_automove = static_cast<int>(n);
       return true;
     }},
    {"no_slab_automove", SubArg::kNone, "same as slab_automove=0",
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->slab_automove = 0;
       return true;
     }},
    {"slab_automove_ratio", SubArg::kRequired,
     "ratio of a class's free memory that lets it give\npages away (default: 0.80)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       double f = 0;
       if (!SubDouble(v, &f, err)) return false;
       if (f <= 0 || f > 1) {
         *err = "slab_automove_ratio must be > 0 and < 1";
         return false;
       }
       st.s->slab_automove_ratio = f;
       return true;
     }},
    {"slab_automove_window", SubArg::kRequired,
     "seconds of history the page mover looks at (default: 30)",
     [](const std::optional<std::string>& v, ParseState& st, std::string* err) {
       long long n = 0;
       if (!SubInt(v, 3, INT_MAX, "slab_automove_window must be > 2", &n, err)) return false;
       st.s->slab_automove_window = static_cast<int>(n);
       return true;
     }},
    {"sock_cookie_id", SubArg::kOptional,
     "attributes an ID to a socket for ip filtering/firewalls\n(accepted; has no effect here)",
     [](const std::optional<std::string>& v, ParseState&, std::string* err) {
       long long n = 0;
       if (v && !SubInt(v, 0, UINT32_MAX, "sock_cookie_id takes a numeric 32bit value", &n, err)) {
         return false;
       }
       return true;
     }},
    // Accepted so that command lines written for memcached keep working, but not documented in
    // -h: relaxed_privileges is memcached-debug's (its test suite always passes it), the
    // *drop_privileges pair exists only on some builds and t/ keys tests off "no_drop_privileges"
    // in -h, and the rest are memcached's undocumented or legacy tokens.
    {"relaxed_privileges", SubArg::kNone, nullptr, NoOp},
    {"drop_privileges", SubArg::kNone, nullptr, NoOp},
    {"no_drop_privileges", SubArg::kNone, nullptr, NoOp},
    {"inline_ascii_resp", SubArg::kNone, nullptr, NoOp},
    {"no_inline_ascii_resp", SubArg::kNone, nullptr, NoOp},
    {"resp_obj_mem_limit", SubArg::kOptional, nullptr, NoOp},  // deprecated in memcached too
    {"slab_sizes", SubArg::kRequired, nullptr, NoOp},  // jemalloc's classes are used instead
    {"no_chunked_items", SubArg::kNone, nullptr,
     [](const std::optional<std::string>&, ParseState& st, std::string*) {
       st.s->slab_chunk_max = kSlabPageSize;
       return true;
     }},
};

bool ApplyExtended(const std::string& value, ParseState& st, std::string* err) {
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    std::string item =
        value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? value.size() + 1 : comma + 1;
    if (item.empty()) continue;  // "a,,b" and a trailing comma are harmless

    std::size_t eq = item.find('=');
    std::string name = item.substr(0, eq);
    std::optional<std::string> sub_value;
    if (eq != std::string::npos) sub_value = item.substr(eq + 1);

    const ExtendedSpec* spec = nullptr;
    for (const ExtendedSpec& e : kExtended) {
      if (name == e.name) spec = &e;
    }
    if (spec == nullptr) {
      *err = "Illegal suboption " + Quoted(item);  // memcached's wording
      return false;
    }
    if (spec->arg == SubArg::kNone) sub_value.reset();
    if (spec->arg == SubArg::kRequired && (!sub_value || sub_value->empty())) {
      *err = "Missing " + name + " argument (" + name + "=<value>)";
      return false;
    }
    if (spec->arg == SubArg::kOptional && sub_value && sub_value->empty()) sub_value.reset();
    std::string sub_err;
    if (!spec->apply(sub_value, st, &sub_err)) {
      *err = name + ": " + sub_err;
      return false;
    }
  }
  return true;
}

// ---- cross-option checks (memcached main(), after the getopt loop) --------------------------

bool Validate(ParseState& st, std::string* err) {
  Settings& s = *st.s;
  if (s.item_size_max < kItemSizeMaxLower) {
    *err = "Item max size cannot be less than 1024 bytes (-I " + std::to_string(s.item_size_max) +
           ")";
    return false;
  }
  if (s.item_size_max > s.maxbytes / 2) {
    *err = "Cannot set item size limit higher than 1/2 of memory max (-I " +
           std::to_string(s.item_size_max) + " bytes, -m " + std::to_string(s.maxbytes >> 20) +
           " megabytes)";
    return false;
  }
  if (s.item_size_max > kItemSizeMaxUpper) {
    *err = "Cannot set item size limit higher than a gigabyte (-I " +
           std::to_string(s.item_size_max) + ")";
    return false;
  }
  if (s.item_size_max > kSlabPageSize && !st.slab_chunk_max_changed) {
    s.slab_chunk_max = kSlabPageSize / 2;
  }
  if (s.slab_chunk_max > s.item_size_max) {
    *err = "slab_chunk_max (bytes: " + std::to_string(s.slab_chunk_max) +
           ") cannot be larger than -I (item_size_max " + std::to_string(s.item_size_max) + ")";
    return false;
  }
  if (s.item_size_max % s.slab_chunk_max != 0) {
    *err = "-I (item_size_max: " + std::to_string(s.item_size_max) +
           ") must be evenly divisible by slab_chunk_max (bytes: " +
           std::to_string(s.slab_chunk_max) + ")";
    return false;
  }
  if (kSlabPageSize % s.slab_chunk_max != 0) {
    *err = "slab_chunk_max (bytes: " + std::to_string(s.slab_chunk_max) +
           ") must divide evenly into " + std::to_string(kSlabPageSize) + " (slab_page_size)";
    return false;
  }
  if (s.hot_lru_pct + s.warm_lru_pct > 80) {
    *err = "hot_lru_pct + warm_lru_pct cannot be more than 80% combined";
    return false;
  }
  if (s.temp_lru && !s.lru_maintainer) {
    *err = "temporary_ttl requires lru_maintainer to be enabled";
    return false;
  }
  // memcached: a UDP port given without a TCP port moves the TCP port too.
  if (st.udp_specified && s.udp_port != 0 && !st.tcp_specified) s.port = s.udp_port;
  // A PostgreSQL origin is asked with a query; there is no sensible default table.
  std::string scheme = s.origin.substr(0, 8);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "postgres" && s.origin_query.empty()) {
    *err = "--origin " + origin::RedactUrl(s.origin) +
           " needs --origin-query (e.g. 'SELECT value FROM kv WHERE key = $1')";
    return false;
  }
  // Cluster members are reached over TCP: clients and peers need a host and a port.
  if (!s.cluster.empty() && (!s.unix_socket.empty() || s.port == 0)) {
    *err = "--cluster needs a TCP listener (not -s, not -p 0)";
    return false;
  }
  // Copies travel over peer links, which only a shared secret authenticates.
  if (!s.cluster.empty() && s.replicas > 1 && s.cluster_secret_file.empty()) {
    *err = "--replicas " + std::to_string(s.replicas) +
           " needs --cluster-secret-file (the peer links that carry the copies authenticate "
           "with it); or --replicas 1";
    return false;
  }
  if (s.replicas == 0) s.replicas = s.cluster_secret_file.empty() ? 1 : 2;
  return true;
}

// ---- Splitting the command line and the config file into options ---------------------------
//
// Hand-written rather than a library's: getopt_long's rules, which memcached follows, are short,
// and the option libraries on offer (Boost.Program_options was used until session 17) bring
// iostreams along, whose start-up builds the C++ locale. With it and the few streams the server
// used, the idle process mapped 5.7 MB of library and program pages; without, 4.8 MB (1.4% of a
// 64 MB cache's RSS; doc/performance.md). The server's code uses stdio, not streams, for files.

// One option as given: its table entry, its value ("" for a switch), and the words it came from,
// for messages ("-p 11211", "--port=11211", "-dv").
struct GivenOption {
  const OptionSpec* spec;
  std::string value;
  std::string words;
};

const OptionSpec* FindShortOption(char c) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.short_name != '\0' && spec.short_name == c) return &spec;
  }
  return nullptr;
}

// A long name, or an unambiguous prefix of one (getopt_long accepts "--conn-lim=5").
const OptionSpec* FindLongOption(std::string_view name, std::string* err) {
  if (const OptionSpec* exact = FindOption(name)) return exact;
  const OptionSpec* found = nullptr;
  int matches = 0;
  std::string candidates;
  for (const OptionSpec& spec : kOptions) {
    if (name.empty() || std::string_view(spec.long_name).substr(0, name.size()) != name) continue;
    found = &spec;
    ++matches;
    candidates += (matches > 1 ? ", --" : "--") + std::string(spec.long_name);
  }
  if (matches == 1) return found;
  *err = matches == 0 ? "unrecognised option '--" + std::string(name) + "'"
                      : "option '--" + std::string(name) + "' is ambiguous: " + candidates;
  return nullptr;
}

// argv as getopt_long reads it: "-p 11211", "-p11211", switches grouped ("-dv", "-vvv"), a value
// option last in a group taking the rest of the word or the next one ("-dp11211"), "--port=11211",
// "--port 11211". A value is the next word whatever it looks like ("-p -1"). getopt moves words
// that are not options to the end and memcached ignores them; we refuse them, since a forgotten
// -o ("memcached modern") would otherwise be dropped silently. "--" ends the options.
bool SplitCommandLine(int argc, const char* const* argv, std::vector<GivenOption>* out,
                      std::string* err) {
  for (int i = 1; i < argc; ++i) {
    std::string_view word = argv[i];
    // A value option's value: the word from `rest` on if that is not npos, else the next word.
    auto take_value = [&](const OptionSpec* spec, std::size_t rest, const std::string& name) {
      if (rest != std::string_view::npos) {
        out->push_back({spec, std::string(word.substr(rest)), std::string(word)});
      } else if (i + 1 < argc) {
        out->push_back({spec, argv[i + 1], std::string(word) + " " + argv[i + 1]});
        ++i;
      } else {
        *err = "option '" + name + "' needs a value";
        return false;
      }
      return true;
    };
    if (word == "--") {
      if (i + 1 < argc) {
        *err = "unexpected argument '" + std::string(argv[i + 1]) + "'";
        return false;
      }
      break;
    }
    if (word.size() > 2 && word.substr(0, 2) == "--") {
      std::string_view body = word.substr(2);
      std::size_t eq = body.find('=');
      const OptionSpec* spec = FindLongOption(body.substr(0, eq), err);
      if (spec == nullptr) return false;
      std::string name = std::string("--") + spec->long_name;
      if (spec->arg != Arg::kValue) {  // a switch, or -v (counted)
        if (eq != std::string_view::npos) {
          *err = "option '" + name + "' does not take a value";
          return false;
        }
        out->push_back({spec, "", std::string(word)});
      } else if (!take_value(spec, eq == std::string_view::npos ? eq : 2 + eq + 1, name)) {
        return false;
      }
      continue;
    }
    if (word.size() < 2 || word[0] != '-') {
      *err = "unexpected argument '" + std::string(word) + "'";
      return false;
    }
    for (std::size_t j = 1; j < word.size(); ++j) {
      const OptionSpec* spec = FindShortOption(word[j]);
      if (spec == nullptr) {
        *err = "unrecognised option '-" + std::string(1, word[j]) + "'";
        return false;
      }
      if (spec->arg != Arg::kValue) {  // a switch, or -v (counted)
        out->push_back({spec, "", std::string(word)});
        continue;
      }
      std::size_t rest = j + 1 < word.size() ? j + 1 : std::string_view::npos;
      if (!take_value(spec, rest, "-" + std::string(1, word[j]))) return false;
      break;
    }
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// A config file's lines: "name = value", "#" to the end of a line a comment, blank lines
// skipped, every name one that a config file may set (conf/ringcached.conf says the same).
bool LoadConfigFile(const std::string& path, ParseState& st, std::string* out) {
  std::string text;
  if (!base::ReadFile(path, &text)) {
    *out = "--config-file " + path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  st.source = Source::kConfigFile;
  std::size_t line_no = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    line = Trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::string at = path + ":" + std::to_string(line_no) + ": ";
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      *out = at + "'" + std::string(line) + "': expected name = value";
      return false;
    }
    std::string name(Trim(line.substr(0, eq)));
    std::string value(Trim(line.substr(eq + 1)));
    const OptionSpec* spec = FindOption(name);
    std::string where = at + name + " = " + value;
    if (spec == nullptr) {
      *out = where + ": no such option";
      return false;
    }
    if (!spec->in_config_file || spec->apply == nullptr) {
      *out = where + ": not allowed in a config file";
      return false;
    }
    std::string err;
    if (spec->arg == Arg::kNone) {
      bool on = false;
      if (!ParseBool(value, &on)) {
        *out = where + ": expects true or false";
        return false;
      }
      if (!on) continue;  // a switch cannot be turned back off; false means "not given"
    }
    if (!spec->apply(value, st, &err)) {
      *out = where + ": " + err;
      return false;
    }
  }
  return true;
}

ParseOutcome Parse(int argc, const char* const* argv, Settings* settings, std::string* out) {
  std::vector<GivenOption> given;
  if (!SplitCommandLine(argc, argv, &given, out)) return ParseOutcome::kExitError;

  // getopt would stop at -h, -i or -V as soon as it met one; so do we, before any file is read.
  std::string config_file;
  bool has_config_file = false;
  for (const GivenOption& opt : given) {
    std::string_view name = opt.spec->long_name;
    if (name == "help") {
      *out = HelpText();
      return ParseOutcome::kExitOk;
    }
    if (name == "version") {
      *out = VersionText();
      return ParseOutcome::kExitOk;
    }
    if (name == "license") {
      *out = std::string(kVersionLine) +
             "A memcached-compatible cache server. See the COPYING or LICENSE file that\n"
             "comes with the source for its license.\n"
             "It uses libevent (3-clause BSD license), jemalloc (2-clause BSD license)\n"
             "and the ZooKeeper C client (Apache License 2.0), each under its own license.\n";
      return ParseOutcome::kExitOk;
    }
    if (name == "config-file") {
      config_file = opt.value;
      has_config_file = true;
    }
  }

  ParseState st;
  st.s = settings;
  if (has_config_file) {
    if (config_file.empty()) {
      *out = "--config-file: the file name is empty";
      return ParseOutcome::kExitError;
    }
    settings->config_file = config_file;
    if (!LoadConfigFile(config_file, st, out)) return ParseOutcome::kExitError;
  }

  st.source = Source::kCommandLine;
  for (const GivenOption& opt : given) {
    if (opt.spec->apply == nullptr) continue;  // config-file, handled above
    std::string err;
    if (!opt.spec->apply(opt.value, st, &err)) {
      *out = opt.words + ": " + err;
      return ParseOutcome::kExitError;
    }
  }

  if (!Validate(st, out)) return ParseOutcome::kExitError;
  out->clear();
  return ParseOutcome::kRun;
}

// ---- -h -------------------------------------------------------------------------------------

// One help entry: `left` padded to the help column, then the help lines, continuation lines
// indented to the same column (memcached's usage() layout).
void AppendEntry(std::string* out, const std::string& left, std::string_view help) {
  *out += left;
  if (left.size() < kHelpColumn) {
    out->append(kHelpColumn - left.size(), ' ');
  } else {
    *out += ' ';
  }
  std::size_t start = 0;
  while (true) {
    std::size_t nl = help.find('\n', start);
    *out += help.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    *out += '\n';
    if (nl == std::string_view::npos) break;
    out->append(kHelpColumn, ' ');
    start = nl + 1;
  }
}

std::string FormatDouble(double d, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, d);
  return buf;
}

}  // namespace

ParseOutcome ParseCommandLine(int argc, const char* const* argv, Settings* settings,
                              std::string* out) {
  out->clear();
  try {
    return Parse(argc, argv, settings, out);
  } catch (const std::exception& e) {
    *out = std::string("error while reading options: ") + e.what();
  } catch (...) {
    *out = "error while reading options";
  }
  return ParseOutcome::kExitError;
}

std::string HelpText() {
  std::string out = kVersionLine;
  for (const OptionSpec& spec : kOptions) {
    std::string left;
    if (spec.short_name != '\0') {
      left = std::string("-") + spec.short_name + ", --" + spec.long_name;
    } else {
      left = std::string("    --") + spec.long_name;
    }
    if (spec.arg == Arg::kValue) left += std::string("=") + spec.value_label;
    AppendEntry(&out, left, spec.help);
    if (spec.help_extra != nullptr) out += spec.help_extra;
    if (spec.apply == ApplyExtended) {
      for (const ExtendedSpec& e : kExtended) {
        if (e.help != nullptr) AppendEntry(&out, std::string("   - ") + e.name + ":", e.help);
      }
    }
  }
  return out;
}

std::string VersionText() { return kVersionLine; }

std::vector<std::pair<std::string, std::string>> SettingsForStats(const Settings& s,
                                                                  std::uint32_t oldest_live) {
  auto yes_no = [](bool b) { return std::string(b ? "yes" : "no"); };
  auto num = [](auto n) { return std::to_string(n); };
  std::string inter;
  for (const std::string& addr : s.listen) inter += (inter.empty() ? "" : ",") + addr;
  char umask[16];
  std::snprintf(umask, sizeof(umask), "%o", static_cast<unsigned>(s.unix_mask));
  const char* protocol = s.protocol == Protocol::kAscii    ? "ascii"
                         : s.protocol == Protocol::kBinary ? "binary"
                                                           : "auto-negotiate";
  // memcached: one UDP thread per -l address when there are several, else all of them.
  int threads_per_udp = s.listen.size() > 1 ? 1 : s.num_threads;

  // The order and formats of memcached 1.6.18's process_stat_settings(), as Debian 12's build
  // (with extstore and TLS compiled in) prints them. This build has neither, so the ext_* and
  // ssl_* keys carry the values of those features switched off -- which is the truth here too --
  // and scrapers written against Debian's memcached find every key they expect.
  std::vector<std::pair<std::string, std::string>> stats = {
      {"maxbytes", num(static_cast<unsigned long long>(s.maxbytes))},
      {"maxconns", num(s.maxconns)},
      {"tcpport", num(s.port)},
      {"udpport", num(s.udp_port)},
      {"inter", inter.empty() ? "NULL" : inter},
      {"verbosity", num(s.verbose)},
      {"oldest", num(static_cast<unsigned long>(oldest_live))},
      {"evictions", s.evictions ? "on" : "off"},
      {"domain_socket", s.unix_socket.empty() ? "NULL" : s.unix_socket},
      {"umask", umask},
      {"shutdown_command", yes_no(s.enable_shutdown)},
      {"growth_factor", FormatDouble(s.growth_factor, 2)},
      {"chunk_size", num(s.chunk_size)},
      {"num_threads", num(s.num_threads)},
      {"num_threads_per_udp", num(threads_per_udp)},
      {"stat_key_prefix", std::string(1, s.prefix_delimiter)},
      {"detail_enabled", yes_no(s.detail_enabled)},
      {"reqs_per_event", num(s.reqs_per_event)},
      {"cas_enabled", yes_no(s.use_cas)},
      {"tcp_backlog", num(s.backlog)},
      {"binding_protocol", protocol},
      {"auth_enabled_sasl", "no"},
      {"auth_enabled_ascii", "no"},
      {"item_size_max", num(static_cast<unsigned long long>(s.item_size_max))},
      {"maxconns_fast", yes_no(s.maxconns_fast)},
      {"hashpower_init", num(s.hashpower_init)},
      {"slab_reassign", yes_no(s.slab_reassign)},
      {"slab_automove", num(s.slab_automove)},
      {"slab_automove_ratio", FormatDouble(s.slab_automove_ratio, 2)},
      {"slab_automove_window", num(s.slab_automove_window)},
      {"slab_chunk_max", num(static_cast<unsigned long long>(s.slab_chunk_max))},
      {"lru_crawler", yes_no(s.lru_crawler)},
      {"lru_crawler_sleep", num(s.lru_crawler_sleep)},
      {"lru_crawler_tocrawl", num(s.lru_crawler_tocrawl)},
      {"tail_repair_time", num(s.tail_repair_time)},
      {"flush_enabled", yes_no(s.flush_enabled)},
      {"dump_enabled", yes_no(s.dump_enabled)},
      {"hash_algorithm", s.hash_algorithm},
      {"lru_maintainer_thread", yes_no(s.lru_maintainer)},
      {"lru_segmented", yes_no(s.lru_segmented)},
      {"hot_lru_pct", num(s.hot_lru_pct)},
      {"warm_lru_pct", num(s.warm_lru_pct)},
      {"hot_max_factor", FormatDouble(s.hot_max_factor, 2)},
      {"warm_max_factor", FormatDouble(s.warm_max_factor, 2)},
      {"temp_lru", yes_no(s.temp_lru)},
      {"temporary_ttl", num(s.temporary_ttl)},
      {"idle_timeout", num(s.idle_timeout)},
      {"watcher_logbuf_size", num(s.watcher_logbuf_size)},
      {"worker_logbuf_size", num(s.worker_logbuf_size)},
      // memcached stores read_buf_mem_limit in bytes (the option is megabytes).
      {"read_buf_mem_limit", num(static_cast<unsigned long long>(s.read_buf_mem_limit) << 20)},
      {"track_sizes", yes_no(s.track_sizes)},
      {"inline_ascii_response", "no"},
      {"ext_item_size", "512"},
      {"ext_item_age", "4294967295"},
      {"ext_low_ttl", "0"},
      {"ext_recache_rate", "2000"},
      {"ext_wbuf_size", "4194304"},
      {"ext_compact_under", "0"},
      {"ext_drop_under", "0"},
      {"ext_max_sleep", "1000000"},
      {"ext_max_frag", "0.80"},
      {"slab_automove_freeratio", "0.010"},
      {"ext_drop_unread", "no"},
      {"ssl_enabled", "no"},
      {"ssl_chain_cert", "(null)"},
      {"ssl_key", "(null)"},
      {"ssl_verify_mode", "0"},
      {"ssl_keyformat", "1"},
      {"ssl_ciphers", "NULL"},
      {"ssl_ca_cert", "NULL"},
      {"ssl_wbuf_size", "16384"},
      {"ssl_session_cache", "no"},
      {"ssl_kernel_tls", "no"},
      {"ssl_min_version", "tlsv1.2"},
      // memcached prints these two with "%s" of a null pointer; glibc writes "(null)".
      {"num_napi_ids", "(null)"},
      {"memory_file", "(null)"},
  };
  // Cluster settings follow memcached's list, and only in a cluster: a single node's
  // `stats settings` stays memcached's, key for key.
  if (!s.cluster.empty()) {
    for (auto& kv : std::vector<std::pair<std::string, std::string>>{
             {"cluster", s.cluster},
             {"advertise", s.advertise.empty() ? "(default)" : s.advertise},
             {"weight", num(s.weight)},
             {"ring_profile", s.ring_profile},
             {"ring_debounce_ms", num(s.ring_debounce_ms)},
             {"zk_session_timeout_ms", num(s.zk_session_timeout_ms)},
             {"cluster_secret_file",
              s.cluster_secret_file.empty() ? "NULL" : s.cluster_secret_file},
             {"replicas", num(s.replicas)},
             {"replication", s.replication},
             {"replication_timeout_ms", num(s.replication_timeout_ms)},
             {"tombstone_ttl", num(s.tombstone_ttl)},
             {"guest_ttl", num(s.guest_ttl)},
             {"handoff_rate", num(s.handoff_rate)},
             {"handoff_drop_delay", num(s.handoff_drop_delay)},
             {"handoff_timeout", num(s.handoff_timeout)},
             {"max_clock_skew_ms", num(s.max_clock_skew_ms)},
             {"hot_key_qps", num(s.hot_key_qps)},
             {"hot_key_share", FormatDouble(s.hot_key_share, 2)},
             {"hot_copies", num(s.hot_copies)},
             {"hot_copy_ttl", num(s.hot_copy_ttl)}}) {
      stats.push_back(std::move(kv));
    }
  }
  // Read-through settings, likewise only with an origin (passwords never shown).
  if (!s.origin.empty()) {
    for (auto& kv : std::vector<std::pair<std::string, std::string>>{
             {"origin", origin::RedactUrl(s.origin)},
             {"origin_query", s.origin_query.empty() ? "NULL" : s.origin_query},
             {"origin_key_prefix", s.origin_key_prefix.empty() ? "NULL" : s.origin_key_prefix},
             {"origin_ttl", num(s.origin_ttl)},
             {"origin_negative_ttl", num(s.origin_negative_ttl)},
             {"origin_timeout_ms", num(s.origin_timeout_ms)},
             {"origin_connections", num(s.origin_connections)},
             {"origin_breaker_failures", num(s.origin_breaker_failures)},
             {"origin_breaker_open_ms", num(s.origin_breaker_open_ms)}}) {
      stats.push_back(std::move(kv));
    }
  }
  return stats;
}

base::Result<HostPort> SplitHostPort(std::string_view text) {
  HostPort split;
  std::string_view rest;  // "" or ":port"
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close != std::string_view::npos) rest = text.substr(close + 1);
    if (close == std::string_view::npos || !(rest.empty() || rest.starts_with(':'))) {
      return base::Status::InvalidArgument("Invalid IPv6 address " + Quoted(text) +
                                           " (expected [address] or [address]:port)");
    }
    split.host = text.substr(1, close - 1);
  } else {
    std::size_t colon = text.find(':');
    if (colon == std::string_view::npos || text.find(':', colon + 1) != std::string_view::npos) {
      split.host = text;  // a name, an IPv4 address, or a bare IPv6 address
      return split;
    }
    split.host = text.substr(0, colon);
    rest = text.substr(colon);
  }
  if (rest.empty()) return split;
  long long port = 0;
  if (!ParseIntIn(rest.substr(1), 0, 65535, &port)) {
    return base::Status::InvalidArgument("Invalid port number " + Quoted(rest.substr(1)) +
                                         " in " + std::string(text) + " (expected 0 to 65535)");
  }
  split.port = static_cast<int>(port);
  return split;
}

base::Result<HostPort> ParseListenAddress(std::string_view spec) {
  if (spec.starts_with("notls:")) spec.remove_prefix(6);
  return SplitHostPort(spec);
}

std::vector<std::string> AllOptionNames() {
  std::vector<std::string> names;
  for (const OptionSpec& spec : kOptions) names.emplace_back(spec.long_name);
  return names;
}

std::vector<std::string> ConfigFileOptionNames() {
  std::vector<std::string> names;
  for (const OptionSpec& spec : kOptions) {
    if (spec.in_config_file) names.emplace_back(spec.long_name);
  }
  return names;
}

std::vector<std::string> AllExtendedOptionNames() {
  std::vector<std::string> names;
  for (const ExtendedSpec& e : kExtended) {
    if (e.help != nullptr) names.emplace_back(e.name);
  }
  return names;
}

}  // namespace rc::server
