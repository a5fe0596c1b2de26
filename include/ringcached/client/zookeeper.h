// ringcached/client/zookeeper.h -- the optional ZooKeeper extra of the client library
// (libringcached-client-zk.a, pkg-config ringcached-client-zk): a MemberSource (client.h) that
// reads the cluster's member list straight from ZooKeeper, the way the nodes read it, instead of
// asking a node `config get cluster`. For clients that must know the ring even while every node
// they know of is unreachable, or that may not talk to nodes before they are configured.
//
// Each poll opens a ZooKeeper session, reads <path>/members and the members' znodes, and closes
// it (src/client/zk_source.h): simple and stateless, at the price of one session per poll, so
// give such a client a config_poll_interval of a second or more. The version is the view
// version the nodes compute (cluster::ViewVersion), so the client never takes an older list.
// Members in the state "leaving" are left out, as the nodes leave them off the ring.
//
// Thread-safety: the returned source is called by the client's control thread only.
#pragma once

#include <chrono>
#include <string>

#include "ringcached/client/client.h"

namespace rc::client {

// `url` is a node's --cluster URL: "zk://host:port[,host:port...]/path". Each call of the
// source fails (IoError, InvalidArgument for a bad URL, NotFound without <path>/members) when
// ZooKeeper cannot be read within `timeout`; the client then keeps the ring it has.
MemberSource ZooKeeperMemberSource(std::string url,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(2));

}  // namespace rc::client
