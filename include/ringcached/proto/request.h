// proto/request.h -- one parsed request, as the engine and the admin code consume it.
//
// Every string_view in a Request points into the caller's input buffer: it stays valid until the
// caller consumes those bytes, and no longer. A Request never owns memory, so parsing one does not
// allocate.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ringcached/proto/limits.h"

namespace rc::proto {

enum class Command : std::uint8_t {
  // Retrieval. `keys` holds the key list (see KeyIterator); gat/gats also set `exptime`.
  kGet, kGets, kGat, kGats,
  // Storage. The data block (value_len bytes + "\r\n") follows the line and is NOT part of the
  // parse: the connection reads it straight into the item (DESIGN.md section 3).
  kSet, kAdd, kReplace, kAppend, kPrepend, kCas,
  kDelete, kIncr, kDecr, kTouch,
  kFlushAll, kVersion, kVerbosity, kQuit, kShutdown, kCacheMemlimit,
  // Admin commands whose arguments are interpreted by server/: `tokens` holds every token.
  kStats, kSlabs, kLru, kLruCrawler, kWatch, kMisbehave, kDebugTime,
  // ElastiCache's `config get cluster` (auto-discovery); a single node answers ERROR as memcached.
  kConfig,
  // A peer link's handshake, rc_hello and rc_auth (cluster/peer_hello.h): `tokens` holds the
  // fields. Answered only on a node that accepts peers; ERROR elsewhere, as an unknown command.
  kPeer,
};

// True for set/add/replace/append/prepend/cas: a data block follows the command line.
inline bool IsStorage(Command c) { return c >= Command::kSet && c <= Command::kCas; }
inline bool IsRetrieval(Command c) { return c <= Command::kGats; }

struct Request {
  Command command = Command::kGet;
  std::string_view key;        // single-key commands
  std::string_view keys;       // retrieval: space-separated keys (lengths NOT validated: the
                               // caller rejects a key over 250 bytes when it reaches it)
  std::uint32_t flags = 0;     // storage: client flags (values >= 2^32 are truncated, as 1.6.18)
  std::int64_t exptime = 0;    // storage, touch, gat, flush_all delay: as sent
  std::uint32_t value_len = 0; // storage: <bytes>
  std::uint64_t cas_unique = 0;  // cas
  std::uint64_t delta = 0;     // incr/decr
  std::int64_t number = 0;     // verbosity level, cache_memlimit MB
  bool has_number = false;     // flush_all: a delay was given; shutdown: "graceful" given
  bool noreply = false;
  // Every token of the line, command first (at most kMaxTokens; admin commands read these).
  std::array<std::string_view, kMaxTokens> tokens{};
  std::uint8_t ntokens = 0;
};

// Walks a retrieval request's key list without allocating.
class KeyIterator {
 public:
  explicit KeyIterator(std::string_view keys) : rest_(keys) {}
  // Stores the next key in *key and returns true, or returns false at the end.
  bool Next(std::string_view* key) {
    std::size_t i = 0;
    while (i < rest_.size() && rest_[i] == ' ') ++i;
    if (i == rest_.size()) return false;
    std::size_t j = rest_.find(' ', i);
    if (j == std::string_view::npos) j = rest_.size();
    *key = rest_.substr(i, j - i);
    rest_.remove_prefix(j);
    return true;
  }

 private:
  std::string_view rest_;
};

}  // namespace rc::proto
