// t/unit/cluster/registration_test.cc -- what a node does when its znode name is taken
// (registration.h): keep its own, replace a leftover, refuse a live node's.
#include "cluster/registration.h"

#include <gtest/gtest.h>

namespace rc::cluster {
namespace {

Member Self() {
  Member m;
  m.name = "127.0.0.1:11311";
  m.address = "127.0.0.1";
  m.port = 11311;
  return m;
}

base::Result<Member> Advertising(std::string address, int port) {
  Member m = Self();
  m.address = std::move(address);
  m.port = port;
  return m;
}

constexpr std::int64_t kNow = 0x1000;

TEST(RegistrationTest, ThisSessionsOwnZnodeIsKept) {
  EXPECT_EQ(JudgeExistingNode(kNow, Advertising("127.0.0.1", 11311), kNow, {}, Self()),
            ExistingNode::kOurs);
}

TEST(RegistrationTest, AnEarlierSessionOfThisProcessIsALeftover) {
  EXPECT_EQ(JudgeExistingNode(0x77, Advertising("10.9.9.9", 1), kNow, {0x66, 0x77}, Self()),
            ExistingNode::kLeftover);
}

TEST(RegistrationTest, APredecessorOnOurOwnAddressAndPortIsALeftover) {
  // kill -9 and a restart within the session timeout: the old session still owns the znode,
  // but it advertises the port this process has just bound.
  EXPECT_EQ(JudgeExistingNode(0x99, Advertising("127.0.0.1", 11311), kNow, {}, Self()),
            ExistingNode::kLeftover);
}

TEST(RegistrationTest, AnotherAddressOrPortIsALiveNode) {
  EXPECT_EQ(JudgeExistingNode(0x99, Advertising("127.0.0.1", 11312), kNow, {}, Self()),
            ExistingNode::kLiveConflict);
  EXPECT_EQ(JudgeExistingNode(0x99, Advertising("10.0.0.2", 11311), kNow, {}, Self()),
            ExistingNode::kLiveConflict);
  base::Result<Member> unreadable = base::Status::InvalidArgument("bad");
  EXPECT_EQ(JudgeExistingNode(0x99, unreadable, kNow, {}, Self()), ExistingNode::kLiveConflict);
}

TEST(RegistrationTest, AWildcardAddressNeverProvesAPredecessor) {
  Member self = Self();
  self.address = "0.0.0.0";
  EXPECT_EQ(JudgeExistingNode(0x99, Advertising("0.0.0.0", 11311), kNow, {}, self),
            ExistingNode::kLiveConflict);
  self.address = "";
  EXPECT_EQ(JudgeExistingNode(0x99, Advertising("", 11311), kNow, {}, self),
            ExistingNode::kLiveConflict);
}

TEST(RegistrationTest, APersistentZnodeIsRefused) {
  EXPECT_EQ(JudgeExistingNode(0, Advertising("127.0.0.1", 11311), kNow, {}, Self()),
            ExistingNode::kNotEphemeral);
}

TEST(RegistrationTest, TheRefusalNamesTheOwnerAndTheFix) {
  std::string why = DescribeNameConflict(ExistingNode::kLiveConflict, "/c/members/x", 0xabc,
                                         Advertising("127.0.0.1", 11312));
  EXPECT_NE(why.find("/c/members/x"), std::string::npos) << why;
  EXPECT_NE(why.find("0xabc"), std::string::npos) << why;
  EXPECT_NE(why.find("port 11312"), std::string::npos) << why;
  EXPECT_NE(why.find("--advertise"), std::string::npos) << why;
}

}  // namespace
}  // namespace rc::cluster
