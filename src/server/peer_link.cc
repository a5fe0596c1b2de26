// server/peer_link.cc -- see peer_link.h.
#include "server/peer_link.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <chrono>
#include <iterator>

#include "ringcached/base/log.h"
#include "ringcached/net/connect.h"

namespace rc::server {
namespace {

constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 5000;
// The longest reply line a peer sends (RC_HELLO with its fields and proof is the longest).
constexpr std::size_t kMaxReplyLine = 4096;
constexpr std::size_t kMaxInput = 64 * 1024;

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PeerLink::PeerLink(net::EventLoop* loop, net::BufferPool* pool, const PeerAuth* auth,
                   cluster::Member peer, AckFn on_ack)
    : loop_(loop), pool_(pool), auth_(auth), peer_(std::move(peer)), on_ack_(std::move(on_ack)) {
  retry_ = evtimer_new(loop_->base(), &PeerLink::OnRetry, this);
}

PeerLink::~PeerLink() {
  loop_->Forget(this);
  for (Waiting& w : tickets_) {
    if (w.answer) TellLost(std::move(w.answer));
  }
  for (Waiting& w : backlog_tickets_) {
    if (w.answer) TellLost(std::move(w.answer));
  }
  if (event_ != nullptr) event_free(event_);
  if (retry_ != nullptr) event_free(retry_);
}

bool PeerLink::Queue(std::string_view bytes, std::uint64_t ticket, Kind kind) {
  counters_.queued.Add();
  if (Enqueue(bytes, {ticket, NowMicros(), kind,
                      kind == Kind::kDelete ? std::string(bytes) : std::string()})) {
    return true;
  }
  counters_.dropped.Add();
  needs_resync_ = true;  // the replicator walks the store for what the peer holds
  if (ticket != 0) on_ack_(ticket, false);
  return false;
}

bool PeerLink::Forward(std::string_view request, AnswerFn answer) {
  counters_.forwarded.Add();
  std::string bytes(request);
  bytes.append("mn\r\n");
  return Enqueue(bytes, {0, NowMicros(), Kind::kForward, std::string(), std::move(answer)});
}

PeerLink::Take PeerLink::TakeForwardReply(net::InputBuffer& in) {
  const std::string_view bytes = in.view();
  std::size_t pos = 0;
  for (;;) {
    const std::size_t end = bytes.find("\r\n", pos);
    if (end == std::string_view::npos) return Take::kNeedMore;
    const std::string_view line = bytes.substr(pos, end - pos);
    if (line == "MN") {
      const std::string reply(bytes.substr(0, pos));
      AnswerFn answer = std::move(tickets_.front().answer);
      tickets_.pop_front();
      in.Consume(end + 2);
      answer(&reply);
      return Take::kTaken;
    }
    pos = end + 2;
    if (line.rfind("VA ", 0) == 0) {
      // A value follows its line: skip it whole, whatever bytes it holds.
      std::size_t n = 0;
      const std::string_view digits = line.substr(3, line.find(' ', 3) - 3);
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (ec != std::errc() || ptr != digits.data() + digits.size() || n > kMaxInput) {
        return Take::kBad;
      }
      if (bytes.size() < pos + n + 2) return Take::kNeedMore;
      pos += n + 2;
    }
  }
}

void PeerLink::QueueHints(std::string_view bytes, std::vector<std::string> keys,
                          HintMissFn on_miss) {
  counters_.hints.Add(keys.size());
  if (on_miss) {
    on_hint_miss_ = std::move(on_miss);
  } else {
    keys.clear();  // nobody to tell of a miss
  }
  // A full backlog drops them: only hints.
  Enqueue(bytes, {0, NowMicros(), Kind::kHint, std::string(), nullptr, std::move(keys)});
}

void PeerLink::TellHintMisses(std::string_view line, const std::vector<std::string>& keys) {
  if (line.substr(0, 2) != "EN" || keys.empty() || !on_hint_miss_) return;
  for (std::size_t pos = 2; pos < line.size();) {
    std::size_t i = 0;
    const char* first = line.data() + pos + 1;
    const auto [end, ec] = std::from_chars(first, line.data() + line.size(), i);
    if (line[pos] != ' ' || ec != std::errc() || i >= keys.size()) return;  // not ours
    counters_.hint_misses.Add();
    on_hint_miss_(keys[i]);
    pos = static_cast<std::size_t>(end - line.data());
  }
}

bool PeerLink::Enqueue(std::string_view bytes, Waiting waiting) {
  const std::size_t bound = waiting.kind == Kind::kDelete ? kMaxDeleteBacklog : kMaxBacklog;
  if (state_ == State::kReady) {
    if (transport_->output().pending_bytes() + bytes.size() > bound) return false;
    transport_->output().Append(bytes);
    tickets_.push_back(std::move(waiting));
    // Sent at the end of this round of the loop: every message the round queued leaves in one
    // send, not one each. (Arming a write event for it cost two epoll_ctl calls and a turn of
    // the loop a round.)
    loop_->RunAtRoundEnd(this);
  } else {
    if (backlog_.size() + bytes.size() > bound) return false;
    backlog_.append(bytes);
    backlog_tickets_.push_back(std::move(waiting));
    if (state_ == State::kIdle) Connect();
  }
  NotePending();
  return true;
}

std::size_t PeerLink::pending_bytes() const {
  return backlog_.size() +
         (transport_ != nullptr ? transport_->output().pending_bytes() : std::size_t{0});
}

void PeerLink::Connect() {
  // The member's address is numeric (cluster_node.cc): this resolves without asking DNS.
  base::Result<std::vector<net::Endpoint>> to =
      net::Resolve(peer_.address, static_cast<std::uint16_t>(peer_.port));
  if (!to.ok() || to.value().empty()) {
    return Fail("cannot resolve " + peer_.address);
  }
  base::Result<int> fd = net::StartConnect(to.value().front());
  if (!fd.ok()) return Fail(fd.status().message());
  transport_ = std::make_unique<net::StreamTransport>(fd.value(), pool_, kMaxInput,
                                                      net::StreamTransport::Start::kConnecting);
  state_ = State::kConnecting;
  armed_ = 0;
  Arm();
}

void PeerLink::Arm() {
  if (transport_ == nullptr || !transport_->open()) return;
  const net::StreamTransport::Interest want = transport_->Wants(false);
  // Replies are read while writes wait too: a peer answers what it has read.
  const short flags = static_cast<short>(
      (want & net::StreamTransport::kWritable ? EV_WRITE : 0) |
      (state_ == State::kConnecting ? 0 : EV_READ));
  if (flags == armed_) return;
  if (event_ != nullptr) {
    event_del(event_);
    event_assign(event_, loop_->base(), transport_->fd(), flags | EV_PERSIST, &PeerLink::OnEvent,
                 this);
  } else {
    event_ = event_new(loop_->base(), transport_->fd(), flags | EV_PERSIST, &PeerLink::OnEvent,
                       this);
  }
  event_add(event_, nullptr);
  armed_ = flags;
}

void PeerLink::OnEvent(evutil_socket_t, short what, void* arg) noexcept {
  static_cast<PeerLink*>(arg)->HandleEvent(what);
}

void PeerLink::OnRetry(evutil_socket_t, short, void* arg) noexcept {
  auto* link = static_cast<PeerLink*>(arg);
  link->state_ = State::kIdle;
  if (!link->backlog_.empty()) link->Connect();  // else on the next write
}

void PeerLink::HandleEvent(short what) {
  if (state_ == State::kConnecting) {
    if ((what & EV_WRITE) == 0) return;
    base::Status connected = transport_->FinishConnect();
    if (!connected.ok()) return Fail(connected.message());
    if (auth_ == nullptr) {
      BecomeReady();  // no secret: nothing to prove (only rc_lease goes on such a link)
    } else {
      mine_ = auth_->hello();
      transport_->output().Append(cluster::EncodeHello(mine_));
      state_ = State::kHello;
    }
  }
  if ((what & EV_READ) != 0 && !ReadReplies()) return;
  Flush();
  Arm();
  NotePending();
}

void PeerLink::AtRoundEnd() {
  Flush();
  Arm();
  NotePending();
}

void PeerLink::Flush() {
  if (transport_ == nullptr || transport_->connecting()) return;
  std::size_t sent = 0;
  if (!transport_->Send(&sent)) Fail("send failed");
}

bool PeerLink::ReadReplies() {
  std::size_t got = 0;
  if (!transport_->Receive(&got)) {
    Fail(got == 0 && errno == 0 ? "closed by the peer" : "receive failed");
    return false;
  }
  net::InputBuffer& in = transport_->input();
  while (!in.empty()) {
    if (state_ == State::kReady && !tickets_.empty() &&
        tickets_.front().kind == Kind::kForward) {
      const Take took = TakeForwardReply(in);
      if (took == Take::kTaken) continue;
      if (took == Take::kBad || in.view().size() >= kMaxInput) {
        Fail("a forwarded operation's reply malformed or too long");
        return false;
      }
      break;
    }
    const std::string_view bytes = in.view();
    const std::size_t end = bytes.find("\r\n");
    if (end == std::string_view::npos) {
      if (bytes.size() > kMaxReplyLine) {
        Fail("a reply line too long");
        return false;
      }
      break;
    }
    const bool ok = HandleLine(bytes.substr(0, end));
    if (!ok) return false;
    in.Consume(end + 2);
  }
  if (in.empty()) in.Release();
  return true;
}

void PeerLink::BecomeReady() {
  state_ = State::kReady;
  ready_.store(true, std::memory_order_relaxed);
  counters_.connects.Add();
  backoff_ms_ = 0;
  if (!last_error_.empty()) base::Log(0, "peer: linked to %s again", peer_.name.c_str());
  transport_->output().Append(backlog_);
  tickets_.insert(tickets_.end(), std::make_move_iterator(backlog_tickets_.begin()),
                  std::make_move_iterator(backlog_tickets_.end()));
  backlog_.clear();
  backlog_.shrink_to_fit();
  backlog_tickets_.clear();
}

bool PeerLink::HandleLine(std::string_view line) {
  switch (state_) {
    case State::kHello: {
      if (line.rfind("RC_HELLO ", 0) != 0) {
        Fail(std::string(line.substr(0, 200)));
        return false;
      }
      std::string proof;
      base::Result<cluster::PeerHello> theirs =
          cluster::ParseHelloFields(line.substr(9), &proof);
      if (!theirs.ok()) {
        Fail(theirs.status().message());
        return false;
      }
      // The acceptor proves it holds the secret before anything it says is believed.
      if (proof.empty() || !cluster::CheckPeerProof(auth_->secrets, cluster::PeerRole::kAcceptor,
                                                    mine_, theirs.value(), proof)) {
        Fail("wrong proof (not this cluster's secret)");
        return false;
      }
      if (std::string mismatch = cluster::ConfigMismatch(mine_, theirs.value());
          !mismatch.empty()) {
        Fail(mismatch);
        return false;
      }
      if (!auth_->versions->Admit(theirs.value().clock)) {
        Fail("its clock is more than --max-clock-skew-ms ahead");
        return false;
      }
      transport_->output().Append(
          "rc_auth proof=" +
          cluster::PeerProof(auth_->secrets.front(), cluster::PeerRole::kOpener, mine_,
                             theirs.value()) +
          "\r\n");
      state_ = State::kAuth;
      return true;
    }
    case State::kAuth:
      if (line != "RC_OK") {
        Fail(std::string(line.substr(0, 200)));
        return false;
      }
      BecomeReady();
      return true;
    case State::kReady: {
      if (tickets_.empty()) {
        Fail("a reply nobody asked for");
        return false;
      }
      const std::uint64_t ticket = tickets_.front().ticket;
      const std::int64_t lag_us = NowMicros() - tickets_.front().queued_us;
      const Kind kind = tickets_.front().kind;
      if (kind == Kind::kHint) {
        // HD: they count as read there. EN: the peer has no copy of some; the owner may send
        // them again.
        const std::vector<std::string> keys = std::move(tickets_.front().keys);
        tickets_.pop_front();
        TellHintMisses(line, keys);
        return true;
      }
      tickets_.pop_front();
      counters_.lag[std::min<std::size_t>(
                        static_cast<std::size_t>(std::bit_width(static_cast<std::uint64_t>(
                            std::max<std::int64_t>(lag_us, 0)))),
                        Counters::kLagBuckets - 1)]
          .Add();
      bool acknowledged = true;
      if (line == "HD") {
        counters_.applied.Add();
      } else if (line == "EX" || line == "NF") {
        counters_.not_newer.Add();
      } else {
        acknowledged = false;
        counters_.failed.Add();
        base::Log(1, "peer: %s answered a write with %.*s", peer_.name.c_str(),
                  static_cast<int>(std::min<std::size_t>(line.size(), 200)), line.data());
      }
      if (ticket != 0) on_ack_(ticket, acknowledged);
      return true;
    }
    default:
      Fail("a reply before the handshake");
      return false;
  }
}

void PeerLink::Fail(const std::string& why) {
  // Once per run of failures at the default verbosity: a peer that is down is retried quietly.
  base::Log(last_error_.empty() || backoff_ms_ == 0 ? 0 : 1, "peer: link to %s failed: %s",
            peer_.name.c_str(), why.c_str());
  last_error_ = why;
  // What was in flight may or may not have been applied: lost, as far as its writers know. Its
  // deletes go back to the head of the backlog, to be sent again once linked.
  std::deque<Waiting> lost;
  lost.swap(tickets_);
  std::string again;
  std::deque<Waiting> again_tickets;
  for (const Waiting& w : lost) {
    if (w.kind == Kind::kHint) continue;  // only a hint
    counters_.failed.Add();
    if (w.kind == Kind::kDelete) {
      again.append(w.retry);
      again_tickets.push_back({0, NowMicros(), Kind::kDelete, w.retry});
      counters_.retried.Add();
    } else if (w.kind == Kind::kWrite) {
      needs_resync_ = true;  // the peer may now miss a key it holds
    }  // kForward: its sender is told below
  }
  if (!again.empty()) {
    backlog_.insert(0, again);
    for (auto it = again_tickets.rbegin(); it != again_tickets.rend(); ++it) {
      backlog_tickets_.push_front(std::move(*it));
    }
  }
  if (event_ != nullptr) {
    event_free(event_);
    event_ = nullptr;
  }
  armed_ = 0;
  transport_.reset();
  NotePending();
  state_ = State::kBackoff;
  ready_.store(false, std::memory_order_relaxed);
  backoff_ms_ = std::clamp(backoff_ms_ * 2, kFirstBackoffMs, kMaxBackoffMs);
  timeval tv{backoff_ms_ / 1000, (backoff_ms_ % 1000) * 1000};
  evtimer_add(retry_, &tv);
  for (Waiting& w : lost) {
    if (w.ticket != 0) on_ack_(w.ticket, false);
    if (w.answer) TellLost(std::move(w.answer));
  }
}

void PeerLink::TellLost(AnswerFn answer) {
  // Later, from the loop: a forward's session may be in the middle of a request right now.
  loop_->RunInLoop([answer = std::move(answer)] { answer(nullptr); });
}

}  // namespace rc::server
