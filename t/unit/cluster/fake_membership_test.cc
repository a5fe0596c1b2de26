// t/unit/cluster/fake_membership_test.cc -- the in-memory ClusterMembership that consumers' unit
// tests drive keeps the interface's contract: listeners hear every event in order, view() and
// Status() follow the events, and the lease reads what the test set.
#include "fakes/fake_membership.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rc::cluster {
namespace {

class Log final : public MembershipListener {
 public:
  void OnRegistered(std::int64_t incarnation) override {
    seen.push_back("registered " + std::to_string(incarnation));
  }
  void OnViewAdopted(const std::shared_ptr<const ClusterView>& view) override {
    seen.push_back("view " + std::to_string(view->version) + " of " +
                   std::to_string(view->members.size()));
  }
  void OnSessionLost() override { seen.push_back("lost"); }
  void OnSessionExpired() override { seen.push_back("expired"); }
  std::vector<std::string> seen;
};

Member M(const std::string& name) {
  Member m;
  m.name = name;
  m.port = 11211;
  return m;
}

TEST(FakeMembershipTest, ListenersHearEveryEventInOrderAndTheViewFollows) {
  testing::FakeMembership membership;
  ClusterMembership& iface = membership;
  Log a, b;
  iface.AddListener(&a);
  iface.AddListener(&b);
  EXPECT_EQ(iface.view(), nullptr);
  EXPECT_EQ(iface.Status().state, NodeState::kUnregistered);

  membership.Register(7);
  membership.Adopt(3, {M("n1:11211"), M("n2:11211")});
  membership.LoseSession();
  membership.AnswerProbe(1500);
  EXPECT_EQ(iface.LastAnswerSentMs(), 1500);
  EXPECT_TRUE(iface.ListsMember("n2:11211"));
  membership.Unlist("n2:11211");
  EXPECT_FALSE(iface.ListsMember("n2:11211"));
  EXPECT_FALSE(iface.ListsMember("n9:11211"));
  membership.Unlist("");
  membership.ExpireSession();
  membership.Register(8);
  Member warming = M("n3:11211");
  warming.state = MemberState::kWarming;
  membership.Adopt(5, {M("n1:11211"), M("n2:11211"), warming});

  const std::vector<std::string> want = {"registered 7", "view 3 of 2", "lost", "expired",
                                         "registered 8", "view 5 of 3"};
  EXPECT_EQ(a.seen, want);
  EXPECT_EQ(b.seen, want);
  ASSERT_NE(iface.view(), nullptr);
  EXPECT_EQ(iface.view()->version, 5);
  EXPECT_EQ(iface.view()->members[2].state, MemberState::kWarming);
  EXPECT_EQ(iface.view()->ring.points().size(), 3u * 160);
  const MembershipStatus st = iface.Status();
  EXPECT_EQ(st.state, NodeState::kUp);
  EXPECT_EQ(st.incarnation, 8);
  EXPECT_EQ(st.ring_changes, 2u);
  EXPECT_EQ(st.session_expirations, 1u);
  EXPECT_EQ(iface.LastAnswerSentMs(), 1500);
}

}  // namespace
}  // namespace rc::cluster
