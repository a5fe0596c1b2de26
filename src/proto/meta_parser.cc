// proto/meta_parser.cc -- the meta protocol's command-line parser (MetaParser::Parse).
//
// The line is found and split exactly as for the text protocol (memcached runs both through
// try_read_command_ascii and tokenize_command): the first '\n' ends it, one '\r' before it is
// dropped, tokens are separated by runs of ' ', and a NUL byte ends the line. Then the checks run
// in the order of proto_text.c, because that order decides which error a malformed line gets:
//
//   mg/md/ma  no key -> ERROR; key > 250 -> bad command line format; 20+ tokens -> flags too long;
//             flag pre-parse (_meta_flag_preparse); opaque > 32; ma: its M mode.
//   ms        no key -> ERROR; key > 250, or no <datalen> -> bad command line format; 20+ tokens;
//             <datalen>; from here on the data block is swallowed after an error: pre-parse,
//             then the M mode, then the opaque length.
//   me        no key, key > 250, undecodable `b` key -> bad command line format.
//   mn        anything goes.
//
// The flag pre-parse is shared by every command, so each accepts the union of all flags (mg
// takes and ignores F or C, for instance). It stops at the first duplicate or unknown flag; a bad
// token value only marks the line failed and parsing goes on, the last such error winning. md and
// ma report every pre-parse failure as "invalid or duplicate flag" (proto_text.c ignores the
// specific message there), and a bad F value keeps the generic "bad command line format".
//
// Beyond 1.6.18: the E flag (use this token as the new CAS), which memcached added in 1.6.27, is
// parsed as 1.6.27 does; doc/deviations.md.
//
// Deliberate difference: memcached checks the opaque length while it writes the reply, after mg
// and ma have already acted (a vivified item stays, a counter stays incremented). We refuse the
// line before anything happens; the client sees the same error.
#include <cstring>

#include "proto/text_scan.h"
#include "ringcached/proto/meta.h"

namespace rc::proto {
namespace {

using internal::FindDelimiter;
using internal::SafeStrtol;
using internal::SafeStrtoul;
using internal::SafeStrtoull;

constexpr std::string_view kErrorLine = "ERROR";
constexpr std::string_view kBadFormatLine = "CLIENT_ERROR bad command line format";
constexpr std::string_view kGetFlagsTooLong = "CLIENT_ERROR options flags are too long";
constexpr std::string_view kFlagsTooLong = "CLIENT_ERROR options flags too long";
constexpr std::string_view kInvalidFlag = "CLIENT_ERROR invalid flag";
constexpr std::string_view kDuplicateFlag = "CLIENT_ERROR duplicate flag";
constexpr std::string_view kInvalidOrDuplicate = "CLIENT_ERROR invalid or duplicate flag";
constexpr std::string_view kOpaqueTooLong = "CLIENT_ERROR opaque token too long";
constexpr std::string_view kDecodeKey = "CLIENT_ERROR error decoding key";
constexpr std::string_view kBadToken = "CLIENT_ERROR bad token in command line format";
constexpr std::string_view kBadModeLength = "CLIENT_ERROR incorrect length for M token";
constexpr std::string_view kBadInitial = "CLIENT_ERROR invalid numeric initial value";
constexpr std::string_view kBadDelta = "CLIENT_ERROR invalid numeric delta value";
constexpr std::string_view kBadSetMode = "CLIENT_ERROR invalid mode for ms M token";
constexpr std::string_view kBadArithMode = "CLIENT_ERROR invalid mode for ma M token";

// A line with this many tokens (command included) is refused: memcached's check is
// ntokens > MFLAG_MAX_OPT_LENGTH (20) where ntokens counts a terminal token as well.
constexpr std::size_t kTooManyTokens = 20;

inline MetaParseResult Ok(std::size_t consumed) {
  return {ParseStatus::kOk, consumed, {}, 0};
}
inline MetaParseResult Error(std::size_t consumed, std::string_view line, std::size_t swallow = 0) {
  return {ParseStatus::kError, consumed, line, swallow};
}

struct Tokens {
  std::string_view t[kTooManyTokens];
  std::size_t n = 0;
};

// The outcome of the flag pre-parse: ok, or the error line memcached would pick.
struct Preparse {
  bool ok = true;
  std::string_view error;
};

void CopyKey(std::string_view key, MetaRequest* out) {
  std::memcpy(out->key_buf.data(), key.data(), key.size());
  out->key_len = static_cast<std::uint8_t>(key.size());
}

// _meta_flag_preparse: every token from `first` on is a flag. `error` starts as the line's
// default error ("bad command line format"), which a bad F value leaves in place.
Preparse PreparseFlags(const Tokens& tok, std::size_t first, MetaRequest* out) {
  Preparse r;
  r.error = kBadFormatLine;
  const std::string_view key = tok.t[1];
  for (std::size_t i = first; i < tok.n; ++i) {
    const std::string_view f = tok.t[i];
    const auto o = static_cast<unsigned char>(f[0]);
    // memcached tracks seen flags in a 127-entry table and calls any byte past it a duplicate.
    const unsigned bit = o - unsigned{'A'};
    if (o >= 127 || (bit < 64 && (out->present >> bit & 1) != 0)) {
      return {false, kDuplicateFlag};
    }
    const std::string_view value = f.substr(1);
    switch (o) {
      case 'b': {
        const std::size_t n = Base64Decode(key.data(), key.size(), out->key_buf.data());
        if (n == 0) {
          r = {false, kDecodeKey};
        }
        out->key_len = static_cast<std::uint8_t>(n);
        out->key_binary = true;
        break;
      }
      case 'N':
      case 'T':
      case 'R': {
        std::int32_t v;
        if (!SafeStrtol(value, &v)) {
          r = {false, kBadToken};
        } else if (o == 'N') {
          out->vivify_ttl = v;
        } else if (o == 'T') {
          out->ttl = v;
        } else {
          out->recache_ttl = v;
        }
        break;
      }
      case 'F':
        if (!SafeStrtoul(value, &out->client_flags)) r.ok = false;  // keeps the current message
        break;
      case 'C':
        if (!SafeStrtoull(value, &out->cas)) r = {false, kBadToken};
        break;
      case 'E':  // memcached 1.6.27 and later
        if (!SafeStrtoull(value, &out->new_cas)) r = {false, kBadToken};
        break;
      case 'Y':  // ours, peer-only: the minter's ring name (meta.h)
        if (value.empty() || value.size() > out->minter_buf.size()) {
          r = {false, kBadToken};
        } else {
          std::memcpy(out->minter_buf.data(), value.data(), value.size());
          out->minter_len = static_cast<std::uint8_t>(value.size());
        }
        break;
      case 'M':
        if (f.size() != 2) {
          r = {false, kBadModeLength};
        } else {
          out->mode = f[1];
        }
        break;
      case 'J':
        if (!SafeStrtoull(value, &out->initial)) r = {false, kBadInitial};
        break;
      case 'D':
        if (!SafeStrtoull(value, &out->delta)) r = {false, kBadDelta};
        break;
      case 'O':
        // The length is checked after the pre-parse; keep what fits for the echo.
        if (f.size() <= kMaxOpaqueToken) {
          std::memcpy(out->opaque_buf.data(), value.data(), value.size());
          out->opaque_len = static_cast<std::uint8_t>(value.size());
        }
        break;
      case 'I': case 'P': case 'L': case 'k': case 's': case 't': case 'c': case 'f':
      case 'v': case 'h': case 'u': case 'q': case 'l':
        break;
      default:
        return {false, kInvalidFlag};
    }
    out->present |= std::uint64_t{1} << bit;
    out->flags[out->nflags++] = f[0];
  }
  return r;
}

// Whether an O token is longer than memcached allows.
bool OpaqueTooLong(const Tokens& tok, std::size_t first) {
  for (std::size_t i = first; i < tok.n; ++i) {
    if (tok.t[i][0] == 'O' && tok.t[i].size() > kMaxOpaqueToken) return true;
  }
  return false;
}

// mg, md, ma: `<mc> <key> <flag>*`.
MetaParseResult FinishKeyed(const Tokens& tok, std::size_t consumed, MetaRequest* out) {
  if (tok.n < 2) return Error(consumed, kErrorLine);
  if (tok.t[1].size() > kMaxKeyLength) return Error(consumed, kBadFormatLine);
  if (tok.n >= kTooManyTokens) {
    return Error(consumed, out->command == MetaCommand::kGet ? kGetFlagsTooLong : kFlagsTooLong);
  }
  const Preparse p = PreparseFlags(tok, 2, out);
  if (!p.ok) {
    return Error(consumed, out->command == MetaCommand::kGet ? p.error : kInvalidOrDuplicate);
  }
  if (!out->key_binary) CopyKey(tok.t[1], out);
  if (out->command == MetaCommand::kArithmetic) {
    switch (out->mode) {
      case 0: case 'I': case '+': case 'D': case '-':
        break;
      default:
        return Error(consumed, kBadArithMode);
    }
  }
  if (OpaqueTooLong(tok, 2)) return Error(consumed, kOpaqueTooLong);
  return Ok(consumed);
}

// ms: `ms <key> <datalen> <flag>*`, then the data block.
MetaParseResult FinishSet(const Tokens& tok, std::size_t consumed, MetaRequest* out) {
  if (tok.n < 2) return Error(consumed, kErrorLine);
  if (tok.t[1].size() > kMaxKeyLength || tok.n == 2) return Error(consumed, kBadFormatLine);
  if (tok.n >= kTooManyTokens) return Error(consumed, kFlagsTooLong);
  std::int32_t vlen;
  if (!SafeStrtol(tok.t[2], &vlen) || vlen < 0 || vlen > kMaxValueLength) {
    return Error(consumed, kBadFormatLine);
  }
  out->value_len = static_cast<std::uint32_t>(vlen);
  // From here on an error discards the data block (process_mset_command's conn_swallow).
  const std::size_t swallow = static_cast<std::size_t>(vlen) + 2;
  const Preparse p = PreparseFlags(tok, 3, out);
  if (!p.ok) return Error(consumed, p.error, swallow);
  if (!out->key_binary) CopyKey(tok.t[1], out);
  switch (out->mode) {
    case 0: case 'S': case 'E': case 'A': case 'P': case 'R':
      break;
    default:
      return Error(consumed, kBadSetMode, swallow);
  }
  if (OpaqueTooLong(tok, 3)) return Error(consumed, kOpaqueTooLong, swallow);
  return Ok(consumed);
}

// me: `me <key> [b]` (process_meta_command). Only an exact "b" third token decodes the key;
// anything else after the key is ignored.
MetaParseResult FinishDebug(const Tokens& tok, std::size_t consumed, MetaRequest* out) {
  if (tok.n < 2 || tok.t[1].size() > kMaxKeyLength) return Error(consumed, kBadFormatLine);
  const std::string_view key = tok.t[1];
  if (tok.n >= 3 && tok.t[2] == "b") {
    const std::size_t n = Base64Decode(key.data(), key.size(), out->key_buf.data());
    if (n == 0) return Error(consumed, kBadFormatLine);
    out->key_len = static_cast<std::uint8_t>(n);
    out->key_binary = true;
  } else {
    CopyKey(key, out);
  }
  return Ok(consumed);
}

}  // namespace

MetaSetMode MetaRequest::set_mode() const {
  switch (mode) {
    case 'E': return MetaSetMode::kAdd;
    case 'A': return MetaSetMode::kAppend;
    case 'P': return MetaSetMode::kPrepend;
    case 'R': return MetaSetMode::kReplace;
    default: return MetaSetMode::kSet;
  }
}

MetaParseResult MetaParser::Parse(std::string_view in, MetaRequest* out) const {
  if (in.empty()) return {};
  const char* const begin = in.data();
  const char* const limit = begin + in.size();
  const char* const nl = static_cast<const char*>(std::memchr(begin, '\n', in.size()));
  if (nl == nullptr) {
    // A meta line is never a multi-get, the only line memcached waits for past 2048 bytes.
    if (in.size() > kMaxLineWithoutNewline) return {ParseStatus::kClose, 0, {}, 0};
    return {};
  }
  const std::size_t consumed = static_cast<std::size_t>(nl - begin) + 1;
  const char* end = nl;
  if (end - begin > 1 && end[-1] == '\r') --end;

  out->command = MetaCommand::kNoop;
  out->nflags = 0;
  out->present = 0;
  out->ttl = 0;
  out->vivify_ttl = 0;
  out->recache_ttl = 0;
  out->cas = 0;
  out->client_flags = 0;
  out->delta = 1;
  out->initial = 0;
  out->mode = 0;
  out->value_len = 0;
  out->key_binary = false;
  out->key_len = 0;
  out->opaque_len = 0;
  out->new_cas = 0;
  out->minter_len = 0;

  // Split as tokenize_command does. Twenty tokens are enough to know a line is too long.
  Tokens tok;
  const char* p = begin;
  while (tok.n < kTooManyTokens) {
    while (p < end && *p == ' ') ++p;
    if (p == end) break;
    const char* s = p;
    p = FindDelimiter(p, end, limit);
    if (p < end && *p == '\0') end = p;
    if (p == s) break;
    tok.t[tok.n++] = std::string_view(s, static_cast<std::size_t>(p - s));
  }

  if (tok.n == 0 || tok.t[0].size() != 2 || tok.t[0][0] != 'm') return Error(consumed, kErrorLine);
  switch (tok.t[0][1]) {
    case 'g':
      out->command = MetaCommand::kGet;
      return FinishKeyed(tok, consumed, out);
    case 's':
      out->command = MetaCommand::kSet;
      return FinishSet(tok, consumed, out);
    case 'd':
      out->command = MetaCommand::kDelete;
      return FinishKeyed(tok, consumed, out);
    case 'a':
      out->command = MetaCommand::kArithmetic;
      return FinishKeyed(tok, consumed, out);
    case 'n':
      out->command = MetaCommand::kNoop;
      return Ok(consumed);
    case 'e':
      out->command = MetaCommand::kDebug;
      return FinishDebug(tok, consumed, out);
    default:
      return Error(consumed, kErrorLine);
  }
}

bool IsMetaCommand(std::string_view in) {
  std::size_t i = 0;
  while (i < in.size() && in[i] == ' ') ++i;
  if (in.size() - i < 3 || in[i] != 'm') return false;
  const char c1 = in[i + 1];
  if (c1 == ' ' || c1 == '\0' || c1 == '\n' || c1 == '\r') return false;
  const char c2 = in[i + 2];
  if (c2 == ' ' || c2 == '\0' || c2 == '\n') return true;
  // "mg\r\n": the '\r' is dropped only right before the '\n'.
  return c2 == '\r' && in.size() - i > 3 && in[i + 3] == '\n';
}

}  // namespace rc::proto
