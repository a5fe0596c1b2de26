// server/admin.h -- what a session's admin commands ask of the process: stats and dumps, a new
// memory limit, a crawler pass, a stop, the cluster's view for auto-discovery.
//
// The Server implements it (server.cc). Sessions reach it through their SessionContext and
// never see the Server class, so the protocol code has one narrow way up into the process: a
// session on another host (a unit test, a peer link) needs only something that implements this.
// What every request reads (the engine, the settings, the clock, the watchers) is not behind
// this interface but in the context itself, as plain pointers: a virtual call per request for
// them would be paid on the data path for nothing.
//
// Thread-safety: every method may be called from any worker at any time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "ringcached/cluster/membership.h"
#include "ringcached/net/out_queue.h"
#include "server/stats.h"

namespace rc::server {

// A peer's rc_handoff_done: its hand-off walk served ring `version`, in which this node is a
// member under `incarnation`, and pushed this node `keys` keys of `bytes` bytes.
struct HandoffReport {
  std::string_view peer;
  std::int32_t version = 0;
  std::int64_t incarnation = 0;
  std::uint64_t keys = 0, bytes = 0;
};

class Admin {
 public:
  virtual ~Admin() = default;

  // `stats <sub>` (stats.h): added to `sink`.
  virtual StatsResult AddStats(std::string_view sub, StatSink* sink) = 0;
  // `stats cachedump` and `lru_crawler metadump` (stats.h): appended to `out`.
  virtual void AppendCachedump(unsigned class_id, long long limit, net::OutQueue* out) = 0;
  virtual void AppendMetadump(std::string_view which, net::OutQueue* out) = 0;
  // `stats reset`.
  virtual void ResetStats() = 0;
  // `cache_memlimit`: the store's new limit, shown by `stats` as limit_maxbytes.
  virtual void SetMemoryLimit(std::size_t bytes) = 0;
  // `lru_crawler crawl`: an expiry pass now.
  virtual void KickCrawler() = 0;
  // `shutdown [graceful]`.
  virtual void RequestStop(bool graceful) = 0;
  // The cluster as this node sees it, for `config get cluster`; null outside a cluster (the
  // single node memcached is) or before the first view.
  virtual std::shared_ptr<const cluster::ClusterView> cluster_view() const = 0;
  // A connection authenticated as a peer link: from now on it counts as one, not as a client
  // (not against -c, not in curr_connections).
  virtual void PeerLinked() = 0;
  // A peer's rc_handoff_done (cluster_node.h, "Member states").
  virtual void HandoffServed(const HandoffReport& report) = 0;
  // `config get hotkeys` (server/hot_key_stats.cc): the payload for a connection whose slot
  // is `*slot` (-1: none yet; a new one is given). Empty outside a cluster.
  virtual std::string HotKeysConfig(std::int64_t* slot) = 0;
};

}  // namespace rc::server
