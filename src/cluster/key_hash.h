// cluster/key_hash.h -- the key hashes memcached clients feed into a Ketama ring, reproduced
// bit for bit (KETAMA.md section 1 and appendix A). Which one a ring uses is part of its
// RingRecipe; these are exposed for the ring, its tests and its benchmark.
//
// one_at_a_time and fnv1a_64 copy libhashkit 1.1.4 (one_at_a_time.cc, fnv_64.cc), which
// twemproxy's nc_hash shares, *including* its quirk: each byte is read through `char`, signed on
// x86-64, so a byte >= 0x80 is sign-extended before it is mixed in (0xE9 becomes 0xFFFFFFE9).
// Clients built where char is unsigned (ARM Linux) hash such keys differently; we follow x86,
// where the vectors in ../shared/testdata/ketama were recorded. MD5 has no such problem.
#pragma once

#include <cstdint>
#include <string_view>

namespace rc::cluster {

// LE32(MD5(key)[0..3]): libmemcached MEMCACHED_HASH_MD5 / KETAMA_WEIGHTED, twemproxy `hash: md5`,
// spymemcached KETAMA_HASH (over the key's UTF-8 bytes). Does not allocate.
std::uint32_t Md5KeyHash(std::string_view key);

// Bob Jenkins' one-at-a-time, libhashkit's MEMCACHED_HASH_DEFAULT (plain KETAMA's key hash).
std::uint32_t OneAtATimeKeyHash(std::string_view key);

// libhashkit's and twemproxy's "fnv1a_64": FNV-1a with the 64-bit parameters cut to 32 bits
// (offset 0x84222325, prime 0x1b3), so it is a 32-bit hash despite its name. twemproxy's default.
std::uint32_t Fnv1a64KeyHash(std::string_view key);

}  // namespace rc::cluster
