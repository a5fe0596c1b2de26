// server/session.cc -- see session.h. The request loop and the data-block states; the commands
// are in text_commands.cc, meta_commands.cc, binary_commands.cc and parked.cc.
#include "server/session.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "ringcached/proto/key_hint.h"

namespace rc::server {
namespace {

const char* StateName(bool reading_value, bool closing) {
  if (closing) return "conn_closing";
  return reading_value ? "conn_nread" : "conn_parse_cmd";
}

}  // namespace

Session::Session(SessionContext* context, SessionHost* host, net::InputBuffer* in,
                 net::OutQueue* out, ConnRecord* record, bool datagrams)
    : context_(context),
      host_(host),
      in_(in),
      out_(out),
      record_(record),
      last_cmd_(context_->clock->Now()),
      datagrams_(datagrams) {
  record_->last_cmd.store(last_cmd_, std::memory_order_relaxed);
}

Session::~Session() { Closed(); }

void Session::Closed() {
  if (state_ == State::kClosing) return;
  if (rare_ != nullptr && rare_->alive != nullptr) *rare_->alive = false;
  if (watcher_id_ >= 0) context_->watchers->Remove(watcher_id_);
  watcher_id_ = -1;
  state_ = State::kClosing;
  pending_.item.Reset();
  parked_.reset();
}

std::shared_ptr<bool> Session::alive() {
  std::shared_ptr<bool>& alive = rare().alive;
  if (alive == nullptr) alive = std::make_shared<bool>(state_ != State::kClosing);
  return alive;
}

void Session::NoteCommand() {
  last_cmd_ = context_->clock->Now();
  record_->last_cmd.store(last_cmd_, std::memory_order_relaxed);
}

void Session::SetState(State state) {
  if (state == State::kReadValue) host_->OnDataBlock(pending_.total);
  state_ = state;
  record_->state.store(StateName(state == State::kReadValue || state == State::kSwallow,
                                 state == State::kClosing),
                       std::memory_order_relaxed);
}

std::size_t Session::DirectValueRoom() const {
  if (state_ != State::kReadValue || !in_->empty()) return 0;
  std::size_t value_len = pending_.item.value().size();
  return pending_.filled < value_len ? value_len - pending_.filled : 0;
}

std::size_t Session::DataBlockLeft() const {
  if (state_ != State::kReadValue || !in_->empty()) return 0;
  return pending_.total - pending_.filled;
}

void Session::FillDataBlock(const char* src, std::size_t n) {
  // The value goes into the item; the "\r\n" of a text or meta data block, which the item does
  // not keep, into pending_.tail for FinishStorage to check.
  const std::size_t value_len = pending_.item.value().size();
  if (pending_.filled < value_len) {
    std::size_t k = std::min(n, value_len - pending_.filled);
    std::memcpy(pending_.item.writable_value() + pending_.filled, src, k);
    pending_.filled += k;
    src += k;
    n -= k;
  }
  for (; n > 0; --n) pending_.tail[pending_.filled++ - value_len] = *src++;
}

std::string_view Session::FirstKey() const {
  if (state_ != State::kParse || in_->empty()) return {};
  std::string_view in = in_->view();
  bool binary = framing_ == Framing::kBinary ||
                (framing_ == Framing::kUndecided &&
                 static_cast<unsigned char>(in[0]) == proto::binary::kRequestMagic);
  return proto::FirstKeyHint(in, binary);
}

void Session::StartDatagram() {
  framing_ = Framing::kUndecided;
  close_after_write_ = false;
  SetState(State::kParse);
}

void Session::EndDatagram() {
  // A datagram that ended mid-request leaves nothing behind for the next one.
  pending_ = PendingStore{};
  swallow_left_ = 0;
  SetState(State::kParse);
}

bool Session::Process() {
  // A datagram is answered whole: -R applies to streams only.
  int budget = datagrams_ ? INT_MAX : context_->settings->reqs_per_event;
  while (true) {
    // Nothing after a quit runs, even when its transport comes back because the replies before
    // it were blocked.
    if (close_after_write_) return true;
    // A parked request waits (for the origin, or for the write gate): what follows it waits too
    // (parked.cc resumes).
    if (parked_ != nullptr) return true;
    std::size_t avail = in_->size();
    if (state_ == State::kReadValue) {
      std::size_t n = std::min(avail, pending_.total - pending_.filled);
      if (n > 0) {
        FillDataBlock(in_->data(), n);
        in_->Consume(n);
      }
      if (pending_.filled < pending_.total) return true;
      MarkRequest();
      FinishStorage();
      SetState(State::kParse);
      RequestDone();
      continue;
    }
    if (state_ == State::kSwallow) {
      std::size_t n = std::min(avail, swallow_left_);
      in_->Consume(n);
      swallow_left_ -= n;
      if (swallow_left_ > 0) return true;
      SetState(State::kParse);
      continue;
    }
    if (state_ == State::kWatching) {
      // A watcher only listens (memcached's conn_watch): whatever it sends is dropped.
      in_->Consume(in_->size());
      return true;
    }
    // While draining (graceful stop) requests already received are still answered; the
    // connection closes as soon as it is idle (HandleEvent).
    if (avail == 0) return true;
    if (framing_ == Framing::kUndecided) {
      // memcached's -B auto: a first byte of 0x80 (the binary request magic) means binary.
      Protocol p = context_->settings->protocol;
      bool binary = p == Protocol::kBinary ||
                    (p == Protocol::kAuto &&
                     static_cast<unsigned char>(in_->data()[0]) == proto::binary::kRequestMagic);
      framing_ = binary ? Framing::kBinary : Framing::kText;
    }
    if (budget-- <= 0) {
      // -R: let other connections on this worker run; come back to the rest of the input.
      // HandleEvent comes back to the rest once the replies are out.
      context_->conn_stats->conn_yields.Add();
      yielded_ = true;
      return true;
    }
    if (framing_ == Framing::kBinary) {
      MarkRequest();
      BinaryStep step = ProcessBinary();
      if (step == BinaryStep::kNeedMore) return true;
      if (step == BinaryStep::kClose) return false;
      if (state_ != State::kReadValue) RequestDone();
      if (close_after_write_) return true;
      continue;
    }
    std::string_view in(in_->data(), avail);
    if (proto::IsMetaCommand(in)) {
      if (meta_req_ == nullptr) meta_req_ = std::make_unique<proto::MetaRequest>();
      proto::MetaParseResult meta = meta_parser_.Parse(in, meta_req_.get());
      switch (meta.status) {
        case proto::ParseStatus::kNeedMore:
          return true;
        case proto::ParseStatus::kClose:
          return false;
        case proto::ParseStatus::kError:
          // Meta errors are sent even under q.
          out_->Append(meta.error);
          out_->Append("\r\n");
          in_->Consume(meta.consumed);
          if (meta.swallow > 0) {
            swallow_left_ = meta.swallow;
            SetState(State::kSwallow);
          }
          continue;
        case proto::ParseStatus::kOk:
          break;
      }
      NoteCommand();
      in_->Consume(meta.consumed);  // meta_req_ owns its key and opaque bytes
      last_noreply_ = false;        // meta q still sends errors
      MarkRequest();
      ExecuteMeta();
      if (state_ != State::kReadValue) RequestDone();
      continue;
    }
    proto::Request req;
    proto::ParseResult parsed = parser_.Parse(in, &req);
    switch (parsed.status) {
      case proto::ParseStatus::kNeedMore:
        return true;
      case proto::ParseStatus::kClose:
        return false;
      case proto::ParseStatus::kError:
        // memcached counts a flush_all before it validates the delay (proto_text.c).
        if (req.command == proto::Command::kFlushAll && req.ntokens > 0) {
          context_->command_stats->cmd_flush.Add();
        }
        if (!req.noreply) {
          out_->Append(parsed.error);
          out_->Append("\r\n");
        }
        in_->Consume(parsed.consumed);
        continue;
      case proto::ParseStatus::kOk:
        break;
    }
    NoteCommand();
    // req's views point into the input buffer: execute before consuming.
    more_input_ = parsed.consumed < avail;
    last_noreply_ = req.noreply;
    MarkRequest();
    bool keep_open = ExecuteText(req);
    in_->Consume(parsed.consumed);
    if (!keep_open) return false;
    if (state_ != State::kReadValue) RequestDone();
    if (close_after_write_) return true;
  }
}

}  // namespace rc::server
