// t/unit/proto/client_codec_test.cc -- the client codecs against the server's side: every request
// encoder's bytes parsed by the server's parsers (text, meta, binary shape rules) give back what
// was encoded; every reply the server's encoders write (VALUE headers, meta reply lines, binary
// response headers) parses back; every proper prefix of a reply is kNeedMore; and bytes that
// are not a reply are kError.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "ringcached/proto/binary.h"
#include "ringcached/proto/client_codec.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/text_parser.h"
#include "ringcached/proto/text_reply.h"

namespace rc::proto::client {
namespace {

// Every proper prefix of `reply` asks for more.
template <typename Reply, typename Parse>
void ExpectPrefixesNeedMore(std::string_view reply, Parse parse) {
  for (std::size_t n = 0; n < reply.size(); ++n) {
    Reply r;
    EXPECT_EQ(parse(reply.substr(0, n), &r), ReplyStatus::kNeedMore) << n << " of " << reply;
  }
}

TEST(ClientCodecTest, TextStorageRequestsParseOnTheServer) {
  for (std::string_view command : {"set", "add", "replace", "append", "prepend", "cas"}) {
    std::string out;
    AppendTextStore(&out, command, "user:42", 7, -1, "hello\r\nworld", 99, command == "add");
    Request req;
    const ParseResult r = TextParser().Parse(out, &req);
    ASSERT_EQ(r.status, ParseStatus::kOk) << out;
    EXPECT_EQ(req.key, "user:42");
    EXPECT_EQ(req.flags, 7u);
    EXPECT_EQ(req.exptime, -1);
    EXPECT_EQ(req.value_len, 12u);
    EXPECT_EQ(req.noreply, command == "add");
    if (command == "cas") {
      EXPECT_EQ(req.cas_unique, 99u);
    }
    // The data block follows the line, then "\r\n".
    EXPECT_EQ(out.substr(r.consumed), "hello\r\nworld\r\n");
  }
}

TEST(ClientCodecTest, TextGetsAndLinesParseOnTheServer) {
  std::string out;
  AppendTextGet(&out, {"a", "b", "c"}, /*with_cas=*/true);
  Request req;
  ParseResult r = TextParser().Parse(out, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGets);
  EXPECT_EQ(req.keys, "a b c");
  EXPECT_EQ(r.consumed, out.size());
  out.clear();
  AppendTextLine(&out, "incr counter 5");
  r = TextParser().Parse(out, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kIncr);
  EXPECT_EQ(req.delta, 5u);
}

TEST(ClientCodecTest, TextRepliesFromTheServersEncoders) {
  char header[kMaxValueHeader];
  std::string reply(header, FormatValueHeader(header, "k1", 5, 3, /*with_cas=*/true, 77));
  reply += "abc\r\n";
  const std::size_t first = reply.size();
  reply.append(header, FormatValueHeader(header, "k2", 0, 0, false, 0));
  reply += "\r\n";
  reply += kEnd;

  TextReply r;
  ASSERT_EQ(ParseTextReply(reply, &r), ReplyStatus::kOk);
  EXPECT_EQ(r.kind, TextReply::Kind::kValue);
  EXPECT_EQ(r.key, "k1");
  EXPECT_EQ(r.flags, 5u);
  EXPECT_EQ(r.cas, 77u);
  EXPECT_EQ(r.value, "abc");
  EXPECT_EQ(r.consumed, first);
  std::string_view rest = std::string_view(reply).substr(r.consumed);
  ASSERT_EQ(ParseTextReply(rest, &r), ReplyStatus::kOk);
  EXPECT_EQ(r.key, "k2");
  EXPECT_EQ(r.value, "");
  EXPECT_FALSE(r.cas.has_value());
  rest = rest.substr(r.consumed);
  ASSERT_EQ(ParseTextReply(rest, &r), ReplyStatus::kOk);
  EXPECT_EQ(r.kind, TextReply::Kind::kLine);
  EXPECT_EQ(r.line, "END");
  EXPECT_EQ(r.consumed, rest.size());

  ExpectPrefixesNeedMore<TextReply>(reply.substr(0, first), ParseTextReply);
  for (std::string_view line : {kStored, kNotStored, kExists, kNotFound, kDeleted, kTouched,
                                kOkReply, kErrorReply, kTooLarge, kBadFormat}) {
    ASSERT_EQ(ParseTextReply(line, &r), ReplyStatus::kOk) << line;
    EXPECT_EQ(r.line, line.substr(0, line.size() - 2));
    EXPECT_EQ(r.is_error(), line.find("ERROR") != std::string_view::npos) << line;
  }
}

TEST(ClientCodecTest, TextRepliesThatAreNotReplies) {
  TextReply r;
  EXPECT_EQ(ParseTextReply("STORED\n", &r), ReplyStatus::kError);           // no "\r"
  EXPECT_EQ(ParseTextReply("VALUE k x 3\r\nabc\r\n", &r), ReplyStatus::kError);
  EXPECT_EQ(ParseTextReply("VALUE k 0 3\r\nabcd\r\n", &r), ReplyStatus::kError);  // overlong data
  EXPECT_EQ(ParseTextReply("VALUE  0 3\r\nabc\r\n", &r), ReplyStatus::kError);
  EXPECT_EQ(ParseTextReply(std::string(10000, 'x'), &r), ReplyStatus::kError);
}

TEST(ClientCodecTest, MetaRequestsParseOnTheServer) {
  std::string out;
  AppendMeta(&out, "ms", "mkey", "T30 F5 c", "va\r\nlue");
  MetaRequest req;
  MetaParseResult r = MetaParser().Parse(out, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk) << out;
  EXPECT_EQ(req.key(), "mkey");
  EXPECT_TRUE(req.Has('T'));
  EXPECT_TRUE(req.Has('F'));
  EXPECT_TRUE(req.Has('c'));
  EXPECT_EQ(req.value_len, 7u);
  EXPECT_EQ(out.substr(r.consumed), "va\r\nlue\r\n");

  for (std::string_view command : {"mg", "md", "ma"}) {
    out.clear();
    AppendMeta(&out, command, "k", "q");
    r = MetaParser().Parse(out, &req);
    ASSERT_EQ(r.status, ParseStatus::kOk) << out;
    EXPECT_EQ(req.key(), "k");
    EXPECT_TRUE(req.quiet());
    EXPECT_EQ(r.consumed, out.size());
  }
  out.clear();
  AppendMeta(&out, "mn", "", "");
  EXPECT_EQ(out, "mn\r\n");
  EXPECT_EQ(MetaParser().Parse(out, &req).status, ParseStatus::kOk);
}

TEST(ClientCodecTest, AParsedMetaRequestIsWrittenOutAgainAsSent) {
  // Every flag with a token, in the client's order; a base64 key goes base64 again.
  for (std::string_view line :
       {"ms mkey 5 MA F7 T-1 C99 E123 I O1234 k c q\r\nvalue\r\n",
        "ma counter N30 J10 D5 MD C7 v t q O9\r\n", "md dkey I T30 q\r\n",
        "mg gkey s v f t c k O5 R30 N10 h l u E77\r\n", "ms a2V5 2 b MR\r\nxy\r\n"}) {
    MetaRequest req;
    const MetaParseResult r = MetaParser().Parse(line, &req);
    ASSERT_EQ(r.status, ParseStatus::kOk) << line;
    const std::string_view value =
        req.command == MetaCommand::kSet ? line.substr(r.consumed, req.value_len)
                                         : std::string_view();
    std::string out;
    AppendMetaRequest(&out, req, value);
    EXPECT_EQ(out, line);
    out.clear();
    AppendMetaRequest(&out, req, value, /*drop_quiet=*/true);
    MetaRequest again;
    ASSERT_EQ(MetaParser().Parse(out, &again).status, ParseStatus::kOk) << out;
    EXPECT_FALSE(again.quiet()) << out;
    EXPECT_EQ(again.key(), req.key());
    EXPECT_EQ(again.nflags + (req.quiet() ? 1 : 0), req.nflags);
  }
}

TEST(ClientCodecTest, MetaRepliesFromTheServersEncoder) {
  MetaRequest req;
  ASSERT_EQ(MetaParser().Parse("mg k v f t c\r\n", &req).status, ParseStatus::kOk);
  MetaReplyInfo info;
  info.status = MetaStatus::kVA;
  info.value_len = 5;
  info.client_flags = 9;
  info.ttl = -1;
  info.cas = 1234;
  info.key = "k";
  char buf[kMaxMetaReply];
  std::string reply(buf, FormatMetaReply(buf, req, info));
  reply += "hello\r\n";
  MetaReply r;
  ASSERT_EQ(ParseMetaReply(reply, &r), ReplyStatus::kOk) << reply;
  EXPECT_EQ(r.code, "VA");
  EXPECT_EQ(r.value, "hello");
  EXPECT_EQ(r.Flag('f'), "9");
  EXPECT_EQ(r.Flag('t'), "-1");
  EXPECT_EQ(r.Flag('c'), "1234");
  EXPECT_EQ(r.Flag('s'), std::nullopt);
  EXPECT_EQ(r.consumed, reply.size());
  ExpectPrefixesNeedMore<MetaReply>(reply, ParseMetaReply);

  for (MetaStatus status : {MetaStatus::kHD, MetaStatus::kEN, MetaStatus::kNF, MetaStatus::kNS,
                            MetaStatus::kEX}) {
    MetaReplyInfo other;
    other.status = status;
    other.key = "k";
    const std::string line(buf, FormatMetaReply(buf, req, other));
    ASSERT_EQ(ParseMetaReply(line, &r), ReplyStatus::kOk) << line;
    EXPECT_EQ(r.code, line.substr(0, 2));
    EXPECT_EQ(r.consumed, line.size());
    EXPECT_FALSE(r.is_error());
  }
  ASSERT_EQ(ParseMetaReply(kMetaNoop, &r), ReplyStatus::kOk);
  EXPECT_EQ(r.code, "MN");
  ASSERT_EQ(ParseMetaReply("CLIENT_ERROR bad command line format\r\n", &r), ReplyStatus::kOk);
  EXPECT_TRUE(r.is_error());
  EXPECT_EQ(r.flags, "bad command line format");
  EXPECT_EQ(r.Flag('b'), std::nullopt);
  EXPECT_EQ(ParseMetaReply("ZZ\r\n", &r), ReplyStatus::kError);
  EXPECT_EQ(ParseMetaReply("VA x\r\n", &r), ReplyStatus::kError);
  EXPECT_EQ(ParseMetaReply("VA 2\r\nabc\r\n", &r), ReplyStatus::kError);
}

TEST(ClientCodecTest, BinaryRequestsPassTheServersShapeRules) {
  char extras[20];
  struct Case {
    BinaryRequest request;
    std::size_t value_len;
  };
  const Case cases[] = {
      {{binary::kSet, "key", StorageExtras(extras, 5, 60), "value", 0x01020304u, 9}, 5},
      {{binary::kGetK, "key", {}, {}, 7, 0}, 0},
      {{binary::kNoop, {}, {}, {}, 8, 0}, 0},
  };
  for (const Case& c : cases) {
    std::string out;
    AppendBinary(&out, c.request);
    ASSERT_EQ(out.size(), binary::kHeaderSize + c.request.extras.size() +
                              c.request.key.size() + c.request.value.size());
    const binary::Header h = binary::DecodeHeader(out.data());
    EXPECT_EQ(h.magic, binary::kRequestMagic);
    EXPECT_EQ(h.opcode, c.request.opcode);
    EXPECT_EQ(h.key_len, c.request.key.size());
    EXPECT_EQ(h.extras_len, c.request.extras.size());
    EXPECT_EQ(h.value_len(), c.value_len);
    EXPECT_EQ(h.cas, c.request.cas);
    EXPECT_EQ(binary::CheckShape(h), binary::Shape::kOk);
    EXPECT_EQ(out.substr(binary::kHeaderSize + h.extras_len, h.key_len), c.request.key);
  }
  // Counter and touch extras have the shapes incr and touch want.
  std::string out;
  AppendBinary(&out, {binary::kIncrement, "n", CounterExtras(extras, 1, 0, 0), {}, 0, 0});
  EXPECT_EQ(binary::CheckShape(binary::DecodeHeader(out.data())), binary::Shape::kOk);
  out.clear();
  AppendBinary(&out, {binary::kTouch, "n", TouchExtras(extras, 10), {}, 0, 0});
  EXPECT_EQ(binary::CheckShape(binary::DecodeHeader(out.data())), binary::Shape::kOk);
}

TEST(ClientCodecTest, BinaryRepliesFromTheServersEncoder) {
  char packet[binary::kHeaderSize];
  const std::string extras = std::string("\0\0\0\5", 4);
  binary::EncodeResponseHeader(packet, binary::kGetK, 3, 4, binary::kSuccess, 4 + 3 + 5,
                               0xdeadbeef, 42);
  const std::string reply = std::string(packet, sizeof(packet)) + extras + "key" + "value";
  BinaryReply r;
  ASSERT_EQ(ParseBinaryReply(reply, &r), ReplyStatus::kOk);
  EXPECT_EQ(r.header.opcode, binary::kGetK);
  EXPECT_EQ(r.status(), binary::kSuccess);
  EXPECT_EQ(r.extras, extras);
  EXPECT_EQ(r.key, "key");
  EXPECT_EQ(r.value, "value");
  EXPECT_EQ(r.header.cas, 42u);
  EXPECT_EQ(r.consumed, reply.size());
  ExpectPrefixesNeedMore<BinaryReply>(reply, ParseBinaryReply);

  binary::EncodeResponseHeader(packet, binary::kSet, 0, 0, binary::kKeyExists, 0, 1, 0);
  ASSERT_EQ(ParseBinaryReply(std::string_view(packet, sizeof(packet)), &r), ReplyStatus::kOk);
  EXPECT_EQ(r.status(), binary::kKeyExists);
  // Not responses: a request's magic, lengths that do not add up.
  std::string bad(packet, sizeof(packet));
  bad[0] = static_cast<char>(binary::kRequestMagic);
  EXPECT_EQ(ParseBinaryReply(bad, &r), ReplyStatus::kError);
  EXPECT_EQ(ParseBinaryReply(bad.substr(0, 1), &r), ReplyStatus::kError);
  binary::EncodeResponseHeader(packet, binary::kGet, 10, 4, 0, 8, 0, 0);
  EXPECT_EQ(ParseBinaryReply(std::string_view(packet, sizeof(packet)), &r), ReplyStatus::kError);
}

}  // namespace
}  // namespace rc::proto::client
