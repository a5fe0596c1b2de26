// t/unit/cluster/key_hash_test.cc -- MD5 against RFC 1321's own test suite, and the three client
// key hashes against KETAMA.md appendix A and every row of ../shared/testdata/ketama/hashes.csv
// (values from libhashkit_digest on x86-64, signed-char quirk included).
#include "cluster/key_hash.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cluster/md5.h"
#include "ketama_vectors.h"

namespace rc::cluster {
namespace {

std::string Hex(const Md5Digest& d) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : d) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

TEST(Md5Test, MatchesRfc1321TestSuite) {
  // RFC 1321 appendix A.5.
  EXPECT_EQ(Hex(Md5("")), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Hex(Md5("a")), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(Hex(Md5("abc")), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Hex(Md5("message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(Hex(Md5("abcdefghijklmnopqrstuvwxyz")), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(Hex(Md5("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(Hex(Md5("1234567890123456789012345678901234567890123456789012345678901234567890"
                    "1234567890")),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(Md5Test, PaddingBoundariesAroundOneAndTwoBlocks) {
  // Lengths 55/56 (the length field just fits / spills into a second block) and 63/64/65.
  EXPECT_EQ(Hex(Md5(std::string(55, 'a'))), "ef1772b6dff9a122358552954ad0df65");
  EXPECT_EQ(Hex(Md5(std::string(56, 'a'))), "3b0c8ac703f828b04c6c197006d17218");
  EXPECT_EQ(Hex(Md5(std::string(63, 'a'))), "b06521f39153d618550606be297466d5");
  EXPECT_EQ(Hex(Md5(std::string(64, 'a'))), "014842d480b571495a4a0363793f7367");
  EXPECT_EQ(Hex(Md5(std::string(65, 'a'))), "c743a45e0d2e6a95cb859adae0248435");
}

TEST(Md5Test, WordsAreLittleEndian) {
  // KETAMA.md section 2.8: MD5("127.0.0.1-0") = 7fa4ffbd 6ecb7eac bb1b8030 b2f4e0ff.
  const Md5Digest d = Md5("127.0.0.1-0");
  EXPECT_EQ(Hex(d), "7fa4ffbd6ecb7eacbb1b8030b2f4e0ff");
  EXPECT_EQ(Md5Word(d, 0), 3187647615u);
  EXPECT_EQ(Md5Word(d, 1), 2893990766u);
  EXPECT_EQ(Md5Word(d, 2), 813702075u);
  EXPECT_EQ(Md5Word(d, 3), 4292932786u);
}

TEST(KeyHashTest, AppendixAExamples) {
  EXPECT_EQ(Md5KeyHash("key:0"), 2192279263u);
  EXPECT_EQ(OneAtATimeKeyHash("key:0"), 3235172033u);
  EXPECT_EQ(Fnv1a64KeyHash("key:0"), 2519685398u);
  EXPECT_EQ(Md5KeyHash("foo"), 3675831724u);
  EXPECT_EQ(OneAtATimeKeyHash("foo"), 596015325u);
  EXPECT_EQ(Fnv1a64KeyHash("foo"), 4275688823u);
}

TEST(KeyHashTest, HighBytesAreSignExtendedAsOnX86) {
  // One byte 0xE9: unsigned-char implementations give a different value.
  const std::string key = "\xe9";
  std::uint32_t unsigned_fnv = 0x84222325u;
  unsigned_fnv ^= 0xe9u;
  unsigned_fnv *= 0x1b3u;
  std::uint32_t signed_fnv = 0x84222325u;
  signed_fnv ^= 0xffffffe9u;
  signed_fnv *= 0x1b3u;
  EXPECT_EQ(Fnv1a64KeyHash(key), signed_fnv);
  EXPECT_NE(Fnv1a64KeyHash(key), unsigned_fnv);
}

TEST(KeyHashTest, EveryRowOfHashesCsv) {
  const auto dir = testing::KetamaVectorDir();
  const testing::CsvTable t = testing::ReadCsv(dir / "hashes.csv");
  const auto keys = testing::LoadKeys();
  const std::size_t id = t.Column("key_id");
  const std::size_t hex = t.Column("key_hex");
  const std::size_t md5 = t.Column("md5");
  const std::size_t oaat = t.Column("one_at_a_time");
  const std::size_t fnv = t.Column("fnv1a_64");
  std::size_t md5_ok = 0;
  std::size_t oaat_ok = 0;
  std::size_t fnv_ok = 0;
  std::size_t key_ok = 0;
  for (const auto& row : t.rows) {
    const std::string key = testing::FromHex(row[hex]);
    key_ok += keys.at(testing::ToUint32(row[id])) == key;
    md5_ok += Md5KeyHash(key) == testing::ToUint32(row[md5]);
    oaat_ok += OneAtATimeKeyHash(key) == testing::ToUint32(row[oaat]);
    fnv_ok += Fnv1a64KeyHash(key) == testing::ToUint32(row[fnv]);
  }
  const std::size_t n = t.rows.size();
  std::printf(
      "[agreement] hashes.csv: md5 %zu/%zu, one_at_a_time %zu/%zu, fnv1a_64 %zu/%zu "
      "(key bytes as in keys.csv %zu/%zu)\n",
      md5_ok, n, oaat_ok, n, fnv_ok, n, key_ok, n);
  EXPECT_EQ(n, keys.size());
  EXPECT_EQ(key_ok, n);
  EXPECT_EQ(md5_ok, n);
  EXPECT_EQ(oaat_ok, n);
  EXPECT_EQ(fnv_ok, n);
}

}  // namespace
}  // namespace rc::cluster
