// t/unit/proto/text_reply_test.cc -- the text-protocol reply encoders (text_reply.h) against
// std::to_string and the VALUE lines of ../shared/reference/memcached-1.6.18-transcript.txt.
#include "ringcached/proto/text_reply.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>

namespace rc::proto {
namespace {

std::string Format(std::uint64_t v) {
  char buf[20];
  return std::string(buf, FormatUint64(buf, v));
}

TEST(TextReplyTest, FormatUint64MatchesToStringAtEveryDigitCountBoundary) {
  EXPECT_EQ(Format(0), "0");
  std::uint64_t p = 1;
  for (int digits = 1; digits <= 20; ++digits) {
    for (std::uint64_t v : {p - 1, p, p + 1, p * 5 + 3}) {
      EXPECT_EQ(Format(v), std::to_string(v));
    }
    if (digits < 20) p *= 10;
  }
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(Format(kMax), "18446744073709551615");
  EXPECT_EQ(Format(kMax - 1), "18446744073709551614");
  // A cheap sweep over values with varied digit pairs.
  for (std::uint64_t v = 1; v < kMax / 7; v = v * 7 + 13) EXPECT_EQ(Format(v), std::to_string(v));
}

TEST(TextReplyTest, FormatUint64WritesNothingPastTheDigits) {
  char buf[24];
  std::fill(std::begin(buf), std::end(buf), '#');
  ASSERT_EQ(FormatUint64(buf, 42), 2u);
  EXPECT_EQ(std::string(buf, 4), "42##");
}

TEST(TextReplyTest, ValueHeaderIsByteForByteMemcacheds) {
  char buf[kMaxValueHeader];
  std::size_t n = FormatValueHeader(buf, "k1", 5, 3, false, 0);
  EXPECT_EQ(std::string(buf, n), "VALUE k1 5 3\r\n");
  n = FormatValueHeader(buf, "k1", 5, 3, true, 77);
  EXPECT_EQ(std::string(buf, n), "VALUE k1 5 3 77\r\n");
  n = FormatValueHeader(buf, "z", 0, 0, false, 0);
  EXPECT_EQ(std::string(buf, n), "VALUE z 0 0\r\n");
}

TEST(TextReplyTest, TheLongestValueHeaderFitsItsBuffer) {
  const std::string key(250, 'k');
  char buf[kMaxValueHeader];
  const std::size_t n = FormatValueHeader(buf, key, std::numeric_limits<std::uint32_t>::max(),
                                          std::numeric_limits<std::uint32_t>::max(), true,
                                          std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(n, kMaxValueHeader);
  EXPECT_EQ(std::string(buf, n),
            "VALUE " + key + " 4294967295 4294967295 18446744073709551615\r\n");
}

TEST(TextReplyTest, FixedRepliesEndInCrLf) {
  for (std::string_view s : {kStored, kNotStored, kExists, kNotFound, kDeleted, kTouched, kOkReply,
                             kEnd, kErrorReply, kReset, kBadDataChunk, kBadFormat, kTooLarge, kNoMemory,
                             kNonNumeric, kIncrNoMemory}) {
    ASSERT_GE(s.size(), 2u);
    EXPECT_EQ(s.substr(s.size() - 2), "\r\n");
  }
}

}  // namespace
}  // namespace rc::proto
