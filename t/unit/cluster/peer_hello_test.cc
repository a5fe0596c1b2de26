// t/unit/cluster/peer_hello_test.cc -- the peer handshake (cluster/peer_hello.h): the lines round
// trip and tolerate later fields; every missing or malformed field is refused by name; a
// configuration mismatch names the difference; a proof verifies only with the secret, the role,
// the nonces and the names it was made for; nonces are fresh; the secret file's rules.
#include "ringcached/cluster/peer_hello.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <string>

namespace rc::cluster {
namespace {

PeerHello Sample(const std::string& name) {
  PeerHello h;
  h.cluster = "/ringcached/prod";
  h.name = name;
  h.incarnation = 1732600000123;
  h.ring_version = 7;
  h.clock = 3000000000ull << 10;
  h.profile = "libmemcached";
  h.replicas = 2;
  h.item_size_max = 1 << 20;
  h.mode = "async";
  h.nonce = NewNonce();
  return h;
}

// The fields of an encoded line: after the verb, without "\r\n".
std::string FieldsOf(const std::string& line) {
  return line.substr(line.find(' ') + 1, line.size() - line.find(' ') - 3);
}

TEST(PeerHelloTest, LinesRoundTripAndLaterFieldsAreIgnored) {
  const PeerHello a = Sample("10.0.0.1:11211");
  const std::string line = EncodeHello(a);
  ASSERT_EQ(line.rfind("rc_hello proto=1 cluster=/ringcached/prod name=10.0.0.1:11211 ", 0), 0u)
      << line;
  ASSERT_EQ(line.substr(line.size() - 2), "\r\n");
  std::string proof = "x";
  base::Result<PeerHello> back = ParseHelloFields(FieldsOf(line), &proof);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), a);
  EXPECT_EQ(proof, "");

  const std::string p(64, 'a');
  const std::string reply = EncodeHelloReply(a, p);
  ASSERT_EQ(reply.rfind("RC_HELLO ", 0), 0u);
  back = ParseHelloFields(FieldsOf(reply) + " zone=eu-1 features=x,y", &proof);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value(), a);
  EXPECT_EQ(proof, p);
}

TEST(PeerHelloTest, AMissingOrMalformedFieldIsRefusedByName) {
  const std::string good = FieldsOf(EncodeHello(Sample("n1:1")));
  std::string proof;
  for (const char* key : {"proto", "cluster", "name", "incarnation", "ring", "clock", "profile",
                          "replicas", "item_max", "mode", "nonce"}) {
    SCOPED_TRACE(key);
    // Without the field.
    std::string without;
    for (std::size_t at = 0; at < good.size();) {
      const std::size_t sp = std::min(good.find(' ', at), good.size());
      const std::string field = good.substr(at, sp - at);
      if (field.rfind(std::string(key) + "=", 0) != 0) {
        without += (without.empty() ? "" : " ") + field;
      }
      at = sp + 1;
    }
    base::Result<PeerHello> r = ParseHelloFields(without, &proof);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), std::string("peer hello: no ") + key);
  }
  for (const std::string& bad :
       {std::string("proto=0"), std::string("proto=x"), std::string("incarnation=-1"),
        std::string("replicas=0"), std::string("mode=fast"), std::string("nonce=abc"),
        std::string("nonce=") + std::string(32, 'G'), std::string("proof=12"),
        std::string("item_max=1e6"), std::string("clock=18446744073709551616"),
        std::string("name=") + std::string(256, 'n'), std::string("noequals")}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseHelloFields(good + " " + bad, &proof).ok());
  }
}

TEST(PeerHelloTest, AConfigurationMismatchNamesTheDifference) {
  const PeerHello mine = Sample("n1:1");
  PeerHello theirs = Sample("n2:2");
  theirs.incarnation = 5;   // not configuration
  theirs.ring_version = 9;
  EXPECT_EQ(ConfigMismatch(mine, theirs), "");
  theirs.profile = "twemproxy";
  EXPECT_EQ(ConfigMismatch(mine, theirs), "ring profile libmemcached here, twemproxy at n2:2");
  theirs = Sample("n2:2");
  theirs.replicas = 3;
  EXPECT_EQ(ConfigMismatch(mine, theirs), "replicas 2 here, 3 at n2:2");
  theirs = Sample("n2:2");
  theirs.item_size_max = 2 << 20;
  EXPECT_EQ(ConfigMismatch(mine, theirs), "item size limit (-I) 1048576 here, 2097152 at n2:2");
  theirs = Sample("n2:2");
  theirs.mode = "sync";
  EXPECT_EQ(ConfigMismatch(mine, theirs), "replication mode async here, sync at n2:2");
  theirs = Sample("n2:2");
  theirs.cluster = "/other";
  EXPECT_EQ(ConfigMismatch(mine, theirs), "cluster /ringcached/prod here, /other at n2:2");
}

TEST(PeerHelloTest, AProofVerifiesOnlyForItsSecretRoleNoncesAndNames) {
  const PeerHello opener = Sample("n1:1");
  const PeerHello acceptor = Sample("n2:2");
  const std::vector<std::string> secrets = {"s3cret"};
  const std::string by_acceptor = PeerProof("s3cret", PeerRole::kAcceptor, opener, acceptor);
  const std::string by_opener = PeerProof("s3cret", PeerRole::kOpener, opener, acceptor);
  EXPECT_EQ(by_acceptor.size(), 64u);
  EXPECT_TRUE(CheckPeerProof(secrets, PeerRole::kAcceptor, opener, acceptor, by_acceptor));
  EXPECT_TRUE(CheckPeerProof(secrets, PeerRole::kOpener, opener, acceptor, by_opener));
  // One side's proof is not the other's (a reflection), and a wrong secret proves nothing.
  EXPECT_NE(by_acceptor, by_opener);
  EXPECT_FALSE(CheckPeerProof(secrets, PeerRole::kOpener, opener, acceptor, by_acceptor));
  EXPECT_FALSE(CheckPeerProof({"other"}, PeerRole::kAcceptor, opener, acceptor, by_acceptor));
  // New nonces (a replay of an old handshake) or other names: no longer valid.
  PeerHello fresh = opener;
  fresh.nonce = NewNonce();
  EXPECT_FALSE(CheckPeerProof(secrets, PeerRole::kAcceptor, fresh, acceptor, by_acceptor));
  PeerHello renamed = acceptor;
  renamed.name = "n3:3";
  EXPECT_FALSE(CheckPeerProof(secrets, PeerRole::kAcceptor, opener, renamed, by_acceptor));
  // During a rotation either secret proves; malformed proofs never do.
  EXPECT_TRUE(CheckPeerProof({"new", "s3cret"}, PeerRole::kAcceptor, opener, acceptor,
                             by_acceptor));
  EXPECT_FALSE(CheckPeerProof(secrets, PeerRole::kAcceptor, opener, acceptor, "zz"));
  EXPECT_FALSE(CheckPeerProof(secrets, PeerRole::kAcceptor, opener, acceptor,
                              std::string(64, 'G')));
}

TEST(PeerHelloTest, NoncesAreFreshHex) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string n = NewNonce();
    ASSERT_EQ(n.size(), 32u);
    ASSERT_EQ(n.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 100u);
}

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rc-secret-XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void Write(const std::string& text, mode_t mode) {
    std::ofstream(path_, std::ios::trunc) << text;
    ASSERT_EQ(chmod(path_.c_str(), mode), 0);
  }
  std::string path_;
};

TEST_F(SecretFileTest, OneOrTwoSecretsFromAPrivateFile) {
  Write("alpha\n", 0600);
  base::Result<std::vector<std::string>> r = ReadClusterSecrets(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value(), (std::vector<std::string>{"alpha"}));
  Write("new-one  \r\n\nold-one\n", 0400);
  r = ReadClusterSecrets(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value(), (std::vector<std::string>{"new-one", "old-one"}));
}

TEST_F(SecretFileTest, RefusedWithAReasonThatNeverQuotesTheSecret) {
  Write("hunter2\n", 0644);
  base::Result<std::vector<std::string>> r = ReadClusterSecrets(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("chmod 600"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find("hunter2"), std::string::npos);
  Write("hunter2\n", 0620);
  EXPECT_FALSE(ReadClusterSecrets(path_).ok());
  Write("\n  \n", 0600);
  r = ReadClusterSecrets(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no secret"), std::string::npos);
  Write("a\nb\nc\n", 0600);
  EXPECT_FALSE(ReadClusterSecrets(path_).ok());
  Write(std::string(4097, 'x') + "\n", 0600);
  EXPECT_FALSE(ReadClusterSecrets(path_).ok());
  EXPECT_FALSE(ReadClusterSecrets("/nonexistent/secret").ok());
  EXPECT_FALSE(ReadClusterSecrets("/tmp").ok());
}

}  // namespace
}  // namespace rc::cluster
