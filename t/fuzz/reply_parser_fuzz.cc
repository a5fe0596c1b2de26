// t/fuzz/reply_parser_fuzz.cc -- libFuzzer target for the client's reply parsers
// (proto/client_codec.h): text, meta and binary.
//
// The input is treated as everything a server sent on one connection, and each parser reads it
// reply by reply, as a client would, until it needs more or the stream is lost. Each step checks
// the contracts in client_codec.h rather than particular answers:
//   * kOk consumes at least one byte and at most what was offered; kNeedMore and kError say
//     nothing was consumed;
//   * every view a reply hands back lies inside the reply's own bytes;
//   * the reply's bytes alone parse the same way, and the reply without its last byte needs
//     more (a client that got half a reply waits; it never acts on it);
//   * a binary reply's extras, key and value add up to its body.
// The parsers read from an exact-size heap copy, so AddressSanitizer sees any read past the end.
// Build with ./configure --enable-fuzz CXX=clang++; run with `make fuzz-reply` (t/fuzz/local.am).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "ringcached/base/check.h"
#include "ringcached/proto/client_codec.h"

namespace {

using rc::proto::client::BinaryReply;
using rc::proto::client::MetaReply;
using rc::proto::client::ReplyStatus;
using rc::proto::client::TextReply;

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Parses `bytes` reply after reply with `parse`, checking each as the file comment says.
template <typename Reply, typename Parse, typename Views>
void Drain(std::string_view bytes, Parse parse, Views views) {
  while (!bytes.empty()) {
    // An exact-size copy of what is left, so a read past it is an ASan report.
    std::unique_ptr<char[]> copy(new char[bytes.size()]);
    std::memcpy(copy.get(), bytes.data(), bytes.size());
    const std::string_view in(copy.get(), bytes.size());
    Reply r;
    const ReplyStatus s = parse(in, &r);
    if (s != ReplyStatus::kOk) return;
    RC_CHECK(r.consumed > 0 && r.consumed <= in.size());
    const std::string_view own = in.substr(0, r.consumed);
    views(r, own);
    Reply again;
    RC_CHECK(parse(own, &again) == ReplyStatus::kOk && again.consumed == r.consumed);
    RC_CHECK(parse(own.substr(0, own.size() - 1), &again) == ReplyStatus::kNeedMore);
    bytes.remove_prefix(r.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Drain<TextReply>(bytes, rc::proto::client::ParseTextReply,
                   [](const TextReply& r, std::string_view own) {
                     RC_CHECK(Inside(r.line, own) && Inside(r.key, own) && Inside(r.value, own));
                     RC_CHECK(r.kind == TextReply::Kind::kLine || !r.key.empty());
                   });
  Drain<MetaReply>(bytes, rc::proto::client::ParseMetaReply,
                   [](const MetaReply& r, std::string_view own) {
                     RC_CHECK(Inside(r.code, own) && Inside(r.flags, own) &&
                              Inside(r.value, own));
                     RC_CHECK(r.value.empty() || r.code == "VA");
                     (void)r.Flag('f');
                   });
  Drain<BinaryReply>(bytes, rc::proto::client::ParseBinaryReply,
                     [](const BinaryReply& r, std::string_view own) {
                       RC_CHECK(Inside(r.extras, own) && Inside(r.key, own) &&
                                Inside(r.value, own));
                       RC_CHECK(r.extras.size() + r.key.size() + r.value.size() ==
                                r.header.body_len);
                       RC_CHECK(r.consumed == 24 + r.header.body_len);
                     });
  return 0;
}
