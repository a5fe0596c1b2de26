// t/unit/origin/text_test.cc -- the string work of origin/: origin URLs (url.h), keys encoded for
// a URL path, passwords kept out of logs, PostgreSQL column text (pg_text.h), and the latency
// histogram's buckets and percentiles (latency.h).
#include <gtest/gtest.h>

#include "origin/latency.h"
#include "origin/pg_text.h"
#include "origin/url.h"
#include "ringcached/base/uri.h"
#include "ringcached/origin/read_through.h"

namespace rc::origin {
namespace {

TEST(UrlTest, SchemeNamesTheBackend) {
  EXPECT_EQ(SchemeOf("http://h/"), Scheme::kHttp);
  EXPECT_EQ(SchemeOf("HTTP://h/"), Scheme::kHttp);
  EXPECT_EQ(SchemeOf("https://h/"), Scheme::kHttps);
  EXPECT_EQ(SchemeOf("postgresql://u@h/db"), Scheme::kPostgres);
  EXPECT_EQ(SchemeOf("postgres://u@h/db"), Scheme::kPostgres);
  EXPECT_EQ(SchemeOf("ftp://h/"), Scheme::kUnknown);
  EXPECT_EQ(SchemeOf("http:/h"), Scheme::kUnknown);
}

TEST(UrlTest, HttpUrlsSplitIntoHostPortAndPrefix) {
  auto t = ParseHttpUrl("http://origin.example:8080/kv/");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t.value().host, "origin.example");
  EXPECT_EQ(t.value().port, 8080);
  EXPECT_EQ(t.value().path_prefix, "/kv/");
  t = ParseHttpUrl("http://10.0.0.1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().port, 80);
  EXPECT_EQ(t.value().path_prefix, "/");
  t = ParseHttpUrl("http://[::1]:81/p?");
  EXPECT_FALSE(t.ok());  // a query cannot precede the key
  t = ParseHttpUrl("http://[::1]:81/p");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value().host, "::1");
  EXPECT_EQ(t.value().port, 81);
  EXPECT_EQ(t.value().path_prefix, "/p");
  for (const char* bad : {"http://h:0/", "http://h:65536/", "http://h:x/", "http:///x",
                          "http://u:p@h/", "http://[::1/", "https://h/"}) {
    EXPECT_FALSE(ParseHttpUrl(bad).ok()) << bad;
  }
}

TEST(UrlTest, KeysArePercentEncodedIntoOnePathSegment) {
  std::string out = "/kv/";
  base::AppendUriEncoded(std::string_view("a b/c%d?e#f~g.h_i-j\x01\xff", 21), &out);
  EXPECT_EQ(out, "/kv/a%20b%2Fc%25d%3Fe%23f~g.h_i-j%01%FF");
}

TEST(UrlTest, PasswordsAreRedacted) {
  EXPECT_EQ(RedactUrl("postgresql://app:s3cret@db:5432/kv"), "postgresql://app:***@db:5432/kv");
  EXPECT_EQ(RedactUrl("postgresql://app@db/kv?password=s3cret&sslmode=disable"),
            "postgresql://app@db/kv?password=***&sslmode=disable");
  EXPECT_EQ(RedactUrl("postgresql://db/kv?sslmode=disable&password=x"),
            "postgresql://db/kv?sslmode=disable&password=***");
  EXPECT_EQ(RedactUrl("postgresql://app@db/kv"), "postgresql://app@db/kv");
  EXPECT_EQ(RedactUrl("http://h:80/a@b"), "http://h:80/a@b");  // '@' in the path is no user
}

TEST(PgTextTest, ByteaHexDecodes) {
  std::string out;
  EXPECT_TRUE(DecodeByteaHex("\\x00ff41", &out));
  EXPECT_EQ(out, std::string("\x00\xff" "A", 3));
  EXPECT_TRUE(DecodeByteaHex("\\x", &out));
  EXPECT_EQ(out, "");
  for (const char* bad : {"00ff", "\\x0", "\\xzz", "\\001"}) {
    EXPECT_FALSE(DecodeByteaHex(bad, &out)) << bad;
  }
}

TEST(PgTextTest, FlagsAndTtlParse) {
  std::uint32_t flags = 0;
  EXPECT_TRUE(ParseFlags("4294967295", &flags));
  EXPECT_EQ(flags, 4294967295u);
  EXPECT_FALSE(ParseFlags("4294967296", &flags));
  EXPECT_FALSE(ParseFlags("-1", &flags));
  EXPECT_FALSE(ParseFlags("", &flags));
  EXPECT_FALSE(ParseFlags("1.5", &flags));
  std::int64_t ttl = 0;
  EXPECT_TRUE(ParseTtl("-1", &ttl));
  EXPECT_EQ(ttl, -1);
  EXPECT_TRUE(ParseTtl("2592001", &ttl));
  EXPECT_EQ(ttl, 2592001);
  EXPECT_FALSE(ParseTtl("10s", &ttl));
}

TEST(LatencyTest, EveryValueFallsInABucketThatBoundsIt) {
  for (std::uint64_t v = 0; v < 200000; v = v < 100 ? v + 1 : v * 11 / 10) {
    const std::size_t b = LatencyHistogram::BucketOf(v);
    EXPECT_LE(v, LatencyHistogram::UpperBound(b)) << v;
    if (b > 0) {
      EXPECT_GT(v, LatencyHistogram::UpperBound(b - 1)) << v;
    }
  }
}

TEST(LatencyTest, PercentilesAreWithinABucket) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(0.5), 0u);
  for (std::uint64_t v = 1; v <= 1000; ++v) h.Record(v);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.50)), 500, 500 / 16.0 + 1);
  EXPECT_NEAR(static_cast<double>(h.Percentile(0.99)), 990, 990 / 16.0 + 1);
  EXPECT_EQ(h.Percentile(1.0), 1000u);
  EXPECT_EQ(h.max(), 1000u);
}

}  // namespace
}  // namespace rc::origin
