// proto/client_codec.h -- the client's side of the three protocols: requests encoded, replies
// parsed. The server's side (text_parser.h, meta.h, binary.h) parses requests and writes replies;
// a node talking to its peers, the ring tool asking a node for its members, the load generator
// and the client library all need the other direction, and one copy of it, tested against the
// server's side (t/unit/proto/client_codec_test.cc round-trips every encoder through the
// server's parsers and every server reply through these parsers).
//
// Encoders append to a std::string and never fail: the caller passes valid keys (1-250 bytes,
// no control characters or spaces for text and meta). Reply parsers take what has arrived, say
// kNeedMore until one whole reply is there (consuming nothing), and otherwise hand back views
// into the input and how many bytes the reply took. kError means the bytes are not a reply of
// that protocol at all: the stream is lost and the connection must close.
//
// Thread-safety: none needed; every function works on its arguments only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "ringcached/proto/binary.h"
#include "ringcached/proto/meta.h"

namespace rc::proto::client {

enum class ReplyStatus : unsigned char {
  kOk,        // one whole reply parsed; `consumed` bytes of the input are its
  kNeedMore,  // not all of it has arrived
  kError,     // not a reply: the connection is lost
};

// ---- text -------------------------------------------------------------------------------------

// "get k1 k2 ...\r\n" ("gets" with `with_cas`).
void AppendTextGet(std::string* out, std::initializer_list<std::string_view> keys,
                   bool with_cas = false);
// "<command> <key> <flags> <exptime> <bytes>[ <cas>][ noreply]\r\n<value>\r\n", for command
// set, add, replace, append, prepend, or cas (then `cas` is sent).
void AppendTextStore(std::string* out, std::string_view command, std::string_view key,
                     std::uint32_t flags, std::int64_t exptime, std::string_view value,
                     std::uint64_t cas = 0, bool noreply = false);
// Any other command line: `line` and "\r\n" ("delete k", "incr k 5", "config get cluster").
void AppendTextLine(std::string* out, std::string_view line);

// One unit of a text reply: a data block (VALUE, or CONFIG: ElastiCache's `config get`), or a
// line (END, STORED, a number, an error...).
struct TextReply {
  enum class Kind : unsigned char { kLine, kValue, kConfig };
  Kind kind = Kind::kLine;
  std::string_view line;   // kLine: the line without "\r\n"
  std::string_view key;    // kValue, kConfig: the block's key, flags, cas (if sent) and data
  std::uint32_t flags = 0;
  std::optional<std::uint64_t> cas;
  std::string_view value;
  std::size_t consumed = 0;
  // kLine: memcached's three error lines (ERROR, CLIENT_ERROR ..., SERVER_ERROR ...).
  bool is_error() const;
};
// Parses the unit at the front of `in`. A retrieval's reply is its VALUE units, then the line
// "END" (`config get`: a CONFIG unit, then "END"); every other reply is one line.
ReplyStatus ParseTextReply(std::string_view in, TextReply* out);

// ---- meta -------------------------------------------------------------------------------------

// "<command> <key>[ <flags>]\r\n" for mg, md, ma, mn (mn takes no key: pass it empty); for ms,
// "ms <key> <value length>[ <flags>]\r\n<value>\r\n". `flags` is the space-separated flag
// tokens as sent ("v f t", "T30 F5 q").
void AppendMeta(std::string* out, std::string_view command, std::string_view key,
                std::string_view flags, std::string_view value = {});

// A meta request as the server parsed it (meta.h), written out again with the same flags in
// the same order (q left out when `drop_quiet`): how a node sends a client's meta command on to
// the key's owner (server/forwarder.h). A binary key (`b`) goes base64 again. `value` is an ms's
// data.
void AppendMetaRequest(std::string* out, const MetaRequest& req, std::string_view value = {},
                       bool drop_quiet = false);

// One meta reply: "VA <size>[ <flags>]\r\n<data>\r\n", or a code line ("HD", "EN", "NF", "NS",
// "EX", "MN") with its flags, or an error line (code "CLIENT_ERROR", "SERVER_ERROR", "ERROR").
struct MetaReply {
  std::string_view code;   // "VA", "HD", "EN", "NF", "NS", "EX", "MN", or the error word
  std::string_view flags;  // the return flags as sent back ("f5 t-1 c42"); an error's message
  std::string_view value;  // VA: the data
  std::size_t consumed = 0;
  // The token of return flag `f` without its letter ("5" for "f5", "" for a bare "b"), or
  // nullopt when the reply does not carry it.
  std::optional<std::string_view> Flag(char f) const;
  bool is_error() const;
};
ReplyStatus ParseMetaReply(std::string_view in, MetaReply* out);

// ---- binary -----------------------------------------------------------------------------------

struct BinaryRequest {
  std::uint8_t opcode = binary::kNoop;
  std::string_view key;
  std::string_view extras;
  std::string_view value;
  std::uint32_t opaque = 0;
  std::uint64_t cas = 0;
};
void AppendBinary(std::string* out, const BinaryRequest& request);
// The extras of the storage opcodes (flags, exptime), of incr/decr (delta, initial, exptime)
// and of touch/gat (exptime), big-endian as the protocol wants; `buf` must hold 20 bytes.
std::string_view StorageExtras(char* buf, std::uint32_t flags, std::uint32_t exptime);
std::string_view CounterExtras(char* buf, std::uint64_t delta, std::uint64_t initial,
                               std::uint32_t exptime);
std::string_view TouchExtras(char* buf, std::uint32_t exptime);

struct BinaryReply {
  binary::Header header;   // vbucket_or_status is the status
  std::string_view extras;
  std::string_view key;
  std::string_view value;
  std::size_t consumed = 0;
  std::uint16_t status() const { return header.vbucket_or_status; }
};
// kError for a packet that is not a response (magic) or whose lengths do not add up.
ReplyStatus ParseBinaryReply(std::string_view in, BinaryReply* out);

}  // namespace rc::proto::client
