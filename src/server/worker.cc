// server/worker.cc -- see worker.h.
#include "server/worker.h"

#include <event2/event.h>
#include <unistd.h>

#include <algorithm>

#include "server/connection.h"
#include "server/server.h"

namespace rc::server {

Worker::Worker(Server* server, int id) : server_(server), id_(id) {}

Worker::~Worker() {
  for (Connection* c : connections_) delete c;
  if (tick_ != nullptr) event_free(tick_);
}

void Worker::Start() {
  // Once a second: close connections idle longer than -o idle_timeout (memcached's conn_timeout
  // thread does the same from outside; here each worker looks after its own).
  tick_ = event_new(loop_.base(), -1, EV_PERSIST, &Worker::OnTick, this);
  timeval one_second{1, 0};
  event_add(tick_, &one_second);
  loop_.SetAfterRound([this] { RunReadRound(); });
  loop_.Start();
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
    auto* conn = new Connection(this, fd, from);
    connections_.insert(conn);
    conn->Start();
  });
}

void Worker::AdoptUdp(const net::ListenSocket& udp) {
  loop_.RunInLoop([this, udp] {
    auto* conn = new Connection(this, udp.fd, udp);
    connections_.insert(conn);
    conn->Start();
  });
}

void Worker::BeginGracefulStop() {
  loop_.RunInLoop([this] {
    stopping_ = true;
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
  for (Connection* c : round) c->LocateFirstKey();
  for (Connection* c : round) c->TouchFirstKey();
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
    if (c->udp() && !stopping_) continue;
    bool idle = idle_timeout > 0 && !c->busy() &&
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
