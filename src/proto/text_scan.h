// proto/text_scan.h -- byte-level helpers shared by the text and meta parsers (module-private).
//
// memcached tokenizes a command line on ' ' after NUL-terminating it, and reads numbers with the
// safe_strto* functions of util.c. Both parsers must agree with it byte for byte, so they share
// these helpers rather than keeping two copies of the same quirks.
//
// Thread-safety: pure functions.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

namespace rc::proto::internal {

// A token ends at ' ' or at NUL: memcached NUL-terminates the line and tokenizes it with
// strlen(), so a NUL byte ends the line for it (the bytes after it, up to the '\n', are dropped).
inline bool IsDelimiter(char c) { return (static_cast<unsigned char>(c) & ~0x20u) == 0; }

// The first ' ' or NUL in [p, end), or end. Tokens are scanned eight bytes at a time (SWAR):
// clearing bit 5 of every byte maps exactly ' ' and NUL to zero, and the classic has-zero-byte
// expression then flags them; its lowest flag is exact. The 8-byte loads may run past `end` (into
// the "\r\n" and beyond) but never past `limit`, the end of the caller's input.
inline const char* FindDelimiter(const char* p, const char* end, const char* limit) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHighBits = 0x8080808080808080ull;
  constexpr std::uint64_t kClearSpaceBit = ~(kOnes * 0x20);
  while (p < end && limit - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::uint64_t t = w & kClearSpaceBit;
    const std::uint64_t zero = (t - kOnes) & ~t & kHighBits;
    if (zero != 0) {
      const int bit = std::endian::native == std::endian::little ? std::countr_zero(zero)
                                                                 : std::countl_zero(zero);
      const char* found = p + bit / 8;
      return found < end ? found : end;
    }
    p += 8;
  }
  while (p < end && !IsDelimiter(*p)) ++p;
  return p < end ? p : end;
}

// isspace() in the C locale. ' ' and '\n' never occur inside a token, but '\t', '\v', '\f' and
// '\r' can, and strtoul() skips them in front of a number and safe_strto*() accepts one behind it.
inline bool IsCSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// A decimal number as glibc's strtoul()/strtol() scan it: optional leading white space, an
// optional sign, at least one digit. `overflow` means the magnitude exceeds 2^64 - 1 (ERANGE).
struct ScannedNumber {
  std::uint64_t magnitude = 0;
  bool negative = false;
  bool overflow = false;
};

// The part shared by memcached's safe_strtoul/safe_strtol/safe_strtoull (util.c): the token must
// hold a number, and the byte right after the digits, if any, must be white space. Only that one
// byte is looked at, so "5\tjunk" is 5. Returns false where those functions return false before
// looking at the value.
inline bool ScanNumber(std::string_view tok, ScannedNumber* n) {
  const char* p = tok.data();
  const char* const end = p + tok.size();
  // Fast path: nearly every token is just 1..19 digits, which cannot overflow.
  if (tok.size() <= 19) {
    std::uint64_t v = 0;
    const char* q = p;
    for (; q < end; ++q) {
      const unsigned d = static_cast<unsigned char>(*q) - unsigned{'0'};
      if (d > 9) break;
      v = v * 10 + d;
    }
    if (q == end && q != p) {
      n->magnitude = v;
      return true;
    }
  }
  while (p < end && IsCSpace(*p)) ++p;
  if (p < end && (*p == '+' || *p == '-')) {
    n->negative = *p == '-';
    ++p;
  }
  const char* const digits = p;
  std::uint64_t v = 0;
  bool overflow = false;
  for (; p < end; ++p) {
    const unsigned d = static_cast<unsigned char>(*p) - unsigned{'0'};
    if (d > 9) break;
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      overflow = true;  // keep scanning: strtoul consumes every digit before reporting ERANGE
    } else {
      v = v * 10 + d;
    }
  }
  if (p == digits) return false;                 // no conversion (endptr == str)
  if (p < end && !IsCSpace(*p)) return false;    // trailing garbage
  n->magnitude = v;
  n->overflow = overflow;
  return true;
}

// safe_strtoull: a uint64. strtoull() negates a "-N" modulo 2^64, and memcached rejects the
// result only when it looks negative as an int64 and the token holds a '-' somewhere; so "-0" is
// 0 and "-18446744073709551615" is 1, as in memcached.
inline bool SafeStrtoull(std::string_view tok, std::uint64_t* out) {
  ScannedNumber n;
  if (!ScanNumber(tok, &n) || n.overflow) return false;
  const std::uint64_t v = n.negative ? 0 - n.magnitude : n.magnitude;
  if (static_cast<std::int64_t>(v) < 0 && tok.find('-') != std::string_view::npos) return false;
  *out = v;
  return true;
}

// safe_strtoul: strtoul() on a 64-bit long, then stored into a uint32_t. The silent truncation is
// why flags "4294967296" are accepted as 0 (observed on 1.6.18).
inline bool SafeStrtoul(std::string_view tok, std::uint32_t* out) {
  std::uint64_t v;
  if (!SafeStrtoull(tok, &v)) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

// safe_strtol: strtol() on a 64-bit long (ERANGE outside int64), then stored into an int32_t, again
// truncating. So <bytes> "4294967295" becomes -1 and is refused (t/issue_70.t), and an exptime of
// "4294967296" means 0, exactly as memcached reads them.
inline bool SafeStrtol(std::string_view tok, std::int32_t* out) {
  ScannedNumber n;
  if (!ScanNumber(tok, &n) || n.overflow) return false;
  constexpr std::uint64_t kMaxPositive = std::numeric_limits<std::int64_t>::max();
  if (n.magnitude > kMaxPositive + (n.negative ? 1 : 0)) return false;
  const std::uint64_t v = n.negative ? 0 - n.magnitude : n.magnitude;
  *out = static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return true;
}

}  // namespace rc::proto::internal
