// t/unit/origin/single_flight_test.cc -- the flight table (src/origin/single_flight.h) with a fake
// cache and explicit times: one fetch per key whoever asks, writes that win over fills in flight,
// remembered origin misses, one completion per flight, and the breaker in front of new fetches.
#include "origin/single_flight.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rc::origin {
namespace {

using namespace std::chrono_literals;
using Kind = SingleFlight::Admission::Kind;

class FakeCache : public Cache {
 public:
  bool Contains(std::string_view key) override { return items.count(std::string(key)) > 0; }
  std::uint64_t FillVersion() override { return ++last_version; }
  bool Store(std::string_view key, const Value& value, std::uint64_t version) override {
    if (!items.emplace(std::string(key), value.bytes).second) return false;  // add semantics
    stored_versions[std::string(key)] = version;
    return true;
  }
  std::map<std::string, std::uint64_t> stored_versions;
  std::map<std::string, std::string> items;
  std::uint64_t last_version = 100;
};

class SingleFlightTest : public ::testing::Test {
 protected:
  SingleFlightTest() : SingleFlightTest(Options{}) {}
  explicit SingleFlightTest(const Options& options)
      : options_(options), table_(std::make_unique<SingleFlight>(options_, &cache_)) {}

  // A reader of `key` at `now`: the admission, with what its waiter is told kept in answers_.
  SingleFlight::Admission Read(std::string_view key, SteadyClock::duration at = 0s) {
    auto answers = answers_;
    const std::size_t reader = readers_++;
    ReadThrough::Waiter w = [answers, reader](std::shared_ptr<const Answer> a) {
      (*answers)[reader] = std::move(a);
    };
    SingleFlight::Admission a = table_->Admit(key, &w, t0_ + at);
    if (a.kind == Kind::kAnswered) w(a.answer);
    return a;
  }
  const Answer* AnswerOf(std::size_t reader) const {
    auto it = answers_->find(reader);
    return it == answers_->end() ? nullptr : it->second.get();
  }
  static Fetched ValueResult(std::string bytes) {
    Fetched f;
    f.status = Fetched::Status::kValue;
    f.value.bytes = std::move(bytes);
    return f;
  }
  static Fetched StatusResult(Fetched::Status status) {
    Fetched f;
    f.status = status;
    f.error = "boom";
    return f;
  }

  Options options_;
  FakeCache cache_;
  std::unique_ptr<SingleFlight> table_;
  const SteadyClock::time_point t0_ = SteadyClock::time_point{} + 1h;
  std::size_t readers_ = 0;
  std::shared_ptr<std::map<std::size_t, std::shared_ptr<const Answer>>> answers_ =
      std::make_shared<std::map<std::size_t, std::shared_ptr<const Answer>>>();
};

TEST_F(SingleFlightTest, MissesOfOneKeyShareOneFetch) {
  SingleFlight::Admission first = Read("k");
  ASSERT_EQ(first.kind, Kind::kStart);
  for (int i = 0; i < 99; ++i) EXPECT_EQ(Read("k").kind, Kind::kJoined);
  EXPECT_EQ(Read("other").kind, Kind::kStart);  // another key: its own fetch
  EXPECT_EQ(AnswerOf(0), nullptr);               // nobody answered before the origin is
  ASSERT_TRUE(table_->Complete(first.flight, ValueResult("v"), t0_ + 5ms));
  for (std::size_t r = 0; r < 100; ++r) {
    const Answer* a = AnswerOf(r);
    ASSERT_NE(a, nullptr) << r;
    EXPECT_EQ(a->kind, Answer::Kind::kValue);
    EXPECT_EQ(a->value.bytes, "v");
    EXPECT_TRUE(a->stored);
    EXPECT_EQ(a->version, 101u);
  }
  EXPECT_EQ(cache_.items["k"], "v");
  const Stats st = table_->GetStats();
  EXPECT_EQ(st.fetches, 2u);
  EXPECT_EQ(st.coalesced, 99u);
  EXPECT_EQ(st.stored, 1u);
  EXPECT_EQ(st.in_flight, 1u);
  EXPECT_EQ(st.latency_max_us, 5000u);
}

TEST_F(SingleFlightTest, AFillCarriesTheVersionTakenAsItsFetchStarted) {
  // A write that comes while a fetch is in flight must be newer than the fill on every holder,
  // so the fill's version is taken at the start, not when the answer lands.
  SingleFlight::Admission first = Read("k");
  SingleFlight::Admission second = Read("later");
  ASSERT_TRUE(table_->Complete(second.flight, ValueResult("b"), t0_ + 1ms));
  cache_.FillVersion();  // a write meanwhile takes 103
  ASSERT_TRUE(table_->Complete(first.flight, ValueResult("a"), t0_ + 2ms));
  EXPECT_EQ(cache_.stored_versions["k"], 101u);
  EXPECT_EQ(cache_.stored_versions["later"], 102u);
  EXPECT_EQ(AnswerOf(0)->version, 101u);
}

TEST_F(SingleFlightTest, AReaderThatMissedJustBeforeAFillLandedIsSentBackToTheCache) {
  SingleFlight::Admission first = Read("k");
  ASSERT_TRUE(table_->Complete(first.flight, ValueResult("v"), t0_));
  // This reader looked the key up before the fill was stored, and asks only now.
  EXPECT_EQ(Read("k").kind, Kind::kAnswered);
  EXPECT_EQ(AnswerOf(1)->kind, Answer::Kind::kCached);
  EXPECT_EQ(table_->GetStats().fetches, 1u);
}

TEST_F(SingleFlightTest, AWriteDuringTheFetchWins) {
  SingleFlight::Admission first = Read("k");
  ASSERT_EQ(Read("k").kind, Kind::kJoined);
  { base::MovableLock fence = table_->FenceWrite("k"); }  // a delete came in
  ASSERT_TRUE(table_->Complete(first.flight, ValueResult("old"), t0_));
  for (std::size_t r = 0; r < 2; ++r) {
    EXPECT_EQ(AnswerOf(r)->kind, Answer::Kind::kValue);  // the readers still get the value
    EXPECT_EQ(AnswerOf(r)->value.bytes, "old");
    EXPECT_FALSE(AnswerOf(r)->stored);
  }
  EXPECT_TRUE(cache_.items.empty());
  EXPECT_EQ(table_->GetStats().stale, 1u);
}

TEST_F(SingleFlightTest, AReaderAfterAWriteStartsAFreshFetch) {
  SingleFlight::Admission old_fetch = Read("k");
  { base::MovableLock fence = table_->FenceWrite("k"); }
  SingleFlight::Admission new_fetch = Read("k");
  ASSERT_EQ(new_fetch.kind, Kind::kStart);  // not joined to a fetch that may predate the write
  ASSERT_TRUE(table_->Complete(new_fetch.flight, ValueResult("new"), t0_));
  ASSERT_TRUE(table_->Complete(old_fetch.flight, ValueResult("old"), t0_));
  EXPECT_EQ(cache_.items["k"], "new");
  EXPECT_EQ(AnswerOf(0)->value.bytes, "old");
  EXPECT_FALSE(AnswerOf(0)->stored);
  EXPECT_EQ(AnswerOf(1)->value.bytes, "new");
  EXPECT_TRUE(AnswerOf(1)->stored);
}

TEST_F(SingleFlightTest, AFillNeverReplacesAnItemLinkedMeanwhile) {
  SingleFlight::Admission first = Read("k");
  cache_.items["k"] = "placeholder";  // e.g. mg N's placeholder: not a fenced write
  ASSERT_TRUE(table_->Complete(first.flight, ValueResult("v"), t0_));
  EXPECT_EQ(cache_.items["k"], "placeholder");
  EXPECT_FALSE(AnswerOf(0)->stored);
  EXPECT_EQ(AnswerOf(0)->value.bytes, "v");
}

TEST_F(SingleFlightTest, AnOriginMissIsRememberedForTheNegativeTtl) {
  SingleFlight::Admission first = Read("gone");
  ASSERT_TRUE(table_->Complete(first.flight, StatusResult(Fetched::Status::kMiss), t0_));
  EXPECT_EQ(AnswerOf(0)->kind, Answer::Kind::kMiss);
  EXPECT_EQ(Read("gone", 2999ms).kind, Kind::kAnswered);  // negative_ttl 3 s (the default)
  EXPECT_EQ(AnswerOf(1)->kind, Answer::Kind::kMiss);
  EXPECT_EQ(Read("gone", 3s).kind, Kind::kStart);
  const Stats st = table_->GetStats();
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.negative_hits, 1u);
  EXPECT_EQ(st.fetches, 2u);
  EXPECT_TRUE(cache_.items.empty());  // never an item
}

TEST_F(SingleFlightTest, AWriteForgetsARememberedMiss) {
  SingleFlight::Admission first = Read("gone");
  ASSERT_TRUE(table_->Complete(first.flight, StatusResult(Fetched::Status::kMiss), t0_));
  { base::MovableLock fence = table_->FenceWrite("gone"); }
  EXPECT_EQ(Read("gone", 1s).kind, Kind::kStart);
}

TEST_F(SingleFlightTest, FlushMakesEveryFetchStaleAndForgetsMisses) {
  SingleFlight::Admission a = Read("a");
  SingleFlight::Admission m = Read("m");
  ASSERT_TRUE(table_->Complete(m.flight, StatusResult(Fetched::Status::kMiss), t0_));
  SingleFlight::Admission b = Read("b");
  table_->FenceFlush();
  ASSERT_TRUE(table_->Complete(a.flight, ValueResult("1"), t0_));
  ASSERT_TRUE(table_->Complete(b.flight, ValueResult("2"), t0_));
  EXPECT_TRUE(cache_.items.empty());
  EXPECT_EQ(Read("m", 1s).kind, Kind::kStart);
}

TEST_F(SingleFlightTest, OnlyTheFirstCompletionCounts) {
  SingleFlight::Admission first = Read("slow");
  ASSERT_TRUE(table_->Complete(first.flight, StatusResult(Fetched::Status::kTimeout), t0_ + 1s));
  EXPECT_EQ(AnswerOf(0)->kind, Answer::Kind::kFailed);
  // The origin answers after all: too late for anyone, and not stored.
  EXPECT_FALSE(table_->Complete(first.flight, ValueResult("late"), t0_ + 2s));
  EXPECT_TRUE(cache_.items.empty());
  const Stats st = table_->GetStats();
  EXPECT_EQ(st.timeouts, 1u);
  EXPECT_EQ(st.late, 1u);
  EXPECT_EQ(st.hits, 0u);
  EXPECT_EQ(st.in_flight, 0u);
}

class BreakerInFrontTest : public SingleFlightTest {
 protected:
  static Options Tight() {
    Options o;
    o.breaker_failures = 2;
    o.breaker_open_ms = 1000;
    return o;
  }
  BreakerInFrontTest() : SingleFlightTest(Tight()) {}
};

TEST_F(BreakerInFrontTest, FailuresOpenItAndASuccessfulProbeClosesIt) {
  for (int i = 0; i < 2; ++i) {
    SingleFlight::Admission a = Read("k" + std::to_string(i));
    ASSERT_EQ(a.kind, Kind::kStart);
    table_->Complete(a.flight, StatusResult(Fetched::Status::kError), t0_);
  }
  EXPECT_STREQ(table_->GetStats().breaker_state, "open");
  // Open: an answer at once, no fetch.
  EXPECT_EQ(Read("x", 500ms).kind, Kind::kAnswered);
  EXPECT_EQ(AnswerOf(2)->kind, Answer::Kind::kFailed);
  // Remembered misses and joins still work while it is open; only new fetches are refused.
  SingleFlight::Admission probe = Read("y", 1s);
  ASSERT_EQ(probe.kind, Kind::kStart);
  EXPECT_EQ(Read("y", 1s).kind, Kind::kJoined);
  EXPECT_EQ(Read("z", 1s).kind, Kind::kAnswered);  // half-open: one probe at a time
  EXPECT_STREQ(table_->GetStats().breaker_state, "half-open");
  ASSERT_TRUE(table_->Complete(probe.flight, ValueResult("ok"), t0_ + 1100ms));
  EXPECT_STREQ(table_->GetStats().breaker_state, "closed");
  EXPECT_EQ(Read("z", 1200ms).kind, Kind::kStart);
  const Stats st = table_->GetStats();
  EXPECT_EQ(st.breaker_opened, 1u);
  EXPECT_EQ(st.breaker_rejected, 2u);
}

TEST(SingleFlightLimitsTest, RememberedMissesAreBounded) {
  Options o;
  o.max_negative = 64;  // one per stripe
  FakeCache cache;
  SingleFlight table(o, &cache);
  const auto t = SteadyClock::time_point{} + 1h;
  int remembered = 0;
  for (int i = 0; i < 1000; ++i) {
    ReadThrough::Waiter w = [](std::shared_ptr<const Answer>) {};
    SingleFlight::Admission a = table.Admit("m" + std::to_string(i), &w, t);
    ASSERT_EQ(a.kind, Kind::kStart);
    Fetched miss;
    miss.status = Fetched::Status::kMiss;
    table.Complete(a.flight, miss, t);
  }
  for (int i = 0; i < 1000; ++i) {
    ReadThrough::Waiter w = [](std::shared_ptr<const Answer>) {};
    SingleFlight::Admission a = table.Admit("m" + std::to_string(i), &w, t + 1s);
    remembered += a.kind == Kind::kAnswered;
  }
  EXPECT_GT(remembered, 0);
  EXPECT_LE(remembered, 64 + 64);  // at most (max / stripes + 1) per stripe
}

}  // namespace
}  // namespace rc::origin
