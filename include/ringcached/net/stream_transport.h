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
// Receiving, two ways. By readiness (epoll, poll): the owner calls Receive() when the socket is
// readable. Through a worker's io_uring (recv_ring.h, --io-engine=io_uring): a multishot receive
// stands for readability, the kernel receives into the ring's buffers, and the owner (the ring's
// Receiver) adds each completion's bytes to the input; this class keeps that receive's state
// (armed, being cancelled, paused, the input ended) and arms or cancels it as the back-pressure
// rule says (UpdateRingReceive). After a large value the owner pauses the ring for some reads
// (PauseRing): read by readiness, a value goes straight from the socket into its item, one copy
// less than through the ring's buffers.
//
// Thread-safety: none; owned by one connection on one thread.
#pragma once

#include <errno.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

#include "ringcached/base/status.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/input_buffer.h"
#include "ringcached/net/out_queue.h"
#include "ringcached/net/recv_ring.h"

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
  // parked on asynchronous work), nothing. Otherwise readability -- which, through a ring, its
  // receive stands for, except while paused once that receive has ended (a read must not take
  // bytes past ones the ring still holds). While connecting, writability: the connect's
  // outcome.
  Interest Wants(bool hold_input) const {
    if (connecting_ || !out_.empty()) return kWritable;
    if (hold_input || (ring_tag_ != 0 && (ring_pause_ == 0 || ring_armed_))) return kNone;
    return kReadable;
  }

  // The io_uring receive (see the file comment).
  // Attaches `owner` to `ring` and arms the receive: from now on the ring delivers the bytes.
  void ReceiveThroughRing(RecvRing* ring, RecvRing::Receiver* owner);
  bool through_ring() const { return ring_tag_ != 0; }
  // Whether the ring's receive is live (a socket read now could overtake bytes it holds).
  bool ring_armed() const { return ring_armed_; }
  // The input has ended (the peer closed, the socket failed, the input is full): what came
  // before is still answered, then the owner closes.
  bool input_ended() const { return input_ended_; }
  void EndInput() { input_ended_ = true; }
  // The next `reads` reads go by readiness (a large value straight into its item).
  void PauseRing(std::uint8_t reads) { ring_pause_ = reads; }
  void NoteSocketRead() {
    if (ring_pause_ > 0) --ring_pause_;
  }
  // A completion that ended the receive: ENOBUFS (the pool ran dry) and ECANCELED (cancelled
  // here) re-arm when the owner reads again; anything else with no bytes ends the input.
  void NoteRingEnd(const RecvRing::Completion& c);
  // Arms or cancels the receive: off while paused and once the input has ended; while output
  // waits or the owner holds its input (`hold_input`), on until kMaxBacklog bytes wait, so a
  // client that pipelines without reading its answers cannot make this side buffer without
  // bound, while a short block (as every large reply makes) costs nothing.
  static constexpr std::size_t kMaxBacklog = 64 * 1024;
  void UpdateRingReceive(RecvRing* ring, bool hold_input);
  // Detaches from the ring (null: it is gone already), cancelling a live receive: before Close.
  void DetachRing(RecvRing* ring);

  // Closes the socket (once); the buffers stay until the transport goes.
  void Close();

 private:
  // The small fields beside fd_, packed into what would be padding: every idle connection has
  // a transport.
  int fd_;
  bool connecting_ : 1;
  bool ring_armed_ : 1 = false;       // the ring's receive is live
  bool ring_cancelling_ : 1 = false;  // and its cancellation was asked for
  bool input_ended_ : 1 = false;
  std::uint8_t ring_pause_ = 0;       // reads left by readiness before the ring takes over again
  std::uint64_t ring_tag_ = 0;        // attached to a ring as this tag (0: receives by readiness)
  InputBuffer in_;
  OutQueue out_;
};

}  // namespace rc::net
