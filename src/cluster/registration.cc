// cluster/registration.cc -- see registration.h.
#include "cluster/registration.h"

#include <algorithm>
#include <cstdio>

namespace rc::cluster {
namespace {

// An address that names one host. A wildcard or an empty address says nothing about who owns a
// port, so it can never identify a predecessor.
bool SpecificAddress(const std::string& address) {
  return !address.empty() && address != "0.0.0.0" && address != "::" && address != "[::]";
}

std::string SessionHex(std::int64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace

ExistingNode JudgeExistingNode(std::int64_t ephemeral_owner, const base::Result<Member>& data,
                               std::int64_t current_session,
                               const std::vector<std::int64_t>& earlier_sessions,
                               const Member& self) {
  if (ephemeral_owner == 0) return ExistingNode::kNotEphemeral;
  if (ephemeral_owner == current_session) return ExistingNode::kOurs;
  if (std::find(earlier_sessions.begin(), earlier_sessions.end(), ephemeral_owner) !=
      earlier_sessions.end()) {
    return ExistingNode::kLeftover;
  }
  if (data.ok() && SpecificAddress(self.address) && data.value().address == self.address &&
      data.value().port == self.port) {
    return ExistingNode::kLeftover;
  }
  return ExistingNode::kLiveConflict;
}

std::string DescribeNameConflict(ExistingNode verdict, const std::string& znode,
                                 std::int64_t ephemeral_owner, const base::Result<Member>& data) {
  std::string what = "unreadable data";
  if (data.ok()) {
    what = "address \"" + data.value().address + "\" port " + std::to_string(data.value().port);
  }
  if (verdict == ExistingNode::kNotEphemeral) {
    return "the ring name is taken: " + znode + " exists and is not an ephemeral member znode (" +
           what + "); delete it, or start this node with another --advertise name";
  }
  return "the ring name is taken by a live node: " + znode + " belongs to ZooKeeper session " +
         SessionHex(ephemeral_owner) + " (" + what +
         "); give this node its own --advertise name, or stop the other node first";
}

}  // namespace rc::cluster
