// t/unit/cluster/member_json_test.cc -- the member znode's JSON
// (include/ringcached/cluster/member_json.h): the exact bytes we write, a reader that takes any
// valid JSON object but only well-typed fields, and which znodes make the ring.
#include "ringcached/cluster/member_json.h"

#include <gtest/gtest.h>

#include <string>

namespace rc::cluster {
namespace {

Member Sample() {
  Member m;
  m.name = "127.0.0.1:11311";
  m.address = "127.0.0.1";
  m.port = 11311;
  m.weight = 1;
  m.incarnation = 1732600000123;
  m.state = MemberState::kUp;
  return m;
}

TEST(MemberJsonTest, EncodesTheIssueLayoutByteForByte) {
  EXPECT_EQ(EncodeMember(Sample()),
            "{\"name\":\"127.0.0.1:11311\",\"address\":\"127.0.0.1\",\"port\":11311,"
            "\"weight\":1,\"incarnation\":1732600000123,\"state\":\"up\"}");
}

TEST(MemberJsonTest, RoundTrips) {
  Member m = Sample();
  m.name = "[::1]:11212";
  m.address = "";
  m.weight = 4000000000u;
  base::Result<Member> back = DecodeMember(EncodeMember(m));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), m);
}

TEST(MemberJsonTest, EscapesAndUnescapesStrings) {
  Member m = Sample();
  m.address = "a\"b\\c\nd\x01";
  std::string json = EncodeMember(m);
  EXPECT_NE(json.find("\"a\\\"b\\\\c\\nd\\u0001\""), std::string::npos) << json;
  base::Result<Member> back = DecodeMember(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value().address, m.address);
}

TEST(MemberJsonTest, ReadsAnyFieldOrderWhitespaceAndUnknownFields) {
  base::Result<Member> m = DecodeMember(
      " {\n \"zone\" : {\"rack\": [1, 2.5e3, -0.1, true, false, null, {\"x\":\"}\"}]},\n"
      "  \"state\":\"leaving\", \"port\" : 11211 , \"name\":\"c\\u00e9ache\\/1\",\n"
      "  \"extra\": \"\\ud83d\\ude00\", \"weight\":3, \"incarnation\":5, \"address\":\"10.0.0.1\"}\t");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value().name, "c\xc3\xa9" "ache/1");
  EXPECT_EQ(m.value().port, 11211);
  EXPECT_EQ(m.value().weight, 3u);
  EXPECT_EQ(m.value().incarnation, 5);
  EXPECT_EQ(m.value().address, "10.0.0.1");
  EXPECT_EQ(m.value().state, MemberState::kLeaving);
}

TEST(MemberJsonTest, OptionalFieldsTakeDefaults) {
  base::Result<Member> m = DecodeMember("{\"name\":\"n\",\"port\":1}");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value().address, "");
  EXPECT_EQ(m.value().weight, 1u);
  EXPECT_EQ(m.value().incarnation, 0);
  EXPECT_EQ(m.value().state, MemberState::kUp);
}

TEST(MemberJsonTest, EveryStateRoundTripsAndAnUnknownOneIsRefused) {
  for (MemberState state : {MemberState::kUp, MemberState::kWarming, MemberState::kLeaving}) {
    Member m = Sample();
    m.state = state;
    base::Result<Member> back = DecodeMember(EncodeMember(m));
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back.value().state, state);
  }
  base::Result<Member> m = DecodeMember("{\"name\":\"n\",\"port\":1,\"state\":\"draining\"}");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("unknown state \"draining\""), std::string::npos)
      << m.status().message();
}

TEST(MemberJsonTest, WeightZeroIsAccepted) {  // the ring counts it as 1 (ring.h)
  base::Result<Member> m = DecodeMember("{\"name\":\"n\",\"port\":1,\"weight\":0}");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value().weight, 0u);
}

TEST(MemberJsonTest, RejectsMalformedOrMistypedInput) {
  const char* kBad[] = {
      "",
      "[]",
      "{",
      "{\"name\":\"n\"}",                        // no port
      "{\"port\":1}",                            // no name
      "{\"name\":\"n\",\"port\":1,}",            // trailing comma
      "{\"name\":\"n\",\"port\":\"1\"}",         // port is a string
      "{\"name\":1,\"port\":1}",                 // name is a number
      "{\"name\":\"n\",\"port\":70000}",         // port out of range
      "{\"name\":\"n\",\"port\":-1}",
      "{\"name\":\"n\",\"port\":1.0}",           // not an integer
      "{\"name\":\"n\",\"port\":01}",            // leading zero
      "{\"name\":\"n\",\"port\":1,\"weight\":4294967296}",
      "{\"name\":\"n\",\"port\":1,\"weight\":-2}",
      "{\"name\":\"n\",\"port\":1,\"weight\":1.5}",
      "{\"name\":\"n\",\"port\":1,\"weight\":\"3\"}",  // weight is a string
      "{\"name\":\"n\",\"port\":1,\"state\":1}",       // state is a number
      "{\"name\":\"n\",\"port\":1,\"address\":[]}",    // address is an array
      "{\"name\":\"n\",\"port\":1,\"x\" 3}",           // no ':'
      "{\"name\":\"n\",\"port\":1,\"x\":\"unterminated}",
      "{\"name\":\"n\",\"port\":1,\"incarnation\":-5}",
      "{\"name\":\"n\",\"port\":1} x",           // junk after the object
      "{\"name\":\"a\nb\",\"port\":1}",          // raw control character
      "{\"name\":\"\\x\",\"port\":1}",           // bad escape
      "{\"name\":\"\\ud800\",\"port\":1}",       // lone surrogate
      "{\"name\":\"n\",\"port\":1,\"x\":tru}",
      "{\"name\":\"n\",\"port\":1,\"x\":[1,]}",
  };
  for (const char* json : kBad) {
    SCOPED_TRACE(json);
    EXPECT_FALSE(DecodeMember(json).ok());
  }
}

TEST(MemberZnodeTest, OnlyDataThatNamesItsZnodeMakesTheRing) {
  base::Result<Member> m = DecodeMemberZnode("127.0.0.1:11311", EncodeMember(Sample()));
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m.value(), Sample());

  // The messages do not repeat the znode's name: the callers' log lines and warnings say it.
  Member copied = Sample();
  copied.name = "c:1";
  m = DecodeMemberZnode("b:1", EncodeMember(copied));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "its data names \"c:1\"");

  m = DecodeMemberZnode("a:1", "not-json");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), DecodeMember("not-json").status().message());
}

TEST(MemberJsonTest, DeepNestingIsRefusedNotRecursedInto) {
  std::string deep = "{\"name\":\"n\",\"port\":1,\"x\":" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  base::Result<Member> m = DecodeMember(deep);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("nested"), std::string::npos) << m.status().message();
}

}  // namespace
}  // namespace rc::cluster
