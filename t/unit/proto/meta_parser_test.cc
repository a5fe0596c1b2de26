// t/unit/proto/meta_parser_test.cc -- MetaParser against memcached 1.6.18's meta protocol.
//
// Expectations come from ../shared/reference/memcached-1.6.18-transcript.txt (the stock server's
// answers; the "meta errors", "ms invalid / bad" and "base64 keys" cases) or from proto_text.c's
// check order (_meta_flag_preparse and the process_m*_command functions); comments say which.
// Every line is also fed in fragments down to one byte and must parse exactly as it does whole.
#include "ringcached/proto/meta.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rc::proto {
namespace {

using namespace std::string_view_literals;

// The parts of a result and request a test compares.
struct Parsed {
  ParseStatus status;
  std::size_t consumed;
  std::string error;
  std::size_t swallow;
  MetaCommand command;
  std::string key;
  bool key_binary;
  std::string flags;
  std::int32_t ttl, vivify_ttl, recache_ttl;
  std::uint64_t cas;
  std::uint32_t client_flags;
  std::uint64_t delta, initial;
  char mode;
  std::uint32_t value_len;
  std::string opaque;

  bool operator==(const Parsed&) const = default;
};

Parsed Capture(const MetaParseResult& r, const MetaRequest& q) {
  Parsed p{r.status, r.consumed, std::string(r.error), r.swallow, q.command, "", false, "", 0, 0,
           0, 0, 0, 0, 0, 0, 0, ""};
  if (r.status == ParseStatus::kOk) {
    p.key = std::string(q.key());
    p.key_binary = q.key_binary;
    p.flags.assign(q.flags.data(), q.nflags);
    p.ttl = q.ttl;
    p.vivify_ttl = q.vivify_ttl;
    p.recache_ttl = q.recache_ttl;
    p.cas = q.cas;
    p.client_flags = q.client_flags;
    p.delta = q.delta;
    p.initial = q.initial;
    p.mode = q.mode;
    p.value_len = q.value_len;
    p.opaque = std::string(q.opaque());
  }
  return p;
}

std::ostream& operator<<(std::ostream& os, const Parsed& p) {
  return os << "{status=" << static_cast<int>(p.status) << " consumed=" << p.consumed
            << " error='" << p.error << "' swallow=" << p.swallow
            << " command=" << static_cast<int>(p.command) << " key='" << p.key
            << "' b=" << p.key_binary << " flags='" << p.flags << "' T=" << p.ttl
            << " N=" << p.vivify_ttl << " R=" << p.recache_ttl << " C=" << p.cas
            << " F=" << p.client_flags << " D=" << p.delta << " J=" << p.initial << " M="
            << (p.mode ? p.mode : '0') << " len=" << p.value_len << " O='" << p.opaque << "'}";
}

// Parses an exact-size heap copy, so a read past the input would be caught by ASan builds.
Parsed ParseWhole(std::string_view wire) {
  std::unique_ptr<char[]> copy(new char[wire.size()]);
  wire.copy(copy.get(), wire.size());
  MetaRequest req;
  MetaParseResult r = MetaParser().Parse(std::string_view(copy.get(), wire.size()), &req);
  return Capture(r, req);
}

// Feeds `wire` `chunk` bytes at a time, the buffer growing as a connection's would.
Parsed ParseInChunks(std::string_view wire, std::size_t chunk) {
  std::string buf;
  MetaRequest req;
  MetaParseResult r;
  std::size_t fed = 0;
  while (fed < wire.size()) {
    std::size_t n = std::min(chunk, wire.size() - fed);
    buf.append(wire.substr(fed, n));
    fed += n;
    r = MetaParser().Parse(buf, &req);
    if (r.status != ParseStatus::kNeedMore) break;
    EXPECT_EQ(r.consumed, 0u);
  }
  Parsed p = Capture(r, req);
  buf.assign(buf.size(), '#');  // the request must not point into the input
  if (r.status == ParseStatus::kOk) {
    EXPECT_EQ(std::string(req.key()), p.key);
    EXPECT_EQ(std::string(req.opaque()), p.opaque);
  }
  return p;
}

Parsed Ok(MetaCommand command, std::string key, std::string flags, std::size_t consumed) {
  return Parsed{ParseStatus::kOk, consumed, "", 0, command, std::move(key), false,
                std::move(flags), 0, 0, 0, 0, 0, 1, 0, 0, 0, ""};
}

std::string Error(std::string_view wire) { return ParseWhole(wire).error; }

const std::vector<std::string_view>& Lines() {
  static const std::vector<std::string_view> lines = {
      "mn\r\n",
      "mg m1 s v f t k Oop123 c\r\n",
      "mg nokey v q\r\n",
      "mg m10 N30 v c t\r\n",
      "mg m11 R200 v\r\n",
      "mg Zm9v b v k\r\n",
      "mg m7 h l u T-1\r\n",
      "ms m1 3 T0 F7\r\n",
      "ms m2 1 ME\r\n",
      "ms m3 1 c C123 I q\r\n",
      "ms Zm9v 1 b\r\n",
      "md m7 I T30\r\n",
      "md m6 Oxy k q C55\r\n",
      "ma m8 N0 J10 v\r\n",
      "ma m8 MD D100 v t c\r\n",
      "me m12\r\n",
      "me Zm9v b\r\n",
      "mg k1 !\r\n",
      "mg k1 v v\r\n",
      "mz k\r\n",
      "ms m4 2 T1 T2\r\n",
      "ms m4 abc\r\n",
      "md k Tx\r\n",
      "ma k MX\r\n",
      "mg   spaced    v   \n",
  };
  return lines;
}

TEST(MetaParserTest, EveryCommandParsesTheSameWhateverTheFragmentation) {
  for (std::string_view line : Lines()) {
    const Parsed whole = ParseWhole(line);
    EXPECT_NE(whole.status, ParseStatus::kNeedMore) << line;
    EXPECT_EQ(whole.consumed, line.size()) << line;
    for (std::size_t chunk = 1; chunk <= line.size(); ++chunk) {
      EXPECT_EQ(ParseInChunks(line, chunk), whole) << line << " in chunks of " << chunk;
    }
  }
}

TEST(MetaParserTest, APrefixWithoutNewlineNeverParses) {
  for (std::string_view line : Lines()) {
    for (std::size_t n = 0; n < line.size(); ++n) {
      if (line.substr(0, n).find('\n') != std::string_view::npos) break;
      MetaRequest req;
      MetaParseResult r = MetaParser().Parse(line.substr(0, n), &req);
      EXPECT_EQ(r.status, ParseStatus::kNeedMore) << line.substr(0, n);
      EXPECT_EQ(r.consumed, 0u);
    }
  }
}

TEST(MetaParserTest, PipelinedCommandsAreTakenOneLineAtATime) {
  std::string_view wire = "ms a 1 T5\r\nx\r\nmg a v\r\nmn\r\n";
  MetaRequest req;
  MetaParseResult r = MetaParser().Parse(wire, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_EQ(req.command, MetaCommand::kSet);
  EXPECT_EQ(req.value_len, 1u);
  wire.remove_prefix(r.consumed + req.value_len + 2);  // the caller reads the data block
  r = MetaParser().Parse(wire, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, MetaCommand::kGet);
  EXPECT_EQ(req.key(), "a");
  EXPECT_TRUE(req.Has('v'));
  EXPECT_FALSE(req.Has('T'));  // nothing carried over from the ms
  EXPECT_EQ(req.ttl, 0);
  wire.remove_prefix(r.consumed);
  r = MetaParser().Parse(wire, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, MetaCommand::kNoop);
  EXPECT_EQ(r.consumed, wire.size());
}

TEST(MetaParserTest, FlagsAreKeptInRequestOrderWithTheirTokens) {
  // The transcript's "ms + mg flags" case: return flags come back in this order.
  Parsed p = ParseWhole("mg m1 s v f t k Oop123 c\r\n");
  Parsed want = Ok(MetaCommand::kGet, "m1", "svftkOc", 26);
  want.opaque = "op123";
  EXPECT_EQ(p, want);

  p = ParseWhole("ms m1 3 T0 F7\r\n");
  want = Ok(MetaCommand::kSet, "m1", "TF", 15);
  want.client_flags = 7;
  want.value_len = 3;
  EXPECT_EQ(p, want);

  p = ParseWhole("ma m8 MD D100 J7 N-1 T2592001 C18446744073709551615 v\r\n");
  want = Ok(MetaCommand::kArithmetic, "m8", "MDJNTCv", p.consumed);
  want.mode = 'D';
  want.delta = 100;
  want.initial = 7;
  want.vivify_ttl = -1;
  want.ttl = 2592001;
  want.cas = 18446744073709551615u;
  EXPECT_EQ(p, want);

  p = ParseWhole("mg k R30 N10 T-5\r\n");
  EXPECT_EQ(p.recache_ttl, 30);
  EXPECT_EQ(p.vivify_ttl, 10);
  EXPECT_EQ(p.ttl, -5);
  EXPECT_EQ(p.flags, "RNT");
}

// E (memcached 1.6.27, beyond 1.6.18): the new CAS a write gives its item.
TEST(MetaParserTest, ETakesTheNewCasAsMemcached1627Does) {
  for (std::string_view line : {"ms k 1 E18446744073709551615 c\r\n"sv, "md k I E7\r\n"sv,
                                "ma k E7 N0\r\n"sv, "mg k N30 E7\r\n"sv}) {
    proto::MetaRequest req;
    ASSERT_EQ(proto::MetaParser().Parse(line, &req).status, ParseStatus::kOk) << line;
    EXPECT_TRUE(req.Has('E'));
    EXPECT_EQ(req.new_cas, line[1] == 's' ? 18446744073709551615u : 7u) << line;
  }
  EXPECT_EQ(Error("ms k 1 Ex\r\n"), "CLIENT_ERROR bad token in command line format");
  EXPECT_EQ(Error("mg k E-1\r\n"), "CLIENT_ERROR bad token in command line format");
  EXPECT_EQ(Error("md k Ex\r\n"), "CLIENT_ERROR invalid or duplicate flag");
  EXPECT_EQ(Error("mg k E1 E2\r\n"), "CLIENT_ERROR duplicate flag");
}

// Y (ours, peer-only): the name of the node that minted a peer write's version. The parser takes
// it from anyone; the session refuses it off a peer link.
TEST(MetaParserTest, YCarriesTheMintersName) {
  proto::MetaRequest req;
  ASSERT_EQ(proto::MetaParser().Parse("ms k 1 E5 Y10.0.0.1:11211\r\n", &req).status,
            ParseStatus::kOk);
  EXPECT_TRUE(req.Has('Y'));
  EXPECT_EQ(req.minter(), "10.0.0.1:11211");
  ASSERT_EQ(proto::MetaParser().Parse("md k E5\r\n", &req).status, ParseStatus::kOk);
  EXPECT_FALSE(req.Has('Y'));
  EXPECT_EQ(req.minter(), "");
  EXPECT_EQ(Error("mg k Y\r\n"), "CLIENT_ERROR bad token in command line format");
  EXPECT_EQ(Error("mg k Y" + std::string(256, 'n') + "\r\n"),
            "CLIENT_ERROR bad token in command line format");
}

TEST(MetaParserTest, OnlyTheFirstByteOfAFlagTokenCounts) {
  // _meta_flag_preparse switches on tokens[i].value[0]; "vfoo" is v.
  Parsed p = ParseWhole("mg k vfoo kbar\r\n");
  EXPECT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.flags, "vk");
  // ...and a second token starting with the same byte is a duplicate.
  EXPECT_EQ(Error("mg k vfoo vbar\r\n"), "CLIENT_ERROR duplicate flag");
}

TEST(MetaParserTest, EveryCommandAcceptsEveryKnownFlag) {
  // The pre-parse is shared: mg takes (and ignores) ms/ma flags, and so on.
  for (std::string_view line : {"mg k F1 C2 MX J3 D4 I P L\r\n"sv, "md k v s f h l t u F1\r\n"sv,
                                "ma k F9 I P L u\r\n"sv, "ms k 1 N5 R5 h l u v s f t\r\n"sv}) {
    EXPECT_EQ(ParseWhole(line).status, ParseStatus::kOk) << line;
  }
}

TEST(MetaParserTest, SetModesAndArithmeticModes) {
  MetaRequest req;
  for (auto [line, mode] : {std::pair{"ms k 1\r\n"sv, MetaSetMode::kSet},
                            std::pair{"ms k 1 MS\r\n"sv, MetaSetMode::kSet},
                            std::pair{"ms k 1 ME\r\n"sv, MetaSetMode::kAdd},
                            std::pair{"ms k 1 MA\r\n"sv, MetaSetMode::kAppend},
                            std::pair{"ms k 1 MP\r\n"sv, MetaSetMode::kPrepend},
                            std::pair{"ms k 1 MR\r\n"sv, MetaSetMode::kReplace}}) {
    ASSERT_EQ(MetaParser().Parse(line, &req).status, ParseStatus::kOk) << line;
    EXPECT_EQ(req.set_mode(), mode) << line;
  }
  for (auto [line, incr] : {std::pair{"ma k\r\n"sv, true}, std::pair{"ma k MI\r\n"sv, true},
                            std::pair{"ma k M+\r\n"sv, true}, std::pair{"ma k MD\r\n"sv, false},
                            std::pair{"ma k M-\r\n"sv, false}}) {
    ASSERT_EQ(MetaParser().Parse(line, &req).status, ParseStatus::kOk) << line;
    EXPECT_EQ(req.incr(), incr) << line;
  }
  // mg and md do not look at the mode.
  EXPECT_EQ(ParseWhole("mg k MZ\r\n").status, ParseStatus::kOk);
  EXPECT_EQ(ParseWhole("md k MZ\r\n").status, ParseStatus::kOk);
}

struct ErrorCase {
  std::string_view wire;
  std::string_view error;
  std::size_t swallow;
};

TEST(MetaParserTest, MalformedLinesGetMemcachedsExactErrors) {
  const std::string key251(251, 'k');
  const std::string key250(250, 'k');
  const std::vector<ErrorCase> cases = {
      // The transcript's "meta errors" and "ms invalid / bad" cases.
      {"mg\r\n", "ERROR", 0},
      {"mg k1 !\r\n", "CLIENT_ERROR invalid flag", 0},
      {"mg k1 v v\r\n", "CLIENT_ERROR duplicate flag", 0},
      {"mz k\r\n", "ERROR", 0},
      {"mg k1 Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", "CLIENT_ERROR opaque token too long",
       0},
      {"mg @@@ b v\r\n", "CLIENT_ERROR error decoding key", 0},
      {"ms m4 1 !\r\n", "CLIENT_ERROR invalid flag", 3},
      {"ms m4 abc\r\n", "CLIENT_ERROR bad command line format", 0},
      {"ms m4\r\n", "CLIENT_ERROR bad command line format", 0},
      {"ms m4 2 T1 T2\r\n", "CLIENT_ERROR duplicate flag", 4},
      {"ms m2 1 MX\r\n", "CLIENT_ERROR invalid mode for ms M token", 3},
      // No key at all: ERROR (WANT_TOKENS_MIN), for every keyed command.
      {"ms\r\n", "ERROR", 0},
      {"md\r\n", "ERROR", 0},
      {"ma\r\n", "ERROR", 0},
      {"mg    \r\n", "ERROR", 0},
      // me without a key is a format error instead (process_meta_command).
      {"me\r\n", "CLIENT_ERROR bad command line format", 0},
      {"me @@@ b\r\n", "CLIENT_ERROR bad command line format", 0},
      // Unknown two-byte m-commands.
      {"mx\r\n", "ERROR", 0},
      {"mG k\r\n", "ERROR", 0},
      // Bad token values.
      {"mg k Tx\r\n", "CLIENT_ERROR bad token in command line format", 0},
      {"mg k T\r\n", "CLIENT_ERROR bad token in command line format", 0},
      {"mg k N1.5\r\n", "CLIENT_ERROR bad token in command line format", 0},
      {"mg k R99999999999999999999\r\n", "CLIENT_ERROR bad token in command line format", 0},
      {"mg k C-1\r\n", "CLIENT_ERROR bad token in command line format", 0},
      {"mg k MDX\r\n", "CLIENT_ERROR incorrect length for M token", 0},
      {"mg k M\r\n", "CLIENT_ERROR incorrect length for M token", 0},
      {"mg k Jx\r\n", "CLIENT_ERROR invalid numeric initial value", 0},
      {"mg k D-5\r\n", "CLIENT_ERROR invalid numeric delta value", 0},
      // A bad F leaves the line's default message in place.
      {"mg k Fx\r\n", "CLIENT_ERROR bad command line format", 0},
      {"ms k 2 F-1\r\n", "CLIENT_ERROR bad command line format", 4},
      {"ms k 2 Fx Tx\r\n", "CLIENT_ERROR bad token in command line format", 4},
      // The last bad value wins; a duplicate or unknown flag stops at once.
      {"mg k Tx Jx\r\n", "CLIENT_ERROR invalid numeric initial value", 0},
      {"mg k Tx !\r\n", "CLIENT_ERROR invalid flag", 0},
      {"mg k Tx Tx\r\n", "CLIENT_ERROR duplicate flag", 0},
      {"mg @@@ b Tx\r\n", "CLIENT_ERROR bad token in command line format", 0},
      {"ms @@@ 1 b\r\n", "CLIENT_ERROR error decoding key", 3},
      // Bytes past 126 are "duplicate" flags (memcached's seen[] table has 127 entries).
      {"mg k \x80\r\n", "CLIENT_ERROR duplicate flag", 0},
      {"mg k ~\r\n", "CLIENT_ERROR invalid flag", 0},
      {"mg k 1\r\n", "CLIENT_ERROR invalid flag", 0},
      {"mg k S5\r\n", "CLIENT_ERROR invalid flag", 0},
      // md and ma report every pre-parse failure alike.
      {"md k !\r\n", "CLIENT_ERROR invalid or duplicate flag", 0},
      {"md k q q\r\n", "CLIENT_ERROR invalid or duplicate flag", 0},
      {"md k Tx\r\n", "CLIENT_ERROR invalid or duplicate flag", 0},
      {"md @@@ b\r\n", "CLIENT_ERROR invalid or duplicate flag", 0},
      {"ma k Dx\r\n", "CLIENT_ERROR invalid or duplicate flag", 0},
      {"ma k Jx\r\n", "CLIENT_ERROR invalid or duplicate flag", 0},
      {"ma k MX\r\n", "CLIENT_ERROR invalid mode for ma M token", 0},
      {"ma k MXY\r\n", "CLIENT_ERROR invalid or duplicate flag", 0},
      // Mode before opaque for ms and ma (proto_text.c checks them in that order).
      {"ms k 1 Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx MX\r\n",
       "CLIENT_ERROR invalid mode for ms M token", 3},
      {"ms k 1 Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", "CLIENT_ERROR opaque token too long",
       3},
      {"ma k Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx MX\r\n",
       "CLIENT_ERROR invalid mode for ma M token", 0},
      {"md k Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n", "CLIENT_ERROR opaque token too long", 0},
      {"mg k Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx !\r\n", "CLIENT_ERROR invalid flag", 0},
      // <datalen>: a signed 32-bit number below INT_MAX - 2 (as for set; t/issue_70.t).
      {"ms k -1\r\n", "CLIENT_ERROR bad command line format", 0},
      {"ms k 4294967295\r\n", "CLIENT_ERROR bad command line format", 0},
      {"ms k 2147483646\r\n", "CLIENT_ERROR bad command line format", 0},
      {"ms k 1x\r\n", "CLIENT_ERROR bad command line format", 0},
      {"ms k 2147483645 !\r\n", "CLIENT_ERROR invalid flag", 2147483647},
  };
  for (const ErrorCase& c : cases) {
    Parsed p = ParseWhole(c.wire);
    EXPECT_EQ(p.status, ParseStatus::kError) << c.wire;
    EXPECT_EQ(p.error, c.error) << c.wire;
    EXPECT_EQ(p.swallow, c.swallow) << c.wire;
    EXPECT_EQ(p.consumed, c.wire.size()) << c.wire;
  }

  // Keys: 250 bytes are fine, 251 are a format error, checked before anything else.
  for (std::string_view mc : {"mg", "md", "ma", "me"}) {
    EXPECT_EQ(ParseWhole(std::string(mc) + " " + key250 + "\r\n").status, ParseStatus::kOk) << mc;
    EXPECT_EQ(Error(std::string(mc) + " " + key251 + " ! !\r\n"),
              "CLIENT_ERROR bad command line format")
        << mc;
  }
  EXPECT_EQ(ParseWhole("ms " + key250 + " 1\r\n").status, ParseStatus::kOk);
  Parsed p = ParseWhole("ms " + key251 + " 1 !\r\n");
  EXPECT_EQ(p.error, "CLIENT_ERROR bad command line format");
  EXPECT_EQ(p.swallow, 0u);  // the data block is then parsed as commands (transcript)
}

TEST(MetaParserTest, AtMostSeventeenFlagsOrSixteenForMs) {
  // 20 tokens or more (counting the command) is too long: "options flags are too long" for mg,
  // "options flags too long" for the others.
  const std::string flags17 = " v k c f s t h l u q O P L I F1 T1 N1";
  EXPECT_EQ(ParseWhole("mg k" + flags17 + "\r\n").status, ParseStatus::kOk);
  EXPECT_EQ(Error("mg k" + flags17 + " R1\r\n"), "CLIENT_ERROR options flags are too long");
  EXPECT_EQ(Error("mg k" + flags17 + " R1 x y z a b c d e f g\r\n"),
            "CLIENT_ERROR options flags are too long");
  EXPECT_EQ(ParseWhole("md k" + flags17 + "\r\n").status, ParseStatus::kOk);
  EXPECT_EQ(Error("md k" + flags17 + " R1\r\n"), "CLIENT_ERROR options flags too long");
  EXPECT_EQ(Error("ma k" + flags17 + " R1\r\n"), "CLIENT_ERROR options flags too long");
  const std::string flags16 = " v k c f s t h l u q O P L I F1 T1";
  EXPECT_EQ(ParseWhole("ms k 1" + flags16 + "\r\n").status, ParseStatus::kOk);
  Parsed p = ParseWhole("ms k 1" + flags16 + " N1\r\n");
  EXPECT_EQ(p.error, "CLIENT_ERROR options flags too long");
  EXPECT_EQ(p.swallow, 0u);  // refused before <datalen> is read
  // The token limit is checked before the flags themselves.
  EXPECT_EQ(Error("mg k ! ! ! ! ! ! ! ! ! ! ! ! ! ! ! ! ! !\r\n"),
            "CLIENT_ERROR options flags are too long");
  // me and mn take anything.
  EXPECT_EQ(ParseWhole("me k" + flags17 + " R1 x y\r\n").status, ParseStatus::kOk);
  EXPECT_EQ(ParseWhole("mn" + flags17 + " R1 x y\r\n").status, ParseStatus::kOk);
}

TEST(MetaParserTest, OpaqueTokensUpToThirtyTwoBytes) {
  const std::string o31(31, 'o');
  Parsed p = ParseWhole("mg k O" + o31 + "\r\n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.opaque, o31);
  EXPECT_EQ(Error("mg k O" + o31 + "o\r\n"), "CLIENT_ERROR opaque token too long");
  p = ParseWhole("mg k O\r\n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.opaque, "");
  EXPECT_EQ(p.flags, "O");
}

TEST(MetaParserTest, Base64KeysAreDecodedIntoTheRequest) {
  // The transcript's "base64 keys" case: Zm9v is "foo".
  Parsed p = ParseWhole("mg Zm9v b v k\r\n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.key, "foo");
  EXPECT_TRUE(p.key_binary);
  EXPECT_EQ(p.flags, "bvk");
  // Binary bytes, spaces and line ends included.
  p = ParseWhole("ms AAEgDQo= 2 b\r\n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.key, std::string("\x00\x01 \r\n", 5));
  // The `b` may come anywhere among the flags.
  p = ParseWhole("md v k Zm9vYg== b\r\n");
  EXPECT_EQ(p.status, ParseStatus::kError);  // "v" is no base64 of four characters
  p = ParseWhole("md Zm9vYg== k q b\r\n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.key, "foob");
  // me decodes only with an exact "b" third token.
  p = ParseWhole("me Zm9v b\r\n");
  EXPECT_EQ(p.key, "foo");
  EXPECT_TRUE(p.key_binary);
  p = ParseWhole("me Zm9v bx\r\n");
  EXPECT_EQ(p.key, "Zm9v");
  p = ParseWhole("me Zm9v k b\r\n");
  EXPECT_EQ(p.key, "Zm9v");
  EXPECT_FALSE(p.key_binary);
  // Without b the key is taken as it is.
  p = ParseWhole("mg Zm9v v\r\n");
  EXPECT_EQ(p.key, "Zm9v");
  EXPECT_FALSE(p.key_binary);
}

TEST(MetaParserTest, PlainKeysAreThoseALineCarriesAsTheyAre) {
  EXPECT_TRUE(IsPlainKey("user:42"));
  EXPECT_TRUE(IsPlainKey("~!@#$%^&*()"));
  for (std::string_view key : {std::string_view("a b"), std::string_view("tab\t"),
                               std::string_view("nul\0x", 5), std::string_view("del\x7f"),
                               std::string_view("high\xc3\xa9")}) {
    EXPECT_FALSE(IsPlainKey(key)) << key;
  }
}

TEST(MetaParserTest, Base64FollowsMemcachedsDecoder) {
  char out[64];
  auto decode = [&out](std::string_view in) {
    std::size_t n = Base64Decode(in.data(), in.size(), out);
    return n == 0 ? std::string("<error>") : std::string(out, n);
  };
  EXPECT_EQ(decode("Zm9v"), "foo");
  EXPECT_EQ(decode("Zm9vYg=="), "foob");
  EXPECT_EQ(decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(decode("Zm9vYmFy"), "foobar");
  // Bytes outside the alphabet are skipped, not refused.
  EXPECT_EQ(decode("Zm!9v"), "foo");
  EXPECT_EQ(decode("Z\tm9.v"), "foo");
  // The rest must come in groups of four.
  EXPECT_EQ(decode("Zm9"), "<error>");
  EXPECT_EQ(decode("Zm9vY"), "<error>");
  EXPECT_EQ(decode("@@@"), "<error>");
  EXPECT_EQ(decode(""), "<error>");
  // Decoding stops after the first group with padding; three '=' are invalid.
  EXPECT_EQ(decode("Zg==Zm9v"), "f");
  EXPECT_EQ(decode("Z===") , "<error>");
  EXPECT_EQ(decode("===="), "<error>");
  // A '=' counts as a zero digit wherever it is.
  EXPECT_EQ(decode("Z=9v"), std::string("\x64\x0f", 2));

  char enc[64];
  for (std::string_view plain : {"f"sv, "fo"sv, "foo"sv, "foob"sv, "fooba"sv, "foobar"sv,
                                 "\x00\xff\x7f"sv}) {
    std::size_t n = Base64Encode(plain.data(), plain.size(), enc);
    EXPECT_EQ(n, (plain.size() + 2) / 3 * 4);
    EXPECT_EQ(decode(std::string_view(enc, n)), std::string(plain));
  }
  std::size_t n = Base64Encode("foo", 3, enc);
  EXPECT_EQ(std::string_view(enc, n), "Zm9v");
  n = Base64Encode("fo", 2, enc);
  EXPECT_EQ(std::string_view(enc, n), "Zm8=");
}

TEST(MetaParserTest, TheLineIsSplitAsTheTextProtocolSplitsIt) {
  // Runs of spaces separate tokens; a bare LF ends a line; a NUL ends it early.
  Parsed p = ParseWhole("mg   spaced    v   \n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.key, "spaced");
  EXPECT_EQ(p.flags, "v");
  p = ParseWhole(std::string_view("mg k v\0 !!\r\n", 12));
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.flags, "v");
  EXPECT_EQ(p.consumed, 12u);
  // Only one '\r' right before the '\n' is dropped; a tab is part of a token.
  p = ParseWhole("mg k\tv\r\n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.key, "k\tv");
  p = ParseWhole("mg k v\r\r\n");
  ASSERT_EQ(p.status, ParseStatus::kOk);
  EXPECT_EQ(p.flags, "v");
}

TEST(MetaParserTest, ALongLineWithoutNewlineCloses) {
  std::string line = "mg " + std::string(2046, 'k');
  MetaRequest req;
  EXPECT_EQ(MetaParser().Parse(line.substr(0, 2048), &req).status, ParseStatus::kNeedMore);
  EXPECT_EQ(MetaParser().Parse(line + "x", &req).status, ParseStatus::kClose);
}

TEST(MetaParserTest, IsMetaCommandRoutesExactlyTheTwoByteMTokens) {
  for (std::string_view yes : {"mg k\r\n"sv, "mn\r\n"sv, "mn\n"sv, "mz k\r\n"sv, "  ms k 1\r\n"sv,
                               "me\r\n"sv, std::string_view("mg\0", 3), "mg "sv}) {
    EXPECT_TRUE(IsMetaCommand(yes)) << yes;
  }
  for (std::string_view no : {""sv, "m"sv, "mg"sv, "mg\r"sv, "m\r\n"sv, "m g\r\n"sv,
                              "mget k\r\n"sv, "mg\tk\r\n"sv, "get k\r\n"sv, "mg\rx\r\n"sv,
                              "xmg k\r\n"sv}) {
    EXPECT_FALSE(IsMetaCommand(no)) << no;
  }
}

TEST(MetaParserTest, ARequestOwnsItsBytes) {
  MetaRequest req;
  {
    std::string wire = "mg thekey Oabc v\r\n";
    ASSERT_EQ(MetaParser().Parse(wire, &req).status, ParseStatus::kOk);
  }
  MetaRequest copy = req;  // a copy is as good (the connection keeps one for ms)
  EXPECT_EQ(copy.key(), "thekey");
  EXPECT_EQ(copy.opaque(), "abc");
}

}  // namespace
}  // namespace rc::proto
