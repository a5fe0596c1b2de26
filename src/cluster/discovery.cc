// cluster/discovery.cc -- see discovery.h.
#include "ringcached/cluster/discovery.h"

#include <algorithm>

namespace rc::cluster {

std::string DiscoveryHost(const Member& member) {
  std::string host = member.name;
  std::string port_suffix = ":" + std::to_string(member.port);
  if (host.size() > port_suffix.size() &&
      host.compare(host.size() - port_suffix.size(), port_suffix.size(), port_suffix) == 0) {
    host.resize(host.size() - port_suffix.size());
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

std::string DiscoveryPayload(const ClusterView& view) {
  std::string out = std::to_string(view.version);  // the view version: a 32-bit integer
  out += '\n';
  // Clients are pointed at up members only: a warming one is not yet, a leaving one (not in
  // `members`) no longer (REPLICATION.md section 6) -- unless none is up (a cluster starting,
  // every node warming, has nothing to hand over yet): then at every member on the ring.
  const bool any_up = std::any_of(view.members.begin(), view.members.end(),
                                  [](const Member& m) { return m.state == MemberState::kUp; });
  bool first = true;
  for (const Member& m : view.members) {
    if (any_up && m.state != MemberState::kUp) continue;
    if (!first) out += ' ';
    first = false;
    out += DiscoveryHost(m);
    out += '|';
    out += m.address;
    out += '|';
    out += std::to_string(m.port);
  }
  out += '\n';
  return out;
}

std::string ConfigGetClusterReply(const ClusterView& view) {
  std::string payload = DiscoveryPayload(view);
  return "CONFIG cluster 0 " + std::to_string(payload.size()) + "\r\n" + payload + "\r\nEND\r\n";
}

std::string LegacyDiscoveryValue(const ClusterView& view) {
  std::string payload = DiscoveryPayload(view);
  return "VALUE " + std::string(kLegacyDiscoveryKey) + " 0 " + std::to_string(payload.size()) +
         "\r\n" + payload + "\r\n";
}

}  // namespace rc::cluster
