// server/binary_commands.cc -- the binary protocol's commands, executed for a Session.
//
// Each request is a 24-byte header plus body (proto/binary.h). Everything but a storage
// command's value is small (a key and at most 20 bytes of extras), so it is executed once whole
// in the input buffer; a value is read straight into its item, as for the text protocol. Quiet
// variants suppress only the uninteresting reply (a miss for gets, success for the rest); errors
// are always sent. Rules from memcached 1.6.18 proto_bin.c and ../shared/PROTOCOL.md section 5.
#include <cstring>
#include <string>

#include "ringcached/base/version.h"
#include "server/session.h"
#include "server/item_pin.h"
#include "server/stats.h"

namespace rc::server {
namespace {

namespace bin = proto::binary;
using proto::Command;

// A storage opcode's text-protocol twin; the engine speaks in those terms.
Command StorageCommand(std::uint8_t opcode, std::uint64_t cas) {
  switch (opcode) {
    // A non-zero CAS makes set, add and replace compare-and-swap (proto_bin.c process_bin_update:
    // an add with a CAS on a missing key is "Not found", as for cas).
    case bin::kSet: case bin::kSetQ: return cas != 0 ? Command::kCas : Command::kSet;
    case bin::kAdd: case bin::kAddQ: return cas != 0 ? Command::kCas : Command::kAdd;
    case bin::kReplace: case bin::kReplaceQ: return cas != 0 ? Command::kCas : Command::kReplace;
    case bin::kAppend: case bin::kAppendQ: return Command::kAppend;
    default: return Command::kPrepend;
  }
}

// Opcodes whose request is the header, extras and key only: what follows is the next packet.
bool TakesNoValue(std::uint8_t opcode) {
  switch (opcode) {
    case bin::kStat: case bin::kTouch: case bin::kGat: case bin::kGatQ: case bin::kGatK:
    case bin::kGatKQ:
      return true;
    default:
      return false;
  }
}

bool IsStorageOpcode(std::uint8_t opcode) {
  switch (opcode) {
    case bin::kSet: case bin::kSetQ: case bin::kAdd: case bin::kAddQ: case bin::kReplace:
    case bin::kReplaceQ: case bin::kAppend: case bin::kAppendQ: case bin::kPrepend:
    case bin::kPrependQ:
      return true;
    default:
      return false;
  }
}

// One packet per stat: key = name, value = the value (memcached append_stats).
class BinaryStatSink final : public StatSink {
 public:
  BinaryStatSink(net::OutQueue* out, std::uint32_t opaque) : out_(out), opaque_(opaque) {}
  using StatSink::Add;
  void Add(std::string_view name, std::string_view value) override {
    std::size_t body = name.size() + value.size();
    char* p = out_->Reserve(bin::kHeaderSize + body);
    bin::EncodeResponseHeader(p, bin::kStat, static_cast<std::uint16_t>(name.size()), 0,
                              bin::kSuccess, static_cast<std::uint32_t>(body), opaque_, 0);
    if (!name.empty()) std::memcpy(p + bin::kHeaderSize, name.data(), name.size());
    if (!value.empty()) std::memcpy(p + bin::kHeaderSize + name.size(), value.data(), value.size());
    out_->Commit(bin::kHeaderSize + body);
  }

 private:
  net::OutQueue* out_;
  std::uint32_t opaque_;
};

}  // namespace

Session::BinaryStep Session::ProcessBinary() {
  std::size_t avail = in_->size();
  if (avail < bin::kHeaderSize) return BinaryStep::kNeedMore;
  const char* p = in_->data();
  bin::Header h = bin::DecodeHeader(p);
  last_binary_ = h;  // a held write's error reply needs it (parked.cc)
  if (h.magic != bin::kRequestMagic) {
    // memcached: "Invalid magic"; what was answered before it still goes out.
    close_after_write_ = true;
    return BinaryStep::kClose;
  }
  // memcached reads extras and key before it judges the request.
  const std::size_t key_end = bin::kHeaderSize + h.extras_len + h.key_len;
  if (avail < key_end) return BinaryStep::kNeedMore;
  switch (bin::CheckShape(h)) {
    case bin::Shape::kOk:
      break;
    case bin::Shape::kUnknownCommand:
      // The extras and key are read; then body_len more bytes are skipped (memcached's
      // write_bin_error with swallow = bodylen), which may run into the next packet. SASL
      // auth/step read their value as SASL data first, so only the value is skipped.
      BinaryError(h, bin::kUnknownCommand);
      in_->Consume(key_end);
      swallow_left_ = h.opcode == bin::kSaslAuth || h.opcode == bin::kSaslStep ? h.value_len()
                                                                                : h.body_len;
      SetState(State::kSwallow);
      return BinaryStep::kDone;
    case bin::Shape::kBadLengths:
      BinaryError(h, bin::kUnknownCommand);
      close_after_write_ = true;
      return BinaryStep::kClose;
    case bin::Shape::kInvalid:
      BinaryError(h, bin::kInvalidArguments);
      close_after_write_ = true;
      return BinaryStep::kClose;
  }
  const bool storage = IsStorageOpcode(h.opcode);
  const std::size_t head =
      storage || TakesNoValue(h.opcode) ? key_end : bin::kHeaderSize + h.body_len;
  if (avail < head) return BinaryStep::kNeedMore;
  NoteCommand();
  const char* extras = p + bin::kHeaderSize;
  std::string_view key(extras + h.extras_len, h.key_len);
  // The key and extras are views into the input buffer: execute before consuming.
  if (storage) {
    BeginBinaryStorage(h, extras, key);
  } else {
    ExecuteBinary(h, extras, key);
  }
  in_->Consume(head);
  if (h.opcode == bin::kQuitQ) return BinaryStep::kClose;
  return BinaryStep::kDone;
}

void Session::BinaryReply(const bin::Header& h, std::uint16_t status, std::string_view extras,
                             std::string_view key, std::string_view value, std::uint64_t cas) {
  std::size_t body = extras.size() + key.size() + value.size();
  char* p = out_->Reserve(bin::kHeaderSize + body);
  bin::EncodeResponseHeader(p, h.opcode, static_cast<std::uint16_t>(key.size()),
                            static_cast<std::uint8_t>(extras.size()), status,
                            static_cast<std::uint32_t>(body), h.opaque, cas);
  char* q = p + bin::kHeaderSize;
  for (std::string_view part : {extras, key, value}) {
    if (part.empty()) continue;  // an empty view may have a null data(): memcpy forbids it
    std::memcpy(q, part.data(), part.size());
    q += part.size();
  }
  out_->Commit(bin::kHeaderSize + body);
}

void Session::BinaryError(const bin::Header& h, bin::Status status) {
  BinaryReply(h, status, {}, {}, bin::StatusText(status), 0);
}

void Session::ExecuteBinary(const bin::Header& h, const char* extras, std::string_view key) {
  engine::Engine& engine = *context_->engine;
  engine::CommandStats* stats = context_->command_stats;
  const bool quiet = bin::IsQuiet(h.opcode);
  switch (h.opcode) {
    case bin::kGet: case bin::kGetQ: case bin::kGetK: case bin::kGetKQ:
    case bin::kTouch: case bin::kGat: case bin::kGatQ: case bin::kGatK: case bin::kGatKQ: {
      const bool touch = h.extras_len == 4;
      // The binary exptime is unsigned: 0xffffffff is a time in 2106, not "expired".
      store::ItemRef item =
          touch ? engine.GetAndTouch(key, static_cast<std::int64_t>(bin::Load32(extras)), stats)
                : engine.Get(key, stats);
      if (context_->runtime->detail_enabled.load(std::memory_order_relaxed)) {
        context_->prefix_stats->Record(key, context_->settings->prefix_delimiter,
                                       PrefixStats::Op::kGet, static_cast<bool>(item));
      }
      // Read-through for the reads (Touch returns no value: it is not one).
      if (item && h.opcode != bin::kTouch && context_->read_sampler != nullptr) {
        context_->read_sampler->OnRead(key, item.value().size());
      }
      if (!item && h.opcode != bin::kTouch && WantsFill(key)) {
        WaitForFill(Parked::Kind::kBinary, key);
        parked_->header = h;
        return;
      }
      ReplyBinaryGet(h, key, std::move(item));
      return;
    }
    case bin::kDelete: case bin::kDeleteQ: {
      if (context_->runtime->detail_enabled.load(std::memory_order_relaxed)) {
        context_->prefix_stats->Record(key, context_->settings->prefix_delimiter,
                                       PrefixStats::Op::kDelete, false);
      }
      // A non-zero CAS makes it a compare-and-delete (proto_bin.c process_bin_delete).
      switch (engine.Delete(key, stats, h.cas)) {
        case store::Outcome::kDeleted:
          if (!quiet) BinaryReply(h, bin::kSuccess, {}, {}, {}, 0);
          return;
        case store::Outcome::kExists:
          BinaryError(h, bin::kKeyExists);
          return;
        default:
          BinaryError(h, bin::kKeyNotFound);
          return;
      }
    }
    case bin::kIncrement: case bin::kIncrementQ: case bin::kDecrement: case bin::kDecrementQ: {
      const bool incr = h.opcode == bin::kIncrement || h.opcode == bin::kIncrementQ;
      const std::uint64_t delta = bin::Load64(extras);
      const std::uint64_t initial = bin::Load64(extras + 8);
      const std::uint32_t exptime = bin::Load32(extras + 16);
      // A request CAS makes it compare-and-increment; a miss that creates the counter is not
      // counted as a miss (proto_bin.c process_bin_arithmetic).
      const bool creates = exptime != 0xffffffffu;
      if (ForwardBinaryArithmetic(key, incr, delta, initial, exptime, h.cas)) return;
      store::IncrResult r = engine.Arithmetic(key, incr, delta, stats,
                                              {.compare_cas = h.cas, .count_miss = !creates});
      if (r.outcome == store::Outcome::kNotFound && creates) {
        // A miss creates the counter with the initial value, unless exptime is all ones
        // (protocol-binary.txt); the initial value is not changed by the delta.
        std::string text = std::to_string(initial);
        proto::Request req;
        req.command = Command::kAdd;
        req.key = key;
        req.exptime = exptime;
        req.value_len = static_cast<std::uint32_t>(text.size());
        store::Allocation alloc = engine.BeginStore(req, stats);
        if (!alloc.item) {
          BinaryError(h, bin::kOutOfMemory);
          return;
        }
        std::memcpy(alloc.item.writable_value(), text.data(), text.size());
        store::Outcome added = engine.AddCounter(&alloc.item);
        if (added == store::Outcome::kStored) {
          r.outcome = store::Outcome::kStored;
          r.value = initial;
          r.cas = alloc.item.cas();
        } else if (added == store::Outcome::kNoMemory) {
          BinaryError(h, bin::kOutOfMemory);
          return;
        } else {
          // Another client created it first: apply the delta to theirs.
          r = engine.Arithmetic(key, incr, delta, stats, {.count_miss = false});
        }
      }
      ReplyBinaryArithmetic(h, r);
      return;
    }
    case bin::kQuit:
      BinaryReply(h, bin::kSuccess, {}, {}, {}, 0);
      close_after_write_ = true;
      return;
    case bin::kQuitQ:
      close_after_write_ = true;
      return;
    case bin::kFlush: case bin::kFlushQ: {
      if (!context_->settings->flush_enabled) {
        BinaryError(h, bin::kAuthError);
        return;
      }
      std::int64_t delay = h.extras_len == 4 ? bin::Load32(extras) : 0;
      engine.FlushAll(delay, delay != 0, stats);
      if (!quiet) BinaryReply(h, bin::kSuccess, {}, {}, {}, 0);
      return;
    }
    case bin::kNoop:
      BinaryReply(h, bin::kSuccess, {}, {}, {}, 0);
      return;
    case bin::kVersion:
      BinaryReply(h, bin::kSuccess, {}, {}, RC_MEMCACHED_VERSION, 0);
      return;
    case bin::kStat:
      BinaryStats(h, key);
      return;
    default:
      BinaryError(h, bin::kUnknownCommand);
      return;
  }
}

void Session::ReplyBinaryGet(const bin::Header& h, std::string_view key, store::ItemRef item) {
  const bool quiet = bin::IsQuiet(h.opcode);
  const bool with_key = h.opcode == bin::kGetK || h.opcode == bin::kGetKQ ||
                        h.opcode == bin::kGatK || h.opcode == bin::kGatKQ;
  if (!item) {
    if (quiet) return;
    // A GetK miss carries the key instead of the error text (proto_bin.c).
    if (with_key) {
      BinaryReply(h, bin::kKeyNotFound, {}, key, {}, 0);
    } else {
      BinaryError(h, bin::kKeyNotFound);
    }
    return;
  }
  char flags[4];
  bin::Store32(flags, item.flags());
  std::string_view value = item.value();
  // Touch answers with the flags only; the others carry the value.
  if (h.opcode == bin::kTouch) value = {};
  std::string_view reply_key = with_key ? item.key() : std::string_view();
  std::size_t body = 4 + reply_key.size() + value.size();
  char* p = out_->Reserve(bin::kHeaderSize + 4 + reply_key.size());
  bin::EncodeResponseHeader(p, h.opcode, static_cast<std::uint16_t>(reply_key.size()), 4,
                            bin::kSuccess, static_cast<std::uint32_t>(body), h.opaque,
                            item.cas());
  std::memcpy(p + bin::kHeaderSize, flags, 4);
  if (!reply_key.empty()) {
    std::memcpy(p + bin::kHeaderSize + 4, reply_key.data(), reply_key.size());
  }
  out_->Commit(bin::kHeaderSize + 4 + reply_key.size());
  if (!value.empty()) QueueItemBytes(out_, std::move(item), value);
}

void Session::BinaryStats(const bin::Header& h, std::string_view sub) {
  // memcached matches "reset", "settings" and "detail ..." by prefix (strncmp with the word's
  // length), the other sub-keys exactly (proto_bin.c process_bin_stat).
  if (sub.starts_with("reset")) {
    context_->admin->ResetStats();
  } else if (sub.starts_with("detail")) {
    if (sub.starts_with("detail dump")) {
      BinaryReply(h, bin::kSuccess, {}, "detailed", context_->prefix_stats->Dump(), 0);
    } else if (sub.starts_with("detail on") || sub.starts_with("detail off")) {
      context_->runtime->detail_enabled.store(sub.starts_with("detail on"));
    } else {
      BinaryError(h, bin::kKeyNotFound);
      return;
    }
  } else if (sub == "conns" || sub.starts_with("cachedump")) {
    // Text-only, as in memcached.
    BinaryError(h, bin::kKeyNotFound);
    return;
  } else {
    BinaryStatSink sink(out_, h.opaque);
    switch (context_->admin->AddStats(sub.starts_with("settings") ? "settings" : sub, &sink)) {
      case StatsResult::kUnknown:
        BinaryError(h, bin::kKeyNotFound);
        return;
      case StatsResult::kSingleLine:
        return;  // sizes_enable/disable: one packet, no terminator (as the text form has no END)
      case StatsResult::kList:
        break;
    }
  }
  // The list ends with an empty packet.
  BinaryReply(h, bin::kSuccess, {}, {}, {}, 0);
}

void Session::BeginBinaryStorage(const bin::Header& h, const char* extras,
                                    std::string_view key) {
  proto::Request req;
  req.command = StorageCommand(h.opcode, h.cas);
  req.key = key;
  req.cas_unique = h.cas;
  if (h.extras_len == 8) {
    req.flags = bin::Load32(extras);
    req.exptime = static_cast<std::int64_t>(bin::Load32(extras + 4));  // unsigned on the wire
  }
  if (context_->runtime->detail_enabled.load(std::memory_order_relaxed)) {
    context_->prefix_stats->Record(key, context_->settings->prefix_delimiter,
                                   PrefixStats::Op::kSet, false);
  }
  const std::size_t value_len = h.value_len();
  if (value_len > UINT32_MAX - 2) {
    BinaryError(h, bin::kTooLarge);
    swallow_left_ = value_len;
    SetState(State::kSwallow);
    return;
  }
  req.value_len = static_cast<std::uint32_t>(value_len);
  store::Allocation alloc = context_->engine->BeginStore(req, context_->command_stats);
  if (!alloc.item) {
    BinaryError(h, alloc.outcome == store::Outcome::kTooLarge ? bin::kTooLarge
                                                               : bin::kOutOfMemory);
    swallow_left_ = value_len;
    SetState(State::kSwallow);
    return;
  }
  pending_.command = req.command;
  pending_.cas_unique = req.cas_unique;
  pending_.noreply = bin::IsQuiet(h.opcode);
  pending_.binary = true;
  pending_.header = h;
  pending_.item = std::move(alloc.item);
  pending_.filled = 0;
  pending_.total = value_len;  // no "\r\n" follows a binary value
  SetState(State::kReadValue);
}

void Session::FinishBinaryStorage() {
  const bin::Header h = pending_.header;
  proto::Request req;
  req.command = pending_.command;
  req.cas_unique = pending_.cas_unique;
  pending_.binary = false;
  if (ForwardBinaryStore(req.command, req.cas_unique, pending_.item)) {
    pending_.item.Reset();
    return;
  }
  store::Outcome outcome =
      context_->engine->CompleteStore(req, &pending_.item, context_->command_stats);
  LogStore(pending_.item, outcome, req.command);
  std::uint64_t cas = pending_.item.cas();
  pending_.item.Reset();
  ReplyBinaryStore(h, req.command, outcome, cas);
}

void Session::ReplyBinaryArithmetic(const bin::Header& h, const store::IncrResult& r) {
  switch (r.outcome) {
    case store::Outcome::kStored: {
      if (bin::IsQuiet(h.opcode)) return;
      char value[8];
      bin::Store64(value, r.value);
      BinaryReply(h, bin::kSuccess, {}, {}, std::string_view(value, 8), r.cas);
      return;
    }
    case store::Outcome::kNonNumeric: BinaryError(h, bin::kNonNumeric); return;
    case store::Outcome::kExists: BinaryError(h, bin::kKeyExists); return;
    case store::Outcome::kNoMemory: BinaryError(h, bin::kOutOfMemory); return;
    default: BinaryError(h, bin::kKeyNotFound); return;
  }
}

void Session::ReplyBinaryStore(const bin::Header& h, Command command, store::Outcome outcome,
                               std::uint64_t cas) {
  switch (outcome) {
    case store::Outcome::kStored:
      if (!bin::IsQuiet(h.opcode)) BinaryReply(h, bin::kSuccess, {}, {}, {}, cas);
      return;
    case store::Outcome::kNotStored:
      // proto_bin.c: a refused add means the key exists, a refused replace that it does not;
      // append/prepend say "Not stored."
      BinaryError(h, command == Command::kAdd       ? bin::kKeyExists
                     : command == Command::kReplace ? bin::kKeyNotFound
                                                    : bin::kNotStored);
      return;
    case store::Outcome::kExists: BinaryError(h, bin::kKeyExists); return;
    case store::Outcome::kNotFound: BinaryError(h, bin::kKeyNotFound); return;
    case store::Outcome::kTooLarge: BinaryError(h, bin::kTooLarge); return;
    default: BinaryError(h, bin::kOutOfMemory); return;
  }
}

}  // namespace rc::server
