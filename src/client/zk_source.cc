// client/zk_source.cc -- see zk_source.h.
//
// The ZooKeeper C client connects in the background; zookeeper_init returns at once and the
// session watcher reports ZOO_CONNECTED_STATE later, on the client's own thread. We wait for that
// event on a condition variable, with the caller's deadline. The watchers are noexcept: an
// exception must never unwind through the C library's frames (STYLE.md section 3).
//
// ZooKeeperFollower keeps its session and leaves watches on <path>/members and on every member's
// data; a watch that fires (a member joined, left or changed state, or the session changed) only
// marks the list for a new read at the next Poll, which otherwise answers from what it read.
#include "client/zk_source.h"

#include <zookeeper/zookeeper.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "ringcached/base/mutex.h"
#include "ringcached/cluster/cluster_url.h"
#include "ringcached/cluster/member_json.h"

namespace rc::client {
namespace {

using base::Result;
using base::Status;
using Clock = std::chrono::steady_clock;

// What the session watcher tells the waiting thread.
struct SessionState {
  base::Mutex mu;
  std::condition_variable_any changed;
  int state RC_GUARDED_BY(mu) = 0;  // the last session state seen (0 before the first event)
};

void OnSessionEvent(zhandle_t* /*zh*/, int type, int state, const char* /*path*/,
                    void* context) noexcept {
  if (type != ZOO_SESSION_EVENT) return;
  auto* session = static_cast<SessionState*>(context);
  {
    base::MutexLock lock(session->mu);
    session->state = state;
  }
  session->changed.notify_all();
}

struct ZkCloser {
  void operator()(zhandle_t* zh) const { zookeeper_close(zh); }
};
using ZkHandle = std::unique_ptr<zhandle_t, ZkCloser>;

// Frees the strings zoo_get_children2 allocated.
class Children {
 public:
  Children() = default;
  ~Children() { deallocate_String_vector(&v_); }
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  String_vector* get() { return &v_; }
  std::vector<std::string> Names() const {
    return std::vector<std::string>(v_.data, v_.data + v_.count);
  }

 private:
  String_vector v_{0, nullptr};
};

std::string ZkError(int rc) { return zerror(rc); }

// One znode's data (leaving a watch on it with `watcher`, when given); *missing when it
// vanished (a member left meanwhile).
Result<std::string> ReadData(zhandle_t* zh, const std::string& path, watcher_fn watcher,
                             void* context, bool* missing) {
  std::string buf(4096, '\0');
  while (true) {
    Stat stat{};
    int len = static_cast<int>(buf.size());
    const int rc = zoo_wget(zh, path.c_str(), watcher, context, buf.data(), &len, &stat);
    if (rc == ZNONODE) {
      *missing = true;
      return std::string();
    }
    if (rc != ZOK) return Status::IoError("reading " + path + ": " + ZkError(rc));
    if (stat.dataLength > static_cast<int>(buf.size())) {  // truncated: grow and read again
      buf.resize(static_cast<std::size_t>(stat.dataLength));
      continue;
    }
    buf.resize(len < 0 ? 0 : static_cast<std::size_t>(len));  // -1: the znode has no data
    return buf;
  }
}

// A child or data watch fired (or the session changed): the list must be read again.
void OnMembersChanged(zhandle_t* /*zh*/, int /*type*/, int /*state*/, const char* /*path*/,
                      void* context) noexcept {
  static_cast<std::atomic<bool>*>(context)->store(true);
}

}  // namespace

// A ZooKeeper session: the handle and what its session watcher last said. The state outlives
// the handle (the watcher's context), so it is declared first.
struct ZkSession {
  SessionState state;
  ZkHandle zh;
};

namespace {

// Opens a session to `hosts` and waits (until `deadline`) for it to connect.
Status Connect(const std::string& hosts, const ZkFetchOptions& options,
               Clock::time_point deadline, ZkSession* session) {
  // Level 0 silences the client: otherwise it logs every reconnect attempt to stderr.
  zoo_set_debug_level(options.verbose ? ZOO_LOG_LEVEL_WARN : static_cast<ZooLogLevel>(0));
  session->zh.reset(
      zookeeper_init(hosts.c_str(), OnSessionEvent,
                     static_cast<int>(std::max<std::int64_t>(options.timeout.count(), 4000)),
                     nullptr, &session->state, 0));
  if (!session->zh) return Status::IoError("zookeeper_init(" + hosts + ") failed");
  base::MutexLock lock(session->state.mu);
  session->state.changed.wait_until(session->state.mu, deadline,
                                    [&]() RC_REQUIRES(session->state.mu) {
                                      const int st = session->state.state;
                                      return st == ZOO_CONNECTED_STATE ||
                                             st == ZOO_EXPIRED_SESSION_STATE ||
                                             st == ZOO_AUTH_FAILED_STATE;
                                    });
  if (session->state.state != ZOO_CONNECTED_STATE) {
    session->zh.reset();
    return Status::IoError("cannot connect to ZooKeeper at " + hosts + " within " +
                           std::to_string(options.timeout.count()) + " ms");
  }
  return Status::Ok();
}

// Reads a consistent snapshot of <members_path> (see FetchFromZooKeeper), leaving a watch on the
// children and on every member's data that sets *changed when given.
Result<MemberList> ReadMembers(zhandle_t* zh, const std::string& members_path,
                               Clock::time_point deadline, std::atomic<bool>* changed_flag,
                               std::vector<std::string>* warnings) {
  watcher_fn watcher = changed_flag != nullptr ? OnMembersChanged : nullptr;
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts && Clock::now() < deadline; ++attempt) {
    Children children;
    Stat before{};
    int rc = zoo_wget_children2(zh, members_path.c_str(), watcher, changed_flag, children.get(),
                                &before);
    if (rc == ZNONODE) {
      return Status::NotFound("ZooKeeper has no " + members_path +
                              " (wrong path, or no node ever joined)");
    }
    if (rc != ZOK) {
      return Status::IoError("listing " + members_path + ": " + ZkError(rc));
    }

    MemberList list;
    list.version = cluster::ViewVersion(before.cversion, before.version);
    std::vector<std::string> notes;
    bool changed = false;
    for (const std::string& name : children.Names()) {
      bool missing = false;
      Result<std::string> data =
          ReadData(zh, members_path + "/" + name, watcher, changed_flag, &missing);
      if (!data.ok()) return data.status();
      if (missing) {
        changed = true;
        break;
      }
      // The nodes' own rule (src/cluster/membership.cc), so every ring agrees.
      Result<cluster::Member> member = cluster::DecodeMemberZnode(name, data.value());
      if (!member.ok()) {
        notes.push_back("member " + name + ": " + member.status().message() +
                        "; left out, as the nodes leave it out");
        continue;
      }
      // The nodes' rings (ClusterView): a leaving member is off the ring, a warming one on it.
      const cluster::Member& m = member.value();
      if (m.state == cluster::MemberState::kLeaving) {
        list.leaving.push_back({name, m.weight});
        continue;
      }
      if (m.state == cluster::MemberState::kWarming) list.warming.push_back(name);
      list.members.push_back({name, m.weight});
    }
    if (!changed) {
      Stat after{};
      rc = zoo_exists(zh, members_path.c_str(), 0, &after);
      changed =
          rc != ZOK || cluster::ViewVersion(after.cversion, after.version) != list.version;
    }
    if (changed) continue;  // a member joined or left while we read: read again
    if (Status s = Canonicalize(&list.members); !s.ok()) return s;
    if (Status s = Canonicalize(&list.leaving); !s.ok()) return s;
    warnings->insert(warnings->end(), notes.begin(), notes.end());
    return list;
  }
  return Status::IoError("the member list of " + members_path +
                         " kept changing while it was read; try again");
}

}  // namespace

Result<MemberList> FetchFromZooKeeper(std::string_view url, const ZkFetchOptions& options,
                                      std::vector<std::string>* warnings) {
  Result<cluster::ClusterUrl> parsed_url = cluster::ParseClusterUrl(url);
  if (!parsed_url.ok()) return parsed_url.status();
  const Clock::time_point deadline = Clock::now() + options.timeout;
  ZkSession session;
  if (Status s = Connect(parsed_url.value().hosts, options, deadline, &session); !s.ok()) {
    return s;
  }
  return ReadMembers(session.zh.get(), parsed_url.value().path + "/members", deadline, nullptr,
                     warnings);
}

ZooKeeperFollower::ZooKeeperFollower(std::string url, ZkFetchOptions options)
    : url_(std::move(url)), options_(options) {}

ZooKeeperFollower::~ZooKeeperFollower() = default;

Result<MemberList> ZooKeeperFollower::Poll(std::vector<std::string>* warnings) {
  Result<cluster::ClusterUrl> parsed_url = cluster::ParseClusterUrl(url_);
  if (!parsed_url.ok()) return parsed_url.status();
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  bool expired = false;
  if (session_ != nullptr) {
    base::MutexLock lock(session_->state.mu);
    expired = session_->state.state == ZOO_EXPIRED_SESSION_STATE ||
              session_->state.state == ZOO_AUTH_FAILED_STATE;
  }
  if (session_ == nullptr || expired) {
    // A new session: its watches are new too, so everything is read again.
    session_ = std::make_unique<ZkSession>();
    if (Status s = Connect(parsed_url.value().hosts, options_, deadline, session_.get());
        !s.ok()) {
      session_.reset();
      return s;
    }
    changed_.store(true);
  }
  if (!changed_.exchange(false) && last_.has_value()) return *last_;
  // Cleared before the read: a change during it fires a watch set by this read or an earlier one.
  Result<MemberList> list = ReadMembers(session_->zh.get(),
                                        parsed_url.value().path + "/members", deadline,
                                        &changed_, warnings);
  if (!list.ok()) {
    changed_.store(true);
    return list.status();
  }
  last_ = list.value();
  return list;
}

}  // namespace rc::client
