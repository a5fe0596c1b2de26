// server/udp_endpoint.h -- one worker's reader of a UDP socket (memcached -U).
//
// Every worker reads every UDP socket, as in memcached; each datagram is one whole request,
// answered in datagrams of at most kUdpPayload bytes, each behind memcached's 8-byte frame
// header (request id, sequence number, datagram count, reserved). The request goes through a
// Session in datagram mode (no -R, no read-through, no watch), reset before each datagram.
//
// Thread-safety: none; owned by one worker.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "ringcached/net/input_buffer.h"
#include "ringcached/net/listener.h"
#include "ringcached/net/out_queue.h"
#include "server/conn_registry.h"
#include "server/session.h"

struct event;

namespace rc::server {

class Worker;

class UdpEndpoint final : public SessionHost {
 public:
  // memcached's UDP_MAX_PAYLOAD_SIZE (1400) counts the 8-byte frame header.
  static constexpr std::size_t kUdpPayload = 1400 - 8;

  // `socket` is the server's, shared by every worker, and outlives the endpoint.
  UdpEndpoint(Worker* worker, const net::ListenSocket& socket);
  ~UdpEndpoint() override;
  UdpEndpoint(const UdpEndpoint&) = delete;
  UdpEndpoint& operator=(const UdpEndpoint&) = delete;

  // Starts reading (listed in `stats conns` from then on).
  void Start();

  // SessionHost: a datagram's request never waits (no read-through, no watch) and its value
  // arrives with it.
  void OnDataBlock(std::size_t) override {}
  void Resume() override {}
  void SendQueued() override {}

 private:
  static void OnReadable(int fd, short what, void* arg) noexcept;
  // Reads and answers the datagrams waiting on the socket (a bounded number per wake-up).
  void ReadDatagrams();
  void Answer(std::uint16_t request_id, const sockaddr_storage& peer, socklen_t peer_len);

  Worker* worker_;
  int fd_;
  event* event_ = nullptr;
  net::InputBuffer in_;
  net::OutQueue out_;
  ConnRecord record_;
  Session session_;
};

}  // namespace rc::server
