// net/connect.cc -- see connect.h.
#include "ringcached/net/connect.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rc::net {
namespace {

std::string EndpointText(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
  inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
  return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
}

}  // namespace

base::Result<std::vector<Endpoint>> Resolve(std::string_view host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  addrinfo* found = nullptr;
  const std::string name(host);
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(name.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return base::Status::NotFound("cannot resolve " + name + ": " + gai_strerror(rc));
  }
  std::vector<Endpoint> out;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Endpoint e;
    std::memcpy(&e.addr, ai->ai_addr, ai->ai_addrlen);
    e.len = ai->ai_addrlen;
    e.text = EndpointText(e.addr);
    out.push_back(std::move(e));
  }
  freeaddrinfo(found);
  if (out.empty()) return base::Status::NotFound("cannot resolve " + name + ": no address");
  return out;
}

base::Result<int> StartConnect(const Endpoint& to) {
  const int fd = socket(to.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return base::Status::IoError(std::string("socket: ") + std::strerror(errno));
  // What is sent here is requests a peer answers at once, already gathered by whoever sends
  // (a round's writes leave in one send): Nagle would hold a second request back until the
  // first one's answer came.
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to.addr), to.len) != 0 &&
      errno != EINPROGRESS) {
    const int err = errno;
    close(fd);
    return base::Status::IoError("cannot connect to " + to.text + ": " + std::strerror(err));
  }
  return fd;
}

base::Status FinishConnect(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return base::Status::IoError(std::strerror(err));
  return base::Status::Ok();
}

}  // namespace rc::net
