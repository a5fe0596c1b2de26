// t/unit/engine/fence_test.cc -- the read-through write fence (engine/hooks.h MissLoader): every
// command that may change or remove a key takes the loader's fence for that key around its
// store call, flush_all fences everything, and reads never fence (a reader's miss must not make
// its own fill stale).
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "fakes/fake_clock.h"
#include "ringcached/engine/engine.h"
#include "ringcached/proto/meta.h"

namespace rc::engine {
namespace {

class RecordingLoader : public MissLoader {
 public:
  bool Wants(std::string_view) const override { return true; }
  void Load(std::string_view, std::function<void(store::ItemRef)>) override {}
  base::MovableLock FenceWrite(std::string_view key) override {
    fenced.emplace_back(key);
    return base::MovableLock(mu_);
  }
  void FenceFlush() override { ++flushes; }
  std::vector<std::string> fenced;
  int flushes = 0;

 private:
  base::Mutex mu_;
};

class FenceTest : public ::testing::Test {
 protected:
  FenceTest() : store_(store::Options{}, &clock_), engine_(&store_, &clock_) {
    engine_.set_miss_loader(&loader_);
  }

  store::Outcome Store(proto::Command command, std::string_view key, std::string_view value) {
    proto::Request req;
    req.command = command;
    req.key = key;
    req.value_len = static_cast<std::uint32_t>(value.size());
    store::Allocation alloc = engine_.BeginStore(req, &stats_);
    if (!alloc.item) return alloc.outcome;
    std::memcpy(alloc.item.writable_value(), value.data(), value.size());
    return engine_.CompleteStore(req, &alloc.item, &stats_);
  }

  proto::MetaRequest Meta(std::string_view line) {
    proto::MetaRequest req;
    proto::MetaParseResult r = proto::MetaParser().Parse(line, &req);
    EXPECT_EQ(r.status, proto::ParseStatus::kOk) << line;
    return req;
  }

  // The keys fenced by `fn`, in order.
  template <typename Fn>
  std::vector<std::string> FencedBy(Fn fn) {
    loader_.fenced.clear();
    fn();
    return loader_.fenced;
  }

  rc::testing::FakeClock clock_;
  store::Store store_;
  Engine engine_;
  RecordingLoader loader_;
  CommandStats stats_;
};

using Keys = std::vector<std::string>;

TEST_F(FenceTest, EveryTextWriteFencesItsKey) {
  EXPECT_EQ(FencedBy([&] { Store(proto::Command::kSet, "a", "1"); }), Keys{"a"});
  EXPECT_EQ(FencedBy([&] { Store(proto::Command::kAdd, "a", "1"); }), Keys{"a"});
  EXPECT_EQ(FencedBy([&] { Store(proto::Command::kAppend, "a", "2"); }), Keys{"a"});
  EXPECT_EQ(FencedBy([&] { engine_.Arithmetic("a", true, 1, &stats_); }), Keys{"a"});
  EXPECT_EQ(FencedBy([&] { engine_.Touch("a", 100, &stats_); }), Keys{"a"});
  EXPECT_EQ(FencedBy([&] { engine_.Delete("a", &stats_); }), Keys{"a"});
  // A write that finds nothing is fenced all the same: a delete of a key being filled is
  // exactly the case that must win.
  EXPECT_EQ(FencedBy([&] { engine_.Delete("absent", &stats_); }), Keys{"absent"});
  EXPECT_EQ(loader_.flushes, 0);
  engine_.FlushAll(0, false, &stats_);
  EXPECT_EQ(loader_.flushes, 1);
}

TEST_F(FenceTest, MetaWritesFenceTheirKey) {
  EXPECT_EQ(FencedBy([&] {
              proto::MetaRequest req = Meta("ms m 1\r\n");
              store::Allocation alloc = engine_.BeginMetaSet(req, &stats_);
              ASSERT_TRUE(alloc.item);
              alloc.item.writable_value()[0] = 'x';
              engine_.CompleteMetaSet(req, &alloc.item, &stats_);
            }),
            Keys{"m"});
  // A miss that creates: the increment, then the create, each fenced.
  EXPECT_EQ(FencedBy([&] { engine_.MetaArithmetic(Meta("ma n N0 J5\r\n"), &stats_); }),
            (Keys{"n", "n"}));
  EXPECT_EQ(FencedBy([&] { engine_.MetaArithmetic(Meta("ma n\r\n"), &stats_); }), Keys{"n"});
  EXPECT_EQ(FencedBy([&] { engine_.MetaDelete(Meta("md m I\r\n"), &stats_); }), Keys{"m"});
  EXPECT_EQ(FencedBy([&] { engine_.MetaDelete(Meta("md m\r\n"), &stats_); }), Keys{"m"});
}

TEST_F(FenceTest, ReadsNeverFence) {
  ASSERT_EQ(Store(proto::Command::kSet, "r", "1"), store::Outcome::kStored);
  EXPECT_EQ(FencedBy([&] {
              engine_.Get("r", &stats_);
              engine_.Get("missing", &stats_);
              engine_.MetaGet(Meta("mg r v\r\n"), &stats_);
              engine_.MetaGet(Meta("mg missing v\r\n"), &stats_);
            }),
            Keys{});
}

TEST_F(FenceTest, MetaFilledInfoDescribesTheFillAsAFirstRead) {
  ASSERT_EQ(Store(proto::Command::kSet, "f", "abc"), store::Outcome::kStored);
  store::ItemRef item = store_.Get("f").item;
  ASSERT_TRUE(item);
  proto::MetaReplyInfo info = engine_.MetaFilledInfo(Meta("mg f v t s\r\n"), item);
  EXPECT_EQ(info.status, proto::MetaStatus::kVA);
  EXPECT_EQ(info.value_len, 3u);
  EXPECT_EQ(info.ttl, -1);
  EXPECT_EQ(info.key, "f");
  EXPECT_FALSE(info.win || info.stale || info.fetched);
  EXPECT_EQ(engine_.MetaFilledInfo(Meta("mg f\r\n"), item).status, proto::MetaStatus::kHD);
}

}  // namespace
}  // namespace rc::engine
