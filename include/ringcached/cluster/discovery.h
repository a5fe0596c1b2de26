// cluster/discovery.h -- ElastiCache auto-discovery: the replies of `config get cluster` and of
// the legacy `get AmazonElastiCache:cluster`, so that auto-discovery clients (the ElastiCache
// Cluster Clients, pymemcache's ConfigurationEndpointClient, folsom, dalli-elasticache...) follow
// the membership (DESIGN.md section 1, item 4).
//
// The format (AWS, "Adding Auto Discovery To Your Client Library", Output Format):
//
//   CONFIG cluster 0 <bytes>\r\n            `config get cluster` (engine 1.4.14 and later)
//   VALUE AmazonElastiCache:cluster 0 <bytes>\r\n     the legacy get (before 1.4.14)
//   <version>\n                             the configuration version, a 32-bit integer
//   <host>|<ip>|<port> <host>|<ip>|<port>\n one entry per node, separated by single spaces
//   \r\n
//   END\r\n
//
// <bytes> counts the payload, from <version> through the "\n" that ends the node list; the
// "\r\n" after it closes the data block as in any memcached value. (Checked against AWS's own
// example responses: "CONFIG cluster 0 191" with a 191-byte payload for three nodes.) Here the
// version is the ring version and the nodes are the ring members in ring order; <host> is the
// host part of the ring name, <ip> the member's address ("" when unknown, which clients accept),
// <port> its port.
#pragma once

#include <string>
#include <string_view>

#include "ringcached/cluster/member.h"
#include "ringcached/cluster/membership.h"

namespace rc::cluster {

inline constexpr std::string_view kLegacyDiscoveryKey = "AmazonElastiCache:cluster";

// "<version>\n<host>|<ip>|<port> ...\n": the data block both replies carry.
std::string DiscoveryPayload(const ClusterView& view);
// The whole reply to `config get cluster`, END included.
std::string ConfigGetClusterReply(const ClusterView& view);
// "VALUE AmazonElastiCache:cluster 0 <bytes>\r\n<payload>\r\n": one value of a get reply; the
// caller ends the reply with END as for any get.
std::string LegacyDiscoveryValue(const ClusterView& view);

// The <host> of a member: its ring name without the ":<port>" suffix when that suffix is the
// member's port, and without the brackets of an IPv6 literal ("[::1]:11212" -> "::1").
std::string DiscoveryHost(const Member& member);

}  // namespace rc::cluster
