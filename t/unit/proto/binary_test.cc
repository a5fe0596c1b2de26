// t/unit/proto/binary_test.cc -- proto::binary: header decoding and encoding, the shape rules of
// every opcode, the quiet opcodes, and the error texts.
//
// Expectations come from memcached 1.6.18's proto_bin.c (try_read_command_binary,
// dispatch_bin_command, write_bin_error, add_bin_header) and ../shared/PROTOCOL.md section 5;
// t/proto/binary_bad_input_test.py checks the same rules against the running server. The shape
// table is checked twice: case by case (readable, one line per rule) and over a grid of
// extras/key/body lengths for all 256 opcodes against MemcachedShape below, a transcription of
// dispatch_bin_command's checks for a build without SASL.
#include "ringcached/proto/binary.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>

#include "ringcached/proto/limits.h"

namespace rc::proto::binary {
namespace {

using namespace std::string_view_literals;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

const char* ShapeName(Shape s) {
  switch (s) {
    case Shape::kOk: return "kOk";
    case Shape::kUnknownCommand: return "kUnknownCommand";
    case Shape::kInvalid: return "kInvalid";
    case Shape::kBadLengths: return "kBadLengths";
  }
  return "?";
}

Header Req(std::uint8_t opcode, std::uint32_t ext, std::uint32_t key, std::uint32_t body) {
  Header h;
  h.magic = kRequestMagic;
  h.opcode = opcode;
  h.extras_len = static_cast<std::uint8_t>(ext);
  h.key_len = static_cast<std::uint16_t>(key);
  h.body_len = body;
  return h;
}

// --- headers -------------------------------------------------------------------------------------

TEST(BinaryTest, DecodeHeaderReadsEveryFieldBigEndian) {
  // A Set of key "bk" with 8 bytes of extras and value "val" (the transcript's "bin get miss/hit"
  // case), vbucket 0x0102, opaque 0xdeadbeef, CAS 0x0102030405060708.
  const std::string wire = Bytes({0x80, 0x01, 0x00, 0x02, 0x08, 0x00, 0x01, 0x02,  //
                                  0x00, 0x00, 0x00, 0x0d, 0xde, 0xad, 0xbe, 0xef,  //
                                  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08});
  ASSERT_EQ(wire.size(), kHeaderSize);
  Header h = DecodeHeader(wire.data());
  EXPECT_EQ(h.magic, kRequestMagic);
  EXPECT_EQ(h.opcode, kSet);
  EXPECT_EQ(h.key_len, 2);
  EXPECT_EQ(h.extras_len, 8);
  EXPECT_EQ(h.data_type, 0);
  EXPECT_EQ(h.vbucket_or_status, 0x0102);
  EXPECT_EQ(h.body_len, 13u);
  EXPECT_EQ(h.cas, 0x0102030405060708ull);
  EXPECT_EQ(h.value_len(), 3u);
  // The opaque is kept in wire order (memcached echoes it without converting it).
  char opaque[4];
  std::memcpy(opaque, &h.opaque, 4);
  EXPECT_EQ(std::string(opaque, 4), Bytes({0xde, 0xad, 0xbe, 0xef}));
}

TEST(BinaryTest, DecodeHeaderTakesHighBitsAsUnsigned) {
  // Every byte 0xff: no sign extension anywhere.
  const std::string wire(kHeaderSize, '\xff');
  Header h = DecodeHeader(wire.data());
  EXPECT_EQ(h.magic, 0xff);
  EXPECT_EQ(h.opcode, 0xff);
  EXPECT_EQ(h.key_len, 0xffff);
  EXPECT_EQ(h.extras_len, 0xff);
  EXPECT_EQ(h.data_type, 0xff);
  EXPECT_EQ(h.vbucket_or_status, 0xffff);
  EXPECT_EQ(h.body_len, 0xffffffffu);
  EXPECT_EQ(h.opaque, 0xffffffffu);
  EXPECT_EQ(h.cas, 0xffffffffffffffffull);
  // 0x80 in the length bytes (the sign bit of a char) stays a high bit.
  const std::string lens = Bytes({0x80, 0x00, 0x80, 0x01, 0x80, 0x80, 0x80, 0x00,  //
                                  0x80, 0x00, 0x00, 0x81, 0, 0, 0, 0,              //
                                  0x80, 0, 0, 0, 0, 0, 0, 0x80});
  h = DecodeHeader(lens.data());
  EXPECT_EQ(h.key_len, 0x8001);
  EXPECT_EQ(h.extras_len, 0x80);
  EXPECT_EQ(h.data_type, 0x80);
  EXPECT_EQ(h.vbucket_or_status, 0x8000);
  EXPECT_EQ(h.body_len, 0x80000081u);
  EXPECT_EQ(h.cas, 0x8000000000000080ull);
}

TEST(BinaryTest, EncodeResponseHeaderWritesMemcachedsLayout) {
  // add_bin_header: magic 0x81, the request's opcode, key length, extras length, data type 0
  // (raw bytes), status, body length, the opaque as received, the CAS -- all big-endian.
  char out[kHeaderSize];
  std::memset(out, 0x5a, sizeof out);
  std::uint32_t opaque;
  const std::string wire_opaque = Bytes({0xde, 0xad, 0xbe, 0xef});
  std::memcpy(&opaque, wire_opaque.data(), 4);
  EncodeResponseHeader(out, kGetK, 0x0102, 4, kKeyNotFound, 0x01020304, opaque,
                       0x1112131415161718ull);
  EXPECT_EQ(std::string(out, kHeaderSize),
            Bytes({0x81, 0x0c, 0x01, 0x02, 0x04, 0x00, 0x00, 0x01,  //
                   0x01, 0x02, 0x03, 0x04, 0xde, 0xad, 0xbe, 0xef,  //
                   0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}));
  // The transcript's Version reply header: value "1.6.18", CAS 0, status 0.
  EncodeResponseHeader(out, kVersion, 0, 0, kSuccess, 6, opaque, 0);
  EXPECT_EQ(std::string(out, kHeaderSize),
            Bytes({0x81, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0xde, 0xad, 0xbe, 0xef,  //
                   0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(BinaryTest, HeaderRoundTripsThroughEncodeAndDecode) {
  // A request's opaque survives decode -> encode byte for byte, and DecodeHeader reads back every
  // field EncodeResponseHeader wrote (status in the vbucket/status slot).
  const std::array<std::uint16_t, 4> key_lens = {0, 1, 250, 0xffff};
  const std::array<std::uint8_t, 4> ext_lens = {0, 4, 20, 0xff};
  const std::array<std::uint16_t, 4> statuses = {kSuccess, kKeyExists, kUnknownCommand, 0xfffe};
  const std::array<std::uint32_t, 4> bodies = {0, 24, 0x00ffff00u, 0xffffffffu};
  const std::array<std::uint64_t, 3> cases = {0, 1, 0xfedcba9876543210ull};
  int n = 0;
  for (int op = 0; op < 256; op += 17) {
    for (std::size_t i = 0; i < key_lens.size(); ++i) {
      for (std::uint64_t cas : cases) {
        std::string req(kHeaderSize, '\0');
        req[0] = static_cast<char>(kRequestMagic);
        req[1] = static_cast<char>(op);
        const std::string opq = Bytes({0x01, 0x80 + static_cast<int>(i), 0xff, op});
        std::memcpy(&req[12], opq.data(), 4);
        Header in = DecodeHeader(req.data());
        char out[kHeaderSize];
        EncodeResponseHeader(out, in.opcode, key_lens[i], ext_lens[i], statuses[i], bodies[i],
                             in.opaque, cas);
        EXPECT_EQ(std::string(out + 12, 4), opq) << "opaque, opcode " << op;
        Header back = DecodeHeader(out);
        EXPECT_EQ(back.magic, kResponseMagic);
        EXPECT_EQ(back.opcode, op);
        EXPECT_EQ(back.key_len, key_lens[i]);
        EXPECT_EQ(back.extras_len, ext_lens[i]);
        EXPECT_EQ(back.data_type, 0);
        EXPECT_EQ(back.vbucket_or_status, statuses[i]);
        EXPECT_EQ(back.body_len, bodies[i]);
        EXPECT_EQ(back.opaque, in.opaque);
        EXPECT_EQ(back.cas, cas);
        ++n;
      }
    }
  }
  EXPECT_EQ(n, 16 * 4 * 3);
}

TEST(BinaryTest, LoadsAndStoresAreBigEndian) {
  char buf[8];
  Store32(buf, 0x01020304u);
  EXPECT_EQ(std::string(buf, 4), Bytes({1, 2, 3, 4}));
  EXPECT_EQ(Load32(buf), 0x01020304u);
  Store64(buf, 0x0102030405060708ull);
  EXPECT_EQ(std::string(buf, 8), Bytes({1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(Load64(buf), 0x0102030405060708ull);
  Store32(buf, 0xffffff80u);
  EXPECT_EQ(Load32(buf), 0xffffff80u);
  Store64(buf, 0x80000000000000ffull);
  EXPECT_EQ(Load64(buf), 0x80000000000000ffull);
}

// --- shapes --------------------------------------------------------------------------------------

struct ShapeCase {
  const char* what;
  std::uint8_t opcode;
  std::uint32_t ext, key, body;
  Shape want;
};

// One line per rule of dispatch_bin_command, and the malformed shapes binary_bad_input_test.py
// sends (whose observed answers are 0x0004 + close = kInvalid, 0x0081 + close = kBadLengths).
const ShapeCase kShapeCases[] = {
    // Get, GetQ, GetK, GetKQ: no extras, a key, nothing else.
    {"Get", kGet, 0, 3, 3, Shape::kOk},
    {"GetQ", kGetQ, 0, 1, 1, Shape::kOk},
    {"GetK", kGetK, 0, 250, 250, Shape::kOk},
    {"GetKQ", kGetKQ, 0, 3, 3, Shape::kOk},
    {"Get with extras", kGet, 4, 1, 5, Shape::kInvalid},
    {"Get with a value", kGet, 0, 1, 3, Shape::kInvalid},
    {"Get without key", kGet, 0, 0, 0, Shape::kInvalid},
    {"GetQ without key", kGetQ, 0, 0, 0, Shape::kInvalid},
    {"GetK with extras", kGetK, 4, 1, 5, Shape::kInvalid},
    {"GetKQ with a value", kGetKQ, 0, 1, 2, Shape::kInvalid},
    // Set, Add, Replace (and quiet): 8 bytes of extras, a key, any value (also none).
    {"Set", kSet, 8, 1, 12, Shape::kOk},
    {"Set, empty value", kSet, 8, 1, 9, Shape::kOk},
    {"SetQ", kSetQ, 8, 250, 258 + 1048576, Shape::kOk},
    {"Add", kAdd, 8, 2, 11, Shape::kOk},
    {"AddQ", kAddQ, 8, 2, 10, Shape::kOk},
    {"Replace", kReplace, 8, 2, 10, Shape::kOk},
    {"ReplaceQ", kReplaceQ, 8, 2, 13, Shape::kOk},
    {"Set without extras", kSet, 0, 1, 2, Shape::kInvalid},
    {"Set with 4 bytes of extras", kSet, 4, 1, 6, Shape::kInvalid},
    {"Set with 12 bytes of extras", kSet, 12, 1, 14, Shape::kInvalid},
    {"Set without key", kSet, 8, 0, 9, Shape::kInvalid},
    {"SetQ without extras", kSetQ, 0, 1, 2, Shape::kInvalid},
    {"Add without extras", kAdd, 0, 1, 2, Shape::kInvalid},
    {"Replace without extras", kReplace, 0, 1, 2, Shape::kInvalid},
    {"ReplaceQ without key", kReplaceQ, 8, 0, 8, Shape::kInvalid},
    // Append, Prepend (and quiet): no extras, a key, any value.
    {"Append", kAppend, 0, 1, 2, Shape::kOk},
    {"Append, empty value", kAppend, 0, 1, 1, Shape::kOk},
    {"AppendQ", kAppendQ, 0, 1, 5, Shape::kOk},
    {"Prepend", kPrepend, 0, 1, 2, Shape::kOk},
    {"PrependQ", kPrependQ, 0, 1, 2, Shape::kOk},
    {"Append with extras", kAppend, 8, 1, 10, Shape::kInvalid},
    {"Prepend with extras", kPrepend, 4, 1, 6, Shape::kInvalid},
    {"Append without key", kAppend, 0, 0, 1, Shape::kInvalid},
    {"AppendQ without key", kAppendQ, 0, 0, 1, Shape::kInvalid},
    // Delete (and quiet): no extras, a key, nothing else.
    {"Delete", kDelete, 0, 1, 1, Shape::kOk},
    {"DeleteQ", kDeleteQ, 0, 1, 1, Shape::kOk},
    {"Delete with extras", kDelete, 4, 1, 5, Shape::kInvalid},
    {"Delete with a value", kDelete, 0, 1, 2, Shape::kInvalid},
    {"Delete without key", kDelete, 0, 0, 0, Shape::kInvalid},
    {"DeleteQ without key", kDeleteQ, 0, 0, 0, Shape::kInvalid},
    // Increment, Decrement (and quiet): 20 bytes of extras, a key, nothing else.
    {"Increment", kIncrement, 20, 1, 21, Shape::kOk},
    {"IncrementQ", kIncrementQ, 20, 2, 22, Shape::kOk},
    {"Decrement", kDecrement, 20, 1, 21, Shape::kOk},
    {"DecrementQ", kDecrementQ, 20, 1, 21, Shape::kOk},
    {"Increment without extras", kIncrement, 0, 1, 1, Shape::kInvalid},
    {"Increment with 8 bytes of extras", kIncrement, 8, 1, 9, Shape::kInvalid},
    {"Increment with a value", kIncrement, 20, 1, 22, Shape::kInvalid},
    {"Increment without key", kIncrement, 20, 0, 20, Shape::kInvalid},
    {"Decrement without extras", kDecrement, 0, 1, 1, Shape::kInvalid},
    {"DecrementQ with 21 bytes of extras", kDecrementQ, 21, 1, 22, Shape::kInvalid},
    // Quit, QuitQ, Noop, Version: an empty body.
    {"Quit", kQuit, 0, 0, 0, Shape::kOk},
    {"QuitQ", kQuitQ, 0, 0, 0, Shape::kOk},
    {"Noop", kNoop, 0, 0, 0, Shape::kOk},
    {"Version", kVersion, 0, 0, 0, Shape::kOk},
    {"Quit with a key", kQuit, 0, 1, 1, Shape::kInvalid},
    {"Quit with extras", kQuit, 4, 0, 4, Shape::kInvalid},
    {"QuitQ with a key", kQuitQ, 0, 1, 1, Shape::kInvalid},
    {"Noop with a key", kNoop, 0, 1, 1, Shape::kInvalid},
    {"Noop with a value", kNoop, 0, 0, 1, Shape::kInvalid},
    {"Noop with extras", kNoop, 4, 0, 4, Shape::kInvalid},
    {"Version with a value", kVersion, 0, 0, 1, Shape::kInvalid},
    {"Version with a key", kVersion, 0, 1, 1, Shape::kInvalid},
    // Flush (and quiet): no key, extras of 0 or 4 bytes and nothing else.
    {"Flush", kFlush, 0, 0, 0, Shape::kOk},
    {"Flush with a delay", kFlush, 4, 0, 4, Shape::kOk},
    {"FlushQ", kFlushQ, 0, 0, 0, Shape::kOk},
    {"FlushQ with a delay", kFlushQ, 4, 0, 4, Shape::kOk},
    {"Flush with 8 bytes of extras", kFlush, 8, 0, 8, Shape::kInvalid},
    {"Flush with 2 bytes of extras", kFlush, 2, 0, 2, Shape::kInvalid},
    {"Flush with a key", kFlush, 0, 1, 1, Shape::kInvalid},
    {"Flush with a value", kFlush, 0, 0, 1, Shape::kInvalid},
    {"FlushQ with a value", kFlushQ, 4, 0, 5, Shape::kInvalid},
    // Stat: no extras; the key (sub-command) is optional and the body is not checked.
    {"Stat", kStat, 0, 0, 0, Shape::kOk},
    {"Stat settings", kStat, 0, 8, 8, Shape::kOk},
    {"Stat with a value (read as the next packet)", kStat, 0, 10, 34, Shape::kOk},
    {"Stat with a value, no key", kStat, 0, 0, 5, Shape::kOk},
    {"Stat with extras", kStat, 4, 0, 4, Shape::kInvalid},
    // Touch, GAT, GATQ, GATK, GATKQ: 4 bytes of extras and a key; the body is not checked.
    {"Touch", kTouch, 4, 1, 5, Shape::kOk},
    {"GAT", kGat, 4, 1, 5, Shape::kOk},
    {"GATQ", kGatQ, 4, 1, 5, Shape::kOk},
    {"GATK", kGatK, 4, 1, 5, Shape::kOk},
    {"GATKQ", kGatKQ, 4, 1, 5, Shape::kOk},
    {"Touch with a value (read as the next packet)", kTouch, 4, 7, 35, Shape::kOk},
    {"GATKQ with a value (read as the next packet)", kGatKQ, 4, 7, 35, Shape::kOk},
    {"Touch without extras", kTouch, 0, 1, 1, Shape::kInvalid},
    {"Touch with 8 bytes of extras", kTouch, 8, 1, 9, Shape::kInvalid},
    {"Touch without key", kTouch, 4, 0, 4, Shape::kInvalid},
    {"GAT without extras", kGat, 0, 1, 1, Shape::kInvalid},
    {"GATQ without extras", kGatQ, 0, 1, 1, Shape::kInvalid},
    {"GATK without extras", kGatK, 0, 1, 1, Shape::kInvalid},
    {"GATKQ without key", kGatKQ, 4, 0, 4, Shape::kInvalid},
    // SASL without SASL support (observed: 0x20 -> 0x0081 "Unknown command"): a well-formed
    // request is an unknown command, a malformed one still a protocol error.
    {"SASL list mechs", kSaslListMechs, 0, 0, 0, Shape::kUnknownCommand},
    {"SASL auth PLAIN", kSaslAuth, 0, 5, 15, Shape::kUnknownCommand},
    {"SASL auth, key only", kSaslAuth, 0, 5, 5, Shape::kUnknownCommand},
    {"SASL step", kSaslStep, 0, 5, 305, Shape::kUnknownCommand},
    {"SASL list mechs with a body", kSaslListMechs, 0, 0, 2, Shape::kInvalid},
    {"SASL list mechs with a key", kSaslListMechs, 0, 1, 1, Shape::kInvalid},
    {"SASL auth without key", kSaslAuth, 0, 0, 4, Shape::kInvalid},
    {"SASL step with extras", kSaslStep, 4, 5, 10, Shape::kInvalid},
    // Unknown opcodes, including the range ops 0x30-0x3c and the gaps 0x1b, 0x1f, 0x25+.
    {"unknown 0x1b", 0x1b, 0, 0, 0, Shape::kUnknownCommand},
    {"unknown 0x1f", 0x1f, 0, 0, 7, Shape::kUnknownCommand},
    {"unknown 0x25", 0x25, 4, 1, 9, Shape::kUnknownCommand},
    {"range get 0x30 with a 4 KB body", 0x30, 0, 0, 4096, Shape::kUnknownCommand},
    {"range 0x3c", 0x3c, 0, 0, 0, Shape::kUnknownCommand},
    {"unknown 0x44 with a key and a value", 0x44, 0, 1, 2, Shape::kUnknownCommand},
    {"unknown 0xff, no body", 0xff, 0, 0, 0, Shape::kUnknownCommand},
    {"unknown 0x3f with 255 bytes of extras", 0x3f, 255, 0, 255, Shape::kUnknownCommand},
    // Key length over 250 (KEY_MAX_LENGTH): checked before the opcode, even an unknown one.
    {"Get with a 251-byte key", kGet, 0, 251, 251, Shape::kInvalid},
    {"GetKQ with a 251-byte key", kGetKQ, 0, 251, 251, Shape::kInvalid},
    {"Set with a 251-byte key", kSet, 8, 251, 260, Shape::kInvalid},
    {"Delete with a 251-byte key", kDelete, 0, 251, 251, Shape::kInvalid},
    {"Increment with a 251-byte key", kIncrement, 20, 251, 271, Shape::kInvalid},
    {"Touch with a 251-byte key", kTouch, 4, 251, 255, Shape::kInvalid},
    {"Stat with a 251-byte key", kStat, 0, 251, 251, Shape::kInvalid},
    {"SASL auth with a 251-byte key", kSaslAuth, 0, 251, 251, Shape::kInvalid},
    {"unknown 0x44 with a 251-byte key", 0x44, 0, 251, 251, Shape::kInvalid},
    {"Get with a 65535-byte key", kGet, 0, 65535, 65535, Shape::kInvalid},
    // Extras + key longer than the body: checked first of all.
    {"Get: keylen > bodylen", kGet, 0, 1, 0, Shape::kBadLengths},
    {"Set: keylen + extlen > bodylen", kSet, 8, 1, 8, Shape::kBadLengths},
    {"Get: extlen > bodylen", kGet, 4, 0, 2, Shape::kBadLengths},
    {"Noop: extlen > bodylen", kNoop, 1, 0, 0, Shape::kBadLengths},
    {"unknown 0x44: keylen > bodylen", 0x44, 0, 2, 1, Shape::kBadLengths},
    {"SASL auth: keylen > bodylen", kSaslAuth, 0, 5, 2, Shape::kBadLengths},
    {"Get: 251-byte key, bodylen 0 (lengths first)", kGet, 0, 251, 0, Shape::kBadLengths},
    {"max extras and key, bodylen one short", kSet, 255, 65535, 65789, Shape::kBadLengths},
    {"max extras and key, bodylen exact", kSet, 255, 65535, 65790, Shape::kInvalid},
};

TEST(BinaryTest, CheckShapeFollowsDispatchBinCommand) {
  for (const ShapeCase& c : kShapeCases) {
    Header h = Req(c.opcode, c.ext, c.key, c.body);
    EXPECT_STREQ(ShapeName(CheckShape(h)), ShapeName(c.want))
        << c.what << " (opcode 0x" << std::hex << int{c.opcode} << std::dec << " ext " << c.ext
        << " key " << c.key << " body " << c.body << ")";
  }
}

// dispatch_bin_command's checks, transcribed (memcached 1.6.18, built without SASL, so the SASL
// opcodes that pass their shape check answer "Unknown command" from bin_list_sasl_mechs /
// process_bin_sasl_auth).
Shape MemcachedShape(std::uint8_t op, std::uint32_t extlen, std::uint32_t keylen,
                     std::uint32_t bodylen) {
  if (keylen > bodylen || keylen + extlen > bodylen) return Shape::kBadLengths;
  if (keylen > 250) return Shape::kInvalid;  // handle_binary_protocol_error
  auto check = [](bool ok) { return ok ? Shape::kOk : Shape::kInvalid; };
  switch (op) {
    case 0x0b:  // Version
    case 0x0a:  // Noop
      return check(extlen == 0 && keylen == 0 && bodylen == 0);
    case 0x08: case 0x18:  // Flush, FlushQ
      return check(keylen == 0 && bodylen == extlen && (extlen == 0 || extlen == 4));
    case 0x01: case 0x02: case 0x03: case 0x11: case 0x12: case 0x13:  // Set Add Replace (Q)
      return check(extlen == 8 && keylen != 0 && bodylen >= keylen + 8);
    case 0x00: case 0x09: case 0x0c: case 0x0d:  // Get GetQ GetK GetKQ
      return check(extlen == 0 && bodylen == keylen && keylen > 0);
    case 0x04: case 0x14:  // Delete (Q)
      return check(keylen > 0 && extlen == 0 && bodylen == keylen);
    case 0x05: case 0x06: case 0x15: case 0x16:  // Increment Decrement (Q)
      return check(keylen > 0 && extlen == 20 && bodylen == keylen + extlen);
    case 0x0e: case 0x0f: case 0x19: case 0x1a:  // Append Prepend (Q)
      return check(keylen > 0 && extlen == 0);
    case 0x10:  // Stat
      return check(extlen == 0);
    case 0x07: case 0x17:  // Quit (Q)
      return check(keylen == 0 && extlen == 0 && bodylen == 0);
    case 0x20:  // SASL list mechs
      return extlen == 0 && keylen == 0 && bodylen == 0 ? Shape::kUnknownCommand
                                                         : Shape::kInvalid;
    case 0x21: case 0x22:  // SASL auth, step
      return extlen == 0 && keylen != 0 ? Shape::kUnknownCommand : Shape::kInvalid;
    case 0x1c: case 0x1d: case 0x1e: case 0x23: case 0x24:  // Touch GAT GATQ GATK GATKQ
      return check(extlen == 4 && keylen != 0);
    default:
      return Shape::kUnknownCommand;
  }
}

TEST(BinaryTest, CheckShapeMatchesMemcachedOverAGridOfShapesForEveryOpcode) {
  const std::uint32_t exts[] = {0, 1, 2, 4, 8, 12, 20, 21, 255};
  const std::uint32_t keys[] = {0, 1, 2, 249, 250, 251, 1000, 65535};
  // The body relative to ext + key: shorter (by 1 and by everything), exact, and longer.
  const std::int64_t extra[] = {-1000000, -1, 0, 1, 2, 20, 4096};
  int checked = 0, bad = 0;
  for (int op = 0; op < 256; ++op) {
    for (std::uint32_t ext : exts) {
      for (std::uint32_t key : keys) {
        for (std::int64_t d : extra) {
          const std::int64_t body = static_cast<std::int64_t>(ext) + key + d;
          if (body < 0) continue;
          const auto b = static_cast<std::uint32_t>(body);
          const Shape want = MemcachedShape(static_cast<std::uint8_t>(op), ext, key, b);
          const Shape got = CheckShape(Req(static_cast<std::uint8_t>(op), ext, key, b));
          ++checked;
          if (got != want && ++bad <= 20) {
            ADD_FAILURE() << "opcode 0x" << std::hex << op << std::dec << " ext " << ext
                          << " key " << key << " body " << b << ": expected " << ShapeName(want)
                          << ", got " << ShapeName(got);
          }
        }
      }
    }
  }
  EXPECT_EQ(bad, 0) << bad << " of " << checked << " shapes differ";
  EXPECT_GT(checked, 100000);
}

TEST(BinaryTest, CheckShapeIgnoresMagicDataTypeVbucketAndCas) {
  // try_read_command_binary rejects a bad magic before dispatch (the connection's job); the shape
  // rules never look at data type, vbucket or CAS (observed: Noop with data type 1 or vbucket 5
  // is answered normally).
  Header h = Req(kNoop, 0, 0, 0);
  h.data_type = 1;
  h.vbucket_or_status = 5;
  h.cas = 77;
  EXPECT_EQ(CheckShape(h), Shape::kOk);
  h = Req(kGet, 0, 3, 3);
  h.data_type = 0xff;
  h.vbucket_or_status = 0xffff;
  h.cas = ~0ull;
  EXPECT_EQ(CheckShape(h), Shape::kOk);
}

TEST(BinaryTest, KeyLimitIsMemcachedsKeyMaxLength) {
  EXPECT_EQ(kMaxKeyLength, 250u);
  EXPECT_EQ(CheckShape(Req(kGetK, 0, kMaxKeyLength, kMaxKeyLength)), Shape::kOk);
  EXPECT_EQ(CheckShape(Req(kGetK, 0, kMaxKeyLength + 1, kMaxKeyLength + 1)), Shape::kInvalid);
  EXPECT_EQ(CheckShape(Req(kAppend, 0, kMaxKeyLength, kMaxKeyLength + 1024)), Shape::kOk);
  EXPECT_EQ(CheckShape(Req(kAppend, 0, kMaxKeyLength + 1, kMaxKeyLength + 1025)),
            Shape::kInvalid);
}

// --- quiet opcodes -------------------------------------------------------------------------------

TEST(BinaryTest, IsQuietForEveryOpcode) {
  // The opcodes dispatch_bin_command maps to their loud twin with c->noreply set (MULTIPLYQ is
  // not in 1.6.18's protocol_binary.h).
  const std::set<int> quiet = {kGetQ,       kGetKQ,      kSetQ,  kAddQ,    kReplaceQ,
                               kDeleteQ,    kIncrementQ, kDecrementQ, kQuitQ, kFlushQ,
                               kAppendQ,    kPrependQ,   kGatQ,  kGatKQ};
  EXPECT_EQ(quiet.size(), 14u);
  for (int op = 0; op < 256; ++op) {
    EXPECT_EQ(IsQuiet(static_cast<std::uint8_t>(op)), quiet.count(op) == 1)
        << "opcode 0x" << std::hex << op;
  }
  // Spelled out, with the numbers of PROTOCOL.md section 5.
  for (int op : {0x09, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1e,
                 0x24}) {
    EXPECT_TRUE(IsQuiet(static_cast<std::uint8_t>(op))) << "opcode 0x" << std::hex << op;
  }
  for (int op : {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0a, 0x0b, 0x0c, 0x0e,
                 0x0f, 0x10, 0x1c, 0x1d, 0x23, 0x20, 0x21, 0x22}) {
    EXPECT_FALSE(IsQuiet(static_cast<std::uint8_t>(op))) << "opcode 0x" << std::hex << op;
  }
}

// --- error texts ---------------------------------------------------------------------------------

TEST(BinaryTest, StatusTextIsWhatWriteBinErrorSends) {
  // write_bin_error's strings, byte for byte (the transcript shows "Not found", "Data exists for
  // key.", "Too large.", "Invalid arguments", "Unknown command").
  EXPECT_EQ(StatusText(kKeyNotFound), "Not found"sv);
  EXPECT_EQ(StatusText(kKeyExists), "Data exists for key."sv);
  EXPECT_EQ(StatusText(kTooLarge), "Too large."sv);
  EXPECT_EQ(StatusText(kInvalidArguments), "Invalid arguments"sv);
  EXPECT_EQ(StatusText(kNotStored), "Not stored."sv);
  EXPECT_EQ(StatusText(kNonNumeric), "Non-numeric server-side value for incr or decr"sv);
  EXPECT_EQ(StatusText(kAuthError), "Auth failure."sv);
  EXPECT_EQ(StatusText(kUnknownCommand), "Unknown command"sv);
  EXPECT_EQ(StatusText(kOutOfMemory), "Out of memory"sv);
  EXPECT_EQ(StatusText(kSuccess), ""sv);
}

TEST(BinaryTest, StatusCodesAreTheWireValues) {
  EXPECT_EQ(kSuccess, 0x0000);
  EXPECT_EQ(kKeyNotFound, 0x0001);
  EXPECT_EQ(kKeyExists, 0x0002);
  EXPECT_EQ(kTooLarge, 0x0003);
  EXPECT_EQ(kInvalidArguments, 0x0004);
  EXPECT_EQ(kNotStored, 0x0005);
  EXPECT_EQ(kNonNumeric, 0x0006);
  EXPECT_EQ(kAuthError, 0x0020);
  EXPECT_EQ(kUnknownCommand, 0x0081);
  EXPECT_EQ(kOutOfMemory, 0x0082);
}

}  // namespace
}  // namespace rc::proto::binary
