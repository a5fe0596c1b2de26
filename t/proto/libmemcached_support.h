// t/proto/libmemcached_support.h -- what the libmemcached tests (text and binary protocol) share:
// stats through memcached_stat_execute, and a fixture that runs one server for the suite and gives
// each test a fresh, flushed client of the test's own Client type (the two tests' clients differ
// by protocol mode and by what their helpers return).
#pragma once

#include <libmemcached/memcached.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "server_process.h"

namespace rctest {

// stats [args] through memcached_stat_execute, as name -> value. With `rc_out` the result code
// is the caller's to check; without, anything but success fails the test.
inline std::map<std::string, std::string> RawStats(memcached_st* memc, const char* args,
                                                   memcached_return_t* rc_out = nullptr) {
  std::map<std::string, std::string> out;
  auto cb = [](const memcached_instance_st*, const char* key, size_t key_len, const char* value,
               size_t value_len, void* ctx) -> memcached_return_t {
    static_cast<std::map<std::string, std::string>*>(ctx)->emplace(std::string(key, key_len),
                                                                   std::string(value, value_len));
    return MEMCACHED_SUCCESS;
  };
  memcached_return_t rc = memcached_stat_execute(memc, args, cb, &out);
  if (rc_out != nullptr) {
    *rc_out = rc;
  } else {
    EXPECT_EQ(rc, MEMCACHED_SUCCESS) << "stats " << (args ? args : "") << ": "
                                     << memcached_last_error_message(memc);
  }
  return out;
}

inline uint64_t StatU64(const std::map<std::string, std::string>& stats, const std::string& name) {
  auto it = stats.find(name);
  EXPECT_NE(it, stats.end()) << "no stat " << name;
  return it == stats.end() ? 0 : std::stoull(it->second);
}

// One server for the whole suite; each test gets a fresh Client (constructed from the port,
// convertible to memcached_st*, with Error()) and starts from an empty cache. After every test
// the server must still be alive: a crash fails loudly.
template <typename Client>
class LibmemcachedFixture : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess();
    start_error_ = server_->Start();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_TRUE(server_->Stop());
      delete server_;
      server_ = nullptr;
    }
  }
  void SetUp() override {
    ASSERT_EQ(start_error_, "") << "server did not start";
    client_ = std::make_unique<Client>(server_->port());
    ASSERT_EQ(memcached_flush(*client_, 0), MEMCACHED_SUCCESS) << client_->Error();
  }
  void TearDown() override {
    client_.reset();
    EXPECT_TRUE(server_->CheckAlive())
        << "after " << testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  Client& c() { return *client_; }

  static inline ServerProcess* server_ = nullptr;
  static inline std::string start_error_;
  std::unique_ptr<Client> client_;
};

}  // namespace rctest
