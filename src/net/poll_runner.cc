// net/poll_runner.cc -- see poll_runner.h.
#include "ringcached/net/poll_runner.h"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace rc::net {

base::Status RunUntil(StreamTransport* transport, std::chrono::steady_clock::time_point deadline,
                      const std::function<bool()>& done) {
  using Clock = std::chrono::steady_clock;
  while (true) {
    if (!transport->connecting() && transport->output().empty() && done()) {
      return base::Status::Ok();
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return base::Status::IoError("timed out");
    const StreamTransport::Interest want = transport->Wants(/*hold_input=*/false);
    pollfd p{transport->fd(), static_cast<short>(want == StreamTransport::kWritable ? POLLOUT
                                                                                  : POLLIN),
             0};
    const int n = poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::Status::IoError(std::string("poll: ") + std::strerror(errno));
    if (n == 0) continue;  // the deadline is checked above
    if (transport->connecting()) {
      if (base::Status s = transport->FinishConnect(); !s.ok()) return s;
    }
    if (want == StreamTransport::kWritable) {
      std::size_t sent = 0;
      if (!transport->Send(&sent)) {
        return base::Status::IoError(std::string("send: ") + std::strerror(errno));
      }
      continue;
    }
    std::size_t got = 0;
    if (!transport->Receive(&got)) {
      if (errno == 0) return base::Status::IoError("connection closed");
      return base::Status::IoError(std::string("receive: ") + std::strerror(errno));
    }
  }
}

}  // namespace rc::net
