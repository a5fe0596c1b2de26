// cluster/ring_build.cc -- see ring_build.h (and SplitRingName in ring.h). The functions copy a
// client's arithmetic on purpose, odd corners included; the comments name the source of each.
#include "cluster/ring_build.h"

#include <charconv>
#include <cmath>

namespace rc::cluster {
namespace {

constexpr std::uint32_t kMemcachedDefaultPort = 11211;

std::optional<std::uint32_t> ParsePort(std::string_view digits) {
  if (digits.empty() || digits.size() > 5) return std::nullopt;
  std::uint32_t port = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || end != digits.data() + digits.size() || port > 65535) {
    return std::nullopt;
  }
  return port;
}

}  // namespace

HostPort SplitRingName(std::string_view ring_name) {
  if (ring_name.starts_with('[')) {
    const std::size_t close = ring_name.find(']');
    if (close != std::string_view::npos) {
      const std::string_view host = ring_name.substr(1, close - 1);
      const std::string_view rest = ring_name.substr(close + 1);
      if (rest.empty()) return {host, std::nullopt};
      if (rest.starts_with(':')) {
        if (auto port = ParsePort(rest.substr(1))) return {host, port};
      }
    }
    return {ring_name, std::nullopt};
  }
  const std::size_t colon = ring_name.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return {ring_name, std::nullopt};
  if (auto port = ParsePort(ring_name.substr(colon + 1))) {
    return {ring_name.substr(0, colon), port};
  }
  return {ring_name, std::nullopt};
}

std::string PointNamePrefix(std::string_view ring_name, RingRecipe::Naming naming) {
  const HostPort hp = SplitRingName(ring_name);
  std::string out;
  out.reserve(ring_name.size() + 8);
  switch (naming) {
    case RingRecipe::Naming::kHostOrHostPort: {
      // libmemcached hosts.cc: "%s-%u" when port == MEMCACHED_DEFAULT_PORT, else "%s:%u-%u".
      // memcached_server_add() turns port 0 into 11211, so "/p:0" is named "/p" too.
      // twemproxy conf_add_server names an alias-less server the same way "to maintain backward
      // compatibility with libmemcached".
      out.append(hp.host);
      const std::uint32_t port = hp.port.value_or(kMemcachedDefaultPort);
      if (port != kMemcachedDefaultPort && port != 0) {
        out.push_back(':');
        out.append(std::to_string(port));
      }
      return out;
    }
    case RingRecipe::Naming::kSlashHostPort:
      // libmemcached hosts.cc, CONSISTENT_KETAMA_SPY: "/%s:%u-%u", the port always written.
      out.push_back('/');
      [[fallthrough]];
    case RingRecipe::Naming::kHostPort:
      // spymemcached KetamaNodeKeyFormatter SPYMEMCACHED: String.valueOf(InetSocketAddress)
      // without its leading "/", i.e. "ip:port" for an address made from an IP literal.
      out.append(hp.host);
      out.push_back(':');
      out.append(std::to_string(hp.port.value_or(kMemcachedDefaultPort)));
      return out;
  }
  return out;
}

std::uint32_t WeightedPointCount(std::uint32_t weight, std::uint64_t total_weight,
                                 std::uint32_t members) {
  // libmemcached 1.1.4 hosts.cc update_continuum:
  //   float pct = (float) weight / (float) total_weight;
  //   floor((float) (pct * MEMCACHED_POINTS_PER_SERVER_KETAMA / 4 * (float) live_servers
  //                  + 0.0000000001F)) * 4
  // Every product is a float32 product; that rounding is why equal weights give 156 points, not
  // 160, at N = 25, 47, 50... (KETAMA.md section 2.2). One operation per statement, all in float
  // variables, so neither excess precision nor FMA contraction can merge two roundings
  // (x86-64 SSE has no excess precision, and -std=c++20 keeps GCC from contracting).
  // twemproxy (nc_ketama.c) and spymemcached add the epsilon as a double and cast back to float:
  // 1e-10 is far below half an ulp of any non-zero value here, so they round the same way.
  const float pct = static_cast<float>(weight == 0 ? 1 : weight) / static_cast<float>(total_weight);
  float x = pct * 160.0f;
  x = x / 4.0f;
  x = x * static_cast<float>(members);
  x = x + 0.0000000001F;
  return static_cast<std::uint32_t>(std::floor(x)) * 4;
}

}  // namespace rc::cluster
