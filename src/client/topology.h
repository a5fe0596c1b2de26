// client/topology.h -- one member list as a Client routes by it: the Router (ring + TKO rules,
// client/router.h), the Node of each member, and hot-key reads on top (client/hot_keys.h).
//
// A Topology never changes after it is built; a ring change builds a new one (reusing the Nodes
// of members that stay, so connections, TKO state and hot-key slots carry over) and the client
// swaps it whole. A call takes the current one and routes its whole attempt by it.
// Thread-safety: const methods from any thread (Nodes lock themselves).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "client/hot_keys.h"
#include "client/node.h"
#include "client/router.h"

namespace rc::client {

class Topology {
 public:
  // `nodes[i]` is the Node of members[i]; members in canonical order.
  Topology(std::int64_t version, std::vector<cluster::RingMember> members,
           cluster::RingProfile profile, std::vector<std::shared_ptr<Node>> nodes);

  std::int64_t version() const { return version_; }
  const Router& router() const { return router_; }
  const std::vector<std::shared_ptr<Node>>& nodes() const { return nodes_; }
  bool empty() const { return router_.empty(); }

  // The members to read `key` from, best first, into out[0..max) (max >= 1); returns how many.
  // A hot key (one its owner listed, with copies) starts with this client's copy
  // (ChooseHotCopy with the owner's slot; copies not on this ring or TKO are skipped); then the
  // holders not yet listed, TKO ones left out (Router::ReadOrder). With `hot_copies` false the
  // holders only (a copy missed the key). Requires !empty().
  std::size_t ReadOrder(std::string_view key, std::uint32_t* out, std::size_t max,
                        bool hot_copies = true) const;
  // The hot-copy TTL of `key` if its owner lists it as hot, else 0.
  std::uint32_t HotCopyTtl(std::string_view key) const;
  // Whether reading `key` from `member` reads a hot copy rather than one of its holders.
  bool IsHotCopyRead(std::string_view key, std::uint32_t member) const;
  // Where a write of `key` goes (Router::WriteTarget). Requires !empty().
  std::uint32_t WriteTarget(std::string_view key) const;

 private:
  bool IsTko(std::uint32_t member) const { return nodes_[member]->tko(); }

  std::int64_t version_;
  Router router_;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::unordered_map<std::string, std::uint32_t, KeyHash, std::equal_to<>> index_;  // by name
};

}  // namespace rc::client
