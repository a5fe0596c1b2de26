// client/client_configs.h -- client configurations that make a client compute the same ring as
// the cluster: a libmemcached configuration string (memcached(3), also what PHP and pylibmc
// accept as libmemcached options) and a twemproxy (nutcracker) server pool.
//
// Both list the members in the order given (the cluster's canonical order), so that on the rare
// equal point value the client breaks the tie as the ring does (lower list index wins).
// t/proto/ring_tool_libmemcached_test feeds the libmemcached string to the real library.
#pragma once

#include <string>
#include <vector>

#include "ringcached/base/status.h"
#include "ringcached/cluster/ring.h"

namespace rc::client {

// E.g. "--DISTRIBUTION=consistent --HASH=MD5 --SERVER=127.0.0.1:11311/?2 --SERVER=...".
// libmemcached's configuration syntax has no KETAMA_WEIGHTED switch; the same ring comes from
// --DISTRIBUTION=consistent followed by servers of which at least one has weight > 1, which turns
// libmemcached's weighted ketama on by itself (hosts.cc server_add), plus --HASH for the key
// hash. When every weight is 1 they are all written as 2: the same shares, so the same ring.
// InvalidArgument when the recipe is not a libmemcached ring (spymemcached naming, KETAMA_SPY:
// the syntax cannot select it) or a host cannot be written in the syntax (IPv6, reserved words).
base::Result<std::string> LibmemcachedConfigString(const std::vector<cluster::RingMember>& members,
                                                   const cluster::RingRecipe& recipe);

struct TwemproxyPoolOptions {
  std::string pool = "ringcached";
  std::string listen = "127.0.0.1:22121";
};

// A nutcracker.yml pool stanza (distribution ketama, the recipe's hash, auto_eject_hosts false so
// that twemproxy never reshapes the ring on its own). InvalidArgument when twemproxy cannot
// compute the recipe's ring (spymemcached naming, plain ketama's 100-point ring...).
base::Result<std::string> TwemproxyPool(const std::vector<cluster::RingMember>& members,
                                        const cluster::RingRecipe& recipe,
                                        const TwemproxyPoolOptions& options);

}  // namespace rc::client
