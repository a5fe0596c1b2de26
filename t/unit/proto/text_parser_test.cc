// t/unit/proto/text_parser_test.cc -- TextParser against memcached 1.6.18's observable behaviour.
//
// Every expectation here is either taken from ../shared/reference/memcached-1.6.18-transcript.txt
// (what the stock server answered over a raw socket), from memcached's own t/*.t files, or read
// from its proto_text.c/util.c; the comment next to each case says which. The parser sees only
// bytes, so every command is also fed in fragments down to one byte at a time and must parse
// exactly as it does whole.
#include "ringcached/proto/text_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/proto/limits.h"
#include "ringcached/proto/request.h"

namespace rc::proto {
namespace {

using namespace std::string_view_literals;

ParseResult ParseWhole(std::string_view wire, Request* req) { return TextParser().Parse(wire, req); }

// Feeds `wire` to the parser `chunk` bytes at a time, as a connection would: the bytes accumulate
// in *buf and Parse() sees the whole growing prefix each time, until it stops asking for more.
// *buf must outlive *req, whose views point into it.
ParseResult ParseInChunks(std::string_view wire, std::size_t chunk, std::string* buf,
                          Request* req) {
  buf->clear();
  buf->reserve(wire.size());
  ParseResult r;
  std::size_t fed = 0;
  while (fed < wire.size()) {
    std::size_t n = std::min(chunk, wire.size() - fed);
    buf->append(wire.substr(fed, n));
    fed += n;
    r = TextParser().Parse(*buf, req);
    if (r.status != ParseStatus::kNeedMore) return r;
    EXPECT_EQ(r.consumed, 0u) << "kNeedMore must not consume";
  }
  return r;
}

// The parts of a Request that do not depend on where the input buffer lives.
struct Parsed {
  ParseStatus status;
  std::size_t consumed;
  std::string error;
  Command command;
  std::string key, keys;
  std::uint32_t flags;
  std::int64_t exptime;
  std::uint32_t value_len;
  std::uint64_t cas_unique, delta;
  std::int64_t number;
  bool has_number, noreply;
  std::vector<std::string> tokens;

  bool operator==(const Parsed&) const = default;
};

Parsed Capture(const ParseResult& r, const Request& q) {
  Parsed p{r.status, r.consumed, std::string(r.error), q.command, std::string(q.key),
           std::string(q.keys), q.flags, q.exptime, q.value_len, q.cas_unique, q.delta, q.number,
           q.has_number, q.noreply, {}};
  for (std::size_t i = 0; i < q.ntokens; ++i) p.tokens.emplace_back(q.tokens[i]);
  return p;
}

std::ostream& operator<<(std::ostream& os, const Parsed& p) {
  os << "{status=" << static_cast<int>(p.status) << " consumed=" << p.consumed << " error='"
     << p.error << "' command=" << static_cast<int>(p.command) << " key='" << p.key << "' keys='"
     << p.keys << "' flags=" << p.flags << " exptime=" << p.exptime << " value_len=" << p.value_len
     << " cas=" << p.cas_unique << " delta=" << p.delta << " number=" << p.number
     << " has_number=" << p.has_number << " noreply=" << p.noreply << " ntokens=" << p.tokens.size()
     << "}";
  return os;
}

std::vector<std::string> Keys(std::string_view keys) {
  std::vector<std::string> v;
  KeyIterator it(keys);
  std::string_view k;
  while (it.Next(&k)) v.emplace_back(k);
  return v;
}

// ------------------------------------------------------------------------------------------------
// Fragmentation

// One line per command and per interesting shape, including errors (an error must be found at
// the same point whatever the fragmentation).
constexpr std::string_view kEveryCommand[] = {
    "get k1\r\n",
    "get k1 nokey k1\r\n",
    "gets k1\r\n",
    "gat 100 g1 nokey\r\n",
    "gats 100 g1\r\n",
    "gat 100\r\n",
    "bget k1\r\n",
    "set k1 5 0 3\r\n",
    "set nr 0 0 1 noreply\r\n",
    "add ar 0 0 1\r\n",
    "replace ar 0 0 1\r\n",
    "append ap 9 99 2\r\n",
    "prepend ap 0 0 2\r\n",
    "cas c1 0 0 1 1\r\n",
    "cas c1 0 0 1 12345 noreply\r\n",
    "delete d1\r\n",
    "delete d1 0\r\n",
    "delete d1 noreply\r\n",
    "delete d1 0 noreply\r\n",
    "incr i1 5\r\n",
    "decr i1 100 noreply\r\n",
    "touch t1 10\r\n",
    "flush_all\r\n",
    "flush_all 10 noreply\r\n",
    "version\r\n",
    "verbosity 1\r\n",
    "verbosity 1 noreply\r\n",
    "quit\r\n",
    "shutdown\r\n",
    "shutdown graceful\r\n",
    "cache_memlimit 100\r\n",
    "stats\r\n",
    "stats detail on\r\n",
    "slabs automove 1\r\n",
    "lru mode flat\r\n",
    "lru_crawler metadump all\r\n",
    "watch mutations\r\n",
    "misbehave\r\n",
    "debugtime 1\r\n",
    "set lf 0 0 1\n",          // bare LF (observed)
    "  get   spaced   keys  \r\n",
    // errors
    "\r\n",
    "boguscommand foo\r\n",
    "GET foo\r\n",
    "get\r\n",
    "set k 0 0\r\n",
    "set k notanumber 0 3\r\n",
    "set k 0 0 -1 noreply\r\n",
    "cas c2 0 0 1 abc\r\n",
    "delete d1 10\r\n",
    "incr i1 abc\r\n",
    "touch t1 abc\r\n",
    "gat abc g1\r\n",
    "flush_all abc\r\n",
    "verbosity abc\r\n",
    "cache_memlimit abc\r\n",
};

TEST(TextParserTest, EveryCommandParsesTheSameWhateverTheFragmentation) {
  for (std::string_view wire : kEveryCommand) {
    SCOPED_TRACE(testing::Message() << "wire=" << testing::PrintToString(std::string(wire)));
    Request whole_req;
    ParseResult whole = ParseWhole(wire, &whole_req);
    ASSERT_NE(whole.status, ParseStatus::kNeedMore);
    ASSERT_NE(whole.status, ParseStatus::kClose);
    EXPECT_EQ(whole.consumed, wire.size());
    const Parsed expected = Capture(whole, whole_req);

    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
      SCOPED_TRACE(testing::Message() << "chunk=" << chunk);
      std::string buf;
      Request req;
      ParseResult r = ParseInChunks(wire, chunk, &buf, &req);
      EXPECT_EQ(Capture(r, req), expected);
    }
  }
}

TEST(TextParserTest, APrefixWithoutNewlineNeverParses) {
  for (std::string_view wire : kEveryCommand) {
    for (std::size_t n = 0; n < wire.size(); ++n) {
      Request req;
      ParseResult r = ParseWhole(wire.substr(0, n), &req);
      EXPECT_EQ(r.status, ParseStatus::kNeedMore) << wire.substr(0, n);
      EXPECT_EQ(r.consumed, 0u);
    }
  }
}

TEST(TextParserTest, PipelinedRequestsAreTakenOneLineAtATime) {
  // A storage line does not include its data block: the caller reads it.
  const std::string wire = "set a 1 2 3\r\nabc\r\nget a b\r\nincr n 7\ndelete a noreply\r\n";
  std::string_view in = wire;
  Request req;

  ParseResult r = ParseWhole(in, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kSet);
  EXPECT_EQ(r.consumed, "set a 1 2 3\r\n"sv.size());
  in.remove_prefix(r.consumed + req.value_len + 2);

  r = ParseWhole(in, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGet);
  EXPECT_EQ(req.keys, "a b");
  in.remove_prefix(r.consumed);

  r = ParseWhole(in, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kIncr);
  EXPECT_EQ(req.delta, 7u);
  EXPECT_EQ(r.consumed, "incr n 7\n"sv.size());
  in.remove_prefix(r.consumed);

  r = ParseWhole(in, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kDelete);
  EXPECT_TRUE(req.noreply);
  in.remove_prefix(r.consumed);

  EXPECT_TRUE(in.empty());
  EXPECT_EQ(ParseWhole(in, &req).status, ParseStatus::kNeedMore);
}

TEST(TextParserTest, ARequestDoesNotKeepFieldsFromThePreviousOne) {
  Request req;
  ASSERT_EQ(ParseWhole("cas k 7 100 5 99 noreply\r\n", &req).status, ParseStatus::kOk);
  ASSERT_TRUE(req.noreply);
  ASSERT_EQ(ParseWhole("get x\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGet);
  EXPECT_FALSE(req.noreply);
  EXPECT_EQ(req.flags, 0u);
  EXPECT_EQ(req.exptime, 0);
  EXPECT_EQ(req.value_len, 0u);
  EXPECT_EQ(req.cas_unique, 0u);
  EXPECT_TRUE(req.key.empty());
  EXPECT_EQ(req.ntokens, 2);
}

// ------------------------------------------------------------------------------------------------
// Each command's fields

TEST(TextParserTest, StorageCommandsFillKeyFlagsExptimeAndLength) {
  struct Case {
    std::string_view line;
    Command command;
  } cases[] = {
      {"set k1 5 0 3\r\n", Command::kSet},         {"add k1 5 0 3\r\n", Command::kAdd},
      {"replace k1 5 0 3\r\n", Command::kReplace}, {"append k1 5 0 3\r\n", Command::kAppend},
      {"prepend k1 5 0 3\r\n", Command::kPrepend},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    Request req;
    ParseResult r = ParseWhole(c.line, &req);
    ASSERT_EQ(r.status, ParseStatus::kOk);
    EXPECT_EQ(r.consumed, c.line.size());
    EXPECT_EQ(req.command, c.command);
    EXPECT_TRUE(IsStorage(req.command));
    EXPECT_EQ(req.key, "k1");
    EXPECT_EQ(req.flags, 5u);
    EXPECT_EQ(req.exptime, 0);
    EXPECT_EQ(req.value_len, 3u);
    EXPECT_FALSE(req.noreply);
    EXPECT_EQ(req.ntokens, 5);
  }

  Request req;
  ASSERT_EQ(ParseWhole("set big 4294967295 -1 1048577 noreply\r\n", &req).status,
            ParseStatus::kOk);
  EXPECT_EQ(req.flags, 4294967295u);
  EXPECT_EQ(req.exptime, -1);  // negative = already expired, still stored (observed)
  EXPECT_EQ(req.value_len, 1048577u);  // too large is the store's answer, not the parser's
  EXPECT_TRUE(req.noreply);

  ASSERT_EQ(ParseWhole("set z 0 0 0\r\n", &req).status, ParseStatus::kOk);  // zero-length value
  EXPECT_EQ(req.value_len, 0u);
}

TEST(TextParserTest, CasReadsItsUniqueBeforeNoreply) {
  Request req;
  ASSERT_EQ(ParseWhole("cas c1 3 60 2 18446744073709551615 noreply\r\n", &req).status,
            ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kCas);
  EXPECT_EQ(req.key, "c1");
  EXPECT_EQ(req.flags, 3u);
  EXPECT_EQ(req.exptime, 60);
  EXPECT_EQ(req.value_len, 2u);
  EXPECT_EQ(req.cas_unique, 18446744073709551615u);
  EXPECT_TRUE(req.noreply);
}

TEST(TextParserTest, AnExtraLastTokenThatIsNotNoreplyIsIgnored) {
  // process_update_command only checks whether the optional last token is "noreply".
  Request req;
  ASSERT_EQ(ParseWhole("set k 0 0 1 whatever\r\n", &req).status, ParseStatus::kOk);
  EXPECT_FALSE(req.noreply);
  ASSERT_EQ(ParseWhole("incr k 1 whatever\r\n", &req).status, ParseStatus::kOk);
  EXPECT_FALSE(req.noreply);
  ASSERT_EQ(ParseWhole("set k 0 0 1 NOREPLY\r\n", &req).status, ParseStatus::kOk);
  EXPECT_FALSE(req.noreply);
}

TEST(TextParserTest, RetrievalCommandsListTheirKeys) {
  Request req;
  ASSERT_EQ(ParseWhole("get k1 nokey k1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGet);
  EXPECT_TRUE(IsRetrieval(req.command));
  EXPECT_EQ(req.keys, "k1 nokey k1");
  EXPECT_EQ(Keys(req.keys), (std::vector<std::string>{"k1", "nokey", "k1"}));  // duplicates kept

  ASSERT_EQ(ParseWhole("gets  a   b  \r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGets);
  EXPECT_EQ(Keys(req.keys), (std::vector<std::string>{"a", "b"}));

  ASSERT_EQ(ParseWhole("bget k\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGet);
  EXPECT_EQ(req.keys, "k");

  ASSERT_EQ(ParseWhole("gat 100 g1 nokey\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGat);
  EXPECT_EQ(req.exptime, 100);
  EXPECT_EQ(req.keys, "g1 nokey");

  ASSERT_EQ(ParseWhole("gats -1 g1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGats);
  EXPECT_EQ(req.exptime, -1);
  EXPECT_EQ(req.keys, "g1");

  // "gat 100" with no key: memcached answers END (observed), so it parses with no keys.
  ASSERT_EQ(ParseWhole("gat 100\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kGat);
  EXPECT_TRUE(req.keys.empty());
  EXPECT_TRUE(Keys(req.keys).empty());
}

TEST(TextParserTest, KeysMayHoldControlBytesButNotSpaces) {
  // 1.6.18 stores and returns "ctl\x01key" (observed); a '\r' inside a key is kept too.
  Request req;
  ASSERT_EQ(ParseWhole("get ctl\x01key\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.keys, "ctl\x01key");
  ASSERT_EQ(ParseWhole("set a\tb 0 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.key, "a\tb");
  ASSERT_EQ(ParseWhole("get a\r\r\n", &req).status, ParseStatus::kOk);  // only one '\r' stripped
  EXPECT_EQ(req.keys, "a\r");
}

TEST(TextParserTest, DeleteAcceptsOnlyALegacyZeroAndNoreply) {
  struct Case {
    std::string_view line;
    bool noreply;
  } ok[] = {
      {"delete d1\r\n", false},
      {"delete d1 0\r\n", false},
      {"delete d1 noreply\r\n", true},
      {"delete d1 0 noreply\r\n", true},
  };
  for (const Case& c : ok) {
    SCOPED_TRACE(c.line);
    Request req;
    ASSERT_EQ(ParseWhole(c.line, &req).status, ParseStatus::kOk);
    EXPECT_EQ(req.command, Command::kDelete);
    EXPECT_EQ(req.key, "d1");
    EXPECT_EQ(req.noreply, c.noreply);
  }
}

TEST(TextParserTest, IncrAndDecrTakeAnUnsigned64BitDelta) {
  Request req;
  ASSERT_EQ(ParseWhole("incr i1 18446744073709551615\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kIncr);
  EXPECT_EQ(req.key, "i1");
  EXPECT_EQ(req.delta, 18446744073709551615u);
  EXPECT_FALSE(req.noreply);
  ASSERT_EQ(ParseWhole("decr i1 91 noreply\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kDecr);
  EXPECT_EQ(req.delta, 91u);
  EXPECT_TRUE(req.noreply);
}

TEST(TextParserTest, TouchTakesASignedExptime) {
  Request req;
  ASSERT_EQ(ParseWhole("touch t1 10\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kTouch);
  EXPECT_EQ(req.key, "t1");
  EXPECT_EQ(req.exptime, 10);
  ASSERT_EQ(ParseWhole("touch t1 -5 noreply\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.exptime, -5);
  EXPECT_TRUE(req.noreply);
}

TEST(TextParserTest, FlushAllReadsADelayOnlyWhenOneIsThere) {
  struct Case {
    std::string_view line;
    bool has_number;
    std::int64_t delay;
    bool noreply;
  } cases[] = {
      {"flush_all\r\n", false, 0, false},
      {"flush_all 0\r\n", true, 0, false},
      {"flush_all noreply\r\n", false, 0, true},
      {"flush_all 10 noreply\r\n", true, 10, true},
      {"flush_all -1\r\n", true, -1, false},
      {"flush_all 10 20\r\n", true, 10, false},  // the second token is ignored
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    Request req;
    ASSERT_EQ(ParseWhole(c.line, &req).status, ParseStatus::kOk);
    EXPECT_EQ(req.command, Command::kFlushAll);
    EXPECT_EQ(req.has_number, c.has_number);
    EXPECT_EQ(req.exptime, c.delay);
    EXPECT_EQ(req.noreply, c.noreply);
  }
}

TEST(TextParserTest, VerbosityAndCacheMemlimitTakeOneNumber) {
  Request req;
  ASSERT_EQ(ParseWhole("verbosity 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kVerbosity);
  EXPECT_EQ(req.number, 1);
  ASSERT_EQ(ParseWhole("verbosity 0 noreply\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.number, 0);
  EXPECT_TRUE(req.noreply);
  ASSERT_EQ(ParseWhole("verbosity 2 3\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.number, 2);
  EXPECT_FALSE(req.noreply);

  // The range checks (< 8, > 1000000000) are the server's: they have their own replies.
  ASSERT_EQ(ParseWhole("cache_memlimit 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kCacheMemlimit);
  EXPECT_EQ(req.number, 1);
  ASSERT_EQ(ParseWhole("cache_memlimit 4294967295 noreply\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.number, 4294967295);
  EXPECT_TRUE(req.noreply);
}

TEST(TextParserTest, VersionQuitAndShutdownIgnoreOrKeepTheirArguments) {
  Request req;
  ASSERT_EQ(ParseWhole("version foo bar\r\n", &req).status, ParseStatus::kOk);  // ignored in 1.6
  EXPECT_EQ(req.command, Command::kVersion);
  ASSERT_EQ(ParseWhole("quit\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kQuit);

  ASSERT_EQ(ParseWhole("shutdown\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kShutdown);
  EXPECT_FALSE(req.has_number);
  ASSERT_EQ(ParseWhole("shutdown graceful\r\n", &req).status, ParseStatus::kOk);
  EXPECT_TRUE(req.has_number);
  ASSERT_EQ(ParseWhole("shutdown bogus\r\n", &req).status, ParseStatus::kOk);  // server refuses
  EXPECT_FALSE(req.has_number);
  ASSERT_EQ(req.ntokens, 2);
  EXPECT_EQ(req.tokens[1], "bogus");
}

TEST(TextParserTest, AdminCommandsHandTheirTokensToTheServer) {
  struct Case {
    std::string_view line;
    Command command;
    std::vector<std::string> tokens;
    bool noreply;
  } cases[] = {
      {"stats\r\n", Command::kStats, {"stats"}, false},
      {"stats cachedump 1 10\r\n", Command::kStats, {"stats", "cachedump", "1", "10"}, false},
      {"stats bogus\r\n", Command::kStats, {"stats", "bogus"}, false},
      {"slabs automove 1\r\n", Command::kSlabs, {"slabs", "automove", "1"}, false},
      {"slabs automove 1 noreply\r\n", Command::kSlabs, {"slabs", "automove", "1", "noreply"}, true},
      {"slabs reassign 1 2 noreply\r\n", Command::kSlabs, {"slabs", "reassign", "1", "2", "noreply"},
       false},  // only the automove path reads noreply
      {"lru mode flat\r\n", Command::kLru, {"lru", "mode", "flat"}, false},
      {"lru temp_ttl 0 noreply\r\n", Command::kLru, {"lru", "temp_ttl", "0", "noreply"}, true},
      {"lru_crawler crawl all\r\n", Command::kLruCrawler, {"lru_crawler", "crawl", "all"}, false},
      {"watch\r\n", Command::kWatch, {"watch"}, false},
      {"watch mutations evictions\r\n", Command::kWatch, {"watch", "mutations", "evictions"}, false},
      {"misbehave\r\n", Command::kMisbehave, {"misbehave"}, false},
      {"debugtime -10\r\n", Command::kDebugTime, {"debugtime", "-10"}, false},
      // ElastiCache discovery; server/ answers ERROR outside a cluster, as memcached would.
      {"config get cluster\r\n", Command::kConfig, {"config", "get", "cluster"}, false},
      // Peer-only commands (server/peer_commands.cc).
      {"rc_lease n1 7\r\n", Command::kPeer, {"rc_lease", "n1", "7"}, false},
      {"rc_hints t a b\r\n", Command::kPeer, {"rc_hints", "t", "a", "b"}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    Request req;
    ParseResult r = ParseWhole(c.line, &req);
    ASSERT_EQ(r.status, ParseStatus::kOk);
    EXPECT_EQ(r.consumed, c.line.size());
    EXPECT_EQ(req.command, c.command);
    EXPECT_EQ(Capture(r, req).tokens, c.tokens);
    EXPECT_EQ(req.noreply, c.noreply);
  }
}

TEST(TextParserTest, RcHintsListsItsKeysAsAGetDoes) {
  // Past the token slots too: the server reads the list.
  std::string line = "rc_hints t";
  for (int i = 0; i < 40; ++i) line += " k" + std::to_string(i);
  const std::string whole = line + "\r\n";
  Request req;
  ParseResult r = ParseWhole(whole, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kPeer);
  EXPECT_EQ(req.keys, std::string_view(line).substr(9));
}

TEST(TextParserTest, EveryCommandFillsItsTokens) {
  Request req;
  ASSERT_EQ(ParseWhole("set  k1 5 0   3 \r\n", &req).status, ParseStatus::kOk);
  ASSERT_EQ(req.ntokens, 5);
  EXPECT_EQ(req.tokens[0], "set");
  EXPECT_EQ(req.tokens[1], "k1");
  EXPECT_EQ(req.tokens[4], "3");
  ASSERT_EQ(ParseWhole("get a b\r\n", &req).status, ParseStatus::kOk);
  ASSERT_EQ(req.ntokens, 3);
  EXPECT_EQ(req.tokens[2], "b");
}

// ------------------------------------------------------------------------------------------------
// Errors

struct BadLine {
  std::string_view line;
  std::string_view error;
  bool noreply = false;
};

TEST(TextParserTest, MalformedLinesGetMemcachedsExactErrorLines) {
  const std::string key251(251, 'k');
  const std::string set251 = "set " + key251 + " 0 0 1\r\n";
  const std::string delete251 = "delete " + key251 + "\r\n";
  const std::string incr251 = "incr " + key251 + " 1\r\n";
  const std::string touch251 = "touch " + key251 + " 1\r\n";
  constexpr std::string_view kError = "ERROR";
  constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format";
  constexpr std::string_view kDeleteUsage =
      "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
  constexpr std::string_view kExptime = "CLIENT_ERROR invalid exptime argument";
  constexpr std::string_view kDelta = "CLIENT_ERROR invalid numeric delta argument";
  const BadLine bad[] = {
      // Unknown, empty, misspelt or upper-case commands (observed: all ERROR).
      {"\r\n", kError},
      {"\n", kError},
      {"   \r\n", kError},
      {"boguscommand foo\r\n", kError},
      {"GET foo\r\n", kError},
      {"x\r\n", kError},
      {"mz k\r\n", kError},
      {"gett k\r\n", kError},
      {"sets k 0 0 1\r\n", kError},
      // Wrong token counts for known commands (observed).
      {"get\r\n", kError},
      {"gets\r\n", kError},
      {"gat\r\n", kError},
      {"bget\r\n", kError},
      {"set tt 0 0\r\n", kError},
      {"set tt 0 0 1 noreply extra\r\n", kError},
      {"cas c3 0 0 1\r\n", kError},
      {"cas c3 0 0 1 1 noreply extra\r\n", kError},
      {"delete\r\n", kError},
      {"delete a b c d\r\n", kError},
      {"incr k\r\n", kError},
      {"incr k 1 noreply x\r\n", kError},
      {"decr\r\n", kError},
      {"touch k\r\n", kError},
      {"flush_all 1 noreply x\r\n", kError},
      {"verbosity\r\n", kError},
      {"verbosity 1 noreply x\r\n", kError},
      {"cache_memlimit\r\n", kError},
      {"lru\r\n", kError},
      // Numbers (observed unless noted).
      {"set fl3 -1 0 1\r\n", kBadFormat},
      {"set k notanumber 0 3\r\n", kBadFormat},
      {"set ne 0 abc 1\r\n", kBadFormat},
      {"set nl 0 0 -1\r\n", kBadFormat},
      {"set hl 0 0 4294967295\r\n", kBadFormat},
      {"set k 0 0 2147483646\r\n", kBadFormat},  // > INT_MAX - 2 (t/issue_70.t)
      {"set k 0 0 1x\r\n", kBadFormat},
      {"set k 0 0 \x01\r\n", kBadFormat},
      {"set k 0 99999999999999999999 1\r\n", kBadFormat},  // ERANGE
      {"cas c2 0 0 1 abc\r\n", kBadFormat},
      {"cas c2 0 0 1 -1\r\n", kBadFormat},
      {"verbosity abc\r\n", kBadFormat},
      {"verbosity -1\r\n", kBadFormat},
      {"cache_memlimit abc\r\n", kError},
      {"delete d1 10\r\n", kDeleteUsage},
      {"delete d1 00\r\n", kDeleteUsage},
      {"delete d1 1 noreply\r\n", kDeleteUsage, true},
      {"delete d1 noreply 0\r\n", kDeleteUsage},
      {"incr i1 abc\r\n", kDelta},
      {"incr i1 -1\r\n", kDelta},
      {"incr i1 18446744073709551616\r\n", kDelta},
      {"decr i1 1.5\r\n", kDelta},
      {"touch t1 abc\r\n", kExptime},
      {"gat abc g1\r\n", kExptime},
      {"gats 9223372036854775808 g1\r\n", kExptime},  // ERANGE for strtol
      {"flush_all abc\r\n", kExptime},
      {"flush_all abc noreply\r\n", kExptime, true},
      // Keys longer than 250 bytes (observed for set and get; t/issue_152.t).
      {set251, kBadFormat},
      {delete251, kBadFormat},
      {incr251, kBadFormat},
      {touch251, kBadFormat},
  };
  for (const BadLine& b : bad) {
    SCOPED_TRACE(testing::PrintToString(std::string(b.line)));
    Request req;
    ParseResult r = ParseWhole(b.line, &req);
    ASSERT_EQ(r.status, ParseStatus::kError);
    EXPECT_EQ(r.error, b.error);
    EXPECT_EQ(r.consumed, b.line.size());  // the connection carries on after the line
    EXPECT_EQ(req.noreply, b.noreply);
  }
}

TEST(TextParserTest, KeysOfExactly250BytesAreFine) {
  const std::string key250(250, 'k');
  Request req;
  const std::string set = "set " + key250 + " 0 0 1\r\n";
  ASSERT_EQ(ParseWhole(set, &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.key.size(), 250u);
  const std::string get = "get a " + key250 + "\r\n";
  ASSERT_EQ(ParseWhole(get, &req).status, ParseStatus::kOk);
  EXPECT_EQ(Keys(req.keys).back().size(), 250u);
}

TEST(TextParserTest, NoreplyIsSeenBeforeNumbersAreChecked) {
  // memcached's set_noreply_maybe runs first, so a number error on a noreply line is silent
  // (observed: "incr nr2 1 noreply" on a non-number and "verbosity noreply" answer nothing).
  const BadLine silent[] = {
      {"set k abc 0 1 noreply\r\n", "CLIENT_ERROR bad command line format", true},
      {"set k 0 0 noreply\r\n", "CLIENT_ERROR bad command line format", true},
      {"cas k 0 0 1 x noreply\r\n", "CLIENT_ERROR bad command line format", true},
      {"incr k abc noreply\r\n", "CLIENT_ERROR invalid numeric delta argument", true},
      {"touch k abc noreply\r\n", "CLIENT_ERROR invalid exptime argument", true},
      {"verbosity noreply\r\n", "CLIENT_ERROR bad command line format", true},
      {"cache_memlimit noreply\r\n", "ERROR", true},
  };
  for (const BadLine& b : silent) {
    SCOPED_TRACE(b.line);
    Request req;
    ParseResult r = ParseWhole(b.line, &req);
    ASSERT_EQ(r.status, ParseStatus::kError);
    EXPECT_EQ(r.error, b.error);
    EXPECT_TRUE(req.noreply);
  }
  // A token-count error is found before noreply is looked at, so it is always sent.
  Request req;
  ParseResult r = ParseWhole("set tt 0 0 1 noreply extra\r\n", &req);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_FALSE(req.noreply);
}

TEST(TextParserTest, NumbersAreReadAsMemcachedsStrtoulWrappersReadThem) {
  Request req;
  // flags: strtoul on a 64-bit long stored into 32 bits (observed: 2^32 -> 0).
  ASSERT_EQ(ParseWhole("set k 4294967296 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.flags, 0u);
  ASSERT_EQ(ParseWhole("set k 4294967297 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.flags, 1u);
  ASSERT_EQ(ParseWhole("set k -0 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.flags, 0u);
  ASSERT_EQ(ParseWhole("set k +7 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.flags, 7u);
  // strtoul negates "-N" modulo 2^64; memcached only refuses results that look negative.
  ASSERT_EQ(ParseWhole("set k -18446744073709551615 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.flags, 1u);
  // Leading white space other than ' ' is skipped, and one white-space byte may end the number.
  ASSERT_EQ(ParseWhole("set k \t9 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.flags, 9u);
  ASSERT_EQ(ParseWhole("set k 9\tjunk 0 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.flags, 9u);
  ASSERT_EQ(ParseWhole("set k 0 0 5\r\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.value_len, 5u);

  // exptime and <bytes>: strtol stored into 32 bits.
  ASSERT_EQ(ParseWhole("set k 0 4294967296 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.exptime, 0);
  ASSERT_EQ(ParseWhole("set k 0 2147483648 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.exptime, -2147483648LL);
  ASSERT_EQ(ParseWhole("set k 0 2592000 1\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.exptime, 2592000);
  ASSERT_EQ(ParseWhole("set k 0 0 2147483645\r\n", &req).status, ParseStatus::kOk);  // INT_MAX-2
  EXPECT_EQ(req.value_len, 2147483645u);
  ASSERT_EQ(ParseWhole("set k 0 0 4294967297\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.value_len, 1u);

  // cas unique and delta: strtoull, all 64 bits.
  ASSERT_EQ(ParseWhole("cas k 0 0 1 9223372036854775808\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.cas_unique, 9223372036854775808u);
  ASSERT_EQ(ParseWhole("incr k 0\r\n", &req).status, ParseStatus::kOk);
  EXPECT_EQ(req.delta, 0u);
}

TEST(TextParserTest, TooManyTokensIsAnErrorForFixedShapeCommandsOnly) {
  std::string set = "set k 0 0 1";
  std::string stats = "stats";
  for (int i = 0; i < 30; ++i) {
    set += " x";
    stats += " s" + std::to_string(i);
  }
  set += "\r\n";
  stats += "\r\n";  // must outlive req, whose views point into it
  Request req;
  ParseResult r = ParseWhole(set, &req);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error, "ERROR");

  r = ParseWhole(stats, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(req.command, Command::kStats);
  EXPECT_EQ(req.ntokens, kMaxTokens);
  EXPECT_EQ(req.tokens[kMaxTokens - 1], "s22");
}

TEST(TextParserTest, ANulByteEndsTheLineAsItDoesForMemcached) {
  // memcached tokenizes the line with strlen(), so nothing after a NUL exists for it.
  Request req;
  ParseResult r = ParseWhole("get a\0b c\r\n"sv, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_EQ(req.keys, "a");
  r = ParseWhole("set k\0 0 0 1\r\n"sv, &req);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error, "ERROR");
  EXPECT_EQ(r.consumed, 14u);
  r = ParseWhole("\0get a\r\n"sv, &req);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.error, "ERROR");
}

TEST(TextParserTest, BareLfAndCrLfEndLinesAlike) {
  Request a, b;
  ParseResult ra = ParseWhole("get lf\n", &a);
  ParseResult rb = ParseWhole("get lf\r\n", &b);
  ASSERT_EQ(ra.status, ParseStatus::kOk);
  ASSERT_EQ(rb.status, ParseStatus::kOk);
  EXPECT_EQ(ra.consumed, 7u);
  EXPECT_EQ(rb.consumed, 8u);
  EXPECT_EQ(a.keys, "lf");
  EXPECT_EQ(b.keys, "lf");
}

// ------------------------------------------------------------------------------------------------
// Connection-level outcomes

TEST(TextParserTest, HttpRequestLinesCloseTheConnection) {
  // t/malicious-commands.t and the transcript's "GET / HTTP/1.1".
  for (std::string_view line : {"GET / HTTP/1.1\r\n"sv, "GET / HTTP/1.0\r\n"sv,
                                "PUT /asdf/asd/fasdfasdf/sadf HTTP/1.1\r\n"sv,
                                "DELETE HTTP/1.1\r\n"sv, "HTTP/1.1\r\n"sv}) {
    SCOPED_TRACE(line);
    Request req;
    EXPECT_EQ(ParseWhole(line, &req).status, ParseStatus::kClose);
  }
  // Only names outside memcached's first-letter branches get the check.
  Request req;
  ParseResult r = ParseWhole("get / HTTP/1.1\r\n", &req);
  EXPECT_EQ(r.status, ParseStatus::kOk);
  r = ParseWhole("dance HTTP/1.1\r\n", &req);
  EXPECT_EQ(r.status, ParseStatus::kError);
  r = ParseWhole("GET HTTP/1.1 x\r\n", &req);  // not the last token
  EXPECT_EQ(r.status, ParseStatus::kError);
}

TEST(TextParserTest, ALongLineWithoutNewlineClosesUnlessItIsAMultiGet) {
  Request req;
  std::string set(kMaxLineWithoutNewline, 'x');
  set.replace(0, 4, "set ");
  EXPECT_EQ(ParseWhole(set, &req).status, ParseStatus::kNeedMore);  // 2048 bytes: still waiting
  set += 'x';
  ParseResult r = ParseWhole(set, &req);
  EXPECT_EQ(r.status, ParseStatus::kClose);  // 2049 (observed: 3000 bytes -> close)
  EXPECT_EQ(r.consumed, 0u);
  set.resize(3000, 'x');
  EXPECT_EQ(ParseWhole(set, &req).status, ParseStatus::kClose);

  for (std::string_view prefix : {"get "sv, "gets "sv, "   get "sv}) {
    std::string get(prefix);
    get.resize(3000, 'k');
    EXPECT_EQ(ParseWhole(get, &req).status, ParseStatus::kNeedMore) << prefix;
  }
  for (std::string_view prefix : {"gat "sv, "gats "sv, "bget "sv, "getx"sv, "GET "sv}) {
    std::string other(prefix);
    other.resize(3000, 'k');
    EXPECT_EQ(ParseWhole(other, &req).status, ParseStatus::kClose) << prefix;
  }
  // At most 100 leading spaces (try_read_command_ascii).
  std::string spaced = std::string(100, ' ') + "get ";
  spaced.resize(3000, 'k');
  EXPECT_EQ(ParseWhole(spaced, &req).status, ParseStatus::kNeedMore);
  spaced = std::string(101, ' ') + "get ";
  spaced.resize(3000, 'k');
  EXPECT_EQ(ParseWhole(spaced, &req).status, ParseStatus::kClose);
  EXPECT_EQ(ParseWhole(std::string(3000, ' '), &req).status, ParseStatus::kClose);

  // A long line that already holds its '\n' is parsed like any other.
  std::string long_stats = "stats";
  while (long_stats.size() < 3000) long_stats += " arg";
  long_stats += "\r\n";
  r = ParseWhole(long_stats, &req);
  EXPECT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, long_stats.size());
}

TEST(TextParserTest, AHugeGetLineParsesEveryKey) {
  // t/getset.t sends one get with 18,725 keys (~187 KB).
  constexpr int kKeys = 18725;
  std::string line = "get";
  for (int i = 0; i < kKeys; ++i) line += " key_" + std::to_string(i);
  const std::size_t key_bytes = line.size() - 4;
  line += "\r\n";
  ASSERT_GT(line.size(), 170000u);

  Request req;
  // Fed in 1500-byte packets, it keeps asking for more until the '\n' arrives.
  std::string buf;
  ParseResult r = ParseInChunks(line, 1500, &buf, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, line.size());
  EXPECT_EQ(req.command, Command::kGet);
  EXPECT_EQ(req.keys.size(), key_bytes);
  EXPECT_EQ(req.ntokens, kMaxTokens);  // only the first tokens are kept as tokens
  std::vector<std::string> keys = Keys(req.keys);
  ASSERT_EQ(keys.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(keys.front(), "key_0");
  EXPECT_EQ(keys.back(), "key_18724");

  // An overlong key is passed on as it is: the server rejects it when it reaches it, after
  // looking up the keys before it, as memcached does.
  std::string bad = line;
  bad.insert(bad.size() - 2, " " + std::string(251, 'k'));
  r = ParseWhole(bad, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, bad.size());
  EXPECT_EQ(Keys(req.keys).back(), std::string(251, 'k'));

  // A NUL after the first tokens ends the key list there.
  std::string nul = line;
  const std::size_t cut = nul.find(" key_100 ");
  nul[cut] = '\0';
  r = ParseWhole(nul, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  EXPECT_EQ(r.consumed, nul.size());
  EXPECT_EQ(Keys(req.keys).size(), 100u);
  EXPECT_EQ(Keys(req.keys).back(), "key_99");
}

// ------------------------------------------------------------------------------------------------
// The reference transcript

// Every text-protocol command line in ../shared/reference/memcached-1.6.18-transcript.txt (data
// blocks and meta commands left out) with what the parser must make of it: a command for the
// server, an error line, or a hang-up. The server's own answers (STORED, NOT_FOUND...) are
// engine/ and server/ tests.
TEST(TextParserTest, TheTranscriptsCommandLinesParseAsMemcachedParsedThem) {
  struct Line {
    std::string_view wire;
    ParseStatus status;
    std::string_view error_or_command;  // the error line, or a name for the trace
    Command command = Command::kGet;
    bool noreply = false;
  };
  using enum ParseStatus;
  const Line lines[] = {
      {"version\r\n", kOk, "version", Command::kVersion},
      {"boguscommand foo\r\n", kError, "ERROR"},
      {"\r\n", kError, "ERROR"},
      {"GET foo\r\n", kError, "ERROR"},
      {"set lf 0 0 1\n", kOk, "set", Command::kSet},
      {"get lf\n", kOk, "get", Command::kGet},
      {"set k1 5 0 3\r\n", kOk, "set", Command::kSet},
      {"get k1\r\n", kOk, "get", Command::kGet},
      {"gets k1\r\n", kOk, "gets", Command::kGets},
      {"get k1 nokey k1\r\n", kOk, "get", Command::kGet},
      {"get\r\n", kError, "ERROR"},
      {"gets\r\n", kError, "ERROR"},
      {"set z 0 0 0\r\n", kOk, "set", Command::kSet},
      {"set bin 0 0 5\r\n", kOk, "set", Command::kSet},
      {"set fl 4294967295 0 1\r\n", kOk, "set", Command::kSet},
      {"set fl2 4294967296 0 1\r\n", kOk, "set", Command::kSet},
      {"set fl3 -1 0 1\r\n", kError, "CLIENT_ERROR bad command line format"},
      {"x\r\n", kError, "ERROR"},  // the data block of the refused set above
      {"add ar 0 0 1\r\n", kOk, "add", Command::kAdd},
      {"replace nope_ar 0 0 1\r\n", kOk, "replace", Command::kReplace},
      {"append ap 0 0 1\r\n", kOk, "append", Command::kAppend},
      {"append ap 9 99 2\r\n", kOk, "append", Command::kAppend},
      {"prepend ap 0 0 2\r\n", kOk, "prepend", Command::kPrepend},
      {"cas c1 0 0 1 1\r\n", kOk, "cas", Command::kCas},
      {"cas c2 0 0 1 abc\r\n", kError, "CLIENT_ERROR bad command line format"},
      {"cas c3 0 0 1\r\n", kError, "ERROR"},
      {"delete d1\r\n", kOk, "delete", Command::kDelete},
      {"delete d1 0\r\n", kOk, "delete", Command::kDelete},
      {"delete d1 10\r\n", kError,
       "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"},
      {"delete d1 noreply\r\n", kOk, "delete", Command::kDelete, true},
      {"delete\r\n", kError, "ERROR"},
      {"delete a b c d\r\n", kError, "ERROR"},
      {"incr i1 1\r\n", kOk, "incr", Command::kIncr},
      {"decr i1 100\r\n", kOk, "decr", Command::kDecr},
      {"incr i1 abc\r\n", kError, "CLIENT_ERROR invalid numeric delta argument"},
      {"incr i1 -1\r\n", kError, "CLIENT_ERROR invalid numeric delta argument"},
      {"incr i1 18446744073709551616\r\n", kError, "CLIENT_ERROR invalid numeric delta argument"},
      {"touch t1 10\r\n", kOk, "touch", Command::kTouch},
      {"touch t1 abc\r\n", kError, "CLIENT_ERROR invalid exptime argument"},
      {"gat 100 g1 nokey\r\n", kOk, "gat", Command::kGat},
      {"gats 100 g1\r\n", kOk, "gats", Command::kGats},
      {"gat abc g1\r\n", kError, "CLIENT_ERROR invalid exptime argument"},
      {"gat 100\r\n", kOk, "gat", Command::kGat},
      {"set nr 0 0 1 noreply\r\n", kOk, "set", Command::kSet, true},
      {"add nr 0 0 1 noreply\r\n", kOk, "add", Command::kAdd, true},
      {"append nr 0 0 1 noreply\r\n", kOk, "append", Command::kAppend, true},
      {"incr nr 1 noreply\r\n", kOk, "incr", Command::kIncr, true},
      {"verbosity noreply\r\n", kError, "CLIENT_ERROR bad command line format", Command::kGet,
       true},
      {"set nr3 0 0 1 noreply\r\n", kOk, "set", Command::kSet, true},
      {"xyz\r\n", kError, "ERROR"},  // its bad data chunk, re-read as a command
      {"set ctl\x01key 0 0 1\r\n", kOk, "set", Command::kSet},
      {"get ctl\x01key\r\n", kOk, "get", Command::kGet},
      {"set bd 0 0 3\r\n", kOk, "set", Command::kSet},
      {"set nl 0 0 -1\r\n", kError, "CLIENT_ERROR bad command line format"},
      {"set hl 0 0 4294967295\r\n", kError, "CLIENT_ERROR bad command line format"},
      {"set ne 0 abc 1\r\n", kError, "CLIENT_ERROR bad command line format"},
      {"set tt 0 0 1 noreply extra\r\n", kError, "ERROR"},
      {"set tt 0 0\r\n", kError, "ERROR"},
      {"set big 0 0 1048577\r\n", kOk, "set", Command::kSet},
      {"gets nothing\r\n", kOk, "gets", Command::kGets},
      {"GET / HTTP/1.1\r\n", kClose, "close"},
      {"set ex1 0 -1 1\r\n", kOk, "set", Command::kSet},
      {"set ex2 0 1000000000 1\r\n", kOk, "set", Command::kSet},
      {"flush_all\r\n", kOk, "flush_all", Command::kFlushAll},
      {"flush_all 0\r\n", kOk, "flush_all", Command::kFlushAll},
      {"flush_all noreply\r\n", kOk, "flush_all", Command::kFlushAll, true},
      {"flush_all 10 noreply\r\n", kOk, "flush_all", Command::kFlushAll, true},
      {"flush_all abc\r\n", kError, "CLIENT_ERROR invalid exptime argument"},
      {"verbosity 1\r\n", kOk, "verbosity", Command::kVerbosity},
      {"verbosity\r\n", kError, "ERROR"},
      {"verbosity abc\r\n", kError, "CLIENT_ERROR bad command line format"},
      {"cache_memlimit 100\r\n", kOk, "cache_memlimit", Command::kCacheMemlimit},
      {"cache_memlimit 1\r\n", kOk, "cache_memlimit", Command::kCacheMemlimit},
      {"cache_memlimit abc\r\n", kError, "ERROR"},
      {"shutdown\r\n", kOk, "shutdown", Command::kShutdown},
      {"misbehave\r\n", kOk, "misbehave", Command::kMisbehave},
      {"debugtime 1\r\n", kOk, "debugtime", Command::kDebugTime},
      {"slabs automove 1\r\n", kOk, "slabs", Command::kSlabs},
      {"slabs automove invalid\r\n", kOk, "slabs", Command::kSlabs},
      {"lru mode flat\r\n", kOk, "lru", Command::kLru},
      {"lru bogus\r\n", kOk, "lru", Command::kLru},
      {"lru_crawler sleep 100\r\n", kOk, "lru_crawler", Command::kLruCrawler},
      {"lru_crawler metadump all\r\n", kOk, "lru_crawler", Command::kLruCrawler},
      {"watch mutations\r\n", kOk, "watch", Command::kWatch},
      {"quit\r\n", kOk, "quit", Command::kQuit},
      {"stats\r\n", kOk, "stats", Command::kStats},
      {"stats settings\r\n", kOk, "stats", Command::kStats},
      {"stats detail\r\n", kOk, "stats", Command::kStats},
      {"stats cachedump\r\n", kOk, "stats", Command::kStats},
      {"stats bogus\r\n", kOk, "stats", Command::kStats},
  };
  for (const Line& l : lines) {
    SCOPED_TRACE(testing::PrintToString(std::string(l.wire)));
    Request req;
    ParseResult r = ParseWhole(l.wire, &req);
    ASSERT_EQ(r.status, l.status) << l.error_or_command;
    if (l.status == kClose) continue;
    EXPECT_EQ(r.consumed, l.wire.size());
    EXPECT_EQ(req.noreply, l.noreply);
    if (l.status == kError) {
      EXPECT_EQ(r.error, l.error_or_command);
    } else {
      EXPECT_EQ(req.command, l.command);
    }
  }
}

}  // namespace
}  // namespace rc::proto

namespace rc::proto {
namespace {

TEST(TextParserTest, OverlongKeysInAGetLineAreLeftToTheCaller) {
  // memcached looks up "a" (a counted miss) before it rejects the 251-byte key, so the parser
  // must hand the whole list over rather than refuse the line.
  const std::string line = "get a " + std::string(251, 'k') + "\r\n";
  Request req;
  ParseResult r = TextParser().Parse(line, &req);
  ASSERT_EQ(r.status, ParseStatus::kOk);
  KeyIterator keys(req.keys);
  std::string_view key;
  ASSERT_TRUE(keys.Next(&key));
  EXPECT_EQ(key, "a");
  ASSERT_TRUE(keys.Next(&key));
  EXPECT_EQ(key.size(), 251u);
  EXPECT_FALSE(keys.Next(&key));
}

}  // namespace
}  // namespace rc::proto
