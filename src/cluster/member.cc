// cluster/member.cc -- see member.h: member states by name, and the rules for a ring name.
#include "ringcached/cluster/member.h"

namespace rc::cluster {

std::string_view MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kUp: return "up";
    case MemberState::kWarming: return "warming";
    case MemberState::kLeaving: return "leaving";
  }
  return "up";
}

std::optional<MemberState> ParseMemberState(std::string_view name) {
  for (MemberState s : {MemberState::kUp, MemberState::kWarming, MemberState::kLeaving}) {
    if (MemberStateName(s) == name) return s;
  }
  return std::nullopt;
}

base::Status CheckRingName(std::string_view name) {
  if (name.empty()) return base::Status::InvalidArgument("the ring name is empty");
  if (name.size() > 255) {
    return base::Status::InvalidArgument("the ring name is longer than 255 bytes");
  }
  if (name == "." || name == "..") {
    return base::Status::InvalidArgument("\"" + std::string(name) +
                                         "\" cannot be a ring name (ZooKeeper refuses it)");
  }
  for (char c : name) {
    if (c == '/') {
      return base::Status::InvalidArgument("the ring name \"" + std::string(name) +
                                           "\" contains '/', which ZooKeeper node names cannot");
    }
    if (c <= ' ' || c >= 0x7f) {
      return base::Status::InvalidArgument(
          "the ring name \"" + std::string(name) +
          "\" contains a space or a non-printable byte (printable ASCII only)");
    }
  }
  return base::Status::Ok();
}

}  // namespace rc::cluster
