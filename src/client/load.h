// client/load.h -- `ringcached-client load`: a bounded load generator on the client library.
// N independent client instances (N Client objects, each with its own connections and hot-key
// slots, as N application processes would have), one thread each, issue a mix of sets and gets
// over a key space drawn uniformly or by Zipf, optionally with one hot key taking a given share
// of the reads; it stops after a request count or a duration, and reports throughput and
// latency percentiles. The keys are filled once before the timed part, so reads hit.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "ringcached/base/status.h"
#include "ringcached/client/client.h"

namespace rc::client {

struct LoadOptions {
  std::uint64_t keys = 10000;          // key:0 .. key:<keys-1>
  std::size_t value_size = 100;        // bytes per value
  bool zipf = true;                    // false: uniform
  double zipf_s = 0.99;                // the Zipf exponent
  std::uint32_t sets = 1, gets = 9;    // the SETS:GETS ratio
  std::optional<std::uint64_t> requests;               // in all clients together
  std::optional<std::chrono::milliseconds> duration;   // whichever bound comes first
  std::uint32_t clients = 1;
  std::string hot_key;                 // empty: none
  double hot_share = 0.5;              // share of the reads that go to hot_key
  std::uint64_t seed = 1;
};

struct LoadReport {
  std::uint64_t gets = 0, hits = 0, sets = 0, errors = 0;
  double seconds = 0;
  std::uint64_t p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  std::string first_error;
};

// Opens `options.clients` clients with `make_client`, fills the keys, runs the load and returns
// the report. Errors: the first client that cannot be opened, or a fill that fails.
base::Result<LoadReport> RunLoad(
    const LoadOptions& options,
    const std::function<base::Result<std::unique_ptr<Client>>()>& make_client);

void PrintReport(const LoadReport& report, std::ostream& out);

}  // namespace rc::client
