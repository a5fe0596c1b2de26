// server/worker.cc -- see worker.h.
#include "server/worker.h"

#include <event2/event.h>
#include <unistd.h>

#include <algorithm>

#include "ringcached/base/log.h"
#include "server/connection.h"
#include "server/server.h"

namespace rc::server {

Worker::Worker(Server* server, int id)
    : server_(server),
      id_(id),
      session_context_{.engine = &server->engine(),
                       .settings = &server->settings(),
                       .runtime = &server->runtime(),
                       .clock = &server->clock(),
                       .watchers = &server->watchers(),
                       .prefix_stats = &server->prefix_stats(),
                       .admin = server,
                       .command_stats = &command_stats_,
                       .conn_stats = &conn_stats_,
                       .loop = &loop_} {}

Worker::~Worker() {
  // The ring first: tearing it down ends every receive, so the connections closed below have
  // nothing to cancel -- and this runs on the thread that stopped the worker, which may not
  // submit to the worker's SINGLE_ISSUER ring. (Its event belongs to loop_'s base, still here.)
  recv_ring_.reset();
  for (Connection* c : connections_) delete c;
  if (tick_ != nullptr) event_free(tick_);
}

void Worker::Start() {
  // Once a second, with -o idle_timeout or once a graceful stop has begun: close connections
  // idle too long (memcached's conn_timeout thread does the same from outside; here each worker
  // looks after its own). Without them there is no timer: each sleep in epoll_wait would
  // otherwise arm and cancel one, measurable at low load.
  tick_ = event_new(loop_.base(), -1, EV_PERSIST, &Worker::OnTick, this);
  if (server_->settings().idle_timeout > 0) StartTick();
  loop_.SetAfterRound([this] {
    RunReadRound();
    if (recv_ring_ == nullptr) return;
    // While the last collection was busy, or receives wait that signalled nothing, collect
    // again at once: under load the next requests have arrived by now, and this saves the
    // epoll_wait that would report them. A bounded number of times, so that the loop's other
    // events (blocked writes, timers) are not kept waiting; and not after a quiet collection,
    // where it would only add a system call.
    for (int i = 0; i < kCollectsPerRound &&
                    (last_collected_ >= kBusyCollection || recv_ring_->WorkWaiting());
         ++i) {
      CollectReceives();
      RunReadRound();
    }
    // Arms and cancellations asked for in this round, in one system call.
    recv_ring_->Submit();
    // What is still waiting signalled nothing: the loop comes back for it in its next round,
    // without sleeping (here, after the round's callbacks, that does not run the round again
    // inside itself).
    if (recv_ring_->WorkWaiting() || !read_round_.empty()) recv_ring_->Reschedule();
  });
  loop_.Start("rc-worker-" + std::to_string(id_));
}

void Worker::StartTick() {
  timeval one_second{1, 0};
  event_add(tick_, &one_second);
}

void Worker::Stop() { loop_.Stop(); }

void Worker::Join() { loop_.Join(); }

void Worker::Adopt(int fd, const net::ListenSocket& from) {
  loop_.RunInLoop([this, fd, from] {
    if (stopping_) {
      close(fd);
      server_->curr_connections.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    MaybeStartRing();
    auto* conn = new Connection(this, fd, from);
    connections_.insert(conn);
    conn->Start();
  });
}

void Worker::MaybeStartRing() {
  if (!server_->receive_through_ring() || recv_ring_ != nullptr || ring_failed_) return;
  // Created here, on the worker's thread (the ring is SINGLE_ISSUER), when its first stream
  // connection arrives: a worker that never has one never maps the ring's buffers.
  recv_ring_ = net::RecvRing::Create(&loop_, [this] { CollectReceives(); });
  if (recv_ring_ == nullptr) {
    ring_failed_ = true;
    base::Log(0, "warning: worker %d: io_uring set-up failed; receiving through epoll", id_);
  }
}

void Worker::AdoptUdp(const net::ListenSocket& udp) {
  loop_.RunInLoop([this, udp] {
    udp_.push_back(std::make_unique<UdpEndpoint>(this, udp));
    udp_.back()->Start();
  });
}

void Worker::BeginGracefulStop() {
  loop_.RunInLoop([this] {
    stopping_ = true;
    StartTick();
    udp_.clear();  // datagrams are answered at once: nothing to finish
    std::vector<Connection*> all(connections_.begin(), connections_.end());
    // An idle connection closes at once; a busy one closes when its replies are sent.
    for (Connection* c : all) {
      c->Drain();
      if (c->closed()) Release(c);
    }
    busy_.store(static_cast<int>(connections_.size()), std::memory_order_relaxed);
  });
}

void Worker::Release(Connection* conn) {
  if (conn->read_queued()) {
    read_round_.erase(std::find(read_round_.begin(), read_round_.end(), conn));
  }
  connections_.erase(conn);
  delete conn;
}

void Worker::CollectReceives() {
  last_collected_ = recv_ring_->Collect();
}

void Worker::RunReadRound() {
  if (read_round_.empty()) return;
  // The requests of a round run after all of its reads, so that the cache misses of their
  // first lookups overlap instead of following one another: first each key's table slot is
  // probed (under its shard lock, which orders the probes), then the items found are loaded
  // back to back, with no lock and no system call in between. Prefetch instructions did not
  // do: measured here, a prefetch issued before a system call had not arrived after it, and
  // every request makes two (doc/performance.md). Measured: 2.6% (memcaslap) to 7%
  // (rc-loadgen) less CPU per small request.
  std::vector<Connection*> round;
  round.swap(read_round_);
  // A round of one has no misses to overlap, and its hint would only repeat the request's own
  // lookup: at low load, where most rounds are one request, that was 10% of a request's
  // instructions.
  if (round.size() > 1) {
    hints_.clear();
    for (Connection* c : round) hints_.push_back(c->LocateFirstKey());
    for (const void* hint : hints_) store::Store::Prefetch(hint);
  }
  for (Connection* c : round) {
    c->RunRead();
    if (c->closed()) Release(c);
  }
  // Keep the vector's capacity for the next round.
  round.clear();
  if (read_round_.empty()) read_round_.swap(round);
}

void Worker::OnTick(int, short, void* arg) noexcept {
  static_cast<Worker*>(arg)->CloseIdle();
}

void Worker::CloseIdle() {
  int idle_timeout = server_->settings().idle_timeout;
  base::RelTime now = server_->clock().Now();
  std::vector<Connection*> closing;
  int busy = 0;
  for (Connection* c : connections_) {
    // A peer link is exempt: it may stay quiet while the cluster is (REPLICATION.md section 4).
    bool idle = idle_timeout > 0 && !c->busy() && !c->peer() &&
                now - c->last_cmd() > static_cast<unsigned>(idle_timeout);
    if (idle || (stopping_ && !c->busy())) {
      closing.push_back(c);
    } else if (c->busy()) {
      ++busy;
    }
  }
  for (Connection* c : closing) {
    c->Close();
    Release(c);
  }
  busy_.store(stopping_ ? static_cast<int>(connections_.size()) : busy, std::memory_order_relaxed);
}

}  // namespace rc::server
