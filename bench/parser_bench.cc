// bench/parser_bench.cc -- how many requests per second one core parses: text get/set/multi-get
// command lines, a pipelined 1:10 set:get batch, and binary header decoding.
//
// Only proto/ is measured: no sockets, no store. Each iteration parses what a connection would
// parse for the same bytes (Connection::ProcessInput in src/server/): the command line, then for a
// storage command the data block is skipped as the connection would copy it into the item, and a
// retrieval's keys are walked with KeyIterator, which is where the server checks each key's length.
// items_per_second in the output is requests per second per core; bytes_per_second is the wire
// input rate.
//
// Run: `make bench`, or bench/parser_bench --benchmark_filter=Text in the build tree.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/proto/binary.h"
#include "ringcached/proto/request.h"
#include "ringcached/proto/text_parser.h"

namespace rc::proto {
namespace {

// Keys shaped like the load generator's (bench/loadgen): 16 bytes, a prefix and a zero-padded id.
std::string Key(unsigned id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key:%012u", id);
  return buf;
}

std::string GetLine(unsigned id) { return "get " + Key(id) + "\r\n"; }

std::string SetRequest(unsigned id, std::size_t value_len) {
  return "set " + Key(id) + " 0 0 " + std::to_string(value_len) + "\r\n" +
         std::string(value_len, 'v') + "\r\n";
}

std::string MultiGetLine(unsigned first, unsigned nkeys) {
  std::string line = "get";
  for (unsigned i = 0; i < nkeys; ++i) line += " " + Key(first + i);
  return line + "\r\n";
}

// Parses every request in `wire` as the connection does; returns how many it parsed. Aborts the
// benchmark (SkipWithError) on anything but kOk, since the inputs are all well formed.
std::size_t ParseAll(benchmark::State& state, const TextParser& parser, std::string_view wire) {
  std::size_t requests = 0;
  while (!wire.empty()) {
    Request req;
    ParseResult r = parser.Parse(wire, &req);
    if (r.status != ParseStatus::kOk) {
      state.SkipWithError("unexpected parse status");
      return requests;
    }
    wire.remove_prefix(r.consumed);
    if (IsStorage(req.command)) {
      wire.remove_prefix(req.value_len + 2);  // the data block, read into the item by the server
    } else if (IsRetrieval(req.command)) {
      KeyIterator keys(req.keys);
      std::string_view key;
      std::size_t nkeys = 0;
      while (keys.Next(&key)) nkeys += key.size() <= kMaxKeyLength;
      benchmark::DoNotOptimize(nkeys);
    }
    benchmark::DoNotOptimize(req);
    ++requests;
  }
  return requests;
}

void RunText(benchmark::State& state, const std::string& wire) {
  TextParser parser;
  std::size_t requests = 0;
  for (auto _ : state) requests += ParseAll(state, parser, wire);
  state.SetItemsProcessed(static_cast<std::int64_t>(requests));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}

void BM_TextGet(benchmark::State& state) { RunText(state, GetLine(42)); }
BENCHMARK(BM_TextGet);

// The command line and the data block of a set; state.range(0) is the value length.
void BM_TextSet(benchmark::State& state) {
  RunText(state, SetRequest(42, static_cast<std::size_t>(state.range(0))));
}
BENCHMARK(BM_TextSet)->Arg(32)->Arg(1024);

// One "get k1 ... kN" line; items are requests (multiply by N for keys per second).
void BM_TextMultiGet(benchmark::State& state) {
  const auto nkeys = static_cast<unsigned>(state.range(0));
  RunText(state, MultiGetLine(0, nkeys));
  state.counters["keys_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * nkeys, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TextMultiGet)->Arg(10)->Arg(100);

// 16 requests in one buffer, as a pipelining client sends them: 1 set (32 B) per 10 gets, the
// mix of the throughput workloads.
void BM_TextPipelinedMix(benchmark::State& state) {
  std::string wire;
  for (unsigned i = 0; i < 16; ++i) wire += (i % 11 == 0) ? SetRequest(i, 32) : GetLine(i);
  RunText(state, wire);
}
BENCHMARK(BM_TextPipelinedMix);

// Binary: decode and shape-check one 24-byte request header, then walk to the next packet, over a
// batch of GETK and SET packets (what binary_commands.cc does before it reads a body).
std::string BinaryPacket(std::uint8_t opcode, std::string_view key, std::size_t extras,
                         std::size_t value_len) {
  std::string p(binary::kHeaderSize, '\0');
  p[0] = static_cast<char>(binary::kRequestMagic);
  p[1] = static_cast<char>(opcode);
  p[2] = static_cast<char>(key.size() >> 8);
  p[3] = static_cast<char>(key.size() & 0xff);
  p[4] = static_cast<char>(extras);
  binary::Store32(&p[8], static_cast<std::uint32_t>(extras + key.size() + value_len));
  p += std::string(extras, '\0');
  p += key;
  p += std::string(value_len, 'v');
  return p;
}

void BM_BinaryHeaderDecode(benchmark::State& state) {
  std::string wire;
  for (unsigned i = 0; i < 16; ++i) {
    wire += (i % 11 == 0) ? BinaryPacket(binary::kSet, Key(i), 8, 32)
                          : BinaryPacket(binary::kGetK, Key(i), 0, 0);
  }
  std::size_t requests = 0;
  for (auto _ : state) {
    std::size_t off = 0;
    while (off + binary::kHeaderSize <= wire.size()) {
      binary::Header h = binary::DecodeHeader(wire.data() + off);
      binary::Shape shape = binary::CheckShape(h);
      if (shape != binary::Shape::kOk) {
        state.SkipWithError("unexpected shape");
        break;
      }
      std::string_view key(wire.data() + off + binary::kHeaderSize + h.extras_len, h.key_len);
      benchmark::DoNotOptimize(key);
      off += binary::kHeaderSize + h.body_len;
      ++requests;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(requests));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_BinaryHeaderDecode);

}  // namespace
}  // namespace rc::proto

BENCHMARK_MAIN();
