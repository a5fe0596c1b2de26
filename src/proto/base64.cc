// proto/base64.cc -- base64 for meta keys (`b` flag), and which keys need it (IsPlainKey), with
// the exact rules of memcached's base64.c (Jouni Malinen's code as modified for memcached),
// because they decide which keys a client can send and what comes back:
//   * decoding skips every byte outside the alphabet instead of failing on it ("Zm 9v" is "foo");
//   * the bytes that remain must be a non-zero multiple of four;
//   * '=' decodes as 0; a group holding padding ends the decode (anything after it is ignored),
//     and a group with more than two '=' is an error;
//   * encoding always pads with '='.
#include <cstdint>

#include "ringcached/proto/meta.h"

namespace rc::proto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kSkip = 0x80;

struct DecodeTable {
  std::uint8_t v[256];
  constexpr DecodeTable() : v() {
    for (auto& x : v) x = kSkip;
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::uint8_t>(i);
    v[static_cast<unsigned char>('=')] = 0;
  }
};
constexpr DecodeTable kDecode;

}  // namespace

std::size_t Base64Decode(const char* src, std::size_t len, char* out) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < len; ++i) {
    if (kDecode.v[static_cast<unsigned char>(src[i])] != kSkip) ++count;
  }
  if (count == 0 || count % 4 != 0) return 0;

  char* pos = out;
  std::uint8_t block[4];
  unsigned n = 0;
  unsigned pad = 0;
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint8_t v = kDecode.v[static_cast<unsigned char>(src[i])];
    if (v == kSkip) continue;
    if (src[i] == '=') ++pad;
    block[n++] = v;
    if (n < 4) continue;
    *pos++ = static_cast<char>((block[0] << 2) | (block[1] >> 4));
    *pos++ = static_cast<char>((block[1] << 4) | (block[2] >> 2));
    *pos++ = static_cast<char>((block[2] << 6) | block[3]);
    n = 0;
    if (pad != 0) {
      if (pad > 2) return 0;  // invalid padding
      pos -= pad;
      break;
    }
  }
  return static_cast<std::size_t>(pos - out);
}

std::size_t Base64Encode(const char* src, std::size_t len, char* out) {
  const auto* in = reinterpret_cast<const unsigned char*>(src);
  const unsigned char* const end = in + len;
  char* pos = out;
  while (end - in >= 3) {
    *pos++ = kAlphabet[in[0] >> 2];
    *pos++ = kAlphabet[((in[0] & 0x03) << 4) | (in[1] >> 4)];
    *pos++ = kAlphabet[((in[1] & 0x0f) << 2) | (in[2] >> 6)];
    *pos++ = kAlphabet[in[2] & 0x3f];
    in += 3;
  }
  if (end - in == 1) {
    *pos++ = kAlphabet[in[0] >> 2];
    *pos++ = kAlphabet[(in[0] & 0x03) << 4];
    *pos++ = '=';
    *pos++ = '=';
  } else if (end - in == 2) {
    *pos++ = kAlphabet[in[0] >> 2];
    *pos++ = kAlphabet[((in[0] & 0x03) << 4) | (in[1] >> 4)];
    *pos++ = kAlphabet[(in[1] & 0x0f) << 2];
    *pos++ = '=';
  }
  return static_cast<std::size_t>(pos - out);
}

bool IsPlainKey(std::string_view key) {
  for (char c : key) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= ' ' || b >= 0x7f) return false;
  }
  return true;
}

}  // namespace rc::proto
