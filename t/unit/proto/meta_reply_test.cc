// t/unit/proto/meta_reply_test.cc -- the meta reply encoders, byte for byte against the replies
// in ../shared/reference/memcached-1.6.18-transcript.txt (with its <cas>/<ttl>/<n> placeholders
// filled in), and the `q` suppression rules of proto_text.c.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "ringcached/proto/meta.h"

namespace rc::proto {
namespace {

MetaRequest Parse(std::string_view line) {
  MetaRequest req;
  MetaParseResult r = MetaParser().Parse(line, &req);
  EXPECT_EQ(r.status, ParseStatus::kOk) << line;
  return req;
}

std::string Reply(std::string_view line, const MetaReplyInfo& info) {
  MetaRequest req = Parse(line);
  char buf[4 * kMaxMetaReply];  // generous, so an overlong reply is measured rather than overrun
  return std::string(buf, FormatMetaReply(buf, req, info));
}

MetaReplyInfo Hit(MetaStatus status, std::string_view key, std::uint32_t len) {
  MetaReplyInfo info;
  info.status = status;
  info.key = key;
  info.value_len = len;
  return info;
}

TEST(MetaReplyTest, GetHitsEchoReturnFlagsInRequestOrder) {
  MetaReplyInfo info = Hit(MetaStatus::kVA, "m1", 3);
  info.client_flags = 7;
  info.cas = 42;
  info.ttl = -1;
  EXPECT_EQ(Reply("mg m1 s v f t k Oop123 c\r\n", info), "VA 3 s3 f7 t-1 km1 Oop123 c42\r\n");
  EXPECT_EQ(Reply("mg m1 v\r\n", info), "VA 3\r\n");
  EXPECT_EQ(Reply("mg m1 c t s v\r\n", info), "VA 3 c42 t-1 s3\r\n");
  info.status = MetaStatus::kHD;
  EXPECT_EQ(Reply("mg m1\r\n", info), "HD\r\n");
  info.fetched = true;
  info.idle = 5;
  EXPECT_EQ(Reply("mg m1 h l\r\n", info), "HD h1 l5\r\n");
  info.fetched = false;
  EXPECT_EQ(Reply("mg m1 h\r\n", info), "HD h0\r\n");
  info.ttl = 95;
  EXPECT_EQ(Reply("mg m5 t v\r\n", Hit(MetaStatus::kVA, "m5", 1)), "VA 1 t-1\r\n");
  MetaReplyInfo ttl = Hit(MetaStatus::kVA, "m5", 1);
  ttl.ttl = 99;
  EXPECT_EQ(Reply("mg m5 t v\r\n", ttl), "VA 1 t99\r\n");
  // Flags that report nothing (v, q, u, b, T, N, R, P, L, and ms/ma-only ones) print nothing.
  EXPECT_EQ(Reply("mg m1 v q u T5 N5 R5 P L I F1 C2 MD J1 D1\r\n",
                  Hit(MetaStatus::kVA, "m1", 3)),
            "VA 3\r\n");
}

TEST(MetaReplyTest, WinStaleAndWonAlreadyComeLastAsZXW) {
  // The transcript's "md invalidate + stale": VA 1 c<cas> X W, then VA 1 Z X.
  MetaReplyInfo info = Hit(MetaStatus::kVA, "m7", 1);
  info.cas = 54;
  info.stale = true;
  info.win = true;
  EXPECT_EQ(Reply("mg m7 v c\r\n", info), "VA 1 c54 X W\r\n");
  info.win = false;
  info.win_sent = true;
  EXPECT_EQ(Reply("mg m7 v\r\n", info), "VA 1 Z X\r\n");
  // "mg vivify / recache": VA 0 c<cas> t<ttl> W, then VA 0 Z.
  MetaReplyInfo viv = Hit(MetaStatus::kVA, "m10", 0);
  viv.cas = 9;
  viv.ttl = 30;
  viv.win = true;
  viv.created = true;
  EXPECT_EQ(Reply("mg m10 N30 v c t\r\n", viv), "VA 0 c9 t30 W\r\n");
  viv.win = false;
  viv.win_sent = true;
  EXPECT_EQ(Reply("mg m10 N30 v\r\n", viv), "VA 0 Z\r\n");
}

TEST(MetaReplyTest, MissesCarryOnlyOpaqueAndKey) {
  MetaReplyInfo miss;
  miss.status = MetaStatus::kEN;
  miss.key = "nokey";
  miss.cas = 5;  // ignored: nothing but O and k on a miss
  EXPECT_EQ(Reply("mg nokey v\r\n", miss), "EN\r\n");
  EXPECT_EQ(Reply("mg nokey v Oabc k\r\n", miss), "EN Oabc knokey\r\n");
  EXPECT_EQ(Reply("mg nokey s t c f h l k\r\n", miss), "EN knokey\r\n");
  miss.status = MetaStatus::kNF;
  miss.key = "m6";
  EXPECT_EQ(Reply("md m6 Oxy k\r\n", miss), "NF Oxy km6\r\n");
  EXPECT_EQ(Reply("md nokey\r\n", miss), "NF\r\n");
}

TEST(MetaReplyTest, SetRepliesCarryTheNewCasOrZero) {
  MetaReplyInfo info;
  info.status = MetaStatus::kHD;
  info.cas = 77;
  info.key = "m3";
  EXPECT_EQ(Reply("ms m3 1 c\r\n", info), "HD c77\r\n");
  EXPECT_EQ(Reply("ms m3 1 k c Oq T5 F3\r\n", info), "HD km3 c77 Oq\r\n");
  info.status = MetaStatus::kNS;
  info.cas = 0;
  EXPECT_EQ(Reply("ms m3 1 c MR\r\n", info), "NS c0\r\n");
  info.status = MetaStatus::kEX;
  EXPECT_EQ(Reply("ms m3 1 C1\r\n", info), "EX\r\n");
  info.status = MetaStatus::kNF;
  EXPECT_EQ(Reply("ms m3 1 C1 k\r\n", info), "NF km3\r\n");
}

TEST(MetaReplyTest, ArithmeticSendsTheCounterAsAValue) {
  // The transcript's "ma" case.
  MetaReplyInfo info;
  info.status = MetaStatus::kVA;
  info.number = 10;
  info.key = "m8";
  EXPECT_EQ(Reply("ma m8 N0 J10 v\r\n", info), "VA 2\r\n10\r\n");
  info.number = 2;
  info.ttl = -1;
  info.cas = 99;
  EXPECT_EQ(Reply("ma m8 t c v\r\n", info), "VA 1 t-1 c99\r\n2\r\n");
  info.number = 18446744073709551615u;
  EXPECT_EQ(Reply("ma m8 v\r\n", info), "VA 20\r\n18446744073709551615\r\n");
  info.status = MetaStatus::kHD;
  EXPECT_EQ(Reply("ma m8 c k\r\n", info), "HD c99 km8\r\n");
  info.status = MetaStatus::kNF;
  EXPECT_EQ(Reply("ma m8 c t k\r\n", info), "NF km8\r\n");
  info.status = MetaStatus::kEX;
  EXPECT_EQ(Reply("ma m8 C5 v\r\n", info), "EX\r\n");
}

TEST(MetaReplyTest, BinaryKeysGoBackBase64EncodedWithAB) {
  // The transcript's "base64 keys": mg Zm9v b v k -> VA 1 kZm9v b.
  MetaReplyInfo info = Hit(MetaStatus::kVA, "foo", 1);
  info.key_binary = true;
  EXPECT_EQ(Reply("mg Zm9v b v k\r\n", info), "VA 1 kZm9v b\r\n");
  EXPECT_EQ(Reply("mg Zm9v b v\r\n", info), "VA 1\r\n");  // no k, no b
  info.status = MetaStatus::kEN;
  EXPECT_EQ(Reply("mg Zm9v k b O1\r\n", info), "EN kZm9v b O1\r\n");
}

TEST(MetaReplyTest, QuietSuppressesOnlyTheNominalReply) {
  struct Case {
    std::string_view line;
    MetaStatus status;
    bool created;
    bool suppressed;
  };
  const Case cases[] = {
      {"mg k q\r\n", MetaStatus::kEN, false, true},
      {"mg k q v\r\n", MetaStatus::kVA, false, false},  // hits are always sent
      {"mg k q\r\n", MetaStatus::kHD, false, false},
      {"mg k v\r\n", MetaStatus::kEN, false, false},
      {"ms k 1 q\r\n", MetaStatus::kHD, false, true},
      {"ms k 1 q\r\n", MetaStatus::kNS, false, false},
      {"ms k 1 q\r\n", MetaStatus::kEX, false, false},
      {"ms k 1 q\r\n", MetaStatus::kNF, false, false},
      {"md k q\r\n", MetaStatus::kHD, false, true},
      {"md k q\r\n", MetaStatus::kNF, false, false},
      {"md k q\r\n", MetaStatus::kEX, false, false},
      {"ma k q\r\n", MetaStatus::kHD, false, true},
      {"ma k q v\r\n", MetaStatus::kVA, false, true},
      {"ma k q N0\r\n", MetaStatus::kHD, true, false},  // created: sent
      {"ma k q\r\n", MetaStatus::kNF, false, false},
      {"ma k q\r\n", MetaStatus::kEX, false, false},
      {"ma k q\r\n", MetaStatus::kNS, false, false},
  };
  for (const Case& c : cases) {
    MetaReplyInfo info;
    info.status = c.status;
    info.created = c.created;
    EXPECT_EQ(MetaReplySuppressed(Parse(c.line), info), c.suppressed)
        << c.line << " status " << static_cast<int>(c.status);
  }
}

TEST(MetaReplyTest, MetaDebugLineIsMemcacheds) {
  // The transcript's "me" case: ME m12 exp=-1 la=<n> cas=<cas> fetch=no cls=1 size=63.
  MetaDebugInfo info;
  info.key = "m12";
  info.exp = -1;
  info.la = 3;
  info.cas = 5;
  info.cls = 1;
  info.size = 63;
  char buf[kMaxMetaDebugReply];
  EXPECT_EQ(std::string(buf, FormatMetaDebug(buf, info)),
            "ME m12 exp=-1 la=3 cas=5 fetch=no cls=1 size=63\r\n");
  info.exp = -99;
  info.fetched = true;
  info.key = "foo";
  info.key_binary = true;
  EXPECT_EQ(std::string(buf, FormatMetaDebug(buf, info)),
            "ME Zm9v exp=-99 la=3 cas=5 fetch=yes cls=1 size=63\r\n");
}

TEST(MetaReplyTest, TheLongestRepliesFitTheirBuffers) {
  const std::string key(kMaxKeyLength, '\xff');
  MetaReplyInfo info = Hit(MetaStatus::kVA, key, UINT32_MAX);
  info.key_binary = true;
  info.client_flags = UINT32_MAX;
  info.cas = UINT64_MAX;
  info.ttl = UINT32_MAX;
  info.idle = UINT32_MAX;
  info.win = info.stale = info.win_sent = true;
  const std::string opaque(kMaxOpaqueToken - 1, 'o');
  std::string line = "mg k v s t c f l h k O" + opaque + "\r\n";
  std::string reply = Reply(line, info);
  EXPECT_LE(reply.size(), kMaxMetaReply);
  info.status = MetaStatus::kVA;
  info.number = UINT64_MAX;
  reply = Reply("ma k v c t k O" + opaque + "\r\n", info);
  EXPECT_LE(reply.size(), kMaxMetaReply);

  MetaDebugInfo d;
  d.key = key;
  d.key_binary = true;
  d.exp = INT32_MIN;
  d.la = UINT32_MAX;
  d.cas = UINT64_MAX;
  d.cls = UINT32_MAX;
  d.size = UINT64_MAX;
  char buf[4 * kMaxMetaDebugReply];
  EXPECT_LE(FormatMetaDebug(buf, d), kMaxMetaDebugReply);
}

TEST(MetaReplyTest, FixedRepliesEndInCrLf) {
  for (std::string_view r : {kMetaNoop, kMetaMiss, kMetaCreateNoMemory}) {
    ASSERT_GE(r.size(), 2u);
    EXPECT_EQ(r.substr(r.size() - 2), "\r\n");
  }
}

}  // namespace
}  // namespace rc::proto
