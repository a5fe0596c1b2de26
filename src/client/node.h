// client/node.h -- what the client library keeps per cluster node: its idle persistent
// connections, its TKO state (client/tko.h) and the hot-key list it last reported
// (client/hot_keys.h). A Node outlives ring changes that keep its member (client.cc reuses it by
// name), so its connections and its hot-key slot survive them.
//
// Thread-safety: every method from any thread (a mutex inside), except hot_conn, which only the
// client's control thread touches.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "client/connection.h"
#include "client/hot_keys.h"
#include "client/tko.h"
#include "ringcached/base/mutex.h"
#include "ringcached/base/status.h"
#include "ringcached/net/connect.h"

namespace rc::client {

class Node {
 public:
  using Clock = std::chrono::steady_clock;

  // `name` is the ring member name ("host:port", "[v6]:port", "host" = port 11211).
  Node(std::string name, std::uint32_t timeouts_to_tko, Clock::duration probe_interval);

  const std::string& name() const { return name_; }

  // A connection for one exchange: an idle one, or a new one (still connecting; the exchange
  // finishes the connect). Resolves the name at its first use (getaddrinfo: instant for the IP
  // literals a cluster names its members by). An error means the node cannot be reached at all.
  base::Result<std::unique_ptr<Connection>> Acquire();
  // A fresh connection, never an idle one (probes, the hot-key poll's own connection).
  base::Result<std::unique_ptr<Connection>> Connect();
  // Gives back a connection whose exchange is over: kept when idle(), closed otherwise.
  void Release(std::unique_ptr<Connection> conn);
  // Closes the idle connections (after one broke, the others likely did too).
  void DropIdle();

  // TKO (tko.h). tko() is a relaxed atomic read: the routing path asks it for every key.
  bool tko() const { return tko_.load(std::memory_order_relaxed); }
  void OnSuccess();
  void OnConnectError();
  void OnTimeout();
  bool TakeProbe(Clock::time_point now);
  void OnProbeResult(bool answered);
  std::uint64_t tko_count() const;

  // The node's hot keys as last polled (never null; empty until the first poll answers).
  std::shared_ptr<const HotList> hot() const;
  void set_hot(std::shared_ptr<const HotList> list);

  // Control thread only: the connection the hot-key polls go through, kept so that the node
  // keeps giving it the same slot.
  std::unique_ptr<Connection> hot_conn;

 private:
  base::Result<net::Endpoint> EndpointLocked() RC_REQUIRES(mu_);
  void PublishTkoLocked() RC_REQUIRES(mu_) {
    tko_.store(state_.tko(), std::memory_order_relaxed);
  }

  const std::string name_;
  std::atomic<bool> tko_{false};
  mutable base::Mutex mu_;
  std::vector<net::Endpoint> endpoints_ RC_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Connection>> idle_ RC_GUARDED_BY(mu_);
  TkoState state_ RC_GUARDED_BY(mu_);
  std::shared_ptr<const HotList> hot_ RC_GUARDED_BY(mu_);
};

}  // namespace rc::client
