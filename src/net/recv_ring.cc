// net/recv_ring.cc -- see recv_ring.h; and at the end, StreamTransport's receive through a ring.
#include "ringcached/net/recv_ring.h"

#include <errno.h>
#include <event2/event.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "ringcached/net/event_loop.h"
#include "ringcached/net/stream_transport.h"

namespace rc::net {
namespace {

// The rings' pages are resident from the start (4 KB of submissions, 16 KB of completions).
constexpr unsigned kSubmissionEntries = 64;
// Completions of multishot receives are not bounded by the submissions (the kernel parks any
// beyond the queue on its overflow list until the next collection, and may end a multishot
// receive for it).
constexpr unsigned kCompletionEntries = 1024;
constexpr std::uint16_t kBufferGroup = 0;
// Completions of cancel requests carry this tag; they say nothing about a connection.
constexpr std::uint64_t kCancelTag = ~std::uint64_t{0};

// COOP_TASKRUN: a receive's completion is posted by task work that runs when the worker next
// enters the kernel, or wakes it if it sleeps (TIF_NOTIFY_SIGNAL, since Linux 5.19), rather
// than interrupting it with an IPI while it runs. Not DEFER_TASKRUN: there the completions wait
// for an io_uring_enter and only the ring's eventfd can wake a worker asleep in epoll_wait,
// and on Linux 6.18 that signal arrives an RCU grace period late, 15-20 ms for every request
// of an otherwise idle worker (doc/performance.md, "The receive stall").
// TASKRUN_FLAG: the kernel shows in the submission ring's flags that task work waits
// (WorkWaiting relies on it).
constexpr unsigned kRingFlags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN |
                                IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_CQSIZE |
                                IORING_SETUP_SUBMIT_ALL;

}  // namespace

struct RecvRing::Impl {
  io_uring ring{};
  bool ring_ready = false;
  io_uring_buf_ring* buffer_ring = nullptr;  // kMaxBuffers entries, page-aligned
  std::size_t buffer_ring_bytes = 0;
  char* buffers = nullptr;                   // kMaxBuffers * kBufferSize, touched as used
  unsigned buffer_count = 0;                 // buffers added to the pool so far
  unsigned queued = 0;                       // submissions waiting for Submit()

  ~Impl() {
    if (ring_ready) io_uring_queue_exit(&ring);
    if (buffer_ring != nullptr) munmap(buffer_ring, buffer_ring_bytes);
    if (buffers != nullptr) munmap(buffers, std::size_t{kMaxBuffers} * kBufferSize);
  }

  bool Init() {
    io_uring_params params{};
    params.flags = kRingFlags;
    params.cq_entries = kCompletionEntries;
    if (io_uring_queue_init_params(kSubmissionEntries, &ring, &params) != 0) return false;
    ring_ready = true;
    buffer_ring_bytes = sizeof(io_uring_buf) * kMaxBuffers;
    void* br = mmap(nullptr, buffer_ring_bytes, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (br == MAP_FAILED) return false;
    buffer_ring = static_cast<io_uring_buf_ring*>(br);
    io_uring_buf_ring_init(buffer_ring);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uint64_t>(buffer_ring);
    reg.ring_entries = kMaxBuffers;
    reg.bgid = kBufferGroup;
    if (io_uring_register_buf_ring(&ring, &reg, 0) != 0) return false;
    // Reserved, not committed: a buffer's pages become resident when a receive first fills them.
    void* mem = mmap(nullptr, std::size_t{kMaxBuffers} * kBufferSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) return false;
    buffers = static_cast<char*>(mem);
    return true;
  }

  io_uring_sqe* NextSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) {
      // The submission queue is full: hand it to the kernel and take a fresh entry.
      io_uring_submit(&ring);
      queued = 0;
      sqe = io_uring_get_sqe(&ring);
    }
    ++queued;
    return sqe;
  }

  void PrepareReceive(int fd, std::uint64_t tag) {
    io_uring_sqe* sqe = NextSqe();
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(sqe, tag);
  }

  // Enters the kernel to submit what is queued and, with `collect`, run the receives' pending
  // task work. The completions that posts would signal the eventfd and wake the loop once more
  // for nothing (an epoll_wait and an empty collection per wake-up at low load), so the signal
  // is off meanwhile; receives that arrive then are not signalled either, and show in the
  // kernel's "task work waiting" flag instead (WorkWaiting).
  void Enter(bool collect) {
    io_uring_cq_eventfd_toggle(&ring, false);
    if (collect) {
      if (queued > 0) {
        io_uring_submit_and_get_events(&ring);
      } else {
        io_uring_get_events(&ring);
      }
    } else {
      io_uring_submit(&ring);
    }
    queued = 0;
    io_uring_cq_eventfd_toggle(&ring, true);
  }

  char* Buffer(unsigned id) const { return buffers + std::size_t{id} * kBufferSize; }

  void GiveBack(unsigned id, int offset) {
    io_uring_buf_ring_add(buffer_ring, Buffer(id), kBufferSize, static_cast<unsigned short>(id),
                          io_uring_buf_ring_mask(kMaxBuffers), offset);
  }
};

bool RecvRing::Supported() {
  // Everything Create() asks of the kernel, tried once on a socket pair: a container's seccomp
  // policy may refuse io_uring altogether, and kernels before 6.0 lack multishot receive.
  static const bool supported = [] {
    Impl probe;
    if (!probe.Init()) return false;
    probe.GiveBack(0, 0);
    io_uring_buf_ring_advance(probe.buffer_ring, 1);
    probe.buffer_count = 1;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return false;
    probe.PrepareReceive(sv[0], 1);
    bool ok = io_uring_submit(&probe.ring) >= 0 && send(sv[1], "x", 1, MSG_NOSIGNAL) == 1 &&
              io_uring_get_events(&probe.ring) >= 0;
    io_uring_cqe* cqe = nullptr;
    ok = ok && io_uring_peek_cqe(&probe.ring, &cqe) == 0 && cqe->res == 1 &&
         (cqe->flags & IORING_CQE_F_MORE) != 0 && (cqe->flags & IORING_CQE_F_BUFFER) != 0;
    close(sv[0]);
    close(sv[1]);
    return ok;
  }();
  return supported;
}

std::unique_ptr<RecvRing> RecvRing::Create(EventLoop* loop, std::function<void()> ready) {
  std::unique_ptr<RecvRing> r(new RecvRing());
  r->impl_ = std::make_unique<Impl>();
  if (!r->impl_->Init()) return nullptr;
  r->event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->event_fd_ < 0 || io_uring_register_eventfd(&r->impl_->ring, r->event_fd_) != 0) {
    return nullptr;
  }
  r->ready_ = std::move(ready);
  // Edge-triggered: every signal is an edge, so the counter never needs reading.
  r->event_ = event_new(loop->base(), r->event_fd_, EV_READ | EV_PERSIST | EV_ET,
                        &RecvRing::OnEventFd, r.get());
  if (r->event_ == nullptr || event_add(r->event_, nullptr) != 0) return nullptr;
  return r;
}

RecvRing::~RecvRing() {
  if (event_ != nullptr) event_free(event_);
  impl_.reset();  // the ring first: it may still signal the eventfd
  if (event_fd_ >= 0) close(event_fd_);
}

void RecvRing::OnEventFd(int, short, void* arg) noexcept {
  static_cast<RecvRing*>(arg)->ready_();
}

void RecvRing::GrowPool(unsigned want) {
  want = std::min(want, kMaxBuffers);
  if (impl_->buffer_count >= want) return;
  unsigned added = 0;
  for (; impl_->buffer_count < want; ++impl_->buffer_count) {
    impl_->GiveBack(impl_->buffer_count, static_cast<int>(added++));
  }
  io_uring_buf_ring_advance(impl_->buffer_ring, static_cast<int>(added));
}

std::uint64_t RecvRing::Attach(Receiver* receiver) {
  std::uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<std::uint32_t>(receivers_.size());
    receivers_.push_back(nullptr);
    generations_.push_back(1);
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  receivers_[slot] = receiver;
  return (std::uint64_t{generations_[slot]} << 32) | slot;
}

void RecvRing::Detach(std::uint64_t tag, bool cancel) {
  auto slot = static_cast<std::uint32_t>(tag);
  receivers_[slot] = nullptr;
  if (++generations_[slot] == 0) generations_[slot] = 1;  // never a tag of 0
  free_slots_.push_back(slot);
  if (cancel) Cancel(tag);
}

void RecvRing::Arm(int fd, std::uint64_t tag) {
  // Two buffers a receiver and four more: a connection may receive twice before its requests
  // run (pipelining clients do). One streaming a bulk load takes what the pool has and then
  // waits for the next round (ENOBUFS).
  const std::size_t attached = receivers_.size() - free_slots_.size();
  GrowPool(static_cast<unsigned>(std::min<std::size_t>(2 * attached + 4, kMaxBuffers)));
  impl_->PrepareReceive(fd, tag);
}

void RecvRing::Cancel(std::uint64_t tag) {
  io_uring_sqe* sqe = impl_->NextSqe();
  io_uring_prep_cancel64(sqe, tag, 0);
  io_uring_sqe_set_data64(sqe, kCancelTag);
}

void RecvRing::Submit() {
  if (impl_->queued == 0) return;
  impl_->Enter(/*collect=*/false);
}

bool RecvRing::WorkWaiting() const {
  // Receives queued while the signal was off, or completions posted within a submission (a
  // receive armed on a socket with bytes already waiting): neither signalled the eventfd.
  return (IO_URING_READ_ONCE(*impl_->ring.sq.kflags) & IORING_SQ_TASKRUN) != 0 ||
         io_uring_cq_ready(&impl_->ring) > 0;
}

std::size_t RecvRing::Collect() {
  auto on = [this](const Completion& c) {
    auto slot = static_cast<std::uint32_t>(c.tag);
    if (slot >= receivers_.size() || generations_[slot] != c.tag >> 32) return;
    receivers_[slot]->OnReceived(c);
  };
  // One system call submits what Arm and Cancel queued and runs the receives' task work.
  impl_->Enter(/*collect=*/true);
  unsigned seen = 0;
  int returned = 0;
  io_uring_cqe* cqe;
  unsigned head;
  io_uring_for_each_cqe(&impl_->ring, head, cqe) {
    ++seen;
    std::uint64_t tag = io_uring_cqe_get_data64(cqe);
    if (tag == kCancelTag) continue;
    Completion c{tag, nullptr, 0, (cqe->flags & IORING_CQE_F_MORE) == 0, 0};
    if (cqe->res < 0) c.error = -cqe->res;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
      unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
      if (cqe->res > 0) {
        c.data = impl_->Buffer(id);
        c.size = static_cast<std::size_t>(cqe->res);
      }
      on(c);
      impl_->GiveBack(id, returned++);
      continue;
    }
    on(c);
  }
  io_uring_cq_advance(&impl_->ring, seen);
  if (returned > 0) io_uring_buf_ring_advance(impl_->buffer_ring, returned);
  return seen;
}

void RecvRing::Reschedule() { event_active(event_, EV_READ, 0); }

// -- A stream transport's receive through a ring (stream_transport.h) --

void StreamTransport::ReceiveThroughRing(RecvRing* ring, RecvRing::Receiver* owner) {
  ring_tag_ = ring->Attach(owner);
  ring->Arm(fd_, ring_tag_);
  ring_armed_ = true;
}

void StreamTransport::NoteRingEnd(const RecvRing::Completion& c) {
  ring_armed_ = false;
  ring_cancelling_ = false;
  if (c.size == 0 && c.error != ENOBUFS && c.error != ECANCELED) input_ended_ = true;
}

void StreamTransport::UpdateRingReceive(RecvRing* ring, bool hold_input) {
  const bool waiting = !out_.empty() || hold_input;
  const bool receive =
      !input_ended_ && ring_pause_ == 0 && (!waiting || in_.size() < kMaxBacklog);
  if (receive && !ring_armed_) {
    ring->Arm(fd_, ring_tag_);
    ring_armed_ = true;
  } else if (!receive && ring_armed_ && !ring_cancelling_) {
    ring->Cancel(ring_tag_);
    ring_cancelling_ = true;
  }
}

void StreamTransport::DetachRing(RecvRing* ring) {
  if (ring_tag_ == 0) return;
  // The ring holds the socket open until its receive is cancelled.
  if (ring != nullptr) ring->Detach(ring_tag_, ring_armed_ && !ring_cancelling_);
  ring_tag_ = 0;
}

}  // namespace rc::net
