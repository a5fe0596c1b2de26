// origin/pg_text.cc -- see pg_text.h.
#include "origin/pg_text.h"

#include <charconv>

namespace rc::origin {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <typename T>
bool ParseWhole(std::string_view text, T* out) {
  if (text.empty()) return false;
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  *out = v;
  return true;
}

}  // namespace

bool DecodeByteaHex(std::string_view text, std::string* out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  out->clear();
  out->reserve((text.size() - 2) / 2);
  for (std::size_t i = 2; i < text.size(); i += 2) {
    const int hi = HexDigit(text[i]);
    const int lo = HexDigit(text[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

bool ParseFlags(std::string_view text, std::uint32_t* out) { return ParseWhole(text, out); }

bool ParseTtl(std::string_view text, std::int64_t* out) { return ParseWhole(text, out); }

}  // namespace rc::origin
