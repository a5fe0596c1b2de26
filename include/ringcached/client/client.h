// ringcached/client/client.h -- the ring-aware client library (REPLICATION.md section 8): a C++
// memcached client that places keys on the cluster's Ketama ring itself, so every request goes
// straight to a node holding its key, and that routes around failed nodes the way the cluster
// expects. Link with `pkg-config --libs ringcached-client`; doc/client.md has an example.
//
// What a Client does:
//   * Routing. Each key goes to its owner on the ring of the cluster's profile (libmemcached,
//     twemproxy or spymemcached: Options::profile, or learned from a node's `stats cluster`
//     line `ring_profile`), exactly where that profile's own clients send it.
//   * Connections. Persistent connections per node (text protocol), opened on demand and kept
//     idle between calls; a call's requests to one node leave in one write (pipelined) and a
//     multi-get sends to every node it needs before it waits for any of them.
//   * Failover, like mcrouter's TKO. A node whose connect fails, or that times out
//     Options::timeouts_to_tko times in a row, is TKO: reads of its keys go at once to the key's
//     next holder (Ring::Holders order, where the cluster keeps the replicas), writes go to the
//     owner on the ring rebuilt without the TKO nodes (what an ejecting libmemcached computes;
//     spymemcached's profile: the next holder), and a probe about every Options::probe_interval
//     brings the node back once it answers. A read that fails on one holder is retried on the
//     next within the same call; a write is retried only when it was never sent (the connect
//     failed) or its connection was an idle one the node may have closed.
//   * Ring changes. With discovery (Options::discovery or Options::member_source) a control
//     thread asks a live node `config get cluster` every Options::config_poll_interval (500 ms)
//     and adopts a member list only when its version is newer than every one seen before.
//   * Hot keys. The control thread asks each node `config get hotkeys` about once a second over
//     one persistent connection, for which the node hands out a "slot"; a hot key owned by node
//     A is read from copies[slot_at_A % copies] (the next copy if that one is TKO), so client
//     instances spread evenly over the copies; a miss there (the copy's TTL ran out, or it was
//     evicted, before the owner's list said so) is asked of the key's holders before it is
//     believed. Writes and deletes of hot keys go to the owner, which updates or removes the
//     copies.
//
// Consistency: a read goes to one holder; with the cluster's replication a failover read sees
// what the owner acknowledged (REPLICATION.md section 4). Hot-key reads from copies follow the
// cluster's "no stale read after a delete's reply" promise as the nodes keep it.
//
// Thread-safety: a Client is safe to use from any number of threads at once. Calls never hold a
// lock while they wait for the network: each takes an idle connection to the node it needs (or
// opens one) and gives it back afterwards, so concurrent calls run in parallel, each on its own
// connection. Calls block their thread until the replies arrive or Options::timeout passes.
// One background thread per Client polls membership and hot keys and probes TKO nodes; it is
// stopped by the destructor, which must not run while another thread is still in a call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/status.h"
#include "ringcached/cluster/ring.h"

namespace rc::client {

// A cluster's member list from some source, with its version (a newer list has a larger
// version; nullopt: the source has none, the list is taken whenever it changes).
struct Membership {
  std::optional<std::int64_t> version;
  std::vector<cluster::RingMember> members;
};
// Where the control thread reads the member list from, instead of polling `config get cluster`
// (ringcached/client/zookeeper.h makes one that reads ZooKeeper). Called from the control thread
// only, every Options::config_poll_interval; it may block up to about that long.
using MemberSource = std::function<base::Result<Membership>()>;

struct Options {
  // Where the members come from -- exactly one of:
  //   servers:       a fixed list, "host:port" or "host:port=weight" each, never changed;
  //   discovery:     nodes to ask `config get cluster` ("host:port"): the first that answers
  //                  gives the list, then the control thread follows it (asking live members);
  //   member_source: a source of your own, polled the same way.
  std::vector<std::string> servers;
  std::vector<std::string> discovery;
  MemberSource member_source;

  // The ring profile. nullopt: ask the first node that answers `stats cluster` for its
  // `ring_profile`, and take libmemcached's if none says (a plain memcached pool).
  std::optional<cluster::RingProfile> profile;

  // How long one request round may take, connect included (a multi-get: all its nodes at once).
  std::chrono::milliseconds timeout{1000};
  // Consecutive timeouts that make a node TKO (a connect error does it at once).
  std::uint32_t timeouts_to_tko = 3;
  // How often a TKO node is probed (a fresh connection and `version`).
  std::chrono::milliseconds probe_interval{1000};
  // How often discovery asks for the member list.
  std::chrono::milliseconds config_poll_interval{500};
  // How often each node is asked for its hot keys; zero: never (every key read from its owner).
  std::chrono::milliseconds hot_poll_interval{1000};
  // Keep hot keys' values in this process too, each for at most the node's hot-copy TTL (10 s
  // by default): a hot key's reads then mostly never leave the process. OUTSIDE the cluster's
  // "no stale read after a delete's reply" promise: another client's write or delete is seen
  // only once the entry expires (this client's own writes are seen at once). Off by default.
  bool local_hot_cache = false;
};

// A value as stored.
struct Item {
  std::string value;
  std::uint32_t flags = 0;
};

// What one node looks like to a client, for tools and tests.
struct NodeInfo {
  std::string name;
  bool tko = false;
  std::uint64_t tko_count = 0;   // how many times it went TKO
  std::uint64_t hot_slot = 0;    // the slot it gave this client's hot-key connection
  std::size_t hot_keys = 0;      // hot keys it reported last
};

// What the calls did, for tools and tests.
struct ClientStats {
  std::uint64_t local_hits = 0;  // reads answered by the local hot-key cache
};

class Client {
 public:
  // Builds the ring from the options' member source (for discovery: one blocking `config get
  // cluster` and `stats cluster`, bounded by Options::timeout per node tried) and starts the
  // control thread. InvalidArgument: bad options or server list; NotFound/IoError: no discovery
  // node answered with a member list.
  static base::Result<std::unique_ptr<Client>> Open(Options options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The key's value, or nullopt on a miss. Errors: InvalidArgument (bad key: 1-250 bytes, no
  // space or control character), IoError (no holder answered in time), Internal (the node
  // answered with an error line; its text is the message).
  base::Result<std::optional<Item>> Get(std::string_view key);

  // Every key's value that is present (misses are absent from the map); each node is asked
  // once, all of them in parallel. A key whose holders all fail makes the whole call fail with
  // IoError; duplicate keys are asked once.
  base::Result<std::map<std::string, Item, std::less<>>> GetMulti(
      const std::vector<std::string_view>& keys);

  // memcached's set: `exptime` as memcached reads it (seconds, or a Unix time above 30 days).
  // OK when the node answered STORED.
  base::Status Set(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                   std::int64_t exptime = 0);
  // memcached's add: true when stored, false when the key exists (NOT_STORED).
  base::Result<bool> Add(std::string_view key, std::string_view value, std::uint32_t flags = 0,
                         std::int64_t exptime = 0);
  // True when the key was deleted, false when it was not there (NOT_FOUND).
  base::Result<bool> Delete(std::string_view key);

  // ---- introspection ----
  cluster::RingProfile profile() const;
  // The member list version in use (-1 for a fixed --servers list).
  std::int64_t ring_version() const;
  std::vector<NodeInfo> Nodes() const;
  // The node a Get(key) would ask first right now (hot copy and TKO considered).
  std::string ReadNode(std::string_view key) const;
  // The node a Set(key) would go to right now.
  std::string WriteNode(std::string_view key) const;
  ClientStats Stats() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rc::client
