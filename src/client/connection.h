// client/connection.h -- the client library's connections to one node and the loop that runs
// several of them at once: a request round ("exchange") per connection, all sent, then all
// replies collected, on poll(2) under one deadline. This is how a multi-get reaches every node
// in parallel, and how a call's pipelined requests (a long multi-get cut into several `get`s)
// leave in one write and come back in order.
//
// A Connection is a net::StreamTransport (the server's own byte transport, without libevent)
// with its own small buffer pool. It is persistent: after an exchange that ended cleanly it goes
// back to its node's idle list (client/node.h) and serves the next call. One that failed is
// closed, never reused: its stream position is unknown.
//
// Thread-safety: a Connection and an Exchange belong to one thread for the exchange's duration.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/status.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/connect.h"
#include "ringcached/net/stream_transport.h"
#include "ringcached/proto/client_codec.h"

namespace rc::client {

class Connection {
 public:
  // Starts a non-blocking connect to `to` (net::StartConnect: TCP_NODELAY on). IoError when the
  // connect fails at once (refused on the spot).
  static base::Result<std::unique_ptr<Connection>> Open(const net::Endpoint& to);

  net::StreamTransport& transport() { return transport_; }
  // Whether it has ever completed an exchange (a reused connection that breaks may just have
  // been closed by the node while idle; a fresh one that breaks means the node is in trouble).
  bool reused() const { return reused_; }
  void set_reused() { reused_ = true; }
  // Open, connected, and nothing left unread: fit to serve another exchange.
  bool idle() const {
    return transport_.open() && !transport_.connecting() && transport_.output().empty() &&
           transport_.input().empty();
  }

 private:
  explicit Connection(int fd);
  // The longest reply held at once: a multi-get's values for one node.
  static constexpr std::size_t kMaxInput = 256u << 20;

  net::BufferPool pool_;  // before transport_, which borrows from it
  net::StreamTransport transport_;
  bool reused_ = false;
};

// One connection's part of a round: requests already queued in its output, and the parser that
// eats its replies.
struct Exchange {
  enum class Outcome : unsigned char {
    kPending,
    kDone,           // every reply arrived
    kConnectFailed,  // the connect failed: nothing was sent
    kTimedOut,       // the deadline passed first (connecting or waiting for replies)
    kBroken,         // the connection ended or failed, or the bytes are not replies
  };
  Connection* conn = nullptr;
  // Called with the unread input after each receive. Consumes (*consumed) the whole replies at
  // its front and says kOk when the last reply of the round is in, kNeedMore for more, kError
  // when the bytes are not replies (the stream is lost).
  std::function<proto::client::ReplyStatus(std::string_view in, std::size_t* consumed)> on_input;
  Outcome outcome = Outcome::kPending;
  std::string error;  // why, when not kDone
};

// Runs every exchange at once until each is done or failed, or `deadline` passes. A failed
// exchange's connection is closed. Blocks the calling thread; never throws.
void RunExchanges(std::vector<Exchange*>& exchanges,
                  std::chrono::steady_clock::time_point deadline);

}  // namespace rc::client
