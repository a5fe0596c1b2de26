// t/cluster/membership_zk_test.cc -- cluster::Membership against a real ZooKeeper (started by
// membership_zk_test.py, which passes its address in $RC_ZK_HOSTS): two memberships in this
// process, each on its own control loop, and a listener on each that records what it hears.
//
//   * Listeners hear registration (with the incarnation) and every adopted view, on the control
//     loop, in order; a second member joining is a new view for both.
//   * A state change (SetSelfState: warming, leaving, up) reaches every member through the
//     watch on member data, and the view version -- what `config get cluster` prints -- changes
//     with it, the same on both nodes.
//   * Leaving is a new view for the other member.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ringcached/cluster/membership.h"
#include "ringcached/net/event_loop.h"

namespace rc::cluster {
namespace {

using namespace std::chrono_literals;

// What a listener heard, readable from the test's thread.
class Recorder final : public MembershipListener {
 public:
  void OnRegistered(std::int64_t incarnation) override {
    Add("registered", incarnation, nullptr);
  }
  void OnViewAdopted(const std::shared_ptr<const ClusterView>& view) override {
    Add("view", view->version, view);
  }
  void OnSessionLost() override { Add("lost", 0, nullptr); }
  void OnSessionExpired() override { Add("expired", 0, nullptr); }

  // Waits (bounded) until the latest view satisfies `pred`; returns it (null on timeout).
  template <typename Pred>
  std::shared_ptr<const ClusterView> WaitForView(Pred pred, std::chrono::seconds limit = 20s) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return latest_ && pred(*latest_); });
    return latest_ && pred(*latest_) ? latest_ : nullptr;
  }
  std::vector<std::string> Kinds() {
    std::lock_guard lock(mu_);
    return kinds_;
  }
  std::int64_t incarnation() {
    std::lock_guard lock(mu_);
    return incarnation_;
  }
  bool on_loop_thread_only() {
    std::lock_guard lock(mu_);
    return threads_.size() == 1;
  }

 private:
  void Add(const char* kind, std::int64_t n, std::shared_ptr<const ClusterView> view) {
    std::lock_guard lock(mu_);
    kinds_.push_back(kind);
    if (kinds_.back() == "registered") incarnation_ = n;
    if (view) latest_ = std::move(view);
    const std::thread::id me = std::this_thread::get_id();
    if (threads_.empty() || threads_.back() != me) threads_.push_back(me);
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> kinds_;
  std::vector<std::thread::id> threads_;
  std::int64_t incarnation_ = 0;
  std::shared_ptr<const ClusterView> latest_;
};

// One node: a control loop, a membership on it, a recorder listening.
struct Node {
  Node(const std::string& path, const std::string& name, int port) {
    loop.Start("rc-test-zk");
    MembershipOptions o;
    o.zk_hosts = std::getenv("RC_ZK_HOSTS");
    o.path = path;
    o.self.name = name;
    o.self.address = "127.0.0.1";
    o.self.port = port;
    o.debounce = 100ms;
    o.session_timeout = 4000ms;
    membership = std::make_unique<Membership>(o, &loop);
    membership->AddListener(&recorder);
    membership->Join();
  }
  ~Node() {
    membership->Leave();
    loop.Stop();
    loop.Join();
  }
  const Member* Find(const ClusterView& v, const std::string& name) const {
    return v.Find(name);
  }
  net::EventLoop loop;
  Recorder recorder;
  std::unique_ptr<Membership> membership;
};

class MembershipZkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("RC_ZK_HOSTS") == nullptr) GTEST_SKIP() << "needs $RC_ZK_HOSTS";
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = "/rc-zk-test/" + std::string(test->name());
  }
  std::string path_;
};

TEST_F(MembershipZkTest, ListenersHearRegistrationAndEveryViewOnTheControlLoop) {
  Node a(path_, "a:1", 1);
  ASSERT_TRUE(a.membership->WaitJoined().ok());
  ASSERT_NE(a.recorder.WaitForView([](const ClusterView& v) { return v.members.size() == 1; }),
            nullptr);
  EXPECT_EQ(a.recorder.incarnation(), a.membership->Status().incarnation);
  {
    Node b(path_, "b:2", 2);
    ASSERT_TRUE(b.membership->WaitJoined().ok());
    auto two = [](const ClusterView& v) { return v.members.size() == 2; };
    auto va = a.recorder.WaitForView(two);
    auto vb = b.recorder.WaitForView(two);
    ASSERT_NE(va, nullptr);
    ASSERT_NE(vb, nullptr);
    EXPECT_EQ(va->version, vb->version);
  }
  // b left: a hears a view of one again.
  ASSERT_NE(a.recorder.WaitForView([](const ClusterView& v) { return v.members.size() == 1; }),
            nullptr);
  const std::vector<std::string> kinds = a.recorder.Kinds();
  ASSERT_GE(kinds.size(), 4u);
  EXPECT_EQ(kinds[0], "registered");
  EXPECT_EQ(kinds[1], "view");
  EXPECT_TRUE(a.recorder.on_loop_thread_only());
  // The raw member list follows ZooKeeper; the probes keep answering (the lease's evidence).
  EXPECT_TRUE(a.membership->ListsMember("a:1"));
  EXPECT_FALSE(a.membership->ListsMember("b:2"));
  const std::int64_t first = a.membership->LastAnswerSentMs();
  EXPECT_GT(first, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (a.membership->LastAnswerSentMs() == first &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(a.membership->LastAnswerSentMs(), first) << "no probe answered";
}

TEST_F(MembershipZkTest, AStateChangeIsANewViewVersionOnEveryNode) {
  Node a(path_, "a:1", 1);
  Node b(path_, "b:2", 2);
  ASSERT_TRUE(a.membership->WaitJoined().ok());
  ASSERT_TRUE(b.membership->WaitJoined().ok());
  auto both_up = [&](const ClusterView& v) {
    const Member* ma = a.Find(v, "a:1");
    const Member* mb = a.Find(v, "b:2");
    return ma != nullptr && mb != nullptr && ma->state == MemberState::kUp &&
           mb->state == MemberState::kUp;
  };
  auto start = a.recorder.WaitForView(both_up);
  ASSERT_NE(start, nullptr);
  ASSERT_NE(b.recorder.WaitForView(both_up), nullptr);

  std::int32_t last = start->version;
  for (MemberState state : {MemberState::kWarming, MemberState::kUp, MemberState::kLeaving}) {
    SCOPED_TRACE(std::string(MemberStateName(state)));
    b.membership->SetSelfState(state);
    auto b_is = [&](const ClusterView& v) {
      const Member* mb = a.Find(v, "b:2");
      return mb != nullptr && mb->state == state;
    };
    auto on_a = a.recorder.WaitForView(b_is);
    auto on_b = b.recorder.WaitForView(b_is);
    ASSERT_NE(on_a, nullptr) << "a never saw b's state";
    ASSERT_NE(on_b, nullptr) << "b never saw its own state";
    EXPECT_GT(on_a->version, last) << "the view version did not change with the state";
    EXPECT_EQ(on_a->version, on_b->version);
    EXPECT_EQ(on_a->everyone().size(), 2u);
    // A leaving member holds no keys: it is on the ring before the change only.
    EXPECT_EQ(on_a->members.size(), state == MemberState::kLeaving ? 1u : 2u);
    EXPECT_EQ(on_a->changing(), state != MemberState::kUp);
    last = on_a->version;
  }
}

}  // namespace
}  // namespace rc::cluster
