// t/unit/net/connect_test.cc -- outbound connections end to end on loopback: net::Resolve and
// net::StartConnect, a StreamTransport built as connecting, run by net::RunUntil (poll, no event
// loop) against a real listening socket served by a thread: a request and its reply, a refused
// connect, a peer that never answers (the deadline), and one that closes early.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/connect.h"
#include "ringcached/net/poll_runner.h"
#include "ringcached/net/stream_transport.h"

namespace rc::net {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A listening loopback socket on a port the kernel picks; closed with the object.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A transport connecting to 127.0.0.1:port.
std::unique_ptr<StreamTransport> ConnectTo(std::uint16_t port, BufferPool* pool) {
  base::Result<std::vector<Endpoint>> to = Resolve("127.0.0.1", port);
  EXPECT_TRUE(to.ok());
  EXPECT_EQ(to.value().front().text, "127.0.0.1:" + std::to_string(port));
  base::Result<int> fd = StartConnect(to.value().front());
  if (!fd.ok()) return nullptr;
  return std::make_unique<StreamTransport>(fd.value(), pool, 1 << 20,
                                           StreamTransport::Start::kConnecting);
}

TEST(ConnectTest, RequestAndReplyWithoutAnEventLoop) {
  Listener listener;
  // The peer: reads one line, answers with it reversed, then a second line later.
  std::thread peer([&] {
    int c = accept(listener.fd(), nullptr, nullptr);
    std::string got;
    char buf[64];
    while (got.find('\n') == std::string::npos) {
      ssize_t n = recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    std::string reply(got.rbegin() + 1, got.rend());
    reply += "\n";
    send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    std::this_thread::sleep_for(20ms);
    send(c, "END\n", 4, MSG_NOSIGNAL);
    close(c);
  });
  BufferPool pool;
  std::unique_ptr<StreamTransport> t = ConnectTo(listener.port(), &pool);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->Wants(false), StreamTransport::kWritable);  // the connect's outcome first
  t->output().Append("olleh\n");
  base::Status s = RunUntil(t.get(), Clock::now() + 10s, [&] {
    return t->input().view().find("END\n") != std::string_view::npos;
  });
  peer.join();
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(t->connecting());
  EXPECT_EQ(t->input().view(), "hello\nEND\n");
}

TEST(ConnectTest, RefusedConnectSaysSo) {
  std::uint16_t port;
  {
    Listener gone;
    port = gone.port();
  }  // nothing listens there now
  BufferPool pool;
  base::Result<std::vector<Endpoint>> to = Resolve("127.0.0.1", port);
  ASSERT_TRUE(to.ok());
  base::Result<int> fd = StartConnect(to.value().front());
  if (!fd.ok()) {  // refused on the spot
    EXPECT_NE(fd.status().message().find("Connection refused"), std::string::npos);
    return;
  }
  StreamTransport t(fd.value(), &pool, 1024, StreamTransport::Start::kConnecting);
  base::Status s = RunUntil(&t, Clock::now() + 10s, [] { return true; });
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Connection refused"), std::string::npos) << s.message();
  EXPECT_TRUE(t.connecting());
}

TEST(ConnectTest, SilentPeerRunsIntoTheDeadline) {
  Listener listener;  // the kernel completes the connect; nobody ever reads or answers
  BufferPool pool;
  std::unique_ptr<StreamTransport> t = ConnectTo(listener.port(), &pool);
  ASSERT_NE(t, nullptr);
  t->output().Append("anyone?\n");
  const Clock::time_point start = Clock::now();
  base::Status s = RunUntil(t.get(), start + 150ms, [] { return false; });
  EXPECT_EQ(s.message(), "timed out");
  EXPECT_GE(Clock::now() - start, 150ms);
  EXPECT_TRUE(t->output().empty());  // the request itself left
}

TEST(ConnectTest, PeerClosingEarlyEndsTheRun) {
  Listener listener;
  std::thread peer([&] {
    int c = accept(listener.fd(), nullptr, nullptr);
    send(c, "partial", 7, MSG_NOSIGNAL);
    close(c);
  });
  BufferPool pool;
  std::unique_ptr<StreamTransport> t = ConnectTo(listener.port(), &pool);
  ASSERT_NE(t, nullptr);
  base::Status s = RunUntil(t.get(), Clock::now() + 10s, [] { return false; });
  peer.join();
  EXPECT_EQ(s.message(), "connection closed");
  EXPECT_EQ(t->input().view(), "partial");
}

TEST(ConnectTest, ResolvesIpv6Literals) {
  base::Result<std::vector<Endpoint>> to = Resolve("::1", 11211);
  ASSERT_TRUE(to.ok()) << to.status().message();
  EXPECT_EQ(to.value().front().text, "[::1]:11211");
  EXPECT_EQ(to.value().front().addr.ss_family, AF_INET6);
}

}  // namespace
}  // namespace rc::net
