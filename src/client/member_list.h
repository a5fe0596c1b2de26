// client/member_list.h -- a cluster's member list as the ring tool reads it, from any of its three
// sources, and the text formats two of them arrive in:
//   * a --servers list written by hand:      "127.0.0.1:11311,127.0.0.1:11312=3"
//   * a node's `config get cluster` reply:   ElastiCache auto-discovery format (ParseClusterConfig)
// The third, ZooKeeper's member znodes, is read with the nodes' own decoder
// (ringcached/cluster/member_json.h; see zk_source.h).
// Whatever the source, members end up in the cluster's canonical order: by ring name, byte by
// byte (Canonicalize), so every tool and node numbers them the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/status.h"
#include "ringcached/cluster/ring.h"

namespace rc::client {

struct MemberList {
  // The membership version the source reported: the `config get cluster` version, or the cversion
  // of ZooKeeper's <path>/members. nullopt for a --servers list, which has none.
  std::optional<std::int64_t> version;
  std::vector<cluster::RingMember> members;  // on the ring (up and warming), canonical order
  // Read from ZooKeeper only (the other sources list up members): the members draining off the
  // ring (state "leaving", not on it), and the names of those on it that are still warming.
  std::vector<cluster::RingMember> leaving;  // canonical order
  std::vector<std::string> warming;
};

// Sorts by ring name (byte order). Fails on an empty or duplicate name: two members with one
// name would hash to the same points, and no client can address them apart.
base::Status Canonicalize(std::vector<cluster::RingMember>* members);

// "name[=weight],name[=weight],..." where name is the ring name as clients write it ("host",
// "host:port", "[v6]:port") and weight a positive integer (default 1). Canonical order.
base::Result<MemberList> ParseServerList(std::string_view spec);

// A complete reply to `config get cluster`:
//   "CONFIG cluster <flags> <bytes>\r\n<version>\n<host>|<ip>|<port> ...\n\r\nEND\r\n"
// Each entry's ring name is "<host>:<port>" (the IP when the host field is empty); weights are 1,
// the format has none. InvalidArgument when the reply is malformed, NotFound when the node
// answered without a cluster configuration ("END" alone, or ERROR).
base::Result<MemberList> ParseClusterConfig(std::string_view reply);

// How many bytes of `buffered` form a complete reply to a `config get` (cluster, hotkeys: a
// CONFIG block and END), or 0 while more bytes are needed. Error and empty replies
// ("ERROR\r\n", "END\r\n"...) are complete too.
std::size_t ConfigReplyLength(std::string_view buffered);

}  // namespace rc::client
