// server/server.h -- the server process: the one place where store, engine, network and settings
// meet (DESIGN.md section 2).
//
// Threads: the main thread runs the listener, signals and a once-a-second timer on its own event
// loop; -t workers each run an event loop that owns its connections for their whole life; one
// maintenance thread runs the expiry crawler; with --cluster, a control thread runs the
// membership (cluster_node.h). Connections reach shared state through the Server, whose members
// are either immutable after Start(), atomics, or guarded as noted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/status.h"
#include "ringcached/engine/engine.h"
#include "ringcached/net/event_loop.h"
#include "ringcached/net/listener.h"
#include "ringcached/server/settings.h"
#include "ringcached/store/store.h"
#include "server/admin.h"
#include "server/cluster_node.h"
#include "server/peer_auth.h"
#include "server/hot_key_detector.h"
#include "server/replicator.h"
#include "server/conn_registry.h"
#include "server/prefix_stats.h"
#include "server/watchers.h"

struct event;

namespace rc::server {

class Worker;
class OriginLoader;

class Server final : public Admin {
 public:
  explicit Server(const Settings& settings);
  ~Server() override;

  // Binds the listeners and creates the store and the workers. A bad address or a port in use
  // fails here, with a message fit for the operator.
  base::Status Open();
  // Runs until a stop signal or `shutdown`; returns the process exit code.
  int Run();

  // Admin (admin.h), for the sessions' admin commands. RequestStop is thread-safe; a graceful
  // stop stops accepting, lets connections finish what they have received, then exits 0.
  StatsResult AddStats(std::string_view sub, StatSink* sink) override;
  void AppendCachedump(unsigned class_id, long long limit, net::OutQueue* out) override;
  void AppendMetadump(std::string_view which, net::OutQueue* out) override;
  void ResetStats() override;
  void SetMemoryLimit(std::size_t bytes) override;
  void KickCrawler() override;
  void RequestStop(bool graceful) override;
  std::shared_ptr<const cluster::ClusterView> cluster_view() const override;
  void PeerLinked() override;
  void HandoffServed(const HandoffReport& report) override;
  std::string HotKeysConfig(std::int64_t* slot) override;

  const Settings& settings() const { return settings_; }
  RuntimeSettings& runtime() { return runtime_; }
  engine::Engine& engine() { return *engine_; }
  store::Store& store() { return *store_; }
  base::SystemClock& clock() { return clock_; }
  ConnRegistry& conns() { return conns_; }
  PrefixStats& prefix_stats() { return prefix_stats_; }
  Watchers& watchers() { return watchers_; }
  // The read-through loader (--origin), or null.
  OriginLoader* origin() const { return origin_.get(); }
  // Empty once Run() has returned.
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  const net::Listener* listener() const { return listener_.get(); }
  // This node's cluster membership; null without --cluster (the single node memcached is).
  const ClusterNode* cluster() const { return cluster_.get(); }
  std::time_t started() const { return started_; }
  // Whether stream connections receive through their worker's io_uring (net/recv_ring.h;
  // --io-engine=io_uring, decided in Open()), or through epoll.
  bool receive_through_ring() const { return receive_through_ring_; }
  int reserved_fds() const { return reserved_fds_; }
  std::uint64_t crawler_starts() const { return crawler_starts_.load(std::memory_order_relaxed); }

  // Connection accounting shared by all workers.
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};
  std::atomic<std::int64_t> curr_connections{0};
  std::atomic<std::uint64_t> connection_structures{0};
  std::atomic<std::int64_t> peer_connections{0};  // authenticated peer links, apart from clients
  std::atomic<std::uint64_t> peer_links_total{0};
  // The replicator (replicator.h), or null: no --cluster-secret-file, or --replicas 1.
  const Replicator* replicator() const { return replicator_.get(); }
  // Hot-key detection (hot_key_detector.h), or null: --hot-key-qps 0.
  const HotKeyDetector* hot_keys() const { return hot_keys_.get(); }

 private:
  void OnAccept(int fd, const net::ListenSocket& from);
  // This node's side of a peer handshake now (peer_auth.h), with a fresh nonce.
  cluster::PeerHello SelfHello() const;

  void CrawlerMain();
  void WritePortFile();
  static void OnSignal(int sig, short what, void* arg) noexcept;
  static void OnTick(int fd, short what, void* arg) noexcept;

  Settings settings_;
  RuntimeSettings runtime_;
  base::SystemClock clock_;
  std::time_t started_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<OriginLoader> origin_;  // --origin; stopped after the workers, before they go
  std::unique_ptr<PeerAuth> peer_auth_;   // --cluster with --cluster-secret-file
  std::unique_ptr<Replicator> replicator_;  // with peer_auth_ and --replicas above 1
  std::unique_ptr<HotKeyDetector> hot_keys_;  // --hot-key-qps above 0
  std::atomic<std::int64_t> next_hot_slot_{0};  // `config get hotkeys` slots given so far
  // `config get hotkeys`'s lines after the first, built once per hot list and view
  // (hot_key_stats.cc): every client instance polls every node about once a second.
  struct HotKeysBody {
    std::shared_ptr<const HotKeyDetector::List> list;  // the list it was built from
    std::int64_t view_version = -1;
    std::string text;
  };
  base::Mutex hot_body_mu_;
  HotKeysBody hot_body_ RC_GUARDED_BY(hot_body_mu_);
  net::EventLoop main_loop_;
  std::unique_ptr<net::Listener> listener_;
  std::vector<net::ListenSocket> udp_sockets_;  // -U; read by every worker, closed here
  std::vector<std::unique_ptr<Worker>> workers_;
  std::size_t next_worker_ = 0;
  ConnRegistry conns_;
  PrefixStats prefix_stats_;
  Watchers watchers_;
  int reserved_fds_ = 0;
  bool receive_through_ring_ = false;
  std::vector<event*> signal_events_;
  event* tick_event_ = nullptr;

  std::atomic<int> stop_requested_{0};  // 0 none, 1 graceful, 2 immediate
  bool graceful_stopping_ = false;
  bool drain_started_ = false;  // a cluster node drains before its graceful stop
  int graceful_ticks_ = 0;

  std::thread crawler_;
  base::Mutex crawler_mu_;
  std::condition_variable_any crawler_cv_;
  bool crawler_stop_ RC_GUARDED_BY(crawler_mu_) = false;
  bool crawler_kick_ RC_GUARDED_BY(crawler_mu_) = false;
  std::atomic<std::uint64_t> crawler_starts_{0};

  std::unique_ptr<ClusterNode> cluster_;  // --cluster only; joined in Open(), left in Run()
};

}  // namespace rc::server
