// server/forwarder.h -- Forwarder: where a client's operation goes that needs the state the key's
// owner has (add, replace, cas, append, prepend, incr, decr, and their meta and binary forms),
// when this node does not hold the key -- a client with an old server list sent it here
// (../shared/REPLICATION.md section 4). Applying it here, on whatever this node happens to have,
// would answer wrongly (an add "stored" over the owner's value, an incr from a stale number); so
// the session sends it to the owner as meta commands and answers with the owner's result.
//
// The replicator implements it (replicator.h); the session parks the request (parked.cc) until
// the answer comes. A plain set or delete is not forwarded this way: its resulting state is sent
// to every holder, like any write (replicator.h, "guest" copies).
//
// Thread-safety: called on a worker; the answer comes later on the same worker's loop.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace rc::server {

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  enum class Route : unsigned char {
    kHere,    // this node holds the key (or is alone): execute it here
    kSent,    // sent to the owner: `answer` will be called with its reply
    kFailed,  // cannot be sent now (its link's backlog is full): answer SERVER_ERROR
  };
  // The owner's whole reply to the request (meta commands, each "\r\n"-terminated, data blocks
  // included), or null when it was lost on the way (the outcome is unknown).
  using AnswerFn = std::function<void(const std::string* reply)>;
  // `request` makes the meta commands to send, called only when they are to be sent (a value
  // is copied only then).
  virtual Route Forward(std::string_view key, const std::function<std::string()>& request,
                        AnswerFn answer) = 0;
};

}  // namespace rc::server
