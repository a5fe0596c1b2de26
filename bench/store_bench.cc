// bench/store_bench.cc -- the item store alone: get (hit and miss), set (overwrite), set that has
// to evict, and from 1, 2 and 4 threads sharing one Store: a 1:10 set:get mix, gets only, and
// gets of 16 hot keys.
//
// Every store here is built from the public contract (ringcached/store/store.h) with the same
// defaults as the server (store::Options{}: its shard count, the jemalloc arena), on a
// SystemClock. Keys are the load
// generator's shape, 16 bytes; values 32 bytes unless the argument says otherwise. A set is what
// the server does for one: Allocate, copy the value, Put. items_per_second is operations per
// second (for the threaded runs, of all threads together: they use real time).
//
// The contended runs show lock and cache-line traffic between threads: with perfect scaling the
// 2-thread items_per_second doubles the 1-thread one. On a 2-vCPU machine the 4-thread figure
// measures oversubscription as much as contention; read it against 1 and 2.
//
// Run: `make bench`, or bench/store_bench --benchmark_filter=Contended in the build tree.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/store/store.h"

namespace rc::store {
namespace {

constexpr unsigned kKeys = 100000;  // the preloaded key count

// n keys of 16 bytes, back to back in one buffer: a request's key sits in the connection's input
// buffer, which is in cache, so the benchmark should not add a cache miss per key either (16
// bytes is one past std::string's inline capacity, so a vector of strings would).
class KeyList {
 public:
  KeyList(unsigned n, const char* prefix) : bytes_(std::size_t{n} * kLen + 1, '\0') {
    for (unsigned i = 0; i < n; ++i) {
      std::snprintf(&bytes_[std::size_t{i} * kLen], kLen + 1, "%s%012u", prefix, i);
    }
  }
  std::string_view operator[](std::size_t i) const { return {&bytes_[i * kLen], kLen}; }
  std::size_t size() const { return bytes_.size() / kLen; }

 private:
  static constexpr std::size_t kLen = 16;
  std::string bytes_;
};

KeyList MakeKeys(unsigned n, const char* prefix) { return KeyList(n, prefix); }

const KeyList& Keys() {
  static const KeyList keys(kKeys, "key:");
  return keys;
}

base::SystemClock& Clock() {
  static base::SystemClock clock;
  return clock;
}

bool Set(Store& store, std::string_view key, std::string_view value) {
  Allocation a = store.Allocate(key, 0, 0, static_cast<std::uint32_t>(value.size()));
  if (a.outcome != Outcome::kStored) return false;
  std::memcpy(a.item.writable_value(), value.data(), value.size());
  return store.Put(&a.item, Mode::kSet) == Outcome::kStored;
}

std::unique_ptr<Store> Preloaded(std::size_t memory_limit, std::size_t value_len) {
  auto store = std::make_unique<Store>(Options{.memory_limit = memory_limit}, &Clock());
  const std::string value(value_len, 'v');
  for (std::size_t i = 0; i < kKeys; ++i) Set(*store, Keys()[i], value);
  return store;
}

// Random key indices drawn up front, so the loop measures the store and not the generator.
std::vector<unsigned> Picks(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<unsigned> pick(0, kKeys - 1);
  std::vector<unsigned> picks(1 << 16);
  for (unsigned& p : picks) p = pick(rng);
  return picks;
}

void BM_StoreGetHit(benchmark::State& state) {
  auto store = Preloaded(256u << 20, 32);
  const auto picks = Picks(1);
  std::size_t i = 0, hits = 0;
  for (auto _ : state) {
    Lookup l = store->Get(Keys()[picks[i++ & 0xffff]]);
    hits += static_cast<bool>(l.item);
  }
  if (hits != static_cast<std::size_t>(state.iterations()))
    state.SkipWithError("a preloaded key missed");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreGetHit);

void BM_StoreGetMiss(benchmark::State& state) {
  auto store = Preloaded(256u << 20, 32);
  const auto absent = MakeKeys(1 << 16, "nop:");
  std::size_t i = 0;
  for (auto _ : state) {
    Lookup l = store->Get(absent[i++ & 0xffff]);
    benchmark::DoNotOptimize(l);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreGetMiss);

// Overwrites of preloaded keys: allocate, copy, link, free the old item. Arg: value length.
void BM_StoreSet(benchmark::State& state) {
  const auto value_len = static_cast<std::size_t>(state.range(0));
  auto store = Preloaded(1024u << 20, value_len);
  const std::string value(value_len, 'w');
  const auto picks = Picks(2);
  std::size_t i = 0;
  for (auto _ : state) {
    if (!Set(*store, Keys()[picks[i++ & 0xffff]], value)) {
      state.SkipWithError("set failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * value_len));
}
BENCHMARK(BM_StoreSet)->Arg(32)->Arg(1024);

// New keys into a full 8 MB store: from the first few thousand on, every set evicts (S3-FIFO tail
// walk, ghost insert, free) before it can allocate. Arg: value length.
void BM_StoreSetEvict(benchmark::State& state) {
  const auto value_len = static_cast<std::size_t>(state.range(0));
  Store store(Options{.memory_limit = 8u << 20}, &Clock());
  const std::string value(value_len, 'v');
  const auto keys = MakeKeys(1 << 20, "evk:");
  // Fill first, so the timed loop only sees sets that evict.
  for (std::size_t i = 0; i < (16u << 20) / (value_len + 72); ++i) {
    Set(store, keys[i & (keys.size() - 1)], value);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    if (!Set(store, keys[i++ & (keys.size() - 1)], value)) {
      state.SkipWithError("set failed");
      break;
    }
  }
  state.counters["evictions"] = static_cast<double>(store.GetStats().evictions);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreSetEvict)->Arg(32)->Arg(1024);

// One store shared by all threads of a run; made before the threads start, dropped after.
std::unique_ptr<Store> shared_store;

void MakeSharedStore(const benchmark::State&) { shared_store = Preloaded(256u << 20, 32); }
void DropSharedStore(const benchmark::State&) { shared_store.reset(); }

// 1 set per 10 gets over the 100k preloaded keys, each thread with its own key sequence.
void BM_StoreContendedMix(benchmark::State& state) {
  const auto picks = Picks(100 + static_cast<std::uint64_t>(state.thread_index()));
  const std::string value(32, 'w');
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string_view key = Keys()[picks[i & 0xffff]];
    if (i % 11 == 0) {
      Set(*shared_store, key, value);
    } else {
      Lookup l = shared_store->Get(key);
      benchmark::DoNotOptimize(l);
    }
    ++i;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreContendedMix)
    ->Setup(MakeSharedStore)
    ->Teardown(DropSharedStore)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

// Gets only, uniform over the 100k keys: no item is written but for its reference count, so
// what does not scale here is shared store state (shard locks and what shares their lines).
void BM_StoreContendedGet(benchmark::State& state) {
  const auto picks = Picks(200 + static_cast<std::uint64_t>(state.thread_index()));
  std::size_t i = 0;
  for (auto _ : state) {
    Lookup l = shared_store->Get(Keys()[picks[i++ & 0xffff]]);
    benchmark::DoNotOptimize(l);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreContendedGet)
    ->Setup(MakeSharedStore)
    ->Teardown(DropSharedStore)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

// All threads hammer the same 16 keys: the worst case for one shard's lock and the items'
// reference counts (a hot key read by every worker).
void BM_StoreContendedHotKeys(benchmark::State& state) {
  std::size_t i = static_cast<std::size_t>(state.thread_index());
  for (auto _ : state) {
    Lookup l = shared_store->Get(Keys()[i++ & 15]);
    benchmark::DoNotOptimize(l);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_StoreContendedHotKeys)
    ->Setup(MakeSharedStore)
    ->Teardown(DropSharedStore)
    ->Threads(1)
    ->Threads(2)
    ->Threads(4)
    ->UseRealTime();

}  // namespace
}  // namespace rc::store

BENCHMARK_MAIN();
