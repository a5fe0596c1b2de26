// client/client_configs.cc -- see client_configs.h. The libmemcached rules come from
// libmemcached 1.1.4 src/libmemcached/csl/scanner.l and parser.yy (the configuration language)
// and hosts.cc (when the weighted ring is used); the twemproxy ones from nc_conf.c
// (conf_add_server: "host:port:weight [alias]") and nc_conf.h (defaults).
#include "client/client_configs.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace rc::client {
namespace {

using base::Result;
using base::Status;
using cluster::RingMember;
using cluster::RingRecipe;

std::uint32_t EffectiveWeight(const RingMember& m) { return m.weight == 0 ? 1 : m.weight; }

bool IsIpv4(std::string_view host) {
  int dots = 0;
  std::size_t digits = 0;
  for (char c : host) {
    if (c == '.') {
      if (digits == 0 || digits > 3) return false;
      ++dots;
      digits = 0;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else {
      return false;
    }
  }
  return dots == 3 && digits > 0 && digits <= 3;
}

// Whether scanner.l reads `host` back as one IPADDRESS or HOSTNAME token. A hostname is
// [[:alnum:]][.[:alnum:]_-]+[[:alnum:]], and must not be one of the scanner's keywords (which
// match first on equal length, case-insensitively) or all digits (a NUMBER).
bool LibmemcachedCanParseHost(std::string_view host) {
  if (IsIpv4(host)) return true;
  if (host.size() < 3) return false;
  const auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(host.front()) || !alnum(host.back())) return false;
  for (char c : host) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  if (std::all_of(host.begin(), host.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    return false;
  }
  static constexpr std::array<std::string_view, 20> kKeywords = {
      "INCLUDE",  "RESET",      "DEBUG",    "SERVERS", "END",    "CSL_ERROR", "TRUE",
      "FALSE",    "CONSISTENT", "MODULA",   "RANDOM",  "MD5",    "CRC",       "FNV1_64",
      "FNV1A_64", "FNV1_32",    "FNV1A_32", "HSIEH",   "MURMUR", "JENKINS"};
  std::string upper(host);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return std::find(kKeywords.begin(), kKeywords.end(), upper) == kKeywords.end();
}

}  // namespace

Result<std::string> LibmemcachedConfigString(const std::vector<RingMember>& members,
                                             const RingRecipe& recipe) {
  if (recipe.naming != RingRecipe::Naming::kHostOrHostPort ||
      recipe.ties != RingRecipe::Ties::kEarlierMemberWins ||
      recipe.points == RingRecipe::Points::kMd5x160UnlessWeighted) {
    return Status::InvalidArgument(
        "libmemcached's configuration syntax cannot reproduce this profile's ring "
        "(it names points host[:port] and has no KETAMA_SPY or spymemcached mode)");
  }
  if (members.empty()) return Status::InvalidArgument("no members");
  std::string out = "--DISTRIBUTION=consistent";
  switch (recipe.key_hash) {
    case RingRecipe::KeyHash::kMd5:
      out += " --HASH=MD5";
      break;
    case RingRecipe::KeyHash::kFnv1a64:
      out += " --HASH=FNV1A_64";
      break;
    case RingRecipe::KeyHash::kOneAtATime:
      break;  // libhashkit's default
  }
  const bool weighted = recipe.points == RingRecipe::Points::kWeightedMd5;
  const bool some_weight_above_one = std::any_of(
      members.begin(), members.end(), [](const RingMember& m) { return EffectiveWeight(m) > 1; });
  // See the header: all weights 1 would leave libmemcached's weighted flag off.
  const std::uint32_t scale = weighted && !some_weight_above_one ? 2 : 1;
  for (const RingMember& m : members) {
    const cluster::HostPort hp = cluster::SplitRingName(m.name);
    if (!LibmemcachedCanParseHost(hp.host)) {
      return Status::InvalidArgument("libmemcached's configuration syntax cannot express the "
                                     "host of member \"" + m.name + "\"");
    }
    out += " --SERVER=" + std::string(hp.host);
    if (hp.port) out += ":" + std::to_string(*hp.port);
    const std::uint64_t weight = std::uint64_t{EffectiveWeight(m)} * scale;
    if (weight > 99999) {  // scanner.l: "/?"[[:digit:]]{1,5}
      return Status::InvalidArgument("member \"" + m.name +
                                     "\": libmemcached's configuration syntax takes weights up "
                                     "to 99999");
    }
    if (weighted || weight != 1) out += "/?" + std::to_string(weight);
  }
  return out;
}

Result<std::string> TwemproxyPool(const std::vector<RingMember>& members, const RingRecipe& recipe,
                                  const TwemproxyPoolOptions& options) {
  if (recipe.naming != RingRecipe::Naming::kHostOrHostPort ||
      recipe.points != RingRecipe::Points::kWeightedMd5 ||
      recipe.ties != RingRecipe::Ties::kEarlierMemberWins) {
    return Status::InvalidArgument(
        "twemproxy cannot reproduce this profile's ring (its ketama is always libmemcached's "
        "weighted MD5 ring with host[:port] names)");
  }
  if (members.empty()) return Status::InvalidArgument("no members");
  std::string hash;
  switch (recipe.key_hash) {
    case RingRecipe::KeyHash::kMd5:
      hash = "md5";
      break;
    case RingRecipe::KeyHash::kFnv1a64:
      hash = "fnv1a_64";
      break;
    case RingRecipe::KeyHash::kOneAtATime:
      hash = "one_at_a_time";
      break;
  }
  std::string out = options.pool + ":\n";
  out += "  listen: " + options.listen + "\n";
  out += "  hash: " + hash + "\n";
  out += "  distribution: ketama\n";
  // Ejecting a failed server would rebuild twemproxy's ring without it, and route keys where the
  // cluster does not expect them (KETAMA.md section 2.6).
  out += "  auto_eject_hosts: false\n";
  out += "  servers:\n";
  for (const RingMember& m : members) {
    // twemproxy hashes "host" or "host:port" exactly like libmemcached (nc_conf.c), so the
    // address itself names the points and no alias is needed.
    const cluster::HostPort hp = cluster::SplitRingName(m.name);
    out += "   - " + std::string(hp.host) + ":" + std::to_string(hp.port.value_or(11211)) + ":" +
           std::to_string(EffectiveWeight(m)) + "\n";
  }
  return out;
}

}  // namespace rc::client
