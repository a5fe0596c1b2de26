// proto/text_reply.cc -- number and "VALUE" header formatting for text-protocol replies.
//
// These run once per hit of every get, so they avoid snprintf (format-string parsing, locale
// look-ups) and write digits two at a time from a 200-byte table, the way memcached's itoa_u64
// and folly's uint64ToBufferUnsafe do. Callers size their buffers from text_reply.h.
#include "ringcached/proto/text_reply.h"

#include <cstring>

#include "ringcached/base/check.h"
#include "ringcached/proto/limits.h"

namespace rc::proto {
namespace {

constexpr char kDigitPairs[] =
    "00010203040506070809"
    "10111213141516171819"
    "20212223242526272829"
    "30313233343536373839"
    "40414243444546474849"
    "50515253545556575859"
    "60616263646566676869"
    "70717273747576777879"
    "80818283848586878889"
    "90919293949596979899";

inline std::size_t DigitCount(std::uint64_t v) {
  std::size_t n = 1;
  for (;;) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}

}  // namespace

std::size_t FormatUint64(char* buf, std::uint64_t v) {
  const std::size_t n = DigitCount(v);
  char* p = buf + n;
  while (v >= 100) {
    const std::size_t pair = static_cast<std::size_t>(v % 100) * 2;
    v /= 100;
    p -= 2;
    std::memcpy(p, kDigitPairs + pair, 2);
  }
  if (v >= 10) {
    std::memcpy(p - 2, kDigitPairs + v * 2, 2);
  } else {
    p[-1] = static_cast<char>('0' + v);
  }
  return n;
}

std::size_t FormatValueHeader(char* buf, std::string_view key, std::uint32_t flags,
                              std::uint32_t bytes, bool with_cas, std::uint64_t cas) {
  // kMaxValueHeader is computed for keys of at most kMaxKeyLength bytes.
  RC_CHECK(key.size() <= kMaxKeyLength);
  char* p = buf;
  std::memcpy(p, "VALUE ", 6);
  p += 6;
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  *p++ = ' ';
  p += FormatUint64(p, flags);
  *p++ = ' ';
  p += FormatUint64(p, bytes);
  if (with_cas) {
    *p++ = ' ';
    p += FormatUint64(p, cas);
  }
  *p++ = '\r';
  *p++ = '\n';
  return static_cast<std::size_t>(p - buf);
}

}  // namespace rc::proto
