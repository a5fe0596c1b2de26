// bench/loadgen/workload.h -- what rc-loadgen sends and how it reads the answers: deterministic
// key choice (uniform, Zipf, sequential), request encoding for the text and binary protocols, and
// incremental reply parsing that needs nothing but the bytes and the request they answer.
//
// Determinism: every random choice comes from a Rng seeded from (--seed, thread, connection), and
// Zipf ranks come from an exact CDF, so one connection's request sequence is the same against any
// server. Across connections the interleaving depends on timing; runs that must be identical
// (bench/memory_hit_ratio.py) use one connection.
//
// Keys are `prefix` followed by the key id in decimal, zero-padded to exactly `key_len` bytes
// ("key:000000000042" for prefix "key:" and key_len 16), so every key has the same length and
// item sizes are known exactly. Key ids are `key_offset + n` with n in [0, keys).
//
// Replies follow memcached's doc/protocol.txt and protocol-binary.txt: a text set gets one line,
// a text get gets VALUE blocks and END; a binary multi-get is sent as GETKQ... NOOP, so only hits
// come back before the NOOP's reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rc::loadgen {

// xoshiro256** (Blackman and Vigna), seeded through splitmix64: fast and good enough for choosing
// keys; not for anything else.
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t Next();
  // Uniform in [0, n), by Lemire's multiply-shift (the tiny bias is irrelevant here).
  std::uint64_t Below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t s_[4];
};

enum class Distribution : std::uint8_t { kUniform, kZipf, kSequential };

// The exact Zipf CDF over n ranks: P(rank r) = (r+1)^-theta / H(n, theta). Built once (O(n)) and
// shared read-only by every thread; a draw is a binary search.
class ZipfTable {
 public:
  ZipfTable(std::uint64_t n, double theta);
  std::uint64_t Draw(Rng& rng) const;
  // The probability mass of the `top` most popular ranks: the hit ratio of an ideal cache holding
  // exactly those keys.
  double TopMass(std::uint64_t top) const;

 private:
  std::vector<double> cdf_;
};

struct KeySpace {
  std::string prefix = "key:";
  std::size_t key_len = 16;
  std::uint64_t key_offset = 0;
  std::uint64_t keys = 100000;
  // Writes the key of id `key_offset + n` to `out` (key_len bytes).
  void Format(std::uint64_t n, char* out) const;
  // Empty when the parameters cannot make keys (too short for the ids, too long for memcached).
  std::string Check() const;
};

enum class Protocol : std::uint8_t { kText, kBinary };

// Appends requests to a connection's output buffer.
class Encoder {
 public:
  Encoder(Protocol protocol, const KeySpace& keys, std::size_t value_size);
  void Set(std::uint64_t key, std::string* out) const;
  // A get of the given keys: one key is a plain get; several are one text "get k1 k2 ..." line or
  // binary GETKQ x n followed by NOOP.
  void Get(const std::uint64_t* keys, std::size_t n, std::string* out) const;

 private:
  void AppendKey(std::uint64_t key, std::string* out) const;

  Protocol protocol_;
  const KeySpace& keys_;
  std::string value_;     // value bytes followed by "\r\n" (text) or not (binary)
  std::string set_tail_;  // text: " 0 0 <len>\r\n"
};

// What kind of request a reply answers.
enum class Kind : std::uint8_t { kSet, kGet, kMultiGet };

// One parsed reply.
struct Reply {
  std::size_t consumed = 0;  // bytes of input it took
  std::uint32_t hits = 0;    // gets: keys found
  bool error = false;        // anything but STORED/hit/miss (SERVER_ERROR, NOT_STORED, status)
};

// Parses the reply to one request from the front of `in`. Returns false when `in` does not hold
// the whole reply yet (nothing consumed). On a reply it cannot understand at all it sets
// *fatal and returns false: the byte stream is lost.
bool ParseReply(Protocol protocol, Kind kind, std::string_view in, Reply* reply, bool* fatal);

}  // namespace rc::loadgen
