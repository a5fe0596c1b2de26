// net/poll_runner.h -- one StreamTransport run on poll(2), without an event loop: the simplest
// adapter a transport needs (the workers run theirs on libevent, server/connection.cc).
//
// For callers that wait for an answer anyway: the ring tool's `config get cluster`, and later
// the client library's blocking calls. RunUntil() finishes a connect, sends what is queued,
// receives, and asks `done` after every receive whether what arrived is enough, all under one
// deadline.
//
// Thread-safety: none; the caller's thread runs the transport for the call's duration.
#pragma once

#include <chrono>
#include <functional>

#include "ringcached/base/status.h"
#include "ringcached/net/stream_transport.h"

namespace rc::net {

// Runs `transport` until `done()` returns true (OK), the deadline passes (IoError "timed
// out"), or the connection fails or ends first (IoError with the reason; "connection closed"
// when the peer closed). `done` reads transport->input() and may consume from it.
base::Status RunUntil(StreamTransport* transport, std::chrono::steady_clock::time_point deadline,
                      const std::function<bool()>& done);

}  // namespace rc::net
