// cluster/cluster_url.cc -- see cluster_url.h.
#include "ringcached/cluster/cluster_url.h"

#include <charconv>

namespace rc::cluster {
namespace {

base::Status Bad(std::string_view url, const std::string& why) {
  return base::Status::InvalidArgument("\"" + std::string(url) + "\": " + why +
                                       " (expected zk://host:port[,host:port...]/path)");
}

bool ValidPort(std::string_view text) {
  unsigned port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port >= 1 && port <= 65535;
}

// "host:port" or "[v6]:port".
bool ValidHostPort(std::string_view hp) {
  std::size_t colon;
  if (!hp.empty() && hp.front() == '[') {
    std::size_t close = hp.find(']');
    if (close == std::string_view::npos || close == 1 || close + 1 >= hp.size() ||
        hp[close + 1] != ':') {
      return false;
    }
    colon = close + 1;
  } else {
    colon = hp.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        hp.find(':', colon + 1) != std::string_view::npos) {
      return false;
    }
  }
  return ValidPort(hp.substr(colon + 1));
}

}  // namespace

base::Result<ClusterUrl> ParseClusterUrl(std::string_view url) {
  constexpr std::string_view kScheme = "zk://";
  if (url.substr(0, kScheme.size()) != kScheme) return Bad(url, "it does not start with zk://");
  std::string_view rest = url.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Bad(url, "the path is missing");
  std::string_view hosts = rest.substr(0, slash);
  std::string_view path = rest.substr(slash);
  if (hosts.empty()) return Bad(url, "no ZooKeeper host is given");

  for (std::size_t start = 0; start <= hosts.size();) {
    std::size_t comma = hosts.find(',', start);
    if (comma == std::string_view::npos) comma = hosts.size();
    std::string_view hp = hosts.substr(start, comma - start);
    if (!ValidHostPort(hp)) {
      return Bad(url, "\"" + std::string(hp) + "\" is not host:port with a port in 1..65535");
    }
    start = comma + 1;
  }

  if (path.size() < 2) return Bad(url, "the path is empty");
  if (path.back() == '/') return Bad(url, "the path ends with '/'");
  for (std::size_t start = 1; start < path.size();) {
    std::size_t next = path.find('/', start);
    if (next == std::string_view::npos) next = path.size();
    std::string_view part = path.substr(start, next - start);
    if (part.empty() || part == "." || part == "..") {
      return Bad(url, "the path has an empty, \".\" or \"..\" component");
    }
    for (char c : part) {
      if (c <= ' ' || c >= 0x7f) return Bad(url, "the path has a space or non-printable byte");
    }
    start = next + 1;
  }
  return ClusterUrl{std::string(hosts), std::string(path)};
}

}  // namespace rc::cluster
