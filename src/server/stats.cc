// server/stats.cc -- see stats.h.
#include "server/stats.h"

#include <event2/event.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cstring>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "ringcached/base/uri.h"
#include "ringcached/base/version.h"
#include "server/options.h"
#include "server/origin_loader.h"
#include "server/server.h"
#include "server/worker.h"

namespace rc::server {
namespace {

struct Totals {
  std::array<std::uint64_t, engine::CommandStats::kCount> commands{};  // RC_COMMAND_COUNTERS
  std::uint64_t bytes_read = 0, bytes_written = 0, conn_yields = 0;
};

Totals SumWorkers(Server& server) {
  Totals t;
  for (const auto& w : server.workers()) {
    std::size_t i = 0;
    engine::CommandStats::ForEach(w->command_stats(), [&](const base::Counter& c) {
      t.commands[i++] += c.Get();
    });
    const ConnStats& s = w->conn_stats();
    t.bytes_read += s.bytes_read.Get();
    t.bytes_written += s.bytes_written.Get();
    t.conn_yields += s.conn_yields.Get();
  }
  return t;
}

std::string FormatTimeval(const timeval& tv) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec));
  return buf;
}

void AppendGeneral(Server& server, StatSink& w) {
  const Settings& s = server.settings();
  Totals t = SumWorkers(server);
  store::Stats st = server.store().GetStats();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::time_t now = server.clock().ToUnixTime(server.clock().Now());
  std::uint64_t zero = 0;

  w.Add("pid", static_cast<std::int64_t>(getpid()));
  w.Add("uptime", static_cast<std::int64_t>(server.clock().Now()));
  w.Add("time", static_cast<std::int64_t>(now));
  w.Add("version", RC_MEMCACHED_VERSION);
  w.Add("libevent", event_get_version());
  w.Add("pointer_size", static_cast<int>(8 * sizeof(void*)));
  w.Add("rusage_user", FormatTimeval(usage.ru_utime));
  w.Add("rusage_system", FormatTimeval(usage.ru_stime));
  w.Add("max_connections", s.maxconns);
  w.Add("curr_connections", server.curr_connections.load());
  w.Add("total_connections", server.total_connections.load());
  w.Add("rejected_connections", server.rejected_connections.load());
  w.Add("connection_structures", server.connection_structures.load());
  // memcached's response objects do not exist here: replies are queued per connection
  // (net/out_queue.h). Its read buffers do: the workers' BufferPools, which lend input buffers and
  // reply blocks alike.
  w.Add("response_obj_oom", zero);
  w.Add("response_obj_count", zero);
  w.Add("response_obj_bytes", zero);
  std::uint64_t buffers = 0, spare = 0;
  for (const auto& worker : server.workers()) {
    buffers += worker->buffers().count();
    spare += worker->buffers().spare();
  }
  w.Add("read_buf_count", buffers);
  w.Add("read_buf_bytes", buffers * net::BufferPool::kSize);
  w.Add("read_buf_bytes_free", spare * net::BufferPool::kSize);
  w.Add("read_buf_oom", zero);
  w.Add("reserved_fds", server.reserved_fds());
  for (std::size_t i = 0; i < t.commands.size(); ++i) {
    w.Add(engine::CommandStats::kNames[i], t.commands[i]);
  }
  w.Add("auth_cmds", zero);
  w.Add("auth_errors", zero);
  w.Add("bytes_read", t.bytes_read);
  w.Add("bytes_written", t.bytes_written);
  w.Add("limit_maxbytes", static_cast<std::uint64_t>(server.runtime().maxbytes.load()));
  w.Add("accepting_conns", 1);
  w.Add("listen_disabled_num", zero);
  w.Add("time_in_listen_disabled_us", zero);
  w.Add("threads", s.num_threads);
  w.Add("conn_yields", t.conn_yields);
  w.Add("hash_power_level", static_cast<std::uint64_t>(st.hash_power_level));
  w.Add("hash_bytes", st.hash_bytes);
  w.Add("hash_is_expanding", zero);
  // The store has no slab pages to reassign (doc/deviations.md): these stay 0.
  for (const char* name : {"slab_reassign_rescues", "slab_reassign_chunk_rescues",
                           "slab_reassign_evictions_nomem", "slab_reassign_inline_reclaim",
                           "slab_reassign_busy_items", "slab_reassign_busy_deletes",
                           "slab_reassign_running", "slabs_moved"}) {
    w.Add(name, zero);
  }
  if (s.lru_crawler) {
    w.Add("lru_crawler_running", zero);
    w.Add("lru_crawler_starts", server.crawler_starts());
  }
  if (s.lru_maintainer) w.Add("lru_maintainer_juggles", zero);
  w.Add("malloc_fails", st.malloc_fails);
  w.Add("log_worker_dropped", zero);
  w.Add("log_worker_written", zero);
  w.Add("log_watcher_skipped", server.watchers().skipped());
  w.Add("log_watcher_sent", server.watchers().sent());
  w.Add("log_watchers", server.watchers().count());
  w.Add("unexpected_napi_ids", zero);
  w.Add("round_robin_fallback", zero);
  w.Add("bytes", st.bytes);
  w.Add("curr_items", st.curr_items);
  w.Add("total_items", st.total_items);
  w.Add("slab_global_page_pool", zero);
  w.Add("expired_unfetched", st.expired_unfetched);
  w.Add("evicted_unfetched", st.evicted_unfetched);
  if (s.lru_maintainer) w.Add("evicted_active", zero);
  w.Add("evictions", st.evictions);
  w.Add("reclaimed", st.reclaimed);
  w.Add("crawler_reclaimed", st.crawler_reclaimed);
  w.Add("crawler_items_checked", st.crawler_items_checked);
  w.Add("lrutail_reflocked", zero);
  if (s.lru_maintainer) {
    for (const char* name : {"moves_to_cold", "moves_to_warm", "moves_within_lru",
                             "direct_reclaims", "lru_bumps_dropped"}) {
      w.Add(name, zero);
    }
  }
}

void AppendSettings(Server& server, StatSink& w) {
  const RuntimeSettings& rt = server.runtime();
  for (const auto& [name, value] : SettingsForStats(rt.Live(server.settings()), rt.oldest_live)) {
    w.Add(name, value);
  }
}

// A class's get hits over every worker. memcached counts a get hit once, in lru_hits[class], and
// reports it per LRU segment as `stats items` hits_to_* and per class as `stats slabs` get_hits
// (thread.c threadlocal_stats_aggregate). A get that touches (gat, gats, mg T, binary GAT) is a
// touch hit instead, in both. The counter is the one the engine bumps with get_hits, so the get
// path pays nothing more for hits_to_cold.
std::uint64_t ClassGetHits(Server& server, unsigned id) {
  std::uint64_t hits = 0;
  for (const auto& worker : server.workers()) {
    hits += worker->command_stats().ForClass(id).get_hits.Get();
  }
  return hits;
}

void AppendItems(Server& server, StatSink& w) {
  base::RelTime now = server.clock().Now();
  std::uint64_t zero = 0;
  for (const store::ClassStats& c : server.store().GetClassStats()) {
    std::string p = "items:" + std::to_string(c.id) + ":";
    std::uint64_t age = c.oldest_access && now > c.oldest_access ? now - c.oldest_access : 0;
    w.Add(p + "number", c.items);
    w.Add(p + "number_hot", zero);
    w.Add(p + "number_warm", zero);
    w.Add(p + "number_cold", c.items);
    // memcached lists the temporary LRU only while it is on (`lru temp_ttl`, -o temp_lru).
    if (server.runtime().temp_lru.load()) w.Add(p + "number_temp", zero);
    w.Add(p + "age_hot", zero);
    w.Add(p + "age_warm", zero);
    w.Add(p + "age", age);
    w.Add(p + "mem_requested", c.requested_bytes);
    w.Add(p + "evicted", c.evicted);
    w.Add(p + "evicted_nonzero", c.evicted_nonzero);
    w.Add(p + "evicted_time", zero);
    w.Add(p + "outofmemory", c.outofmemory);
    w.Add(p + "tailrepairs", zero);
    w.Add(p + "reclaimed", c.reclaimed);
    w.Add(p + "expired_unfetched", c.expired_unfetched);
    w.Add(p + "evicted_unfetched", c.evicted_unfetched);
    w.Add(p + "evicted_active", zero);
    w.Add(p + "crawler_reclaimed", c.crawler_reclaimed);
    w.Add(p + "crawler_items_checked", zero);
    w.Add(p + "lrutail_reflocked", zero);
    for (const char* name : {"moves_to_cold", "moves_to_warm", "moves_within_lru",
                             "direct_reclaims", "hits_to_hot", "hits_to_warm"}) {
      w.Add(p + name, zero);
    }
    // Every item is cold here (number_cold above), so every get hit is a hit to cold.
    w.Add(p + "hits_to_cold", ClassGetHits(server, c.id));
    w.Add(p + "hits_to_temp", zero);
  }
}

void AppendSlabs(Server& server, StatSink& w) {
  // A size class (store/size_classes.h) plays the part of a slab class. "Pages" are counted as
  // memcached's 1 MB pages would hold the items. memcached lists every class that ever held pages, and its
  // per-class command counters outlive the items, so a class with traffic is listed even when
  // it is empty now.
  constexpr std::uint64_t kPage = 1 << 20;
  std::map<unsigned, std::uint64_t> items;
  for (const store::ClassStats& c : server.store().GetClassStats()) items[c.id] = c.items;
  unsigned active = 0;
  std::uint64_t malloced = 0;
  for (unsigned id = 1; id < engine::CommandStats::kMaxClasses; ++id) {
    std::size_t chunk = store::Store::ClassSize(id);
    if (chunk == 0) break;
    std::array<std::uint64_t, engine::ClassCommandStats::kCount> sums{};
    bool traffic = false;
    for (const auto& worker : server.workers()) {
      std::size_t i = 0;
      engine::ClassCommandStats::ForEach(worker->command_stats().ForClass(id),
                                         [&](const base::Counter& c) {
                                           sums[i] += c.Get();
                                           traffic |= sums[i++] != 0;
                                         });
    }
    auto found = items.find(id);
    std::uint64_t used = found == items.end() ? 0 : found->second;
    if (used == 0 && !traffic) continue;
    ++active;
    std::string p = std::to_string(id) + ":";
    std::uint64_t per_page = std::max<std::uint64_t>(1, kPage / chunk);
    std::uint64_t pages = std::max<std::uint64_t>(1, (used + per_page - 1) / per_page);
    w.Add(p + "chunk_size", static_cast<std::uint64_t>(chunk));
    w.Add(p + "chunks_per_page", per_page);
    w.Add(p + "total_pages", pages);
    w.Add(p + "total_chunks", pages * per_page);
    w.Add(p + "used_chunks", used);
    w.Add(p + "free_chunks", pages * per_page - used);
    w.Add(p + "free_chunks_end", std::uint64_t{0});
    for (std::size_t i = 0; i < sums.size(); ++i) {
      w.Add(p + engine::ClassCommandStats::kNames[i], sums[i]);
    }
    malloced += used * chunk;
  }
  w.Add("active_slabs", static_cast<std::uint64_t>(active));
  w.Add("total_malloced", malloced);
}

void AppendSizes(Server& server, StatSink& w) {
  if (!server.runtime().track_sizes.load()) {
    w.Add("sizes_status", "disabled");
    return;
  }
  // memcached groups item sizes into 32-byte buckets (items.c item_stats_sizes), and counts only
  // items stored while tracking is on: after `stats sizes_enable`, the items stored since.
  std::uint64_t since = server.runtime().sizes_since_cas.load();
  std::map<std::size_t, std::uint64_t> buckets;
  server.store().Dump([&](const store::ItemInfo& info) {
    if (info.cas > since) ++buckets[(info.total_size + 31) / 32 * 32];
    return true;
  });
  for (const auto& [size, count] : buckets) w.Add(std::to_string(size), count);
}

void AppendConns(Server& server, StatSink& w) {
  base::RelTime now = server.clock().Now();
  server.conns().ForEach([&](const ConnRecord& r) {
    std::string p = std::to_string(r.fd) + ":";
    w.Add(p + "addr", r.addr());
    if (!r.listen_addr().empty()) w.Add(p + "listen_addr", r.listen_addr());
    w.Add(p + "state", r.state.load(std::memory_order_relaxed));
    base::RelTime last = r.last_cmd.load(std::memory_order_relaxed);
    w.Add(p + "secs_since_last_cmd", static_cast<std::uint64_t>(now > last ? now - last : 0));
  });
}

}  // namespace

void TextStatSink::Add(std::string_view name, std::string_view value) {
  std::size_t need = 5 + name.size() + 1 + value.size() + 2;
  char* p = out_->Reserve(need);
  std::size_t n = 0;
  for (std::string_view part : {std::string_view("STAT "), name, std::string_view(" "), value,
                                std::string_view("\r\n")}) {
    std::memcpy(p + n, part.data(), part.size());
    n += part.size();
  }
  out_->Commit(n);
}

// `stats segments` (ringcached's own): the segment space behind `bytes` -- how much of it the
// linked items occupy, how much overwrites and deletes have left dead, what the background
// reclaimer has done, and what is charged to -m (doc/store.md).
void AppendSegments(Server& server, StatSink& w) {
  store::Stats st = server.store().GetStats();
  w.Add("segment_size", st.segment_size);
  w.Add("small_segments", st.small_segments);
  w.Add("main_segments", st.main_segments);
  w.Add("free_segments", st.free_segments);
  w.Add("segment_bytes", st.segment_bytes);
  w.Add("segment_live_bytes", st.segment_live_bytes);
  w.Add("segment_dead_bytes", st.segment_bytes - std::min(st.segment_live_bytes, st.segment_bytes));
  w.Add("background_reclaims", st.background_reclaims);
  w.Add("segments_emptied_in_steps", st.segments_emptied_in_steps);
  w.Add("segments_emptied_whole", st.segments_emptied_whole);
  w.Add("store_allocated", st.allocated);
  w.Add("allocator_overhead", st.allocator_overhead);
}

// `stats versions` (ringcached's own): the version clock behind every CAS (base/hybrid_clock.h)
// -- the last version minted or admitted, the flush cut-off, and how many versions from
// elsewhere (meta E tokens, later peers) were refused for running too far ahead of this clock.
void AppendVersions(Server& server, StatSink& w) {
  base::HybridClock& versions = server.store().versions();
  w.Add("version_clock", versions.Last());
  w.Add("version_wall", versions.WallVersion());
  w.Add("flush_version", server.store().flush_version());
  w.Add("max_clock_skew_ms", versions.max_skew_ms());
  w.Add("versions_refused", versions.refused());
}

StatsResult AddStats(Server& server, std::string_view sub, StatSink* sink) {
  StatSink& w = *sink;
  if (sub.empty()) {
    AppendGeneral(server, w);
  } else if (sub == "settings") {
    AppendSettings(server, w);
  } else if (sub == "items") {
    AppendItems(server, w);
  } else if (sub == "slabs") {
    AppendSlabs(server, w);
  } else if (sub == "sizes") {
    AppendSizes(server, w);
  } else if (sub == "sizes_enable" || sub == "sizes_disable") {
    // Answered with a single line and no END, as memcached 1.6.18 does (observed).
    bool on = sub == "sizes_enable";
    if (on && !server.runtime().track_sizes.load()) {
      std::uint64_t newest = 0;
      server.store().Dump([&](const store::ItemInfo& info) {
        newest = std::max(newest, info.cas);
        return true;
      });
      server.runtime().sizes_since_cas.store(newest);
    }
    server.runtime().track_sizes.store(on);
    w.Add("sizes_status", on ? "enabled" : "disabled");
    return StatsResult::kSingleLine;
  } else if (sub == "conns") {
    AppendConns(server, w);
  } else if (sub == "segments") {
    AppendSegments(server, w);
  } else if (sub == "versions") {
    AppendVersions(server, w);
  } else if (sub == "origin" && server.origin() != nullptr) {
    // Read-through (server/origin_loader.h); without --origin: ERROR, as memcached answers.
    AppendOriginStats(server, &w);
  } else if (sub == "hotkeys" && server.hot_keys() != nullptr) {
    // Hot-key detection and spreading (hot_key_stats.cc); without it ERROR.
    AppendHotKeyStats(server, w);
  } else if (sub == "handoff" && server.replicator() != nullptr) {
    // The hand-off walk (replicator.h, handoff.cc): whether one is under way, between which
    // ring versions, and what it pushed. Only with replication.
    const Replicator::HandoffRow h = server.replicator()->Handoff();
    const auto since = [](std::int64_t ms) -> std::int64_t {
      if (ms == 0) return -1;
      const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count();
      return now - ms;
    };
    w.Add("handoff_state", h.dropping ? "dropping" : h.scanning ? "pushing" : "idle");
    w.Add("handoff_rate", server.settings().handoff_rate);
    w.Add("handoff_from_version", static_cast<std::int64_t>(h.from_version));
    w.Add("handoff_to_version", static_cast<std::int64_t>(h.to_version));
    w.Add("handoff_walks_started", h.scans_started);
    w.Add("handoff_walks_finished", h.scans_finished);
    w.Add("handoff_keys_sent", h.keys_sent);
    w.Add("handoff_bytes_sent", h.bytes_sent);
    // Waiting on the peer links (pushes and live copies alike), and what the peers' walks said
    // they pushed here (rc_handoff_done).
    const Replicator::Pending pending = server.replicator()->PendingOnLinks();
    w.Add("handoff_keys_pending", static_cast<std::uint64_t>(pending.messages));
    w.Add("handoff_bytes_pending", static_cast<std::uint64_t>(pending.bytes));
    w.Add("handoff_keys_received", server.cluster()->keys_received());
    w.Add("handoff_bytes_received", server.cluster()->bytes_received());
    w.Add("handoff_keys_dropped", h.keys_dropped);
    w.Add("handoff_ms_since_started", since(h.last_started_ms));
    w.Add("handoff_ms_since_finished", since(h.last_finished_ms));
    w.Add("handoff_warming_fetches", h.warm_fetches);
    w.Add("handoff_warming_fetched", h.warm_fetched);
  } else if (sub == "replication" && server.cluster() != nullptr) {
    // Per peer: the links every worker keeps to it, what they carried, and the lag from this
    // node's apply to the peer's answer (replicator.h). Only in a cluster.
    w.Add("replicas", server.settings().replicas);
    w.Add("replication", server.settings().replication);
    // Whether this node may hold copies now (cluster/lease.h): a fenced one takes none.
    const cluster::LeaseStatus lease = server.cluster()->lease().Status();
    w.Add("lease_state", lease.state);
    w.Add("fenced_reason", lease.fenced_reason.empty() ? "-" : lease.fenced_reason);
    // What this node holds for others: items a peer wrote, and tombstones (store.h Stats).
    const store::Stats st = server.store().GetStats();
    w.Add("copies", st.copies);
    w.Add("copy_bytes", st.copy_bytes);
    w.Add("tombstones", st.tombstones);
    w.Add("tombstone_bytes", st.tombstone_bytes);
    w.Add("guests", st.guests);
    w.Add("guest_bytes", st.guest_bytes);
    if (server.replicator() != nullptr) {
      w.Add("guest_writes", server.replicator()->guest_writes());
      for (const Replicator::PeerRow& r : server.replicator()->PerPeer()) {
        const std::string p = r.name + ":";
        w.Add(p + "links", static_cast<std::uint64_t>(r.links));
        w.Add(p + "links_ready", static_cast<std::uint64_t>(r.ready));
        w.Add(p + "queued", r.queued);
        w.Add(p + "applied", r.applied);
        w.Add(p + "not_newer", r.not_newer);
        w.Add(p + "failed", r.failed);
        w.Add(p + "dropped", r.dropped);
        w.Add(p + "retried", r.retried);
        w.Add(p + "resyncs", r.resyncs);
        w.Add(p + "hints", r.hints);
        w.Add(p + "hint_misses", r.hint_misses);
        w.Add(p + "pending_bytes", static_cast<std::uint64_t>(r.pending_bytes));
        w.Add(p + "connects", r.connects);
        w.Add(p + "lag_p50_us", r.LagPercentile(0.5));
        w.Add(p + "lag_p99_us", r.LagPercentile(0.99));
      }
    }
  } else if (sub == "cluster" && server.cluster() != nullptr) {
    // Only in a cluster: a single node answers ERROR, as memcached does.
    server.cluster()->AddStats(w);
    // Peer links accepted (server/peer_commands.cc), counted apart from client connections.
    w.Add("peer_links_accepted", server.settings().cluster_secret_file.empty() ? "no" : "yes");
    w.Add("peer_connections", server.peer_connections.load());
    w.Add("peer_links_total", server.peer_links_total.load());
    // Replication's outbound links (replicator.h), summed over workers and peers.
    const Replicator::Totals r =
        server.replicator() != nullptr ? server.replicator()->GetTotals() : Replicator::Totals{};
    w.Add("replicas", server.settings().replicas);
    w.Add("repl_links", static_cast<std::uint64_t>(r.links));
    w.Add("repl_links_ready", static_cast<std::uint64_t>(r.ready));
    w.Add("repl_queued", r.queued);
    w.Add("repl_applied", r.applied);
    w.Add("repl_not_newer", r.not_newer);
    w.Add("repl_failed", r.failed);
    w.Add("repl_dropped", r.dropped);
    w.Add("repl_retried", r.retried);
    w.Add("repl_resyncs", r.resyncs);
    w.Add("repl_hints", r.hints);
    w.Add("repl_hint_misses", r.hint_misses);
    w.Add("repl_connects", r.connects);
  } else {
    return StatsResult::kUnknown;
  }
  return StatsResult::kList;
}

void AppendCachedump(Server& server, unsigned class_id, long long limit, net::OutQueue* out) {
  struct Entry {
    std::string key;
    std::uint32_t bytes;
    base::RelTime exptime;
    std::uint64_t order;
  };
  std::vector<Entry> entries;
  server.store().Dump([&](const store::ItemInfo& info) {
    if (info.class_id == class_id) {
      entries.push_back({std::string(info.key), info.value_len, info.exptime,
                         info.cas != 0 ? info.cas : info.last_access});
    }
    return true;
  });
  // memcached walks its LRU from the head: most recently written first.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.order > b.order; });
  std::size_t n = limit > 0 ? std::min<std::size_t>(entries.size(), limit) : entries.size();
  std::string text;
  for (std::size_t i = 0; i < n; ++i) {
    const Entry& e = entries[i];
    std::int64_t exp = e.exptime == 0 ? 0 : server.clock().ToUnixTime(e.exptime);
    text += "ITEM " + e.key + " [" + std::to_string(e.bytes) + " b; " + std::to_string(exp) +
            " s]\r\n";
  }
  text += "END\r\n";
  out->Append(text);
}

void AppendMetadump(Server& server, std::string_view which, net::OutQueue* out) {
  std::vector<bool> classes;  // empty = all
  if (which != "all" && which != "hash") {
    classes.assign(kMaxReportedClass + 1, false);
    std::size_t start = 0;
    while (start <= which.size()) {
      std::size_t comma = which.find(',', start);
      if (comma == std::string_view::npos) comma = which.size();
      std::string id(which.substr(start, comma - start));
      char* end = nullptr;
      long v = std::strtol(id.c_str(), &end, 10);
      if (id.empty() || *end != '\0' || v < 1 || v > static_cast<long>(kMaxReportedClass)) {
        out->Append("BADCLASS invalid class id\r\n");
        return;
      }
      classes[v] = true;
      start = comma + 1;
    }
  }
  std::string text;
  base::Clock& clock = server.clock();
  server.store().Dump([&](const store::ItemInfo& info) {
    if (!classes.empty() && (info.class_id >= classes.size() || !classes[info.class_id])) {
      return true;
    }
    text += "key=";
    base::AppendUriEncoded(info.key, &text);
    text += " exp=";
    text += info.exptime == 0 ? std::string("-1") : std::to_string(clock.ToUnixTime(info.exptime));
    text += " la=" + std::to_string(clock.ToUnixTime(info.last_access));
    text += " cas=" + std::to_string(info.cas);
    text += info.fetched ? " fetch=yes" : " fetch=no";
    text += " cls=" + std::to_string(info.class_id);
    text += " size=" + std::to_string(info.total_size) + "\n";
    if (text.size() > (1u << 20)) {
      out->Append(text);
      text.clear();
    }
    return true;
  });
  text += "END\r\n";
  out->Append(text);
}

void ResetAllStats(Server& server) {
  for (const auto& w : server.workers()) {
    w->command_stats().Reset();
    w->conn_stats().Reset();
  }
  server.store().ResetStats();
  server.total_connections.store(0);
  server.rejected_connections.store(0);
  server.prefix_stats().Clear();
}

}  // namespace rc::server
