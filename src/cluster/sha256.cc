// cluster/sha256.cc -- see sha256.h. SHA-256 as FIPS 180-4 section 6.2 states it: 64-byte blocks,
// a 64-word message schedule, 64 rounds over eight 32-bit working variables; HMAC as RFC 2104
// with SHA-256's 64-byte block.
#include "cluster/sha256.h"

#include <algorithm>
#include <cstring>

namespace rc::cluster {
namespace {

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
constexpr std::uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2};

constexpr std::size_t kBlock = 64;

inline std::uint32_t Rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

class Hasher {
 public:
  void Update(std::string_view data) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
    std::size_t n = data.size();
    length_ += n;
    while (n > 0) {
      const std::size_t take = std::min(n, kBlock - used_);
      std::memcpy(buffer_ + used_, p, take);
      used_ += take;
      p += take;
      n -= take;
      if (used_ == kBlock) {
        Compress(buffer_);
        used_ = 0;
      }
    }
  }

  Sha256Digest Finish() {
    const std::uint64_t bits = length_ * 8;
    // 0x80, zeros up to 56 bytes into a block, then the length in bits, big-endian.
    static constexpr std::uint8_t kPad[kBlock] = {0x80};
    const std::size_t pad = used_ < 56 ? 56 - used_ : 56 + kBlock - used_;
    Update(std::string_view(reinterpret_cast<const char*>(kPad), pad));
    std::uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(bits >> (56 - 8 * i));
    Update(std::string_view(reinterpret_cast<const char*>(len), 8));
    Sha256Digest out;
    for (int i = 0; i < 8; ++i) {
      for (int j = 0; j < 4; ++j) out[4 * i + j] = static_cast<std::uint8_t>(h_[i] >> (24 - 8 * j));
    }
    return out;
  }

 private:
  void Compress(const std::uint8_t* block) {
    std::uint32_t w[64];
    for (int t = 0; t < 16; ++t) {
      w[t] = static_cast<std::uint32_t>(block[4 * t]) << 24 |
             static_cast<std::uint32_t>(block[4 * t + 1]) << 16 |
             static_cast<std::uint32_t>(block[4 * t + 2]) << 8 | block[4 * t + 3];
    }
    for (int t = 16; t < 64; ++t) {
      const std::uint32_t s0 = Rotr(w[t - 15], 7) ^ Rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const std::uint32_t s1 = Rotr(w[t - 2], 17) ^ Rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    std::uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3];
    std::uint32_t e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int t = 0; t < 64; ++t) {
      const std::uint32_t big1 = Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25);
      const std::uint32_t ch = (e & f) ^ (~e & g);
      const std::uint32_t t1 = h + big1 + ch + kRound[t] + w[t];
      const std::uint32_t big0 = Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22);
      const std::uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const std::uint32_t t2 = big0 + maj;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
  }

  // The first 32 bits of the fractional parts of the square roots of the first 8 primes.
  std::uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                         0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::uint8_t buffer_[kBlock] = {};
  std::size_t used_ = 0;
  std::uint64_t length_ = 0;
};

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Hasher h;
  h.Update(data);
  return h.Finish();
}

Sha256Digest HmacSha256(std::string_view key, std::string_view message) {
  std::uint8_t k[kBlock] = {};
  if (key.size() > kBlock) {
    const Sha256Digest d = Sha256(key);
    std::memcpy(k, d.data(), d.size());
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  std::uint8_t pad[kBlock];
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  Hasher inner;
  inner.Update(std::string_view(reinterpret_cast<const char*>(pad), kBlock));
  inner.Update(message);
  const Sha256Digest inner_digest = inner.Finish();
  for (std::size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  Hasher outer;
  outer.Update(std::string_view(reinterpret_cast<const char*>(pad), kBlock));
  outer.Update(std::string_view(reinterpret_cast<const char*>(inner_digest.data()),
                                inner_digest.size()));
  return outer.Finish();
}

bool DigestsEqual(const Sha256Digest& a, const Sha256Digest& b) {
  std::uint8_t diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace rc::cluster
