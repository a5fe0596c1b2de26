// t/unit/server/peer_link_test.cc -- server::PeerLink against a peer the test plays on a loopback
// socket: the handshake both ways (proofs from cluster/peer_hello.h), then what becomes of each
// kind of message when the link fails with it in flight: a delete is sent again once linked, a
// write is lost and leaves the link needing a resync, a hint is lost quietly; a hint the peer
// misses is told once; a forwarded operation gets the peer's whole reply up to its MN, and a
// malformed one fails the link.
//
// The link lives on an EventLoop thread, as on a worker; the test thread is the peer, with
// blocking sockets and timeouts, so a fault fails the test instead of hanging it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "ringcached/base/clock.h"
#include "ringcached/base/hybrid_clock.h"
#include "ringcached/cluster/peer_hello.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/event_loop.h"
#include "server/peer_auth.h"
#include "server/peer_link.h"

namespace rc::server {
namespace {

constexpr char kSecret[] = "peer link test secret";

cluster::PeerHello HelloOf(const std::string& name) {
  cluster::PeerHello h;
  h.cluster = "/test";
  h.name = name;
  h.incarnation = 1;
  h.profile = "libmemcached";
  h.replicas = 2;
  h.item_size_max = 1 << 20;
  h.mode = "async";
  h.nonce = cluster::NewNonce();
  return h;
}

// The peer: a listening socket, one accepted connection at a time, read line by line.
class TestPeer {
 public:
  explicit TestPeer(base::HybridClock* clock) : clock_(clock) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(listen_fd_, 4), 0);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    SetTimeout(listen_fd_);
  }
  ~TestPeer() {
    Close();
    close(listen_fd_);
  }
  int port() const { return port_; }

  // Accepts the link's next connection and answers its handshake; false on a fault.
  bool AcceptAndLink() {
    Close();
    fd_ = accept(listen_fd_, nullptr, nullptr);
    if (fd_ < 0) return false;
    SetTimeout(fd_);
    buffered_.clear();
    const std::string hello = ReadLine();
    if (hello.rfind("rc_hello ", 0) != 0) return false;
    std::string unused;
    base::Result<cluster::PeerHello> theirs = cluster::ParseHelloFields(hello.substr(9), &unused);
    if (!theirs.ok()) return false;
    cluster::PeerHello mine = HelloOf("127.0.0.1:1");
    mine.clock = clock_->Now();
    Send(cluster::EncodeHelloReply(
        mine, cluster::PeerProof(kSecret, cluster::PeerRole::kAcceptor, theirs.value(), mine)));
    const std::string auth = ReadLine();
    if (auth.rfind("rc_auth proof=", 0) != 0 ||
        !cluster::CheckPeerProof({kSecret}, cluster::PeerRole::kOpener, theirs.value(), mine,
                                 auth.substr(14))) {
      return false;
    }
    Send("RC_OK\r\n");
    return true;
  }
  // The next line, without "\r\n"; "" on a timeout or a close.
  std::string ReadLine() {
    for (;;) {
      const std::size_t end = buffered_.find("\r\n");
      if (end != std::string::npos) {
        std::string line = buffered_.substr(0, end);
        buffered_.erase(0, end + 2);
        return line;
      }
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      buffered_.append(buf, static_cast<std::size_t>(n));
    }
  }
  void Send(const std::string& bytes) {
    ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  static void SetTimeout(int fd) {
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  base::HybridClock* clock_;
  int listen_fd_ = -1;
  int fd_ = -1;
  int port_ = 0;
  std::string buffered_;
};

class PeerLinkTest : public ::testing::Test {
 protected:
  PeerLinkTest() : versions_(&wall_, 1000), peer_(&versions_) {
    auth_.secrets = {kSecret};
    auth_.versions = &versions_;
    auth_.hello = [] { return HelloOf("127.0.0.1:2"); };
    loop_.Start("test-link");
    cluster::Member peer;
    peer.name = "127.0.0.1:1";
    peer.address = "127.0.0.1";
    peer.port = peer_.port();
    OnLoop([&] {
      link_ = std::make_unique<PeerLink>(&loop_, &pool_, &auth_, peer,
                                         [](std::uint64_t, bool) {});
    });
  }
  ~PeerLinkTest() override {
    OnLoop([&] { link_.reset(); });
    loop_.Stop();
    loop_.Join();
  }
  // Runs `fn` on the link's loop and waits for it.
  void OnLoop(std::function<void()> fn) {
    std::promise<void> done;
    loop_.RunInLoop([&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }
  void Queue(const std::string& bytes, PeerLink::Kind kind) {
    OnLoop([&] { link_->Queue(bytes, 0, kind); });
  }
  template <typename Pred>
  static bool Eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return pred();
  }

  base::SystemClock wall_;
  base::HybridClock versions_;
  PeerAuth auth_;
  net::EventLoop loop_;
  net::BufferPool pool_;
  TestPeer peer_;
  std::unique_ptr<PeerLink> link_;
};

TEST_F(PeerLinkTest, ADeleteInFlightIsSentAgainOnceLinkedAndALostWriteAsksForAResync) {
  Queue("md gone E5 Y127.0.0.1:2\r\n", PeerLink::Kind::kDelete);
  Queue("ms kept 1 E6 Y127.0.0.1:2\r\nx\r\n", PeerLink::Kind::kWrite);
  OnLoop([&] { link_->QueueHints("rc_hints t read\r\n", {"read"}, nullptr); });
  ASSERT_TRUE(peer_.AcceptAndLink());
  EXPECT_EQ(peer_.ReadLine(), "md gone E5 Y127.0.0.1:2");
  EXPECT_EQ(peer_.ReadLine(), "ms kept 1 E6 Y127.0.0.1:2");
  EXPECT_EQ(peer_.ReadLine(), "x");
  EXPECT_EQ(peer_.ReadLine(), "rc_hints t read");
  EXPECT_FALSE(link_->needs_resync());
  // The peer goes away with all three unanswered.
  peer_.Close();
  ASSERT_TRUE(Eventually([&] { return link_->counters().failed.Get() == 2; }));
  EXPECT_EQ(link_->counters().retried.Get(), 1u);
  EXPECT_EQ(link_->counters().hints.Get(), 1u);
  EXPECT_EQ(link_->counters().queued.Get(), 2u);
  EXPECT_TRUE(link_->needs_resync());
  // Back after the backoff: the delete, and only it, goes again, and its answer counts.
  ASSERT_TRUE(peer_.AcceptAndLink());
  EXPECT_EQ(peer_.ReadLine(), "md gone E5 Y127.0.0.1:2");
  peer_.Send("HD\r\n");
  EXPECT_TRUE(Eventually([&] { return link_->counters().applied.Get() == 1; }));
  Queue("ms later 1 E7 Y127.0.0.1:2\r\ny\r\n", PeerLink::Kind::kWrite);
  EXPECT_EQ(peer_.ReadLine(), "ms later 1 E7 Y127.0.0.1:2");
  // A resync begins: the flag is down until something is lost again.
  OnLoop([&] { link_->BeginResync(); });
  EXPECT_FALSE(link_->needs_resync());
  EXPECT_EQ(link_->counters().resyncs.Get(), 1u);
}

TEST_F(PeerLinkTest, TheKeysOfHintsThePeerMissesAreToldOnce) {
  std::vector<std::string> missed;
  auto on_miss = [&missed](const std::string& key) { missed.push_back(key); };
  OnLoop([&] {
    link_->QueueHints("rc_hints t a b c\r\n", {"a", "b", "c"}, on_miss);
    link_->QueueHints("rc_hints t d e\r\n", {"d", "e"}, on_miss);
    link_->QueueHints("rc_hints t g\r\n", {"g"}, nullptr);  // sent again: not told again
    link_->QueueHints("rc_hints t h\r\n", {"h"}, on_miss);
  });
  ASSERT_TRUE(peer_.AcceptAndLink());
  for (const char* line : {"rc_hints t a b c", "rc_hints t d e", "rc_hints t g", "rc_hints t h"}) {
    EXPECT_EQ(peer_.ReadLine(), line);
  }
  // A position past the message's keys is nobody's: ignored.
  peer_.Send("EN 0 2\r\nHD\r\nEN 0\r\nEN 7\r\n");
  ASSERT_TRUE(Eventually([&] { return link_->unanswered_seen() == 0; }));
  OnLoop([] {});  // the callbacks ran on the loop before this
  EXPECT_EQ(link_->counters().hint_misses.Get(), 2u);
  EXPECT_EQ(missed, (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(link_->counters().hints.Get(), 7u);
  EXPECT_EQ(link_->counters().queued.Get(), 0u);  // hints are not writes
}

TEST_F(PeerLinkTest, AForwardedOperationGetsThePeersWholeReplyUpToItsMn) {
  std::vector<std::string> replies;
  std::atomic<int> lost{0};
  auto answer = [&](const std::string* reply) {
    if (reply == nullptr) {
      ++lost;
    } else {
      replies.push_back(*reply);
    }
  };
  OnLoop([&] {
    link_->Forward("ma n v\r\n", answer);
    link_->Forward("ms k 1 ME q\r\nz\r\n", answer);
    link_->Forward("ma m v\r\n", answer);
  });
  ASSERT_TRUE(peer_.AcceptAndLink());
  EXPECT_EQ(peer_.ReadLine(), "ma n v");
  EXPECT_EQ(peer_.ReadLine(), "mn");
  // A value holding "MN\r\n" is a value; a quiet reply is empty; and the answers come in order,
  // in pieces.
  peer_.Send("VA 4\r\nMN\r\n\r\nMN\r\n");
  peer_.Send("MN\r");
  peer_.Send("\n");
  ASSERT_TRUE(Eventually([&] {
    std::size_t n = 0;
    OnLoop([&] { n = replies.size(); });
    return n == 2;
  }));
  OnLoop([&] {
    EXPECT_EQ(replies[0], "VA 4\r\nMN\r\n\r\n");
    EXPECT_EQ(replies[1], "");
  });
  // A VA whose length is not a number fails the link: the third is lost, told later.
  peer_.Send("VA x\r\n");
  EXPECT_TRUE(Eventually([&] { return lost.load() == 1; }));
}

TEST_F(PeerLinkTest, AFullBacklogDropsWritesButKeepsDeletes) {
  // Nobody accepts: everything waits in the backlog, whose bound writes meet first.
  const std::string big = "ms big 1000000 E9 Y127.0.0.1:2\r\n" + std::string(1000000, 'v') + "\r\n";
  for (int i = 0; i < 9; ++i) Queue(big, PeerLink::Kind::kWrite);
  EXPECT_EQ(link_->counters().dropped.Get(), 1u);
  EXPECT_TRUE(link_->needs_resync());
  Queue("md gone E10 Y127.0.0.1:2\r\n", PeerLink::Kind::kDelete);
  EXPECT_EQ(link_->counters().dropped.Get(), 1u);
  ASSERT_TRUE(peer_.AcceptAndLink());
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(peer_.ReadLine(), "ms big 1000000 E9 Y127.0.0.1:2") << i;
    ASSERT_EQ(peer_.ReadLine().size(), std::size_t{1000000});
  }
  EXPECT_EQ(peer_.ReadLine(), "md gone E10 Y127.0.0.1:2");
}

}  // namespace
}  // namespace rc::server
