// server/options.h -- the command line: memcached 1.6.18's flags (and our --config-file) into a
// Settings, the -h text, and the name/value list of `stats settings`.
//
// One option table in options.cc drives all of it: the splitting of the command line (by
// getopt_long's rules) and of --config-file into options, HelpText(), AllOptionNames() (which the
// unit test checks against man/ringcached.1 and conf/ringcached.conf), and the -o sub-option list. Names, short
// letters, defaults, units and start-up validation follow memcached 1.6.18's memcached.c (main()
// and process_stat_settings()); PROTOCOL.md sections 8 and 9 list what the test suites rely on.
//
// Deliberate differences from memcached, each noted where it happens in options.cc: numbers must
// be whole numbers (memcached's atoi() takes "12ab" as 12), ports must be in -1..65535 (a port in
// an -l address in 0..65535, and "[v6]" followed by anything but ":port" is refused), -a must be
// octal, stray non-option arguments are an error (getopt ignores them), -m takes an optional
// k/m/g/t suffix, and -D has a long name (--prefix-delimiter) so that it can go in a config file.
// SASL (-S), ASCII auth (-Y), restartable memory (-e), TLS (-Z), NAPI ids (-N), extstore (ext_*)
// and the proxy are not offered: they are rejected as unknown options, and -h does not mention
// them, because memcached's test suite greps -h to decide which of its tests to run.
//
// Thread-safety: all functions are pure (no global state) and may be called from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringcached/base/status.h"
#include "ringcached/server/settings.h"

namespace rc::server {

enum class ParseOutcome {
  kRun,        // *settings is filled in and validated; start the server
  kExitOk,     // -h, -V or -i: print *out to stdout and exit 0
  kExitError,  // bad option or value: print *out to stderr and exit non-zero (EX_USAGE)
};

// Parses argv (argv[0] is the program name) into *settings. Fields that no option names keep the
// value they had on entry, so pass a default-constructed Settings. If --config-file=<file> is
// given, the file is read first and the command line is applied over it: a scalar given in both
// places takes the command-line value; -l and -v given on the command line replace the file's
// list and level; -o sub-options are applied in order, the file's first.
//
// kExitOk: *out holds the text to print, ending in a newline. kExitError: *out holds one line
// (no newline) naming the offending option, e.g. "-c 0: Maximum connections must be greater than
// 0". kRun: *out is cleared. Never throws.
ParseOutcome ParseCommandLine(int argc, const char* const* argv, Settings* settings,
                              std::string* out);

// What -h prints: memcached's layout, VersionText() as the first line, then every
// option of the table and every documented -o sub-option. Never mentions an option we lack
// (PROTOCOL.md section 9). Ends with a newline.
std::string HelpText();

// What -V prints, one line: "ringcached <RC_PRODUCT_VERSION> (memcached <RC_MEMCACHED_VERSION>
// compatible)\n" (base/version.h).
std::string VersionText();

// `stats settings`: name/value pairs in memcached 1.6.18's order, formatted as memcached formats
// them ("evictions on", "umask 700", "growth_factor 1.25", "domain_socket NULL"...). The ext_*
// and ssl_* keys of Debian's build are included with the values of those features turned off
// (neither exists here). The caller passes the live values of what changes at runtime
// (RuntimeSettings::Live) and `oldest_live`, the time of the last flush_all ("oldest").
std::vector<std::pair<std::string, std::string>> SettingsForStats(const Settings& s,
                                                                  std::uint32_t oldest_live);

// An -l address or an --advertise name, split as memcached.c server_sockets() splits -l: "host",
// "host:port", "[v6]", "[v6]:port", or a bare IPv6 address such as "::1" or "fe80::1%eth0" (two
// or more colons and no brackets: all of it is the host, and there is no port).
struct HostPort {
  std::string host;         // brackets removed; "" (as in ":11311") means all interfaces
  std::optional<int> port;  // 0..65535; absent when the text gives none
};

// Splits `text` as above. InvalidArgument, in memcached's words ("Invalid port number", "Invalid
// IPv6 address") and quoting the bad part, when a port is given but is not a whole number in
// 0..65535 (an empty one after ':' included), or when a '[' has no ']' or is followed by anything
// but ":port". memcached itself reads the port with strtol() and no range check, and ignores what
// follows ']'.
base::Result<HostPort> SplitHostPort(std::string_view text);

// One -l address: SplitHostPort() after an optional "notls:" prefix, which memcached's TLS builds
// read as "plain TCP here"; this build has no TLS, so the prefix changes nothing.
base::Result<HostPort> ParseListenAddress(std::string_view spec);

// Every long option name of the table ("port", "unix-socket", ..., "config-file"), in table order.
std::vector<std::string> AllOptionNames();

// The long options that --config-file accepts: all but help, version, license and config-file.
std::vector<std::string> ConfigFileOptionNames();

// Every -o sub-option that HelpText() documents ("maxconns_fast", "hashpower", ...). Accepted but
// undocumented sub-options (relaxed_privileges, drop_privileges, no_drop_privileges and memcached's
// legacy no-ops) are not listed.
std::vector<std::string> AllExtendedOptionNames();

}  // namespace rc::server
