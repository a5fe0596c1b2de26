// net/recv_ring.h -- a worker's io_uring for receiving: one multishot receive per stream socket,
// into a shared pool of buffers the kernel picks from. Used under --io-engine=io_uring; epoll is
// the default.
//
// Under a saturating load of small requests most of a server's CPU is the kernel's TCP work, and
// of what is left, `epoll_wait` and a `recv` per request are the largest part
// (doc/performance.md). With a multishot receive armed on every connection, a request's bytes
// are received by the kernel into one of the pool's buffers as they arrive, and a worker collects
// the bytes of all its connections with one `io_uring_enter` per round instead of an
// `epoll_wait` plus a `recv` per connection. Replies still leave by `send` (server/out_queue).
//
// The ring is set up with COOP_TASKRUN: a completion is posted when the worker next enters the
// kernel (or wakes it if it sleeps), never interrupting it mid-request. The ring's eventfd
// (edge-triggered, so it is never read) wakes the worker's libevent loop, which keeps every
// other event: timers, blocked writes, UDP, cross-thread work.
//
// Buffers: kBufferSize each, added as connections are armed (two per connection and four more,
// up to kMaxBuffers), and handed back right after their bytes were copied out. The kernel takes
// them in turn, so every buffer added is soon resident: kMaxBuffers bounds what a worker's ring
// costs (1 MB) whatever the number of connections. A receive that finds the pool empty ends
// with ENOBUFS; its connection re-arms once buffers are back.
//
// Thread-safety: none; created, used and destroyed by the loop's thread (the ring is a
// SINGLE_ISSUER ring).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

struct event;

namespace rc::net {

class EventLoop;

class RecvRing {
 public:
  static constexpr std::size_t kBufferSize = 4 * 1024;
  static constexpr unsigned kMaxBuffers = 256;

  // What one completion says about a connection's receive.
  struct Completion {
    std::uint64_t tag;
    const char* data;   // the bytes received, or null
    std::size_t size;
    // The multishot receive has ended; with `error` 0 and no data, the peer closed. Other
    // errors: ENOBUFS (re-arm when buffers are back), ECANCELED (Cancel asked for it), or the
    // socket's own (ECONNRESET...).
    bool ended;
    int error;
  };

  // What a receive's completions go to: a connection's transport owner.
  class Receiver {
   public:
    virtual void OnReceived(const Completion& c) = 0;

   protected:
    ~Receiver() = default;
  };

  // Whether this kernel (and its seccomp policy) offers what RecvRing needs: COOP_TASKRUN,
  // multishot receive and provided-buffer rings. Probed once with a throwaway ring.
  static bool Supported();

  // Creates the ring on the calling thread, which must be `loop`'s. `ready` runs on the loop
  // when completions may be waiting: call Collect() from it. Returns null if the kernel refuses.
  static std::unique_ptr<RecvRing> Create(EventLoop* loop, std::function<void()> ready);
  ~RecvRing();
  RecvRing(const RecvRing&) = delete;
  RecvRing& operator=(const RecvRing&) = delete;

  // Registers a receiver; the completions of the receive armed with the returned tag (never 0)
  // go to it. Detach() unregisters it, and queues the cancellation of its receive when
  // `cancel` says it is live (the ring holds the socket open until then); a completion that
  // arrives after that finds no one and is dropped. The buffer pool grows with the receivers.
  std::uint64_t Attach(Receiver* receiver);
  void Detach(std::uint64_t tag, bool cancel);
  // Queues a multishot receive on `fd` for the receiver attached as `tag`.
  void Arm(int fd, std::uint64_t tag);
  // Queues the cancellation of the receive that carries `tag`; its last completion (ECANCELED,
  // or whatever came first) still arrives.
  void Cancel(std::uint64_t tag);
  // Submits what Arm and Cancel queued. Cheap when there is nothing.
  void Submit();
  // Submits what is queued and runs the receives' pending task work in one system call, then
  // hands every completion to its receiver; a completion's bytes are valid only during that
  // call. Returns how many completions there were.
  std::size_t Collect();
  // Whether completions, or receives to run, wait without having signalled the eventfd (they
  // arrived while the worker was in the kernel): the caller must come back for them.
  bool WorkWaiting() const;
  // Makes the loop call `ready` again soon, without waiting for the kernel. Not from within a
  // callback of the loop's round (libevent would run `ready` again in the same round, before
  // the round's requests).
  void Reschedule();

 private:
  RecvRing() = default;
  static void OnEventFd(int fd, short what, void* arg) noexcept;
  void GrowPool(unsigned want);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::function<void()> ready_;
  // Attached receivers by slot; a tag is (generation << 32) | slot, so that a completion for a
  // receiver detached since (and a slot reused) is told apart.
  std::vector<Receiver*> receivers_;
  std::vector<std::uint32_t> generations_;
  std::vector<std::uint32_t> free_slots_;
  event* event_ = nullptr;
  int event_fd_ = -1;
};

}  // namespace rc::net
