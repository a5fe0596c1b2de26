// bench/hash_bench.cc -- base::HashKey, the store's key hash, on key lengths from 8 to 250 bytes
// (memcached's key limit). Every get and set hashes its key once, so at ~200 k requests per core
// second the hash should stay in the tens of nanoseconds for common key lengths (10-60 bytes).
//
// The keys vary between iterations (a counter is written into them) so the compiler cannot hoist
// the hash out of the loop; unaligned starts are covered by the odd lengths.
//
// Run: `make bench`, or bench/hash_bench in the build tree.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "ringcached/base/hash.h"

namespace rc::base {
namespace {

void BM_HashKey(benchmark::State& state) {
  const auto len = static_cast<std::size_t>(state.range(0));
  std::string key(len, 'k');
  std::uint64_t n = 0;
  for (auto _ : state) {
    std::memcpy(key.data(), &n, len < sizeof(n) ? len : sizeof(n));
    benchmark::DoNotOptimize(HashKey(key));
    ++n;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * len));
}
BENCHMARK(BM_HashKey)
    ->Arg(8)
    ->Arg(13)
    ->Arg(16)
    ->Arg(24)
    ->Arg(32)
    ->Arg(48)
    ->Arg(64)
    ->Arg(100)
    ->Arg(128)
    ->Arg(250);

}  // namespace
}  // namespace rc::base

BENCHMARK_MAIN();
