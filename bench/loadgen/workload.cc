// bench/loadgen/workload.cc -- see workload.h.
#include "workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "ringcached/proto/binary.h"
#include "ringcached/proto/client_codec.h"

namespace rc::loadgen {
namespace {

std::uint64_t SplitMix(std::uint64_t* x) {
  std::uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

namespace codec = rc::proto::client;
namespace bin = rc::proto::binary;

// The reply to one text request: a set's line, or a get's VALUE blocks and END (or an error
// line, which is the whole reply).
bool ParseText(Kind kind, std::string_view in, Reply* reply, bool* fatal) {
  std::size_t pos = 0;
  std::uint32_t hits = 0;
  while (true) {
    codec::TextReply unit;
    const codec::ReplyStatus s = codec::ParseTextReply(in.substr(pos), &unit);
    if (s == codec::ReplyStatus::kNeedMore) return false;
    if (s == codec::ReplyStatus::kError) {
      *fatal = true;
      return false;
    }
    pos += unit.consumed;
    if (unit.kind == codec::TextReply::Kind::kValue && kind != Kind::kSet) {
      ++hits;
      continue;
    }
    reply->consumed = pos;
    reply->hits = hits;
    reply->error = kind == Kind::kSet ? unit.line != "STORED" : unit.line != "END";
    return true;
  }
}

// The reply to one binary request: one packet, or a multi-get's GETKQ hits and the NOOP.
bool ParseBinary(Kind kind, std::string_view in, Reply* reply, bool* fatal) {
  std::size_t pos = 0;
  std::uint32_t hits = 0;
  while (true) {
    codec::BinaryReply packet;
    const codec::ReplyStatus s = codec::ParseBinaryReply(in.substr(pos), &packet);
    if (s == codec::ReplyStatus::kNeedMore) return false;
    if (s == codec::ReplyStatus::kError) {
      *fatal = true;
      return false;
    }
    pos += packet.consumed;
    if (kind == Kind::kMultiGet && packet.header.opcode != bin::kNoop) {
      // A GETKQ hit (a quiet get never answers a miss); an error status is still one reply.
      if (packet.status() == bin::kSuccess) {
        ++hits;
      } else {
        reply->error = true;
      }
      continue;
    }
    reply->consumed = pos;
    reply->hits = hits;
    if (kind == Kind::kGet) {
      if (packet.status() == bin::kSuccess) {
        reply->hits = 1;
      } else if (packet.status() != bin::kKeyNotFound) {
        reply->error = true;
      }
    } else if (kind == Kind::kSet) {
      reply->error = packet.status() != bin::kSuccess;
    }
    return true;
  }
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  for (auto& s : s_) s = SplitMix(&seed);
}

std::uint64_t Rng::Next() {
  const std::uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

ZipfTable::ZipfTable(std::uint64_t n, double theta) : cdf_(n) {
  double sum = 0;
  for (std::uint64_t r = 0; r < n; ++r) {
    sum += std::pow(static_cast<double>(r + 1), -theta);
    cdf_[r] = sum;
  }
  for (double& c : cdf_) c /= sum;
  if (n > 0) cdf_.back() = 1.0;
}

std::uint64_t ZipfTable::Draw(Rng& rng) const {
  const double u = rng.Unit();
  auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  if (it == cdf_.end()) --it;
  return static_cast<std::uint64_t>(it - cdf_.begin());
}

double ZipfTable::TopMass(std::uint64_t top) const {
  if (top == 0 || cdf_.empty()) return 0;
  return cdf_[std::min<std::uint64_t>(top, cdf_.size()) - 1];
}

namespace {

// SPEC's fields after the shape name, split at ':'.
std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> out;
  for (std::size_t colon; (colon = s.find(':')) != std::string_view::npos;
       s.remove_prefix(colon + 1)) {
    out.push_back(s.substr(0, colon));
  }
  out.push_back(s);
  return out;
}

bool ParseSize(std::string_view s, std::size_t* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string ValueSizes::Parse(std::string_view spec, ValueSizes* out) {
  const std::string usage = "value sizes are N, fixed:N, uniform:MIN:MAX or pareto:MIN:MAX:ALPHA";
  ValueSizes v;
  std::vector<std::string_view> f = Fields(spec);
  const std::string_view shape = f.size() == 1 ? "fixed" : f.front();
  if (f.size() > 1) f.erase(f.begin());
  std::size_t want = 0;
  if (shape == "fixed") {
    v.shape_ = Shape::kFixed;
    want = 1;
  } else if (shape == "uniform") {
    v.shape_ = Shape::kUniform;
    want = 2;
  } else if (shape == "pareto") {
    v.shape_ = Shape::kPareto;
    want = 3;
  } else {
    return usage;
  }
  if (f.size() != want || !ParseSize(f[0], &v.min_)) return usage;
  v.max_ = v.min_;
  if (want >= 2 && !ParseSize(f[1], &v.max_)) return usage;
  if (v.min_ > v.max_) return "value sizes: MIN above MAX";
  if (v.max_ > kMaxValueSize) {
    return "value sizes above " + std::to_string(kMaxValueSize) + " (memcached's item limit)";
  }
  switch (v.shape_) {
    case Shape::kFixed:
      v.mean_ = static_cast<double>(v.min_);
      break;
    case Shape::kUniform:
      v.mean_ = (static_cast<double>(v.min_) + static_cast<double>(v.max_)) / 2;
      break;
    case Shape::kPareto: {
      const std::string a(f[2]);
      char* end = nullptr;
      v.alpha_ = std::strtod(a.c_str(), &end);
      if (a.empty() || *end != '\0' || !(v.alpha_ > 0) || v.alpha_ > 100) {
        return "pareto: ALPHA must be a number above 0 (and at most 100)";
      }
      if (v.min_ == 0) return "pareto: MIN must be at least 1";
      v.tail_ = 1 - std::pow(static_cast<double>(v.min_) / static_cast<double>(v.max_), v.alpha_);
      // E[size] = min + sum over k in [min, max) of P(size > k), and Draw() rounds to the nearest
      // byte, so P(size > k) = 1 - F(k + 0.5). At most 2^20 terms, once.
      double mean = static_cast<double>(v.min_);
      for (std::size_t k = v.min_; k < v.max_; ++k) {
        mean += 1 - v.ParetoCdf(static_cast<double>(k) + 0.5);
      }
      v.mean_ = mean;
      break;
    }
  }
  *out = v;
  return "";
}

double ValueSizes::ParetoCdf(double x) const {
  const double lo = static_cast<double>(min_);
  if (x <= lo) return 0;
  if (x >= static_cast<double>(max_) || tail_ <= 0) return 1;
  return (1 - std::pow(lo / x, alpha_)) / tail_;
}

std::size_t ValueSizes::Draw(Rng& rng) const {
  switch (shape_) {
    case Shape::kFixed:
      return min_;
    case Shape::kUniform:
      return min_ + static_cast<std::size_t>(rng.Below(max_ - min_ + 1));
    case Shape::kPareto: {
      // The inverse of the CDF above at u in [0, 1): x in [min, max).
      const double u = rng.Unit();
      const double x = static_cast<double>(min_) * std::pow(1 - u * tail_, -1 / alpha_);
      return std::clamp(static_cast<std::size_t>(x + 0.5), min_, max_);
    }
  }
  return min_;
}

std::string ValueSizes::Spec() const {
  switch (shape_) {
    case Shape::kFixed:
      return "fixed:" + std::to_string(min_);
    case Shape::kUniform:
      return "uniform:" + std::to_string(min_) + ":" + std::to_string(max_);
    case Shape::kPareto: {
      char alpha[32];
      std::snprintf(alpha, sizeof(alpha), "%g", alpha_);
      return "pareto:" + std::to_string(min_) + ":" + std::to_string(max_) + ":" + alpha;
    }
  }
  return "?";
}

void KeySpace::Format(std::uint64_t n, char* out) const {
  std::memcpy(out, prefix.data(), prefix.size());
  std::uint64_t id = key_offset + n;
  for (std::size_t i = key_len; i > prefix.size(); --i) {
    out[i - 1] = static_cast<char>('0' + id % 10);
    id /= 10;
  }
}

std::string KeySpace::Check() const {
  if (key_len > 250) return "key length above memcached's 250";
  if (keys == 0) return "no keys";
  if (key_len <= prefix.size()) return "key length leaves no room for the id after the prefix";
  // The largest id must fit the digits left after the prefix.
  const std::uint64_t largest = key_offset + keys - 1;
  std::size_t digits = 1;
  for (std::uint64_t v = largest; v >= 10; v /= 10) ++digits;
  if (digits > key_len - prefix.size()) return "key length too short for the largest key id";
  return "";
}

Encoder::Encoder(Protocol protocol, const KeySpace& keys, std::size_t max_value_size)
    : protocol_(protocol), keys_(keys), filler_(max_value_size, 'x') {}

std::string_view Encoder::Key(std::uint64_t key, char* buf) const {
  keys_.Format(key, buf);
  return {buf, keys_.key_len};
}

void Encoder::Set(std::uint64_t key, std::size_t value_size, std::string* out) const {
  const std::string_view value = std::string_view(filler_).substr(0, value_size);
  char buf[kMaxKeyLength];
  if (protocol_ == Protocol::kText) {
    codec::AppendTextStore(out, "set", Key(key, buf), 0, 0, value);
    return;
  }
  char extras[20];
  codec::AppendBinary(out, {.opcode = bin::kSet,
                            .key = Key(key, buf),
                            .extras = codec::StorageExtras(extras, 0, 0),
                            .value = value});
}

void Encoder::Get(const std::uint64_t* keys, std::size_t n, std::string* out) const {
  char buf[kMaxKeyLength];
  if (protocol_ == Protocol::kText) {
    out->append("get", 3);
    for (std::size_t i = 0; i < n; ++i) {
      out->push_back(' ');
      out->append(Key(keys[i], buf));
    }
    out->append("\r\n", 2);
    return;
  }
  if (n == 1) {
    codec::AppendBinary(out, {.opcode = bin::kGet, .key = Key(keys[0], buf)});
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    codec::AppendBinary(out, {.opcode = bin::kGetKQ, .key = Key(keys[i], buf)});
  }
  codec::AppendBinary(out, {.opcode = bin::kNoop});
}

bool ParseReply(Protocol protocol, Kind kind, std::string_view in, Reply* reply, bool* fatal) {
  *reply = Reply{};
  return protocol == Protocol::kText ? ParseText(kind, in, reply, fatal)
                                     : ParseBinary(kind, in, reply, fatal);
}

}  // namespace rc::loadgen
