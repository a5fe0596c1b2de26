// proto/binary.cc -- see binary.h. The shape rules are those of memcached 1.6.18's
// dispatch_bin_command: a request that breaks them is a protocol error, answered with "Invalid
// arguments" and a close (observed: a Set without its 8 bytes of extras).
#include "ringcached/proto/binary.h"

#include <endian.h>

#include <cstring>

#include "ringcached/proto/limits.h"

namespace rc::proto::binary {

std::string_view StatusText(Status status) {
  switch (status) {
    case kSuccess: return "";
    case kKeyNotFound: return "Not found";
    case kKeyExists: return "Data exists for key.";
    case kTooLarge: return "Too large.";
    case kInvalidArguments: return "Invalid arguments";
    case kNotStored: return "Not stored.";
    case kNonNumeric: return "Non-numeric server-side value for incr or decr";
    case kAuthError: return "Auth failure.";
    case kUnknownCommand: return "Unknown command";
    case kOutOfMemory: return "Out of memory";
    case kInternalError: return "Internal error";
  }
  return "Unknown error";
}

std::uint32_t Load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return be32toh(v);
}

std::uint64_t Load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return be64toh(v);
}

void Store32(char* p, std::uint32_t v) {
  v = htobe32(v);
  std::memcpy(p, &v, 4);
}

void Store64(char* p, std::uint64_t v) {
  v = htobe64(v);
  std::memcpy(p, &v, 8);
}

Header DecodeHeader(const char* in) {
  Header h;
  h.magic = static_cast<std::uint8_t>(in[0]);
  h.opcode = static_cast<std::uint8_t>(in[1]);
  h.key_len = static_cast<std::uint16_t>((static_cast<unsigned char>(in[2]) << 8) |
                                         static_cast<unsigned char>(in[3]));
  h.extras_len = static_cast<std::uint8_t>(in[4]);
  h.data_type = static_cast<std::uint8_t>(in[5]);
  h.vbucket_or_status = static_cast<std::uint16_t>((static_cast<unsigned char>(in[6]) << 8) |
                                                   static_cast<unsigned char>(in[7]));
  h.body_len = Load32(in + 8);
  std::memcpy(&h.opaque, in + 12, 4);
  h.cas = Load64(in + 16);
  return h;
}

bool IsQuiet(std::uint8_t opcode) {
  switch (opcode) {
    case kGetQ: case kGetKQ: case kSetQ: case kAddQ: case kReplaceQ: case kDeleteQ:
    case kIncrementQ: case kDecrementQ: case kQuitQ: case kFlushQ: case kAppendQ:
    case kPrependQ: case kGatQ: case kGatKQ:
      return true;
    default:
      return false;
  }
}

Shape CheckShape(const Header& h) {
  const std::uint32_t key = h.key_len, ext = h.extras_len, body = h.body_len;
  if (key + ext > body) return Shape::kBadLengths;
  if (key > kMaxKeyLength) return Shape::kInvalid;
  bool ok = false;
  switch (h.opcode) {
    case kGet: case kGetQ: case kGetK: case kGetKQ:
      ok = ext == 0 && key > 0 && body == key;
      break;
    case kSet: case kSetQ: case kAdd: case kAddQ: case kReplace: case kReplaceQ:
      ok = ext == 8 && key > 0;
      break;
    case kAppend: case kAppendQ: case kPrepend: case kPrependQ:
      ok = ext == 0 && key > 0;
      break;
    case kDelete: case kDeleteQ:
      ok = ext == 0 && key > 0 && body == key;
      break;
    case kIncrement: case kIncrementQ: case kDecrement: case kDecrementQ:
      ok = ext == 20 && key > 0 && body == key + 20;
      break;
    case kQuit: case kQuitQ: case kNoop: case kVersion:
      ok = ext == 0 && key == 0 && body == 0;
      break;
    case kFlush: case kFlushQ:
      ok = (ext == 0 || ext == 4) && key == 0 && body == ext;
      break;
    // memcached checks neither Stat's nor the touches' body length: bytes beyond the key are
    // left to be read as the next packet (proto_bin.c dispatch_bin_command).
    case kStat:
      ok = ext == 0;
      break;
    case kTouch: case kGat: case kGatQ: case kGatK: case kGatKQ:
      ok = ext == 4 && key > 0;
      break;
    // This build has no SASL: a well-formed SASL request is an unknown command, as in memcached
    // built without it (observed); a malformed one is still a protocol error.
    case kSaslListMechs:
      if (ext != 0 || key != 0 || body != 0) return Shape::kInvalid;
      return Shape::kUnknownCommand;
    case kSaslAuth: case kSaslStep:
      if (ext != 0 || key == 0) return Shape::kInvalid;
      return Shape::kUnknownCommand;
    default:
      return Shape::kUnknownCommand;
  }
  return ok ? Shape::kOk : Shape::kInvalid;
}

void EncodeResponseHeader(char* out, std::uint8_t opcode, std::uint16_t key_len,
                          std::uint8_t extras_len, std::uint16_t status, std::uint32_t body_len,
                          std::uint32_t opaque, std::uint64_t cas) {
  out[0] = static_cast<char>(kResponseMagic);
  out[1] = static_cast<char>(opcode);
  out[2] = static_cast<char>(key_len >> 8);
  out[3] = static_cast<char>(key_len & 0xff);
  out[4] = static_cast<char>(extras_len);
  out[5] = 0;
  out[6] = static_cast<char>(status >> 8);
  out[7] = static_cast<char>(status & 0xff);
  Store32(out + 8, body_len);
  std::memcpy(out + 12, &opaque, 4);
  Store64(out + 16, cas);
}

}  // namespace rc::proto::binary
