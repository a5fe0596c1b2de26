// server/parked.cc -- a session's requests whose replies wait: reads that wait for the origin
// (read-through, issue #6; the loader is server/origin_loader.h), writes the worker's WriteGate
// holds (server/write_gate.h: synchronous replication), and operations sent to the key's owner
// (forwarded.cc).
//
// One mechanism for both: while a request is parked, Process() stops (and the transport stops
// reading the socket: Session::waiting()), so whatever arrived behind it is answered after it,
// in order; when its wait ends its reply is queued and the host's Resume() runs what waited.
//
// A held write: after each request ran (RequestDone), the session asks the gate; if the gate
// holds, the reply the request queued (everything after Rare::request_mark) is taken out of the
// queue into the Parked, and queued again when the gate releases it.
//
// When a read misses keys the loader wants, the session starts a Parked: one part per key
// of the read from the first miss on -- a hit, or a key being filled -- and asks the loader for
// each missing key (all of them at once: `get a b c` with three misses makes three fetches in
// parallel). The read's reply is built only when every part is in, then queued in request order,
// and the session goes back to the requests that arrived behind it (Process() stops while parked_
// is set, and its transport stops reading the socket: Session::waiting()). Other connections on
// the worker never wait: the fills come back as posted callbacks on this worker's loop, and the
// last one resumes the session through its host (SessionHost::Resume).
//
// A fill's answer may outlive its session (closed meanwhile) or its read (dropped by a
// CLIENT_ERROR later in the same get line): the callback checks alive() and the fill's id.
#include <atomic>

#include "ringcached/engine/hooks.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/text_reply.h"
#include "server/session.h"
#include "server/item_pin.h"

namespace rc::server {
namespace {

// A held write the gate gave up on: the outcome is unknown (REPLICATION.md section 4).
constexpr std::string_view kReplicationFailed =
    "SERVER_ERROR replication to the key's holders did not complete\r\n";

}  // namespace

thread_local std::vector<std::unique_ptr<Session::Parked>> Session::spare_parked_;

std::uint64_t Session::NextParkId() {
  static std::atomic<std::uint64_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed) + 1;
}

bool Session::WantsFill(std::string_view key) const {
  // A datagram is answered at once, whole: UDP reads stay plain misses.
  if (datagrams_) return false;
  const engine::MissLoader* loader = context_->engine->miss_loader();
  return loader != nullptr && loader->Wants(key);
}

void Session::WaitForFill(Parked::Kind kind, std::string_view key) {
  if (parked_ == nullptr) {
    parked_ = std::make_unique<Parked>();
    parked_->kind = kind;
    parked_->id = NextParkId();
  }
  const std::size_t part = parked_->parts.size();
  parked_->parts.push_back({store::ItemRef(), std::string(key), true});
  ++parked_->waiting;
  std::shared_ptr<bool> alive = this->alive();
  Session* self = this;
  const std::uint64_t id = parked_->id;
  context_->engine->miss_loader()->Load(key, [alive, self, id, part](store::ItemRef item) {
    if (*alive) self->OnFilled(id, part, std::move(item));
  });
}

void Session::AddFilledPart(store::ItemRef item) {
  parked_->parts.push_back({std::move(item), std::string(), false});
}

void Session::OnFilled(std::uint64_t id, std::size_t part, store::ItemRef item) {
  if (parked_ == nullptr || parked_->id != id) return;  // the read was dropped
  parked_->parts[part].item = std::move(item);
  parked_->parts[part].waiting = false;
  if (--parked_->waiting > 0) return;
  std::unique_ptr<Parked> fill = std::move(parked_);
  ReplyParked(*fill);
  ResumeAfterParked();  // may close the connection: `this` may be gone
}

void Session::HoldForGate() {
  WriteGate* gate = context_->write_gate;
  // A datagram is answered at once (UDP has no order to keep); a parked read writes nothing.
  if (datagrams_ || parked_ != nullptr || state_ == State::kClosing) {
    gate->Forget();
    return;
  }
  if (!gate->Holding()) return;  // nothing to wait for: no callback made
  const std::uint64_t id = NextParkId();
  if (!gate->Hold({alive(), &Session::NotifyReleased, this, id})) return;
  if (spare_parked_.empty()) {
    parked_ = std::make_unique<Parked>();
  } else {
    parked_ = std::move(spare_parked_.back());
    spare_parked_.pop_back();
  }
  parked_->kind = Parked::Kind::kHeld;
  parked_->id = id;
  out_->MoveSince(rare().request_mark, &parked_->held);
  // How a failure can be told: a binary request gets an error response with its opcode and
  // opaque (quiet ones too); a text or meta request gets an error line unless it asked for no
  // reply at all (text noreply: the protocol has no way to say it failed, REPLICATION.md 4).
  if (framing_ == Framing::kBinary) {
    parked_->error_way = Parked::ErrorWay::kBinary;  // quiet or not: errors are always sent
    parked_->header = last_binary_;
  } else {
    parked_->error_way = parked_->held.empty() && last_noreply_ ? Parked::ErrorWay::kNone
                                                                 : Parked::ErrorWay::kLine;
  }
}

void Session::OnReleased(std::uint64_t id, bool acknowledged) {
  if (parked_ == nullptr || parked_->id != id) return;
  std::unique_ptr<Parked> held = std::move(parked_);
  if (!acknowledged) {
    switch (held->error_way) {
      case Parked::ErrorWay::kNone:
        held->held.clear();
        break;
      case Parked::ErrorWay::kLine:
        held->held = kReplicationFailed;
        break;
      case Parked::ErrorWay::kBinary: {
        // The request's opcode and opaque, with an error in place of its reply.
        const proto::binary::Header& h = held->header;
        const std::string_view text = proto::binary::StatusText(proto::binary::kInternalError);
        char header[24];
        proto::binary::EncodeResponseHeader(header, h.opcode, 0, 0, proto::binary::kInternalError,
                                            static_cast<std::uint32_t>(text.size()), h.opaque, 0);
        held->held.assign(header, sizeof header);
        held->held.append(text);
        break;
      }
    }
  }
  ReplyParked(*held);
  if (spare_parked_.size() < kMaxSpareParked) {
    *held = Parked();
    spare_parked_.push_back(std::move(held));
  }
  ResumeAfterParked();  // may close the connection: `this` may be gone
}

void Session::ResumeAfterParked() {
  // Run what waited behind the parked request, as after a -R yield: from the input buffer,
  // without reading the socket first (it was not being watched).
  yielded_ = true;
  host_->Resume();
}

void Session::ReplyParked(Parked& fill) {
  switch (fill.kind) {
    case Parked::Kind::kText:
      for (Parked::Part& p : fill.parts) {
        if (p.item) AppendValueReply(std::move(p.item), fill.with_cas);
      }
      out_->Append(proto::kEnd);
      return;
    case Parked::Kind::kMeta: {
      // meta_req_ is still this mg: nothing was parsed after it.
      store::ItemRef& item = fill.parts.front().item;
      if (!item) {
        ReplyMeta(fill.miss_info);
        return;
      }
      const proto::MetaReplyInfo info = context_->engine->MetaFilledInfo(*meta_req_, item);
      ReplyMeta(info);  // before the item moves: info.key points into it
      if (meta_req_->Has('v') && !proto::MetaReplySuppressed(*meta_req_, info)) {
        QueueValue(out_, std::move(item));
      }
      return;
    }
    case Parked::Kind::kBinary: {
      Parked::Part& p = fill.parts.front();
      ReplyBinaryGet(fill.header, p.key, std::move(p.item));
      return;
    }
    case Parked::Kind::kHeld:
      if (!fill.held.empty()) out_->Append(fill.held);
      return;
    case Parked::Kind::kForwarded:
      ReplyForwarded(fill);
      return;
  }
}

}  // namespace rc::server
