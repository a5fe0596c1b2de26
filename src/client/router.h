// client/router.h -- where the client library sends a key: the cluster's Ketama ring (one
// profile: libmemcached, twemproxy or spymemcached; cluster/ring.h) and the rules that route
// around TKO nodes (client/tko.h), REPLICATION.md sections 2 and 8:
//
//   * reads go to the first holder that is not TKO, in Ring::Holders order -- where the
//     profile's own failing-over clients look, and where the cluster keeps the key's copies;
//   * writes go to the owner; while some node is TKO, to the owner on the ring rebuilt without
//     every TKO node (exactly what libmemcached REMOVE_FAILED_SERVERS or twemproxy
//     auto_eject_hosts compute, for every key: with weights a few keys of live owners move too),
//     except for the spymemcached profile, whose clients never rebuild and fail over along their
//     re-hash sequence (= Holders order) instead.
//
// For the TKO node's own keys, with one node TKO, both rules give the same node (Holders(k, 2)[1]
// is the post-ejection owner), so a write lands where the next read looks. Hot keys are chosen above this (client.cc, with
// hot_keys.h's ChooseHotCopy).
//
// A Router is built for one member list and never changes (a new list makes a new Router).
// Thread-safety: every const method from any thread; the rebuilt ring is cached under a mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "ringcached/base/mutex.h"
#include "ringcached/cluster/ring.h"

namespace rc::client {

class Router {
 public:
  // Whether member i (an index into members()) is TKO.
  using IsTko = std::function<bool(std::uint32_t member)>;

  // `members` in the cluster's canonical order (by name): the order that numbers them and breaks
  // ties on the ring, as every node does.
  Router(std::vector<cluster::RingMember> members, cluster::RingProfile profile);

  const cluster::Ring& ring() const { return *ring_; }
  const std::vector<cluster::RingMember>& members() const { return ring_->members(); }
  bool empty() const { return ring_->empty(); }

  // The key's owner (no TKO considered). Requires !empty().
  std::uint32_t Owner(std::string_view key) const { return ring_->Owner(key); }

  // The members to read `key` from, best first, into out[0..max): its holders in Holders order
  // without the TKO ones. When every holder is TKO, the owner alone (the call then fails on it,
  // or finds it back). Returns how many were written (>= 1 when !empty(), max >= 1).
  std::size_t ReadOrder(std::string_view key, const IsTko& is_tko, std::uint32_t* out,
                        std::size_t max) const;

  // The member to write `key` to (see the file comment). When every member is TKO, the owner.
  std::uint32_t WriteTarget(std::string_view key, const IsTko& is_tko) const;

 private:
  // The ring of the members not TKO (for libmemcached and twemproxy), cached for one TKO set.
  struct Ejected {
    std::vector<bool> tko;                 // by member index: the set this ring leaves out
    std::unique_ptr<cluster::Ring> ring;   // members not TKO, canonical order
    std::vector<std::uint32_t> to_member;  // ring's member index -> members() index
  };
  std::shared_ptr<const Ejected> EjectedFor(std::vector<bool> tko) const;

  std::unique_ptr<const cluster::Ring> ring_;
  mutable base::Mutex mu_;
  mutable std::shared_ptr<const Ejected> ejected_ RC_GUARDED_BY(mu_);
};

}  // namespace rc::client
