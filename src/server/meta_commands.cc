// server/meta_commands.cc -- memcached 1.6's meta commands (mg, ms, md, ma, mn, me), executed for
// a Connection.
//
// Parsing (proto/meta.h), semantics and counters (engine/meta.cc) and reply formatting live below
// the server; this file only moves bytes between them. `q` is MetaReplySuppressed()'s decision;
// errors are always sent. An ms reads its data block straight into the item, exactly as `set`.
#include <string>

#include "ringcached/proto/text_reply.h"
#include "server/session.h"
#include "server/item_pin.h"
#include "server/stats.h"
#include "server/watchers.h"

namespace rc::server {
namespace {

using proto::MetaCommand;

// The text-protocol command an ms stands for, for mutation watchers.
proto::Command LoggedCommand(const proto::MetaRequest& req) {
  switch (req.set_mode()) {
    case proto::MetaSetMode::kAdd: return proto::Command::kAdd;
    case proto::MetaSetMode::kAppend: return proto::Command::kAppend;
    case proto::MetaSetMode::kPrepend: return proto::Command::kPrepend;
    case proto::MetaSetMode::kReplace:
      return req.Has('C') ? proto::Command::kCas : proto::Command::kReplace;
    case proto::MetaSetMode::kSet:
      return req.Has('C') ? proto::Command::kCas : proto::Command::kSet;
  }
  return proto::Command::kSet;
}

}  // namespace

void Session::ReplyMeta(const proto::MetaReplyInfo& info) {
  if (proto::MetaReplySuppressed(*meta_req_, info)) return;
  char* p = out_->Reserve(proto::kMaxMetaReply);
  out_->Commit(proto::FormatMetaReply(p, *meta_req_, info));
}

void Session::ExecuteMeta() {
  engine::Engine& engine = *context_->engine;
  engine::CommandStats* stats = context_->command_stats;
  if (meta_req_->Has('Y')) {
    // A peer write: only on a peer session, only from its sender's current incarnation, and
    // not while this node is fenced (cluster/lease.h: its store is to be emptied).
    std::string_view refused;
    const cluster::LeaseKeeper* lease = context_->lease;
    if (!(peer() && engine::Engine::IsPeerWrite(*meta_req_))) {
      refused = proto::kMetaPeerOnly;
    } else if (!CurrentPeer()) {
      refused = "";  // RC_REFUSED is on its way, and the link closes
    } else if (lease != nullptr && lease->fenced() && !engine::Engine::IsAccessHint(*meta_req_)) {
      refused = proto::kMetaFenced;
    }
    if (refused.data() != nullptr) {
      out_->Append(refused);
      if (meta_req_->command == MetaCommand::kSet) {
        swallow_left_ = static_cast<std::size_t>(meta_req_->value_len) + 2;
        SetState(State::kSwallow);
      }
      return;
    }
  }
  if (!engine.AdmitMetaCas(*meta_req_)) {
    out_->Append(proto::kMetaCasRefused);  // sent even under q, as every error
    if (meta_req_->command == MetaCommand::kSet) {
      swallow_left_ = static_cast<std::size_t>(meta_req_->value_len) + 2;
      SetState(State::kSwallow);
    }
    return;
  }
  switch (meta_req_->command) {
    case MetaCommand::kNoop:
      out_->Append(proto::kMetaNoop);
      return;
    case MetaCommand::kGet: {
      engine::MetaGetResult g = engine.MetaGet(*meta_req_, stats);
      if (g.item && context_->read_sampler != nullptr) {
        context_->read_sampler->OnRead(meta_req_->key(), g.item.value().size());
      }
      // A peer's mg (an access hint, a TTL change: Y) is answered from this node's store only.
      if (!g.item && !meta_req_->Has('Y') && WantsFill(meta_req_->key())) {
        // Read-through; the miss line (EN) is kept in case the origin has nothing either.
        WaitForFill(Parked::Kind::kMeta, meta_req_->key());
        parked_->miss_info = g.info;
        return;
      }
      // Format before the item moves: info.key may point into it.
      ReplyMeta(g.info);
      if (g.item && meta_req_->Has('v') && !proto::MetaReplySuppressed(*meta_req_, g.info)) {
        QueueValue(out_, std::move(g.item));
      }
      return;
    }
    case MetaCommand::kSet:
      BeginMetaSet();
      return;
    case MetaCommand::kDelete:
      ReplyMeta(engine.MetaDelete(*meta_req_, stats));
      return;
    case MetaCommand::kArithmetic: {
      if (ForwardMeta({})) return;
      engine::MetaArithmeticResult a = engine.MetaArithmetic(*meta_req_, stats);
      if (!a.error.empty()) {
        out_->Append(a.error);
        return;
      }
      ReplyMeta(a.info);
      return;
    }
    case MetaCommand::kDebug: {
      proto::MetaDebugInfo d;
      if (engine.MetaDebug(*meta_req_, &d, stats)) {
        char* p = out_->Reserve(proto::kMaxMetaDebugReply);
        out_->Commit(proto::FormatMetaDebug(p, d));
      } else {
        out_->Append(proto::kMetaMiss);
      }
      return;
    }
  }
}

void Session::BeginMetaSet() {
  store::Allocation alloc = context_->engine->BeginMetaSet(*meta_req_, context_->command_stats);
  if (!alloc.item) {
    // Sent even under q; the engine has already dropped the key's old value. (kExists: a peer's
    // copy that is not newer.)
    out_->Append(alloc.outcome == store::Outcome::kExists     ? std::string_view("EX\r\n")
                 : alloc.outcome == store::Outcome::kTooLarge ? proto::kTooLarge
                                                              : proto::kNoMemory);
    swallow_left_ = static_cast<std::size_t>(meta_req_->value_len) + 2;
    SetState(State::kSwallow);
    return;
  }
  pending_.meta = true;
  pending_.item = std::move(alloc.item);
  pending_.filled = 0;
  pending_.total = static_cast<std::size_t>(meta_req_->value_len) + 2;
  SetState(State::kReadValue);
}

void Session::FinishMetaSet() {
  pending_.meta = false;
  const char* end = pending_.tail;
  if (end[0] != '\r' || end[1] != '\n') {
    out_->Append(proto::kBadDataChunk);  // sent even under q
    context_->engine->AbandonStore(pending_.item, context_->command_stats);
    pending_.item.Reset();
    return;
  }
  if (ForwardMeta(pending_.item.value())) {
    pending_.item.Reset();
    return;
  }
  proto::MetaReplyInfo info =
      context_->engine->CompleteMetaSet(*meta_req_, &pending_.item, context_->command_stats);
  store::Outcome outcome = info.status == proto::MetaStatus::kHD   ? store::Outcome::kStored
                           : info.status == proto::MetaStatus::kEX ? store::Outcome::kExists
                           : info.status == proto::MetaStatus::kNF ? store::Outcome::kNotFound
                                                                   : store::Outcome::kNotStored;
  LogStore(pending_.item, outcome, LoggedCommand(*meta_req_));
  ReplyMeta(info);
  pending_.item.Reset();
}

}  // namespace rc::server
