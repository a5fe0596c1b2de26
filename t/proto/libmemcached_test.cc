// t/proto/libmemcached_test.cc -- the binary under test driven by libmemcached's C API over the
// text protocol: every text command libmemcached can send (set add replace append prepend cas,
// get/gets via mget+fetch, delete, incr decr, touch, flush_all with and without delay, version,
// verbosity, stats, quit, and the `add <key> 0 2678400 0` probe behind memcached_exist), plus
// noreply, values near the 1 MB item limit, expiry by negative and
// past absolute exptime (PROTOCOL.md sections 2 and 3) and key length limits.
//
// Not covered here: increment/decrement_with_initial (binary protocol only); memcached_dump
// (`stats cachedump` walks memcached's slab classes and COLD LRU; the transcript test covers it);
// MEMCACHED_BEHAVIOR_BUFFER_REQUESTS (libmemcached 1.1.4 closes its own connection midway through
// 200 buffered ASCII sets even against memcached itself, losing most of them: a client bug).
//
// Each test gets a fresh client on the suite's shared server and flushes it first; tests that
// compare counters start their own server so nothing else moves the numbers. After every test the
// server must still be alive (a crash fails loudly).
#include <libmemcached/memcached.h>

#include <chrono>
#include <cstdint>
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

// A libmemcached client on one server, ASCII protocol, with every wait bounded.
class Client {
 public:
  explicit Client(int port) : memc_(memcached_create(nullptr)) {
    memcached_server_add(memc_, "127.0.0.1", static_cast<in_port_t>(port));
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_BINARY_PROTOCOL, 0);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT, 2000);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_POLL_TIMEOUT, 5000);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_RCV_TIMEOUT, 5000000);
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_SND_TIMEOUT, 5000000);
    // Never mark the only server dead for a while after one error: the next call must retry.
    memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT, 0);
  }
  ~Client() { memcached_free(memc_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  memcached_st* get() { return memc_; }
  operator memcached_st*() { return memc_; }  // NOLINT: terse calls in tests

  std::string Error() const { return memcached_last_error_message(memc_); }

  memcached_return_t Set(const std::string& k, const std::string& v, time_t exp = 0,
                         uint32_t flags = 0) {
    return memcached_set(memc_, k.data(), k.size(), v.data(), v.size(), exp, flags);
  }

  // {rc, value, flags} of a get.
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

  // key -> (value, cas) for a multi-get of keys (gets when CAS support is on).
  using Results = std::map<std::string, std::pair<std::string, uint64_t>>;
  Results MGet(const std::vector<std::string>& keys, memcached_return_t* rc_out = nullptr) {
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& k : keys) {
      ptrs.push_back(k.data());
      lens.push_back(k.size());
    }
    Results out;
    memcached_return_t rc = memcached_mget(memc_, ptrs.data(), lens.data(), keys.size());
    if (rc_out != nullptr) *rc_out = rc;
    if (rc != MEMCACHED_SUCCESS) return out;
    // A caller-owned result: libmemcached frees results it allocated itself when the fetch ends.
    memcached_result_st res;
    memcached_result_create(memc_, &res);
    for (size_t i = 0; i <= keys.size(); ++i) {  // bounded: at most one result per key
      memcached_return_t frc;
      if (memcached_fetch_result(memc_, &res, &frc) == nullptr) break;
      std::string key(memcached_result_key_value(&res), memcached_result_key_length(&res));
      out[key] = {std::string(memcached_result_value(&res), memcached_result_length(&res)),
                  memcached_result_cas(&res)};
    }
    memcached_result_free(&res);
    return out;
  }

  // CAS unique of one key (0 if missing), via gets.
  uint64_t Cas(const std::string& k) {
    auto r = MGet({k});
    return r.count(k) ? r[k].second : 0;
  }

 private:
  memcached_st* memc_;
};

using LibmemcachedTest = rctest::LibmemcachedFixture<Client>;

TEST_F(LibmemcachedTest, Version) {
  ASSERT_EQ(memcached_version(c()), MEMCACHED_SUCCESS) << c().Error();
  const memcached_instance_st* inst = memcached_server_instance_by_position(c(), 0);
  // memccapable and libmemcached apply 1.6 behaviour only to a server that says 1.6.x.
  EXPECT_EQ(memcached_server_major_version(inst), 1);
  EXPECT_EQ(memcached_server_minor_version(inst), 6);
}

TEST_F(LibmemcachedTest, SetGetAndFlags) {
  EXPECT_EQ(c().Set("k1", "abc", 0, 5), MEMCACHED_SUCCESS);
  auto g = c().Get("k1");
  EXPECT_EQ(g.rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(g.value, "abc");
  EXPECT_EQ(g.flags, 5u);
  // Flags are 32-bit unsigned and echoed back (t/flags.t).
  for (uint32_t flags : {0u, 123u, 65535u, 2147483648u, 4294967295u}) {
    EXPECT_EQ(c().Set("fl", "x", 0, flags), MEMCACHED_SUCCESS);
    EXPECT_EQ(c().Get("fl").flags, flags);
  }
  EXPECT_EQ(c().Get("nokey").rc, MEMCACHED_NOTFOUND);
  // Zero-length and binary-safe values.
  EXPECT_EQ(c().Set("empty", ""), MEMCACHED_SUCCESS);
  g = c().Get("empty");
  EXPECT_EQ(g.rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(g.value, "");
  const std::string bin("a\r\n\0b\r\nEND\r\n", 12);
  EXPECT_EQ(c().Set("bin", bin), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("bin").value, bin);
}

TEST_F(LibmemcachedTest, AddReplace) {
  EXPECT_EQ(memcached_add(c(), "ar", 2, "a", 1, 0, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_add(c(), "ar", 2, "b", 1, 0, 0), MEMCACHED_NOTSTORED);
  EXPECT_EQ(memcached_replace(c(), "ar", 2, "c", 1, 0, 7), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_replace(c(), "nope", 4, "d", 1, 0, 0), MEMCACHED_NOTSTORED);
  auto g = c().Get("ar");
  EXPECT_EQ(g.value, "c");
  EXPECT_EQ(g.flags, 7u);
  EXPECT_EQ(c().Get("nope").rc, MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedTest, AppendPrepend) {
  EXPECT_EQ(memcached_append(c(), "ap", 2, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
  EXPECT_EQ(memcached_prepend(c(), "ap", 2, "x", 1, 0, 0), MEMCACHED_NOTSTORED);
  EXPECT_EQ(c().Get("ap").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Set("ap", "mm", 0, 7), MEMCACHED_SUCCESS);
  // append/prepend ignore their flags and exptime (t/append.t; the transcript's "append ap 9 99").
  EXPECT_EQ(memcached_append(c(), "ap", 2, ">>", 2, 99, 9), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_prepend(c(), "ap", 2, "<<", 2, 0, 0), MEMCACHED_SUCCESS);
  auto g = c().Get("ap");
  EXPECT_EQ(g.value, "<<mm>>");
  EXPECT_EQ(g.flags, 7u);
}

TEST_F(LibmemcachedTest, GetsAndCas) {
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
  // cas on a missing key -> NOT_FOUND.
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "x", 1, 0, 0, 12345), MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("c1", "a"), MEMCACHED_SUCCESS);
  uint64_t cas1 = c().Cas("c1");
  ASSERT_NE(cas1, 0u) << "gets must return a non-zero CAS unique";
  // Wrong unique -> EXISTS; right one -> STORED and a new unique.
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "b", 1, 0, 0, cas1 + 1000), MEMCACHED_DATA_EXISTS);
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "c", 1, 0, 3, cas1), MEMCACHED_SUCCESS);
  auto g = c().Get("c1");
  EXPECT_EQ(g.value, "c");
  EXPECT_EQ(g.flags, 3u);
  uint64_t cas2 = c().Cas("c1");
  EXPECT_NE(cas2, cas1);
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "d", 1, 0, 0, cas1), MEMCACHED_DATA_EXISTS);
  // Every modification changes the unique: set, append, prepend, incr, touch-free paths.
  ASSERT_EQ(c().Set("c1", "1"), MEMCACHED_SUCCESS);
  uint64_t cas3 = c().Cas("c1");
  EXPECT_NE(cas3, cas2);
  EXPECT_EQ(memcached_append(c(), "c1", 2, "0", 1, 0, 0), MEMCACHED_SUCCESS);
  uint64_t cas4 = c().Cas("c1");
  EXPECT_NE(cas4, cas3);
  uint64_t v = 0;
  EXPECT_EQ(memcached_increment(c(), "c1", 2, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 11u);
  EXPECT_NE(c().Cas("c1"), cas4);
  // A cas against a deleted item -> NOT_FOUND.
  uint64_t cas5 = c().Cas("c1");
  EXPECT_EQ(memcached_delete(c(), "c1", 2, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_cas(c(), "c1", 2, "e", 1, 0, 0, cas5), MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedTest, MultiGet100) {
  std::vector<std::string> keys;
  for (int i = 0; i < 100; ++i) {
    keys.push_back("mget_" + std::to_string(i));
    ASSERT_EQ(c().Set(keys.back(), std::string(static_cast<size_t>(i * 37 % 1000), 'a' + i % 26), 0,
                      static_cast<uint32_t>(i)),
              MEMCACHED_SUCCESS);
  }
  std::vector<std::string> asked = keys;
  for (int i = 0; i < 20; ++i) asked.push_back("mget_missing_" + std::to_string(i));
  memcached_return_t rc;
  auto got = c().MGet(asked, &rc);
  ASSERT_EQ(rc, MEMCACHED_SUCCESS) << c().Error();
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(got.count(keys[i])) << keys[i];
    EXPECT_EQ(got[keys[i]].first, std::string(static_cast<size_t>(i * 37 % 1000), 'a' + i % 26));
  }
  // The same through gets: every value carries a non-zero unique.
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_SUPPORT_CAS, 1);
  got = c().MGet(asked, &rc);
  ASSERT_EQ(got.size(), 100u);
  for (const auto& [k, v] : got) EXPECT_NE(v.second, 0u) << k;
}

TEST_F(LibmemcachedTest, Delete) {
  EXPECT_EQ(memcached_delete(c(), "d1", 2, 0), MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("d1", "x"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_delete(c(), "d1", 2, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("d1").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_delete(c(), "d1", 2, 0), MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedTest, IncrementDecrement) {
  uint64_t v = 0;
  EXPECT_EQ(memcached_increment(c(), "i1", 2, 1, &v), MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_decrement(c(), "i1", 2, 1, &v), MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("i1", "10"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c(), "i1", 2, 5, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 15u);
  EXPECT_EQ(memcached_decrement(c(), "i1", 2, 100, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 0u) << "decr floors at 0";
  // The shorter number keeps the value's length, right-padded with spaces (PROTOCOL.md 2).
  EXPECT_EQ(c().Get("i1").value, "0 ");
  ASSERT_EQ(c().Set("i2", "18446744073709551615"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c(), "i2", 2, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 0u) << "incr wraps mod 2^64";
  ASSERT_EQ(c().Set("i3", "9"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c(), "i3", 2, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 10u);
  EXPECT_EQ(c().Get("i3").value, "10") << "a longer number grows the value";
  ASSERT_EQ(c().Set("i4", "hi"), MEMCACHED_SUCCESS);
  memcached_return_t rc = memcached_increment(c(), "i4", 2, 1, &v);
  EXPECT_EQ(rc, MEMCACHED_CLIENT_ERROR) << memcached_strerror(c(), rc);
  EXPECT_EQ(c().Get("i4").value, "hi");
  // The connection is still in sync after the error.
  EXPECT_EQ(c().Set("i5", "7"), MEMCACHED_SUCCESS);
  // The C API takes a 32-bit delta.
  EXPECT_EQ(memcached_increment(c(), "i5", 2, 4294967295u, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(v, 4294967302u);
}

TEST_F(LibmemcachedTest, Touch) {
  EXPECT_EQ(memcached_touch(c(), "t1", 2, 100), MEMCACHED_NOTFOUND);
  ASSERT_EQ(c().Set("t1", "x"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_touch(c(), "t1", 2, 100), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("t1").value, "x");
  // Touching with a negative exptime expires the item at once.
  EXPECT_EQ(memcached_touch(c(), "t1", 2, -1), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("t1").rc, MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedTest, ExpiryWithoutSleeping) {
  // Negative = expired; > 30 days = absolute unix time (here in the past) = expired;
  // exactly 30 days = relative, alive (PROTOCOL.md section 2).
  EXPECT_EQ(c().Set("ex_neg", "x", -1), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_past", "x", 1000000000), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_31d", "x", 2678400), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_30d", "x", 2592000), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Set("ex_future", "x", time(nullptr) + 3600), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("ex_neg").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("ex_past").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("ex_31d").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("ex_30d").value, "x");
  EXPECT_EQ(c().Get("ex_future").value, "x");
  // An expired key is free for add.
  EXPECT_EQ(memcached_add(c(), "ex_neg", 6, "y", 1, 0, 0), MEMCACHED_SUCCESS);
}

TEST_F(LibmemcachedTest, ExistProbe) {
  // memcached_exist sends `add <key> 0 2678400 0` (an already-expired item): NOT_STORED means the
  // key exists, STORED means it does not -- and must leave nothing visible behind.
  ASSERT_EQ(c().Set("here", "x"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_exist(c(), "here", 4), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_exist(c(), "absent", 6), MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("absent").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("here").value, "x");
}

TEST_F(LibmemcachedTest, FlushNowAndDelayed) {
  ASSERT_EQ(c().Set("f1", "x"), MEMCACHED_SUCCESS);
  ASSERT_EQ(c().Set("f2", "y"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_flush(c(), 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("f1").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("f2").rc, MEMCACHED_NOTFOUND);
  // Items set after a flush survive it.
  ASSERT_EQ(c().Set("f3", "z"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("f3").value, "z");
  // A delayed flush leaves everything readable now and invalidates it once the delay passed.
  EXPECT_EQ(memcached_flush(c(), 2), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("f3").value, "z") << "flush_all 2 must not act at once";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  memcached_return_t rc = MEMCACHED_SUCCESS;
  while (std::chrono::steady_clock::now() < deadline) {
    rc = c().Get("f3").rc;
    if (rc == MEMCACHED_NOTFOUND) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(rc, MEMCACHED_NOTFOUND) << "flush_all 2 had not taken effect after 5 s";
  // Items set after the delayed flush took effect survive it. memcached's cut-off has one-second
  // resolution here (item time <= flush time; the exact CAS cut-off only applies to an immediate
  // flush_all), so an item set within the same second may vanish too: retry for up to 3 s. This
  // also keeps the flush from leaking into the next test.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::string got;
  while (std::chrono::steady_clock::now() < deadline) {
    ASSERT_EQ(c().Set("f4", "w"), MEMCACHED_SUCCESS);
    got = c().Get("f4").value;
    if (got == "w") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got, "w") << "items set after a delayed flush_all fired must survive";
}

TEST_F(LibmemcachedTest, Verbosity) {
  EXPECT_EQ(memcached_verbosity(c(), 1), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(memcached_verbosity(c(), 0), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Set("after_verbosity", "x"), MEMCACHED_SUCCESS);
}

TEST_F(LibmemcachedTest, NoReply) {
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 1);
  for (int i = 0; i < 50; ++i) {
    std::string k = "nr_" + std::to_string(i);
    EXPECT_TRUE(memcached_success(c().Set(k, "v" + std::to_string(i))));
  }
  // Failing commands send nothing back either, and must not desynchronise the stream.
  EXPECT_TRUE(memcached_success(memcached_add(c(), "nr_0", 4, "zz", 2, 0, 0)));
  EXPECT_TRUE(memcached_success(memcached_replace(c(), "nr_missing", 10, "zz", 2, 0, 0)));
  EXPECT_TRUE(memcached_success(memcached_append(c(), "nr_1", 4, "+", 1, 0, 0)));
  EXPECT_TRUE(memcached_success(memcached_prepend(c(), "nr_2", 4, "-", 1, 0, 0)));
  EXPECT_TRUE(memcached_success(memcached_delete(c(), "nr_3", 4, 0)));
  EXPECT_TRUE(memcached_success(memcached_delete(c(), "nr_missing", 10, 0)));
  EXPECT_TRUE(memcached_success(memcached_add(c(), "nr_new", 6, "n", 1, 0, 0)));
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 0);
  // version is answered, so everything before it was processed.
  ASSERT_EQ(memcached_version(c()), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Get("nr_0").value, "v0");
  EXPECT_EQ(c().Get("nr_1").value, "v1+");
  EXPECT_EQ(c().Get("nr_2").value, "-v2");
  EXPECT_EQ(c().Get("nr_3").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("nr_missing").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Get("nr_new").value, "n");
  for (int i = 4; i < 50; ++i) {
    EXPECT_EQ(c().Get("nr_" + std::to_string(i)).value, "v" + std::to_string(i));
  }
  // flush_all with noreply.
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 1);
  EXPECT_TRUE(memcached_success(memcached_flush(c(), 0)));
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_NOREPLY, 0);
  ASSERT_EQ(memcached_version(c()), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("nr_0").rc, MEMCACHED_NOTFOUND);
}

TEST_F(LibmemcachedTest, LargeValuesNearOneMegabyte) {
  // The limit covers the whole item (key + header + value): 1 MB - 512 stores (t/getset.t).
  for (size_t size : {1024u, 65536u, 500000u, 1000000u, 1047552u, 1048064u}) {
    std::string v(size, static_cast<char>('A' + size % 26));
    v[0] = '<';
    v[size - 1] = '>';
    ASSERT_EQ(c().Set("big", v), MEMCACHED_SUCCESS) << "size " << size << ": " << c().Error();
    auto g = c().Get("big");
    ASSERT_EQ(g.rc, MEMCACHED_SUCCESS) << "size " << size;
    EXPECT_TRUE(g.value == v) << "size " << size << " came back as " << g.value.size() << " bytes";
  }
  // Over the limit: an error, the data is swallowed (the connection stays in sync) and the old
  // value under that key is gone (t/getset.t).
  memcached_return_t rc = c().Set("big", std::string(1048577, 'B'));
  EXPECT_FALSE(memcached_success(rc)) << "a 1048577-byte value must not store";
  EXPECT_TRUE(rc == MEMCACHED_E2BIG || rc == MEMCACHED_SERVER_ERROR) << memcached_strerror(c(), rc);
  EXPECT_EQ(c().Get("big").rc, MEMCACHED_NOTFOUND);
  EXPECT_EQ(c().Set("after_big", "ok"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("after_big").value, "ok");
  EXPECT_FALSE(memcached_success(c().Set("big2", std::string(2 * 1048576, 'C'))));
  EXPECT_EQ(c().Get("after_big").value, "ok");
}

TEST_F(LibmemcachedTest, KeyLength) {
  const std::string k250(250, 'k');
  EXPECT_EQ(c().Set(k250, "x"), MEMCACHED_SUCCESS) << c().Error();
  EXPECT_EQ(c().Get(k250).value, "x");
  EXPECT_EQ(memcached_delete(c(), k250.data(), k250.size(), 0), MEMCACHED_SUCCESS);
  // libmemcached refuses a 251-byte key itself; with key verification off it still checks the
  // length, so the server never sees it (the transcript test sends one raw). Either way it must
  // fail and leave the connection usable.
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_VERIFY_KEY, 0);
  const std::string k251(251, 'k');
  EXPECT_FALSE(memcached_success(c().Set(k251, "x")));
  EXPECT_NE(c().Get(k251).rc, MEMCACHED_SUCCESS);
  memcached_behavior_set(c(), MEMCACHED_BEHAVIOR_VERIFY_KEY, 1);
  EXPECT_EQ(memcached_set(c(), "bad key", 7, "x", 1, 0, 0), MEMCACHED_BAD_KEY_PROVIDED);
  EXPECT_EQ(c().Set("good_key", "x"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c().Get("good_key").value, "x");
}

TEST_F(LibmemcachedTest, QuitThenReconnect) {
  ASSERT_EQ(c().Set("q", "1"), MEMCACHED_SUCCESS);
  memcached_quit(c());
  EXPECT_EQ(c().Get("q").value, "1") << "libmemcached reconnects after quit";
}

// Counters need a server nobody else talks to.
TEST(LibmemcachedStats, CountersAndSettings) {
  ServerProcess srv;
  ASSERT_EQ(srv.Start(), "");
  Client c(srv.port());
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.Set("s" + std::to_string(i), "vv"), MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("s0").rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("s1").rc, MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("missing").rc, MEMCACHED_NOTFOUND);
  auto mg = c.MGet({"s2", "s3", "nope1", "nope2"});  // cmd_get counts every key
  EXPECT_EQ(mg.size(), 2u);
  EXPECT_EQ(memcached_delete(c, "s4", 2, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_delete(c, "s4", 2, 0), MEMCACHED_NOTFOUND);
  EXPECT_EQ(memcached_touch(c, "s0", 2, 100), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_touch(c, "nope", 4, 100), MEMCACHED_NOTFOUND);
  uint64_t v;
  ASSERT_EQ(c.Set("n", "1"), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_increment(c, "n", 1, 1, &v), MEMCACHED_SUCCESS);
  EXPECT_EQ(memcached_decrement(c, "nn", 2, 1, &v), MEMCACHED_NOTFOUND);

  memcached_return_t rc;
  memcached_stat_st* st = memcached_stat(c, nullptr, &rc);
  ASSERT_EQ(rc, MEMCACHED_SUCCESS) << c.Error();
  ASSERT_NE(st, nullptr);
  EXPECT_EQ(st->pid, static_cast<pid_t>(srv.pid()));
  EXPECT_EQ(st->curr_items, 5u);   // s0..s3 and n
  EXPECT_EQ(st->total_items, 6u);  // 6 sets stored
  EXPECT_EQ(st->cmd_get, 7u);
  EXPECT_EQ(st->get_hits, 4u);
  EXPECT_EQ(st->get_misses, 3u);
  EXPECT_EQ(st->cmd_set, 6u);
  EXPECT_EQ(st->limit_maxbytes, 64u * 1024 * 1024);
  EXPECT_EQ(st->threads, 4u);
  EXPECT_GE(st->curr_connections, 1u);
  EXPECT_GE(st->total_connections, 1u);
  EXPECT_GT(st->bytes, 0u);
  EXPECT_GT(st->bytes_read, 0u);
  EXPECT_GT(st->bytes_written, 0u);
  EXPECT_EQ(std::string(st->version).rfind("1.6", 0), 0u) << st->version;
  char* ver = memcached_stat_get_value(c, st, "version", &rc);
  ASSERT_NE(ver, nullptr);
  EXPECT_EQ(std::string(ver).rfind("1.6", 0), 0u);
  free(ver);
  char* hits = memcached_stat_get_value(c, st, "get_hits", &rc);
  ASSERT_NE(hits, nullptr);
  EXPECT_STREQ(hits, "4");
  free(hits);
  memcached_stat_free(c, st);

  auto raw = RawStats(c, nullptr);
  EXPECT_EQ(StatU64(raw, "delete_hits"), 1u);
  EXPECT_EQ(StatU64(raw, "delete_misses"), 1u);
  EXPECT_EQ(StatU64(raw, "touch_hits"), 1u);
  EXPECT_EQ(StatU64(raw, "touch_misses"), 1u);
  EXPECT_EQ(StatU64(raw, "cmd_touch"), 2u);
  EXPECT_EQ(StatU64(raw, "incr_hits"), 1u);
  EXPECT_EQ(StatU64(raw, "decr_misses"), 1u);
  EXPECT_EQ(StatU64(raw, "rejected_connections"), 0u);

  auto settings = RawStats(c, "settings");
  EXPECT_EQ(settings["maxbytes"], "67108864");
  EXPECT_EQ(settings["maxconns"], "1024");
  EXPECT_EQ(settings["tcpport"], std::to_string(srv.port()));
  EXPECT_EQ(settings["udpport"], "0");
  EXPECT_EQ(settings["cas_enabled"], "yes");
  EXPECT_EQ(settings["item_size_max"], "1048576");
  EXPECT_EQ(settings["num_threads"], "4");

  // flush_all bumps cmd_flush; the flushed items are no longer returned.
  EXPECT_EQ(memcached_flush(c, 0), MEMCACHED_SUCCESS);
  EXPECT_EQ(c.Get("s1").rc, MEMCACHED_NOTFOUND);
  raw = RawStats(c, nullptr);
  EXPECT_EQ(StatU64(raw, "cmd_flush"), 1u);
  EXPECT_EQ(StatU64(raw, "get_flushed"), 1u);
  EXPECT_TRUE(srv.CheckAlive());
  EXPECT_TRUE(srv.Stop());
}

// Start-up arguments reach the server: -m, -t, -c, -I show up in stats.
TEST(LibmemcachedStats, OptionsShowInStats) {
  ServerProcess srv({"-m", "32", "-t", "2", "-c", "100", "-I", "2m"});
  ASSERT_EQ(srv.Start(), "");
  Client c(srv.port());
  auto raw = RawStats(c, nullptr);
  EXPECT_EQ(StatU64(raw, "limit_maxbytes"), 32u * 1024 * 1024);
  EXPECT_EQ(StatU64(raw, "threads"), 2u);
  EXPECT_EQ(StatU64(raw, "max_connections"), 100u);
  auto settings = RawStats(c, "settings");
  EXPECT_EQ(settings["item_size_max"], "2097152");
  // With -I 2m a 1.5 MB value stores.
  std::string v(1536 * 1024, 'x');
  EXPECT_EQ(c.Set("big", v), MEMCACHED_SUCCESS) << c.Error();
  EXPECT_EQ(c.Get("big").value.size(), v.size());
  EXPECT_TRUE(srv.Stop());
}

}  // namespace
