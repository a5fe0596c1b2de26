// proto/text_parser.cc -- the memcached text protocol's command-line parser (TextParser::Parse).
//
// One call looks at the front of the caller's buffer, finds the first '\n' with memchr, splits
// that line on spaces in a single pass and fills a Request whose views point into the buffer. It
// reads nothing past `in`, allocates nothing and keeps no state between calls.
//
// Every rule here reproduces memcached 1.6.18 (proto_text.c: try_read_command_ascii,
// tokenize_command, process_command_ascii and the process_*_command functions; util.c: the
// safe_strto* number parsers), including quirks that a client could observe. Each quirk is
// commented where it is reproduced. The checks run in memcached's order, because the order decides
// which error line a malformed request gets and whether `noreply` was already seen.
//
// Where to read more: ../shared/PROTOCOL.md sections 1-3 and 3a, and the stock server's answers in
// ../shared/reference/memcached-1.6.18-transcript.txt.
#include "ringcached/proto/text_parser.h"

#include <cstdint>
#include <cstring>

#include "proto/text_scan.h"
#include "ringcached/base/check.h"

namespace rc::proto {
namespace {

using internal::FindDelimiter;
using internal::SafeStrtol;
using internal::SafeStrtoul;
using internal::SafeStrtoull;

// The reply lines this parser can produce (TextParser::Parse returns them without "\r\n").
constexpr std::string_view kErrorLine = "ERROR";
constexpr std::string_view kBadFormatLine = "CLIENT_ERROR bad command line format";
// Two spaces after the period, as memcached sends it (t/issue_3.t).
constexpr std::string_view kDeleteUsageLine =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
constexpr std::string_view kBadExptimeLine = "CLIENT_ERROR invalid exptime argument";
constexpr std::string_view kBadDeltaLine = "CLIENT_ERROR invalid numeric delta argument";

// memcached's tokenizer fills MAX_TOKENS slots, the last of which is a terminal marker, so a
// command sees at most this many real tokens; any further ones are invisible to it. Token-count
// checks and the "last token" (noreply, HTTP/) therefore look at no more than this many.
constexpr std::size_t kVisibleTokens = kMaxTokens - 1;

// The leading-space allowance try_read_command_ascii gives a long get line without a '\n'.
constexpr std::size_t kMaxLeadingSpaces = 100;

inline ParseResult Ok(std::size_t consumed) { return {ParseStatus::kOk, consumed, {}}; }
inline ParseResult Error(std::size_t consumed, std::string_view line) {
  return {ParseStatus::kError, consumed, line};
}
inline ParseResult NeedMore() { return {ParseStatus::kNeedMore, 0, {}}; }
inline ParseResult Close() { return {ParseStatus::kClose, 0, {}}; }

inline bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// No '\n' in the buffer yet. memcached keeps waiting until more than 2048 bytes are buffered, then
// closes unless the line is a multi-get (after at most 100 leading spaces), whose key list may be
// any length (t/getset.t sends one of ~187 KB).
ParseResult NoNewline(std::string_view in) {
  if (in.size() <= kMaxLineWithoutNewline) return NeedMore();
  std::size_t spaces = 0;
  while (spaces <= kMaxLeadingSpaces && in[spaces] == ' ') ++spaces;
  if (spaces > kMaxLeadingSpaces) return Close();
  std::string_view rest = in.substr(spaces);
  if (StartsWith(rest, "get ") || StartsWith(rest, "gets ")) return NeedMore();
  return Close();
}

// The state of one line while its command is interpreted.
struct Line {
  std::size_t consumed;  // bytes up to and including the '\n'
  const char* end;       // end of the line's content ('\r' stripped, cut at a NUL)
  const char* rest;      // first byte after the last token stored in out->tokens
  const char* limit;     // end of the caller's input: FindDelimiter may load up to here
  std::size_t ntok;      // tokens stored (at most kMaxTokens)

  // The token memcached's set_noreply_maybe() and the HTTP check look at: the last one it sees.
  std::string_view Last(const Request& r) const {
    return r.tokens[(ntok < kVisibleTokens ? ntok : kVisibleTokens) - 1];
  }
  // set_noreply_maybe(): only the exact last token "noreply" counts.
  void NoreplyMaybe(Request* r) const {
    if (Last(*r) == "noreply") r->noreply = true;
  }
};

// get/gets/gat/gats/bget: the (unbounded) key list. The first keys are already tokens; the rest of
// the line is scanned here. Keys of a gat start after <exptime>. Key lengths are checked by the
// caller, key by key, because memcached looks up the keys before a long one (and counts them)
// before it answers "CLIENT_ERROR bad command line format" (proto_text.c process_get_command).
ParseResult FinishRetrieval(const Line& line, std::size_t first_key, Request* out) {
  const char* keys_begin = line.end;
  const char* keys_end = line.end;
  if (first_key < line.ntok) {
    keys_begin = out->tokens[first_key].data();
    const std::string_view last = out->tokens[line.ntok - 1];
    keys_end = last.data() + last.size();
  }
  if (line.ntok == kMaxTokens) {
    // More keys than token slots: scan the remainder of the line.
    const char* p = line.rest;
    const char* end = line.end;
    while (p < end) {
      if (*p == ' ') {
        ++p;
        continue;
      }
      const char* s = p;
      p = FindDelimiter(p, end, line.limit);
      if (RC_UNLIKELY(p < end && *p == '\0')) end = p;  // the line ends at a NUL, as for memcached
      if (p == s) break;
      keys_end = p;
    }
  }
  out->keys = std::string_view(keys_begin, static_cast<std::size_t>(keys_end - keys_begin));
  return Ok(line.consumed);
}

// set/add/replace/append/prepend: <key> <flags> <exptime> <bytes> [noreply];
// cas: <key> <flags> <exptime> <bytes> <cas unique> [noreply]. process_update_command.
ParseResult FinishStorage(const Line& line, bool with_cas, Request* out) {
  // Any 6th (7th for cas) token is allowed: it only matters if it is "noreply".
  const std::size_t want = with_cas ? 6 : 5;
  if (line.ntok != want && line.ntok != want + 1) return Error(line.consumed, kErrorLine);
  line.NoreplyMaybe(out);
  const std::string_view* t = out->tokens.data();
  if (t[1].size() > kMaxKeyLength) return Error(line.consumed, kBadFormatLine);
  out->key = t[1];
  std::int32_t exptime;
  std::int32_t vlen;
  if (!SafeStrtoul(t[2], &out->flags) || !SafeStrtol(t[3], &exptime) || !SafeStrtol(t[4], &vlen)) {
    return Error(line.consumed, kBadFormatLine);
  }
  if (with_cas && !SafeStrtoull(t[5], &out->cas_unique)) {
    return Error(line.consumed, kBadFormatLine);
  }
  // memcached refuses vlen > INT_MAX - 2 (it adds 2 for the "\r\n"), so INT_MAX - 2 itself passes.
  if (vlen < 0 || vlen > kMaxValueLength) return Error(line.consumed, kBadFormatLine);
  out->exptime = exptime;
  out->value_len = static_cast<std::uint32_t>(vlen);
  return Ok(line.consumed);
}

// delete <key> [0] [noreply]. process_delete_command: the legacy hold time must be exactly "0".
ParseResult FinishDelete(const Line& line, Request* out) {
  if (line.ntok < 2 || line.ntok > 4) return Error(line.consumed, kErrorLine);
  if (line.ntok > 2) {
    const bool hold_is_zero = out->tokens[2] == "0";
    line.NoreplyMaybe(out);
    const bool valid = (line.ntok == 3 && (hold_is_zero || out->noreply)) ||
                       (line.ntok == 4 && hold_is_zero && out->noreply);
    if (!valid) return Error(line.consumed, kDeleteUsageLine);
  }
  if (out->tokens[1].size() > kMaxKeyLength) return Error(line.consumed, kBadFormatLine);
  out->key = out->tokens[1];
  return Ok(line.consumed);
}

// incr/decr <key> <delta> [noreply]. process_arithmetic_command.
ParseResult FinishArithmetic(const Line& line, Request* out) {
  if (line.ntok != 3 && line.ntok != 4) return Error(line.consumed, kErrorLine);
  line.NoreplyMaybe(out);
  if (out->tokens[1].size() > kMaxKeyLength) return Error(line.consumed, kBadFormatLine);
  out->key = out->tokens[1];
  if (!SafeStrtoull(out->tokens[2], &out->delta)) return Error(line.consumed, kBadDeltaLine);
  return Ok(line.consumed);
}

// touch <key> <exptime> [noreply]. process_touch_command.
ParseResult FinishTouch(const Line& line, Request* out) {
  if (line.ntok != 3 && line.ntok != 4) return Error(line.consumed, kErrorLine);
  line.NoreplyMaybe(out);
  if (out->tokens[1].size() > kMaxKeyLength) return Error(line.consumed, kBadFormatLine);
  out->key = out->tokens[1];
  std::int32_t exptime;
  if (!SafeStrtol(out->tokens[2], &exptime)) return Error(line.consumed, kBadExptimeLine);
  out->exptime = exptime;
  return Ok(line.consumed);
}

// get/gets/bget <key>+ and gat/gats <exptime> <key>+. process_get_command.
ParseResult FinishGet(const Line& line, bool touch, Request* out) {
  if (line.ntok < 2) return Error(line.consumed, kErrorLine);
  if (!touch) return FinishRetrieval(line, 1, out);
  std::int32_t exptime;
  if (!SafeStrtol(out->tokens[1], &exptime)) return Error(line.consumed, kBadExptimeLine);
  out->exptime = exptime;
  // "gat 100" has no key at all; memcached answers END (observed), so it parses.
  return FinishRetrieval(line, 2, out);
}

// flush_all [delay] [noreply]. process_flush_all_command: the delay is read only when the token
// count says one is there, so "flush_all noreply" has none and "flush_all 10 20" has 10.
ParseResult FinishFlushAll(const Line& line, Request* out) {
  if (line.ntok > 3) return Error(line.consumed, kErrorLine);
  line.NoreplyMaybe(out);
  if (line.ntok != (out->noreply ? 2u : 1u)) {
    std::int32_t delay;
    if (!SafeStrtol(out->tokens[1], &delay)) return Error(line.consumed, kBadExptimeLine);
    out->exptime = delay;
    out->has_number = true;
  }
  return Ok(line.consumed);
}

// verbosity <level> [noreply] and cache_memlimit <MB> [noreply]: one uint32 argument. A bad one
// is "CLIENT_ERROR bad command line format" for verbosity but plain "ERROR" for cache_memlimit.
// "verbosity noreply" sets noreply and then fails the number, so nothing is sent (observed).
ParseResult FinishOneNumber(const Line& line, std::string_view bad_number, Request* out) {
  if (line.ntok != 2 && line.ntok != 3) return Error(line.consumed, kErrorLine);
  line.NoreplyMaybe(out);
  std::uint32_t n;
  if (!SafeStrtoul(out->tokens[1], &n)) return Error(line.consumed, bad_number);
  out->number = n;
  return Ok(line.consumed);
}

// Commands whose arguments server/ interprets from out->tokens.
ParseResult FinishAdmin(const Line& line, Request* out) {
  switch (out->command) {
    case Command::kShutdown:
      out->has_number = line.ntok == 2 && out->tokens[1] == "graceful";
      break;
    case Command::kLru:
      if (line.ntok < 2) return Error(line.consumed, kErrorLine);
      line.NoreplyMaybe(out);
      break;
    case Command::kWatch:
      line.NoreplyMaybe(out);
      break;
    case Command::kSlabs:
      // Only the "slabs automove" path calls set_noreply_maybe.
      if (line.ntok >= 3 && out->tokens[1] == "automove") line.NoreplyMaybe(out);
      break;
    default:
      break;
  }
  return Ok(line.consumed);
}

}  // namespace

ParseResult TextParser::Parse(std::string_view in, Request* out) const {
  if (in.empty()) return NeedMore();
  const char* const begin = in.data();
  const char* const limit = begin + in.size();
  const char* const nl = static_cast<const char*>(std::memchr(begin, '\n', in.size()));
  if (nl == nullptr) return NoNewline(in);

  Line line;
  line.consumed = static_cast<std::size_t>(nl - begin) + 1;
  const char* end = nl;
  // try_read_command_ascii strips one '\r' only when at least two bytes precede the '\n'. A lone
  // "\r\n" keeps its '\r' as a one-byte command, which is an ERROR like the empty line it looks
  // like, so the difference never shows.
  if (end - begin > 1 && end[-1] == '\r') --end;

  out->key = {};
  out->keys = {};
  out->flags = 0;
  out->exptime = 0;
  out->value_len = 0;
  out->cas_unique = 0;
  out->delta = 0;
  out->number = 0;
  out->has_number = false;
  out->noreply = false;

  // One pass: split on ' ' (runs of spaces are one separator), stop at a NUL (see IsDelimiter)
  // or when every token slot is full. Retrieval commands scan the rest later.
  std::string_view* const tokens = out->tokens.data();
  std::size_t ntok = 0;
  const char* p = begin;
  while (ntok < kMaxTokens) {
    while (p < end && *p == ' ') ++p;
    if (p == end) break;
    const char* s = p;
    p = FindDelimiter(p, end, limit);
    if (RC_UNLIKELY(p < end && *p == '\0')) end = p;
    if (p == s) break;
    tokens[ntok++] = std::string_view(s, static_cast<std::size_t>(p - s));
  }
  out->ntokens = static_cast<std::uint8_t>(ntok);
  line.end = end;
  line.rest = p;
  line.limit = limit;
  line.ntok = ntok;

  // No valid command is shorter than two bytes (process_command_ascii).
  if (ntok == 0 || tokens[0].size() < 2) return Error(line.consumed, kErrorLine);

  const std::string_view cmd = tokens[0];
  // Dispatch as process_command_ascii does: first on the first byte, then on the whole name. The
  // tree matters for errors: only names outside the lettered branches get the HTTP check.
  switch (cmd[0]) {
    case 'm':
      // Two-byte m-commands are memcached's meta protocol (mg, ms, md, ma, mn, me), which this
      // parser does not handle: the connection routes those lines to the meta parser before
      // calling Parse(). Any other m-name falls through to the generic branch below.
      if (cmd.size() == 2) return Error(line.consumed, kErrorLine);
      break;
    case 'g':
      if (ntok < 2) return Error(line.consumed, kErrorLine);
      if (cmd == "get") {
        out->command = Command::kGet;
        return FinishGet(line, false, out);
      }
      if (cmd == "gets") {
        out->command = Command::kGets;
        return FinishGet(line, false, out);
      }
      if (cmd == "gat") {
        out->command = Command::kGat;
        return FinishGet(line, true, out);
      }
      if (cmd == "gats") {
        out->command = Command::kGats;
        return FinishGet(line, true, out);
      }
      return Error(line.consumed, kErrorLine);
    case 's':
      if (cmd == "set") {
        out->command = Command::kSet;
        return FinishStorage(line, false, out);
      }
      if (cmd == "stats") {
        out->command = Command::kStats;
        return FinishAdmin(line, out);
      }
      if (cmd == "shutdown") {
        out->command = Command::kShutdown;
        return FinishAdmin(line, out);
      }
      if (cmd == "slabs") {
        out->command = Command::kSlabs;
        return FinishAdmin(line, out);
      }
      return Error(line.consumed, kErrorLine);
    case 'a':
      if (cmd == "add") {
        out->command = Command::kAdd;
        return FinishStorage(line, false, out);
      }
      if (cmd == "append") {
        out->command = Command::kAppend;
        return FinishStorage(line, false, out);
      }
      return Error(line.consumed, kErrorLine);
    case 'c':
      if (cmd == "cas") {
        out->command = Command::kCas;
        return FinishStorage(line, true, out);
      }
      if (cmd == "cache_memlimit") {
        out->command = Command::kCacheMemlimit;
        return FinishOneNumber(line, kErrorLine, out);
      }
      if (cmd == "config") {  // not memcached's: ElastiCache auto-discovery; server/ decides
        out->command = Command::kConfig;
        return FinishAdmin(line, out);
      }
      return Error(line.consumed, kErrorLine);
    case 'i':
      if (cmd == "incr") {
        out->command = Command::kIncr;
        return FinishArithmetic(line, out);
      }
      return Error(line.consumed, kErrorLine);
    case 'd':
      if (cmd == "delete") {
        out->command = Command::kDelete;
        return FinishDelete(line, out);
      }
      if (cmd == "decr") {
        out->command = Command::kDecr;
        return FinishArithmetic(line, out);
      }
      if (cmd == "debugtime") {
        // memcached has it only in debug builds; server/ decides whether to answer ERROR.
        out->command = Command::kDebugTime;
        return FinishAdmin(line, out);
      }
      return Error(line.consumed, kErrorLine);
    case 't':
      if (cmd == "touch") {
        out->command = Command::kTouch;
        return FinishTouch(line, out);
      }
      return Error(line.consumed, kErrorLine);
    default:
      break;
  }

  if (cmd == "replace" || cmd == "prepend") {
    out->command = cmd[0] == 'r' ? Command::kReplace : Command::kPrepend;
    return FinishStorage(line, false, out);
  }
  if (cmd == "bget") {  // an ancient alias of get that memcached still accepts
    out->command = Command::kGet;
    return FinishGet(line, false, out);
  }
  if (cmd == "flush_all") {
    out->command = Command::kFlushAll;
    return FinishFlushAll(line, out);
  }
  if (cmd == "version") {  // arguments ignored
    out->command = Command::kVersion;
    return Ok(line.consumed);
  }
  if (cmd == "quit") {
    out->command = Command::kQuit;
    return Ok(line.consumed);
  }
  if (cmd == "lru_crawler") {
    out->command = Command::kLruCrawler;
    return FinishAdmin(line, out);
  }
  if (cmd == "watch") {
    out->command = Command::kWatch;
    return FinishAdmin(line, out);
  }
  if (cmd == "verbosity") {
    out->command = Command::kVerbosity;
    return FinishOneNumber(line, kBadFormatLine, out);
  }
  if (cmd == "lru") {
    out->command = Command::kLru;
    return FinishAdmin(line, out);
  }
  if (cmd == "misbehave") {
    out->command = Command::kMisbehave;
    return FinishAdmin(line, out);
  }
  // Not memcached's: a peer link's handshake, the local lease's question, hand-off's report and
  // a batch of access hints (its keys a list, as a get's); server/ decides.
  if (cmd == "rc_hello" || cmd == "rc_auth" || cmd == "rc_lease" || cmd == "rc_handoff_done") {
    out->command = Command::kPeer;
    return FinishAdmin(line, out);
  }
  if (cmd == "rc_hints") {
    out->command = Command::kPeer;
    return FinishRetrieval(line, 1, out);
  }
  // An HTTP request line ("GET / HTTP/1.1") is not a confused memcached client: hang up without a
  // word (t/malicious-commands.t).
  if (StartsWith(line.Last(*out), "HTTP/")) return Close();
  return Error(line.consumed, kErrorLine);
}

}  // namespace rc::proto
