// base/hash.cc -- HashKey: 8 bytes at a time through a multiply-xorshift mix, then a final
// avalanche. Unaligned loads go through memcpy, which compiles to a single mov on x86-64.
// (Little-endian only, like the rest of the server's wire handling on x86-64.)
#include "ringcached/base/hash.h"

#include <cstring>

namespace rc::base {
namespace {

constexpr std::uint64_t kMulA = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kMulB = 0xBF58476D1CE4E5B9ull;
constexpr std::uint64_t kMulC = 0x94D049BB133111EBull;

inline std::uint64_t Load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::uint64_t Mix(std::uint64_t h, std::uint64_t v) {
  h ^= v * kMulB;
  h = (h << 31) | (h >> 33);
  return h * kMulA;
}

}  // namespace

std::uint64_t HashKey(std::string_view key) {
  const auto* p = reinterpret_cast<const unsigned char*>(key.data());
  std::size_t n = key.size();
  std::uint64_t h = kMulC ^ (n * kMulA);
  while (n >= 8) {
    h = Mix(h, Load64(p));
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    // The last 1-7 bytes. A key of 8 bytes or more reloads its last 8 (overlapping bytes already
    // mixed): one load instead of a byte-by-byte copy of a variable length.
    std::uint64_t tail = 0;
    if (key.size() >= 8) {
      tail = Load64(p + n - 8) >> (8 * (8 - n));
    } else {
      std::memcpy(&tail, p, n);
    }
    h = Mix(h, tail ^ (static_cast<std::uint64_t>(n) << 56));
  }
  // splitmix64's finaliser: every input bit reaches every output bit.
  h ^= h >> 30;
  h *= kMulB;
  h ^= h >> 27;
  h *= kMulC;
  h ^= h >> 31;
  return h;
}

}  // namespace rc::base
