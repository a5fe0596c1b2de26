// t/fuzz/meta_parser_fuzz.cc -- libFuzzer target for proto::MetaParser and the meta encoders.
//
// The input is treated as everything a client sent on one connection: it is parsed request by
// request, as server/'s connection loop does, skipping each ms data block (or the bytes an ms
// error swallows). Each step checks the contracts in meta.h rather than particular answers:
//   * consumed <= the bytes offered; kNeedMore and kClose consume nothing; kClose only after more
//     than 2048 bytes without a '\n'; kOk and kError consume exactly one line;
//   * kError carries a one-line reply; only ms errors swallow, and then value_len + 2 bytes;
//   * a kOk request is self-consistent: key 1..250 bytes (decoded keys shorter), at most 17 flags,
//     each a letter recorded in `present`, opaque at most 31 bytes, modes valid for ms and ma;
//   * the request owns its bytes: it survives the input being overwritten;
//   * the line alone parses the same; the line without its '\n' does not parse;
//   * the reply encoders stay within kMaxMetaReply / kMaxMetaDebugReply for any request, even
//     with every number at its largest and the key base64-encoded; they write into exact-size
//     heap buffers, so AddressSanitizer sees any overrun, as it sees any read past the input;
//   * base64 round-trips the key.
// Build with ./configure --enable-fuzz CXX=clang++; run with `make fuzz-meta` (t/fuzz/local.am).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "ringcached/base/check.h"
#include "ringcached/proto/limits.h"
#include "ringcached/proto/meta.h"

namespace {

using rc::proto::MetaCommand;
using rc::proto::MetaParseResult;
using rc::proto::MetaParser;
using rc::proto::MetaReplyInfo;
using rc::proto::MetaRequest;
using rc::proto::MetaStatus;
using rc::proto::ParseStatus;

MetaParseResult ParseCopy(std::string_view bytes, MetaRequest* req) {
  std::unique_ptr<char[]> copy(new char[bytes.size()]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return MetaParser().Parse(std::string_view(copy.get(), bytes.size()), req);
}

void CheckRequest(const MetaRequest& req) {
  const std::string_view key = req.key();
  if (req.command != MetaCommand::kNoop) {
    RC_CHECK(!key.empty());
    RC_CHECK(key.size() <= (req.key_binary ? 187u : rc::proto::kMaxKeyLength));
  }
  RC_CHECK(req.nflags <= rc::proto::kMaxMetaFlags);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < req.nflags; ++i) {
    const char c = req.flags[i];
    RC_CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'));
    const std::uint64_t bit = std::uint64_t{1} << (c - 'A');
    RC_CHECK((seen & bit) == 0);  // no duplicates
    seen |= bit;
    RC_CHECK(req.Has(c));
  }
  RC_CHECK(seen == req.present);
  RC_CHECK(req.opaque().size() < rc::proto::kMaxOpaqueToken);
  if (req.command == MetaCommand::kSet) {
    RC_CHECK(req.nflags <= rc::proto::kMaxMetaFlags - 1);
    RC_CHECK(req.value_len <= static_cast<std::uint64_t>(rc::proto::kMaxValueLength));
    RC_CHECK(req.mode == 0 || std::strchr("SEAPR", req.mode) != nullptr);
  }
  if (req.command == MetaCommand::kArithmetic) {
    RC_CHECK(req.mode == 0 || std::strchr("I+D-", req.mode) != nullptr);
  }
  // Base64 round trip of the key.
  char enc[400];
  char dec[400];
  const std::size_t n = rc::proto::Base64Encode(key.data(), key.size(), enc);
  RC_CHECK(n == (key.size() + 2) / 3 * 4);
  if (!key.empty()) {
    RC_CHECK(rc::proto::Base64Decode(enc, n, dec) == key.size());
    RC_CHECK(std::memcmp(dec, key.data(), key.size()) == 0);
  }
}

// Formats every reply shape for `req` with every number at its largest.
void CheckReplies(const MetaRequest& req) {
  if (req.command == MetaCommand::kNoop) return;
  std::unique_ptr<char[]> buf(new char[rc::proto::kMaxMetaReply]);
  // The longest key a reply can carry, base64-encoded.
  static const char kLongKey[rc::proto::kMaxKeyLength] = {};
  for (MetaStatus s : {MetaStatus::kHD, MetaStatus::kVA, MetaStatus::kEN, MetaStatus::kNF,
                       MetaStatus::kNS, MetaStatus::kEX}) {
    MetaReplyInfo info;
    info.status = s;
    info.value_len = UINT32_MAX;
    info.client_flags = UINT32_MAX;
    info.cas = UINT64_MAX;
    info.ttl = UINT32_MAX;
    info.idle = UINT32_MAX;
    info.fetched = info.win = info.stale = info.win_sent = true;
    info.number = UINT64_MAX;
    info.key = std::string_view(kLongKey, sizeof kLongKey);
    info.key_binary = true;
    const std::size_t n = rc::proto::FormatMetaReply(buf.get(), req, info);
    RC_CHECK(n <= rc::proto::kMaxMetaReply);
    RC_CHECK(n >= 4 && buf[n - 2] == '\r' && buf[n - 1] == '\n');
    (void)rc::proto::MetaReplySuppressed(req, info);
  }
  std::unique_ptr<char[]> dbg(new char[rc::proto::kMaxMetaDebugReply]);
  rc::proto::MetaDebugInfo d;
  d.key = std::string_view(kLongKey, sizeof kLongKey);
  d.key_binary = true;
  d.exp = INT32_MIN;
  d.la = UINT32_MAX;
  d.cas = UINT64_MAX;
  d.cls = UINT32_MAX;
  d.size = UINT64_MAX;
  RC_CHECK(rc::proto::FormatMetaDebug(dbg.get(), d) <= rc::proto::kMaxMetaDebugReply);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int steps = 0; steps < 10000; ++steps) {
    MetaRequest req;
    const MetaParseResult r = ParseCopy(in, &req);
    RC_CHECK(r.consumed <= in.size());
    const bool has_newline = !in.empty() && std::memchr(in.data(), '\n', in.size()) != nullptr;
    if (r.status == ParseStatus::kNeedMore || r.status == ParseStatus::kClose) {
      RC_CHECK(r.consumed == 0);
      RC_CHECK(!has_newline);
      if (r.status == ParseStatus::kClose) RC_CHECK(in.size() > rc::proto::kMaxLineWithoutNewline);
      return 0;
    }
    RC_CHECK(r.consumed > 0);
    const std::string_view line = in.substr(0, r.consumed);
    RC_CHECK(line.back() == '\n');
    RC_CHECK(std::memchr(line.data(), '\n', line.size() - 1) == nullptr);
    if (r.status == ParseStatus::kError) {
      RC_CHECK(!r.error.empty());
      RC_CHECK(r.error.find('\n') == std::string_view::npos);
      RC_CHECK(r.swallow == 0 || (req.command == MetaCommand::kSet &&
                                  r.swallow == std::size_t{req.value_len} + 2));
    } else {
      RC_CHECK(r.status == ParseStatus::kOk);
      RC_CHECK(r.swallow == 0);
      CheckRequest(req);  // the copy ParseCopy parsed is gone: the request owns its bytes
      CheckReplies(req);
    }

    // The line alone parses the same, and the line without its '\n' does not parse.
    MetaRequest again;
    const MetaParseResult r2 = ParseCopy(line, &again);
    RC_CHECK(r2.status == r.status && r2.consumed == r.consumed && r2.error == r.error);
    RC_CHECK(r2.swallow == r.swallow && again.command == req.command);
    if (r.status == ParseStatus::kOk) {
      RC_CHECK(again.key() == req.key() && again.present == req.present);
    }
    const MetaParseResult r3 = ParseCopy(line.substr(0, line.size() - 1), &again);
    RC_CHECK(r3.consumed == 0);
    RC_CHECK(r3.status == ParseStatus::kNeedMore ||
             (r3.status == ParseStatus::kClose &&
              line.size() - 1 > rc::proto::kMaxLineWithoutNewline));

    in.remove_prefix(r.consumed);
    std::size_t skip = r.swallow;
    if (r.status == ParseStatus::kOk && req.command == MetaCommand::kSet) {
      skip = std::size_t{req.value_len} + 2;  // the connection reads the data block itself
    }
    in.remove_prefix(skip < in.size() ? skip : in.size());
  }
  return 0;
}
