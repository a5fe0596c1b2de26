// proto/binary.h -- memcached's binary protocol: packet headers, opcodes, status codes, and the
// shape rules each opcode's request must satisfy.
//
// A packet is a 24-byte header followed by extras, key and value (in that order; the header gives
// their lengths). All integers are big-endian. This module only decodes and encodes headers and
// checks shapes; the connection reads bodies (a value goes straight into its item) and the engine
// executes. Reference: memcached doc/protocol-binary.txt, proto_bin.c dispatch_bin_command;
// ../shared/PROTOCOL.md section 5.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rc::proto::binary {

inline constexpr std::uint8_t kRequestMagic = 0x80;
inline constexpr std::uint8_t kResponseMagic = 0x81;
inline constexpr std::size_t kHeaderSize = 24;

enum Opcode : std::uint8_t {
  kGet = 0x00, kSet = 0x01, kAdd = 0x02, kReplace = 0x03, kDelete = 0x04, kIncrement = 0x05,
  kDecrement = 0x06, kQuit = 0x07, kFlush = 0x08, kGetQ = 0x09, kNoop = 0x0a, kVersion = 0x0b,
  kGetK = 0x0c, kGetKQ = 0x0d, kAppend = 0x0e, kPrepend = 0x0f, kStat = 0x10, kSetQ = 0x11,
  kAddQ = 0x12, kReplaceQ = 0x13, kDeleteQ = 0x14, kIncrementQ = 0x15, kDecrementQ = 0x16,
  kQuitQ = 0x17, kFlushQ = 0x18, kAppendQ = 0x19, kPrependQ = 0x1a, kTouch = 0x1c, kGat = 0x1d,
  kGatQ = 0x1e, kSaslListMechs = 0x20, kSaslAuth = 0x21, kSaslStep = 0x22, kGatK = 0x23,
  kGatKQ = 0x24,
};

enum Status : std::uint16_t {
  kSuccess = 0x0000,
  kKeyNotFound = 0x0001,
  kKeyExists = 0x0002,
  kTooLarge = 0x0003,
  kInvalidArguments = 0x0004,
  kNotStored = 0x0005,
  kNonNumeric = 0x0006,
  kAuthError = 0x0020,
  kUnknownCommand = 0x0081,
  kOutOfMemory = 0x0082,
  kInternalError = 0x0084,  // memcached's EINTERNAL: ours for a write whose replication failed
};

// The ASCII text memcached puts in the body of an error response.
std::string_view StatusText(Status status);

struct Header {
  std::uint8_t magic = 0;
  std::uint8_t opcode = 0;
  std::uint16_t key_len = 0;
  std::uint8_t extras_len = 0;
  std::uint8_t data_type = 0;
  std::uint16_t vbucket_or_status = 0;
  std::uint32_t body_len = 0;
  std::uint32_t opaque = 0;  // echoed as received (kept in wire order)
  std::uint64_t cas = 0;

  std::size_t value_len() const { return body_len - key_len - extras_len; }
};

// Decodes the 24 bytes at `in` (the caller checks that many are there).
Header DecodeHeader(const char* in);

// What the connection must do with a request, judged (as memcached does) once its extras and key
// have arrived. The bytes of the request are the header, extras and key, plus the value of the
// storage opcodes and of the fixed-shape ones; Stat and the touches take no value (anything after
// their key is the next packet), and an unknown opcode has `body_len` bytes after its key skipped.
enum class Shape : unsigned char {
  kOk,              // a known opcode with a valid shape
  kUnknownCommand,  // reply "Unknown command", skip the body, carry on
  kInvalid,         // reply "Invalid arguments", then close (memcached: protocol error)
  kBadLengths,      // extras + key longer than the body: reply "Unknown command", then close
};
Shape CheckShape(const Header& header);

// Whether the opcode is a quiet variant, and the loud opcode it stands for.
bool IsQuiet(std::uint8_t opcode);

// Writes a response header into out[0..24).
void EncodeResponseHeader(char* out, std::uint8_t opcode, std::uint16_t key_len,
                          std::uint8_t extras_len, std::uint16_t status, std::uint32_t body_len,
                          std::uint32_t opaque, std::uint64_t cas);

// Big-endian loads and stores.
std::uint32_t Load32(const char* p);
std::uint64_t Load64(const char* p);
void Store32(char* p, std::uint32_t v);
void Store64(char* p, std::uint64_t v);

}  // namespace rc::proto::binary
