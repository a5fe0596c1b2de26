// t/unit/store/meta_store_test.cc -- the store's support for memcached's meta commands: the
// stale / win-token state, MetaGet's steps, invalidation, compare-and-delete, stale-tolerant cas,
// ma's options, and the binary-key bit; and that concurrent clients get exactly one win.
//
// The protocol-level behaviour is tested in t/unit/engine/meta_test.cc; here are the store
// contracts it relies on (store.h), with threads where the contract is about races.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fakes/fake_clock.h"
#include "ringcached/store/store.h"

namespace rc::store {
namespace {

using rc::testing::FakeClock;

class MetaStoreTest : public ::testing::Test {
 protected:
  MetaStoreTest() : store_(std::make_unique<Store>(Options{}, &clock_)) {}

  Outcome Set(std::string_view key, std::string_view value, base::RelTime exptime = 0,
              bool key_binary = false) {
    Allocation a = store_->Allocate(key, 0, exptime, static_cast<std::uint32_t>(value.size()));
    if (!a.item) return a.outcome;
    std::memcpy(a.item.writable_value(), value.data(), value.size());
    a.item.set_key_binary(key_binary);
    return store_->Put(&a.item, Mode::kSet);
  }

  MetaLookup Mg(std::string_view key, std::initializer_list<MetaStep> steps = {},
                MetaGetOptions options = {}) {
    for (MetaStep s : steps) options.steps[options.nsteps++] = s;
    return store_->MetaGet(key, options);
  }

  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(MetaStoreTest, MetaGetReportsStateFromBeforeItsOwnBump) {
  ASSERT_EQ(Set("k", "v"), Outcome::kStored);
  clock_.Advance(5);
  MetaLookup r = Mg("k");
  ASSERT_TRUE(r.item);
  EXPECT_FALSE(r.fetched);
  EXPECT_EQ(r.last_access, 1000u);
  EXPECT_FALSE(r.won || r.stale || r.win_token_was_sent || r.created || r.touched);
  r = Mg("k");
  EXPECT_TRUE(r.fetched);
  EXPECT_EQ(r.last_access, 1005u);
  EXPECT_TRUE(r.item.fetched());
  // Without bump nothing is recorded.
  ASSERT_EQ(Set("u", "v"), Outcome::kStored);
  MetaGetOptions no_bump;
  no_bump.bump = false;
  clock_.Advance(1);
  EXPECT_FALSE(Mg("u", {}, no_bump).fetched);
  EXPECT_FALSE(Mg("u").fetched);
  EXPECT_EQ(Mg("u").last_access, 1006u);
}

TEST_F(MetaStoreTest, StepsApplyInOrder) {
  ASSERT_EQ(Set("k", "v", 1100), Outcome::kStored);
  MetaGetOptions o;
  o.touch_exptime = 1200;
  MetaLookup r = Mg("k", {MetaStep::kReadExpiry, MetaStep::kTouch}, o);
  EXPECT_EQ(r.exptime, 1100u);
  EXPECT_TRUE(r.touched);
  EXPECT_EQ(r.item.exptime(), 1200u);
  o.touch_exptime = 1300;
  r = Mg("k", {MetaStep::kTouch, MetaStep::kReadExpiry}, o);
  EXPECT_EQ(r.exptime, 1300u);
  // Without a read step, exptime is the final one.
  EXPECT_EQ(Mg("k").exptime, 1300u);
  // Recache compares against the expiry as the steps before it left it.
  o.recache_before = 1250;
  o.touch_exptime = 1400;
  EXPECT_FALSE(Mg("k", {MetaStep::kTouch, MetaStep::kRecache}, o).won);
  o.touch_exptime = 1200;
  EXPECT_TRUE(Mg("k", {MetaStep::kTouch, MetaStep::kRecache}, o).won);
  EXPECT_TRUE(Mg("k").win_token_was_sent);
}

TEST_F(MetaStoreTest, VivifyLinksAnEmptyWinningPlaceholder) {
  MetaGetOptions o;
  o.vivify = true;
  o.vivify_exptime = 1030;
  o.vivify_key_binary = true;
  MetaLookup r = Mg("new", {MetaStep::kVivify, MetaStep::kReadExpiry}, o);
  ASSERT_TRUE(r.item);
  EXPECT_TRUE(r.created);
  EXPECT_TRUE(r.won);
  EXPECT_EQ(r.exptime, 1030u);
  EXPECT_EQ(r.item.value(), "");
  EXPECT_TRUE(r.item.key_binary());
  EXPECT_NE(r.item.cas(), 0u);
  EXPECT_EQ(r.reason, MissReason::kAbsent);
  r = Mg("new", {MetaStep::kVivify}, o);
  EXPECT_FALSE(r.created);
  EXPECT_FALSE(r.won);
  EXPECT_TRUE(r.win_token_was_sent);
  // Without vivify a miss stays a miss.
  EXPECT_FALSE(Mg("other").item);
}

TEST_F(MetaStoreTest, InvalidationMarksStaleRenewsCasAndWithdrawsTheWin) {
  ASSERT_EQ(Set("k", "v", 1100), Outcome::kStored);
  Lookup before = store_->Get("k", GetOptions{.bump = false});
  const std::uint64_t cas = before.item.cas();
  DeleteResult d = store_->Delete("k", DeleteOptions{.invalidate = true, .set_exptime = true,
                                                      .exptime = 1050});
  EXPECT_EQ(d.outcome, Outcome::kDeleted);
  EXPECT_TRUE(d.invalidated);
  // The new state is a new item (a new CAS is a new item); a reference held across the
  // invalidation keeps reading the old one, as a reply already being sent should.
  EXPECT_FALSE(before.item.stale());
  EXPECT_EQ(before.item.cas(), cas);
  Lookup after = store_->Get("k", GetOptions{.bump = false});
  EXPECT_TRUE(after.item.stale());
  EXPECT_GT(after.item.cas(), cas);
  EXPECT_EQ(after.item.exptime(), 1050u);
  MetaLookup r = Mg("k");
  EXPECT_TRUE(r.stale);
  EXPECT_TRUE(r.won);
  r = Mg("k");
  EXPECT_TRUE(r.win_token_was_sent);
  EXPECT_FALSE(r.won);
  store_->Delete("k", DeleteOptions{.invalidate = true});
  EXPECT_TRUE(Mg("k").won);
  // Compare-and-delete.
  EXPECT_EQ(store_->Delete("k", DeleteOptions{.compare_cas = true, .cas = cas}).outcome,
            Outcome::kExists);
  const std::uint64_t now_cas = store_->Get("k").item.cas();
  d = store_->Delete("k", DeleteOptions{.compare_cas = true, .cas = now_cas});
  EXPECT_EQ(d.outcome, Outcome::kDeleted);
  EXPECT_FALSE(d.invalidated);
  EXPECT_FALSE(store_->Get("k").item);
  EXPECT_EQ(store_->Delete("k", DeleteOptions{}).outcome, Outcome::kNotFound);
}

TEST_F(MetaStoreTest, StaleTolerantCasKeepsExpiryAndWin) {
  ASSERT_EQ(Set("k", "a", 1100), Outcome::kStored);
  const std::uint64_t old_cas = store_->Get("k").item.cas();
  ASSERT_EQ(Set("k", "b", 1100), Outcome::kStored);
  EXPECT_TRUE(Mg("k", {}, MetaGetOptions{}).item);
  store_->Delete("k", DeleteOptions{.invalidate = true});
  EXPECT_TRUE(Mg("k").won);  // a win is out

  Allocation a = store_->Allocate("k", 0, 9999, 1);
  std::memcpy(a.item.writable_value(), "c", 1);
  EXPECT_EQ(store_->Put(&a.item, Mode::kCas, old_cas), Outcome::kExists);
  EXPECT_EQ(store_->Put(&a.item, Mode::kCas, old_cas, PutOptions{.allow_stale = true}),
            Outcome::kStored);
  EXPECT_EQ(a.item.exptime(), 1100u);
  EXPECT_TRUE(a.item.stale());
  EXPECT_TRUE(a.item.win_token_sent());
  MetaLookup r = Mg("k");
  EXPECT_EQ(r.item.value(), "c");
  EXPECT_TRUE(r.stale);
  EXPECT_TRUE(r.win_token_was_sent);
  // A zero CAS is never a stale match.
  Allocation z = store_->Allocate("k", 0, 0, 1);
  EXPECT_EQ(store_->Put(&z.item, Mode::kCas, 0, PutOptions{.allow_stale = true}),
            Outcome::kExists);
}

TEST_F(MetaStoreTest, IncrOptionsCompareAndTouch) {
  ASSERT_EQ(Set("n", "5", 1100), Outcome::kStored);
  const std::uint64_t cas = store_->Get("n").item.cas();
  IncrResult r = store_->IncrDecr("n", true, 1, IncrOptions{.compare_cas = cas + 1});
  EXPECT_EQ(r.outcome, Outcome::kExists);
  r = store_->IncrDecr("n", true, 1,
                       IncrOptions{.compare_cas = cas, .touch = true, .new_exptime = 1200});
  EXPECT_EQ(r.outcome, Outcome::kStored);
  EXPECT_EQ(r.value, 6u);
  EXPECT_EQ(r.exptime_before, 1100u);
  EXPECT_EQ(r.exptime, 1200u);
  EXPECT_EQ(store_->Get("n").item.exptime(), 1200u);
  r = store_->IncrDecr("gone", true, 1, IncrOptions{});
  EXPECT_EQ(r.outcome, Outcome::kNotFound);
  EXPECT_EQ(r.reason, MissReason::kAbsent);
  ASSERT_EQ(Set("e", "", 0), Outcome::kStored);
  EXPECT_EQ(store_->IncrDecr("e", true, 1, IncrOptions{.compare_cas = 1}).outcome,
            Outcome::kNonNumeric);
  ASSERT_EQ(Set("w", "x", 0), Outcome::kStored);
  EXPECT_EQ(store_->IncrDecr("w", true, 1, IncrOptions{.compare_cas = 1}).outcome,
            Outcome::kExists);
}

TEST_F(MetaStoreTest, TheBinaryKeyBitSurvivesLinkAppendAndIncr) {
  ASSERT_EQ(Set("b", "1", 0, true), Outcome::kStored);
  EXPECT_TRUE(store_->Get("b").item.key_binary());
  Allocation a = store_->Allocate("b", 0, 0, 1);
  std::memcpy(a.item.writable_value(), "2", 1);
  ASSERT_EQ(store_->Put(&a.item, Mode::kAppend), Outcome::kStored);
  EXPECT_TRUE(store_->Get("b").item.key_binary());
  // Grows from 2 to 3 digits: a new item.
  ASSERT_EQ(store_->IncrDecr("b", true, 100).outcome, Outcome::kStored);
  Lookup l = store_->Get("b");
  EXPECT_EQ(l.item.value(), "112");
  EXPECT_TRUE(l.item.key_binary());
  ASSERT_EQ(Set("b", "x"), Outcome::kStored);
  EXPECT_FALSE(store_->Get("b").item.key_binary());
}

// Many clients missing or finding a stale item at once: exactly one is told to recompute.
TEST_F(MetaStoreTest, ConcurrentClientsGetExactlyOneWin) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "k" + std::to_string(round);
    const bool stale = round % 2 == 1;
    if (stale) {
      ASSERT_EQ(Set(key, "v"), Outcome::kStored);
      store_->Delete(key, DeleteOptions{.invalidate = true});
    }
    std::atomic<int> wins{0}, created{0}, saw_win_sent{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        while (!go.load()) {
        }
        MetaGetOptions o;
        o.vivify = true;
        o.steps[o.nsteps++] = MetaStep::kVivify;
        MetaLookup r = store_->MetaGet(key, o);
        if (r.won) ++wins;
        if (r.created) ++created;
        if (r.win_token_was_sent) ++saw_win_sent;
      });
    }
    go.store(true);
    for (auto& th : threads) th.join();
    EXPECT_EQ(wins.load(), 1) << key;
    EXPECT_EQ(created.load(), stale ? 0 : 1) << key;
    EXPECT_EQ(saw_win_sent.load(), kThreads - 1) << key;
  }
}

}  // namespace
}  // namespace rc::store
