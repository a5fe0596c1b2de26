// bench/loadgen/workload.h -- what rc-loadgen sends and how it reads the answers: deterministic
// key choice (uniform, Zipf, sequential), value sizes (fixed, uniform, bounded Pareto), request
// encoding for the text and binary protocols, and incremental reply parsing that needs nothing
// but the bytes and the request they answer.
//
// Determinism: every random choice comes from a Rng seeded from (--seed, thread, connection), and
// Zipf ranks come from an exact CDF, so one connection's request sequence is the same against any
// server. Value sizes come from a second Rng per connection, so a connection's keys are the same
// whatever the size distribution, and its n-th set has the same size against any server. Across
// connections the interleaving depends on timing; runs that must be identical
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

// The size of each set's value (rc-loadgen --value-sizes SPEC):
//   fixed:N (or just N)    every value N bytes; what -v N means. Draws nothing from the Rng.
//   uniform:MIN:MAX        every size in [MIN, MAX] equally likely; mean (MIN + MAX) / 2.
//   pareto:MIN:MAX:ALPHA   bounded Pareto: P(X <= x) = (1 - (MIN/x)^ALPHA) / (1 - (MIN/MAX)^ALPHA)
//                          on [MIN, MAX], drawn by inverting that CDF at one uniform number and
//                          rounded to the nearest byte. Most values are near MIN (the median is
//                          about MIN x 2^(1/ALPHA)) and a few reach MAX; with ALPHA = 1 every
//                          decade of sizes holds the same share of the bytes, so
//                          pareto:100:102400:1 has a median of 200 B, 90% of values under 1 KB,
//                          0.9% over 10 KB, a mean of 694 B, and a third of its bytes in values
//                          over 10 KB.
// Sizes go up to kMaxValueSize, memcached's default item size limit (-I 1m); a server refuses a
// value that does not fit its limit together with the key and its item header.
//
// Thread-safety: immutable once parsed; Draw() may run on any thread with that thread's own Rng.
class ValueSizes {
 public:
  static constexpr std::size_t kMaxValueSize = std::size_t{1} << 20;
  enum class Shape : std::uint8_t { kFixed, kUniform, kPareto };

  ValueSizes() = default;
  explicit ValueSizes(std::size_t fixed)
      : min_(fixed), max_(fixed), mean_(static_cast<double>(fixed)) {}
  // Parses a SPEC as above into *out. Returns "" on success, otherwise what is wrong.
  static std::string Parse(std::string_view spec, ValueSizes* out);

  // One size; fixed sizes do not touch `rng`.
  std::size_t Draw(Rng& rng) const;
  // The exact expected value of Draw() (for the Pareto shape summed over the rounded
  // distribution's every size), so a long run's mean of the sizes drawn can be checked against it.
  double mean() const { return mean_; }
  std::size_t min() const { return min_; }
  std::size_t max() const { return max_; }
  bool fixed() const { return shape_ == Shape::kFixed; }
  // The canonical SPEC ("fixed:32", "uniform:10:20000", "pareto:100:102400:1").
  std::string Spec() const;

 private:
  // Bounded Pareto CDF at x (clamped: 0 below min_, 1 from max_ on).
  double ParetoCdf(double x) const;

  Shape shape_ = Shape::kFixed;
  std::size_t min_ = 32, max_ = 32;
  double alpha_ = 1;
  double tail_ = 0;  // Pareto: 1 - (min/max)^alpha
  double mean_ = 32;
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

// Appends requests to a connection's output buffer (proto's client codecs). Values are
// `value_size` bytes of 'x'.
class Encoder {
 public:
  // `keys` must outlive the Encoder; no value may be longer than `max_value_size`.
  Encoder(Protocol protocol, const KeySpace& keys, std::size_t max_value_size);
  void Set(std::uint64_t key, std::size_t value_size, std::string* out) const;
  // A get of the given keys: one key is a plain get; several are one text "get k1 k2 ..." line or
  // binary GETKQ x n followed by NOOP.
  void Get(const std::uint64_t* keys, std::size_t n, std::string* out) const;

 private:
  static constexpr std::size_t kMaxKeyLength = 250;
  // The key of id `key`, formatted into buf (kMaxKeyLength bytes).
  std::string_view Key(std::uint64_t key, char* buf) const;

  Protocol protocol_;
  const KeySpace& keys_;
  std::string filler_;  // max_value_size bytes of 'x': every value is a prefix of it
};

// What kind of request a reply answers.
enum class Kind : std::uint8_t { kSet, kGet, kMultiGet };

// One parsed reply.
struct Reply {
  std::size_t consumed = 0;  // bytes of input it took
  std::uint32_t hits = 0;    // gets: keys found
  bool error = false;        // anything but STORED/hit/miss (SERVER_ERROR, NOT_STORED, status)
};

// Parses the reply to one request from the front of `in` (proto's client codecs). Returns false
// when `in` does not hold the whole reply yet (nothing consumed). On a reply it cannot
// understand at all it sets *fatal and returns false: the byte stream is lost.
bool ParseReply(Protocol protocol, Kind kind, std::string_view in, Reply* reply, bool* fatal);

}  // namespace rc::loadgen
