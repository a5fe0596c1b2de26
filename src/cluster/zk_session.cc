// cluster/zk_session.cc -- see zk_session.h.
//
// Threads: the C client calls every function marked noexcept below from its completion thread
// (and, while zookeeper_close() runs, from the closing thread, with ZCLOSING). They never touch
// ZkSession state: they copy the result and queue it to the loop. The STYLE.md rule that no
// exception crosses a C frame holds because nothing here throws except on out-of-memory, which
// then terminates (noexcept), as it would anywhere outside the store.
#include "cluster/zk_session.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "cluster/zk_lib.h"
#include "ringcached/base/check.h"
#include "ringcached/base/log.h"
#include "ringcached/net/event_loop.h"

namespace rc::cluster {

// What the C client hands back to the watchers of one handle (its `context`). Immutable, and
// freed only after zookeeper_close() has joined the client's threads.
struct ZkSession::HandleContext {
  ZkSession* session;
  std::uint64_t generation;
};

// One asynchronous call in flight; the completion owns and frees it. Exactly one fn is set.
struct ZkSession::Pending {
  ZkSession* session = nullptr;
  std::uint64_t generation = 0;
  DoneFn done;
  DataFn data;
  ChildrenFn children;
  // SetAll: the transaction's operations and what they point at, alive until it completes.
  std::vector<SetData> writes;
  std::vector<zoo_op_t> ops;
  std::vector<zoo_op_result_t> results;
  std::vector<::Stat> stats;
};

namespace {

// The client's table; loaded by the first Open(), which every other use follows.
const ZkLib& Zk() { return *LoadZkLib().value(); }

ZkSession::Code ToCode(int rc) {
  switch (rc) {
    case ZOK: return ZkSession::Code::kOk;
    case ZNONODE: return ZkSession::Code::kNoNode;
    case ZNODEEXISTS: return ZkSession::Code::kNodeExists;
    case ZBADVERSION: return ZkSession::Code::kBadVersion;
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONMOVED:
      return ZkSession::Code::kConnectionLoss;
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
      return ZkSession::Code::kSessionExpired;
    case ZCLOSING: return ZkSession::Code::kClosing;
    default: return ZkSession::Code::kOther;
  }
}

ZkSession::Stat ToStat(const ::Stat* stat) {
  ZkSession::Stat out;
  if (stat != nullptr) {
    out.version = stat->version;
    out.cversion = stat->cversion;
    out.ephemeral_owner = stat->ephemeralOwner;
  }
  return out;
}

}  // namespace

ZkSession::ZkSession(net::EventLoop* loop, std::string hosts, int timeout_ms, Callbacks callbacks)
    : loop_(loop), hosts_(std::move(hosts)), timeout_ms_(timeout_ms),
      callbacks_(std::move(callbacks)) {}

ZkSession::~ZkSession() { Close(); }

base::Status ZkSession::Open() {
  RC_CHECK(zh_ == nullptr);
  auto lib = LoadZkLib();
  if (!lib.ok()) return lib.status();
  ++generation_;
  auto context = std::make_unique<HandleContext>(HandleContext{this, generation_});
  // The client logs every failed connect (20 a second while ZooKeeper is down) at ERROR level;
  // the membership writes its own, rarer lines, so the client's go to -vv only (OnLog).
  Zk().zoo_set_debug_level(base::LogVerbosity() >= 2 ? ZOO_LOG_LEVEL_INFO : ZOO_LOG_LEVEL_ERROR);
  errno = 0;
  zh_ = Zk().zookeeper_init2(hosts_.c_str(), &ZkSession::OnSessionWatch, timeout_ms_, nullptr,
                             context.get(), 0, &ZkSession::OnLog);
  if (zh_ == nullptr) {
    int err = errno;
    return base::Status::IoError("the ZooKeeper client refused \"" + hosts_ + "\": " +
                                 (err != 0 ? std::strerror(err) : "unknown error"));
  }
  context_ = std::move(context);
  state_ = State::kConnecting;
  session_id_ = 0;
  negotiated_timeout_ms_ = 0;
  return base::Status::Ok();
}

void ZkSession::Register(Pending* p) {
  base::MutexLock lock(outstanding_mu_);
  outstanding_.insert(p);
}

void ZkSession::Unregister(Pending* p) {
  base::MutexLock lock(outstanding_mu_);
  outstanding_.erase(p);
}

std::shared_ptr<ZkSession::Pending> ZkSession::TakeBack(const void* data) {
  auto* p = static_cast<Pending*>(const_cast<void*>(data));
  p->session->Unregister(p);
  return std::shared_ptr<Pending>(p);
}

void ZkSession::Close() {
  if (zh_ == nullptr) return;
  ++generation_;  // whatever the old handle still delivers is dropped
  Zk().zookeeper_close(zh_);
  {
    // The client's threads are gone: a request it never completed (one in flight as the handle
    // closed) will not be, and its Pending is ours to free.
    base::MutexLock lock(outstanding_mu_);
    for (Pending* p : outstanding_) delete p;
    outstanding_.clear();
  }
  zh_ = nullptr;
  context_.reset();
  state_ = State::kClosed;
}

void ZkSession::Deliver(std::uint64_t generation, std::function<void()> fn) {
  loop_->RunInLoop([this, generation, fn = std::move(fn)] {
    if (generation == generation_) fn();
  });
}

std::unique_ptr<ZkSession::Pending> ZkSession::NewPending() {
  auto p = std::make_unique<Pending>();
  p->session = this;
  p->generation = generation_;
  return p;
}

void ZkSession::Refused(int rc, std::unique_ptr<Pending> p) {
  Code code = ToCode(rc);
  std::uint64_t generation = p->generation;
  std::shared_ptr<Pending> shared(std::move(p));
  Deliver(generation, [code, shared] {
    if (shared->done) shared->done(code);
    if (shared->data) shared->data(code, std::string(), Stat{});
    if (shared->children) shared->children(code, {}, Stat{});
  });
}

void ZkSession::Create(const std::string& path, const std::string& data, bool ephemeral,
                       DoneFn done) {
  std::unique_ptr<Pending> p = NewPending();
  p->done = std::move(done);
  if (zh_ == nullptr) return Refused(ZCLOSING, std::move(p));
  const ZkLib& zk = Zk();
  Register(p.get());
  int rc = zk.zoo_acreate(zh_, path.c_str(), data.data(), static_cast<int>(data.size()),
                          zk.open_acl_unsafe, ephemeral ? zk.ZOO_EPHEMERAL : zk.ZOO_PERSISTENT,
                          &ZkSession::OnString, p.get());
  if (rc != ZOK) {
    Unregister(p.get());
    return Refused(rc, std::move(p));
  }
  p.release();  // OnString frees it
}

void ZkSession::Get(const std::string& path, bool watch, DataFn done) {
  std::unique_ptr<Pending> p = NewPending();
  p->data = std::move(done);
  if (zh_ == nullptr) return Refused(ZCLOSING, std::move(p));
  Register(p.get());
  int rc = watch ? Zk().zoo_awget(zh_, path.c_str(), &ZkSession::OnDataWatch, context_.get(),
                                  &ZkSession::OnData, p.get())
                 : Zk().zoo_aget(zh_, path.c_str(), 0, &ZkSession::OnData, p.get());
  if (rc != ZOK) {
    Unregister(p.get());
    return Refused(rc, std::move(p));
  }
  p.release();
}

void ZkSession::SetAll(std::vector<SetData> writes, DoneFn done) {
  std::unique_ptr<Pending> p = NewPending();
  p->done = std::move(done);
  if (zh_ == nullptr) return Refused(ZCLOSING, std::move(p));
  const ZkLib& zk = Zk();
  p->writes = std::move(writes);
  const std::size_t n = p->writes.size();
  p->ops.resize(n);
  p->results.resize(n);
  p->stats.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const SetData& w = p->writes[i];
    zk.zoo_set_op_init(&p->ops[i], w.path.c_str(), w.data.data(), static_cast<int>(w.data.size()),
                       -1, &p->stats[i]);
  }
  Register(p.get());
  int rc = zk.zoo_amulti(zh_, static_cast<int>(n), p->ops.data(), p->results.data(),
                         &ZkSession::OnVoid, p.get());
  if (rc != ZOK) {
    Unregister(p.get());
    return Refused(rc, std::move(p));
  }
  p.release();  // OnVoid frees it
}

void ZkSession::Delete(const std::string& path, std::int32_t version, DoneFn done) {
  std::unique_ptr<Pending> p = NewPending();
  p->done = std::move(done);
  if (zh_ == nullptr) return Refused(ZCLOSING, std::move(p));
  Register(p.get());
  int rc = Zk().zoo_adelete(zh_, path.c_str(), version, &ZkSession::OnVoid, p.get());
  if (rc != ZOK) {
    Unregister(p.get());
    return Refused(rc, std::move(p));
  }
  p.release();
}

void ZkSession::GetChildren(const std::string& path, bool watch, ChildrenFn done) {
  std::unique_ptr<Pending> p = NewPending();
  p->children = std::move(done);
  if (zh_ == nullptr) return Refused(ZCLOSING, std::move(p));
  Register(p.get());
  int rc = Zk().zoo_awget_children2(zh_, path.c_str(),
                                    watch ? &ZkSession::OnChildWatch : nullptr,
                                    watch ? context_.get() : nullptr, &ZkSession::OnChildren,
                                    p.get());
  if (rc != ZOK) {
    Unregister(p.get());
    return Refused(rc, std::move(p));
  }
  p.release();
}

// ---- called on the client's threads ----------------------------------------------------------

void ZkSession::OnSessionWatch(zhandle_t*, int type, int state, const char*, void* ctx) noexcept {
  if (type != Zk().ZOO_SESSION_EVENT || ctx == nullptr) return;
  auto* h = static_cast<HandleContext*>(ctx);
  ZkSession* self = h->session;
  self->Deliver(h->generation, [self, state] { self->HandleSessionEvent(state); });
}

void ZkSession::OnChildWatch(zhandle_t*, int type, int, const char*, void* ctx) noexcept {
  // Session events reach every watcher too; the session watcher handles those.
  if (type == Zk().ZOO_SESSION_EVENT || ctx == nullptr) return;
  auto* h = static_cast<HandleContext*>(ctx);
  ZkSession* self = h->session;
  self->Deliver(h->generation, [self] {
    if (self->callbacks_.on_children) self->callbacks_.on_children();
  });
}

void ZkSession::OnDataWatch(zhandle_t*, int type, int, const char*, void* ctx) noexcept {
  if (type == Zk().ZOO_SESSION_EVENT || ctx == nullptr) return;
  auto* h = static_cast<HandleContext*>(ctx);
  ZkSession* self = h->session;
  self->Deliver(h->generation, [self] {
    if (self->callbacks_.on_data) self->callbacks_.on_data();
  });
}

void ZkSession::OnLog(const char* message) noexcept { base::Log(2, "zookeeper: %s", message); }

void ZkSession::OnVoid(int rc, const void* data) noexcept {
  std::shared_ptr<Pending> p = TakeBack(data);
  Code code = ToCode(rc);
  p->session->Deliver(p->generation, [p, code] { p->done(code); });
}

void ZkSession::OnString(int rc, const char*, const void* data) noexcept { OnVoid(rc, data); }

void ZkSession::OnData(int rc, const char* value, int len, const ::Stat* stat,
                       const void* data) noexcept {
  std::shared_ptr<Pending> p = TakeBack(data);
  Code code = ToCode(rc);
  std::string bytes = value != nullptr && len > 0 ? std::string(value, static_cast<std::size_t>(len))
                                                  : std::string();
  Stat s = ToStat(rc == ZOK ? stat : nullptr);
  p->session->Deliver(p->generation,
                      [p, code, bytes = std::move(bytes), s] { p->data(code, bytes, s); });
}

void ZkSession::OnChildren(int rc, const ::String_vector* strings, const ::Stat* stat,
                           const void* data) noexcept {
  std::shared_ptr<Pending> p = TakeBack(data);
  Code code = ToCode(rc);
  std::vector<std::string> names;
  if (rc == ZOK && strings != nullptr) {
    names.reserve(static_cast<std::size_t>(strings->count));
    for (std::int32_t i = 0; i < strings->count; ++i) names.emplace_back(strings->data[i]);
  }
  Stat s = ToStat(rc == ZOK ? stat : nullptr);
  p->session->Deliver(p->generation, [p, code, names = std::move(names), s]() mutable {
    p->children(code, std::move(names), s);
  });
}

// ---- back on the loop --------------------------------------------------------------------------

void ZkSession::HandleSessionEvent(int zk_state) {
  const ZkLib& zk = Zk();
  if (zk_state == zk.ZOO_CONNECTED_STATE) {
    state_ = State::kConnected;
    // Both are valid once connected (zookeeper.h); the id stays the same across reconnects.
    session_id_ = zk.zoo_client_id(zh_)->client_id;
    negotiated_timeout_ms_ = zk.zoo_recv_timeout(zh_);
  } else if (zk_state == zk.ZOO_EXPIRED_SESSION_STATE) {
    state_ = State::kExpired;
  } else if (zk_state == zk.ZOO_AUTH_FAILED_STATE) {
    state_ = State::kAuthFailed;
  } else {
    state_ = State::kConnecting;  // CONNECTING, ASSOCIATING, NOTCONNECTED, READONLY
  }
  if (callbacks_.on_state) callbacks_.on_state(state_);
}

std::string_view ZkSession::StateName(State state) {
  switch (state) {
    case State::kClosed: return "closed";
    case State::kConnecting: return "connecting";
    case State::kConnected: return "connected";
    case State::kExpired: return "expired";
    case State::kAuthFailed: return "auth_failed";
  }
  return "unknown";
}

std::string_view ZkSession::CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kNoNode: return "no node";
    case Code::kNodeExists: return "node exists";
    case Code::kBadVersion: return "bad version";
    case Code::kConnectionLoss: return "connection loss";
    case Code::kSessionExpired: return "session expired";
    case Code::kClosing: return "closing";
    case Code::kOther: return "error";
  }
  return "error";
}

}  // namespace rc::cluster
