// server/server.cc -- see server.h.
#include "server/server.h"

#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ringcached/base/cpus.h"
#include "ringcached/base/log.h"
#include "server/options.h"
#include "server/stats.h"
#include "server/origin_loader.h"
#include "server/worker.h"

namespace rc::server {
namespace {

// The addresses of the -l entries (all interfaces when there is none), each on `port` unless it
// names its own (options.h ParseListenAddress).
base::Result<std::vector<net::ListenAddress>> ListenAddresses(const Settings& settings, int port) {
  std::vector<net::ListenAddress> out;
  if (settings.listen.empty()) out.push_back({.port = port});
  for (const std::string& spec : settings.listen) {
    base::Result<HostPort> split = ParseListenAddress(spec);
    if (!split.ok()) {
      return base::Status::InvalidArgument("-l " + spec + ": " + split.status().message());
    }
    out.push_back({.host = split.value().host, .port = split.value().port.value_or(port)});
  }
  return out;
}

}  // namespace

Server::Server(const Settings& settings)
    : settings_(settings), runtime_(settings), started_(std::time(nullptr)) {
  base::SetLogVerbosity(settings.verbose);
}

Server::~Server() {
  for (event* ev : signal_events_) event_free(ev);
  if (tick_event_ != nullptr) event_free(tick_event_);
}

base::Status Server::Open() {
  // A cluster node given the cluster's secret accepts peer links (server/peer_auth.h); its
  // deletes then keep tombstones for them. Read first: a bad secret file stops start-up.
  std::vector<std::string> peer_secrets;
  if (!settings_.cluster.empty() && !settings_.cluster_secret_file.empty()) {
    auto secrets = cluster::ReadClusterSecrets(settings_.cluster_secret_file);
    if (!secrets.ok()) return secrets.status();
    peer_secrets = std::move(secrets).value();
  }
  store::Options store_options{
      .memory_limit = settings_.maxbytes,
      .evictions = settings_.evictions,
      .use_cas = settings_.use_cas,
      .item_size_max = settings_.item_size_max,
      .hashpower_init = static_cast<unsigned>(settings_.hashpower_init),
      .background_reclaim = true,
      .max_clock_skew_ms = static_cast<std::uint64_t>(settings_.max_clock_skew_ms),
      .tombstone_ttl =
          peer_secrets.empty() ? 0 : static_cast<base::RelTime>(settings_.tombstone_ttl),
  };
  store_ = std::make_unique<store::Store>(store_options, &clock_);
  engine_ = std::make_unique<engine::Engine>(store_.get(), &clock_);

  std::vector<net::ListenAddress> addresses;
  if (!settings_.unix_socket.empty()) {
    // memcached: a UNIX socket disables network support.
    net::ListenAddress a;
    a.is_unix = true;
    a.path = settings_.unix_socket;
    a.mask = settings_.unix_mask;
    addresses.push_back(a);
  } else if (settings_.port != 0) {
    auto tcp = ListenAddresses(settings_, settings_.port < 0 ? 0 : settings_.port);
    if (!tcp.ok()) return tcp.status();
    addresses = std::move(tcp).value();
  }
  // UDP first: once TCP accepts, clients take the server as up, and a datagram sent then must
  // find its socket bound.
  if (settings_.udp_port > 0 && settings_.unix_socket.empty()) {
    auto udp_addresses = ListenAddresses(settings_, settings_.udp_port);
    if (!udp_addresses.ok()) return udp_addresses.status();
    // A port in -l names the TCP port.
    for (net::ListenAddress& a : udp_addresses.value()) a.port = settings_.udp_port;
    auto udp = net::OpenUdpSockets(udp_addresses.value());
    if (!udp.ok()) return udp.status();
    udp_sockets_ = std::move(udp).value();
  }
  auto listener = net::Listener::Open(addresses, settings_.backlog);
  if (!listener.ok()) return listener.status();
  listener_ = std::move(listener).value();

  if (!settings_.origin.empty()) {
    // Read-through: connects to the origin now, so a bad URL, an unreachable origin or a query
    // that does not prepare stops the start-up with its reason.
    auto loader = OriginLoader::Open(settings_, store_.get(), &clock_);
    if (!loader.ok()) return loader.status();
    origin_ = std::move(loader).value();
    engine_->set_miss_loader(origin_.get());
    base::Log(1, "read-through from %s", origin_->read_through().description().c_str());
  }
  // --io-engine: stream connections receive through epoll (the default) or, where the kernel
  // offers it, through a worker's io_uring (net/recv_ring.h; doc/performance.md says why epoll
  // is the default).
  receive_through_ring_ = settings_.io_engine == "io_uring";
  if (receive_through_ring_ && !net::RecvRing::Supported()) {
    return base::Status::InvalidArgument(
        "--io-engine io_uring: this kernel does not offer io_uring with multishot receive "
        "(Linux 6.0 or later, not blocked by seccomp); use --io-engine epoll");
  }
  base::Log(1, "connections receive through %s", receive_through_ring_ ? "io_uring" : "epoll");
  // -t workers, but no more than the CPUs this process can use (base/cpus.h): a worker never
  // blocks, so one beyond the CPUs only makes its connections wait out a sibling's scheduler
  // slice (doc/performance.md, "Workers that share a core"). `stats` still reports -t, as
  // memcached does ("threads requested"); --oversubscribe runs them all.
  int worker_threads = settings_.num_threads;
  if (!settings_.oversubscribe) worker_threads = std::min(worker_threads, base::UsableCpus());
  if (worker_threads < settings_.num_threads) {
    base::Log(1, "-t %d: running %d worker thread(s), one per CPU this process can use "
              "(--oversubscribe runs all %d)", settings_.num_threads, worker_threads,
              settings_.num_threads);
  }
  for (int i = 0; i < worker_threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(this, i));
  }
  // stdin/out/err, a little headroom, the listeners, and an epoll fd and an eventfd per loop,
  // and per worker a ring and its eventfd.
  reserved_fds_ = 5 + static_cast<int>(listener_->sockets().size() + udp_sockets_.size()) +
                  2 * (worker_threads + 1) + (receive_through_ring_ ? 2 * worker_threads : 0);

  // A cluster node joins before it serves: a ring name held by a live node stops start-up
  // here, and an unreachable ZooKeeper keeps it here, retrying (cluster_node.h).
  if (!settings_.cluster.empty()) {
    auto node = ClusterNode::Join(settings_, *listener_);
    if (!node.ok()) return node.status();
    cluster_ = std::move(node).value();
    settings_.advertise = cluster_->membership().options().self.name;  // for `stats settings`
    // Reads are served only under the local lease (cluster/lease.h).
    engine_->set_read_fence(&cluster_->lease());
    if (origin_) origin_->set_read_fence(&cluster_->lease());
    for (auto& w : workers_) w->session_context()->lease = &cluster_->lease();
    if (!peer_secrets.empty()) {
      peer_auth_ = std::make_unique<PeerAuth>();
      peer_auth_->secrets = std::move(peer_secrets);
      peer_auth_->versions = &store_->versions();
      peer_auth_->hello = [this] { return SelfHello(); };
      for (auto& w : workers_) w->session_context()->peer_auth = peer_auth_.get();
      if (settings_.replicas > 1) {
        std::vector<Replicator::WorkerSlot> slots;
        for (auto& w : workers_) slots.push_back({&w->loop(), &w->buffers()});
        const bool sync = settings_.replication == "sync";
        replicator_ = std::make_unique<Replicator>(
            &cluster_->membership(), peer_auth_.get(), settings_.advertise, settings_.replicas,
            store_.get(), &clock_, std::move(slots), sync, settings_.replication_timeout_ms,
            settings_.guest_ttl, &cluster_->lease(), settings_.handoff_rate,
            settings_.handoff_drop_delay);
        engine_->add_write_observer(replicator_.get());
        if (origin_) origin_->set_write_observer(replicator_.get());
        // Misses go through the replicator (a warming node's, to the previous holder), which
        // passes the rest on to the origin's loader.
        replicator_->set_origin(origin_.get());
        engine_->set_miss_loader(replicator_.get());
        for (std::size_t i = 0; i < workers_.size(); ++i) {
          workers_[i]->session_context()->read_sampler = replicator_->sampler(i);
          workers_[i]->session_context()->forwarder = replicator_.get();
        }
        // Synchronous mode holds every write's reply; asynchronous mode only a fenced node's
        // (replicator.h).
        for (auto& w : workers_) w->session_context()->write_gate = replicator_.get();
        base::Log(1, "replicating each key to %d holders (%s)", settings_.replicas,
                  sync ? "synchronously" : "asynchronously");
        // This incarnation registered warming (ClusterNode::Join): up once its keys are here.
        cluster_->StartWarming(std::chrono::seconds(settings_.handoff_timeout));
      }
    }
    // A fenced node that may serve again starts from an empty store.
    cluster_->StartLease(
        [this] {
          const std::uint64_t cleared = store_->Clear();
          base::Log(0, "cluster: emptied the store (%llu items and tombstones)",
                    static_cast<unsigned long long>(cleared));
        },
        peer_auth_.get());
  }
  // Hot keys (hot_key_detector.h): each worker's reads pass its tap first, then whatever
  // sampled them before (the replicator's access hints); with replication they are spread.
  if (settings_.hot_key_qps > 0) {
    std::vector<net::EventLoop*> loops;
    std::vector<ReadSampler*> next;
    for (auto& w : workers_) {
      loops.push_back(&w->loop());
      next.push_back(w->session_context()->read_sampler);
    }
    hot_keys_ = std::make_unique<HotKeyDetector>(
        cluster::HotKeyRules{.qps = static_cast<double>(settings_.hot_key_qps),
                             .share = settings_.hot_key_share},
        &main_loop_, std::move(loops), std::move(next));
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      workers_[i]->session_context()->read_sampler = hot_keys_->sampler(i);
    }
    if (replicator_ != nullptr) {
      replicator_->set_hot_keys(hot_keys_.get(), settings_.hot_copies, settings_.hot_copy_ttl);
      hot_keys_->set_readers([r = replicator_.get()](std::string_view key) {
        return std::max<int>(1, static_cast<int>(r->ReadersOf(key).size()));
      });
    }
  }
  return base::Status::Ok();
}

void Server::WritePortFile() {
  // memcached's MEMCACHED_PORT_FILENAME (t/issue_67.t): the bound ports, written to a temporary
  // name and renamed, so a reader never sees a partial file.
  const char* path = std::getenv("MEMCACHED_PORT_FILENAME");
  if (path == nullptr) return;
  std::string tmp = std::string(path) + ".lck";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return;
  for (const net::ListenSocket& s : listener_->sockets()) {
    if (s.is_unix) continue;
    std::fprintf(f, "TCP INET%s: %d\n", s.ipv6 ? "6" : "", static_cast<int>(s.port));
  }
  for (const net::ListenSocket& s : udp_sockets_) {
    std::fprintf(f, "UDP INET%s: %d\n", s.ipv6 ? "6" : "", static_cast<int>(s.port));
  }
  std::fclose(f);
  std::rename(tmp.c_str(), path);
}

int Server::Run() {
  signal(SIGPIPE, SIG_IGN);
  std::vector<std::unique_ptr<ConnRecord>> listen_records;
  for (const net::ListenSocket& s : listener_->sockets()) {
    auto r = std::make_unique<ConnRecord>();
    r->fd = s.fd;
    r->name = conns_.Intern(s.name);
    r->state.store("conn_listening");
    r->last_cmd.store(clock_.Now());
    conns_.Add(r.get());
    listen_records.push_back(std::move(r));
  }
  // memcached counts each listening socket as a connection in total_connections and
  // connection_structures (observed: one listener + one client reads 2).
  total_connections.store(listener_->sockets().size());
  connection_structures.store(listener_->sockets().size());

  for (auto& w : workers_) {
    w->Start();
    for (const net::ListenSocket& s : udp_sockets_) w->AdoptUdp(s);
  }
  listener_->Start(main_loop_.base(), [this](int fd, const net::ListenSocket& from) {
    OnAccept(fd, from);
  });
  for (int sig : {SIGTERM, SIGINT, SIGUSR1, SIGHUP}) {
    event* ev = evsignal_new(main_loop_.base(), sig, &Server::OnSignal, this);
    event_add(ev, nullptr);
    signal_events_.push_back(ev);
  }
  tick_event_ = event_new(main_loop_.base(), -1, EV_PERSIST, &Server::OnTick, this);
  timeval one_second{1, 0};
  event_add(tick_event_, &one_second);
  crawler_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rc-crawler");
    CrawlerMain();
  });
  WritePortFile();
  base::Log(1, "ringcached ready: %zu listening socket(s), %zu worker thread(s)",
            listener_->sockets().size(), workers_.size());

  main_loop_.Run();

  // Leave first, so the other nodes (and discovery clients) drop this one at once.
  if (cluster_) cluster_->Leave();
  for (auto& r : listen_records) conns_.Remove(r.get());
  listener_->Close();
  for (auto& w : workers_) w->Stop();
  for (auto& w : workers_) w->Join();
  // The origin thread posts answers to the workers' loops: stop it before the loops go.
  if (origin_) origin_->Stop();
  // The peer links live on the workers' loops: they go first. Then close the remaining
  // connections, while the registry, the watchers and the store they refer to are all alive.
  replicator_.reset();
  workers_.clear();
  for (net::ListenSocket& s : udp_sockets_) close(s.fd);
  udp_sockets_.clear();
  {
    base::MutexLock lock(crawler_mu_);
    crawler_stop_ = true;
  }
  crawler_cv_.notify_all();
  crawler_.join();
  return 0;
}

void Server::RequestStop(bool graceful) {
  main_loop_.RunInLoop([this, graceful] {
    if (!graceful) {
      event_base_loopbreak(main_loop_.base());
      return;
    }
    if (cluster_ != nullptr && !drain_started_) {
      // A cluster node hands its keys over first, serving meanwhile (cluster_node.h, "Drain").
      // A second SIGUSR1 skips the rest of the drain.
      drain_started_ = true;
      std::function<bool(std::int32_t)> handed_off;
      if (replicator_ != nullptr) {
        handed_off = [r = replicator_.get()](std::int32_t v) { return r->HandedOff(v); };
      }
      cluster_->Drain(std::move(handed_off), std::chrono::seconds(settings_.handoff_drop_delay),
                      std::chrono::seconds(settings_.handoff_timeout), [this](bool) {
                        main_loop_.RunInLoop([this] {
                          cluster_->Leave();  // deregistered: the others drop it now
                          RequestStop(true);
                        });
                      });
      return;
    }
    if (graceful_stopping_) return;
    graceful_stopping_ = true;
    base::Log(1, "graceful stop: no longer accepting; finishing in-flight requests");
    listener_->Pause();
    for (auto& w : workers_) w->BeginGracefulStop();
  });
}

void Server::OnSignal(int sig, short, void* arg) noexcept {
  auto* self = static_cast<Server*>(arg);
  if (sig == SIGHUP) return;  // memcached ignores it too (no config reload)
  base::Log(1, "signal %d received, stopping", sig);
  self->RequestStop(sig == SIGUSR1);
}

void Server::OnTick(int, short, void* arg) noexcept {
  auto* self = static_cast<Server*>(arg);
  if (self->hot_keys_ != nullptr) self->hot_keys_->Tick();
  // Spare I/O buffers beyond what the last second borrowed at once go back (net/buffer_pool.h);
  // a worker with none to spare is not woken.
  for (auto& w : self->workers_) {
    if (w->buffers().WorthTrimming()) {
      w->loop().RunInLoop([worker = w.get()] { worker->buffers().Trim(); });
    }
  }
  if (!self->graceful_stopping_) {
    self->listener_->ResumeAfterFdExhaustion();
    return;
  }
  int busy = 0;
  for (auto& w : self->workers_) busy += w->busy_connections();
  // Connections get up to 30 s to finish what they had received.
  if (busy == 0 || ++self->graceful_ticks_ > 30) event_base_loopbreak(self->main_loop_.base());
}

void Server::OnAccept(int fd, const net::ListenSocket& from) {
  std::int64_t curr = curr_connections.load(std::memory_order_relaxed);
  if (curr + reserved_fds_ >= settings_.maxconns - 1) {
    // memcached with maxconns_fast (the default): answer and close at once.
    static constexpr char kTooMany[] = "ERROR Too many open connections\r\n";
    [[maybe_unused]] ssize_t n = write(fd, kTooMany, sizeof kTooMany - 1);
    close(fd);
    rejected_connections.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  curr_connections.fetch_add(1, std::memory_order_relaxed);
  total_connections.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t structures = connection_structures.load(std::memory_order_relaxed);
  std::uint64_t in_use = static_cast<std::uint64_t>(curr + 1) + listener_->sockets().size();
  if (in_use > structures) connection_structures.store(in_use, std::memory_order_relaxed);
  workers_[next_worker_]->Adopt(fd, from);
  next_worker_ = (next_worker_ + 1) % workers_.size();
}

void Server::KickCrawler() {
  {
    base::MutexLock lock(crawler_mu_);
    crawler_kick_ = true;
  }
  crawler_cv_.notify_all();
}

StatsResult Server::AddStats(std::string_view sub, StatSink* sink) {
  return server::AddStats(*this, sub, sink);
}

void Server::AppendCachedump(unsigned class_id, long long limit, net::OutQueue* out) {
  server::AppendCachedump(*this, class_id, limit, out);
}

void Server::AppendMetadump(std::string_view which, net::OutQueue* out) {
  server::AppendMetadump(*this, which, out);
}

void Server::ResetStats() { ResetAllStats(*this); }

void Server::SetMemoryLimit(std::size_t bytes) {
  store_->SetMemoryLimit(bytes);
  runtime_.maxbytes.store(bytes, std::memory_order_relaxed);
}

void Server::HandoffServed(const HandoffReport& report) {
  if (cluster_ != nullptr) cluster_->HandoffServed(report);
}

void Server::PeerLinked() {
  curr_connections.fetch_sub(1, std::memory_order_relaxed);
  peer_connections.fetch_add(1, std::memory_order_relaxed);
  peer_links_total.fetch_add(1, std::memory_order_relaxed);
}

cluster::PeerHello Server::SelfHello() const {
  const cluster::MembershipStatus st = cluster_->membership().Status();
  const cluster::MembershipOptions& o = cluster_->membership().options();
  cluster::PeerHello h;
  h.cluster = o.path;
  h.name = o.self.name;
  h.incarnation = st.incarnation;
  h.ring_version = st.view ? st.view->version : 0;
  h.clock = store_->versions().Now();
  h.profile = std::string(cluster::RingProfileName(o.profile));
  h.replicas = settings_.replicas;
  h.item_size_max = settings_.item_size_max;
  h.mode = settings_.replication;
  h.nonce = cluster::NewNonce();
  return h;
}

std::shared_ptr<const cluster::ClusterView> Server::cluster_view() const {
  return cluster_ != nullptr ? cluster_->membership().view() : nullptr;
}

void Server::CrawlerMain() {
  // Reclaims expired and flushed items that nobody asks for (memcached's LRU crawler). A pass
  // covers the whole store in bounded steps, so no shard lock is held for long. Passes come
  // every 5 s while they find something; a pass that finds nothing doubles the wait, up to
  // 80 s, as memcached's crawler backs off (a pass costs about 100 instructions an item: every
  // 5 s over 100,000 items that was 3% of the CPU of a 20 k/s load). `lru_crawler crawl`
  // still starts one at once.
  constexpr std::size_t kStep = 256;
  constexpr std::chrono::seconds kMinWait{5}, kMaxWait{80};
  std::chrono::seconds wait = kMinWait;
  base::MutexLock lock(crawler_mu_);
  while (!crawler_stop_) {
    crawler_cv_.wait_for(crawler_mu_, wait, [this]() RC_REQUIRES(crawler_mu_) {
      return crawler_stop_ || crawler_kick_;
    });
    if (crawler_stop_) break;
    crawler_kick_ = false;
    if (!runtime_.lru_crawler.load()) continue;
    lock.Unlock();
    crawler_starts_.fetch_add(1, std::memory_order_relaxed);
    store::Stats before = store_->GetStats();
    std::size_t budget = before.curr_items + kStep;
    for (std::size_t done = 0; done < budget;) {
      std::size_t checked = store_->Crawl(kStep);
      if (checked == 0) break;
      done += checked;
      if (settings_.lru_crawler_sleep > 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(settings_.lru_crawler_sleep));
      }
    }
    bool found = store_->GetStats().crawler_reclaimed != before.crawler_reclaimed;
    wait = found ? kMinWait : std::min(wait * 2, kMaxWait);
    lock.Lock();
  }
}

}  // namespace rc::server
