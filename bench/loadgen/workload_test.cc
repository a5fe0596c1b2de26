// bench/loadgen/workload_test.cc -- rc-loadgen's value sizes and request encoding, checked without
// a server: each --value-sizes shape draws what its comment in workload.h says (range, mean,
// quantiles, the same sizes for the same seed), sets of any size up to 1 MB are framed right in
// both protocols, and a 1 MB value comes back through the reply parser in fragments.
//
// The distribution checks are statistical but not flaky: the Rng is seeded, so every run draws
// the same million sizes, and the tolerances are several standard deviations wide.
#include "workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace rc::loadgen {
namespace {

ValueSizes MustParse(std::string_view spec) {
  ValueSizes v;
  EXPECT_EQ(ValueSizes::Parse(spec, &v), "") << spec;
  return v;
}

std::vector<std::size_t> DrawMany(const ValueSizes& sizes, std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::size_t> out(n);
  for (auto& s : out) s = sizes.Draw(rng);
  return out;
}

double Mean(const std::vector<std::size_t>& v) {
  double sum = 0;
  for (std::size_t s : v) sum += static_cast<double>(s);
  return sum / static_cast<double>(v.size());
}

double ShareAtMost(const std::vector<std::size_t>& v, std::size_t limit) {
  return static_cast<double>(
             std::count_if(v.begin(), v.end(), [limit](std::size_t s) { return s <= limit; })) /
         static_cast<double>(v.size());
}

TEST(ValueSizesTest, ParsesEveryShapeAndItsCanonicalSpec) {
  EXPECT_EQ(MustParse("32").Spec(), "fixed:32");
  EXPECT_EQ(MustParse("fixed:1024").Spec(), "fixed:1024");
  EXPECT_EQ(MustParse("uniform:10:20000").Spec(), "uniform:10:20000");
  EXPECT_EQ(MustParse("pareto:100:102400:1").Spec(), "pareto:100:102400:1");
  EXPECT_EQ(MustParse("pareto:100:102400:1.5").Spec(), "pareto:100:102400:1.5");
  EXPECT_TRUE(MustParse("fixed:7").fixed());
  EXPECT_FALSE(MustParse("uniform:7:7").fixed());
  EXPECT_EQ(MustParse("uniform:0:1048576").max(), ValueSizes::kMaxValueSize);
}

TEST(ValueSizesTest, MalformedSpecsAreRefused) {
  const std::string_view kBad[] = {
      "",
      "x",
      "fixed:",
      "fixed:-1",
      "uniform:10",
      "uniform:20:10",        // MIN above MAX
      "uniform:10:1048577",   // above the 1 MB item limit
      "pareto:100:102400",    // no ALPHA
      "pareto:100:102400:0",  // ALPHA must be positive
      "pareto:100:102400:x",
      "pareto:0:100:1",  // MIN 0 has no Pareto
      "lognormal:300:1.5",
      "uniform:10:20000:5",
  };
  for (std::string_view spec : kBad) {
    SCOPED_TRACE(spec);
    ValueSizes v;
    EXPECT_NE(ValueSizes::Parse(spec, &v), "");
  }
}

TEST(ValueSizesTest, FixedSizesDoNotTouchTheRng) {
  const ValueSizes fixed = MustParse("fixed:100");
  Rng a(5), b(5);
  EXPECT_EQ(fixed.Draw(a), 100u);
  EXPECT_EQ(a.Next(), b.Next());
}

TEST(ValueSizesTest, TheSameSeedDrawsTheSameSizes) {
  for (std::string_view spec : {"uniform:10:20000", "pareto:100:102400:1"}) {
    SCOPED_TRACE(spec);
    const ValueSizes sizes = MustParse(spec);
    EXPECT_EQ(DrawMany(sizes, 1000, 42), DrawMany(sizes, 1000, 42));
    EXPECT_NE(DrawMany(sizes, 1000, 42), DrawMany(sizes, 1000, 43));
  }
}

TEST(ValueSizesTest, UniformCoversItsRangeEvenly) {
  const ValueSizes sizes = MustParse("uniform:10:20000");
  EXPECT_DOUBLE_EQ(sizes.mean(), 10005.0);
  const std::vector<std::size_t> v = DrawMany(sizes, 1000000, 1);
  EXPECT_EQ(*std::min_element(v.begin(), v.end()), 10u);
  EXPECT_EQ(*std::max_element(v.begin(), v.end()), 20000u);
  // The mean's standard deviation over 1M draws is 5.8 B.
  EXPECT_NEAR(Mean(v), sizes.mean(), 30);
  for (std::size_t tenth = 1; tenth < 10; ++tenth) {
    EXPECT_NEAR(ShareAtMost(v, 10 + tenth * 1999), tenth / 10.0, 0.003) << tenth;
  }
}

TEST(ValueSizesTest, UniformOfOneSizeIsThatSize) {
  const std::vector<std::size_t> v = DrawMany(MustParse("uniform:64:64"), 1000, 1);
  EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](std::size_t s) { return s == 64; }));
}

// The figures quoted for pareto:100:102400:1 in workload.h and rc-loadgen --help.
TEST(ValueSizesTest, BoundedParetoHasTheQuantilesAndMeanItPromises) {
  const ValueSizes sizes = MustParse("pareto:100:102400:1");
  // Closed form of the continuous distribution: min max / (max - min) ln(max / min) = 693.8; the
  // rounding to whole bytes moves it by well under a byte.
  EXPECT_NEAR(sizes.mean(), 693.8, 0.6);
  const std::vector<std::size_t> v = DrawMany(sizes, 1000000, 1);
  EXPECT_GE(*std::min_element(v.begin(), v.end()), 100u);
  EXPECT_LE(*std::max_element(v.begin(), v.end()), 102400u);
  EXPECT_GT(*std::max_element(v.begin(), v.end()), 90000u);  // the tail is reached
  // Its standard deviation is about 3,200 B, so the mean of 1M draws is within 3.2 B (1 sigma).
  EXPECT_NEAR(Mean(v), sizes.mean(), 16);
  EXPECT_NEAR(ShareAtMost(v, 200), 0.5, 0.005);    // median 200 B
  EXPECT_NEAR(ShareAtMost(v, 1000), 0.90, 0.003);  // 90% under 1 KB
  EXPECT_NEAR(1 - ShareAtMost(v, 10000), 0.009, 0.001);
  // With ALPHA = 1 each decade holds the same share of the bytes: a third above 10 KB.
  double above = 0, all = 0;
  for (std::size_t s : v) {
    all += static_cast<double>(s);
    if (s > 10240) above += static_cast<double>(s);
  }
  EXPECT_NEAR(above / all, 1.0 / 3, 0.03);
}

TEST(ValueSizesTest, ParetoMeanIsExactForTheRoundedSizes) {
  // A narrow, steep one, where rounding to whole bytes matters: the mean is summed over every
  // size, and a long run agrees with it to a small fraction of a byte.
  const ValueSizes sizes = MustParse("pareto:10:40:3");
  const std::vector<std::size_t> v = DrawMany(sizes, 1000000, 7);
  EXPECT_NEAR(Mean(v), sizes.mean(), 0.03);
}

class EncoderTest : public testing::Test {
 protected:
  KeySpace keys_;  // "key:" + 12 digits
};

TEST_F(EncoderTest, TextSetCarriesItsOwnLength) {
  Encoder encoder(Protocol::kText, keys_, 100);
  std::string out;
  encoder.Set(7, 5, &out);
  encoder.Set(8, 0, &out);
  EXPECT_EQ(out,
            "set key:000000000007 0 0 5\r\nxxxxx\r\n"
            "set key:000000000008 0 0 0\r\n\r\n");
}

TEST_F(EncoderTest, BinarySetBodyLengthCountsExtrasKeyAndValue) {
  for (std::size_t size : {std::size_t{0}, std::size_t{300}, ValueSizes::kMaxValueSize}) {
    SCOPED_TRACE(size);
    Encoder encoder(Protocol::kBinary, keys_, ValueSizes::kMaxValueSize);
    std::string out;
    encoder.Set(42, size, &out);
    ASSERT_EQ(out.size(), 24 + 8 + 16 + size);
    const auto* u = reinterpret_cast<const unsigned char*>(out.data());
    EXPECT_EQ(u[0], 0x80);  // request
    EXPECT_EQ(u[1], 0x01);  // SET
    EXPECT_EQ((u[2] << 8) | u[3], 16);
    EXPECT_EQ(u[4], 8);  // extras: flags, exptime
    const std::size_t body =
        (std::size_t{u[8]} << 24) | (std::size_t{u[9]} << 16) | (std::size_t{u[10]} << 8) | u[11];
    EXPECT_EQ(body, 8 + 16 + size);
    EXPECT_EQ(out.substr(32, 16), "key:000000000042");
  }
}

TEST_F(EncoderTest, OneMegabyteTextSet) {
  Encoder encoder(Protocol::kText, keys_, ValueSizes::kMaxValueSize);
  std::string out;
  encoder.Set(1, ValueSizes::kMaxValueSize, &out);
  const std::string head = "set key:000000000001 0 0 1048576\r\n";
  ASSERT_EQ(out.size(), head.size() + ValueSizes::kMaxValueSize + 2);
  EXPECT_EQ(out.substr(0, head.size()), head);
  EXPECT_EQ(out.substr(out.size() - 3), "x\r\n");
}

TEST(ParseReplyTest, OneMegabyteTextValueArrivesInFragments) {
  const std::string value(ValueSizes::kMaxValueSize, 'x');
  const std::string wire = "VALUE key:000000000001 0 1048576\r\n" + value + "\r\nEND\r\n";
  for (std::size_t cut : {std::size_t{10}, std::size_t{40}, wire.size() / 2, wire.size() - 3}) {
    SCOPED_TRACE(cut);
    Reply reply;
    bool fatal = false;
    EXPECT_FALSE(ParseReply(Protocol::kText, Kind::kGet, wire.substr(0, cut), &reply, &fatal));
    EXPECT_FALSE(fatal);
  }
  Reply reply;
  bool fatal = false;
  ASSERT_TRUE(ParseReply(Protocol::kText, Kind::kGet, wire + "STORED\r\n", &reply, &fatal));
  EXPECT_EQ(reply.consumed, wire.size());
  EXPECT_EQ(reply.hits, 1u);
  EXPECT_FALSE(reply.error);
}

TEST(ParseReplyTest, TooLargeIsAnErrorNotALostStream) {
  // memcached 1.6.18 answers a value over its -I limit this way (proto_text.c).
  Reply reply;
  bool fatal = false;
  ASSERT_TRUE(ParseReply(Protocol::kText, Kind::kSet, "SERVER_ERROR object too large for cache\r\n",
                         &reply, &fatal));
  EXPECT_TRUE(reply.error);
  EXPECT_FALSE(fatal);
}

}  // namespace
}  // namespace rc::loadgen
