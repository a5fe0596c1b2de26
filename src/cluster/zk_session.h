// cluster/zk_session.h -- the ZooKeeper C client (libzookeeper_mt) behind a small asynchronous
// interface whose callbacks all run on one EventLoop: the only place that includes
// <zookeeper/zookeeper.h> (STYLE.md section 1).
//
// The multi-threaded C client runs its own I/O and completion threads. Every completion and
// watch those threads deliver is copied into a closure and handed to the loop with RunInLoop(),
// so the code above sees one thread, its own. Each handle (one ZooKeeper session) has a
// generation number: Close() bumps it, and results of an older handle that were still queued are
// dropped, never delivered into a newer session's logic.
//
// Lifetimes: the EventLoop must outlive the ZkSession and must be stopped before the ZkSession is
// destroyed (queued closures hold a pointer to it).
// Thread-safety: none; every method on the loop's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "ringcached/base/mutex.h"
#include "ringcached/base/status.h"

typedef struct _zhandle zhandle_t;
struct Stat;            // ZooKeeper's, from zookeeper.jute.h
struct String_vector;

namespace rc::net {
class EventLoop;
}

namespace rc::cluster {

class ZkSession {
 public:
  enum class State : std::uint8_t {
    kClosed,      // no handle
    kConnecting,  // a handle that is (re)connecting; a session may or may not exist yet
    kConnected,
    kExpired,     // the server expired the session: this handle is dead, Close() it
    kAuthFailed,  // likewise
  };
  // The outcomes the membership tells apart; anything else is kOther.
  enum class Code : std::uint8_t {
    kOk,
    kNoNode,
    kNodeExists,
    kBadVersion,
    kConnectionLoss,  // no answer (disconnect or timeout): retried after the reconnect
    kSessionExpired,
    kClosing,
    kOther,
  };
  // The parts of ZooKeeper's Stat the membership reads.
  struct Stat {
    std::int32_t version = 0;          // data version (for a conditional delete)
    std::int32_t cversion = 0;         // children version: the ring version of <path>/members
    std::int64_t ephemeral_owner = 0;  // the session that owns an ephemeral znode; 0 if none
  };
  using DoneFn = std::function<void(Code)>;
  using DataFn = std::function<void(Code, std::string data, const Stat& stat)>;
  using ChildrenFn =
      std::function<void(Code, std::vector<std::string> children, const Stat& parent)>;

  struct Callbacks {
    std::function<void(State)> on_state;    // every session state change
    std::function<void()> on_children;      // a child watch set by GetChildren(watch) fired
    std::function<void()> on_data;          // a data watch set by Get(watch) fired
  };

  // `hosts` is "h1:p1,h2:p2"; `timeout_ms` the session timeout to ask for.
  ZkSession(net::EventLoop* loop, std::string hosts, int timeout_ms, Callbacks callbacks);
  ~ZkSession();  // Close()
  ZkSession(const ZkSession&) = delete;
  ZkSession& operator=(const ZkSession&) = delete;

  // Creates a handle, which starts connecting in the background (a new session). Fails only
  // when the client refuses the host list (e.g. a name that does not resolve). Requires no open
  // handle.
  base::Status Open();
  // Closes the handle: a connected session ends at once (its ephemeral znodes go with it).
  // Blocks until the client's threads have finished (a few seconds at most). Pending callbacks are
  // dropped. No-op without a handle.
  void Close();

  bool is_open() const { return zh_ != nullptr; }
  State state() const { return state_; }
  // The session's id, known from its first connection on; 0 before.
  std::int64_t session_id() const { return session_id_; }
  // The timeout the server granted; 0 before the first connection.
  int negotiated_timeout_ms() const { return negotiated_timeout_ms_; }

  // Asynchronous operations; `done` runs later on the loop (never from inside the call), unless
  // the handle is closed first.
  void Create(const std::string& path, const std::string& data, bool ephemeral, DoneFn done);
  // With `watch`, Callbacks::on_data runs once when the znode's data changes or it is deleted
  // (ZooKeeper keeps one such watch per path, however often it is set).
  void Get(const std::string& path, bool watch, DataFn done);
  void Get(const std::string& path, DataFn done) { Get(path, false, std::move(done)); }
  // Sets the data of several znodes in one transaction: all or none (zoo_amulti). Each write
  // is unconditional (any data version).
  struct SetData {
    std::string path;
    std::string data;
  };
  void SetAll(std::vector<SetData> writes, DoneFn done);
  void Delete(const std::string& path, std::int32_t version, DoneFn done);
  // With `watch`, Callbacks::on_children runs once when the children change (set it again by
  // calling GetChildren again, as ZooKeeper watches fire once).
  void GetChildren(const std::string& path, bool watch, ChildrenFn done);

  static std::string_view StateName(State state);
  static std::string_view CodeName(Code code);

 private:
  struct HandleContext;
  struct Pending;
  static void OnSessionWatch(zhandle_t* zh, int type, int state, const char* path,
                             void* ctx) noexcept;
  static void OnChildWatch(zhandle_t* zh, int type, int state, const char* path,
                           void* ctx) noexcept;
  static void OnDataWatch(zhandle_t* zh, int type, int state, const char* path,
                          void* ctx) noexcept;
  static void OnLog(const char* message) noexcept;
  static void OnVoid(int rc, const void* data) noexcept;
  static void OnString(int rc, const char* value, const void* data) noexcept;
  static void OnData(int rc, const char* value, int len, const ::Stat* stat,
                     const void* data) noexcept;
  static void OnChildren(int rc, const ::String_vector* strings, const ::Stat* stat,
                         const void* data) noexcept;
  void HandleSessionEvent(int zk_state);
  // A Pending is the client's from the call that takes it until its completion (TakeBack); the
  // ones still out when the handle closes are freed by Close().
  void Register(Pending* p);
  void Unregister(Pending* p);
  static std::shared_ptr<Pending> TakeBack(const void* data);
  // Queues `fn` to run on the loop if the handle of `generation` is still the current one.
  void Deliver(std::uint64_t generation, std::function<void()> fn);
  std::unique_ptr<Pending> NewPending();
  // An operation the client refused on the spot: report `rc` through the loop, as if it came back.
  void Refused(int rc, std::unique_ptr<Pending> pending);

  net::EventLoop* loop_;
  std::string hosts_;
  int timeout_ms_;
  Callbacks callbacks_;
  zhandle_t* zh_ = nullptr;
  std::unique_ptr<HandleContext> context_;
  std::uint64_t generation_ = 0;
  base::Mutex outstanding_mu_;  // the client's completion thread takes Pendings back
  std::unordered_set<Pending*> outstanding_ RC_GUARDED_BY(outstanding_mu_);
  State state_ = State::kClosed;
  std::int64_t session_id_ = 0;
  int negotiated_timeout_ms_ = 0;
};

}  // namespace rc::cluster
