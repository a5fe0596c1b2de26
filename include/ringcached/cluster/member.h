// cluster/member.h -- one member of the cluster as ZooKeeper records it, and the rules for a ring
// name.
//
// Each live node owns the ephemeral znode <path>/members/<name>; its data is the JSON form of a
// Member (ringcached/cluster/member_json.h), e.g.
//   {"name":"127.0.0.1:11311","address":"127.0.0.1","port":11311,"weight":1,
//    "incarnation":1732600000123,"state":"up"}
// The name is the node's ring name: the exact string clients are configured with (--advertise,
// KETAMA.md section 2.1), so it is also the znode's name and the Ketama input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ringcached/base/status.h"

namespace rc::cluster {

// Where a member stands in the data plane (../shared/REPLICATION.md section 6). Every state is on
// the ring; the states decide who is sent hand-off, who clients are pointed at, and whose writes
// go to the union of old and new holders.
enum class MemberState : std::uint8_t {
  kUp,       // serving its keys
  kWarming,  // joined (or back under a new incarnation): receives writes and hand-off
  kLeaving,  // draining: keeps serving and forwarding while its keys move to their next holders
};
// The view version every node computes from <path>/members (membership.h): its children's
// version (joins, leaves) plus its data version (state changes).
inline std::int32_t ViewVersion(std::int32_t cversion, std::int32_t data_version) {
  return cversion + data_version;
}

// "up", "warming", "leaving": the znode's "state" field.
std::string_view MemberStateName(MemberState state);
std::optional<MemberState> ParseMemberState(std::string_view name);

struct Member {
  std::string name;              // ring name, e.g. "cache1.example:11211" or "[::1]:11212"
  std::string address;           // an IP address clients can connect to; "" when unknown
  int port = 0;                  // the TCP port the node serves on
  std::uint32_t weight = 1;      // Ketama weight (--weight)
  std::int64_t incarnation = 0;  // grows with every new ZooKeeper session of the node
  MemberState state = MemberState::kUp;

  bool operator==(const Member&) const = default;
};

// OK if `name` can be a ring name and a znode name at once: 1 to 255 bytes, printable ASCII
// without spaces (the ElastiCache discovery line separates nodes with spaces), no '/' (a znode
// path separator) and not "." or ".." (ZooKeeper refuses those names). The message says which
// rule failed.
base::Status CheckRingName(std::string_view name);

}  // namespace rc::cluster
