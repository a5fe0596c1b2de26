// client/client_impl.h -- Client's insides, shared by client.cc (the calls: routing, rounds,
// retries) and control.cc (opening, and the control thread: member-list polls, hot-key polls,
// TKO probes). Not installed.
//
// Locking: topo_mu_ guards the current Topology pointer, the Nodes by name and the newest
// member-list version seen; a call copies the pointer and routes without the lock. Nodes lock
// themselves. stop_mu_ guards the control thread's stop flag.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "client/connection.h"
#include "client/local_cache.h"
#include "client/node.h"
#include "client/topology.h"
#include "ringcached/base/mutex.h"
#include "ringcached/client/client.h"

namespace rc::client {

struct Client::Impl {
  using Clock = std::chrono::steady_clock;

  explicit Impl(Options opts) : options(std::move(opts)) {}

  // ---- client.cc ----
  // What became of one request round on one node.
  struct Round {
    Exchange::Outcome outcome = Exchange::Outcome::kPending;
    std::string error;
    bool reused = false;  // it ran on an idle connection (which the node may have closed)
  };
  // Sends `request` to `node` (a fresh connection when `fresh`), feeds the replies to `on_input`
  // (a collector of replies.h, passed with std::ref), and settles the node's TKO state and the
  // connection (Settle). Blocks up to Options::timeout.
  Round RunRound(Node& node, const std::string& request,
                 std::function<proto::client::ReplyStatus(std::string_view, std::size_t*)> on_input,
                 bool fresh = false);
  // After an exchange on `node`: success resets its timeouts and keeps the connection; a
  // connect error (or a fresh connection breaking) makes it TKO; a timeout counts; a reused
  // connection breaking drops the node's idle ones (they were probably closed too).
  static void Settle(Node& node, std::unique_ptr<Connection> conn, const Exchange& x);
  // Sends a one-line-reply write (set, add, delete) to the key's write target, retrying as the
  // header says. The reply line, or the error.
  base::Result<std::string> Write(std::string_view key, const std::string& request);

  std::shared_ptr<const Topology> Current() const {
    base::MutexLock lock(topo_mu);
    return topo;
  }

  // ---- control.cc ----
  // The first member list (Open).
  base::Result<Membership> InitialMembers();
  // The profile from `stats cluster` of the first member that answers (nullopt: none says).
  std::optional<cluster::RingProfile> AskProfile(const std::vector<cluster::RingMember>& members);
  // Builds and publishes a Topology for `members` when `version` is newer than any seen (or the
  // list has no version and differs). Returns whether it did.
  bool Adopt(const Membership& membership);
  void ControlLoop();
  void PollMembers();
  void PollHotKeys();
  void ProbeTkoNodes();
  bool follows_members() const {
    return !options.discovery.empty() || static_cast<bool>(options.member_source);
  }

  const Options options;
  cluster::RingProfile profile = cluster::RingProfile::kLibmemcached;
  LocalHotCache local_cache;  // used with Options::local_hot_cache
  std::atomic<std::uint64_t> local_hits{0};

  mutable base::Mutex topo_mu;
  std::shared_ptr<const Topology> topo RC_GUARDED_BY(topo_mu);
  std::map<std::string, std::shared_ptr<Node>, std::less<>> nodes_by_name RC_GUARDED_BY(topo_mu);
  std::optional<std::int64_t> newest_version RC_GUARDED_BY(topo_mu);

  std::size_t poll_cursor = 0;  // control thread: which member to ask for the list next

  base::Mutex stop_mu;
  std::condition_variable_any stop_cv;
  bool stopping RC_GUARDED_BY(stop_mu) = false;
  std::thread control;
};

}  // namespace rc::client
