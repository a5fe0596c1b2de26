// bench/loadgen/workload.cc -- see workload.h.
#include "workload.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace rc::loadgen {
namespace {

std::uint64_t SplitMix(std::uint64_t* x) {
  std::uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Binary protocol constants (memcached protocol_binary.h).
constexpr std::uint8_t kRequestMagic = 0x80;
constexpr std::uint8_t kResponseMagic = 0x81;
constexpr std::uint8_t kOpGet = 0x00;
constexpr std::uint8_t kOpSet = 0x01;
constexpr std::uint8_t kOpNoop = 0x0a;
constexpr std::uint8_t kOpGetKQ = 0x0d;
constexpr std::size_t kHeader = 24;

void AppendHeader(std::string* out, std::uint8_t opcode, std::size_t key_len,
                  std::size_t extras_len, std::size_t body_len) {
  char h[kHeader] = {};
  h[0] = static_cast<char>(kRequestMagic);
  h[1] = static_cast<char>(opcode);
  h[2] = static_cast<char>(key_len >> 8);
  h[3] = static_cast<char>(key_len & 0xff);
  h[4] = static_cast<char>(extras_len);
  h[8] = static_cast<char>(body_len >> 24);
  h[9] = static_cast<char>(body_len >> 16);
  h[10] = static_cast<char>(body_len >> 8);
  h[11] = static_cast<char>(body_len);
  out->append(h, kHeader);
}

std::uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
         u[3];
}

// The text line at the front of `in`, without "\r\n"; false if incomplete.
bool Line(std::string_view in, std::string_view* line, std::size_t* with_crlf) {
  const void* nl = std::memchr(in.data(), '\n', in.size());
  if (nl == nullptr) return false;
  std::size_t end = static_cast<const char*>(nl) - in.data();
  *with_crlf = end + 1;
  if (end > 0 && in[end - 1] == '\r') --end;
  *line = in.substr(0, end);
  return true;
}

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// <bytes> of "VALUE <key> <flags> <bytes> [<cas>]"; false when malformed.
bool ValueBytes(std::string_view line, std::size_t* bytes) {
  std::size_t pos = 6;                       // after "VALUE "
  for (int field = 0; field < 2; ++field) {  // skip key and flags
    pos = line.find(' ', pos);
    if (pos == std::string_view::npos) return false;
    ++pos;
  }
  std::size_t n = 0, digits = 0;
  while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9') {
    n = n * 10 + static_cast<std::size_t>(line[pos++] - '0');
    ++digits;
  }
  *bytes = n;
  return digits > 0;
}

bool ParseText(Kind kind, std::string_view in, Reply* reply, bool* fatal) {
  std::size_t pos = 0;
  std::string_view line;
  std::size_t len = 0;
  if (kind == Kind::kSet) {
    if (!Line(in, &line, &len)) return false;
    reply->consumed = len;
    reply->error = line != "STORED";
    return true;
  }
  std::uint32_t hits = 0;
  while (Line(in.substr(pos), &line, &len)) {
    if (line == "END") {
      reply->consumed = pos + len;
      reply->hits = hits;
      return true;
    }
    if (StartsWith(line, "VALUE ")) {
      std::size_t bytes = 0;
      if (!ValueBytes(line, &bytes)) {
        *fatal = true;
        return false;
      }
      if (in.size() - pos < len + bytes + 2) return false;
      pos += len + bytes + 2;
      ++hits;
      continue;
    }
    // SERVER_ERROR, CLIENT_ERROR, ERROR: the whole reply to this get.
    reply->consumed = pos + len;
    reply->hits = hits;
    reply->error = true;
    return true;
  }
  return false;
}

bool ParseBinary(Kind kind, std::string_view in, Reply* reply, bool* fatal) {
  std::size_t pos = 0;
  std::uint32_t hits = 0;
  while (in.size() - pos >= kHeader) {
    const char* h = in.data() + pos;
    if (static_cast<std::uint8_t>(h[0]) != kResponseMagic) {
      *fatal = true;
      return false;
    }
    const std::size_t packet = kHeader + Be32(h + 8);
    if (in.size() - pos < packet) return false;
    const auto opcode = static_cast<std::uint8_t>(h[1]);
    const std::uint16_t status = static_cast<std::uint16_t>(
        (static_cast<unsigned char>(h[6]) << 8) | static_cast<unsigned char>(h[7]));
    pos += packet;
    if (kind == Kind::kMultiGet && opcode != kOpNoop) {
      // A GETKQ hit (a quiet get never answers a miss); an error status is still one reply.
      if (status == 0) {
        ++hits;
      } else {
        reply->error = true;
      }
      continue;
    }
    reply->consumed = pos;
    reply->hits = hits;
    if (kind == Kind::kGet) {
      if (status == 0) {
        reply->hits = 1;
      } else if (status != 1) {  // 1: key not found
        reply->error = true;
      }
    } else if (kind == Kind::kSet) {
      reply->error = status != 0;
    }
    return true;
  }
  return false;
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

void Encoder::AppendKey(std::uint64_t key, std::string* out) const {
  const std::size_t at = out->size();
  out->resize(at + keys_.key_len);
  keys_.Format(key, out->data() + at);
}

void Encoder::Set(std::uint64_t key, std::size_t value_size, std::string* out) const {
  const std::string_view value = std::string_view(filler_).substr(0, value_size);
  if (protocol_ == Protocol::kText) {
    char tail[32];  // " <flags> <exptime> <bytes>\r\n"
    const int n = std::snprintf(tail, sizeof(tail), " 0 0 %zu\r\n", value.size());
    out->append("set ", 4);
    AppendKey(key, out);
    out->append(tail, static_cast<std::size_t>(n));
    out->append(value);
    out->append("\r\n", 2);
    return;
  }
  AppendHeader(out, kOpSet, keys_.key_len, 8, 8 + keys_.key_len + value.size());
  out->append(8, '\0');  // flags 0, exptime 0
  AppendKey(key, out);
  out->append(value);
}

void Encoder::Get(const std::uint64_t* keys, std::size_t n, std::string* out) const {
  if (protocol_ == Protocol::kText) {
    out->append("get", 3);
    for (std::size_t i = 0; i < n; ++i) {
      out->push_back(' ');
      AppendKey(keys[i], out);
    }
    out->append("\r\n", 2);
    return;
  }
  if (n == 1) {
    AppendHeader(out, kOpGet, keys_.key_len, 0, keys_.key_len);
    AppendKey(keys[0], out);
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    AppendHeader(out, kOpGetKQ, keys_.key_len, 0, keys_.key_len);
    AppendKey(keys[i], out);
  }
  AppendHeader(out, kOpNoop, 0, 0, 0);
}

bool ParseReply(Protocol protocol, Kind kind, std::string_view in, Reply* reply, bool* fatal) {
  *reply = Reply{};
  return protocol == Protocol::kText ? ParseText(kind, in, reply, fatal)
                                     : ParseBinary(kind, in, reply, fatal);
}

}  // namespace rc::loadgen
