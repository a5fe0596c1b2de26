// base/hash.h -- the key hash used by the store's shards and hash tables.
//
// 64-bit, fast on short keys (most memcached keys are 10-60 bytes), good avalanche in both
// halves: the store takes shard bits from the top and bucket bits from the bottom. Not used for
// the Ketama ring, whose hashes are fixed by the clients (cluster/).
#pragma once

#include <cstdint>
#include <string_view>

namespace rc::base {

std::uint64_t HashKey(std::string_view key);

}  // namespace rc::base
