// t/unit/engine/meta_test.cc -- the meta commands over a real Store with a FakeClock.
//
// The fixture plays the connection: it parses wire bytes with proto::MetaParser, runs them through
// the Engine's meta calls, and encodes the replies with proto's meta encoders, exactly in the
// order server/ must (see Run()). So the meta cases of
// ../shared/reference/memcached-1.6.18-transcript.txt are replayed here byte for byte, with their
// <cas>/<ttl>/<n> placeholders matching any number. The other tests check the semantics behind
// them (every ms mode, CAS, stale/win tokens, vivify, recache, TTL order) and memcached 1.6.18's
// counters, read from proto_text.c and memcached.c.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "ringcached/engine/engine.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/text_reply.h"

namespace rc::engine {
namespace {

using proto::MetaParser;
using proto::MetaParseResult;
using proto::MetaRequest;
using proto::ParseStatus;

class RecordingObserver : public WriteObserver {
 public:
  void OnWrite(const WriteEvent& event) override {
    events.push_back({event.kind, std::string(event.key), event.exptime});
    versions.push_back(event.version);
    stamps.push_back(event.ttl_stamp);
  }
  struct Seen {
    WriteEvent::Kind kind;
    std::string key;
    std::int64_t exptime;
    bool operator==(const Seen&) const = default;
  };
  std::vector<Seen> events;
  std::vector<std::uint64_t> versions;  // each event's version and TTL stamp
  std::vector<std::uint64_t> stamps;
};

// True when `out` is `pattern` with each <cas>, <ttl> or <n> standing for a (signed) number.
bool Matches(std::string_view out, std::string_view pattern) {
  std::size_t o = 0;
  for (std::size_t i = 0; i < pattern.size();) {
    bool placeholder = false;
    for (std::string_view p : {"<cas>", "<ttl>", "<n>"}) {
      if (pattern.substr(i, p.size()) == p) {
        if (o < out.size() && out[o] == '-') ++o;
        const std::size_t digits = o;
        while (o < out.size() && out[o] >= '0' && out[o] <= '9') ++o;
        if (o == digits) return false;
        i += p.size();
        placeholder = true;
        break;
      }
    }
    if (placeholder) continue;
    if (o >= out.size() || out[o] != pattern[i]) return false;
    ++o;
    ++i;
  }
  return o == out.size();
}

class MetaTest : public ::testing::Test {
 protected:
  MetaTest() : MetaTest(store::Options{}) {}
  explicit MetaTest(const store::Options& options)
      : store_(options, &clock_), engine_(&store_, &clock_) {
    engine_.add_write_observer(&observer_);
  }

  // Executes everything in `wire` as a connection does and returns the bytes it would send.
  std::string Run(std::string_view wire) {
    std::string out;
    char line[proto::kMaxMetaReply];
    while (!wire.empty()) {
      MetaRequest req;
      const MetaParseResult r = MetaParser().Parse(wire, &req);
      if (r.status == ParseStatus::kNeedMore || r.status == ParseStatus::kClose) {
        ADD_FAILURE() << "incomplete input: " << wire;
        return out;
      }
      if (r.status == ParseStatus::kError) {
        // Meta errors are sent even under q. An ms error after <datalen> swallows the block.
        out += r.error;
        out += "\r\n";
        wire.remove_prefix(std::min(wire.size(), r.consumed + r.swallow));
        continue;
      }
      wire.remove_prefix(r.consumed);
      if (!engine_.AdmitMetaCas(req)) {
        out += proto::kMetaCasRefused;
        if (req.command == proto::MetaCommand::kSet) {
          wire.remove_prefix(std::min(wire.size(), std::size_t{req.value_len} + 2));
        }
        continue;
      }
      switch (req.command) {
        case proto::MetaCommand::kNoop:
          out += proto::kMetaNoop;
          break;
        case proto::MetaCommand::kGet: {
          MetaGetResult g = engine_.MetaGet(req, &stats_);
          if (!proto::MetaReplySuppressed(req, g.info)) {
            out.append(line, proto::FormatMetaReply(line, req, g.info));
            if (g.item && req.Has('v')) {
              out += g.item.value();
              out += "\r\n";
            }
          }
          break;
        }
        case proto::MetaCommand::kSet: {
          store::Allocation alloc = engine_.BeginMetaSet(req, &stats_);
          const std::size_t block = std::size_t{req.value_len} + 2;
          if (!alloc.item) {
            out += alloc.outcome == store::Outcome::kTooLarge ? proto::kTooLarge
                                                               : proto::kNoMemory;
            wire.remove_prefix(std::min(wire.size(), block));
            break;
          }
          if (wire.size() < block) {
            ADD_FAILURE() << "short data block";
            return out;
          }
          // Read value + "\r\n" into the item, then check the two bytes, as for set.
          std::memcpy(alloc.item.writable_value(), wire.data(), block);
          wire.remove_prefix(block);
          const char* end = alloc.item.writable_value() + req.value_len;
          if (end[0] != '\r' || end[1] != '\n') {
            out += proto::kBadDataChunk;
            engine_.AbandonStore(alloc.item, &stats_);
            break;
          }
          proto::MetaReplyInfo info = engine_.CompleteMetaSet(req, &alloc.item, &stats_);
          if (!proto::MetaReplySuppressed(req, info)) {
            out.append(line, proto::FormatMetaReply(line, req, info));
          }
          break;
        }
        case proto::MetaCommand::kDelete: {
          proto::MetaReplyInfo info = engine_.MetaDelete(req, &stats_);
          if (!proto::MetaReplySuppressed(req, info)) {
            out.append(line, proto::FormatMetaReply(line, req, info));
          }
          break;
        }
        case proto::MetaCommand::kArithmetic: {
          MetaArithmeticResult a = engine_.MetaArithmetic(req, &stats_);
          if (!a.error.empty()) {
            out += a.error;
          } else if (!proto::MetaReplySuppressed(req, a.info)) {
            out.append(line, proto::FormatMetaReply(line, req, a.info));
          }
          break;
        }
        case proto::MetaCommand::kDebug: {
          proto::MetaDebugInfo d;
          char buf[proto::kMaxMetaDebugReply];
          if (engine_.MetaDebug(req, &d, &stats_)) {
            out.append(buf, proto::FormatMetaDebug(buf, d));
          } else {
            out += proto::kMetaMiss;
          }
          break;
        }
      }
    }
    return out;
  }

  // Runs one exchange of the transcript and checks the reply against its pattern.
  void Expect(std::string_view wire, const std::string& pattern) {
    std::string out = Run(wire);
    EXPECT_TRUE(Matches(out, pattern)) << "sent: " << wire << "\n got: " << out
                                       << "\nwant: " << pattern;
  }

  // The number after " <flag>" in a reply's first line, or -999.
  static long long FlagValue(const std::string& reply, char flag) {
    const std::string first = reply.substr(0, reply.find('\r'));
    const std::size_t at = first.find(std::string(" ") + flag);
    if (at == std::string::npos) return -999;
    return std::stoll(first.substr(at + 2));
  }

  rc::testing::FakeClock clock_;
  store::Store store_;
  Engine engine_;
  RecordingObserver observer_;
  CommandStats stats_;
};

// ---------------------------------------------------------------------------------------------
// The transcript, case by case.

TEST_F(MetaTest, TranscriptMnAndMisses) {
  Expect("mn\r\n", "MN\r\n");
  Expect("mg nokey v\r\n", "EN\r\n");
  Expect("mg nokey v q\r\nmn\r\n", "MN\r\n");
  Expect("mg nokey v Oabc k\r\n", "EN Oabc knokey\r\n");
}

TEST_F(MetaTest, TranscriptMsAndMgFlags) {
  Expect("ms m1 3 T0 F7\r\nabc\r\n", "HD\r\n");
  Expect("mg m1 v\r\n", "VA 3\r\nabc\r\n");
  Expect("mg m1 s v f t k Oop123 c\r\n", "VA 3 s3 f7 t-1 km1 Oop123 c<cas>\r\nabc\r\n");
  Expect("mg m1\r\n", "HD\r\n");
  Expect("mg m1 h l\r\n", "HD h1 l<n>\r\n");
  Expect("mg m1 q v\r\n", "VA 3\r\nabc\r\n");
}

TEST_F(MetaTest, TranscriptMsModes) {
  Expect("ms m2 1 ME\r\na\r\n", "HD\r\n");
  Expect("ms m2 1 ME\r\nb\r\n", "NS\r\n");
  Expect("ms m2 1 MA\r\nc\r\n", "HD\r\n");
  Expect("ms m2 1 MP\r\nd\r\n", "HD\r\n");
  Expect("ms m2x 1 MR\r\ne\r\n", "NS\r\n");
  Expect("mg m2 v\r\n", "VA 3\r\ndac\r\n");
  Expect("ms m2 1 MX\r\nf\r\n", "CLIENT_ERROR invalid mode for ms M token\r\n");
}

TEST_F(MetaTest, TranscriptMsCas) {
  Run("ms earlier 1\r\nx\r\n");  // in the transcript m3's CAS is far above 1
  Expect("ms m3 1 c\r\na\r\n", "HD c<cas>\r\n");
  Expect("ms m3 1 C1\r\nb\r\n", "EX\r\n");
  Expect("ms m3 1 q\r\nc\r\n", "");
  Expect("mn\r\n", "MN\r\n");
}

TEST_F(MetaTest, TranscriptMsInvalidAndBad) {
  Expect("ms m4 1 !\r\nx\r\n", "CLIENT_ERROR invalid flag\r\n");
  // The data block is not swallowed after a bad <datalen>: "x" is then a command (ERROR).
  Expect("ms m4 abc\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n");
  Expect("ms m4\r\n", "CLIENT_ERROR bad command line format\r\n");
  Expect("ms m4 2 T1 T2\r\nxx\r\n", "CLIENT_ERROR duplicate flag\r\n");
}

TEST_F(MetaTest, TranscriptMsTtlAndMgT) {
  Expect("ms m5 1 T100\r\nx\r\n", "HD\r\n");
  Expect("mg m5 t v\r\n", "VA 1 t<ttl>\r\nx\r\n");
  EXPECT_EQ(Run("mg m5 t\r\n"), "HD t100\r\n");
  clock_.Advance(30);
  EXPECT_EQ(Run("mg m5 t\r\n"), "HD t70\r\n");
}

TEST_F(MetaTest, TranscriptMd) {
  Expect("md nokey\r\n", "NF\r\n");
  Expect("ms m6 1\r\nx\r\n", "HD\r\n");
  Expect("md m6 q\r\n", "");
  Expect("mn\r\n", "MN\r\n");
  Expect("md m6\r\n", "NF\r\n");
  Expect("md m6 Oxy k\r\n", "NF Oxy km6\r\n");
}

TEST_F(MetaTest, TranscriptMdInvalidateAndStale) {
  Expect("ms m7 1\r\nx\r\n", "HD\r\n");
  Expect("md m7 I T30\r\n", "HD\r\n");
  Expect("mg m7 v c\r\n", "VA 1 c<cas> X W\r\nx\r\n");
  Expect("mg m7 v\r\n", "VA 1 Z X\r\nx\r\n");
}

TEST_F(MetaTest, TranscriptMa) {
  Expect("ma m8\r\n", "NF\r\n");
  Expect("ma m8 N0 J10 v\r\n", "VA 2\r\n10\r\n");
  Expect("ma m8 v\r\n", "VA 2\r\n11\r\n");
  Expect("ma m8 MD D100 v\r\n", "VA 1\r\n0\r\n");
  Expect("ma m8 q\r\n", "");
  Expect("mn\r\n", "MN\r\n");
  Expect("ma m8 t c v\r\n", "VA 1 t-1 c<cas>\r\n2\r\n");
  Expect("ms m9 2\r\nhi\r\n", "HD\r\n");
  Expect("ma m9\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
}

TEST_F(MetaTest, TranscriptMgVivifyAndRecache) {
  Expect("mg m10 N30 v c t\r\n", "VA 0 c<cas> t<ttl> W\r\n\r\n");
  Expect("mg m10 N30 v\r\n", "VA 0 Z\r\n\r\n");
  Expect("ms m11 1 T100\r\nx\r\n", "HD\r\n");
  Expect("mg m11 R200 v\r\n", "VA 1 W\r\nx\r\n");
  Expect("mg m11 R200 v\r\n", "VA 1 Z\r\nx\r\n");
}

TEST_F(MetaTest, TranscriptMe) {
  Expect("me nokey\r\n", "EN\r\n");
  Expect("ms m12 1\r\nx\r\n", "HD\r\n");
  Expect("me m12\r\n", "ME m12 exp=-1 la=<n> cas=<cas> fetch=no cls=1 size=63\r\n");
}

TEST_F(MetaTest, TranscriptBase64Keys) {
  Expect("ms Zm9v 1 b\r\nx\r\n", "HD\r\n");
  Expect("mg Zm9v b v k\r\n", "VA 1 kZm9v b\r\nx\r\n");
  // "get foo" finds it under the decoded key.
  store::ItemRef item = engine_.Get("foo", &stats_);
  ASSERT_TRUE(item);
  EXPECT_EQ(item.value(), "x");
  Expect("mg @@@ b v\r\n", "CLIENT_ERROR error decoding key\r\n");
}

TEST_F(MetaTest, TranscriptMetaErrors) {
  Expect("mg\r\n", "ERROR\r\n");
  Expect("mg k1 !\r\n", "CLIENT_ERROR invalid flag\r\n");
  Expect("mg k1 v v\r\n", "CLIENT_ERROR duplicate flag\r\n");
  Expect("mz k\r\n", "ERROR\r\n");
  Expect("mg " + std::string(255, 'k') + "\r\n", "CLIENT_ERROR bad command line format\r\n");
  Expect("mg k1 Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
         "CLIENT_ERROR opaque token too long\r\n");
}

// ---------------------------------------------------------------------------------------------
// ms

TEST_F(MetaTest, EveryMsMode) {
  // S (default) sets whether or not the key exists.
  EXPECT_EQ(Run("ms k 1 MS\r\na\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ms k 1\r\nb\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1\r\nb\r\n");
  // E adds only a missing key.
  EXPECT_EQ(Run("ms k 1 ME\r\nc\r\n"), "NS\r\n");
  EXPECT_EQ(Run("ms e 1 ME\r\nc\r\n"), "HD\r\n");
  // A and P need the key, and keep its flags and TTL.
  EXPECT_EQ(Run("ms a 2 F9 T50\r\nmm\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ms a 1 MA F1 T5\r\n>\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ms a 1 MP\r\n<\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg a v f t\r\n"), "VA 4 f9 t50\r\n<mm>\r\n");
  EXPECT_EQ(Run("ms none 1 MA\r\nx\r\n"), "NS\r\n");
  EXPECT_EQ(Run("ms none 1 MP\r\nx\r\n"), "NS\r\n");
  // R replaces only a present key.
  EXPECT_EQ(Run("ms none 1 MR\r\nx\r\n"), "NS\r\n");
  EXPECT_EQ(Run("ms k 1 MR\r\nr\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1\r\nr\r\n");
  EXPECT_EQ(Run("mg none\r\n"), "EN\r\n");
  EXPECT_EQ(stats_.cmd_set.Get(), 11u);
}

TEST_F(MetaTest, MsCompareAndSetInEveryMode) {
  std::string r = Run("ms k 1 c\r\na\r\n");
  const long long cas = FlagValue(r, 'c');
  ASSERT_GT(cas, 0);
  const std::string c = std::to_string(cas);
  // Set and replace become cas.
  EXPECT_EQ(Run("ms k 1 C" + std::to_string(cas + 1) + "\r\nb\r\n"), "EX\r\n");
  EXPECT_EQ(Run("ms k 1 MR C" + std::to_string(cas + 1) + "\r\nb\r\n"), "EX\r\n");
  EXPECT_EQ(Run("ms missing 1 C" + c + " c\r\nb\r\n"), "NF c0\r\n");
  EXPECT_EQ(Run("ms missing 1 MR C" + c + "\r\nb\r\n"), "NF\r\n");
  // C0 compares against "no CAS", which never matches a present item.
  EXPECT_EQ(Run("ms k 1 C0\r\nb\r\n"), "EX\r\n");
  // Append and prepend compare a non-zero CAS; a missing key is NS.
  EXPECT_EQ(Run("ms k 1 MA C" + std::to_string(cas + 1) + "\r\nb\r\n"), "EX\r\n");
  EXPECT_EQ(Run("ms k 1 MA C0\r\n+\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ms missing 1 MP C5\r\nb\r\n"), "NS\r\n");
  r = Run("mg k c v\r\n");
  EXPECT_NE(FlagValue(r, 'c'), cas);  // the append changed it
  const std::string c2 = std::to_string(FlagValue(r, 'c'));
  EXPECT_EQ(Run("ms k 1 MP C" + c2 + "\r\n-\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 3\r\n-a+\r\n");
  // Add ignores the CAS.
  EXPECT_EQ(Run("ms new 1 ME C12345\r\nn\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ms new 1 ME C12345\r\nn\r\n"), "NS\r\n");
  // A matching CAS stores, and `c` returns the new one.
  r = Run("mg k c\r\n");
  r = Run("ms k 1 c C" + std::to_string(FlagValue(r, 'c')) + "\r\nz\r\n");
  EXPECT_TRUE(Matches(r, "HD c<cas>\r\n")) << r;
  EXPECT_EQ(stats_.cas_hits.Get(), 1u);
  EXPECT_EQ(stats_.cas_badval.Get(), 3u);
  EXPECT_EQ(stats_.cas_misses.Get(), 2u);
}

TEST_F(MetaTest, MsWithALowerCasAndIStoresAStaleValue) {
  const long long old_cas = FlagValue(Run("ms k 1 c T100\r\na\r\n"), 'c');
  const long long new_cas = FlagValue(Run("ms k 1 c T100\r\nb\r\n"), 'c');
  ASSERT_LT(old_cas, new_cas);
  // Without I a stale CAS is refused.
  EXPECT_EQ(Run("ms k 1 C" + std::to_string(old_cas) + "\r\nc\r\n"), "EX\r\n");
  // With I the late writer's value goes in, marked stale, keeping the TTL (its own T is ignored).
  clock_.Advance(10);
  std::string r = Run("ms k 1 I T5 c C" + std::to_string(old_cas) + "\r\nc\r\n");
  EXPECT_TRUE(Matches(r, "HD c<cas>\r\n")) << r;
  EXPECT_GT(FlagValue(r, 'c'), new_cas);
  EXPECT_EQ(Run("mg k v t\r\n"), "VA 1 t90 X W\r\nc\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1 Z X\r\nc\r\n");
  // A stale store keeps a win already handed out.
  const long long cur = FlagValue(Run("mg k c\r\n"), 'c');
  EXPECT_EQ(Run("ms k 1 I C" + std::to_string(cur - 1) + "\r\nd\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1 Z X\r\nd\r\n");
  // A fresh set clears it all.
  EXPECT_EQ(Run("ms k 1\r\ne\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1\r\ne\r\n");
  // I without C is a plain set; I with a matching CAS a plain cas.
  EXPECT_EQ(Run("ms k 1 I\r\nf\r\n"), "HD\r\n");
  const long long now_cas = FlagValue(Run("mg k c\r\n"), 'c');
  EXPECT_EQ(Run("ms k 1 I C" + std::to_string(now_cas) + "\r\ng\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1\r\ng\r\n");
  // A higher CAS is never accepted.
  EXPECT_EQ(Run("ms k 1 I C" + std::to_string(now_cas + 1000) + "\r\nh\r\n"), "EX\r\n");
}

TEST_F(MetaTest, MsBadChunkTooLargeAndErrorsUnderQ) {
  EXPECT_EQ(Run("ms k 1 q\r\nxy\r\n"), "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
  EXPECT_EQ(stats_.cmd_set.Get(), 1u);  // counted, as memcached does once the block is read
  EXPECT_EQ(Run("ms k 1\r\nv\r\n"), "HD\r\n");
  // Too large: the error, the block swallowed, and the old value gone, whatever the mode.
  const std::string huge(1 << 20, 'x');
  EXPECT_EQ(Run("ms k " + std::to_string(huge.size()) + " MA q\r\n" + huge + "\r\nmn\r\n"),
            "SERVER_ERROR object too large for cache\r\nMN\r\n");
  EXPECT_EQ(Run("mg k\r\n"), "EN\r\n");
  EXPECT_EQ(stats_.store_too_large.Get(), 1u);
  // Errors are sent under q.
  EXPECT_EQ(Run("ms k 1 q !\r\nx\r\n"), "CLIENT_ERROR invalid flag\r\n");
}

TEST_F(MetaTest, MsNotStoredRepliesCarryCasZeroAndTheKey) {
  EXPECT_EQ(Run("ms nope 1 MR c k Oo\r\nx\r\n"), "NS c0 knope Oo\r\n");
  EXPECT_EQ(Run("ms Zm9v 1 MR b k\r\nx\r\n"), "NS kZm9v b\r\n");
}

// ---------------------------------------------------------------------------------------------
// mg

TEST_F(MetaTest, MgReportsHitBeforeAndLastAccessFromBeforeThisFetch) {
  Run("ms k 1\r\nx\r\n");
  clock_.Advance(7);
  EXPECT_EQ(Run("mg k h l\r\n"), "HD h0 l7\r\n");
  EXPECT_EQ(Run("mg k h l\r\n"), "HD h1 l0\r\n");
  clock_.Advance(3);
  // u: no bump, so the next fetch still sees the old access time.
  EXPECT_EQ(Run("mg k l u\r\n"), "HD l3\r\n");
  EXPECT_EQ(Run("mg k l\r\n"), "HD l3\r\n");
  EXPECT_EQ(Run("mg k l\r\n"), "HD l0\r\n");
  Run("ms u 1\r\nx\r\n");
  EXPECT_EQ(Run("mg u h u\r\n"), "HD h0\r\n");
  EXPECT_EQ(Run("mg u h\r\n"), "HD h0\r\n");  // the u fetch did not mark it fetched
  EXPECT_EQ(Run("mg u h\r\n"), "HD h1\r\n");
}

TEST_F(MetaTest, MgTUpdatesTheTtlAndCountsAsATouch) {
  Run("ms k 1 T100\r\nx\r\n");
  EXPECT_EQ(Run("mg k t T30\r\n"), "HD t100\r\n");  // t before T: the old TTL
  EXPECT_EQ(Run("mg k T40 t\r\n"), "HD t40\r\n");   // t after T: the new one
  EXPECT_EQ(Run("mg k t\r\n"), "HD t40\r\n");
  EXPECT_EQ(Run("mg k T0 t\r\n"), "HD t-1\r\n");
  EXPECT_EQ(stats_.cmd_touch.Get(), 3u);
  EXPECT_EQ(stats_.touch_hits.Get(), 3u);
  EXPECT_EQ(stats_.cmd_get.Get(), 1u);
  EXPECT_EQ(stats_.get_hits.Get(), 1u);
  // A miss with T counts as a get miss (memcached only learns of T on a hit).
  EXPECT_EQ(Run("mg nope T30\r\n"), "EN\r\n");
  EXPECT_EQ(stats_.get_misses.Get(), 1u);
  EXPECT_EQ(stats_.touch_misses.Get(), 0u);
  // The new TTL holds.
  Run("mg k T10\r\n");
  clock_.Advance(10);
  EXPECT_EQ(Run("mg k\r\n"), "EN\r\n");
  EXPECT_EQ(stats_.get_expired.Get(), 1u);
  // The observer hears of each touch.
  std::size_t touches = std::count_if(observer_.events.begin(), observer_.events.end(),
                                      [](const auto& e) { return e.kind == WriteEvent::Kind::kTouch; });
  EXPECT_EQ(touches, 4u);
}

TEST_F(MetaTest, MgVivifyHandsOutOneWinAndAPlaceholder) {
  EXPECT_TRUE(Matches(Run("mg v N30 s t c f\r\n"), "HD s0 t30 c<cas> f0 W\r\n"));
  EXPECT_TRUE(Matches(Run("mg v N30 s t\r\n"), "HD s0 t30 Z\r\n"));
  EXPECT_EQ(stats_.get_hits.Get(), 2u);  // a vivified item counts as a hit
  EXPECT_EQ(stats_.get_misses.Get(), 0u);
  // Whoever won fills it; then it is an ordinary item.
  EXPECT_EQ(Run("ms v 3 T60\r\nnew\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg v N30 v t\r\n"), "VA 3 t60\r\nnew\r\n");
  // The placeholder expires with N's TTL if nobody fills it.
  EXPECT_TRUE(Matches(Run("mg w N5 v\r\n"), "VA 0 W\r\n\r\n"));
  clock_.Advance(5);
  EXPECT_TRUE(Matches(Run("mg w N5 v\r\n"), "VA 0 W\r\n\r\n"));
  // The vivified placeholder is not reported as a write.
  for (const auto& e : observer_.events) EXPECT_NE(e.key, "w");
}

TEST_F(MetaTest, MgVivifyOrderDecidesTheTtl) {
  EXPECT_EQ(Run("mg a t N30\r\n"), "HD t-1 W\r\n");  // t before N: still "never"
  EXPECT_EQ(Run("mg b N30 T60 t\r\n"), "HD t60 W\r\n");
  EXPECT_EQ(Run("mg c T60 N30 t\r\n"), "HD t30 W\r\n");
  // T on a vivified item counts as a touch.
  EXPECT_EQ(stats_.cmd_touch.Get(), 2u);
}

TEST_F(MetaTest, MgRecacheWinsOnceWhenTheTtlRunsLow) {
  Run("ms k 1 T100\r\nx\r\n");
  EXPECT_EQ(Run("mg k R50 v\r\n"), "VA 1\r\nx\r\n");  // 100 s left: not yet
  clock_.Advance(51);
  EXPECT_EQ(Run("mg k R50 v\r\n"), "VA 1 W\r\nx\r\n");
  EXPECT_EQ(Run("mg k R50 v\r\n"), "VA 1 Z\r\nx\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1 Z\r\nx\r\n");  // Z whatever the flags
  // Never for an item without expiry, or when R is 0.
  Run("ms forever 1\r\nx\r\n");
  EXPECT_EQ(Run("mg forever R9999\r\n"), "HD\r\n");
  Run("ms z 1 T10\r\nx\r\n");
  EXPECT_EQ(Run("mg z R0\r\n"), "HD\r\n");
  // R compares against the TTL as T left it, when T comes first.
  EXPECT_EQ(Run("mg z T500 R100\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg z T50 R100\r\n"), "HD W\r\n");
}

TEST_F(MetaTest, MgWithBase64KeysEchoesThemEncoded) {
  EXPECT_EQ(Run("mg Zm9v b k v\r\n"), "EN kZm9v b\r\n");
  EXPECT_EQ(Run("mg Zm9v b k N0\r\n"), "HD kZm9v b W\r\n");
  EXPECT_EQ(Run("me Zm9v b\r\n").substr(0, 8), "ME Zm9v ");
  // The item remembers that its key was binary, even when fetched by the plain key.
  Run("ms YmFy 1 b\r\nx\r\n");
  EXPECT_EQ(Run("mg bar k\r\n"), "HD kYmFy b\r\n");
  Run("ms plain 1\r\nx\r\n");
  EXPECT_EQ(Run("mg cGxhaW4= b k\r\n"), "HD kplain\r\n");
}

// ---------------------------------------------------------------------------------------------
// md

TEST_F(MetaTest, MdComparesCasAndCounts) {
  const long long cas = FlagValue(Run("ms k 1 c\r\nx\r\n"), 'c');
  EXPECT_EQ(Run("md k C" + std::to_string(cas + 1) + "\r\n"), "EX\r\n");
  EXPECT_EQ(Run("md k C" + std::to_string(cas) + " q\r\n"), "");
  EXPECT_EQ(Run("md k q\r\n"), "NF\r\n");  // q hides HD only
  EXPECT_EQ(stats_.delete_hits.Get(), 1u);
  EXPECT_EQ(stats_.delete_misses.Get(), 2u);  // the mismatch and the miss
  EXPECT_EQ(Run("md Zm9v b k Oz\r\n"), "NF kZm9v b Oz\r\n");
}

TEST_F(MetaTest, MdInvalidateKeepsTheItemAndRenewsItsCas) {
  const long long cas = FlagValue(Run("ms k 1 c T100\r\nx\r\n"), 'c');
  EXPECT_EQ(Run("md k I\r\n"), "HD\r\n");
  std::string r = Run("mg k c t v\r\n");
  EXPECT_GT(FlagValue(r, 'c'), cas);
  EXPECT_TRUE(Matches(r, "VA 1 c<cas> t100 X W\r\nx\r\n")) << r;
  // Invalidating again withdraws the win, so the next reader wins anew.
  EXPECT_EQ(Run("md k I T20 q\r\n"), "");
  EXPECT_EQ(Run("mg k t\r\n"), "HD t20 X W\r\n");
  EXPECT_EQ(Run("mg k\r\n"), "HD Z X\r\n");
  // The old CAS no longer matches; an invalidation is not a delete_hit.
  EXPECT_EQ(Run("md k C" + std::to_string(cas) + "\r\n"), "EX\r\n");
  EXPECT_EQ(stats_.delete_hits.Get(), 0u);
  // The observer hears an invalidation (and the new TTL as a touch).
  std::vector<RecordingObserver::Seen> want = {
      {WriteEvent::Kind::kStore, "k", 0},
      {WriteEvent::Kind::kInvalidate, "k", 0},
      {WriteEvent::Kind::kInvalidate, "k", 0},
      {WriteEvent::Kind::kTouch, "k", 20},
  };
  EXPECT_EQ(observer_.events, want);
  // md I on a missing key is NF, and changes nothing anywhere: no event.
  EXPECT_EQ(Run("md nope I\r\n"), "NF\r\n");
  EXPECT_EQ(observer_.events, want);
}

// The meta write paths report their changes too (hooks.h): a delete miss as a tombstone, the
// old value an ms refused as too large, ma's new number, and mg's vivify not at all.
TEST_F(MetaTest, MetaWritePathsReportTheirChanges) {
  using K = WriteEvent::Kind;
  EXPECT_EQ(Run("md nope\r\n"), "NF\r\n");
  EXPECT_EQ(Run("ms n 2\r\n10\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ma n D5\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ma n T30\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg v N30 s\r\n"), "HD s0 W\r\n");  // vivified: not a change
  const std::string huge((1 << 20) + 1, 'B');
  EXPECT_EQ(Run("ms n " + std::to_string(huge.size()) + "\r\n" + huge + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  std::vector<RecordingObserver::Seen> want = {
      {K::kDelete, "nope", 0},     // the tombstone of a miss
      {K::kStore, "n", 0},
      {K::kArithmetic, "n", 0},
      {K::kArithmetic, "n", 0},
      {K::kTouch, "n", 30},
      {K::kDelete, "n", 0},        // the old value a refused ms drops
  };
  EXPECT_EQ(observer_.events, want);
}

// Every meta write's event carries the version it was applied with (hooks.h): an item's is its
// CAS, a tombstone's is new, and a TTL change keeps the item's and brings a newer stamp.
TEST_F(MetaTest, MetaWriteEventsCarryVersionsInTheStoresOrder) {
  const auto cas = static_cast<std::uint64_t>(FlagValue(Run("ms k 1 c\r\nx\r\n"), 'c'));
  EXPECT_EQ(Run("mg k T30\r\n"), "HD\r\n");
  EXPECT_EQ(Run("md k I\r\n"), "HD\r\n");
  const auto invalidated = static_cast<std::uint64_t>(FlagValue(Run("mg k c\r\n"), 'c'));
  EXPECT_EQ(Run("ms n 1\r\n1\r\n"), "HD\r\n");
  const auto counted = static_cast<std::uint64_t>(FlagValue(Run("ma n c\r\n"), 'c'));
  EXPECT_EQ(Run("md n\r\n"), "HD\r\n");
  EXPECT_EQ(Run("md n\r\n"), "NF\r\n");
  const std::vector<std::uint64_t>& v = observer_.versions;
  ASSERT_EQ(v.size(), 7u);
  EXPECT_EQ(v[0], cas);                         // ms
  EXPECT_EQ(v[1], cas);                         // mg T keeps the version...
  EXPECT_GT(observer_.stamps[1], cas);          // ...and stamps the TTL change
  EXPECT_EQ(v[2], invalidated);                 // md I: the new CAS
  EXPECT_GT(invalidated, observer_.stamps[1]);
  EXPECT_EQ(v[4], counted);                     // ma: the new number's
  EXPECT_GT(v[5], v[4]);                        // the delete's tombstone
  EXPECT_GT(v[6], v[5]);                        // and a delete miss's
}

// E (memcached 1.6.27): the token becomes the new CAS of whatever the command writes; one the
// version clock cannot take is refused before anything happens.
TEST_F(MetaTest, ETokenBecomesTheNewCasOfEveryMetaWrite) {
  EXPECT_EQ(Run("ms k 1 c E5000\r\nx\r\n"), "HD c5000\r\n");
  EXPECT_EQ(Run("mg k c\r\n"), "HD c5000\r\n");
  EXPECT_EQ(Run("ms k 1 C5000 E6000 c\r\ny\r\n"), "HD c6000\r\n");
  // The clock moved past the token: the next minted CAS is larger.
  EXPECT_EQ(Run("ms k2 1 c\r\nz\r\n"), "HD c6001\r\n");
  EXPECT_EQ(Run("md k I E7000\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k c\r\n"), "HD c7000 X W\r\n");
  EXPECT_EQ(Run("ms n 1\r\n1\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ma n E8000 c v\r\n"), "VA 1 c8000\r\n2\r\n");
  EXPECT_EQ(Run("ma fresh N0 J7 E8100 c v\r\n"), "VA 1 c8100\r\n7\r\n");
  EXPECT_EQ(Run("mg viv N30 E9000 c\r\n"), "HD c9000 W\r\n");
  // mg uses E only to vivify: on a hit it is ignored, whatever its value.
  EXPECT_EQ(Run("mg viv c E0\r\n"), "HD c9000 Z\r\n");
  // A delete's tombstone takes the token too.
  EXPECT_EQ(Run("md k E9500\r\n"), "HD\r\n");
  EXPECT_EQ(observer_.versions.back(), 9500u);
  // Out of range: 0, or beyond the skew bound (1000 ms ahead of this clock, which stands before
  // the versions' epoch, so at 1000 << 10). The data block of an ms is swallowed; nothing changed.
  const std::size_t events = observer_.events.size();
  EXPECT_EQ(Run("ms k 1 E0\r\nx\r\nmn\r\n"), "CLIENT_ERROR E token out of range\r\nMN\r\n");
  EXPECT_EQ(Run("ms k 1 q E1024001\r\nx\r\n"), "CLIENT_ERROR E token out of range\r\n");
  EXPECT_EQ(Run("md k2 E1024001\r\n"), "CLIENT_ERROR E token out of range\r\n");
  EXPECT_EQ(Run("ma n E1024001\r\n"), "CLIENT_ERROR E token out of range\r\n");
  EXPECT_EQ(Run("mg nope N30 E1024001\r\n"), "CLIENT_ERROR E token out of range\r\n");
  EXPECT_EQ(observer_.events.size(), events);
  EXPECT_EQ(Run("mg k2 v\r\n"), "VA 1\r\nz\r\n");
  EXPECT_EQ(store_.versions().refused(), 5u);
  EXPECT_EQ(Run("ms k 1 c E1024000\r\nx\r\n"), "HD c1024000\r\n");
  // Not a number: memcached's error for any bad token.
  EXPECT_EQ(Run("ms k 1 Exyz\r\nx\r\n"), "CLIENT_ERROR bad token in command line format\r\n");
}

// An E token from before a flush_all makes an item the flush already hides, as in memcached
// (its item_is_flushed compares the CAS with the flush's).
TEST_F(MetaTest, AnETokenOlderThanAFlushIsFlushedAtOnce) {
  EXPECT_EQ(Run("ms k 1 E100\r\nx\r\n"), "HD\r\n");
  engine_.FlushAll(0, false, &stats_);
  EXPECT_EQ(Run("ms k 1 E50\r\nx\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k v\r\n"), "EN\r\n");
  EXPECT_EQ(Run("ms k 1 c\r\nx\r\n").substr(0, 4), "HD c");
  EXPECT_EQ(Run("mg k v\r\n"), "VA 1\r\nx\r\n");
}

// ---------------------------------------------------------------------------------------------
// ma

TEST_F(MetaTest, MaModesDeltasAndLimits) {
  Run("ms n 2\r\n10\r\n");
  EXPECT_EQ(Run("ma n v\r\n"), "VA 2\r\n11\r\n");
  EXPECT_EQ(Run("ma n MI D9 v\r\n"), "VA 2\r\n20\r\n");
  EXPECT_EQ(Run("ma n M+ v\r\n"), "VA 2\r\n21\r\n");
  EXPECT_EQ(Run("ma n M- D20 v\r\n"), "VA 1\r\n1\r\n");
  EXPECT_EQ(Run("ma n MD D5 v\r\n"), "VA 1\r\n0\r\n");  // decr stops at 0
  EXPECT_EQ(Run("mg n v\r\n"), "VA 2\r\n0 \r\n");       // and keeps the length, padded
  EXPECT_EQ(Run("ma n D18446744073709551615 v\r\n"), "VA 20\r\n18446744073709551615\r\n");
  EXPECT_EQ(Run("ma n v\r\n"), "VA 1\r\n0\r\n");  // incr wraps
  EXPECT_EQ(Run("ma n\r\n"), "HD\r\n");
  EXPECT_EQ(stats_.incr_hits.Get(), 6u);
  EXPECT_EQ(stats_.decr_hits.Get(), 2u);
  EXPECT_EQ(Run("ma nope MD\r\n"), "NF\r\n");
  EXPECT_EQ(Run("ma nope k Oo\r\n"), "NF knope Oo\r\n");
  EXPECT_EQ(stats_.decr_misses.Get(), 1u);
  EXPECT_EQ(stats_.incr_misses.Get(), 1u);
  Run("ms empty 0\r\n\r\n");
  EXPECT_EQ(Run("ma empty q\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
}

TEST_F(MetaTest, MaComparesCas) {
  const long long cas = FlagValue(Run("ms n 1 c\r\n5\r\n"), 'c');
  EXPECT_EQ(Run("ma n C" + std::to_string(cas + 1) + " v\r\n"), "EX\r\n");
  std::string r = Run("ma n C" + std::to_string(cas) + " v c\r\n");
  EXPECT_TRUE(Matches(r, "VA 1 c<cas>\r\n6\r\n")) << r;
  EXPECT_GT(FlagValue(r, 'c'), cas);
  EXPECT_EQ(Run("ma n C0 v\r\n"), "VA 1\r\n7\r\n");  // C0 compares nothing
  EXPECT_EQ(Run("ma nope C5\r\n"), "NF\r\n");
  // An empty value is non-numeric before the CAS is looked at; other values after.
  Run("ms empty 0\r\n\r\n");
  EXPECT_EQ(Run("ma empty C1\r\n"),
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  Run("ms word 2\r\nhi\r\n");
  EXPECT_EQ(Run("ma word C1\r\n"), "EX\r\n");
}

TEST_F(MetaTest, MaCreatesOnAMissWithN) {
  EXPECT_EQ(Run("ma c N100 J42 v t\r\n"), "VA 2 t100\r\n42\r\n");
  EXPECT_EQ(Run("ma c N100 J42 v t\r\n"), "VA 2 t100\r\n43\r\n");
  EXPECT_EQ(Run("ma d N0 v\r\n"), "VA 1\r\n0\r\n");  // J defaults to 0
  EXPECT_EQ(Run("ma d N0 MD v\r\n"), "VA 1\r\n0\r\n");
  // Creating counts neither a hit nor a miss; q does not hide a created reply.
  EXPECT_EQ(stats_.incr_hits.Get(), 1u);
  EXPECT_EQ(stats_.incr_misses.Get(), 0u);
  EXPECT_EQ(Run("ma e N0 J7 q\r\n"), "HD\r\n");
  EXPECT_EQ(Run("ma e N0 J7 q\r\n"), "");
  EXPECT_EQ(Run("mg e v\r\n"), "VA 1\r\n8\r\n");
  // The created item's TTL is what N and T set last; t shows it as of its position.
  EXPECT_EQ(Run("ma f t N10 T20 v\r\n"), "VA 1 t-1\r\n0\r\n");
  EXPECT_EQ(Run("mg f t\r\n"), "HD t20\r\n");
  EXPECT_EQ(Run("ma g T20 N10 t\r\n"), "HD t10\r\n");
  // With b the created key is binary.
  EXPECT_EQ(Run("ma Zm9v b N0 k\r\n"), "HD kZm9v b\r\n");
  EXPECT_EQ(Run("mg foo k\r\n"), "HD kZm9v b\r\n");
}

TEST_F(MetaTest, MaTUpdatesTheTtl) {
  Run("ms n 1 T100\r\n1\r\n");
  EXPECT_EQ(Run("ma n t T50\r\n"), "HD t100\r\n");
  EXPECT_EQ(Run("ma n T40 t\r\n"), "HD t40\r\n");
  EXPECT_EQ(Run("mg n t v\r\n"), "VA 1 t40\r\n3\r\n");
  EXPECT_EQ(stats_.cmd_touch.Get(), 0u);  // ma's T is not a touch
  // Also when the number outgrows the value (a new item).
  Run("ms m 1 T100\r\n9\r\n");
  EXPECT_EQ(Run("ma m T30 t v\r\n"), "VA 2 t30\r\n10\r\n");
  EXPECT_EQ(Run("mg m t\r\n"), "HD t30\r\n");
}

// ---------------------------------------------------------------------------------------------
// me, mn, counters

TEST_F(MetaTest, MeShowsTheItemWithoutTouchingIt) {
  Run("ms k 3 T100 F5\r\nabc\r\n");
  clock_.Advance(4);
  // exp is printed negated (now - exptime), size is memcached's ITEM_ntotal: 48 + 8 (cas) +
  // 2 ("k" and its NUL) + 5 ("abc\r\n") + 4 (non-zero flags).
  EXPECT_TRUE(Matches(Run("me k\r\n"), "ME k exp=-96 la=4 cas=<cas> fetch=no cls=1 size=67\r\n"));
  EXPECT_TRUE(Matches(Run("me k\r\n"), "ME k exp=-96 la=4 cas=<cas> fetch=no cls=1 size=67\r\n"));
  Run("mg k\r\n");
  EXPECT_TRUE(Matches(Run("me k\r\n"), "ME k exp=-96 la=0 cas=<cas> fetch=yes cls=1 size=67\r\n"));
  EXPECT_EQ(Run("me nope\r\n"), "EN\r\n");
  EXPECT_EQ(Run("me k extra tokens b\r\n").substr(0, 5), "ME k ");
}

TEST_F(MetaTest, OnlyMeCountsCmdMeta) {
  // PROTOCOL.md: after ms/mg/md/ma/mn/me, cmd_meta is 1.
  Run("ms k 1\r\nx\r\nmg k v\r\nma n N0\r\nmd k\r\nmn\r\nme k\r\n");
  EXPECT_EQ(stats_.cmd_meta.Get(), 1u);
  EXPECT_EQ(stats_.cmd_set.Get(), 1u);
  EXPECT_EQ(stats_.cmd_get.Get(), 1u);
  EXPECT_EQ(stats_.get_hits.Get(), 1u);
  EXPECT_EQ(stats_.delete_hits.Get(), 1u);
}

TEST_F(MetaTest, ExpiredAndFlushedLookupsAreCountedByEveryMetaCommand) {
  Run("ms a 1 T1\r\nx\r\nms b 1 T1\r\nx\r\nms c 1 T1\r\nx\r\nms d 1 T1\r\nx\r\n");
  clock_.Advance(1);
  Run("mg a\r\nmd b\r\nma c\r\nme d\r\n");
  EXPECT_EQ(stats_.get_expired.Get(), 4u);
  Run("ms e 1\r\nx\r\n");
  engine_.FlushAll(0, false, &stats_);
  Run("mg e\r\n");
  EXPECT_EQ(stats_.get_flushed.Get(), 1u);
  EXPECT_EQ(stats_.get_misses.Get(), 2u);
}

class MetaNoCasTest : public MetaTest {
 protected:
  MetaNoCasTest() : MetaTest(store::Options{.use_cas = false}) {}
};

TEST_F(MetaNoCasTest, WithoutCasEveryCasReadsZero) {
  EXPECT_EQ(Run("ms k 1 c\r\nx\r\n"), "HD c0\r\n");
  EXPECT_EQ(Run("mg k c\r\n"), "HD c0\r\n");
  EXPECT_EQ(Run("ms k 1 C0\r\ny\r\n"), "EX\r\n");  // memcached: a zero CAS never matches
  EXPECT_EQ(Run("md k C1\r\n"), "EX\r\n");
  EXPECT_EQ(Run("md k I\r\n"), "HD\r\n");
  EXPECT_EQ(Run("mg k c\r\n"), "HD c0 X W\r\n");
  EXPECT_EQ(Run("md k C0\r\n"), "HD\r\n");  // the item's CAS is 0, so C0 matches
  EXPECT_EQ(Run("mg k\r\n"), "EN\r\n");
  EXPECT_TRUE(Matches(Run("ms k 1\r\nx\r\nme k\r\n"),
                      "HD\r\nME k exp=-1 la=0 cas=0 fetch=no cls=1 size=53\r\n"));
}

}  // namespace
}  // namespace rc::engine
