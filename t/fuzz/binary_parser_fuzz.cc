// t/fuzz/binary_parser_fuzz.cc -- libFuzzer target for proto::binary (DecodeHeader, CheckShape,
// IsQuiet, EncodeResponseHeader and the big-endian loads and stores).
//
// The input is treated as everything a client sent on one binary connection: it is walked packet
// by packet as server/'s ProcessBinary does -- decode the 24-byte header, check its shape, skip its
// body (or what there is of it) -- until a shape error would close the connection or fewer than 24
// bytes remain. Each step checks the module's contract (binary.h) rather than particular answers:
//   * DecodeHeader reads exactly the 24 header bytes (an exact-size heap copy, so AddressSanitizer
//     sees any overrun) and every field equals the big-endian bytes at its offset; the opaque is
//     kept in wire order;
//   * CheckShape is kBadLengths exactly when extras + key exceed the body; otherwise value_len()
//     is body - extras - key without wrapping;
//   * kOk only for an opcode memcached 1.6.18 serves, with a key of 1..250 bytes where it takes
//     one, and a shape memcached's dispatch_bin_command accepts too (ringcached may be stricter,
//     never looser); the SASL opcodes (no SASL here) and every unknown opcode are never kOk;
//   * IsQuiet only for the fourteen quiet opcodes;
//   * EncodeResponseHeader of fields taken from the input decodes back to the same fields;
//   * Load/Store 32 and 64 round-trip.
// Build with ./configure --enable-fuzz CXX=clang++; run with `make fuzz-binary` (t/fuzz/local.am).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "ringcached/base/check.h"
#include "ringcached/proto/binary.h"
#include "ringcached/proto/limits.h"

namespace {

namespace bin = rc::proto::binary;

std::uint16_t Be16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

std::uint32_t Be32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}

std::uint64_t Be64(const unsigned char* p) {
  return static_cast<std::uint64_t>(Be32(p)) << 32 | Be32(p + 4);
}

// Decodes an exact-size heap copy of the 24 header bytes at `at`.
bin::Header DecodeCopy(const unsigned char* at) {
  std::unique_ptr<char[]> copy(new char[bin::kHeaderSize]);
  std::memcpy(copy.get(), at, bin::kHeaderSize);
  return bin::DecodeHeader(copy.get());
}

bool IsQuietOpcode(std::uint8_t op) {
  switch (op) {
    case 0x09: case 0x0d: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15: case 0x16:
    case 0x17: case 0x18: case 0x19: case 0x1a: case 0x1e: case 0x24:
      return true;
    default:
      return false;
  }
}

// memcached 1.6.18 dispatch_bin_command: true if it would execute this request (no protocol
// error, a served opcode), given that extras + key fit the body and the key is <= 250 bytes.
bool MemcachedAccepts(const bin::Header& h) {
  const std::uint32_t ext = h.extras_len, key = h.key_len, body = h.body_len;
  switch (h.opcode) {
    case 0x0b: case 0x0a: case 0x07: case 0x17:  // Version, Noop, Quit, QuitQ
      return ext == 0 && key == 0 && body == 0;
    case 0x08: case 0x18:  // Flush(Q)
      return key == 0 && body == ext && (ext == 0 || ext == 4);
    case 0x01: case 0x02: case 0x03: case 0x11: case 0x12: case 0x13:  // Set/Add/Replace(Q)
      return ext == 8 && key != 0 && body >= key + 8;
    case 0x00: case 0x09: case 0x0c: case 0x0d:  // Get(Q), GetK(Q)
      return ext == 0 && body == key && key > 0;
    case 0x04: case 0x14:  // Delete(Q)
      return key > 0 && ext == 0 && body == key;
    case 0x05: case 0x06: case 0x15: case 0x16:  // Increment/Decrement(Q)
      return key > 0 && ext == 20 && body == key + ext;
    case 0x0e: case 0x0f: case 0x19: case 0x1a:  // Append/Prepend(Q)
      return key > 0 && ext == 0;
    case 0x10:  // Stat
      return ext == 0;
    case 0x1c: case 0x1d: case 0x1e: case 0x23: case 0x24:  // Touch, GAT(Q), GATK(Q)
      return ext == 4 && key != 0;
    default:  // SASL without SASL support, and everything memcached does not serve
      return false;
  }
}

void CheckHeaderFields(const bin::Header& h, const unsigned char* p) {
  RC_CHECK(h.magic == p[0]);
  RC_CHECK(h.opcode == p[1]);
  RC_CHECK(h.key_len == Be16(p + 2));
  RC_CHECK(h.extras_len == p[4]);
  RC_CHECK(h.data_type == p[5]);
  RC_CHECK(h.vbucket_or_status == Be16(p + 6));
  RC_CHECK(h.body_len == Be32(p + 8));
  RC_CHECK(std::memcmp(&h.opaque, p + 12, 4) == 0);  // wire order, echoed as is
  RC_CHECK(h.cas == Be64(p + 16));
}

void CheckShapeContract(const bin::Header& h) {
  const bin::Shape shape = bin::CheckShape(h);
  RC_CHECK(bin::CheckShape(h) == shape);  // a pure function of the header
  const std::uint64_t fixed = std::uint64_t{h.key_len} + h.extras_len;
  RC_CHECK((shape == bin::Shape::kBadLengths) == (fixed > h.body_len));
  if (shape != bin::Shape::kBadLengths) {
    RC_CHECK(h.value_len() == h.body_len - fixed);
    RC_CHECK(h.value_len() <= h.body_len);
  }
  if (shape == bin::Shape::kOk) {
    RC_CHECK(h.key_len <= rc::proto::kMaxKeyLength);
    RC_CHECK(MemcachedAccepts(h));
  }
  if (shape == bin::Shape::kUnknownCommand) {
    RC_CHECK(h.key_len <= rc::proto::kMaxKeyLength);
    RC_CHECK(!MemcachedAccepts(h));
  }
  // A key longer than 250 bytes is never executed.
  if (h.key_len > rc::proto::kMaxKeyLength) RC_CHECK(shape != bin::Shape::kOk);
  RC_CHECK(bin::IsQuiet(h.opcode) == IsQuietOpcode(h.opcode));
}

void CheckResponseRoundTrip(const bin::Header& h) {
  // Encode a response from the request's fields, then decode it again.
  std::unique_ptr<char[]> out(new char[bin::kHeaderSize]);
  bin::EncodeResponseHeader(out.get(), h.opcode, h.key_len, h.extras_len, h.vbucket_or_status,
                            h.body_len, h.opaque, h.cas);
  const bin::Header r = bin::DecodeHeader(out.get());
  RC_CHECK(r.magic == bin::kResponseMagic);
  RC_CHECK(r.opcode == h.opcode);
  RC_CHECK(r.key_len == h.key_len);
  RC_CHECK(r.extras_len == h.extras_len);
  RC_CHECK(r.data_type == 0);
  RC_CHECK(r.vbucket_or_status == h.vbucket_or_status);
  RC_CHECK(r.body_len == h.body_len);
  RC_CHECK(r.opaque == h.opaque);
  RC_CHECK(r.cas == h.cas);
  CheckHeaderFields(r, reinterpret_cast<const unsigned char*>(out.get()));
}

void CheckLoadStore(const unsigned char* p) {
  std::unique_ptr<char[]> buf(new char[8]);
  std::memcpy(buf.get(), p, 8);
  RC_CHECK(bin::Load32(buf.get()) == Be32(p));
  RC_CHECK(bin::Load64(buf.get()) == Be64(p));
  bin::Store32(buf.get(), Be32(p + 4));
  RC_CHECK(std::memcmp(buf.get(), p + 4, 4) == 0);
  bin::Store64(buf.get(), Be64(p));
  RC_CHECK(std::memcmp(buf.get(), p, 8) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const unsigned char* p = data;
  std::size_t left = size;
  for (int steps = 0; steps < 10000 && left >= bin::kHeaderSize; ++steps) {
    const bin::Header h = DecodeCopy(p);
    CheckHeaderFields(h, p);
    CheckShapeContract(h);
    CheckResponseRoundTrip(h);
    CheckLoadStore(p);
    CheckLoadStore(p + 16);
    RC_CHECK(!bin::StatusText(static_cast<bin::Status>(h.vbucket_or_status)).empty() ||
             h.vbucket_or_status == bin::kSuccess);
    // The connection closes on a bad magic or a shape error; otherwise it skips the body (an
    // unknown opcode's is swallowed, a known one's is executed) and reads the next header.
    if (h.magic != bin::kRequestMagic) break;
    const bin::Shape shape = bin::CheckShape(h);
    if (shape == bin::Shape::kInvalid || shape == bin::Shape::kBadLengths) break;
    p += bin::kHeaderSize;
    left -= bin::kHeaderSize;
    const std::size_t body = h.body_len < left ? h.body_len : left;
    p += body;
    left -= body;
  }
  return 0;
}
