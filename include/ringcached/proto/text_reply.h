// proto/text_reply.h -- encoders for the text protocol's reply lines.
//
// Each function formats into a caller-provided buffer and returns the number of bytes written;
// they never allocate. The fixed replies are string constants so the connection can send them
// without formatting. Value bytes are never copied here: a "VALUE" header is formatted, and the
// connection sends the value (with its trailing "\r\n") from item memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rc::proto {

inline constexpr std::string_view kStored = "STORED\r\n";
inline constexpr std::string_view kNotStored = "NOT_STORED\r\n";
inline constexpr std::string_view kExists = "EXISTS\r\n";
inline constexpr std::string_view kNotFound = "NOT_FOUND\r\n";
inline constexpr std::string_view kDeleted = "DELETED\r\n";
inline constexpr std::string_view kTouched = "TOUCHED\r\n";
inline constexpr std::string_view kOkReply = "OK\r\n";
inline constexpr std::string_view kEnd = "END\r\n";
inline constexpr std::string_view kErrorReply = "ERROR\r\n";
inline constexpr std::string_view kReset = "RESET\r\n";
inline constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk\r\n";
inline constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format\r\n";
inline constexpr std::string_view kTooLarge = "SERVER_ERROR object too large for cache\r\n";
inline constexpr std::string_view kNoMemory = "SERVER_ERROR out of memory storing object\r\n";
inline constexpr std::string_view kNonNumeric =
    "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
inline constexpr std::string_view kIncrNoMemory = "SERVER_ERROR out of memory\r\n";

// Longest VALUE header: "VALUE " + 250-byte key + 3 numbers + spaces + "\r\n".
inline constexpr std::size_t kMaxValueHeader = 6 + 250 + 1 + 10 + 1 + 10 + 1 + 20 + 2;

// "VALUE <key> <flags> <bytes>[ <cas>]\r\n" into buf (at least kMaxValueHeader bytes).
std::size_t FormatValueHeader(char* buf, std::string_view key, std::uint32_t flags,
                              std::uint32_t bytes, bool with_cas, std::uint64_t cas);

// Decimal text of v; buf needs 20 bytes. Returns the length.
std::size_t FormatUint64(char* buf, std::uint64_t v);

}  // namespace rc::proto
