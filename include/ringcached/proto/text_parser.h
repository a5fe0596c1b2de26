// proto/text_parser.h -- the memcached text (ASCII) protocol parser.
//
// The parser sees bytes, never sockets or items: the caller passes everything it has buffered
// and calls Parse() again when more arrives. That is what lets t/unit/proto test it with plain
// strings fed one byte at a time and t/fuzz feed it garbage. It never reads past the input, never
// allocates and never blocks; it is stateless between calls, so one instance may be shared.
//
// Storage commands parse only their command line: the caller then reads value_len + 2 bytes of
// data block itself (straight into the item), checks the trailing "\r\n" ("CLIENT_ERROR bad data
// chunk" otherwise) and carries on after them.
//
// Reference: memcached 1.6.18 proto_text.c, doc/protocol.txt; ../shared/PROTOCOL.md sections 1-3.
#pragma once

#include <cstddef>
#include <string_view>

#include "ringcached/proto/request.h"

namespace rc::proto {

enum class ParseStatus : unsigned char {
  kOk,        // *out holds one request made of the first `consumed` bytes
  kNeedMore,  // no complete line yet; call again with more bytes (consumed == 0)
  kError,     // reply the line `error` (unless out->noreply), skip `consumed` bytes, carry on
  kClose,     // close the connection without a reply (overlong line, HTTP request)
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;
  // For kError: the whole reply line without "\r\n", e.g. "ERROR" or
  // "CLIENT_ERROR bad command line format". Points to static storage.
  std::string_view error;
};

class TextParser {
 public:
  // Parses at most one request from the front of `in`. On kError, out->noreply tells whether the
  // request asked for no reply before the error was found (memcached then suppresses the error).
  ParseResult Parse(std::string_view in, Request* out) const;
};

}  // namespace rc::proto
