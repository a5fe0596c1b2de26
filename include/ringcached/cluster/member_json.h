// cluster/member_json.h -- a Member to and from the JSON object stored in its znode, and the
// rule that decides which member znodes make the ring. The object:
//
//   {"name":"127.0.0.1:11311","address":"127.0.0.1","port":11311,"weight":1,
//    "incarnation":1732600000123,"state":"up"}
//
// Public so that the ring tool's --zk (src/client/zk_source.cc) reads the znodes with the nodes'
// own code: it then leaves out exactly the members the nodes leave out, and prints the ring they
// build. Thread-safety: plain functions of their arguments; any thread.
//
// Why a hand-written codec rather than a JSON library: this one flat object is the only JSON
// ringcached reads or writes, and ~200 lines with a unit test and bounded recursion are less to
// audit than a 25,000-line header-only dependency (nlohmann-json) pulled into the build for it.
//
// Encoding writes exactly the layout above (no spaces, that field order). Decoding is tolerant
// where JSON allows it (whitespace, any field order, unknown fields of any type, string escapes
// including \uXXXX) and strict about our fields' types: a name, address and state are strings,
// port, weight and incarnation are integers in range. name and port are required.
#pragma once

#include <string>
#include <string_view>

#include "ringcached/base/status.h"
#include "ringcached/cluster/member.h"

namespace rc::cluster {

std::string EncodeMember(const Member& member);
// The message of an error says what is wrong and where (a byte offset).
base::Result<Member> DecodeMember(std::string_view json);

// The member that the znode <path>/members/<znode_name> announces: its data decoded, and refused
// unless it names that znode (one node's data copied under another name must not put the node
// on the ring twice). A node leaves out of its ring every member this refuses, and so does the
// ring tool, so every ring agrees. The message says why -- DecodeMember's, or `its data names
// "<name>"` -- and does not repeat `znode_name`.
base::Result<Member> DecodeMemberZnode(std::string_view znode_name, std::string_view data);

}  // namespace rc::cluster
