// t/unit/cluster/lease_test.cc -- the local lease and the grants (cluster/lease.h), against the
// in-memory membership: the test plays ZooKeeper (probe answers, expiries, registrations), the
// peers (an asker whose answers it gives) and the clock (every Tick, and the keeper's own time).
#include "ringcached/cluster/lease.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/fake_membership.h"

namespace rc::cluster {
namespace {

Member M(const std::string& name, std::int64_t incarnation = 1) {
  Member m;
  m.name = name;
  m.address = "127.0.0.1";
  m.port = 11211;
  m.incarnation = incarnation;
  return m;
}

// Records each round of asking; the test answers for the peers.
class RecordingAsker final : public GrantAsker {
 public:
  void Ask(const ClusterView& view, const std::string& self, std::int64_t incarnation,
           std::chrono::milliseconds timeout, AnswerFn reply) override {
    (void)view;
    asked_self = self;
    asked_incarnation = incarnation;
    asked_timeout = timeout;
    ++rounds;
    answer = std::move(reply);
  }
  int rounds = 0;
  std::string asked_self;
  std::int64_t asked_incarnation = 0;
  std::chrono::milliseconds asked_timeout{0};
  AnswerFn answer;
};

constexpr std::int64_t kT0 = 1'000'000;  // the test's clock starts here
constexpr int kSessionMs = 4000;          // lease 3000 ms, probes every 750 ms
constexpr std::int64_t kLease = 3000;
constexpr std::int64_t kInterval = 750;

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    membership_.SetSessionTimeout(kSessionMs);
    membership_.AddListener(&keeper_);
    keeper_.set_asker(&asker_);
    keeper_.set_wipe([this] { ++wipes_; });
    membership_.Adopt(1, {M("a"), M("b"), M("c")});
    membership_.AnswerProbe(now_);
    membership_.Register(1);
  }
  void Tick(std::int64_t at) {
    now_ = at;
    keeper_.Tick(at);
  }
  // Ticks every half interval from now to `until` (a running control loop).
  void RunUntil(std::int64_t until) {
    while (now_ + kInterval / 2 <= until) Tick(now_ + kInterval / 2);
  }

  testing::FakeMembership membership_;
  std::int64_t now_ = kT0;
  int wipes_ = 0;
  RecordingAsker asker_;
  LeaseKeeper keeper_{&membership_, nullptr, "a", [this] { return now_; }};
};

TEST_F(LeaseTest, AProbeAnswerHoldsTheLeaseForThreeQuartersOfTheSessionFromItsSending) {
  EXPECT_TRUE(keeper_.OpenAt(now_));
  EXPECT_FALSE(keeper_.OpenAt(now_ + kLease));
  membership_.AnswerProbe(kT0 + 700);
  Tick(kT0 + 750);
  EXPECT_TRUE(keeper_.OpenAt(kT0 + 700 + kLease - 1));
  EXPECT_FALSE(keeper_.OpenAt(kT0 + 700 + kLease));
  EXPECT_EQ(keeper_.Status().zk_renewals, 1u);
  EXPECT_EQ(keeper_.Status().state, "held");
  // No answer: it lapses, and nobody was asked while ZooKeeper was silent for under two probes.
  EXPECT_EQ(asker_.rounds, 0);
  EXPECT_EQ(keeper_.Status().length_ms, kLease);
}

TEST_F(LeaseTest, APauseLapsesTheLeaseAndGivesZooKeeperTheFirstWordBeforeAnyPeerIsAsked) {
  Tick(kT0 + 375);
  Tick(kT0 + 20'000);  // the loop did not run for 20 s: the process was stopped
  EXPECT_FALSE(keeper_.OpenAt(now_));
  EXPECT_EQ(keeper_.Status().state, "lapsed");
  EXPECT_FALSE(keeper_.fenced());
  EXPECT_EQ(asker_.rounds, 0);
  // ZooKeeper answers within two intervals: held again, nobody asked, nothing wiped.
  membership_.AnswerProbe(kT0 + 20'100);
  RunUntil(kT0 + 20'000 + 2 * kInterval - 1);
  EXPECT_TRUE(keeper_.OpenAt(now_));
  EXPECT_EQ(asker_.rounds, 0);
  EXPECT_EQ(wipes_, 0);
}

TEST_F(LeaseTest, ZooKeeperSilentForTwoProbesAsksThePeersAndAMajorityOfGrantsRenews) {
  RunUntil(kT0 + 2 * kInterval);
  ASSERT_EQ(asker_.rounds, 1);
  EXPECT_EQ(asker_.asked_self, "a");
  EXPECT_EQ(asker_.asked_incarnation, 1);
  EXPECT_EQ(asker_.asked_timeout.count(), kInterval);
  const std::int64_t asked_at = now_;
  // One grant of three members: with this node, two of three.
  asker_.answer("b", GrantReply{GrantReply::Kind::kGrant, std::chrono::milliseconds(2500)});
  EXPECT_TRUE(keeper_.OpenAt(asked_at + 2500 - 1));
  EXPECT_FALSE(keeper_.OpenAt(asked_at + 2500));
  asker_.answer("c", GrantReply{GrantReply::Kind::kUnknown, {}});
  const LeaseStatus st = keeper_.Status();
  EXPECT_EQ(st.grant_rounds, 1u);
  EXPECT_EQ(st.grant_renewals, 1u);
  EXPECT_EQ(st.grants_received, 1u);
  EXPECT_EQ(st.unknown_received, 1u);
  // Still silent: asked again each interval, and the grants keep it held past the ZooKeeper
  // lease (an outage with every node healthy keeps serving).
  std::int64_t held_until = 0;
  for (int i = 0; i < 20; ++i) {
    RunUntil(now_ + kInterval);
    asker_.answer("b", GrantReply{GrantReply::Kind::kGrant, std::chrono::milliseconds(kLease)});
    asker_.answer("c", GrantReply{GrantReply::Kind::kGrant, std::chrono::milliseconds(kLease)});
    EXPECT_TRUE(keeper_.OpenAt(now_)) << "round " << i;
    held_until = now_;
  }
  EXPECT_GT(held_until, kT0 + 5 * kLease);
  EXPECT_FALSE(keeper_.fenced());
  EXPECT_EQ(wipes_, 0);
}

TEST_F(LeaseTest, ARefusalFencesAndOnlyAZooKeeperAnswerAfterItWipesAndReopens) {
  RunUntil(kT0 + 2 * kInterval);
  ASSERT_EQ(asker_.rounds, 1);
  asker_.answer("b", GrantReply{GrantReply::Kind::kRefuse, {}});
  EXPECT_TRUE(keeper_.fenced());
  EXPECT_FALSE(keeper_.OpenAt(now_));
  EXPECT_EQ(keeper_.Status().state, "fenced");
  EXPECT_NE(keeper_.Status().fenced_reason.find("refused by b"), std::string::npos);
  // A grant of the same round after the refusal changes nothing; no more rounds while fenced.
  asker_.answer("c", GrantReply{GrantReply::Kind::kGrant, std::chrono::milliseconds(kLease)});
  EXPECT_FALSE(keeper_.OpenAt(now_));
  RunUntil(now_ + 4 * kInterval);
  EXPECT_EQ(asker_.rounds, 1);
  // A probe sent before the fence does not lift it; one sent after does, wiping first.
  membership_.AnswerProbe(now_ - 10 * kInterval + 1);
  Tick(now_ + kInterval / 2);
  EXPECT_TRUE(keeper_.fenced());
  const std::int64_t sent = now_;
  membership_.AnswerProbe(sent);
  Tick(now_ + kInterval / 2);
  EXPECT_FALSE(keeper_.fenced());
  EXPECT_EQ(wipes_, 1);
  EXPECT_TRUE(keeper_.OpenAt(now_));
  EXPECT_EQ(keeper_.Status().wipes, 1u);
  EXPECT_EQ(keeper_.Status().fences, 1u);
}

TEST_F(LeaseTest, ARoundWithoutAMajorityFencesOnlyOnceTheLeaseHasLapsed) {
  RunUntil(kT0 + 2 * kInterval);
  asker_.answer("b", GrantReply{GrantReply::Kind::kUnknown, {}});
  asker_.answer("c", GrantReply{GrantReply::Kind::kUnknown, {}});
  EXPECT_FALSE(keeper_.fenced()) << "still within the ZooKeeper lease";
  RunUntil(kT0 + kLease + kInterval);
  EXPECT_FALSE(keeper_.OpenAt(now_));
  ASSERT_GE(asker_.rounds, 2);
  asker_.answer("b", GrantReply{GrantReply::Kind::kUnknown, {}});
  EXPECT_FALSE(keeper_.fenced());
  asker_.answer("c", GrantReply{GrantReply::Kind::kUnknown, {}});
  EXPECT_TRUE(keeper_.fenced());
  EXPECT_NE(keeper_.Status().fenced_reason.find("1 of 3"), std::string::npos)
      << keeper_.Status().fenced_reason;
}

TEST_F(LeaseTest, AnExpiredSessionFencesAndTheNewRegistrationWipesBeforeItOpens) {
  Tick(now_ + kInterval / 2);
  Tick(now_ + 20'000);  // stopped past the session: the lease has lapsed
  membership_.ExpireSession();
  EXPECT_TRUE(keeper_.fenced());
  EXPECT_FALSE(keeper_.OpenAt(now_));
  // While fenced and unregistered, no peers are asked and no answer lifts it.
  membership_.AnswerProbe(now_ + 1);
  RunUntil(now_ + 5 * kInterval);
  EXPECT_EQ(asker_.rounds, 0);
  EXPECT_TRUE(keeper_.fenced());
  EXPECT_EQ(wipes_, 0);
  membership_.Register(2);
  EXPECT_EQ(wipes_, 1);
  EXPECT_FALSE(keeper_.fenced());
  EXPECT_TRUE(keeper_.OpenAt(now_));
  // Asked under its new incarnation from now on.
  RunUntil(now_ + 3 * kInterval);
  ASSERT_EQ(asker_.rounds, 1);
  EXPECT_EQ(asker_.asked_incarnation, 2);
}

TEST_F(LeaseTest, ASessionThatExpiresWhileGrantsHoldTheLeaseKeepsTheStore) {
  // ZooKeeper down for everyone: the peers' grants hold the lease past the session timeout.
  for (int i = 0; i < 8; ++i) {
    RunUntil(now_ + kInterval);
    if (asker_.answer) {
      asker_.answer("b", GrantReply{GrantReply::Kind::kGrant, std::chrono::milliseconds(kLease)});
      asker_.answer("c", GrantReply{GrantReply::Kind::kGrant, std::chrono::milliseconds(kLease)});
    }
  }
  ASSERT_GT(now_, kT0 + kSessionMs);
  ASSERT_TRUE(keeper_.OpenAt(now_));
  membership_.ExpireSession();  // ZooKeeper is back, and the session was lost meanwhile
  EXPECT_FALSE(keeper_.fenced());
  EXPECT_TRUE(keeper_.OpenAt(now_));
  membership_.AnswerProbe(now_);
  membership_.Register(2);
  EXPECT_EQ(wipes_, 0);
  EXPECT_EQ(keeper_.Status().fences, 0u);
  EXPECT_TRUE(keeper_.OpenAt(now_ + kLease - 1));
}

TEST_F(LeaseTest, AMemberGrantsOnlyWhatItsOwnRingSays) {
  using Kind = GrantReply::Kind;
  membership_.Adopt(2, {M("a"), M("b", 5), M("c", 7)});
  const GrantReply granted = keeper_.Judge("b", 5);
  EXPECT_EQ(granted.kind, Kind::kGrant);
  EXPECT_EQ(granted.length.count(), kLease);
  EXPECT_EQ(keeper_.Judge("b", 4).kind, Kind::kRefuse) << "an older incarnation";
  EXPECT_EQ(keeper_.Judge("b", 6).kind, Kind::kUnknown) << "a newer one: this ring is behind";
  EXPECT_EQ(keeper_.Judge("d", 1).kind, Kind::kRefuse) << "not in the ring";
  membership_.Unlist("c");
  EXPECT_EQ(keeper_.Judge("c", 7).kind, Kind::kRefuse) << "gone from the newest list";
  Tick(now_ + 20'000);
  membership_.ExpireSession();
  EXPECT_EQ(keeper_.Judge("b", 5).kind, Kind::kUnknown) << "a fenced member knows nothing";
  const LeaseStatus st = keeper_.Status();
  EXPECT_EQ(st.grants_given, 1u);
  EXPECT_EQ(st.refusals_given, 3u);
  EXPECT_EQ(st.unknown_given, 2u);
}

TEST_F(LeaseTest, MessagesFromAnOlderIncarnationThanTheRingHasAreNotCurrent) {
  EXPECT_TRUE(keeper_.Current("b", 1));
  const std::uint64_t seen = keeper_.views_seen();
  membership_.Adopt(2, {M("a"), M("b", 9), M("c")});
  EXPECT_GT(keeper_.views_seen(), seen);
  EXPECT_FALSE(keeper_.Current("b", 1));
  EXPECT_TRUE(keeper_.Current("b", 9));
  // A view without b (it left) does not forget its newest incarnation.
  membership_.Adopt(3, {M("a"), M("c")});
  EXPECT_FALSE(keeper_.Current("b", 8));
  EXPECT_TRUE(keeper_.Current("newcomer", 1));
}

TEST_F(LeaseTest, ARingOfOneIsItsOwnMajority) {
  membership_.Adopt(2, {M("a")});
  RunUntil(kT0 + 10 * kLease);
  EXPECT_TRUE(keeper_.OpenAt(now_));
  EXPECT_FALSE(keeper_.fenced());
  EXPECT_EQ(asker_.rounds, 0) << "nobody to ask";
}

}  // namespace
}  // namespace rc::cluster
