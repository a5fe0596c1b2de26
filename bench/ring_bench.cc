// bench/ring_bench.cc -- the Ketama ring (cluster/ring.h): building it for 3, 10 and 100 members,
// and the lookups every routed or replicated request makes: Owner, Successors(2), Holders(2).
//
// A ring is rebuilt on each membership change (rare), so building only has to stay well under the
// ~1 s change debounce. Owner runs once per request that needs routing, so it should cost about
// what hashing the key costs: MD5 of one block, then a binary search over 480-16000 points.
// OwnerOfHash isolates the search; KeyHash the MD5.
//
// On the shared 2-vCPU development VM (CPU time, medians of 3): build 20 us / 86 us / 1.3 ms for
// 3 / 10 / 100 members; Owner 127-155 ns (MD5 of the key ~104 ns, the search 8-16 ns; twemproxy's
// fnv1a_64 profile 34 ns at 100 members); Successors(2) 148-164 ns. Session 10, CPU time, for
// 3 / 10 / 100 members: build 38 us / 128 us / 2.1 ms (it now keeps each member's point
// sequence for Holders), with the holder table (Ring::Index::kOwnersAndHolders) 75 us / 842 us /
// 46 ms; Holders(2) by libmemcached's rule 164 / 277 / 2,990 ns without the table (a lower
// bound per member), 138 / 148 / 176 ns with it; by spymemcached's re-hash 316 ns at 100.
//
// Keys cycle through a pre-built set of 4096 "user:<n>:session"-style keys, so the cost of making
// a key is not measured and the searches do not all hit the same cache lines.
//
// Run: `make bench BENCH_FLAGS=--benchmark_filter=Ring`, or bench/ring_bench in the build tree.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "ringcached/cluster/ring.h"

namespace rc::cluster {
namespace {

std::vector<RingMember> Members(int n) {
  std::vector<RingMember> members;
  for (int i = 0; i < n; ++i) {
    members.push_back({"10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":" +
                           std::to_string(11311 + i % 7),
                       1});
  }
  return members;
}

const std::vector<std::string>& Keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (int i = 0; i < 4096; ++i) k.push_back("user:" + std::to_string(i * 7919) + ":session");
    return k;
  }();
  return keys;
}

RingProfile ProfileArg(const benchmark::State& state) {
  return static_cast<RingProfile>(state.range(1));
}

// Arg 2: 1 to index the holder lists too (Ring::Index::kOwnersAndHolders).
Ring::Index IndexArg(const benchmark::State& state) {
  return state.range(2) != 0 ? Ring::Index::kOwnersAndHolders : Ring::Index::kOwners;
}

void BM_RingBuild(benchmark::State& state) {
  const std::vector<RingMember> members = Members(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    Ring ring(members, ProfileArg(state), IndexArg(state));
    benchmark::DoNotOptimize(ring.points().data());
  }
  state.SetLabel(std::string(RingProfileName(ProfileArg(state))) +
                 (state.range(2) != 0 ? " +holders" : ""));
}

void BM_RingOwner(benchmark::State& state) {
  const Ring ring(Members(static_cast<int>(state.range(0))), ProfileArg(state));
  const auto& keys = Keys();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.Owner(keys[i++ & 4095]));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel(std::string(RingProfileName(ProfileArg(state))));
}

void BM_RingOwnerOfHash(benchmark::State& state) {
  const Ring ring(Members(static_cast<int>(state.range(0))), RingProfile::kLibmemcached);
  std::vector<std::uint32_t> hashes;
  for (const std::string& k : Keys()) hashes.push_back(ring.KeyHash(k));
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.OwnerOfHash(hashes[i++ & 4095]));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_RingKeyHash(benchmark::State& state) {
  const Ring ring({{"x", 1}}, ProfileArg(state));
  const auto& keys = Keys();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.KeyHash(keys[i++ & 4095]));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel(std::string(RingProfileName(ProfileArg(state))));
}

void BM_RingSuccessors2(benchmark::State& state) {
  const Ring ring(Members(static_cast<int>(state.range(0))), RingProfile::kLibmemcached);
  const auto& keys = Keys();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.Successors(keys[i++ & 4095], 2));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

// Ring::Holders(2): the second holder is the owner on the ring rebuilt without the first
// (libmemcached) or the failover re-hash (spymemcached).
void BM_RingHolders2(benchmark::State& state) {
  const Ring ring(Members(static_cast<int>(state.range(0))), ProfileArg(state), IndexArg(state));
  const auto& keys = Keys();
  std::size_t i = 0;
  std::uint32_t out[2];
  for (auto _ : state) {
    benchmark::DoNotOptimize(ring.Holders(keys[i++ & 4095], 2, out));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel(std::string(RingProfileName(ProfileArg(state))) +
                 (state.range(2) != 0 ? " +holders" : ""));
}

constexpr int kA = static_cast<int>(RingProfile::kLibmemcached);
constexpr int kB = static_cast<int>(RingProfile::kTwemproxy);
constexpr int kC = static_cast<int>(RingProfile::kSpymemcached);

BENCHMARK(BM_RingBuild)
    ->ArgsProduct({{3, 10, 100}, {kA}, {0, 1}})
    ->Args({100, kC, 0})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RingOwner)->ArgsProduct({{3, 10, 100}, {kA}})->Args({100, kB});
BENCHMARK(BM_RingOwnerOfHash)->Arg(3)->Arg(10)->Arg(100);
BENCHMARK(BM_RingKeyHash)->ArgsProduct({{0}, {kA, kB}});
BENCHMARK(BM_RingSuccessors2)->Arg(3)->Arg(10)->Arg(100);
BENCHMARK(BM_RingHolders2)->ArgsProduct({{3, 10, 100}, {kA}, {0, 1}})->Args({100, kC, 0});

}  // namespace
}  // namespace rc::cluster

BENCHMARK_MAIN();
