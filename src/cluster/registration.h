// cluster/registration.h -- what to do when this node's znode name is already taken.
//
// The create of <path>/members/<name> fails with "node exists" in three situations that must be
// told apart, from the existing znode's ephemeralOwner (the session that created it) and data:
//   * It is this session's own: a create whose reply was lost to a disconnect, then retried.
//   * It is a leftover of a session that is gone or going: an earlier session of this process
//     (one that expired while the znode outlived it on the server), or a predecessor process
//     killed before its session timed out. The predecessor is recognized by advertising this
//     node's own address and port, which this process has just bound, so it cannot be serving.
//     The leftover is deleted and replaced, rather than waiting out the old session's timeout.
//   * It is a live node of another session with the same ring name: a configuration error
//     (two nodes claiming one ring position would split its keys unpredictably).
// Pure logic, so unit tests cover every branch without ZooKeeper.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ringcached/base/status.h"
#include "ringcached/cluster/member.h"

namespace rc::cluster {

enum class ExistingNode : std::uint8_t {
  kOurs,          // keep it: this session created it
  kLeftover,      // delete it (at its version) and create ours
  kLiveConflict,  // another node holds the name: refuse
  kNotEphemeral,  // a persistent znode holds the name (made by hand?): refuse
};

// `data` is the existing znode's decoded JSON, or an error if it did not decode.
ExistingNode JudgeExistingNode(std::int64_t ephemeral_owner, const base::Result<Member>& data,
                               std::int64_t current_session,
                               const std::vector<std::int64_t>& earlier_sessions,
                               const Member& self);

// The operator-facing explanation of a refusal (kLiveConflict or kNotEphemeral), naming the
// znode, its owner and what it advertises, and what to change.
std::string DescribeNameConflict(ExistingNode verdict, const std::string& znode,
                                 std::int64_t ephemeral_owner, const base::Result<Member>& data);

}  // namespace rc::cluster
