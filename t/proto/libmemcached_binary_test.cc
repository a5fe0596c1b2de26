// t/proto/libmemcached_binary_test.cc -- the binary under test driven by libmemcached's C API over
// the *binary* protocol (MEMCACHED_BEHAVIOR_BINARY_PROTOCOL): every operation libmemcached 1.1.4
// offers in binary mode -- set add replace append prepend cas, get and a 100-key mget (GetKQ +
// Noop), delete, increment/decrement and increment/decrement_with_initial (create with the initial
// value, never with exptime 0xffffffff; exptime rules of PROTOCOL.md section 2), touch, flush with
// and without delay, version, stat (and stat sub-keys), verbosity, noreply (the quiet opcodes),
// memcached_exist, keys the text protocol cannot carry, and values near the 1 MB item limit.
// Expectations were taken from stock memcached 1.6.18 (RINGCACHED=/usr/bin/memcached).
//
// libmemcached 1.1.4 has no get-and-touch call (Gat/GatK are covered by binary_bad_input_test.py
// and the transcript test). MEMCACHED_BEHAVIOR_BUFFER_REQUESTS is left out: libmemcached 1.1.4
// loses about a quarter of 200 buffered binary sets even against memcached itself (a client bug).
// The suite's shared server is flushed before each test; tests that compare counters start their
// own server. After every test the server must still be alive.
#include <libmemcached/memcached.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "libmemcached_support.h"
#include "server_process.h"

namespace {

using rctest::RawStats;
using rctest::ServerProcess;
using rctest::StatU64;

// A libmemcached client on one server, binary protocol, every wait bounded.
class Client {
 public:
  explicit Client(int port) : memc_(memcached_create(nullptr)) {
    memcached_server_add(memc_, "127.0.0.1", static_cast<in_port_t>(port));
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 1);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 2000);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 5000);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, 5000000);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_SND_TIMEOUT, 5000000);
    // Never mark the only server dead after one error: the next call must retry.
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 0);
  }
  ~Client() { memcached_free(memc_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  operator memcached_st*() { return memc_; }  // NOLINT: terse calls in tests

  std::string Error() const { return memcached_last_error_message(memc_); }

  memcached_return_t Set(const std::string& k, const std::string& v, time_t exp = 0,
                         uint32_t flags = 0) {
    return memcached_set(memc_, k.data(), k.size(), v.data(), v.size(), exp, flags);
  }

  struct Got {
    memcached_return_t rc;
    std::string value;
    uint32_t flags = 0;
  };
  Got Get(const std::string& k) {
    Got g{};
    size_t len = 0;
    char* v = memcached_get(memc_, k.data(), k.size(), &len, &g.flags, &g.rc);
    if (v != nullptr) {
      g.value.assign(v, len);
      free(v);
    }
    return g;
  }

  // key -> (value, flags, cas) for a multi-get (binary: one GetKQ per key, then a Noop).
  struct Entry {
    std::string value;
    uint32_t flags;
    uint64_t cas;
  };
  std::map<std::string, Entry> MGet(const std::vector<std::string>& keys,
                                    memcached_return_t* rc_out = nullptr) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& k : keys) {
      ptrs.push_back(k.data());
      lens.push_back(k.size());
    }
    std::map<std::string, Entry> out;
    memcached_return_t rc = memcached_mget(memc_, ptrs.data(), lens.data(), keys.size());
    if (rc_out != nullptr) *rc_out = rc;
    if (rc != MEMCACHED_SUCCESS) return out;
    memcached_result_st res;
    memcached_result_create(memc_, &res);
    for (size_t i = 0; i <= keys.size(); ++i) {  // bounded: at most one result per key
      memcached_return_t frc;
      if (memcached_fetch_result(memc_, &res, &frc) == nullptr) break;
      std::string key(memcached_result_key_value(&res), memcached_result_key_length(&res));
      out[key] = {std::string(memcached_result_value(&res), memcached_result_length(&res)),
                  memcached_result_flags(&res), memcached_result_cas(&res)};
    }
    memcached_result_free(&res);
    return out;
  }

  // CAS unique of one key (0 if missing). The binary protocol returns it on every get.
  uint64_t Cas(const std::string& k) {
    auto r = MGet({k});
    return r.count(k) ? r[k].cas : 0;
  }

 private:
  memcached_st* memc_;
};

using LibmemcachedBinaryTest = rctest::LibmemcachedFixture<Client>;

TEST_F(LibmemcachedBinaryTest, Version) {
  ASSERT_EQ(memcached_version(c()), MEMCACHED_SUCCESS) << c().Error();
  const memcached_instance_st* inst = memcached_server_instance_by_position(c(), 0);
  EXPECT_EQ(memcached_server_major_version(inst), 1);
  EXPECT_EQ(memcached_server_minor_version(inst), 6);
}

TEST_F(LibmemcachedBinaryTest, SetGetAndFlags) {
  EXPECT_EQ(c().Set("k1", "abc", 0, 5), MEMCACHED_SUCCESS) << c().Error();
  auto g = c().Get("k1");
  EXPECT_EQ(g.rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(g.value, "abc");
  EXPECT_EQ(g.flags, 5u);
  for (uint32_t flags : {0u, 123u, 65535u, 2147483648u, 4294967295u}) {
    EXPECT_EQ(c().Set("fl", "x", 0, flags), MEMCACHED_SUCCESS);
    EXPECT_EQ(c().Get("fl").flags, flags);
  }
  EXPECT_EQ(c().Get("nokey").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Set("empty", ""), MEMCACHED_SUCCESS);
  g = c().Get("empty");
  EXPECT_EQ(g.rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(g.value, "");
  // Values are length-delimited in the binary protocol: anything goes, including a header.
  // (Split literal: a hex escape is greedy, and "\x00E" would be one byte.)
  const std::string bin("a\r\n\0b\x80\x81\x00\x00" "END\r\n", 14);
  EXPECT_EQ(c().Set("bin", bin), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("bin").value, bin);
  // Overwrite keeps the newest value and flags.
  EXPECT_EQ(c().Set("k1", "second", 0, 9), MEMCACHED_SUCCESS);
  g = c().Get("k1");
  EXPECT_EQ(g.value, "second");
  EXPECT_EQ(g.flags, 9u);
}

TEST_F(LibmemcachedBinaryTest, KeysTheTextProtocolCannotCarry) {
  // The binary protocol carries the key's length, so libmemcached lets spaces and control
  // characters through; the server stores them as opaque bytes (memcached does).
  const std::string k1 = "key with spaces";
  const std::string k2("ctl\r\n\x01key", 9);
  EXPECT_EQ(c().Set(k1, "v1"), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Set(k2, "v2"), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Get(k1).value, "v1");
  EXPECT_EQ(c().Get(k2).value, "v2");
  auto got = c().MGet({k1, k2});
  EXPECT_EQ(got[k1].value, "v1");
  EXPECT_EQ(got[k2].value, "v2");
  EXPECT_EQ(memcached_delete(c(), k1.data(), k1.size(), 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get(k1).rc, MEMCACHED_NOTFOUND);
  // 250 bytes is the longest key; libmemcached refuses 251 itself.
  const std::string k250(250, 'k');
  EXPECT_EQ(c().Set(k250, "x"), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Get(k250).value, "x");
  EXPECT_FALSE(memcached_success(c().Set(std::string(251, 'k'), "x")));
  EXPECT_EQ(c().Set("after_251", "ok"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("after_251").value, "ok");
}

TEST_F(LibmemcachedBinaryTest, AddReplace) {
  EXPECT_EQ(memcached_add(c(), "ar", 2, "a", 1, 0, 0), MEMCACHED_SUCCESS);
  // Binary status 0x0002 (add on an existing key) and 0x0001 (replace on a missing key), as
  // libmemcached reports them.
  EXPECT_EQ(memcached_add(c(), "ar", 2, "b", 1, 0, 0), MEMCACHED_DATA_EXISTS);
  EXPECT_EQ(memcached_replace(c(), "ar", 2, "c", 1, 0, 7), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_replace(c(), "nope", 4, "d", 1, 0, 0), MEMCACHED_NOTFOUND);
  auto g = c().Get("ar");
  EXPECT_EQ(g.value, "c");
  EXPECT_EQ(g.flags, 7u);
  EXPECT_EQ(c().Get("nope").rc, MEMCACHED_NOTFOUND);
  // An expired key is free for add.
  EXPECT_EQ(c().Set("ar_exp", "x", 1000000000), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_add(c(), "ar_exp", 6, "y", 1, 0, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("ar_exp").value, "y");
}

TEST_F(LibmemcachedBinaryTest, AppendPrepend) {
  // Binary status 0x0005 "Not stored." on a missing key.
  EXPECT_EQ(memcached_append(c(), "ap", 2, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
  EXPECT_EQ(memcached_prepend(c(), "ap", 2, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
  EXPECT_EQ(c().Get("ap").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Set("ap", "mm", 0, 7), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_append(c(), "ap", 2, ">>", 2, 99, 9), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_prepend(c(), "ap", 2, "<<", 2, 0, 0), MEMCACHED_SUCCESS);
  auto g = c().Get("ap");
  EXPECT_EQ(g.value, "<<mm>>");
  EXPECT_EQ(g.flags, 7u) << "append/prepend keep the item's flags";
  // Appending to a counter makes it non-numeric.
  EXPECT_EQ(c().Set("ap_n", "12"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_append(c(), "ap_n", 4, "3", 1, 0, 0), MEMCACHED_SUCCESS);
  uint64_t v = 0;
  EXPECT_EQ(memcached_increment(c(), "ap_n", 4, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 124u);
}

TEST_F(LibmemcachedBinaryTest, Cas) {
  // memcached_cas in binary mode is a Set carrying the CAS.
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "x", 1, 0, 0, 12345), MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("c1").rc, MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("c1", "a"), MEMCACHED_SUCCESS);
  uint64_t cas1 = c().Cas("c1");
  ASSERT_NE(cas1, 0u);
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "b", 1, 0, 0, cas1 + 1000), MEMCACHED_DATA_EXISTS);
  EXPECT_EQ(c().Get("c1").value, "a");
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "c", 1, 0, 3, cas1), MEMCACHED_SUCCESS);
  auto g = c().Get("c1");
  EXPECT_EQ(g.value, "c");
  EXPECT_EQ(g.flags, 3u);
  uint64_t cas2 = c().Cas("c1");
  EXPECT_NE(cas2, cas1);
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "d", 1, 0, 0, cas1), MEMCACHED_DATA_EXISTS);
  // Every modification changes the unique; touch does not.
  EXPECT_EQ(memcached_append(c(), "c1", 2, "0", 1, 0, 0), MEMCACHED_SUCCESS);
  uint64_t cas3 = c().Cas("c1");
  EXPECT_NE(cas3, cas2);
  EXPECT_EQ(memcached_touch(c(), "c1", 2, 1000), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Cas("c1"), cas3);
  ASSERT_EQ(c().Set("c1", "5"), MEMCACHED_SUCCESS);
  uint64_t cas4 = c().Cas("c1");
  uint64_t v = 0;
  EXPECT_EQ(memcached_increment(c(), "c1", 2, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_NE(c().Cas("c1"), cas4);
  // A CAS against a deleted item -> not found.
  uint64_t cas5 = c().Cas("c1");
  EXPECT_EQ(memcached_delete(c(), "c1", 2, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "e", 1, 0, 0, cas5), MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedBinaryTest, MultiGet100) {
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    keys.push_back("mget_" + std::to_string(i));
    ASSERT_EQ(c().Set(keys.back(), std::string(static_cast<size_t>(i * 37 % 1000), 'a' + i % 26),
                      0, static_cast<uint32_t>(i)),
              MEMCACHED_SUCCESS);
  }
  std::vector<std::string> asked = keys;
  for (int i = 0; i < 20; ++i) asked.push_back("mget_missing_" + std::to_string(i));
  memcached_return_t rc;
  auto got = c().MGet(asked, &rc);
  ASSERT_EQ(rc, MEMCACHED_SUCCESS) << c().Error();
  ASSERT_EQ(got.size(), 100u) << "GetKQ misses must be silent, hits all answered";
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(got.count(keys[i])) << keys[i];
    EXPECT_EQ(got[keys[i]].value,
              std::string(static_cast<size_t>(i * 37 % 1000), 'a' + i % 26));
    EXPECT_EQ(got[keys[i]].flags, static_cast<uint32_t>(i));
    EXPECT_NE(got[keys[i]].cas, 0u) << keys[i];
  }
  // Only misses: nothing but the final Noop comes back.
  std::vector<std::string> missing(asked.begin() + 100, asked.end());
  got = c().MGet(missing, &rc);
  EXPECT_EQ(rc, MEMCACHED_SUCCESS);
  EXPECT_TRUE(got.empty());
  // The connection is in sync afterwards.
  EXPECT_EQ(c().Get("mget_7").value, std::string(259, 'h'));
}

TEST_F(LibmemcachedBinaryTest, Delete) {
  EXPECT_EQ(memcached_delete(c(), "d1", 2, 0), MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("d1", "x"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_delete(c(), "d1", 2, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("d1").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_delete(c(), "d1", 2, 0), MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedBinaryTest, IncrementDecrement) {
  uint64_t v = 0;
  // Plain increment/decrement send exptime 0xffffffff: a miss is not created.
  EXPECT_EQ(memcached_increment(c(), "i1", 2, 1, &v), MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_decrement(c(), "i1", 2, 1, &v), MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("i1").rc, MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("i1", "10"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c(), "i1", 2, 5, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 15u);
  EXPECT_EQ(memcached_decrement(c(), "i1", 2, 100, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 0u) << "decr floors at 0";
  EXPECT_EQ(c().Get("i1").value, "0 ") << "a shorter number is padded with spaces";
  ASSERT_EQ(c().Set("i2", "18446744073709551615"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c(), "i2", 2, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 0u) << "incr wraps mod 2^64";
  ASSERT_EQ(c().Set("i3", "9"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c(), "i3", 2, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("i3").value, "10");
  ASSERT_EQ(c().Set("i4", "hi"), MEMCACHED_SUCCESS);
  // Binary status 0x0006 (non-numeric value).
  memcached_return_t rc = memcached_increment(c(), "i4", 2, 1, &v);
  EXPECT_FALSE(memcached_success(rc)) << memcached_strerror(c(), rc);
  EXPECT_EQ(c().Get("i4").value, "hi");
  EXPECT_EQ(c().Set("i5", "7"), MEMCACHED_SUCCESS) << "connection in sync after the error";
  EXPECT_EQ(memcached_increment(c(), "i5", 2, 4294967295u, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 4294967302u);
  // Flags survive arithmetic.
  ASSERT_EQ(c().Set("i6", "1", 0, 77), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c(), "i6", 2, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("i6").flags, 77u);
}

TEST_F(LibmemcachedBinaryTest, IncrementDecrementWithInitial) {
  uint64_t v = 0;
  // A miss creates the counter with the initial value; the delta is not applied to it.
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi1", 3, 5, 100, 0, &v), MEMCACHED_SUCCESS)
      << c().Error();
  EXPECT_EQ(v, 100u);
  auto g = c().Get("wi1");
  EXPECT_EQ(g.value, "100");
  EXPECT_EQ(g.flags, 0u);
  // Now it exists: the delta applies, the initial value is ignored.
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi1", 3, 5, 999, 0, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 105u);
  EXPECT_EQ(memcached_decrement_with_initial(c(), "wi1", 3, 200, 999, 0, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(memcached_decrement_with_initial(c(), "wd1", 3, 3, 50, 0, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 50u);
  EXPECT_EQ(c().Get("wd1").value, "50");
  // A 64-bit initial value and delta.
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi64", 4, 1, 18446744073709551615ull, 0, &v),
            MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 18446744073709551615ull);
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi64", 4, 2, 0, 0, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 1u);
  // exptime 0xffffffff (MEMCACHED_EXPIRATION_NOT_ADD): a miss stays a miss.
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi2", 3, 1, 7, MEMCACHED_EXPIRATION_NOT_ADD,
                                             &v),
            MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_decrement_with_initial(c(), "wi2", 3, 1, 7, MEMCACHED_EXPIRATION_NOT_ADD,
                                             &v),
            MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("wi2").rc, MEMCACHED_NOTFOUND);
  // A relative exptime keeps the created counter alive; an absolute one in the past (more than
  // 30 days is a unix time) answers with the initial value but the item is already expired.
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi3", 3, 1, 7, 3600, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 7u);
  EXPECT_EQ(c().Get("wi3").value, "7");
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi4", 3, 1, 8, 1000000000, &v),
            MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 8u);
  EXPECT_EQ(c().Get("wi4").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_increment_with_initial(c(), "wi5", 3, 1, 9, time(nullptr) + 3600, &v),
            MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("wi5").value, "9");
  // On an existing non-numeric value: an error, value untouched.
  ASSERT_EQ(c().Set("wi6", "abc"), MEMCACHED_SUCCESS);
  EXPECT_FALSE(memcached_success(memcached_increment_with_initial(c(), "wi6", 3, 1, 1, 0, &v)));
  EXPECT_EQ(c().Get("wi6").value, "abc");
}

TEST_F(LibmemcachedBinaryTest, Touch) {
  EXPECT_EQ(memcached_touch(c(), "t1", 2, 100), MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("t1", "x", 0, 4), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_touch(c(), "t1", 2, 100), MEMCACHED_SUCCESS);
  auto g = c().Get("t1");
  EXPECT_EQ(g.value, "x");
  EXPECT_EQ(g.flags, 4u);
  // The binary exptime is an unsigned 32-bit field: libmemcached's -1 arrives as 0xffffffff, an
  // absolute time in 2106, so the item stays (memcached realtime()); a past absolute time expires
  // it at once.
  EXPECT_EQ(memcached_touch(c(), "t1", 2, -1), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("t1").value, "x");
  EXPECT_EQ(memcached_touch(c(), "t1", 2, 1000000000), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("t1").rc, MEMCACHED_NOTFOUND);
  // An item with a past absolute exptime is already gone; touch cannot revive it.
  EXPECT_EQ(c().Set("t2", "y", 1000000000), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_touch(c(), "t2", 2, 100), MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedBinaryTest, ExpiryWithoutSleeping) {
  // Binary exptimes are unsigned 32-bit: -1 is 0xffffffff and 0x80000000 is 2^31, both absolute
  // times in the future (2106, 2038), so both items live -- unlike "-1" in the text protocol.
  EXPECT_EQ(c().Set("ex_neg", "x", -1), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_2038", "x", 2147483648LL), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_past", "x", 1000000000), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_31d", "x", 2678400), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_30d", "x", 2592000), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_future", "x", time(nullptr) + 3600), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("ex_neg").value, "x");
  EXPECT_EQ(c().Get("ex_2038").value, "x");
  EXPECT_EQ(c().Get("ex_past").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("ex_31d").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("ex_30d").value, "x");
  EXPECT_EQ(c().Get("ex_future").value, "x");
}

TEST_F(LibmemcachedBinaryTest, Exist) {
  // In binary mode memcached_exist sends an Add with exptime 2678400 (an absolute time in 1970,
  // already expired): "exists" means Add failed; otherwise nothing visible may remain.
  ASSERT_EQ(c().Set("here", "x"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_exist(c(), "here", 4), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_exist(c(), "absent", 6), MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("absent").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("here").value, "x");
}

TEST_F(LibmemcachedBinaryTest, FlushNowAndDelayed) {
  ASSERT_EQ(c().Set("f1", "x"), MEMCACHED_SUCCESS);
  ASSERT_EQ(c().Set("f2", "y"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_flush(c(), 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("f1").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("f2").rc, MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("f3", "z"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("f3").value, "z") << "items set after a flush survive it";
  // Flush with 4 bytes of extras (the delay): nothing goes now, everything once it passed.
  EXPECT_EQ(memcached_flush(c(), 2), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("f3").value, "z") << "a delayed flush must not act at once";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  memcached_return_t rc = MEMCACHED_SUCCESS;
  while (std::chrono::steady_clock::now() < deadline) {
    rc = c().Get("f3").rc;
    if (rc == MEMCACHED_NOTFOUND) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(rc, MEMCACHED_NOTFOUND) << "flush with delay 2 had not taken effect after 5 s";
  // Items set after it fired survive (one-second resolution: retry for up to 3 s).
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::string got;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(c().Set("f4", "w"), MEMCACHED_SUCCESS);
    got = c().Get("f4").value;
    if (got == "w") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got, "w") << "items set after a delayed flush fired must survive";
}

TEST_F(LibmemcachedBinaryTest, Verbosity) {
  // memcached 1.6 does not implement the binary verbosity opcode (0x1b) and answers "Unknown
  // command"; libmemcached 1.1.4 reports success all the same. Either way the connection must
  // stay usable.
  EXPECT_EQ(memcached_verbosity(c(), 1), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Set("after_verbosity", "x"), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Get("after_verbosity").value, "x");
}

TEST_F(LibmemcachedBinaryTest, NoReplyUsesQuietOpcodes) {
  // With NOREPLY libmemcached sends SetQ/AddQ/AppendQ/PrependQ/DeleteQ/FlushQ and reads nothing
  // back. Only commands that succeed are sent here: memcached answers a failing quiet command
  // with an error packet, which libmemcached 1.1.4 does not drain (the next call then fails even
  // against memcached); binary_bad_input_test.py checks those replies byte for byte.
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 1);
  for (int i = 0; i < 50; ++i) {
    std::string k = "nr_" + std::to_string(i);
    EXPECT_TRUE(memcached_success(c().Set(k, "v" + std::to_string(i))));
  }
  EXPECT_TRUE(memcached_success(memcached_append(c(), "nr_1", 4, "+", 1, 0, 0)));
  EXPECT_TRUE(memcached_success(memcached_prepend(c(), "nr_2", 4, "-", 1, 0, 0)));
  EXPECT_TRUE(memcached_success(memcached_replace(c(), "nr_4", 4, "r", 1, 0, 0)));
  EXPECT_TRUE(memcached_success(memcached_delete(c(), "nr_3", 4, 0)));
  EXPECT_TRUE(memcached_success(memcached_add(c(), "nr_new", 6, "n", 1, 0, 0)));
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 0);
  ASSERT_EQ(memcached_version(c()), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Get("nr_0").value, "v0");
  EXPECT_EQ(c().Get("nr_1").value, "v1+");
  EXPECT_EQ(c().Get("nr_2").value, "-v2");
  EXPECT_EQ(c().Get("nr_3").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("nr_4").value, "r");
  EXPECT_EQ(c().Get("nr_new").value, "n");
  for (int i = 5; i < 50; ++i) {
    EXPECT_EQ(c().Get("nr_" + std::to_string(i)).value, "v" + std::to_string(i));
  }
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 1);
  EXPECT_TRUE(memcached_success(memcached_flush(c(), 0)));
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 0);
  ASSERT_EQ(memcached_version(c()), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("nr_0").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Set("nr_after", "ok"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("nr_after").value, "ok");
}

TEST_F(LibmemcachedBinaryTest, LargeValuesNearOneMegabyte) {
  // The limit covers the whole item (key + header + value): 1 MB - 512 stores.
  for (size_t size : {1024u, 65536u, 500000u, 1000000u, 1047552u, 1048064u}) {
    std::string v(size, static_cast<char>('A' + size % 26));
    v[0] = '<';
    v[size - 1] = '>';
    ASSERT_EQ(c().Set("big", v), MEMCACHED_SUCCESS) << "size " << size << ": " << c().Error();
    auto g = c().Get("big");
    ASSERT_EQ(g.rc, MEMCACHED_SUCCESS) << "size " << size;
    EXPECT_TRUE(g.value == v) << "size " << size << " came back as " << g.value.size() << " bytes";
  }
  // Too large: binary status 0x0003 (E2BIG), the value is swallowed (the connection stays in
  // sync) and the old value under that key is gone.
  memcached_return_t rc = c().Set("big", std::string(1048577, 'B'));
  EXPECT_EQ(rc, MEMCACHED_E2BIG) << memcached_strerror(c(), rc);
  EXPECT_EQ(c().Get("big").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Set("after_big", "ok"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("after_big").value, "ok");
  EXPECT_EQ(c().Set("big2", std::string(2 * 1048576, 'C')), MEMCACHED_E2BIG);
  EXPECT_EQ(c().Get("after_big").value, "ok");
  // Append past the limit fails and leaves the item as it was.
  std::string near(1040000, 'n');
  ASSERT_EQ(c().Set("grow", near), MEMCACHED_SUCCESS);
  EXPECT_FALSE(memcached_success(memcached_append(c(), "grow", 4, near.data(), 20000, 0, 0)));
  EXPECT_EQ(c().Get("grow").value.size(), near.size());
}

TEST_F(LibmemcachedBinaryTest, QuitThenReconnect) {
  ASSERT_EQ(c().Set("q", "1"), MEMCACHED_SUCCESS);
  memcached_quit(c());  // binary Quit
  EXPECT_EQ(c().Get("q").value, "1") << "libmemcached reconnects after quit";
}

// Counters need a server nobody else talks to. Expected numbers observed from memcached 1.6.18.
TEST(LibmemcachedBinaryStats, CountersAndSubkeys) {
  ServerProcess srv;
  ASSERT_EQ(srv.Start(), "");
  Client c(srv.port());
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.Set("s" + std::to_string(i), "vv"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("s0").rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("s1").rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("missing").rc, MEMCACHED_NOTFOUND);
  auto mg = c.MGet({"s2", "s3", "nope1", "nope2"});  // GetKQ: each key counts
  EXPECT_EQ(mg.size(), 2u);
  EXPECT_EQ(memcached_delete(c, "s4", 2, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_delete(c, "s4", 2, 0), MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_touch(c, "s0", 2, 100), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_touch(c, "nope", 4, 100), MEMCACHED_NOTFOUND);
  uint64_t v;
  ASSERT_EQ(c.Set("n", "1"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c, "n", 1, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_decrement(c, "nn", 2, 1, &v), MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_increment_with_initial(c, "created", 7, 1, 5, 0, &v), MEMCACHED_SUCCESS);

  memcached_return_t rc;
  memcached_stat_st* st = memcached_stat(c, nullptr, &rc);
  ASSERT_EQ(rc, MEMCACHED_SUCCESS) << c.Error();
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->pid, static_cast<pid_t>(srv.pid()));
  EXPECT_EQ(st->curr_items, 6u);   // s0..s3, n, created
  EXPECT_EQ(st->total_items, 7u);  // 6 sets + the counter created by incr
  EXPECT_EQ(st->cmd_get, 7u);
  EXPECT_EQ(st->get_hits, 4u);
  EXPECT_EQ(st->get_misses, 3u);
  EXPECT_EQ(st->cmd_set, 6u);
  EXPECT_EQ(st->limit_maxbytes, 64u * 1024 * 1024);
  EXPECT_EQ(st->threads, 4u);
  EXPECT_EQ(std::string(st->version), "1.6.18");
  memcached_stat_free(c, st);

  auto raw = RawStats(c, nullptr);
  EXPECT_EQ(StatU64(raw, "delete_hits"), 1u);
  EXPECT_EQ(StatU64(raw, "delete_misses"), 1u);
  EXPECT_EQ(StatU64(raw, "touch_hits"), 1u);
  EXPECT_EQ(StatU64(raw, "touch_misses"), 1u);
  EXPECT_EQ(StatU64(raw, "cmd_touch"), 2u);
  EXPECT_EQ(StatU64(raw, "incr_hits"), 1u);
  // memcached counts a binary incr miss only when it does not create the counter (exptime
  // 0xffffffff); the miss that created "created" is not counted (proto_bin.c complete_incr_bin).
  EXPECT_EQ(StatU64(raw, "incr_misses"), 0u);
  EXPECT_EQ(StatU64(raw, "decr_misses"), 1u);
  EXPECT_EQ(StatU64(raw, "curr_items"), 6u);
  EXPECT_GE(StatU64(raw, "bytes_read"), 24u * 20);
  EXPECT_EQ(raw.size(), 92u) << "a binary `stat` lists the same 92 keys as text `stats`";

  auto settings = RawStats(c, "settings");
  EXPECT_EQ(settings["maxbytes"], "67108864");
  EXPECT_EQ(settings["tcpport"], std::to_string(srv.port()));
  EXPECT_EQ(settings["binding_protocol"], "auto-negotiate");
  EXPECT_EQ(settings["item_size_max"], "1048576");
  EXPECT_FALSE(RawStats(c, "items").empty());
  EXPECT_FALSE(RawStats(c, "slabs").empty());
  auto sizes = RawStats(c, "sizes");
  EXPECT_EQ(sizes["sizes_status"], "disabled");
  // An unknown sub-key answers 0x0001 (not found), which libmemcached 1.1.4 reports as an
  // empty success; the exact packet is checked by binary_bad_input_test.py.
  memcached_return_t bad_rc;
  EXPECT_TRUE(RawStats(c, "bogus", &bad_rc).empty());
  EXPECT_EQ(c.Set("after_bogus", "x"), MEMCACHED_SUCCESS) << "in sync after the error packet";
  // reset zeroes the counters.
  RawStats(c, "reset");
  raw = RawStats(c, nullptr);
  EXPECT_EQ(StatU64(raw, "get_hits"), 0u);
  EXPECT_EQ(StatU64(raw, "cmd_set"), 0u);
  EXPECT_EQ(StatU64(raw, "curr_items"), 7u) << "reset leaves the items alone";

  EXPECT_EQ(memcached_flush(c, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("s1").rc, MEMCACHED_NOTFOUND);
  raw = RawStats(c, nullptr);
  EXPECT_EQ(StatU64(raw, "cmd_flush"), 1u);
  EXPECT_TRUE(srv.CheckAlive());
  EXPECT_TRUE(srv.Stop());
}

// -B binary: only the binary protocol is served, and libmemcached's binary mode works with it.
TEST(LibmemcachedBinaryOnly, BinaryProtocolOnlyServer) {
  ServerProcess srv({"-B", "binary"});
  ASSERT_EQ(srv.Start(), "");
  Client c(srv.port());
  ASSERT_EQ(c.Set("b", "1"), MEMCACHED_SUCCESS) << c.Error();
  EXPECT_EQ(c.Get("b").value, "1");
  uint64_t v = 0;
  EXPECT_EQ(memcached_increment(c, "b", 1, 41, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 42u);
  auto settings = RawStats(c, "settings");
  EXPECT_EQ(settings["binding_protocol"], "binary");
  EXPECT_TRUE(srv.CheckAlive());
  EXPECT_TRUE(srv.Stop());
}

}  // namespace
