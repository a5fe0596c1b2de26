// net/stream_transport.h -- the byte transport of one connected stream socket: the bytes it
// received (InputBuffer), the bytes waiting to leave (OutQueue), reading and sending them, and
// the back-pressure rule that says what to wait for next.
//
// It knows no event loop: its owner asks Wants() and arms whatever loop it runs on (the
// workers' libevent loops, server/connection.cc; a client library's own poll), then calls
// Receive() or Send() when the socket is ready. What the bytes mean is the owner's business (a
// server::Session for a client connection). Accepted and outbound sockets alike: it starts from
// a connected, non-blocking fd, or from one still connecting (net/connect.h), for which it waits
// for writability first and FinishConnect() says how the connect went. net/poll_runner.h runs
// one on poll(2), with no event loop at all.
//
// Thread-safety: none; owned by one connection on one thread.
#pragma once

#include <errno.h>
#include <sys/socket.h>

#include <cstddef>

#include "ringcached/base/status.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/input_buffer.h"
#include "ringcached/net/out_queue.h"

namespace rc::net {

class StreamTransport {
 public:
  enum class Start : unsigned char { kConnected, kConnecting };
  // Takes ownership of `fd`. `max_input`: the longest request the input buffer grows to hold.
  // kConnecting: `fd` is a connect in progress (net::StartConnect).
  StreamTransport(int fd, BufferPool* pool, std::size_t max_input,
                  Start start = Start::kConnected)
      : fd_(fd), connecting_(start == Start::kConnecting), in_(pool, max_input), out_(pool) {}
  ~StreamTransport() { Close(); }
  StreamTransport(const StreamTransport&) = delete;
  StreamTransport& operator=(const StreamTransport&) = delete;

  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  InputBuffer& input() { return in_; }
  const InputBuffer& input() const { return in_; }
  OutQueue& output() { return out_; }
  const OutQueue& output() const { return out_; }

  // An outbound connect has not finished yet: wait for writability, then FinishConnect().
  bool connecting() const { return connecting_; }
  // OK once the connect has succeeded (the transport then sends and receives as any other), or
  // why it failed (IoError; the owner closes).
  base::Status FinishConnect();

  // Reads what the socket has into the input buffer (*got: how many bytes, 0 when none were
  // waiting). False at the end of the input: the peer closed (errno 0), the socket failed, or
  // the input buffer is full at its limit (errno ENOBUFS).
  // (These three are inline: they sit on every request's path, between a socket call and the
  // buffers' own code.)
  bool Receive(std::size_t* got) {
    *got = 0;
    if (!in_.Reserve()) {
      errno = ENOBUFS;
      return false;
    }
    if (!ReceiveInto(in_.tail(), in_.room(), got)) return false;
    in_.Commit(*got);
    return true;
  }
  // The same into `dst` (up to `room` bytes), bypassing the input buffer: a large value straight
  // into the memory that keeps it.
  bool ReceiveInto(char* dst, std::size_t room, std::size_t* got) {
    // recv(), not read(): the socket call skips the file layer (see OutQueue's Send).
    ssize_t n = recv(fd_, dst, room, 0);
    *got = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (n == 0) errno = 0;
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
  }
  // Sends what is queued, as much as the socket takes (*sent: how many bytes). False on a
  // socket error (errno says which). Not while connecting().
  bool Send(std::size_t* sent) {
    *sent = 0;
    return out_.empty() || out_.WriteTo(fd_, sent) != OutQueue::WriteStatus::kError;
  }

  enum Interest : short { kNone = 0, kReadable = 1, kWritable = 2 };
  // While output waits, only writability: a peer that sends without reading its answers must
  // not make this side buffer without bound. While the owner holds its input back (a request
  // parked on asynchronous work), nothing. Otherwise readability.
  // While connecting, writability: the connect's outcome.
  Interest Wants(bool hold_input) const {
    return connecting_ || !out_.empty() ? kWritable : hold_input ? kNone : kReadable;
  }

  // Closes the socket (once); the buffers stay until the transport goes.
  void Close();

 private:
  int fd_;
  bool connecting_;  // beside fd_, in what would be padding: every idle connection has one
  InputBuffer in_;
  OutQueue out_;
};

}  // namespace rc::net
