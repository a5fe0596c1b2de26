// t/unit/server/options_support.h -- what the option tests of t/unit/server share: run
// ParseCommandLine (src/server/options.h) on a command line written as a list of words, and read
// `stats settings` as a map. Test-only; used by every *_options_test.cc of the binary.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "server/options.h"

namespace rc::testing {

// What one ParseCommandLine call left behind.
struct Parsed {
  server::ParseOutcome outcome;
  server::Settings settings;
  std::string out;  // the message or the --help/--version text; "" for a plain kRun
};

// Parses `ringcached <args...>` into a default Settings. `out` starts as "untouched", so a test
// that expects it empty also checks that ParseCommandLine cleared it.
inline Parsed ParseArgs(const std::vector<std::string>& args) {
  std::vector<std::string> words = {"ringcached"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& w : words) argv.push_back(w.c_str());
  argv.push_back(nullptr);
  Parsed p{server::ParseOutcome::kExitError, server::Settings{}, "untouched"};
  p.outcome = server::ParseCommandLine(static_cast<int>(words.size()), argv.data(), &p.settings,
                                       &p.out);
  return p;
}

// For table-driven tests whose rows hold their arguments as a braced list.
inline Parsed ParseArgs(std::initializer_list<std::string> args) {
  return ParseArgs(std::vector<std::string>(args));
}

// `stats settings` of `s` (server::SettingsForStats) by key.
inline std::map<std::string, std::string> StatsOf(const server::Settings& s,
                                                  std::uint32_t oldest_live = 0) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : server::SettingsForStats(s, oldest_live)) m[k] = v;
  return m;
}

}  // namespace rc::testing
