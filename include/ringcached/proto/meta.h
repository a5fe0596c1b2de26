// proto/meta.h -- memcached's meta protocol (mg, ms, md, ma, mn, me): the command-line parser and
// the reply encoders.
//
// A meta command is one line, `<mc> <key> <flag>*` (ms: `ms <key> <datalen> <flag>*`, followed by
// a data block). A flag is one character, some with a token glued on (T30, Oabc, MD). The parser
// sees bytes only, exactly like TextParser (text_parser.h): it is handed everything buffered, looks
// at the first line, never reads past the input, never allocates and keeps no state between calls.
// An ms data block is not part of the parse: the caller reads value_len + 2 bytes straight into the
// item, as for `set`, and checks the trailing "\r\n" itself ("CLIENT_ERROR bad data chunk").
//
// Unlike a text Request, a MetaRequest owns its bytes: the key (decoded from base64 under `b`)
// and the opaque are copied into it, so it stays valid after the input is consumed. That is what
// lets the connection keep an ms request while its data block arrives.
//
// Replies: the engine executes a MetaRequest and reports what it found in a MetaReplyInfo; the
// encoders below turn request + info into the reply line, echoing return flags in request order as
// memcached does. Values are never copied here: for `mg ... v` the caller sends the value (with its
// "\r\n") from item memory right after the line.
//
// Reference: memcached 1.6.18 proto_text.c (process_mget_command, process_mset_command,
// process_mdelete_command, process_marithmetic_command, process_meta_command,
// _meta_flag_preparse); ../shared/PROTOCOL.md sections 3a and 4; the meta cases of
// ../shared/reference/memcached-1.6.18-transcript.txt.
//
// Thread-safety: MetaParser is stateless and may be shared; the functions are pure.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ringcached/proto/limits.h"
#include "ringcached/proto/text_parser.h"

namespace rc::proto {

enum class MetaCommand : std::uint8_t {
  kGet,         // mg
  kSet,         // ms: a data block of value_len bytes + "\r\n" follows the line
  kDelete,      // md
  kArithmetic,  // ma
  kNoop,        // mn: reply "MN\r\n" (and flush)
  kDebug,       // me
};

// memcached refuses a meta line of 20 or more tokens (MFLAG_MAX_OPT_LENGTH counts the tokenizer's
// terminal token too), so mg/md/ma carry at most 17 flags after the key and ms 16.
inline constexpr std::size_t kMaxMetaFlags = 17;
// The longest O token accepted, the 'O' included (MFLAG_MAX_OPAQUE_LENGTH).
inline constexpr std::size_t kMaxOpaqueToken = 32;

// ms modes (M flag): S set (default), E add, A append, P prepend, R replace.
enum class MetaSetMode : std::uint8_t { kSet, kAdd, kAppend, kPrepend, kReplace };

// One parsed meta command. Fields other than `command` are meaningful only for the commands and
// flags that set them; Has() tells which flags were given.
struct MetaRequest {
  MetaCommand command = MetaCommand::kNoop;

  // The flags in request order: the first byte of each flag token. Return flags are echoed in
  // this order.
  std::array<char, kMaxMetaFlags> flags{};
  std::uint8_t nflags = 0;
  // One bit per flag letter present, bit (c - 'A'); every valid flag is a letter.
  std::uint64_t present = 0;

  // Token values (as sent; exptimes are converted by the engine with memcached's realtime()).
  std::int32_t ttl = 0;            // T<ttl>: new expiry (mg, ms, md with I, ma)
  std::int32_t vivify_ttl = 0;     // N<ttl>: mg vivify on miss / ma create on miss, with this TTL
  std::int32_t recache_ttl = 0;    // R<ttl>: mg, win a recache when the TTL left is below this
  std::uint64_t cas = 0;           // C<cas>: compare (ms, md, ma)
  std::uint64_t new_cas = 0;       // E<cas>: the CAS a write gives the item (ms, md I, ma, mg N)
  // Y<name>: peer-only (not memcached's): a write from a peer that applies only if newer than
  // what this node holds; <name> is the node that minted its version. Accepted only on an
  // authenticated peer session (server/, REPLICATION.md section 4).
  std::string_view minter() const { return {minter_buf.data(), minter_len}; }
  std::uint32_t client_flags = 0;  // F<flags>: ms (values >= 2^32 truncate, as for `set`)
  std::uint64_t delta = 1;         // D<delta>: ma (default 1)
  std::uint64_t initial = 0;       // J<initial>: ma create value (default 0)
  char mode = 0;                   // M<mode>: the mode character, 0 when absent
  std::uint32_t value_len = 0;     // ms <datalen>
  bool key_binary = false;         // `b`: the key was base64 and key() is the decoded bytes

  bool Has(char c) const {
    const unsigned bit = static_cast<unsigned char>(c) - unsigned{'A'};
    return bit < 64 && (present >> bit & 1) != 0;
  }
  // `q`: the nominal reply is suppressed (see MetaReplySuppressed); errors are always sent.
  bool quiet() const { return Has('q'); }
  std::string_view key() const { return {key_buf.data(), key_len}; }
  // The O token's bytes after the 'O' (echoed as "O<opaque>").
  std::string_view opaque() const { return {opaque_buf.data(), opaque_len}; }
  // ms: the store mode (validated by the parser).
  MetaSetMode set_mode() const;
  // ma: increment (M absent, I or +) or decrement (D or -).
  bool incr() const { return mode != 'D' && mode != '-'; }

  std::array<char, kMaxKeyLength> key_buf{};
  std::uint8_t key_len = 0;
  std::array<char, kMaxOpaqueToken - 1> opaque_buf{};
  std::uint8_t opaque_len = 0;
  std::array<char, 255> minter_buf{};
  std::uint8_t minter_len = 0;
};

struct MetaParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;
  // kError: the whole reply line without "\r\n". Meta errors are sent even under `q`.
  std::string_view error;
  // kError on an ms line whose <datalen> was read: memcached discards the data block, so the
  // caller skips this many bytes (value_len + 2) after the line. 0 otherwise (the block, if any,
  // is then parsed as commands, as memcached does).
  std::size_t swallow = 0;
};

class MetaParser {
 public:
  // Parses one meta command line from the front of `in` (the caller routes a line here when
  // IsMetaCommand() says so). kOk: *out holds the request made of the first `consumed` bytes.
  // kNeedMore: no '\n' yet. kError: reply `error`, skip `consumed` (+ `swallow`) bytes. kClose:
  // more than 2048 bytes without a '\n' (memcached closes such connections).
  MetaParseResult Parse(std::string_view in, MetaRequest* out) const;
};

// Whether the buffered line starts with a meta command: after any spaces, a two-byte token that
// begins with 'm' ("mg", "mn", also unknown ones such as "mz", which the meta parser answers with
// ERROR). False when the bytes so far cannot tell yet; the text parser then asks for more.
bool IsMetaCommand(std::string_view in);

// ---------------------------------------------------------------------------------------------
// Replies

enum class MetaStatus : std::uint8_t {
  kHD,  // success, no value (HD)
  kVA,  // success with a value: "VA <len> <flags>*\r\n" then the value
  kEN,  // mg miss
  kNF,  // not found (md, ma, ms with C or MR)
  kNS,  // not stored (ms, ma)
  kEX,  // CAS mismatch (ms, md, ma)
};

// What the return flags report, filled in by the engine. Views point into the item or the request
// and must outlive the Format call only.
struct MetaReplyInfo {
  MetaStatus status = MetaStatus::kEN;
  std::uint32_t value_len = 0;     // VA <len> and `s` (mg)
  std::uint32_t client_flags = 0;  // f
  std::uint64_t cas = 0;           // c (ms: the new CAS when stored, else 0)
  std::int64_t ttl = -1;           // t: seconds left, -1 for never
  std::uint32_t idle = 0;          // l: seconds since the last access
  bool fetched = false;            // h: fetched before this request
  bool win = false;                // W: this client won the right to recache
  bool stale = false;              // X: the item is stale (invalidated)
  bool win_sent = false;           // Z: another client already holds the win
  bool created = false;            // mg N vivified / ma N created the item
  std::uint64_t number = 0;        // ma with v: the counter sent as the value
  std::string_view key;            // k: the key as stored (raw bytes)
  bool key_binary = false;         // k: send the key base64-encoded, followed by " b"
};

inline constexpr std::string_view kMetaNoop = "MN\r\n";
inline constexpr std::string_view kMetaMiss = "EN\r\n";  // me on a miss
// An E token the node cannot use as a version: 0, or ahead of its clock by more than
// --max-clock-skew-ms (Engine::AdmitMetaCas). Our reply; memcached takes any token.
inline constexpr std::string_view kMetaCasRefused = "CLIENT_ERROR E token out of range\r\n";
// The peer-only flag Y on a session that is not an authenticated peer link, or on a command a
// peer does not send that way (only ms and md with E, and mg with T, C and E, take it). Ours.
inline constexpr std::string_view kMetaPeerOnly = "CLIENT_ERROR bad peer command\r\n";
// A peer write to a fenced node (ringcached's; cluster/lease.h): not applied, the sender resyncs.
inline constexpr std::string_view kMetaFenced = "SERVER_ERROR fenced\r\n";
// ma creating an item on a miss (N) could not allocate it.
inline constexpr std::string_view kMetaCreateNoMemory =
    "SERVER_ERROR Out of memory allocating new item\r\n";

// Room a meta reply line needs: status and length, every return flag at its longest (the key
// base64-encoded with " b" after it), W/X/Z, and for ma the counter with its "\r\n".
inline constexpr std::size_t kMaxMetaReply = 640;

// Formats the reply line for `req` (mg, ms, md or ma) into buf (kMaxMetaReply bytes), "\r\n"
// included; for ma with `v` the counter and its "\r\n" follow. Returns the length.
std::size_t FormatMetaReply(char* buf, const MetaRequest& req, const MetaReplyInfo& info);

// Whether `q` suppresses this reply, as memcached 1.6.18 does: mg's EN, ms's HD, md's HD and
// ma's HD/VA (but not when ma created the item). Everything else is sent.
bool MetaReplySuppressed(const MetaRequest& req, const MetaReplyInfo& info);

// What `me` shows of an item.
struct MetaDebugInfo {
  std::string_view key;
  bool key_binary = false;  // show the key base64-encoded
  std::int32_t exp = -1;    // -1 for never, else now - exptime (memcached prints it negative)
  std::uint32_t la = 0;     // seconds since the last access
  std::uint64_t cas = 0;
  bool fetched = false;
  unsigned cls = 0;
  std::uint64_t size = 0;   // memcached's ITEM_ntotal of the item
};

inline constexpr std::size_t kMaxMetaDebugReply = 512;

// "ME <key> exp=<e> la=<s> cas=<n> fetch=yes|no cls=<c> size=<n>\r\n" into buf
// (kMaxMetaDebugReply bytes). Returns the length.
std::size_t FormatMetaDebug(char* buf, const MetaDebugInfo& info);

// Base64 as memcached's base64.c does it (exposed for the engine's tests and tools).
// Base64Decode: bytes outside the alphabet are skipped, the rest must come in groups of four, and
// decoding stops after the first group with padding. Returns the decoded length (at most
// len / 4 * 3, written to out), or 0 when the input is not valid base64.
std::size_t Base64Decode(const char* src, std::size_t len, char* out);
// Standard base64 with '=' padding; out needs (len + 2) / 3 * 4 bytes. Returns the length.
std::size_t Base64Encode(const char* src, std::size_t len, char* out);
// Whether a text or meta line can carry `key` as it is: no control character, space or byte
// above 0x7e (a binary client's key may hold any); otherwise it goes base64, with meta's `b`.
bool IsPlainKey(std::string_view key);

}  // namespace rc::proto
