// server/connection.cc -- a stream connection's I/O on its worker: read (epoll or the worker's
// io_uring), hand the bytes to the session, send what it queued.
#include "server/connection.h"

#include <errno.h>
#include <event2/event.h>

#include <algorithm>
#include <cstring>

#include "ringcached/base/hash.h"
#include "server/server.h"
#include "server/watchers.h"
#include "server/worker.h"

namespace rc::server {
namespace {

// A get line may be as long as its keys need (t/getset.t sends ~187 KB), but not without bound.
constexpr std::size_t kMaxInput = 64u << 20;
// Values longer than this are read from the socket straight into the item.
constexpr std::size_t kDirectReadThreshold = 16 * 1024;
// After a value above kDirectReadThreshold, a connection receives through epoll (the value
// straight from the socket into its item) for this many reads before it goes back to the ring.
constexpr std::uint8_t kRingPauseReads = 64;

}  // namespace

// Every open connection costs one of these: within jemalloc's 448-byte class (connection.h).
static_assert(sizeof(Connection) <= 448, "Connection outgrew jemalloc's 448-byte size class");

Server& Connection::server() const { return worker_->server(); }

Connection::Connection(Worker* worker, int fd, const net::ListenSocket& from)
    : worker_(worker),
      transport_(fd, &worker->buffers(), kMaxInput),
      record_(),
      session_(worker->session_context(), this, &transport_.input(), &transport_.output(),
               &record_, /*datagrams=*/false) {
  record_.fd = fd;
  record_.name = server().conns().Intern(from.name);
  record_.kind = from.is_unix ? ConnRecord::Kind::kUnix : ConnRecord::Kind::kTcp;
}

Connection::~Connection() {
  if (transport_.open()) Close();
  if (event_ != nullptr) event_free(event_);
}

void Connection::Start() {
  server().conns().Add(&record_);
  LogConnEvent("conn_new", nullptr);
  event_ = event_new(worker_->loop().base(), transport_.fd(), EV_READ | EV_PERSIST,
                     &Connection::OnEvent, this);
  if (net::RecvRing* ring = worker_->recv_ring(); ring != nullptr) {
    // Received through the worker's ring; event_ serves for blocked writes and yields only.
    transport_.ReceiveThroughRing(ring, this);
    return;
  }
  armed_ = EV_READ;
  event_add(event_, nullptr);
}

void Connection::Close() {
  if (!transport_.open()) return;
  if (event_ != nullptr) event_del(event_);
  transport_.DetachRing(worker_->recv_ring());
  session_.Closed();
  LogConnEvent("conn_close", "normal");
  server().conns().Remove(&record_);
  transport_.Close();
  (record_.peer.load(std::memory_order_relaxed) ? server().peer_connections
                                                : server().curr_connections)
      .fetch_sub(1, std::memory_order_relaxed);
}

void Connection::Drain() {
  draining_ = true;
  if (transport_.open() && !busy()) Close();
}

bool Connection::busy() const {
  return session_.in_data_block() || !in().empty() || !out().empty() || session_.waiting();
}

void Connection::OnDataBlock(std::size_t bytes) {
  // The ring receives into its own buffers, and a value copied from there into its item costs
  // a copy more than one read straight into the item (5% of the CPU of a 100 KB 1:10 load):
  // connections that store large values leave the ring for a while (PauseRing).
  if (transport_.through_ring() && bytes > kDirectReadThreshold) {
    transport_.PauseRing(kRingPauseReads);
  }
}

void Connection::Resume() {
  // As after a -R yield: from the input buffer, without reading the socket first (it was not
  // being watched while the session waited).
  HandleEvent(EV_READ);
  if (!transport_.open()) worker_->Release(this);  // as OnEvent does; `this` is gone
}

void Connection::SendQueued() {
  if (!Flush()) {
    worker_->Release(this);
    return;
  }
  UpdateEvents();
}

void Connection::OnEvent(int, short what, void* arg) noexcept {
  auto* self = static_cast<Connection*>(arg);
  if (what == EV_READ && self->session_.waiting()) {
    // Input while a request is parked: it waits in the socket until the request is answered
    // (UpdateEvents left the read event on until now).
    event_del(self->event_);
    self->armed_ = 0;
    return;
  }
  if (what == EV_READ && !self->session_.yielded() && !self->transport_.ring_armed()) {
    // Read now; the requests run after this round's other reads (Worker::RunReadRound). One
    // read per round: a socket reported again before its round ran keeps the rest until the
    // next one (the event is level-triggered, so it will be reported again). A connection of
    // the ring reads here too while its receive is paused.
    if (self->read_queued_) return;
    if (!self->ReadSocket()) {
      self->Close();
      self->worker_->Release(self);
      return;
    }
    self->read_queued_ = true;
    self->worker_->QueueRead(self);
    // A full round runs now, before the loop's other read callbacks (Worker::kReadRoundMax).
    // It may delete this connection: nothing touches `self` after it.
    if (self->worker_->ReadRoundFull()) self->worker_->RunReadRound();
    return;
  }
  self->HandleEvent(what);
  if (!self->transport_.open()) self->worker_->Release(self);
}

const void* Connection::LocateFirstKey() {
  std::string_view key = session_.FirstKey();
  return key.empty() ? nullptr : server().store().FindHint(base::HashKey(key));
}

void Connection::RunRead() {
  read_queued_ = false;
  HandleEvent(EV_READ, /*already_read=*/true);
}

void Connection::OnReceived(const net::RecvRing::Completion& c) {
  if (c.size > 0) {
    worker_->conn_stats().bytes_read.Add(c.size);
    if (!transport_.input_ended() && !AppendInput(c.data, c.size)) transport_.EndInput();
    if (!transport_.open()) {
      worker_->Release(this);  // requests run by AppendInput closed it
      return;
    }
  }
  if (c.ended) transport_.NoteRingEnd(c);
  // While replies are blocked or a read waits for the origin, the requests wait too: the
  // drained write or the fill resumes them. The receive goes on, up to a backlog
  // (StreamTransport::kMaxBacklog).
  if (!out().empty() || session_.waiting()) {
    transport_.UpdateRingReceive(worker_->recv_ring(), session_.waiting());
    return;
  }
  if (read_queued_) return;
  read_queued_ = true;
  worker_->QueueRead(this);
}

void Connection::HandleEvent(short what, bool already_read) {
  bool process = (what & EV_READ) != 0;
  if (what & EV_WRITE) {
    if (!Flush()) return;
    if (!out().empty()) return;  // still blocked; reading waits until the replies drain
    // The replies drained: run what waited behind them. A yield's event_active was cancelled
    // when the connection switched to waiting for EV_WRITE, and the client may have sent
    // everything already, so no EV_READ would come.
    // (A value may also have been received straight into its item meanwhile: AppendInput.)
    process = process || session_.yielded() || !in().empty() || session_.reading_value();
  }
  if (process) {
    // Through the ring, the socket is read here only while the ring's receive is off.
    bool read =
        (what & EV_READ) && !session_.yielded() && !already_read && !transport_.ring_armed();
    if (read && !ReadSocket()) {
      Close();
      return;
    }
    session_.ClearYield();
    if (!session_.Process()) {
      // Send what was answered before the request that ends the connection (quit, an overlong
      // line), as memcached does for quit.
      if (session_.close_after_write()) Flush();
      Close();
      return;
    }
  }
  if (!Flush()) return;
  if (session_.close_after_write() && out().empty()) {
    Close();
    return;
  }
  if (draining_ && !busy()) {
    Close();
    return;
  }
  if (transport_.input_ended() && out().empty() && !session_.waiting() && !session_.yielded()) {
    Close();  // what the peer sent before it closed has been answered
    return;
  }
  ReleaseInput();
  UpdateEvents();
  // After a yield, come back for the rest of the buffered requests once the loop has served
  // the other connections -- unless the replies are blocked: then the EV_WRITE that drains them
  // resumes processing (re-arming the event here would cancel an earlier activation).
  if (session_.yielded() && out().empty()) event_active(event_, EV_READ, 0);
}

bool Connection::ReadSocket() {
  transport_.NoteSocketRead();
  std::size_t got = 0;
  // A large value goes straight from the socket into the item.
  const bool direct = ReadsValueDirectly();
  const bool ok =
      direct ? transport_.ReceiveInto(session_.direct_value(), session_.DirectValueRoom(), &got)
             : transport_.Receive(&got);
  if (got > 0) {
    if (direct) session_.ValueReceived(got);
    worker_->conn_stats().bytes_read.Add(got);
  }
  return ok;
}

bool Connection::ReadsValueDirectly() const {
  return session_.DirectValueRoom() > kDirectReadThreshold;
}

void Connection::ReleaseInput() {
  if (session_.input_releasable()) in().Release();
}

bool Connection::AppendInput(const char* src, std::size_t n) {
  bool ran = false;
  while (n > 0) {
    // The data block being received goes straight into its item (Session::Process finishes it).
    if (std::size_t left = session_.DataBlockLeft(); left > 0) {
      std::size_t k = std::min(n, left);
      session_.FillDataBlock(src, k);
      src += k;
      n -= k;
      continue;
    }
    // A full buffer: run its requests now rather than grow it, as an epoll read would have
    // (one collection can bring a bulk load a pool's worth of bytes). Once: if they are one
    // long request, the buffer grows.
    if (in().full() && !ran && out().empty() && !session_.waiting() && !session_.yielded()) {
      ran = true;
      HandleEvent(EV_READ, /*already_read=*/true);
      if (!transport_.open()) return true;  // closed (quit): the rest goes unread
      continue;
    }
    if (!in().Reserve()) return false;
    std::size_t k = std::min(n, in().room());
    memcpy(in().tail(), src, k);
    in().Commit(k);
    src += k;
    n -= k;
  }
  return true;
}

bool Connection::Flush() {
  std::size_t sent = 0;
  bool ok = transport_.Send(&sent);
  worker_->conn_stats().bytes_written.Add(sent);
  if (!ok) Close();
  return ok;
}

void Connection::UpdateEvents() {
  // Back-pressure (StreamTransport::Wants): while replies are blocked, stop reading; while a
  // read waits for the origin, stop reading too: the input waits behind it anyway. Receiving
  // through the ring, event_ watches blocked writes, and the socket while a large value is read
  // straight into its item; the ring's receive follows the same rule (UpdateRingReceive).
  const net::StreamTransport::Interest interest = transport_.Wants(session_.waiting());
  short want = interest == net::StreamTransport::kWritable   ? EV_WRITE
               : interest == net::StreamTransport::kReadable ? EV_READ
                                                             : 0;
  if (transport_.through_ring()) {
    transport_.UpdateRingReceive(worker_->recv_ring(), session_.waiting());
  } else if (want == 0 && armed_ == EV_READ && session_.waiting()) {
    // A request parked on asynchronous work (a synchronous write's copies, a read-through
    // fetch): the read event stays until input comes meanwhile (OnEvent stops it then). Most
    // clients send nothing while they wait, and taking it off and putting it back cost two
    // epoll_ctl calls a parked request.
    return;
  }
  if (want == armed_) return;
  event_del(event_);
  if (want != 0) {
    event_assign(event_, worker_->loop().base(), transport_.fd(), want | EV_PERSIST,
                 &Connection::OnEvent, this);
    event_add(event_, nullptr);
  }
  armed_ = want;
}

void Connection::LogConnEvent(const char* type, const char* reason) {
  Watchers& watchers = server().watchers();
  if ((watchers.mask() & kWatchConnEvents) == 0) return;
  watchers.Emit(kWatchConnEvents, ConnEventBody(record_.addr(), record_.fd, type, reason));
}

}  // namespace rc::server
