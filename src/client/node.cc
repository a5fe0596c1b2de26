// client/node.cc -- see node.h.
#include "client/node.h"

#include "ringcached/cluster/ring.h"

namespace rc::client {

// More idle connections than this are closed on release: a burst of threads does not leave a
// crowd of sockets open for ever.
constexpr std::size_t kMaxIdle = 16;

Node::Node(std::string name, std::uint32_t timeouts_to_tko, Clock::duration probe_interval)
    : name_(std::move(name)),
      state_(timeouts_to_tko, probe_interval),
      hot_(std::make_shared<const HotList>()) {}

base::Result<net::Endpoint> Node::EndpointLocked() {
  if (endpoints_.empty()) {
    const cluster::HostPort hp = cluster::SplitRingName(name_);
    const std::uint32_t port = hp.port.value_or(11211);
    if (hp.host.empty() || port == 0 || port > 65535) {
      return base::Status::InvalidArgument("bad node name \"" + name_ + "\"");
    }
    base::Result<std::vector<net::Endpoint>> found =
        net::Resolve(hp.host, static_cast<std::uint16_t>(port));
    if (!found.ok()) return found.status();
    endpoints_ = std::move(found).value();
  }
  return endpoints_.front();
}

base::Result<std::unique_ptr<Connection>> Node::Acquire() {
  {
    base::MutexLock lock(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  return Connect();
}

base::Result<std::unique_ptr<Connection>> Node::Connect() {
  base::Result<net::Endpoint> to = [&] {
    base::MutexLock lock(mu_);
    return EndpointLocked();
  }();
  if (!to.ok()) return to.status();
  return Connection::Open(to.value());
}

void Node::Release(std::unique_ptr<Connection> conn) {
  if (conn == nullptr || !conn->idle()) return;
  conn->set_reused();
  base::MutexLock lock(mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
}

void Node::DropIdle() {
  std::vector<std::unique_ptr<Connection>> dropped;
  base::MutexLock lock(mu_);
  dropped.swap(idle_);
}

void Node::OnSuccess() {
  base::MutexLock lock(mu_);
  state_.OnSuccess();
}

void Node::OnConnectError() {
  std::vector<std::unique_ptr<Connection>> dropped;
  base::MutexLock lock(mu_);
  state_.OnConnectError(Clock::now());
  PublishTkoLocked();
  dropped.swap(idle_);
}

void Node::OnTimeout() {
  base::MutexLock lock(mu_);
  state_.OnTimeout(Clock::now());
  PublishTkoLocked();
}

bool Node::TakeProbe(Clock::time_point now) {
  base::MutexLock lock(mu_);
  return state_.TakeProbe(now);
}

void Node::OnProbeResult(bool answered) {
  base::MutexLock lock(mu_);
  state_.OnProbeResult(answered, Clock::now());
  PublishTkoLocked();
}

std::uint64_t Node::tko_count() const {
  base::MutexLock lock(mu_);
  return state_.tko_count();
}

std::shared_ptr<const HotList> Node::hot() const {
  base::MutexLock lock(mu_);
  return hot_;
}

void Node::set_hot(std::shared_ptr<const HotList> list) {
  base::MutexLock lock(mu_);
  hot_ = std::move(list);
}

}  // namespace rc::client
