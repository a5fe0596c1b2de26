// t/unit/server/origin_options_test.cc -- the read-through options of the option table (issue
// #6): defaults, every option applied, validation with the operator-facing messages, and
// `stats settings`, which gains the origin keys (password redacted) only with an origin.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "options_support.h"
#include "server/options.h"

namespace rc::server {
namespace {

using rc::testing::ParseArgs;
using rc::testing::Parsed;
using rc::testing::StatsOf;

TEST(OriginOptionsTest, DefaultsAreNoOrigin) {
  Settings s;
  EXPECT_EQ(s.origin, "");
  EXPECT_EQ(s.origin_ttl, 300);
  EXPECT_EQ(s.origin_negative_ttl, 3);
  EXPECT_EQ(s.origin_timeout_ms, 500);
  EXPECT_EQ(s.origin_connections, 4);
  EXPECT_EQ(s.origin_breaker_failures, 5);
  EXPECT_EQ(s.origin_breaker_open_ms, 5000);
  EXPECT_EQ(StatsOf(s).count("origin"), 0u);  // a single node's `stats settings` is memcached's
}

TEST(OriginOptionsTest, EveryOptionIsApplied) {
  Parsed p = ParseArgs({"--origin", "postgresql://app:pw@db:5432/kv", "--origin-query",
                        "SELECT value FROM kv WHERE key = $1", "--origin-key-prefix", "user:",
                        "--origin-ttl", "60", "--origin-negative-ttl", "0",
                        "--origin-timeout-ms", "250", "--origin-connections", "8",
                        "--origin-breaker-failures", "0", "--origin-breaker-open-ms", "100"});
  ASSERT_EQ(p.outcome, ParseOutcome::kRun) << p.out;
  const Settings& s = p.settings;
  EXPECT_EQ(s.origin, "postgresql://app:pw@db:5432/kv");
  EXPECT_EQ(s.origin_query, "SELECT value FROM kv WHERE key = $1");
  EXPECT_EQ(s.origin_key_prefix, "user:");
  EXPECT_EQ(s.origin_ttl, 60);
  EXPECT_EQ(s.origin_negative_ttl, 0);
  EXPECT_EQ(s.origin_timeout_ms, 250);
  EXPECT_EQ(s.origin_connections, 8);
  EXPECT_EQ(s.origin_breaker_failures, 0);
  EXPECT_EQ(s.origin_breaker_open_ms, 100);
  std::map<std::string, std::string> m = StatsOf(s);
  EXPECT_EQ(m["origin"], "postgresql://app:***@db:5432/kv");
  EXPECT_EQ(m["origin_query"], "SELECT value FROM kv WHERE key = $1");
  EXPECT_EQ(m["origin_key_prefix"], "user:");
  EXPECT_EQ(m["origin_timeout_ms"], "250");
  EXPECT_EQ(ParseArgs({"--origin", "http://127.0.0.1:8080/kv/"}).outcome, ParseOutcome::kRun);
}

TEST(OriginOptionsTest, BadValuesAreRefusedWithAReason) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> kBad = {
      {{"--origin", "ftp://x/"}, "postgresql://"},
      {{"--origin", "https://x/"}, "https"},
      {{"--origin", "postgresql://app@db/kv"}, "--origin-query"},
      {{"--origin", "POSTGRES://app:secret@db/kv"}, "app:***@db"},
      {{"--origin-query", " "}, "empty"},
      {{"--origin-ttl", "-1"}, "negative"},
      {{"--origin-negative-ttl", "x"}, "whole number"},
      {{"--origin-timeout-ms", "0"}, "between 1 and 600000"},
      {{"--origin-connections", "257"}, "between 1 and 256"},
      {{"--origin-breaker-failures", "-2"}, "negative"},
      {{"--origin-breaker-open-ms", "0"}, "between 1 and 3600000"},
  };
  for (const auto& [args, reason] : kBad) {
    std::vector<std::string> words = {"ringcached"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& w : words) argv.push_back(w.c_str());
    argv.push_back(nullptr);
    Settings s;
    std::string out;
    EXPECT_EQ(ParseCommandLine(static_cast<int>(words.size()), argv.data(), &s, &out),
              ParseOutcome::kExitError)
        << args[0];
    EXPECT_NE(out.find(reason), std::string::npos) << args[0] << ": " << out;
    EXPECT_EQ(out.find("secret"), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace rc::server
