// server/connection.h -- one client stream connection (TCP or a unix socket) on its worker: its
// net::StreamTransport run on the worker's libevent loop (or receiving through the worker's
// io_uring), when it reads, sends and closes. What the bytes mean is its Session's business
// (session.h); UDP has its own UdpEndpoint.
//
// A Connection lives on one worker thread for its whole life, so nothing in it is locked. Its
// loop is memcached's: read what the socket has, let the session execute every complete request
// (at most -R per event, for fairness between pipelining clients), and send the queued replies
// with one sendmsg. A large value of a storage command is read from the socket straight into the
// new item.
//
// Reading: where the worker has an io_uring (net/recv_ring.h, --io-engine), a multishot receive
// stands for the socket's readability: the kernel receives into the worker's buffer pool and
// OnReceived copies the bytes into the input buffer (a value's into its item). The connection
// falls back to epoll reads for a while after a large value (one copy less: PauseRing), and the
// transport stops the ring's receive when the input has ended or a backlog waits behind blocked
// replies (StreamTransport::UpdateRingReceive). Either way the requests run in the worker's
// read round.
//
// While replies are blocked, or a read waits for the origin (the session parked it), the socket
// is not read (beyond the backlog, through the ring), and other connections on the worker are
// not held up.
//
// Thread-safety: none; owned by one worker.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ringcached/net/listener.h"
#include "ringcached/net/recv_ring.h"
#include "ringcached/net/stream_transport.h"
#include "server/conn_registry.h"
#include "server/session.h"

struct event;

namespace rc::server {

class Worker;
class Server;

class Connection final : public SessionHost, public net::RecvRing::Receiver {
 public:
  // Takes ownership of `fd`.
  Connection(Worker* worker, int fd, const net::ListenSocket& from);
  ~Connection() override;

  void Start();
  // Closes the socket and hands the connection back to its worker for deletion.
  void Close();
  // Graceful stop: no new requests; close once what was received is answered.
  void Drain();
  // Whether the connection holds a partial request or unsent replies.
  bool busy() const;
  base::RelTime last_cmd() const { return session_.last_cmd(); }
  // An authenticated peer link (server/peer_commands.cc).
  bool peer() const { return session_.peer(); }
  bool closed() const { return !transport_.open(); }
  // Between a read callback that read the socket and RunRead() (Worker::QueueRead).
  bool read_queued() const { return read_queued_; }
  // The first cache-warming pass of a read round (Worker::RunReadRound) for the first request
  // read: the store's hint for its key's item (under the shard lock; the key is found by
  // Session::FirstKey, when it can be told cheaply), or null. The round keeps it for its
  // second pass, a load from it (store::Store::Prefetch).
  const void* LocateFirstKey();
  // Runs what the queued read brought.
  void RunRead();
  // RecvRing::Receiver: a completion of this connection's multishot receive (delivered by the
  // worker's ring): buffers the bytes and queues the connection for the worker's read round, as
  // an epoll read would.
  void OnReceived(const net::RecvRing::Completion& c) override;

  // SessionHost.
  void OnDataBlock(std::size_t bytes) override;
  void Resume() override;
  void SendQueued() override;

 private:
  static void OnEvent(int fd, short what, void* arg) noexcept;
  // `already_read`: an EV_READ whose socket read was done by the read callback (RunRead).
  void HandleEvent(short what, bool already_read = false);
  // Reads from the socket into the input buffer. False when the peer closed or failed.
  bool ReadSocket();
  // Whether the next bytes go from the socket straight into a large value's item.
  bool ReadsValueDirectly() const;
  // Gives the input buffer back to the worker's pool once everything in it has been used: an
  // idle connection holds no buffer (net::BufferPool).
  void ReleaseInput();
  // Adds bytes received through the worker's ring to the input (or to the value being read).
  // False when the input is at its limit.
  bool AppendInput(const char* src, std::size_t n);
  bool Flush();
  void UpdateEvents();
  // Emits a conn_new / conn_close line to connevents watchers.
  void LogConnEvent(const char* type, const char* reason);

  // Members are ordered by size, so that the object (which every idle connection costs) has no
  // padding: 8-byte fields, then the structures, then the small fields. It fits jemalloc's
  // 448-byte size class (a static_assert in connection.cc): at 528 bytes it took the 640 class,
  // and an idle connection's RSS was 1.27-1.39x memcached's (bench/idle_connections.py); what
  // few connections need lives apart (Session::Rare, Session::meta_req_).
  Server& server() const;
  net::InputBuffer& in() { return transport_.input(); }
  const net::InputBuffer& in() const { return transport_.input(); }
  net::OutQueue& out() { return transport_.output(); }
  const net::OutQueue& out() const { return transport_.output(); }

  Worker* worker_;
  event* event_ = nullptr;

  // The socket, what it received and not yet executed (no buffer while there is nothing), the
  // replies waiting to leave, and the state of its receive through the ring.
  net::StreamTransport transport_;
  ConnRecord record_;
  Session session_;

  short armed_ = 0;
  bool draining_ = false;
  bool read_queued_ = false;
};

}  // namespace rc::server
