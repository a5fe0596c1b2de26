// t/unit/server/options_test.cc -- the command line (src/server/options.cc): defaults, every
// flag, -o sub-options, memcached 1.6.18's start-up validation (PROTOCOL.md section 8), the
// host:port splitter of -l and --advertise, the -h rules of section 9, --config-file and its
// precedence, the `stats settings` list, and that man/ringcached.1 and conf/ringcached.conf
// document every option of the table.
//
// RC_SOURCE_DIR (t/unit/server/local.am) points at the source tree so the documentation tests
// can read man/ and conf/ from an out-of-tree build.
#include "server/options.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "options_support.h"
#include "ringcached/base/version.h"

namespace rc::server {
namespace {

using rc::testing::Parsed;
using rc::testing::ParseArgs;
using rc::testing::StatsOf;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string DescribeArgs(std::initializer_list<std::string> args) {
  std::string d;
  for (const std::string& a : args) d += "[" + a + "] ";
  return d;
}

// A file under the test temp dir, removed when the object goes away.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    static int counter = 0;
    path_ = ::testing::TempDir() + "ringcached_options_test_" + std::to_string(getpid()) + "_" +
            std::to_string(counter++) + ".conf";
    std::ofstream(path_) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- defaults and single options --------------------------------------------------------------

TEST(OptionsTest, NoArgumentsGivesMemcachedDefaults) {
  Parsed p = ParseArgs({});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  EXPECT_EQ(p.out, "");
  const Settings& s = p.settings;
  EXPECT_EQ(s.port, 11211);
  EXPECT_EQ(s.udp_port, 0);
  EXPECT_TRUE(s.listen.empty());
  EXPECT_EQ(s.unix_socket, "");
  EXPECT_EQ(s.unix_mask, 0700);
  EXPECT_EQ(s.maxconns, 1024);
  EXPECT_EQ(s.backlog, 1024);
  EXPECT_EQ(s.reqs_per_event, 20);
  EXPECT_EQ(s.protocol, Protocol::kAuto);
  EXPECT_EQ(s.num_threads, 4);
  EXPECT_EQ(s.verbose, 0);
  EXPECT_EQ(s.maxbytes, 64u << 20);
  EXPECT_EQ(s.item_size_max, 1u << 20);
  EXPECT_EQ(s.slab_chunk_max, 512u << 10);
  EXPECT_TRUE(s.evictions);
  EXPECT_TRUE(s.use_cas);
  EXPECT_FALSE(s.daemonize);
  EXPECT_FALSE(s.detail_enabled);
  EXPECT_EQ(s.prefix_delimiter, ':');
  EXPECT_TRUE(s.lru_crawler);
  EXPECT_TRUE(s.lru_maintainer);
  EXPECT_EQ(s.hash_algorithm, "murmur3");
  EXPECT_EQ(s.config_file, "");
}

struct FlagCase {
  std::initializer_list<std::string> args;
  std::function<bool(const Settings&)> check;
  const char* what;
};

TEST(OptionsTest, EachFlagSetsItsField) {
  const FlagCase kCases[] = {
      {{"-p", "12345"}, [](const Settings& s) { return s.port == 12345; }, "-p"},
      {{"--port=12346"}, [](const Settings& s) { return s.port == 12346; }, "--port="},
      {{"--port", "12347"}, [](const Settings& s) { return s.port == 12347; }, "--port"},
      {{"-p12348"}, [](const Settings& s) { return s.port == 12348; }, "-p attached"},
      {{"-p", "-1"}, [](const Settings& s) { return s.port == -1; }, "-p -1 ephemeral"},
      {{"-p", "0"}, [](const Settings& s) { return s.port == 0; }, "-p 0 off"},
      {{"-p", "1", "-p", "2"}, [](const Settings& s) { return s.port == 2; }, "last -p wins"},
      {{"-U", "7777", "-p", "11211"},
       [](const Settings& s) { return s.udp_port == 7777 && s.port == 11211; }, "-U with -p"},
      {{"-U", "7777"}, [](const Settings& s) { return s.udp_port == 7777 && s.port == 7777; },
       "-U alone moves the TCP port (memcached)"},
      {{"-s", "/tmp/x.sock"}, [](const Settings& s) { return s.unix_socket == "/tmp/x.sock"; },
       "-s"},
      {{"--unix-socket=/tmp/y.sock"},
       [](const Settings& s) { return s.unix_socket == "/tmp/y.sock"; }, "--unix-socket"},
      {{"-a", "750"}, [](const Settings& s) { return s.unix_mask == 0750; }, "-a octal"},
      {{"-A"}, [](const Settings& s) { return s.enable_shutdown; }, "-A"},
      {{"-l", "127.0.0.1"},
       [](const Settings& s) { return s.listen == std::vector<std::string>{"127.0.0.1"}; }, "-l"},
      {{"-l", "127.0.0.1,::1", "-l", "10.0.0.1", "-l", "::1"},
       [](const Settings& s) {
         return s.listen == std::vector<std::string>{"127.0.0.1", "::1", "10.0.0.1"};
       },
       "-l list, repeated, deduplicated"},
      {{"-l", "127.0.0.1,"},
       [](const Settings& s) { return s.listen == std::vector<std::string>{"127.0.0.1"}; },
       "-l trailing comma skipped (memcached's strtok)"},
      {{"-l", "127.0.0.1:11311,[::1]:11312,[::1],::1,fe80::1%eth0,cache.example,notls:10.0.0.1:0"},
       [](const Settings& s) {
         return s.listen == std::vector<std::string>{"127.0.0.1:11311", "[::1]:11312", "[::1]",
                                                     "::1", "fe80::1%eth0", "cache.example",
                                                     "notls:10.0.0.1:0"};
       },
       "-l host:port, [v6]:port, [v6], bare v6, name, notls: (memcached's forms)"},
      {{"-d"}, [](const Settings& s) { return s.daemonize; }, "-d"},
      {{"-r"}, [](const Settings& s) { return s.enable_coredumps; }, "-r"},
      {{"-u", "nobody"}, [](const Settings& s) { return s.user == "nobody"; }, "-u"},
      {{"-m", "128"}, [](const Settings& s) { return s.maxbytes == 128u << 20; }, "-m MB"},
      {{"--memory-limit=1g"}, [](const Settings& s) { return s.maxbytes == 1u << 30; },
       "-m suffix"},
      {{"-M"}, [](const Settings& s) { return !s.evictions; }, "-M"},
      {{"-c", "10"}, [](const Settings& s) { return s.maxconns == 10; }, "-c"},
      {{"-k"}, [](const Settings& s) { return s.lock_memory; }, "-k"},
      {{"-v"}, [](const Settings& s) { return s.verbose == 1; }, "-v"},
      {{"-vv"}, [](const Settings& s) { return s.verbose == 2; }, "-vv"},
      {{"-vvv"}, [](const Settings& s) { return s.verbose == 3; }, "-vvv"},
      {{"-v", "-v", "--verbose"}, [](const Settings& s) { return s.verbose == 3; }, "-v -v"},
      {{"-dv"}, [](const Settings& s) { return s.daemonize && s.verbose == 1; }, "grouped"},
      {{"-P", "/tmp/pid"}, [](const Settings& s) { return s.pid_file == "/tmp/pid"; }, "-P"},
      {{"-f", "1.5"}, [](const Settings& s) { return s.growth_factor == 1.5; }, "-f"},
      {{"-n", "64"}, [](const Settings& s) { return s.chunk_size == 64; }, "-n"},
      {{"-L"}, [](const Settings& s) { return s.large_pages; }, "-L"},
      {{"-D", "#"},
       [](const Settings& s) { return s.prefix_delimiter == '#' && s.detail_enabled; }, "-D"},
      {{"-t", "8"}, [](const Settings& s) { return s.num_threads == 8; }, "-t"},
      {{"-R", "1"}, [](const Settings& s) { return s.reqs_per_event == 1; }, "-R"},
      {{"-C"}, [](const Settings& s) { return !s.use_cas; }, "-C"},
      {{"-b", "64"}, [](const Settings& s) { return s.backlog == 64; }, "-b"},
      {{"-B", "ascii"}, [](const Settings& s) { return s.protocol == Protocol::kAscii; }, "-B"},
      {{"-B", "binary"}, [](const Settings& s) { return s.protocol == Protocol::kBinary; }, "-B"},
      {{"-B", "auto"}, [](const Settings& s) { return s.protocol == Protocol::kAuto; }, "-B"},
      {{"-I", "2m"}, [](const Settings& s) { return s.item_size_max == 2u << 20; }, "-I m"},
      {{"-F"}, [](const Settings& s) { return !s.flush_enabled; }, "-F"},
      {{"-X"}, [](const Settings& s) { return !s.dump_enabled; }, "-X"},
      {{"-W"}, [](const Settings& s) { return !s.watch_enabled; }, "-W"},
      {{"--conn-lim=5"}, [](const Settings& s) { return s.maxconns == 5; },
       "unambiguous long prefix (getopt_long does the same)"},
  };
  for (const FlagCase& c : kCases) {
    SCOPED_TRACE(std::string(c.what) + ": " + DescribeArgs(c.args));
    Parsed p = ParseArgs(c.args);
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_TRUE(c.check(p.settings));
  }
}

TEST(OptionsTest, ItemSizeCasesFromMemcachedsItemSizeMaxTest) {
  // memcached t/item_size_max.t (1.6.18): each of these must start.
  struct Case {
    std::initializer_list<std::string> args;
    std::size_t item_size_max;
    std::size_t slab_chunk_max;
  };
  const Case kCases[] = {
      {{"-I", "1024", "-o", "slab_chunk_max=1024"}, 1024, 1024},
      {{"-I", "2097152"}, 2097152, 524288},
      {{"-I", "512k", "-o", "slab_chunk_max=16384"}, 524288, 16384},
      {{"-m", "256", "-I", "32m"}, 33554432, 524288},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(DescribeArgs(c.args));
    Parsed p = ParseArgs(c.args);
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_EQ(p.settings.item_size_max, c.item_size_max);
    EXPECT_EQ(p.settings.slab_chunk_max, c.slab_chunk_max);
  }
}

// ---- -o -------------------------------------------------------------------------------------

TEST(OptionsTest, ExtendedListSetsEverySubOption) {
  Parsed p = ParseArgs({"-o", "no_lru_crawler,no_lru_maintainer,hashpower=16,idle_timeout=600",
                        "--extended=track_sizes,no_hashexpand,hash_algorithm=xxh3",
                        "-o", "slab_automove=2,slab_automove_ratio=0.5,slab_automove_window=10",
                        "-o", "watcher_logbuf_size=512,worker_logbuf_size=32,read_buf_mem_limit=8",
                        "-o", "lru_crawler_sleep=50,lru_crawler_tocrawl=7,tail_repair_time=30",
                        "-o", "hot_max_factor=0.5,warm_max_factor=3,no_maxconns_fast",
                        "-o", "no_slab_reassign,modern,sock_cookie_id=3,relaxed_privileges",
                        "-o", "drop_privileges,no_drop_privileges"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  const Settings& s = p.settings;
  EXPECT_FALSE(s.lru_crawler);
  EXPECT_FALSE(s.lru_maintainer);
  EXPECT_FALSE(s.lru_segmented);
  EXPECT_EQ(s.hashpower_init, 16);
  EXPECT_EQ(s.idle_timeout, 600);
  EXPECT_TRUE(s.track_sizes);
  EXPECT_FALSE(s.hash_expand);
  EXPECT_EQ(s.hash_algorithm, "xxh3");
  EXPECT_EQ(s.slab_automove, 2);
  EXPECT_DOUBLE_EQ(s.slab_automove_ratio, 0.5);
  EXPECT_EQ(s.slab_automove_window, 10);
  EXPECT_EQ(s.watcher_logbuf_size, 512 * 1024);
  EXPECT_EQ(s.worker_logbuf_size, 32 * 1024);
  EXPECT_EQ(s.read_buf_mem_limit, 8);
  EXPECT_EQ(s.lru_crawler_sleep, 50);
  EXPECT_EQ(s.lru_crawler_tocrawl, 7);
  EXPECT_EQ(s.tail_repair_time, 30);
  EXPECT_DOUBLE_EQ(s.hot_max_factor, 0.5);
  EXPECT_DOUBLE_EQ(s.warm_max_factor, 3.0);
  EXPECT_FALSE(s.maxconns_fast);
  EXPECT_FALSE(s.slab_reassign);
}

TEST(OptionsTest, ExtendedSubOptionsFollowMemcachedSemantics) {
  {
    Parsed p = ParseArgs({"-o", "slab_automove"});  // no value means 1
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_EQ(p.settings.slab_automove, 1);
  }
  {
    Parsed p = ParseArgs({"-o", "temporary_ttl=30"});  // turns the temp LRU on
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_TRUE(p.settings.temp_lru);
    EXPECT_EQ(p.settings.temporary_ttl, 30);
  }
  {
    Parsed p = ParseArgs({"-o", "no_modern"});
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_EQ(p.settings.slab_chunk_max, 1u << 20);
    EXPECT_FALSE(p.settings.slab_reassign);
    EXPECT_EQ(p.settings.slab_automove, 0);
    EXPECT_FALSE(p.settings.maxconns_fast);
    EXPECT_FALSE(p.settings.lru_segmented);
    EXPECT_FALSE(p.settings.lru_crawler);
    EXPECT_FALSE(p.settings.lru_maintainer);
    EXPECT_EQ(p.settings.hash_algorithm, "jenkins");
  }
  {
    // t/stats.t's 83-key run.
    Parsed p = ParseArgs({"-o", "no_lru_crawler,no_lru_maintainer", "-o", "relaxed_privileges"});
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  }
  {
    Parsed p = ParseArgs({"-o", "lru_crawler=1,modern,"});  // a switch ignores a value; "," is fine
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_TRUE(p.settings.lru_crawler);
  }
}

TEST(OptionsTest, UnknownExtendedSubOptionFailsNamingIt) {
  Parsed p = ParseArgs({"-o", "modern,foo"});
  ASSERT_EQ(p.outcome, ParseOutcome::kExitError);
  EXPECT_NE(p.out.find("Illegal suboption \"foo\""), std::string::npos) << p.out;
  EXPECT_EQ(p.out.find('\n'), std::string::npos);
}

// ---- validation -----------------------------------------------------------------------------

TEST(OptionsTest, InvalidStartupsFailWithOneLineMessage) {
  const std::initializer_list<std::string> kBad[] = {
      // PROTOCOL.md section 8 / t/00-startup.t / t/item_size_max.t
      {"-B", "http"},
      {"-c", "0"},
      {"-c", "-1"},
      {"-t", "0"},
      {"-I", "1000"},
      {"-I", "256m"},
      {"-I", "1024"},  // slab_chunk_max (512k) larger than -I
      // memcached.c main()
      {"-R", "0"},
      {"-R", "-1"},
      {"-m", "0"},
      {"-m", "-5"},
      {"-m", "2", "-I", "2m"},
      {"-m", "4096", "-I", "1025m"},  // over a gigabyte
      {"-m", "4096", "-I", "1g"},     // no g suffix, as in memcached
      {"-I", "1536", "-o", "slab_chunk_max=1024"},  // not a multiple
      {"-I", "3000", "-o", "slab_chunk_max=3000"},  // does not divide the 1 MiB page
      {"-o", "slab_chunk_max=0"},
      {"-f", "1.0"},
      {"-f", "abc"},
      {"-n", "0"},
      {"-D", ""},
      {"-o", "hashpower=5"},
      {"-o", "hashpower=33"},
      {"-o", "hashpower"},
      {"-o", "hash_algorithm=md5"},
      {"-o", "tail_repair_time=5"},
      {"-o", "slab_automove=3"},
      {"-o", "slab_automove_ratio=0"},
      {"-o", "slab_automove_window=2"},
      {"-o", "lru_crawler_sleep=2000000"},
      {"-o", "hot_lru_pct=80"},
      {"-o", "hot_lru_pct=50,warm_lru_pct=40"},
      {"-o", "hot_max_factor=0"},
      {"-o", "temporary_ttl=10,no_lru_maintainer"},
      {"-o", "temp_lru", "-o", "no_lru_maintainer"},
      {"-o", "watcher_logbuf_size=abc"},
      {"-o", "idle_timeout=-1"},
      // our stricter checks
      {"-p", "70000"},
      {"-p", "-2"},
      {"-p", "12ab"},
      {"-U", "65536"},
      {"-a", "9"},
      {"-a", "rwx"},
      {"-b", "-1"},
      {"-l", ""},
      {"-l", ","},
      {"-l", "127.0.0.1:abc"},  // atoi() made these port 0, a random port
      {"-l", "127.0.0.1:1x"},
      {"-l", "127.0.0.1:-1"},
      {"-l", "127.0.0.1:70000"},
      {"-l", "127.0.0.1:"},
      {"-l", "[::1"},
      {"-l", "[::1]:"},
      {"-l", "[::1]:x"},
      {"-l", "[::1]11211"},
      {"-l", "127.0.0.1,[::1]:65536"},
      {"-s", ""},
      {"stray"},
      {"-"},
      {"--", "x"},
      {"-p"},
      {"--daemon=yes"},
      {"--ver"},  // ambiguous: verbose, version
      {"--config-file="},
      {"--config-file=/nonexistent/ringcached.conf"},
      // not offered (PROTOCOL.md section 9)
      {"-S"},
      {"--enable-sasl"},
      {"-Z"},
      {"-Y", "/tmp/auth"},
      {"-e", "/tmp/mem"},
      {"-N", "1"},
      {"-o", "ext_path=/tmp/ext:1G"},
      {"-o", "proxy_config=/tmp/p.lua"},
      {"-o", "ssl_key=/tmp/k"},
  };
  for (const auto& args : kBad) {
    SCOPED_TRACE(DescribeArgs(args));
    Parsed p = ParseArgs(args);
    EXPECT_EQ(p.outcome, ParseOutcome::kExitError);
    EXPECT_FALSE(p.out.empty());
    EXPECT_EQ(p.out.find('\n'), std::string::npos) << p.out;
  }
}

TEST(OptionsTest, CommandLineIsSplitAsGetoptLongSplitsIt) {
  // The splitting is our own (server/options.cc), by getopt_long's rules, which memcached's
  // command line follows.
  {
    Parsed p = ParseArgs({"-dp11211", "--conn-limit", "7", "-vv", "--"});
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_TRUE(p.settings.daemonize);  // a switch, then a value option taking the word's rest
    EXPECT_EQ(p.settings.port, 11211);
    EXPECT_EQ(p.settings.maxconns, 7);  // a long option's value in the next word
    EXPECT_EQ(p.settings.verbose, 2);
  }
  {
    Parsed p = ParseArgs({"-c", "5", "--conn-limit=6", "-c7"});  // the last one wins
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    EXPECT_EQ(p.settings.maxconns, 7);
  }
  const struct {
    std::initializer_list<std::string> args;
    const char* expected;
  } kErrors[] = {
      {{"--ver"}, "option '--ver' is ambiguous: --verbose, --version"},
      {{"--no-such"}, "unrecognised option '--no-such'"},
      {{"-j"}, "unrecognised option '-j'"},
      {{"-dj"}, "unrecognised option '-j'"},
      {{"-d", "-p"}, "option '-p' needs a value"},
      {{"--port"}, "option '--port' needs a value"},
      {{"--daemon=1"}, "option '--daemon' does not take a value"},
      {{"-p", "1", "stray"}, "unexpected argument 'stray'"},
      {{"--", "-p"}, "unexpected argument '-p'"},
      {{"-c0"}, "-c0: Maximum connections must be greater than 0"},
  };
  for (const auto& c : kErrors) {
    SCOPED_TRACE(DescribeArgs(c.args));
    Parsed p = ParseArgs(c.args);
    ASSERT_EQ(p.outcome, ParseOutcome::kExitError);
    EXPECT_EQ(p.out, c.expected);
  }
}

TEST(OptionsTest, ErrorMessagesNameTheOptionAndUseMemcachedsWording) {
  struct Case {
    std::initializer_list<std::string> args;
    const char* expected;
  };
  const Case kCases[] = {
      {{"-c", "0"}, "-c 0: Maximum connections must be greater than 0"},
      {{"--conn-limit=0"}, "--conn-limit=0: Maximum connections must be greater than 0"},
      {{"-t", "0"}, "-t 0: Number of threads must be greater than 0"},
      {{"-B", "http"}, "-B http: Invalid value for binding protocol: http"},
      {{"-I", "256m"}, "Cannot set item size limit higher than 1/2 of memory max"},
      {{"-I", "1000"}, "Item max size cannot be less than 1024 bytes"},
      {{"-I", "1024"}, "slab_chunk_max (bytes: 524288) cannot be larger than -I"},
      {{"-R", "0"}, "-R 0: Number of requests per event must be greater than 0"},
      {{"-p", "70000"}, "-p 70000: Invalid port number 70000"},
      {{"-l", "127.0.0.1:abc"}, "-l 127.0.0.1:abc: Invalid port number \"abc\" in 127.0.0.1:abc"},
      {{"-l", "[::1"}, "-l [::1: Invalid IPv6 address \"[::1\""},
      {{"-S"}, "-S"},
      {{"-o", "hashpower=5"}, "-o hashpower=5: hashpower: Initial hashtable multiplier of 5"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(DescribeArgs(c.args));
    Parsed p = ParseArgs(c.args);
    ASSERT_EQ(p.outcome, ParseOutcome::kExitError);
    EXPECT_NE(p.out.find(c.expected), std::string::npos) << p.out;
  }
}

// ---- host:port (-l, --advertise) ------------------------------------------------------------

TEST(HostPortTest, SplitsMemcachedsListenForms) {
  struct Case {
    const char* text;
    const char* host;
    std::optional<int> port;
  };
  const Case kCases[] = {
      {"127.0.0.1", "127.0.0.1", std::nullopt},
      {"127.0.0.1:11311", "127.0.0.1", 11311},
      {"cache.example:0", "cache.example", 0},
      {"localhost:65535", "localhost", 65535},
      {"[::1]", "::1", std::nullopt},
      {"[::1]:11312", "::1", 11312},
      {"::1", "::1", std::nullopt},  // two colons, no brackets: a bare IPv6 address, no port
      {"fe80::1%eth0", "fe80::1%eth0", std::nullopt},
      {"::", "::", std::nullopt},
      {":11313", "", 11313},  // all interfaces
      {"", "", std::nullopt},
      {"mc-alias", "mc-alias", std::nullopt},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text);
    base::Result<HostPort> split = SplitHostPort(c.text);
    ASSERT_TRUE(split.ok()) << split.status().message();
    EXPECT_EQ(split.value().host, c.host);
    EXPECT_EQ(split.value().port, c.port);
  }
}

TEST(HostPortTest, RefusesMalformedPortsAndBrackets) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case kCases[] = {
      {"127.0.0.1:abc", "Invalid port number \"abc\" in 127.0.0.1:abc (expected 0 to 65535)"},
      {"127.0.0.1:", "Invalid port number \"\" in 127.0.0.1:"},
      {"127.0.0.1:1x", "Invalid port number \"1x\""},
      {"127.0.0.1:-1", "Invalid port number \"-1\""},
      {"127.0.0.1:65536", "Invalid port number \"65536\""},
      {"127.0.0.1: 80", "Invalid port number \" 80\""},
      {"[::1]:", "Invalid port number \"\" in [::1]:"},
      {"[::1]:x", "Invalid port number \"x\" in [::1]:x"},
      {"[::1", "Invalid IPv6 address \"[::1\" (expected [address] or [address]:port)"},
      {"[::1]11211", "Invalid IPv6 address \"[::1]11211\""},
      {"[::1]x:1", "Invalid IPv6 address \"[::1]x:1\""},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.text);
    base::Result<HostPort> split = SplitHostPort(c.text);
    ASSERT_FALSE(split.ok());
    EXPECT_NE(split.status().message().find(c.message), std::string::npos)
        << split.status().message();
  }
}

TEST(HostPortTest, ListenAddressesMayStartWithNotls) {
  base::Result<HostPort> split = ParseListenAddress("notls:[::1]:11311");
  ASSERT_TRUE(split.ok()) << split.status().message();
  EXPECT_EQ(split.value().host, "::1");
  EXPECT_EQ(split.value().port, 11311);
  EXPECT_FALSE(ParseListenAddress("notls:127.0.0.1:abc").ok());
  EXPECT_FALSE(SplitHostPort("notls:127.0.0.1").ok());  // only -l knows the prefix
}

// ---- -h, -V, -i -----------------------------------------------------------------------------

TEST(OptionsTest, HelpExitsOkAndAdvertisesOnlyWhatWeImplement) {
  for (const char* flag : {"-h", "--help"}) {
    Parsed p = ParseArgs({flag});
    ASSERT_EQ(p.outcome, ParseOutcome::kExitOk) << p.out;
    EXPECT_EQ(p.out, HelpText());
  }
  // -h wins even after other options, and before a missing config file is read.
  EXPECT_EQ(ParseArgs({"-p", "1", "--config-file=/nonexistent", "-h"}).outcome,
            ParseOutcome::kExitOk);

  const std::string help = HelpText();
  EXPECT_EQ(help.rfind(VersionText(), 0), 0u);
  EXPECT_EQ(help.back(), '\n');
  // memcached's t/lib/MemcachedTest.pm runs its tests over a UNIX socket when -h says so.
  EXPECT_NE(help.find("-s, --unix-socket"), std::string::npos);
  // ...and enables SASL/extstore/proxy/TLS/privilege tests when -h mentions them.
  for (const char* forbidden :
       {"sasl", "ext_path", "proxy_config", "enable-ssl", "no_drop_privileges"}) {
    EXPECT_EQ(Lower(help).find(forbidden), std::string::npos) << forbidden;
  }
  for (const std::string& name : AllOptionNames()) {
    EXPECT_NE(help.find("--" + name), std::string::npos) << name;
  }
  for (const std::string& name : AllExtendedOptionNames()) {
    EXPECT_NE(help.find("   - " + name + ":"), std::string::npos) << name;
  }
}

TEST(OptionsTest, VersionAndLicenseExitOk) {
  Parsed v = ParseArgs({"-V"});
  ASSERT_EQ(v.outcome, ParseOutcome::kExitOk);
  EXPECT_EQ(v.out, VersionText());
  EXPECT_EQ(v.out.rfind("ringcached " RC_PRODUCT_VERSION, 0), 0u) << v.out;
  EXPECT_NE(v.out.find("memcached " RC_MEMCACHED_VERSION), std::string::npos) << v.out;
  EXPECT_EQ(v.out.back(), '\n');
  EXPECT_EQ(std::count(v.out.begin(), v.out.end(), '\n'), 1);

  Parsed i = ParseArgs({"--license"});
  ASSERT_EQ(i.outcome, ParseOutcome::kExitOk);
  EXPECT_NE(i.out.find("ringcached"), std::string::npos);
}

// ---- --config-file --------------------------------------------------------------------------

TEST(OptionsTest, ConfigFileIsReadAndTheCommandLineOverridesIt) {
  TempFile conf(
      "# comment\n"
      "port = 22122\n"
      "conn-limit = 77\n"
      "daemon = true\n"
      "disable-cas = false\n"
      "verbose = 2\n"
      "listen = 10.0.0.1\n"
      "listen = 10.0.0.2,10.0.0.3\n"
      "extended = hashpower=16,idle_timeout=5\n"
      "extended = no_lru_crawler\n"
      "prefix-delimiter = /\n"
      "memory-limit = 128\n");
  {
    Parsed p = ParseArgs({"--config-file=" + conf.path()});
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    const Settings& s = p.settings;
    EXPECT_EQ(s.config_file, conf.path());
    EXPECT_EQ(s.port, 22122);
    EXPECT_EQ(s.maxconns, 77);
    EXPECT_TRUE(s.daemonize);
    EXPECT_TRUE(s.use_cas);
    EXPECT_EQ(s.verbose, 2);
    EXPECT_EQ(s.listen, (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3"}));
    EXPECT_EQ(s.hashpower_init, 16);
    EXPECT_EQ(s.idle_timeout, 5);
    EXPECT_FALSE(s.lru_crawler);
    EXPECT_EQ(s.prefix_delimiter, '/');
    EXPECT_TRUE(s.detail_enabled);
    EXPECT_EQ(s.maxbytes, 128u << 20);
  }
  {
    // The file may come after the options it is overridden by: position does not matter.
    Parsed p = ParseArgs({"-p", "33133", "-l", "127.0.0.1", "-v", "-o",
                          "idle_timeout=9,lru_crawler", "--config-file", conf.path(), "-c", "99"});
    ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    const Settings& s = p.settings;
    EXPECT_EQ(s.port, 33133);
    EXPECT_EQ(s.maxconns, 99);
    EXPECT_EQ(s.verbose, 1);  // -v replaces the file's level
    EXPECT_EQ(s.listen, std::vector<std::string>{"127.0.0.1"});  // -l replaces the file's list
    EXPECT_EQ(s.hashpower_init, 16);  // from the file, untouched by -o
    EXPECT_EQ(s.idle_timeout, 9);     // -o applied after the file's extended lines
    EXPECT_TRUE(s.lru_crawler);
    EXPECT_TRUE(s.daemonize);
    EXPECT_EQ(s.maxbytes, 128u << 20);
  }
}

TEST(OptionsTest, ConfigFileCommentsAndLineNumbers) {
  TempFile conf("\n  # indented comment\nport=22122   # trailing comment\n\nconn-limit = 0\n");
  Parsed p = ParseArgs({"--config-file=" + conf.path()});
  ASSERT_EQ(p.outcome, ParseOutcome::kExitError);
  EXPECT_EQ(p.out, conf.path() + ":5: conn-limit = 0: Maximum connections must be greater than 0");
  TempFile good("port=22122   # trailing comment\n");
  Parsed q = ParseArgs({"--config-file=" + good.path()});
  ASSERT_EQ(q.outcome, ParseOutcome::kRun) << q.out;
  EXPECT_EQ(q.settings.port, 22122);
}

TEST(OptionsTest, ConfigFileErrorsNameTheFileAndTheLine) {
  const char* kBadFiles[] = {
      "no-such-option = 1\n",
      "help = true\n",
      "config-file = /etc/other.conf\n",
      "daemon = maybe\n",
      "port = 70000\n",
      "conn-limit = 0\n",
      "extended = bogus\n",
      "verbose = loud\n",
      "port\n",
  };
  for (const char* contents : kBadFiles) {
    SCOPED_TRACE(contents);
    TempFile conf(contents);
    Parsed p = ParseArgs({"--config-file=" + conf.path()});
    EXPECT_EQ(p.outcome, ParseOutcome::kExitError);
    EXPECT_NE(p.out.find(conf.path()), std::string::npos) << p.out;
    EXPECT_EQ(p.out.find('\n'), std::string::npos) << p.out;
  }
}

// ---- stats settings -------------------------------------------------------------------------

TEST(OptionsTest, StatsSettingsHasMemcachedsKeysInOrder) {
  // memcached 1.6.18's "stats settings" (reference/memcached-1.6.18-transcript.txt), including
  // the ext_* and ssl_* keys of Debian's extstore/TLS build, with those features off.
  const std::vector<std::string> kKeys = {
      "maxbytes", "maxconns", "tcpport", "udpport", "inter", "verbosity", "oldest", "evictions",
      "domain_socket", "umask", "shutdown_command", "growth_factor", "chunk_size", "num_threads",
      "num_threads_per_udp", "stat_key_prefix", "detail_enabled", "reqs_per_event",
      "cas_enabled", "tcp_backlog", "binding_protocol", "auth_enabled_sasl",
      "auth_enabled_ascii", "item_size_max", "maxconns_fast", "hashpower_init", "slab_reassign",
      "slab_automove", "slab_automove_ratio", "slab_automove_window", "slab_chunk_max",
      "lru_crawler", "lru_crawler_sleep", "lru_crawler_tocrawl", "tail_repair_time",
      "flush_enabled", "dump_enabled", "hash_algorithm", "lru_maintainer_thread",
      "lru_segmented", "hot_lru_pct", "warm_lru_pct", "hot_max_factor", "warm_max_factor",
      "temp_lru", "temporary_ttl", "idle_timeout", "watcher_logbuf_size", "worker_logbuf_size",
      "read_buf_mem_limit", "track_sizes", "inline_ascii_response", "ext_item_size",
      "ext_item_age", "ext_low_ttl", "ext_recache_rate", "ext_wbuf_size", "ext_compact_under",
      "ext_drop_under", "ext_max_sleep", "ext_max_frag", "slab_automove_freeratio",
      "ext_drop_unread", "ssl_enabled", "ssl_chain_cert", "ssl_key", "ssl_verify_mode",
      "ssl_keyformat", "ssl_ciphers", "ssl_ca_cert", "ssl_wbuf_size", "ssl_session_cache",
      "ssl_kernel_tls", "ssl_min_version", "num_napi_ids", "memory_file"};
  std::vector<std::string> keys;
  for (const auto& kv : SettingsForStats(Settings{}, 0)) keys.push_back(kv.first);
  EXPECT_EQ(keys, kKeys);
}

TEST(OptionsTest, StatsSettingsDefaultValuesMatchMemcached) {
  // Values of a default memcached 1.6.18 (transcript), except where the transcript's server had
  // been changed at runtime or started with -l/-U: slab_automove, temp_lru, temporary_ttl,
  // inter, oldest.
  const std::map<std::string, std::string> kExpected = {
      {"maxbytes", "67108864"}, {"maxconns", "1024"}, {"tcpport", "11211"}, {"udpport", "0"},
      {"inter", "NULL"}, {"verbosity", "0"}, {"oldest", "0"}, {"evictions", "on"},
      {"domain_socket", "NULL"}, {"umask", "700"}, {"shutdown_command", "no"},
      {"growth_factor", "1.25"}, {"chunk_size", "48"}, {"num_threads", "4"},
      {"num_threads_per_udp", "4"}, {"stat_key_prefix", ":"}, {"detail_enabled", "no"},
      {"reqs_per_event", "20"}, {"cas_enabled", "yes"}, {"tcp_backlog", "1024"},
      {"binding_protocol", "auto-negotiate"}, {"auth_enabled_sasl", "no"},
      {"auth_enabled_ascii", "no"}, {"item_size_max", "1048576"}, {"maxconns_fast", "yes"},
      {"hashpower_init", "0"}, {"slab_reassign", "yes"}, {"slab_automove", "1"},
      {"slab_automove_ratio", "0.80"}, {"slab_automove_window", "30"},
      {"slab_chunk_max", "524288"}, {"lru_crawler", "yes"}, {"lru_crawler_sleep", "100"},
      {"lru_crawler_tocrawl", "0"}, {"tail_repair_time", "0"}, {"flush_enabled", "yes"},
      {"dump_enabled", "yes"}, {"hash_algorithm", "murmur3"}, {"lru_maintainer_thread", "yes"},
      {"lru_segmented", "yes"}, {"hot_lru_pct", "20"}, {"warm_lru_pct", "40"},
      {"hot_max_factor", "0.20"}, {"warm_max_factor", "2.00"}, {"temp_lru", "no"},
      {"temporary_ttl", "61"}, {"idle_timeout", "0"}, {"watcher_logbuf_size", "262144"},
      {"worker_logbuf_size", "65536"}, {"read_buf_mem_limit", "0"}, {"track_sizes", "no"},
      {"inline_ascii_response", "no"}, {"ext_item_size", "512"},
      {"ext_item_age", "4294967295"}, {"ext_low_ttl", "0"}, {"ext_recache_rate", "2000"},
      {"ext_wbuf_size", "4194304"}, {"ext_compact_under", "0"}, {"ext_drop_under", "0"},
      {"ext_max_sleep", "1000000"}, {"ext_max_frag", "0.80"},
      {"slab_automove_freeratio", "0.010"}, {"ext_drop_unread", "no"}, {"ssl_enabled", "no"},
      {"ssl_chain_cert", "(null)"}, {"ssl_key", "(null)"}, {"ssl_verify_mode", "0"},
      {"ssl_keyformat", "1"}, {"ssl_ciphers", "NULL"}, {"ssl_ca_cert", "NULL"},
      {"ssl_wbuf_size", "16384"}, {"ssl_session_cache", "no"}, {"ssl_kernel_tls", "no"},
      {"ssl_min_version", "tlsv1.2"}, {"num_napi_ids", "(null)"}, {"memory_file", "(null)"},
  };
  Parsed p = ParseArgs({});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun);
  EXPECT_EQ(StatsOf(p.settings), kExpected);
}

TEST(OptionsTest, StatsSettingsFormatsLikeMemcached) {
  Parsed p = ParseArgs({"-a", "750", "-f", "1.5", "-B", "binary", "-s", "/tmp/mc.sock", "-M", "-C",
                        "-l", "127.0.0.1", "-l", "::1", "-A", "-D", "/", "-o",
                        "read_buf_mem_limit=2,slab_automove_ratio=0.333,idle_timeout=7"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  RuntimeSettings live(p.settings);
  live.verbose = 2;              // `verbosity 2`
  live.maxbytes = 100u << 20;    // `cache_memlimit 100`
  std::map<std::string, std::string> m = StatsOf(live.Live(p.settings), 42);
  EXPECT_EQ(m["umask"], "750");
  EXPECT_EQ(m["growth_factor"], "1.50");
  EXPECT_EQ(m["binding_protocol"], "binary");
  EXPECT_EQ(m["domain_socket"], "/tmp/mc.sock");
  EXPECT_EQ(m["evictions"], "off");
  EXPECT_EQ(m["cas_enabled"], "no");
  EXPECT_EQ(m["inter"], "127.0.0.1,::1");
  EXPECT_EQ(m["num_threads_per_udp"], "1");
  EXPECT_EQ(m["shutdown_command"], "yes");
  EXPECT_EQ(m["stat_key_prefix"], "/");
  EXPECT_EQ(m["detail_enabled"], "yes");
  EXPECT_EQ(m["read_buf_mem_limit"], "2097152");
  EXPECT_EQ(m["slab_automove_ratio"], "0.33");
  EXPECT_EQ(m["idle_timeout"], "7");
  EXPECT_EQ(m["verbosity"], "2");
  EXPECT_EQ(m["maxbytes"], "104857600");
  EXPECT_EQ(m["oldest"], "42");
  EXPECT_EQ(StatsOf(ParseArgs({"-B", "ascii"}).settings)["binding_protocol"], "ascii");
}

// ---- documentation --------------------------------------------------------------------------

#ifdef RC_SOURCE_DIR
std::string ReadSourceFile(const std::string& relative) {
  std::ifstream in(std::string(RC_SOURCE_DIR) + "/" + relative);
  EXPECT_TRUE(in.good()) << relative;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// True if `name` occurs in `text` not as part of a longer option or sub-option name.
bool MentionsName(const std::string& text, const std::string& name) {
  auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  };
  for (std::size_t at = text.find(name); at != std::string::npos;
       at = text.find(name, at + 1)) {
    // A plain word, or a long option "--name".
    bool left_ok = at == 0 || !is_name_char(text[at - 1]) ||
                   (at >= 2 && text[at - 1] == '-' && text[at - 2] == '-');
    std::size_t end = at + name.size();
    bool right_ok = end == text.size() || !is_name_char(text[end]);
    if (left_ok && right_ok) return true;
  }
  return false;
}

TEST(OptionsDocsTest, ManPageDocumentsEveryOption) {
  std::string man = ReadSourceFile("man/ringcached.1");
  ASSERT_FALSE(man.empty());
  // troff writes a literal hyphen as "\-".
  std::string plain;
  for (std::size_t i = 0; i < man.size(); ++i) {
    if (man[i] == '\\' && i + 1 < man.size() && man[i + 1] == '-') continue;
    plain += man[i];
  }
  for (const std::string& name : AllOptionNames()) {
    EXPECT_NE(plain.find("--" + name), std::string::npos) << "man page lacks --" << name;
  }
  for (const std::string& name : AllExtendedOptionNames()) {
    EXPECT_TRUE(MentionsName(plain, name)) << "man page lacks -o " << name;
  }
  for (const char* section : {".SH SIGNALS", "SIGTERM", "SIGINT", "SIGUSR1", ".SH FILES",
                              ".SH SEE ALSO", "memcached (1)", ".SH SYNOPSIS"}) {
    EXPECT_NE(plain.find(section), std::string::npos) << section;
  }
}

TEST(OptionsDocsTest, ConfigFileDocumentsEveryOption) {
  std::string conf = ReadSourceFile("conf/ringcached.conf");
  ASSERT_FALSE(conf.empty());
  for (const std::string& name : AllOptionNames()) {
    EXPECT_TRUE(MentionsName(conf, name)) << "conf lacks " << name;
  }
  for (const std::string& name : ConfigFileOptionNames()) {
    EXPECT_NE(conf.find("\n# " + name + " = "), std::string::npos)
        << "conf lacks a commented \"" << name << " = ...\" line";
  }
  for (const std::string& name : AllExtendedOptionNames()) {
    std::regex line("\n# extended = " + name + "(=|\n)");
    EXPECT_TRUE(std::regex_search(conf, line)) << "conf lacks \"# extended = " << name << "\"";
  }
}

TEST(OptionsDocsTest, EveryExampleLineOfTheConfigFileIsValid) {
  std::istringstream conf(ReadSourceFile("conf/ringcached.conf"));
  std::set<std::string> names;
  for (const std::string& name : ConfigFileOptionNames()) names.insert(name);
  std::regex setting("^# ([a-z-]+) = (.*)$");
  int checked = 0;
  for (std::string line; std::getline(conf, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, setting) || names.count(m[1]) == 0) continue;
    SCOPED_TRACE(line);
    TempFile one(line.substr(2) + "\n");
    Parsed p = ParseArgs({"--config-file=" + one.path()});
    EXPECT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
    ++checked;
  }
  EXPECT_GT(checked, 40);
}
#else
TEST(OptionsDocsTest, ManPageDocumentsEveryOption) {
  GTEST_SKIP() << "RC_SOURCE_DIR is not defined";
}
#endif

}  // namespace
}  // namespace rc::server
