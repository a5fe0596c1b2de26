// origin/backend.h -- the one asynchronous interface every origin speaks (PostgreSQL in
// pg_backend.cc, HTTP in http_backend.cc), and what a fetch comes back with.
//
// A backend lives on the origin thread: it is created there before the thread starts (Open...()
// may block, at start-up only), and every other call and every callback happens on that thread,
// inside its event loop. Nothing here is locked.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "ringcached/base/status.h"
#include "ringcached/origin/read_through.h"

struct event_base;

namespace rc::origin {

using SteadyClock = std::chrono::steady_clock;

// The result of one origin request.
struct Fetched {
  enum class Status : std::uint8_t {
    kValue,    // the origin has the key: `value`
    kMiss,     // the origin answered that it has no such key
    kError,    // no usable answer; `error` says why (for the log)
    kTimeout,  // not answered in time (ReadThrough's timer, or dropped from a backend's queue)
  };
  Status status = Status::kError;
  Value value;
  std::string error;
};

using FetchDone = std::function<void(Fetched)>;

class Backend {
 public:
  virtual ~Backend() = default;
  // Starts fetching `key`. `done` is called exactly once, on the origin thread -- possibly before
  // Fetch() returns (a connection known to be down). A request still waiting for a free
  // connection at `deadline` is not sent: it ends with kTimeout. Destroying the backend drops the
  // requests in progress without calling their `done`.
  virtual void Fetch(std::string key, SteadyClock::time_point deadline, FetchDone done) = 0;
};

// Start-up: connect to the origin named by options.url (scheme "http", or "postgresql" /
// "postgres") on `base`, check that it answers, and return the backend. Blocking; called before
// the origin thread runs `base`.
base::Result<std::unique_ptr<Backend>> OpenHttpBackend(const Options& options, event_base* base);
base::Result<std::unique_ptr<Backend>> OpenPgBackend(const Options& options, event_base* base);

}  // namespace rc::origin
