// client/connection.cc -- see connection.h. The loop is net::RunUntil (net/poll_runner.h)
// widened to several transports: RunUntil runs one, and a multi-get must not wait for node A's
// replies before node B has its request.
#include "client/connection.h"

#include <poll.h>

#include <cerrno>
#include <cstring>

namespace rc::client {

using Clock = std::chrono::steady_clock;
using proto::client::ReplyStatus;

Connection::Connection(int fd)
    : transport_(fd, &pool_, kMaxInput, net::StreamTransport::Start::kConnecting) {}

base::Result<std::unique_ptr<Connection>> Connection::Open(const net::Endpoint& to) {
  base::Result<int> fd = net::StartConnect(to);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<Connection>(new Connection(fd.value()));
}

namespace {

void Fail(Exchange* x, Exchange::Outcome outcome, std::string why) {
  x->outcome = outcome;
  x->error = std::move(why);
  x->conn->transport().Close();
}

// Feeds what arrived to the exchange's parser.
void Deliver(Exchange* x) {
  net::InputBuffer& in = x->conn->transport().input();
  std::size_t consumed = 0;
  const ReplyStatus status = x->on_input(in.view(), &consumed);
  in.Consume(consumed);
  if (status == ReplyStatus::kError) {
    Fail(x, Exchange::Outcome::kBroken, "the reply is not memcached's text protocol");
  } else if (status == ReplyStatus::kOk) {
    x->outcome = Exchange::Outcome::kDone;
    if (in.empty()) in.Release();  // an idle connection holds no buffer
  }
}

// One ready socket: finish the connect, send, receive -- whatever it is ready for.
void Step(Exchange* x, short revents) {
  net::StreamTransport& t = x->conn->transport();
  if (t.connecting()) {
    if (base::Status s = t.FinishConnect(); !s.ok()) {
      Fail(x, Exchange::Outcome::kConnectFailed, s.message());
      return;
    }
  }
  if ((revents & POLLOUT) && !t.output().empty()) {
    std::size_t sent = 0;
    if (!t.Send(&sent)) {
      Fail(x, Exchange::Outcome::kBroken, std::string("send: ") + std::strerror(errno));
      return;
    }
  }
  // Read whenever the socket is readable, even with requests still queued: the node answers
  // the first ones while the rest arrive, and stops reading if its answers are not read.
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    std::size_t got = 0;
    if (!t.Receive(&got)) {
      Fail(x, Exchange::Outcome::kBroken,
           errno == 0 ? std::string("connection closed by the node")
                      : std::string("receive: ") + std::strerror(errno));
      return;
    }
    if (got > 0) Deliver(x);
  }
}

}  // namespace

void RunExchanges(std::vector<Exchange*>& exchanges, Clock::time_point deadline) {
  std::vector<pollfd> fds;
  std::vector<Exchange*> live;
  while (true) {
    fds.clear();
    live.clear();
    for (Exchange* x : exchanges) {
      if (x->outcome != Exchange::Outcome::kPending) continue;
      const net::StreamTransport& t = x->conn->transport();
      short events = POLLIN;
      if (t.connecting()) {
        events = POLLOUT;
      } else if (!t.output().empty()) {
        events |= POLLOUT;
      }
      fds.push_back({t.fd(), events, 0});
      live.push_back(x);
    }
    if (live.empty()) return;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      for (Exchange* x : live) {
        Fail(x, Exchange::Outcome::kTimedOut,
             x->conn->transport().connecting() ? "connect timed out" : "timed out");
      }
      return;
    }
    const int n = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      for (Exchange* x : live) {
        Fail(x, Exchange::Outcome::kBroken, std::string("poll: ") + std::strerror(errno));
      }
      return;
    }
    for (std::size_t i = 0; n > 0 && i < live.size(); ++i) {
      if (fds[i].revents != 0) Step(live[i], fds[i].revents);
    }
  }
}

}  // namespace rc::client
