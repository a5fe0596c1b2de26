// t/fuzz/text_parser_fuzz.cc -- libFuzzer target for proto::TextParser.
//
// The input is treated as everything a client sent on one connection: it is parsed request by
// request, as server/'s connection loop does, skipping each storage command's data block. Each
// step checks the parser's contract (text_parser.h) rather than particular answers:
//   * consumed <= the bytes offered; kNeedMore consumes nothing; kOk and kError consume something;
//     kError carries a reply line;
//   * every view in the Request lies inside the line that was consumed, and keys are 1..250 bytes;
//   * the answer for a complete line does not depend on the bytes after it, and a line cut before
//     its '\n' is never parsed (kNeedMore, or kClose once more than 2048 bytes wait);
//   * nothing reads past the input: the re-parses use exact-size heap copies, so AddressSanitizer
//     sees any overrun.
// Build with ./configure --enable-fuzz CXX=clang++; run with `make fuzz` (t/fuzz/local.am).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "ringcached/base/check.h"
#include "ringcached/proto/limits.h"
#include "ringcached/proto/request.h"
#include "ringcached/proto/text_parser.h"

namespace {

using rc::proto::Command;
using rc::proto::KeyIterator;
using rc::proto::ParseResult;
using rc::proto::ParseStatus;
using rc::proto::Request;
using rc::proto::TextParser;

bool Inside(std::string_view view, std::string_view whole) {
  if (view.empty()) return true;
  return view.data() >= whole.data() && view.data() + view.size() <= whole.data() + whole.size();
}

// Parses an exact-size heap copy of `bytes`, so ASan flags any read past its end.
ParseResult ParseCopy(std::string_view bytes, Request* req) {
  std::unique_ptr<char[]> copy(new char[bytes.size() == 0 ? 1 : bytes.size()]);
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  return TextParser().Parse(std::string_view(copy.get(), bytes.size()), req);
}

void CheckRequest(const Request& req, std::string_view line) {
  RC_CHECK(req.ntokens <= rc::proto::kMaxTokens);
  RC_CHECK(req.ntokens >= 1);
  for (std::size_t i = 0; i < req.ntokens; ++i) {
    RC_CHECK(!req.tokens[i].empty());
    RC_CHECK(Inside(req.tokens[i], line));
    RC_CHECK(req.tokens[i].find(' ') == std::string_view::npos);
  }
  RC_CHECK(Inside(req.key, line));
  RC_CHECK(Inside(req.keys, line));
  if (rc::proto::IsRetrieval(req.command)) {
    KeyIterator it(req.keys);
    std::string_view key;
    while (it.Next(&key)) {
      // Key lengths are the server's to check, key by key (text_parser.cc FinishRetrieval).
      RC_CHECK(!key.empty());
      RC_CHECK(Inside(key, line));
    }
  }
  switch (req.command) {
    case Command::kSet: case Command::kAdd: case Command::kReplace: case Command::kAppend:
    case Command::kPrepend: case Command::kCas: case Command::kDelete: case Command::kIncr:
    case Command::kDecr: case Command::kTouch:
      RC_CHECK(!req.key.empty());
      RC_CHECK(req.key.size() <= rc::proto::kMaxKeyLength);
      break;
    default:
      break;
  }
  if (rc::proto::IsStorage(req.command)) {
    RC_CHECK(req.value_len <= static_cast<std::uint64_t>(rc::proto::kMaxValueLength));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const TextParser parser;
  for (int steps = 0; steps < 10000; ++steps) {
    Request req;
    const ParseResult r = parser.Parse(in, &req);
    RC_CHECK(r.consumed <= in.size());
    if (r.status == ParseStatus::kNeedMore || r.status == ParseStatus::kClose) {
      RC_CHECK(r.consumed == 0);
      if (r.status == ParseStatus::kClose) {
        // Either an HTTP request line (which has its '\n') or a long line without one.
        RC_CHECK(std::memchr(in.data(), '\n', in.size()) != nullptr ||
                 in.size() > rc::proto::kMaxLineWithoutNewline);
      } else {
        RC_CHECK(in.empty() || std::memchr(in.data(), '\n', in.size()) == nullptr);
      }
      return 0;
    }
    RC_CHECK(r.consumed > 0);
    const std::string_view line = in.substr(0, r.consumed);
    RC_CHECK(line.back() == '\n');
    RC_CHECK(std::memchr(line.data(), '\n', line.size() - 1) == nullptr);
    if (r.status == ParseStatus::kError) {
      RC_CHECK(!r.error.empty());
      RC_CHECK(r.error.find('\n') == std::string_view::npos);
    } else {
      RC_CHECK(r.status == ParseStatus::kOk);
      CheckRequest(req, line);
    }

    // The line alone parses the same, and the line without its '\n' does not parse.
    Request again;
    const ParseResult r2 = ParseCopy(line, &again);
    RC_CHECK(r2.status == r.status);
    RC_CHECK(r2.consumed == r.consumed);
    RC_CHECK(r2.error == r.error);
    RC_CHECK(again.command == req.command && again.noreply == req.noreply);
    RC_CHECK(again.ntokens == req.ntokens && again.keys.size() == req.keys.size());
    const ParseResult r3 = ParseCopy(line.substr(0, line.size() - 1), &again);
    RC_CHECK(r3.consumed == 0);
    RC_CHECK(r3.status == ParseStatus::kNeedMore ||
             (r3.status == ParseStatus::kClose &&
              line.size() - 1 > rc::proto::kMaxLineWithoutNewline));

    in.remove_prefix(r.consumed);
    if (r.status == ParseStatus::kOk && rc::proto::IsStorage(req.command)) {
      // The connection reads the data block itself; skip it (or what there is of it).
      const std::size_t block = static_cast<std::size_t>(req.value_len) + 2;
      in.remove_prefix(block < in.size() ? block : in.size());
    }
  }
  return 0;
}
