// client/hot_keys.h -- a node's hot-key list as the client library reads it: the reply to
// `config get hotkeys` (text protocol), and the rule that picks which copy of a hot key this
// client instance reads (REPLICATION.md section 7; the hot-key reply format).
//
// The reply, exactly:
//
//   CONFIG hotkeys 0 <payload length>\r\n<payload>\r\nEND\r\n
//
//   payload line 1:  <version> <slot> <hot_copy_ttl_seconds>\n
//   then per key:    <key in base64> <reads per second>[ <copy1>,<copy2>,...]\n
//
// `version` grows whenever the node's hot list changes; `slot` is the number the node gave THIS
// connection at its first `config get hotkeys` (consecutive connections get consecutive slots),
// repeated on later polls over the same connection; the copies are ring member names, owner
// first. A node without hot-key detection sends line 1 alone; one that does not know the command
// answers ERROR, which means "no hot keys" too.
//
// Everything here is pure (no sockets, no clock): t/unit/client/hot_keys_test.cc feeds it canned
// replies. Thread-safety: a HotList is immutable once parsed; share it as shared_ptr<const>.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ringcached/base/status.h"

namespace rc::client {

struct HotKey {
  double reads_per_second = 0;
  // Ring member names holding a readable copy, owner first. Empty: read from the owner.
  std::vector<std::string> copies;
};

// Hashes std::string and std::string_view alike, so a key is looked up without a copy.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

struct HotList {
  std::uint64_t version = 0;
  std::uint64_t slot = 0;         // this connection's slot at the node
  std::uint32_t copy_ttl_s = 0;   // how long a hot copy lives (bounds a local cache's entries)
  // By the key's bytes (base64 decoded).
  std::unordered_map<std::string, HotKey, KeyHash, std::equal_to<>> keys;
};

// Parses one complete reply (as member_list.h's ConfigReplyLength frames it). ERROR, CLIENT_ERROR and a bare
// END give an empty list (version 0, slot 0): that node has no hot keys for us. InvalidArgument
// when the reply is malformed (the caller keeps the list it had).
base::Result<HotList> ParseHotKeysReply(std::string_view reply);

// The copy of a hot key this client instance reads: copies[slot % size], or, when that one is
// unusable (`usable` false: TKO, not on the ring), the next usable one cyclically. Returns an
// index into `copies`, or copies.size() when none is usable (or there are none).
std::size_t ChooseHotCopy(const std::vector<std::string>& copies, std::uint64_t slot,
                          const std::function<bool(std::string_view name)>& usable);

}  // namespace rc::client
