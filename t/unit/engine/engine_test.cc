// t/unit/engine/engine_test.cc -- command semantics over a real Store with a FakeClock: which
// counters each command bumps (matching memcached 1.6.18's reference transcript), and which
// writes the WriteObserver hears about.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "ringcached/engine/engine.h"

namespace rc::engine {
namespace {

using store::Outcome;

class RecordingObserver : public WriteObserver {
 public:
  void OnWrite(const WriteEvent& event) override {
    Seen seen{event.kind, std::string(event.key), event.hit, false, 0};
    seen.version = event.version;
    seen.ttl_stamp = event.ttl_stamp;
    if (event.item != nullptr && *event.item) {
      seen.with_item = true;
      seen.value = std::string(event.item->value());
      seen.exptime = event.item->exptime();
      seen.item_version = event.item->version();
    }
    events.push_back(std::move(seen));
  }
  struct Seen {
    WriteEvent::Kind kind;
    std::string key;
    bool hit;
    bool with_item;
    base::RelTime exptime;
    std::string value;
    std::uint64_t version = 0;
    std::uint64_t ttl_stamp = 0;
    std::uint64_t item_version = 0;
  };
  std::vector<Seen> events;
};

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : store_(store::Options{}, &clock_), engine_(&store_, &clock_) {
    engine_.add_write_observer(&observer_);
  }

  Outcome Store(proto::Command command, std::string_view key, std::string_view value,
                std::int64_t exptime = 0, std::uint64_t cas = 0) {
    proto::Request req;
    req.command = command;
    req.key = key;
    req.exptime = exptime;
    req.value_len = static_cast<std::uint32_t>(value.size());
    req.cas_unique = cas;
    store::Allocation alloc = engine_.BeginStore(req, &stats_);
    if (!alloc.item) return alloc.outcome;
    std::memcpy(alloc.item.writable_value(), value.data(), value.size());
    return engine_.CompleteStore(req, &alloc.item, &stats_);
  }

  rc::testing::FakeClock clock_;
  store::Store store_;
  Engine engine_;
  RecordingObserver observer_;
  CommandStats stats_;
};

TEST_F(EngineTest, GetCountsHitsMissesAndExpiredMisses) {
  ASSERT_EQ(Store(proto::Command::kSet, "a", "1"), Outcome::kStored);
  ASSERT_EQ(Store(proto::Command::kSet, "gone", "1", -1), Outcome::kStored);
  EXPECT_TRUE(engine_.Get("a", &stats_));
  EXPECT_FALSE(engine_.Get("nope", &stats_));
  EXPECT_FALSE(engine_.Get("gone", &stats_));
  EXPECT_EQ(stats_.cmd_get.Get(), 3u);
  EXPECT_EQ(stats_.get_hits.Get(), 1u);
  EXPECT_EQ(stats_.get_misses.Get(), 2u);
  EXPECT_EQ(stats_.get_expired.Get(), 1u);
}

TEST_F(EngineTest, FlushedItemsCountAsFlushedMisses) {
  ASSERT_EQ(Store(proto::Command::kSet, "a", "1"), Outcome::kStored);
  engine_.FlushAll(0, false, &stats_);
  EXPECT_FALSE(engine_.Get("a", &stats_));
  EXPECT_EQ(stats_.get_flushed.Get(), 1u);
  EXPECT_EQ(stats_.cmd_flush.Get(), 1u);
}

TEST_F(EngineTest, GatCountsAsTouchNotGet) {
  ASSERT_EQ(Store(proto::Command::kSet, "a", "1"), Outcome::kStored);
  EXPECT_TRUE(engine_.GetAndTouch("a", 100, &stats_));
  EXPECT_FALSE(engine_.GetAndTouch("b", 100, &stats_));
  EXPECT_EQ(stats_.cmd_touch.Get(), 2u);
  EXPECT_EQ(stats_.touch_hits.Get(), 1u);
  EXPECT_EQ(stats_.touch_misses.Get(), 1u);
  EXPECT_EQ(stats_.cmd_get.Get(), 0u);
  EXPECT_EQ(stats_.get_hits.Get(), 0u);
  // The new TTL applies: 100 s later the item is gone.
  clock_.Advance(100);
  EXPECT_FALSE(engine_.Get("a", &stats_));
}

TEST_F(EngineTest, CasCountsHitsBadvalAndMisses) {
  EXPECT_EQ(Store(proto::Command::kCas, "c", "x", 0, 1), Outcome::kNotFound);
  ASSERT_EQ(Store(proto::Command::kSet, "c", "x"), Outcome::kStored);
  store::ItemRef item = engine_.Get("c", &stats_);
  std::uint64_t cas = item.cas();
  EXPECT_EQ(Store(proto::Command::kCas, "c", "y", 0, cas + 1000), Outcome::kExists);
  EXPECT_EQ(Store(proto::Command::kCas, "c", "y", 0, cas), Outcome::kStored);
  EXPECT_EQ(stats_.cas_misses.Get(), 1u);
  EXPECT_EQ(stats_.cas_badval.Get(), 1u);
  EXPECT_EQ(stats_.cas_hits.Get(), 1u);
  EXPECT_EQ(stats_.cmd_set.Get(), 4u);
}

TEST_F(EngineTest, NonNumericIncrIsNeitherHitNorMiss) {
  ASSERT_EQ(Store(proto::Command::kSet, "n", "10"), Outcome::kStored);
  ASSERT_EQ(Store(proto::Command::kSet, "s", "hi"), Outcome::kStored);
  EXPECT_EQ(engine_.Arithmetic("n", true, 5, &stats_).value, 15u);
  EXPECT_EQ(engine_.Arithmetic("s", true, 1, &stats_).outcome, Outcome::kNonNumeric);
  EXPECT_EQ(engine_.Arithmetic("missing", false, 1, &stats_).outcome, Outcome::kNotFound);
  EXPECT_EQ(stats_.incr_hits.Get(), 1u);
  EXPECT_EQ(stats_.incr_misses.Get(), 0u);
  EXPECT_EQ(stats_.decr_misses.Get(), 1u);
}

TEST_F(EngineTest, TooLargeRemovesTheOldValue) {
  ASSERT_EQ(Store(proto::Command::kSet, "big", "small"), Outcome::kStored);
  std::string huge((1 << 20) + 1, 'B');
  EXPECT_EQ(Store(proto::Command::kSet, "big", huge), Outcome::kTooLarge);
  EXPECT_FALSE(engine_.Get("big", &stats_));
  EXPECT_EQ(stats_.store_too_large.Get(), 1u);
}

TEST_F(EngineTest, ObserverHearsChangesAndDeleteMissesButNotRefusedWrites) {
  ASSERT_EQ(Store(proto::Command::kSet, "k", "v"), Outcome::kStored);
  EXPECT_EQ(Store(proto::Command::kAdd, "k", "w"), Outcome::kNotStored);
  EXPECT_EQ(Store(proto::Command::kReplace, "missing", "w"), Outcome::kNotStored);
  EXPECT_EQ(Store(proto::Command::kCas, "k", "w", 0, 12345), Outcome::kExists);
  EXPECT_EQ(engine_.Delete("k", &stats_, /*compare_cas=*/12345), Outcome::kExists);
  EXPECT_EQ(engine_.Delete("missing", &stats_), Outcome::kNotFound);
  EXPECT_EQ(engine_.Delete("k", &stats_), Outcome::kDeleted);
  ASSERT_EQ(observer_.events.size(), 3u);
  EXPECT_EQ(observer_.events[0].kind, WriteEvent::Kind::kStore);
  EXPECT_EQ(observer_.events[0].key, "k");
  // A delete miss is a tombstone: a copy elsewhere must go too.
  EXPECT_EQ(observer_.events[1].kind, WriteEvent::Kind::kDelete);
  EXPECT_EQ(observer_.events[1].key, "missing");
  EXPECT_FALSE(observer_.events[1].hit);
  EXPECT_EQ(observer_.events[2].kind, WriteEvent::Kind::kDelete);
  EXPECT_TRUE(observer_.events[2].hit);
  EXPECT_EQ(stats_.delete_hits.Get(), 1u);
  EXPECT_EQ(stats_.delete_misses.Get(), 1u);
}

// Every text and binary write path (they share these engine calls) reports its change, with the
// resulting item where there is one: a path that forgets to report fails here.
TEST_F(EngineTest, EveryWritePathReportsItsChangeWithTheResultingItem) {
  using K = WriteEvent::Kind;
  struct Case {
    const char* what;
    std::function<void()> write;
    K kind;
    const char* value;  // the resulting item's value; null: no item
  };
  ASSERT_EQ(Store(proto::Command::kSet, "n", "10"), Outcome::kStored);
  ASSERT_EQ(Store(proto::Command::kSet, "t", "x"), Outcome::kStored);
  const std::string huge((1 << 20) + 1, 'B');
  const Case cases[] = {
      {"set", [&] { Store(proto::Command::kSet, "a", "1"); }, K::kStore, "1"},
      {"add", [&] { Store(proto::Command::kAdd, "b", "2"); }, K::kStore, "2"},
      {"replace", [&] { Store(proto::Command::kReplace, "a", "3"); }, K::kStore, "3"},
      {"append", [&] { Store(proto::Command::kAppend, "a", "4"); }, K::kStore, "34"},
      {"prepend", [&] { Store(proto::Command::kPrepend, "a", "5"); }, K::kStore, "534"},
      {"cas", [&] {
         const std::uint64_t cas = engine_.Get("a", &stats_).cas();
         Store(proto::Command::kCas, "a", "6", 0, cas);
       }, K::kStore, "6"},
      {"incr", [&] { engine_.Arithmetic("n", true, 5, &stats_); }, K::kArithmetic, "15"},
      {"decr", [&] { engine_.Arithmetic("n", false, 1, &stats_); }, K::kArithmetic, "14"},
      {"touch", [&] { engine_.Touch("t", 100, &stats_); }, K::kTouch, "x"},
      {"gat", [&] { engine_.GetAndTouch("t", 200, &stats_); }, K::kTouch, "x"},
      {"delete hit", [&] { engine_.Delete("b", &stats_); }, K::kDelete, nullptr},
      {"delete miss", [&] { engine_.Delete("b", &stats_); }, K::kDelete, nullptr},
      {"set too large drops the old value", [&] { Store(proto::Command::kSet, "a", huge); },
       K::kDelete, nullptr},
      {"flush_all", [&] { engine_.FlushAll(0, false, &stats_); }, K::kFlush, nullptr},
  };
  // Each write is stamped with a version (hooks.h) newer than every write before it: the item's
  // version, or a tombstone's, or for a touch a TTL stamp newer than the kept version.
  std::uint64_t latest = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    observer_.events.clear();
    c.write();
    ASSERT_EQ(observer_.events.size(), 1u);
    const RecordingObserver::Seen& e = observer_.events[0];
    EXPECT_EQ(e.kind, c.kind);
    EXPECT_EQ(e.with_item, c.value != nullptr);
    if (c.value != nullptr) {
      EXPECT_EQ(e.value, c.value);
      EXPECT_EQ(e.version, e.item_version);
    }
    const std::uint64_t stamp = c.kind == K::kTouch ? e.ttl_stamp : e.version;
    if (c.kind == K::kTouch) {
      EXPECT_GT(e.ttl_stamp, e.version);
    }
    EXPECT_GT(stamp, latest);
    latest = stamp;
  }
}

TEST_F(EngineTest, EveryObserverHearsEveryChangeInOrder) {
  RecordingObserver second;
  engine_.add_write_observer(&second);
  ASSERT_EQ(Store(proto::Command::kSet, "k", "v"), Outcome::kStored);
  EXPECT_EQ(engine_.Delete("k", &stats_), Outcome::kDeleted);
  ASSERT_EQ(second.events.size(), 2u);
  ASSERT_EQ(observer_.events.size(), 2u);
  EXPECT_EQ(second.events[1].kind, WriteEvent::Kind::kDelete);
}

TEST_F(EngineTest, DelayedFlushHidesItemsOnlyOnceItsTimeComes) {
  ASSERT_EQ(Store(proto::Command::kSet, "k", "v"), Outcome::kStored);
  engine_.FlushAll(10, true, &stats_);
  EXPECT_TRUE(engine_.Get("k", &stats_));
  clock_.Advance(11);
  EXPECT_FALSE(engine_.Get("k", &stats_));
}

}  // namespace
}  // namespace rc::engine
