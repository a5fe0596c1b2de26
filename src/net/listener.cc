// net/listener.cc -- see listener.h.
#include "ringcached/net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ringcached/base/log.h"

namespace rc::net {
namespace {

std::string NameOf(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return std::string("tcp6:[") + host + "]:" + std::to_string(port);
  }
  const auto* in4 = reinterpret_cast<const sockaddr_in*>(sa);
  inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
  port = ntohs(in4->sin_port);
  return std::string("tcp:") + host + ":" + std::to_string(port);
}

// Binds sockets of `type` (SOCK_STREAM, listening; or SOCK_DGRAM) for every address `addr`
// resolves to.
base::Status OpenInet(const ListenAddress& addr, int type, int backlog,
                      std::vector<ListenSocket>* out) {
  const char* kind = type == SOCK_STREAM ? "TCP" : "UDP";
  addrinfo hints{};
  hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = type;
  std::string port = std::to_string(addr.port);
  addrinfo* found = nullptr;
  const char* host = addr.host.empty() ? nullptr : addr.host.c_str();
  int rc = getaddrinfo(host, port.c_str(), &hints, &found);
  if (rc != 0) {
    return base::Status::InvalidArgument("cannot listen on \"" + addr.host + "\": " +
                                         gai_strerror(rc));
  }
  std::size_t opened = 0;
  std::string last_error;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        (type == SOCK_STREAM && listen(fd, backlog) != 0)) {
      last_error = strerror(errno);
      close(fd);
      // An address family the host cannot bind (IPv6 disabled) is skipped when another one of
      // the same name works; an address in use is always fatal.
      if (errno == EADDRINUSE) {
        freeaddrinfo(found);
        return base::Status::IoError(std::string("failed to listen on ") + kind + " port " +
                                     port + ": " + last_error);
      }
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    ListenSocket s;
    s.fd = fd;
    s.name = NameOf(reinterpret_cast<sockaddr*>(&bound));
    if (type == SOCK_DGRAM) {
      s.name.replace(0, 3, "udp");
      s.is_udp = true;
    }
    s.ipv6 = bound.ss_family == AF_INET6;
    s.port = ntohs(s.ipv6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    out->push_back(std::move(s));
    ++opened;
  }
  freeaddrinfo(found);
  if (opened == 0) {
    return base::Status::IoError("failed to listen on \"" + addr.host + "\" port " + port + ": " +
                                 last_error);
  }
  return base::Status::Ok();
}

base::Status OpenUnix(const ListenAddress& addr, int backlog, std::vector<ListenSocket>* out) {
  sockaddr_un sun{};
  if (addr.path.size() >= sizeof sun.sun_path) {
    return base::Status::InvalidArgument("UNIX socket path too long: " + addr.path);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return base::Status::IoError(std::string("socket(): ") + strerror(errno));
  // Like memcached, replace a stale socket file left by an earlier run, but nothing else.
  struct stat st;
  if (lstat(addr.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(addr.path.c_str());
  sun.sun_family = AF_UNIX;
  memcpy(sun.sun_path, addr.path.data(), addr.path.size());
  mode_t old_umask = umask(~addr.mask & 0777);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun);
  umask(old_umask);
  if (rc != 0 || listen(fd, backlog) != 0) {
    std::string err = strerror(errno);
    close(fd);
    return base::Status::IoError("failed to listen on UNIX socket " + addr.path + ": " + err);
  }
  ListenSocket s;
  s.fd = fd;
  s.name = "unix:" + addr.path;
  s.is_unix = true;
  s.unix_path = addr.path;
  out->push_back(std::move(s));
  return base::Status::Ok();
}

}  // namespace

std::string PeerName(int fd) {
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
      (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)) {
    return "tcp:unknown";  // reset by the peer before we asked
  }
  return NameOf(reinterpret_cast<const sockaddr*>(&peer));
}

base::Result<std::unique_ptr<Listener>> Listener::Open(const std::vector<ListenAddress>& addresses,
                                                        int backlog) {
  std::unique_ptr<Listener> listener(new Listener());
  for (const ListenAddress& addr : addresses) {
    base::Status st = addr.is_unix ? OpenUnix(addr, backlog, &listener->sockets_)
                                   : OpenInet(addr, SOCK_STREAM, backlog, &listener->sockets_);
    if (!st.ok()) {
      listener->Close();
      return st;
    }
  }
  return listener;
}

base::Result<std::vector<ListenSocket>> OpenUdpSockets(const std::vector<ListenAddress>& addresses) {
  std::vector<ListenSocket> sockets;
  for (const ListenAddress& addr : addresses) {
    base::Status st = OpenInet(addr, SOCK_DGRAM, 0, &sockets);
    if (!st.ok()) {
      for (ListenSocket& s : sockets) close(s.fd);
      return st;
    }
  }
  return sockets;
}

Listener::~Listener() { Close(); }

void Listener::Start(event_base* base, AcceptFn on_accept) {
  on_accept_ = std::move(on_accept);
  for (std::size_t i = 0; i < sockets_.size(); ++i) {
    auto watch = std::make_unique<Watch>(Watch{this, i, nullptr});
    watch->ev = event_new(base, sockets_[i].fd, EV_READ | EV_PERSIST, &Listener::OnAcceptable,
                          watch.get());
    event_add(watch->ev, nullptr);
    watches_.push_back(std::move(watch));
  }
}

void Listener::Pause() {
  if (paused_) return;
  paused_ = true;
  for (auto& w : watches_) event_del(w->ev);
}

void Listener::Resume() {
  if (!paused_) return;
  paused_ = false;
  for (auto& w : watches_) event_add(w->ev, nullptr);
}

void Listener::ResumeAfterFdExhaustion() {
  if (!out_of_fds_) return;
  out_of_fds_ = false;
  Resume();
}

void Listener::Close() {
  for (auto& w : watches_) event_free(w->ev);
  watches_.clear();
  for (ListenSocket& s : sockets_) {
    if (s.fd >= 0) close(s.fd);
    s.fd = -1;
    if (s.is_unix) unlink(s.unix_path.c_str());
  }
  sockets_.clear();
}

void Listener::OnAcceptable(int fd, short, void* arg) noexcept {
  auto* watch = static_cast<Watch*>(arg);
  Listener* self = watch->owner;
  // Accept everything that is waiting: one wake-up can cover a burst of connections.
  for (int i = 0; i < 64; ++i) {
    int client = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      if ((errno == EMFILE || errno == ENFILE) && !self->paused_) {
        base::Log(0, "accept(): %s; not accepting until descriptors are free", strerror(errno));
        self->Pause();
        self->out_of_fds_ = true;
      }
      return;
    }
    if (!self->sockets_[watch->index].is_unix) {
      int one = 1;
      setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    self->on_accept_(client, self->sockets_[watch->index]);
    if (self->paused_) return;
  }
}

}  // namespace rc::net
