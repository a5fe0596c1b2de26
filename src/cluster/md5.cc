// cluster/md5.cc -- MD5 as RFC 1321 section 3 specifies it: pad to 56 mod 64 bytes with 0x80 and
// zeros, append the bit length as a little-endian uint64, run the 64-step compression over each
// 64-byte block. Checked against the RFC's appendix A.5 test suite in t/unit/cluster.
//
// Words are little-endian by definition of MD5, independent of the host; LoadLe32 spells that
// out so the code is also right on a big-endian machine.
#include "cluster/md5.h"

#include <cstring>

namespace rc::cluster {
namespace {

// T[i] = floor(2^32 * |sin(i + 1)|), RFC 1321 section 3.4.
constexpr std::uint32_t kSine[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

// Per-step left rotations: four values per round, repeated four times within the round.
constexpr int kShift[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

inline std::uint32_t Rotl(std::uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

inline std::uint32_t LoadLe32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

inline void StoreLe32(std::uint32_t v, std::uint8_t* p) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

// One round step: the running word a takes in f, the sine constant and message word m[g],
// rotates, and the four words shift one place (a <- d <- c <- b <- new).
struct Words {
  std::uint32_t a, b, c, d;
};

inline void Step(Words& w, std::uint32_t f, std::uint32_t k, std::uint32_t m, int s) {
  const std::uint32_t rotated = w.b + Rotl(w.a + f + k + m, s);
  w.a = w.d;
  w.d = w.c;
  w.c = w.b;
  w.b = rotated;
}

void Compress(std::uint32_t state[4], const unsigned char* block) {
  std::uint32_t m[16];
  for (int i = 0; i < 16; ++i) m[i] = LoadLe32(block + 4 * i);

  Words w{state[0], state[1], state[2], state[3]};
  // Fully unrolled, the shift amounts and message indices become constants: 139 -> 106 ns for a
  // one-block key (bench/ring_bench BM_RingKeyHash), close to the bound the 64-step dependency
  // chain sets.
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) {  // round 1: F(b,c,d) = (b & c) | (~b & d)
    Step(w, (w.b & w.c) | (~w.b & w.d), kSine[i], m[i], kShift[0][i % 4]);
  }
#pragma GCC unroll 16
  for (int i = 16; i < 32; ++i) {  // round 2: G(b,c,d) = (b & d) | (c & ~d)
    Step(w, (w.b & w.d) | (w.c & ~w.d), kSine[i], m[(5 * i + 1) % 16], kShift[1][i % 4]);
  }
#pragma GCC unroll 16
  for (int i = 32; i < 48; ++i) {  // round 3: H(b,c,d) = b ^ c ^ d
    Step(w, w.b ^ w.c ^ w.d, kSine[i], m[(3 * i + 5) % 16], kShift[2][i % 4]);
  }
#pragma GCC unroll 16
  for (int i = 48; i < 64; ++i) {  // round 4: I(b,c,d) = c ^ (b | ~d)
    Step(w, w.c ^ (w.b | ~w.d), kSine[i], m[(7 * i) % 16], kShift[3][i % 4]);
  }
  state[0] += w.a;
  state[1] += w.b;
  state[2] += w.c;
  state[3] += w.d;
}

}  // namespace

Md5Digest Md5(std::string_view data) {
  std::uint32_t state[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t left = data.size();
  for (; left >= 64; left -= 64, p += 64) Compress(state, p);

  // The tail, the 0x80 marker, zeros and the 8-byte bit length: one block, or two when the tail
  // leaves fewer than 9 bytes free.
  unsigned char last[128] = {};
  if (left != 0) std::memcpy(last, p, left);  // an empty view's data() may be null
  last[left] = 0x80;
  const std::size_t padded = left < 56 ? 64 : 128;
  const std::uint64_t bits = static_cast<std::uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i) last[padded - 8 + i] = static_cast<unsigned char>(bits >> (8 * i));
  Compress(state, last);
  if (padded == 128) Compress(state, last + 64);

  Md5Digest digest;
  for (int i = 0; i < 4; ++i) StoreLe32(state[i], digest.data() + 4 * i);
  return digest;
}

}  // namespace rc::cluster
