// server/udp_endpoint.cc -- see udp_endpoint.h.
#include "server/udp_endpoint.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "server/server.h"
#include "server/worker.h"

namespace rc::server {
namespace {

constexpr std::size_t kFrame = 8;
constexpr std::size_t kMaxDatagram = 65536;
// Datagrams answered per wake-up, so that a flood on UDP does not starve the worker's streams.
constexpr int kDatagramsPerWake = 64;

}  // namespace

UdpEndpoint::UdpEndpoint(Worker* worker, const net::ListenSocket& socket)
    : worker_(worker),
      fd_(socket.fd),
      in_(&worker->buffers(), kMaxDatagram),
      out_(&worker->buffers()),
      session_(worker->session_context(), this, &in_, &out_, &record_, /*datagrams=*/true) {
  record_.fd = fd_;
  record_.name = worker->server().conns().Intern(socket.name);
  record_.kind = ConnRecord::Kind::kUdp;
  record_.state.store("conn_read");
}

UdpEndpoint::~UdpEndpoint() {
  if (event_ != nullptr) event_free(event_);
  // The socket is the server's: it closes it once every worker has stopped.
  worker_->server().conns().Remove(&record_);
}

void UdpEndpoint::Start() {
  worker_->server().conns().Add(&record_);
  event_ = event_new(worker_->loop().base(), fd_, EV_READ | EV_PERSIST, &UdpEndpoint::OnReadable,
                     this);
  event_add(event_, nullptr);
}

void UdpEndpoint::OnReadable(int, short, void* arg) noexcept {
  static_cast<UdpEndpoint*>(arg)->ReadDatagrams();
}

void UdpEndpoint::ReadDatagrams() {
  // A request must fit one datagram.
  char* datagram = in_.Whole(kMaxDatagram);
  for (int i = 0; i < kDatagramsPerWake; ++i) {
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    ssize_t n = recvfrom(fd_, datagram, kMaxDatagram, 0, reinterpret_cast<sockaddr*>(&peer),
                         &peer_len);
    if (n < 0) return;  // EAGAIN: nothing more waiting (or a transient error)
    worker_->conn_stats().bytes_read.Add(static_cast<std::uint64_t>(n));
    if (static_cast<std::size_t>(n) < kFrame) continue;
    auto u16 = [&](std::size_t at) {
      return static_cast<std::uint16_t>((static_cast<unsigned char>(datagram[at]) << 8) |
                                        static_cast<unsigned char>(datagram[at + 1]));
    };
    std::uint16_t request_id = u16(0);
    if (u16(4) != 1) continue;  // multi-datagram requests are not supported (memcached checks
                                // only the count)
    // Each datagram is a fresh request: reset whatever the previous one left behind.
    in_.Frame(kFrame, static_cast<std::size_t>(n));
    session_.StartDatagram();
    session_.Process();
    session_.EndDatagram();
    in_.Frame(0, 0);
    Answer(request_id, peer, peer_len);
  }
}

void UdpEndpoint::Answer(std::uint16_t request_id, const sockaddr_storage& peer,
                         socklen_t peer_len) {
  std::string reply;
  out_.MoveTo(&reply);
  if (reply.empty()) return;
  std::size_t count = (reply.size() + kUdpPayload - 1) / kUdpPayload;
  if (count > 0xffff) return;  // cannot be framed; memcached drops it too
  char datagram[kFrame + kUdpPayload];
  for (std::size_t seq = 0; seq < count; ++seq) {
    std::size_t len = std::min(kUdpPayload, reply.size() - seq * kUdpPayload);
    const std::uint16_t frame[4] = {htons(request_id), htons(static_cast<std::uint16_t>(seq)),
                                    htons(static_cast<std::uint16_t>(count)), 0};
    std::memcpy(datagram, frame, kFrame);
    std::memcpy(datagram + kFrame, reply.data() + seq * kUdpPayload, len);
    ssize_t sent = sendto(fd_, datagram, kFrame + len, 0,
                          reinterpret_cast<const sockaddr*>(&peer), peer_len);
    if (sent > 0) worker_->conn_stats().bytes_written.Add(static_cast<std::uint64_t>(sent));
  }
}

}  // namespace rc::server
