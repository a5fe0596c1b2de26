// client/zk_source.h -- the member list as ZooKeeper holds it: the children of <path>/members,
// each named by its member's ring name and carrying that member's JSON (weight, state...); the
// membership version is the view version of <path>/members, as the nodes compute it
// (cluster::ViewVersion; doc/membership.md).
//
// The URL and the znodes are read with the nodes' own code, so the tool takes exactly the URLs a
// node's --cluster takes (cluster::ParseClusterUrl) and keeps exactly the members the nodes keep
// (cluster::DecodeMemberZnode).
//
// Uses the ZooKeeper C client's synchronous API, which blocks: fine in a tool, never in a server
// thread. zk_source.cc is the only file of client/ that includes <zookeeper/zookeeper.h>.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/member_list.h"

namespace rc::client {

struct ZkFetchOptions {
  std::chrono::milliseconds timeout{5000};  // to connect, and for the whole read
  bool verbose = false;                     // let the ZooKeeper client log warnings to stderr
};

// `url` is "zk://host:port[,host:port...]/path", as a node's --cluster. Reads a consistent
// snapshot: if the children change while their data is read (a member joins or leaves), the read
// starts over, a few times at most. The ring is the one the nodes build
// (src/cluster/membership.cc): a member whose data cannot be decoded or names another member is
// left out, one in a state other than "up" is kept; both are reported in `warnings`.
// Errors: InvalidArgument (bad URL), NotFound (no <path>/members), IoError (ZooKeeper
// unreachable or failing).
base::Result<MemberList> FetchFromZooKeeper(std::string_view url, const ZkFetchOptions& options,
                                            std::vector<std::string>* warnings);

struct ZkSession;

// The member list kept up to date through one ZooKeeper session with watches: Poll() reads the
// list (as FetchFromZooKeeper) the first time and whenever a watch has fired since -- a member
// joined, left or changed state -- and otherwise answers at once from its last read. A session
// that expired is replaced (and everything read again). The same errors as FetchFromZooKeeper;
// after one, the next Poll reads again. Thread-safety: one thread at a time.
class ZooKeeperFollower {
 public:
  ZooKeeperFollower(std::string url, ZkFetchOptions options);
  ~ZooKeeperFollower();
  ZooKeeperFollower(const ZooKeeperFollower&) = delete;
  ZooKeeperFollower& operator=(const ZooKeeperFollower&) = delete;
  base::Result<MemberList> Poll(std::vector<std::string>* warnings);

 private:
  const std::string url_;
  const ZkFetchOptions options_;
  std::atomic<bool> changed_{true};  // set by the watches, on the ZooKeeper client's thread
  std::optional<MemberList> last_;
  std::unique_ptr<ZkSession> session_;  // last: it goes first, with the watches on changed_
};

}  // namespace rc::client
