// cluster/key_hash.cc -- see key_hash.h. The (int8_t) casts are the signed-char quirk on purpose.
#include "cluster/key_hash.h"

#include "cluster/md5.h"

namespace rc::cluster {
namespace {

// How libhashkit reads a key byte on x86-64: through a signed char, then widened to uint32_t.
inline std::uint32_t SignExtendedByte(char c) {
  return static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<std::int8_t>(c)));
}

}  // namespace

std::uint32_t Md5KeyHash(std::string_view key) { return Md5Word(Md5(key), 0); }

std::uint32_t OneAtATimeKeyHash(std::string_view key) {
  std::uint32_t v = 0;
  for (char c : key) {
    v += SignExtendedByte(c);
    v += v << 10;
    v ^= v >> 6;
  }
  v += v << 3;
  v ^= v >> 11;
  v += v << 15;
  return v;
}

std::uint32_t Fnv1a64KeyHash(std::string_view key) {
  std::uint32_t h = 0x84222325u;  // low 32 bits of FNV-64's offset basis 0xcbf29ce484222325
  for (char c : key) {
    h ^= SignExtendedByte(c);
    h *= 0x000001b3u;  // low 32 bits of FNV-64's prime 0x100000001b3
  }
  return h;
}

}  // namespace rc::cluster
