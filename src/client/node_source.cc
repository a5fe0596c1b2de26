// client/node_source.cc -- see node_source.h. A non-blocking socket driven by poll() gives every
// step the same deadline; getaddrinfo itself cannot be bounded, which is acceptable in a tool.
#include "client/node_source.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace rc::client {
namespace {

using base::Result;
using base::Status;
using Clock = std::chrono::steady_clock;

// Closes the descriptor when the scope ends.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd until the deadline: >0 ready, 0 timed out, <0 poll failed.
int WaitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// Connects to one resolved address; -1 with `error` set on failure.
int ConnectOne(const addrinfo* ai, Clock::time_point deadline, std::string* error) {
  const int fd =
      ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    *error = Errno("socket");
    return -1;
  }
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
    *error = Errno("connect");
    ::close(fd);
    return -1;
  }
  const int ready = WaitFor(fd, POLLOUT, deadline);
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  if (ready <= 0) {
    *error = ready == 0 ? "connect timed out" : Errno("poll");
    ::close(fd);
    return -1;
  }
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
    *error = std::string("connect: ") + std::strerror(so_error ? so_error : errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Result<MemberList> FetchFromNode(std::string_view node, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const cluster::HostPort hp = cluster::SplitRingName(node);
  if (hp.host.empty()) {
    return Status::InvalidArgument("bad node address \"" + std::string(node) + "\"");
  }
  const std::string host(hp.host);
  const std::string port = std::to_string(hp.port.value_or(11211));
  const std::string where = std::string(node);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Status::NotFound("cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  int fd = -1;
  std::string error;
  for (const addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ConnectOne(ai, deadline, &error);
  }
  ::freeaddrinfo(found);
  if (fd < 0) return Status::IoError("cannot connect to " + where + ": " + error);
  const Fd closer(fd);

  constexpr std::string_view kRequest = "config get cluster\r\n";
  std::size_t sent = 0;
  while (sent < kRequest.size()) {
    const ssize_t n = ::send(fd, kRequest.data() + sent, kRequest.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (WaitFor(fd, POLLOUT, deadline) <= 0) {
        return Status::IoError(where + ": timed out sending the request");
      }
    } else {
      return Status::IoError(Errno(where + ": send"));
    }
  }

  std::string reply;
  char buf[16384];
  while (true) {
    if (const std::size_t complete = ClusterConfigReplyLength(reply); complete > 0) {
      return ParseClusterConfig(std::string_view(reply).substr(0, complete));
    }
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      reply.append(buf, static_cast<std::size_t>(n));
      if (reply.size() > (64u << 20)) return Status::InvalidArgument(where + ": reply too large");
    } else if (n == 0) {
      return Status::IoError(where + ": connection closed before the reply was complete");
    } else if (errno == EAGAIN || errno == EINTR) {
      if (WaitFor(fd, POLLIN, deadline) <= 0) {
        return Status::IoError(where + ": no complete reply to `config get cluster` within " +
                               std::to_string(timeout.count()) + " ms");
      }
    } else {
      return Status::IoError(Errno(where + ": recv"));
    }
  }
}

}  // namespace rc::client
