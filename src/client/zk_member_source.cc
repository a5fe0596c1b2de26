// client/zk_member_source.cc -- see ringcached/client/zookeeper.h. The reading itself is the
// ring tool's (zk_source.h), which decodes the znodes with the nodes' own code; a
// ZooKeeperFollower keeps the session and its watches between polls.
#include <memory>

#include "client/zk_source.h"
#include "ringcached/client/zookeeper.h"

namespace rc::client {

MemberSource ZooKeeperMemberSource(std::string url, std::chrono::milliseconds timeout) {
  auto follower =
      std::make_shared<ZooKeeperFollower>(std::move(url), ZkFetchOptions{.timeout = timeout});
  return [follower]() -> base::Result<Membership> {
    std::vector<std::string> warnings;  // undecodable members are left out, as the nodes do
    base::Result<MemberList> list = follower->Poll(&warnings);
    if (!list.ok()) return list.status();
    return Membership{list.value().version, std::move(list.value().members)};
  };
}

}  // namespace rc::client
