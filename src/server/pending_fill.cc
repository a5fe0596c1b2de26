// server/pending_fill.cc -- a session's reads that wait for the origin (read-through, issue
// #6; the loader is server/origin_loader.h).
//
// When a read misses keys the loader wants, the session starts a PendingFill: one part per key
// of the read from the first miss on -- a hit, or a key being filled -- and asks the loader for
// each missing key (all of them at once: `get a b c` with three misses makes three fetches in
// parallel). The read's reply is built only when every part is in, then queued in request order,
// and the session goes back to the requests that arrived behind it (Process() stops while fill_
// is set, and its transport stops reading the socket: Session::waiting()). Other connections on
// the worker never wait: the fills come back as posted callbacks on this worker's loop, and the
// last one resumes the session through its host (SessionHost::Resume).
//
// A fill's answer may outlive its session (closed meanwhile) or its read (dropped by a
// CLIENT_ERROR later in the same get line): the callback checks alive_ and the fill's id.
#include "ringcached/engine/hooks.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/text_reply.h"
#include "server/session.h"
#include "server/item_pin.h"

namespace rc::server {

bool Session::WantsFill(std::string_view key) const {
  // A datagram is answered at once, whole: UDP reads stay plain misses.
  if (datagrams_) return false;
  const engine::MissLoader* loader = context_->engine->miss_loader();
  return loader != nullptr && loader->Wants(key);
}

void Session::WaitForFill(PendingFill::Kind kind, std::string_view key) {
  if (fill_ == nullptr) {
    fill_ = std::make_unique<PendingFill>();
    fill_->kind = kind;
    fill_->id = ++fill_seq_;
  }
  const std::size_t part = fill_->parts.size();
  fill_->parts.push_back({store::ItemRef(), std::string(key), true});
  ++fill_->waiting;
  std::shared_ptr<bool> alive = this->alive();
  Session* self = this;
  const std::uint64_t id = fill_->id;
  context_->engine->miss_loader()->Load(key, [alive, self, id, part](store::ItemRef item) {
    if (*alive) self->OnFilled(id, part, std::move(item));
  });
}

void Session::AddFilledPart(store::ItemRef item) {
  fill_->parts.push_back({std::move(item), std::string(), false});
}

void Session::OnFilled(std::uint64_t id, std::size_t part, store::ItemRef item) {
  if (fill_ == nullptr || fill_->id != id) return;  // the read was dropped
  fill_->parts[part].item = std::move(item);
  fill_->parts[part].waiting = false;
  if (--fill_->waiting > 0) return;
  std::unique_ptr<PendingFill> fill = std::move(fill_);
  ReplyFill(*fill);
  // Run what waited behind the read, as after a -R yield: from the input buffer, without
  // reading the socket first (it was not being watched).
  yielded_ = true;
  host_->Resume();  // may close the connection: `this` may be gone
}

void Session::ReplyFill(PendingFill& fill) {
  switch (fill.kind) {
    case PendingFill::Kind::kText:
      for (PendingFill::Part& p : fill.parts) {
        if (p.item) AppendValueReply(std::move(p.item), fill.with_cas);
      }
      out_->Append(proto::kEnd);
      return;
    case PendingFill::Kind::kMeta: {
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
    case PendingFill::Kind::kBinary: {
      PendingFill::Part& p = fill.parts.front();
      ReplyBinaryGet(fill.header, p.key, std::move(p.item));
      return;
    }
  }
}

}  // namespace rc::server
