// server/worker.h -- a worker thread: one event loop and the connections it owns.
//
// The listener hands each accepted socket to a worker (round robin) through Adopt(); from then on
// the connection lives on that worker's thread until it closes, so nothing in a connection is
// locked (memcached thread.c, DESIGN.md section 2).
//
// Thread-safety: Adopt(), Stop(), BeginGracefulStop() and the counters' reads from any thread;
// everything else on the worker's own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_set>
#include <vector>

#include "ringcached/base/counter.h"
#include "ringcached/engine/engine.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/event_loop.h"
#include "ringcached/net/listener.h"
#include "ringcached/net/recv_ring.h"
#include "server/udp_endpoint.h"

struct event;

namespace rc::server {

class Server;
class Connection;

class Worker {
 public:
  Worker(Server* server, int id);
  ~Worker();

  void Start();
  void Stop();   // thread-safe: ends the loop; connections are closed by Join()
  void Join();

  // Takes ownership of the socket `fd`, accepted by `from`. Thread-safe.
  void Adopt(int fd, const net::ListenSocket& from);
  // Serves datagrams from the UDP socket `udp` too (every worker reads every UDP socket, as in
  // memcached). The socket stays the caller's. Thread-safe.
  void AdoptUdp(const net::ListenSocket& udp);
  // Stops reading new requests; connections close once their replies are sent. Thread-safe.
  void BeginGracefulStop();
  // Connections that still have work in hand (for the graceful stop). Thread-safe.
  int busy_connections() const { return busy_.load(std::memory_order_relaxed); }

  // Called by a connection on this worker when it has closed; the worker deletes it.
  void Release(Connection* conn);
  // Called by a connection whose read callback has read its socket: its requests run after
  // this round's other read callbacks (RunReadRound), so the cache misses of their lookups
  // overlap instead of following one another.
  void QueueRead(Connection* conn) { read_round_.push_back(conn); }
  // Whether the round has kReadRoundMax connections: the caller then runs it at once, as the
  // last thing its read callback does (RunReadRound may delete any connection of the round).
  bool ReadRoundFull() const { return read_round_.size() >= kReadRoundMax; }
  void RunReadRound();

  // Stream connections receive through the worker's io_uring when it has one (net/recv_ring.h;
  // --io-engine=io_uring), through epoll otherwise. Null once ~Worker has begun: a
  // connection closed after that has no receive to cancel.
  net::RecvRing* recv_ring() const { return recv_ring_.get(); }

  Server& server() const { return *server_; }
  net::EventLoop& loop() { return loop_; }
  // The input buffers and reply blocks its connections borrow while they are busy.
  net::BufferPool& buffers() { return buffers_; }
  engine::CommandStats& command_stats() { return command_stats_; }
  ConnStats& conn_stats() { return conn_stats_; }
  // What its connections' sessions reach of it.
  SessionContext* session_context() { return &session_context_; }
  int id() const { return id_; }
  bool stopping() const { return stopping_; }

 private:
  // The once-a-second timer of CloseIdle (Start).
  void StartTick();
  static void OnTick(int fd, short what, void* arg) noexcept;
  void CloseIdle();
  void CollectReceives();
  // Creates the ring before the first stream connection, under --io-engine=io_uring.
  void MaybeStartRing();

  Server* server_;
  int id_;
  net::EventLoop loop_;
  engine::CommandStats command_stats_;
  ConnStats conn_stats_;
  SessionContext session_context_;  // made by the constructor
  net::BufferPool buffers_;  // before connections_: they give their buffers back when deleted
  std::unordered_set<Connection*> connections_;
  // Its readers of the UDP sockets (-U), until a graceful stop begins.
  std::vector<std::unique_ptr<UdpEndpoint>> udp_;
  std::vector<Connection*> read_round_;  // read this round, requests not yet run
  std::vector<const void*> hints_;       // RunReadRound's item hints, one per connection
  event* tick_ = nullptr;
  std::unique_ptr<net::RecvRing> recv_ring_;
  bool ring_failed_ = false;
  // Completions the last collection found; from kBusyCollection on, the round collects again
  // right away (up to kCollectsPerRound times) instead of waiting in epoll.
  std::size_t last_collected_ = 0;
  static constexpr std::size_t kBusyCollection = 2;
  static constexpr int kCollectsPerRound = 4;
  // The most connections a read round holds before it runs, mid-way through the loop's read
  // callbacks if need be. A round's replies leave only after all of its reads: with 200 ready
  // connections in one round, the clients answered last sent their next request after the next
  // round had begun and waited two rounds, and the closed-loop p99 was twice the p50 (2.44 ms
  // against memcached's 1.86). In rounds of at most 64: 1.48 ms, the same p50, and 3-5% more
  // throughput, so the overlap of 64 lookups' cache misses loses nothing against 200.
  static constexpr std::size_t kReadRoundMax = 64;
  bool stopping_ = false;
  std::atomic<int> busy_{0};
};

}  // namespace rc::server
