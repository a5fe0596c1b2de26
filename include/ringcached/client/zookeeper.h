// ringcached/client/zookeeper.h -- the optional ZooKeeper extra of the client library
// (libringcached-client-zk.a, pkg-config ringcached-client-zk): a MemberSource (client.h) that
// reads the cluster's member list straight from ZooKeeper, the way the nodes read it, instead of
// asking a node `config get cluster`. For clients that must know the ring even while every node
// they know of is unreachable, or that may not talk to nodes before they are configured.
//
// The source keeps one ZooKeeper session and leaves watches on <path>/members and on every
// member's znode (src/client/zk_source.h, ZooKeeperFollower): a poll answers at once from its
// last read unless a watch fired since -- a member joined, left or changed state -- and then
// reads the list again, so the client follows a change within one config_poll_interval. An
// expired session is replaced. The version is the view version the nodes compute
// (cluster::ViewVersion), so the client never takes an older list. Members in the state
// "leaving" are left out, as the nodes leave them off the ring.
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
