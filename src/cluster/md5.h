// cluster/md5.h -- MD5 (RFC 1321), written here for the Ketama ring: every client family places
// its ring points and (in Profile A) hashes its keys with MD5, so the ring must compute it
// bit-exactly. Not for security; MD5 is only a well-spread, agreed-upon function here.
//
// One-shot only: the inputs are keys (<= 250 bytes) and point names ("<name>-<i>"), so the whole
// message is always at hand. Md5() never allocates, which keeps Ring::Owner allocation-free.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace rc::cluster {

using Md5Digest = std::array<std::uint8_t, 16>;

Md5Digest Md5(std::string_view data);

// Word `index` (0..3) of a digest read as a little-endian uint32: bytes 4*index .. 4*index+3.
// This is how libmemcached (hosts.cc ketama_server_hash), twemproxy (nc_ketama.c) and
// spymemcached (KetamaNodeLocator) all turn one digest into four ring points, and word 0 is the
// MD5 key hash (libhashkit md5.cc).
inline std::uint32_t Md5Word(const Md5Digest& digest, int index) {
  const std::uint8_t* p = digest.data() + 4 * index;
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace rc::cluster
