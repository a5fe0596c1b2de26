// cluster/cluster_url.h -- the --cluster argument: zk://host:port[,host:port...]/path.
//
// The host list goes to the ZooKeeper client as it is ("h1:2181,h2:2181"); the path is the
// cluster's root znode, under which members register as <path>/members/<name>. The path is not
// a ZooKeeper chroot: ringcached creates its components itself when they are missing.
#pragma once

#include <string>
#include <string_view>

#include "ringcached/base/status.h"

namespace rc::cluster {

struct ClusterUrl {
  std::string hosts;  // "127.0.0.1:2181,127.0.0.1:2182"
  std::string path;   // "/ringcached/prod": absolute, no trailing '/', no empty component
};

// Parses "zk://h1:p1[,h2:p2...]/path". Every host needs a port in 1..65535 (an IPv6 host is
// written in brackets: "[::1]:2181"). The message of an error names the part that is wrong.
base::Result<ClusterUrl> ParseClusterUrl(std::string_view url);

}  // namespace rc::cluster
