// server/forwarded.cc -- a client's operation on a key this node does not hold, answered by the
// key's owner (server/forwarder.h; ../shared/REPLICATION.md section 4).
//
// add, replace, append, prepend, cas, incr and decr -- text, meta (ms in a mode other than set, or
// with C; every ma) and binary -- need the owner's state: a node that is not among the key's
// holders (a client with an old server list sent it here) sends the operation to the owner as
// meta commands and parks the request (parked.cc) until the owner answers:
//
//   text add/replace/append/prepend/cas   ms <key> <len> ME|MR|MA|MP|C<cas> [F<flags> T<ttl>]
//   binary storage                        the same, with c (the owner's CAS goes back)
//   text incr/decr                        ma <key> MI|MD D<delta> v
//   binary incr/decr                      ma <key> MI|MD D<delta> J<initial> [N<exptime>]
//                                            [C<cas>] v c
//   meta ms and ma                        the client's own command, flags in its order
//
// The owner runs them as a client's commands (and replicates what they change to the other
// holders; it counts them in its `stats`, this node does not). Its reply is told in the client's
// protocol: a meta client gets it as it came (q, O and k included); text and binary replies are
// made from it by the same code that replies to a local operation. When the owner's link fails
// with the operation in flight, or cannot take it, the outcome is unknown: SERVER_ERROR (binary:
// status 0x84), except to a text noreply request, which cannot be told. A request from a peer
// always runs here: a node never forwards what another node forwarded to it.
#include <charconv>

#include "ringcached/proto/binary.h"
#include "ringcached/proto/client_codec.h"
#include "ringcached/proto/text_reply.h"
#include "server/session.h"

namespace rc::server {
namespace {

namespace bin = proto::binary;
using proto::Command;

constexpr std::string_view kForwardFailed =
    "SERVER_ERROR the key's owner did not answer\r\n";

// What the owner's meta reply says, as a store outcome, with the CAS (c) and value (VA) it
// carried; `known` false for a reply that maps to none (an error line, passed on as it is).
struct OwnerAnswer {
  bool known = false;
  store::Outcome outcome = store::Outcome::kNotStored;
  std::uint64_t cas = 0;
  std::string_view value;
  std::string_view line;  // the first line, with its "\r\n"
};

OwnerAnswer ReadAnswer(const std::string& reply) {
  OwnerAnswer a;
  const std::size_t end = reply.find("\r\n");
  a.line = end == std::string::npos ? std::string_view(kForwardFailed)
                                    : std::string_view(reply).substr(0, end + 2);
  proto::client::MetaReply r;
  if (proto::client::ParseMetaReply(reply, &r) != proto::client::ReplyStatus::kOk) return a;
  using store::Outcome;
  a.known = true;
  if (r.code == "HD" || r.code == "VA") {
    a.outcome = Outcome::kStored;
  } else if (r.code == "NS") {
    a.outcome = Outcome::kNotStored;
  } else if (r.code == "EX") {
    a.outcome = Outcome::kExists;
  } else if (r.code == "NF") {
    a.outcome = Outcome::kNotFound;
  } else if (a.line == proto::kNonNumeric) {
    a.outcome = Outcome::kNonNumeric;
  } else if (a.line == proto::kTooLarge) {
    a.outcome = Outcome::kTooLarge;
  } else if (a.line == proto::kNoMemory || a.line == proto::kIncrNoMemory) {
    a.outcome = Outcome::kNoMemory;
  } else {
    a.known = false;
  }
  a.value = r.value;
  if (std::optional<std::string_view> c = r.Flag('c')) {
    std::from_chars(c->data(), c->data() + c->size(), a.cas);
  }
  return a;
}

// A key as a meta line carries it: as it is, or base64 with `b` (a binary client's key may hold
// any byte).
std::string MetaKey(std::string_view key, std::string* flags) {
  if (!proto::IsPlainKey(key)) {
    char encoded[(proto::kMaxKeyLength + 2) / 3 * 4 + 4];
    flags->append(" b");
    return std::string(encoded, proto::Base64Encode(key.data(), key.size(), encoded));
  }
  return std::string(key);
}

// The ms for a text or binary storage command whose data block is in `item`.
std::string StoreRequest(Command command, std::uint64_t cas, const store::ItemRef& item,
                         base::RelTime now, bool want_cas) {
  std::string flags;
  switch (command) {
    case Command::kAdd: flags = "ME"; break;
    case Command::kReplace: flags = "MR"; break;
    case Command::kAppend: flags = "MA"; break;
    case Command::kPrepend: flags = "MP"; break;
    default: flags = "C" + std::to_string(cas); break;  // cas
  }
  // append and prepend keep the present item's flags and expiry.
  if (command != Command::kAppend && command != Command::kPrepend) {
    flags += " F" + std::to_string(item.flags());
    const base::RelTime exptime = item.exptime();
    if (exptime != 0) {
      flags += " T" + std::to_string(exptime > now ? static_cast<long long>(exptime - now) : -1);
    }
  }
  if (want_cas) flags += " c";
  const std::string key = MetaKey(item.key(), &flags);
  std::string out;
  proto::client::AppendMeta(&out, "ms", key, flags, item.value());
  return out;
}

// The ma for a text or binary incr/decr.
std::string ArithmeticRequest(std::string_view key, bool incr, std::uint64_t delta,
                              std::string extra) {
  std::string flags = std::string(incr ? "MI" : "MD") + " D" + std::to_string(delta) + extra;
  const std::string meta_key = MetaKey(key, &flags);
  std::string out;
  proto::client::AppendMeta(&out, "ma", meta_key, flags);
  return out;
}

}  // namespace

bool Session::ForwardToOwner(std::string_view key, Parked::Told told, Command command,
                             bool noreply, const std::function<std::string()>& request) {
  if (!MayForward()) return false;
  Forwarder* forwarder = context_->forwarder;
  std::shared_ptr<bool> alive = this->alive();
  Session* self = this;
  const std::uint64_t id = NextParkId();
  const Forwarder::Route route =
      forwarder->Forward(key, request, [alive, self, id](const std::string* reply) {
        if (*alive) self->OnForwardAnswer(id, reply);
      });
  if (route == Forwarder::Route::kHere) return false;
  auto parked = std::make_unique<Parked>();
  parked->kind = Parked::Kind::kForwarded;
  parked->id = id;
  parked->told = told;
  parked->command = command;
  parked->noreply = noreply;
  parked->header = last_binary_;
  if (route == Forwarder::Route::kFailed) {
    parked->lost = true;
    ReplyForwarded(*parked);
    return true;
  }
  parked_ = std::move(parked);
  return true;
}

void Session::OnForwardAnswer(std::uint64_t id, const std::string* reply) {
  if (parked_ == nullptr || parked_->id != id) return;
  std::unique_ptr<Parked> parked = std::move(parked_);
  if (reply == nullptr) {
    parked->lost = true;
  } else {
    parked->held = *reply;
  }
  ReplyParked(*parked);
  ResumeAfterParked();  // may close the connection: `this` may be gone
}

void Session::ReplyForwarded(Parked& p) {
  using Told = Parked::Told;
  const bin::Header& h = p.header;
  const bool binary = p.told == Told::kBinaryStore || p.told == Told::kBinaryArithmetic;
  if (p.lost) {
    if (binary) {
      BinaryError(h, bin::kInternalError);
    } else if (!p.noreply) {
      out_->Append(kForwardFailed);
    }
    return;
  }
  if (p.told == Told::kMeta) {
    out_->Append(p.held);  // the owner's reply, as the client asked for it
    return;
  }
  const OwnerAnswer a = ReadAnswer(p.held);
  switch (p.told) {
    case Told::kTextStore:
      if (!p.noreply) out_->Append(a.known ? TextReplyFor(a.outcome) : a.line);
      return;
    case Told::kTextArithmetic:
      if (p.noreply) return;
      if (!a.known) {
        out_->Append(a.line);
      } else if (a.outcome == store::Outcome::kStored) {
        out_->Append(a.value);
        out_->Append("\r\n");
      } else {
        out_->Append(a.outcome == store::Outcome::kNoMemory ? proto::kIncrNoMemory
                                                            : TextReplyFor(a.outcome));
      }
      return;
    case Told::kBinaryStore:
      if (!a.known) return BinaryError(h, bin::kInternalError);
      ReplyBinaryStore(h, p.command, a.outcome, a.cas);
      return;
    case Told::kBinaryArithmetic: {
      if (!a.known) return BinaryError(h, bin::kInternalError);
      store::IncrResult r;
      r.outcome = a.outcome;
      r.cas = a.cas;
      std::from_chars(a.value.data(), a.value.data() + a.value.size(), r.value);
      ReplyBinaryArithmetic(h, r);
      return;
    }
    case Told::kMeta:
      return;
  }
}

bool Session::ForwardTextStore(Command command, std::uint64_t cas, bool noreply,
                               const store::ItemRef& item) {
  if (!MayForward()) return false;  // before a request maker is built: every single node
  if (command == Command::kSet) return false;  // a set's resulting state is replicated
  const base::RelTime now = context_->clock->Now();
  return ForwardToOwner(item.key(), Parked::Told::kTextStore, command, noreply,
                        [&] { return StoreRequest(command, cas, item, now, false); });
}

bool Session::ForwardBinaryStore(Command command, std::uint64_t cas,
                                 const store::ItemRef& item) {
  if (!MayForward()) return false;  // before a request maker is built: every single node
  if (command == Command::kSet) return false;
  const base::RelTime now = context_->clock->Now();
  return ForwardToOwner(item.key(), Parked::Told::kBinaryStore, command, false,
                        [&] { return StoreRequest(command, cas, item, now, true); });
}

bool Session::ForwardTextArithmetic(const proto::Request& req) {
  if (!MayForward()) return false;  // before a request maker is built: every single node
  const bool incr = req.command == Command::kIncr;
  return ForwardToOwner(req.key, Parked::Told::kTextArithmetic, req.command, req.noreply,
                        [&] { return ArithmeticRequest(req.key, incr, req.delta, " v"); });
}

bool Session::ForwardBinaryArithmetic(std::string_view key, bool incr, std::uint64_t delta,
                                      std::uint64_t initial, std::uint32_t exptime,
                                      std::uint64_t cas) {
  if (!MayForward()) return false;  // before a request maker is built: every single node
  return ForwardToOwner(key, Parked::Told::kBinaryArithmetic, Command::kIncr, false, [&] {
    std::string extra = " J" + std::to_string(initial);
    // All ones: no counter is created on a miss (protocol-binary.txt).
    if (exptime != 0xffffffffu) {
      extra += " N" + std::to_string(std::min<std::uint32_t>(exptime, INT32_MAX));
    }
    if (cas != 0) extra += " C" + std::to_string(cas);
    extra += " v c";
    return ArithmeticRequest(key, incr, delta, extra);
  });
}

bool Session::ForwardMeta(std::string_view value) {
  if (!MayForward()) return false;  // before a request maker is built: every single node
  const proto::MetaRequest& req = *meta_req_;
  if (req.Has('Y')) return false;  // a peer's write
  if (req.command == proto::MetaCommand::kSet &&
      req.set_mode() == proto::MetaSetMode::kSet && !req.Has('C')) {
    return false;  // a plain set: its resulting state is replicated
  }
  return ForwardToOwner(req.key(), Parked::Told::kMeta, Command::kSet, false, [&] {
    std::string out;
    proto::client::AppendMetaRequest(&out, req, value);
    return out;
  });
}

}  // namespace rc::server
