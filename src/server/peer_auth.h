// server/peer_auth.h -- PeerAuth: what a session needs to accept a peer link
// (../shared/REPLICATION.md section 4; the handshake is cluster/peer_hello.h): the cluster's
// secrets, this node's hello as it stands, and the clock a peer's must be admitted into.
//
// Exists only on a cluster node given --cluster-secret-file; without it rc_hello is an unknown
// command (ERROR) and the peer-only meta flag is refused, so a client can never speak as a peer.
//
// Thread-safety: `secrets` is immutable; `hello` and the clock may be used from any worker.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ringcached/base/hybrid_clock.h"
#include "ringcached/cluster/peer_hello.h"

namespace rc::server {

struct PeerAuth {
  std::vector<std::string> secrets;                   // --cluster-secret-file (one or two)
  std::function<cluster::PeerHello()> hello;          // this node now, with a fresh nonce
  base::HybridClock* versions = nullptr;              // a peer's clock is admitted into this
};

}  // namespace rc::server
