// server/settings.h -- every setting of the server, as the command line and --config-file set it.
//
// Names, meanings and defaults follow memcached 1.6.18 (reference/memcached-1.6.18-help.txt,
// memcached.c settings_init). src/server/options.cc holds the one option table that fills this
// struct, prints -h, validates, and names each field for `stats settings`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rc::server {

enum class Protocol : unsigned char { kAuto, kAscii, kBinary };

struct Settings {
  // Network.
  int port = 11211;                       // -p; 0 disables TCP, -1 picks an ephemeral port
  int udp_port = 0;                       // -U; 0 = off (memcached's UDP frames, on every worker)
  std::vector<std::string> listen;        // -l, split on ','; empty = all interfaces
  std::string unix_socket;                // -s; when set, TCP and UDP are off
  int unix_mask = 0700;                   // -a, octal
  int maxconns = 1024;                    // -c
  int backlog = 1024;                     // -b
  int reqs_per_event = 20;                // -R
  Protocol protocol = Protocol::kAuto;    // -B
  bool maxconns_fast = true;              // -o maxconns_fast / no_maxconns_fast
  int idle_timeout = 0;                   // -o idle_timeout, seconds; 0 = never

  // Process.
  bool daemonize = false;                 // -d
  std::string pid_file;                   // -P
  std::string user;                       // -u
  bool enable_shutdown = false;           // -A
  bool enable_coredumps = false;          // -r
  bool lock_memory = false;               // -k
  int verbose = 0;                        // -v, -vv, -vvv
  int num_threads = 4;                    // -t
  bool oversubscribe = false;             // --oversubscribe: run all -t workers on fewer CPUs

  // Store.
  std::size_t maxbytes = 64u << 20;       // -m (given in MB)
  bool evictions = true;                  // -M turns off
  bool use_cas = true;                    // -C turns off
  std::size_t item_size_max = 1u << 20;   // -I (k/m suffixes)
  double growth_factor = 1.25;            // -f (accepted; jemalloc's classes are used)
  int chunk_size = 48;                    // -n (accepted; see doc/deviations.md)
  bool large_pages = false;               // -L
  int hashpower_init = 0;                 // -o hashpower
  // -o slab_chunk_max, in BYTES: memcached 1.6.18 reads the value as bytes although its -h says
  // kilobytes (1.6.24 switched to kilobytes); its t/item_size_max.t passes bytes.
  std::size_t slab_chunk_max = 512u << 10;
  bool slab_reassign = true;              // -o slab_reassign
  int slab_automove = 1;                  // -o slab_automove[=N]
  double slab_automove_ratio = 0.8;
  int slab_automove_window = 30;
  bool lru_crawler = true;                // -o lru_crawler / no_lru_crawler
  int lru_crawler_sleep = 100;            // microseconds
  int lru_crawler_tocrawl = 0;
  bool lru_maintainer = true;             // -o lru_maintainer / no_lru_maintainer
  bool lru_segmented = true;
  int hot_lru_pct = 20;
  int warm_lru_pct = 40;
  double hot_max_factor = 0.2;
  double warm_max_factor = 2.0;
  bool temp_lru = false;
  int temporary_ttl = 61;
  int tail_repair_time = 0;
  std::string hash_algorithm = "murmur3";
  bool hash_expand = true;                // -o no_hashexpand turns off
  bool track_sizes = false;               // -o track_sizes
  int read_buf_mem_limit = 0;             // MB (`stats settings` shows bytes)
  int watcher_logbuf_size = 256 << 10;    // bytes (-o takes KB)
  int worker_logbuf_size = 64 << 10;      // bytes (-o takes KB)

  // Commands.
  char prefix_delimiter = ':';            // -D
  bool detail_enabled = false;            // -D turns on
  bool flush_enabled = true;              // -F turns off
  bool dump_enabled = true;               // -X turns off
  bool watch_enabled = true;              // -W turns off

  // Cluster (issue #5). With `cluster` empty the server is the single node memcached is, and
  // the other fields are ignored (no control thread, no ZooKeeper).
  std::string cluster;                    // --cluster zk://host:port[,host:port...]/path
  std::string advertise;                  // --advertise; empty = from -l/-p at start-up
  std::uint32_t weight = 1;               // --weight
  int ring_debounce_ms = 1000;            // --ring-debounce-ms
  std::string ring_profile = "libmemcached";  // --ring-profile
  int zk_session_timeout_ms = 10000;      // --zk-session-timeout
  int max_clock_skew_ms = 1000;           // --max-clock-skew-ms (versions; also single node: E)
  std::string cluster_secret_file;        // --cluster-secret-file: accept authenticated peers
  // --replicas: copies of each key; 0 until validated, then 2 with a secret file, else 1.
  int replicas = 0;
  std::string replication = "async";      // --replication: async or sync
  int replication_timeout_ms = 1000;      // --replication-timeout-ms (sync)
  int tombstone_ttl = 30;                 // --tombstone-ttl, seconds (with peers)
  int guest_ttl = 5;                      // --guest-ttl, seconds (with replication)
  int handoff_rate = 32 << 20;            // --handoff-rate, bytes a second (with replication)
  int handoff_drop_delay = 60;            // --handoff-drop-delay, seconds (with replication)
  int handoff_timeout = 300;              // --handoff-timeout, seconds (with replication)
  // Hot keys (server/hot_key_detector.h): found on any node, spread with replication.
  int hot_key_qps = 5000;                 // --hot-key-qps, reads a second; 0 = detection off
  double hot_key_share = 0.2;             // --hot-key-share of a busy node's reads; 0 = off
  int hot_copies = 2;                     // --hot-copies beyond the key's holders
  int hot_copy_ttl = 10;                  // --hot-copy-ttl, seconds

  // Read-through (issue #6). With `origin` empty a miss is a miss, as in memcached, and the
  // other fields are ignored.
  std::string origin;                     // --origin postgresql://... or http://host:port/prefix/
  std::string origin_query;               // --origin-query, PostgreSQL: takes the key as $1
  std::string origin_key_prefix;          // --origin-key-prefix; empty = every key
  int origin_ttl = 300;                   // --origin-ttl, seconds (an exptime; 0 = never)
  int origin_negative_ttl = 3;            // --origin-negative-ttl, seconds; 0 = off
  int origin_timeout_ms = 500;            // --origin-timeout-ms
  int origin_connections = 4;             // --origin-connections
  int origin_breaker_failures = 5;        // --origin-breaker-failures; 0 = never opens
  int origin_breaker_open_ms = 5000;      // --origin-breaker-open-ms

  // How stream connections receive: "epoll", or "io_uring" (or fail at start-up).
  std::string io_engine = "epoll";        // --io-engine

  std::string config_file;                // --config-file

};

// The settings admin commands change while the server runs (`verbosity`, `cache_memlimit`,
// `stats detail`, `stats sizes_enable`, `lru_crawler enable`, `slabs automove`, `lru temp_ttl`,
// `lru mode`), each by the name of the Settings field it starts from. This one list declares the
// live copies, fills them from the start-up settings and puts them back for `stats settings`.
#define RC_RUNTIME_SETTINGS(X)                                                                  \
  X(int, verbose) X(std::size_t, maxbytes) X(bool, detail_enabled) X(bool, track_sizes)         \
  X(bool, lru_crawler) X(int, slab_automove) X(int, temporary_ttl) X(bool, temp_lru)            \
  X(bool, lru_segmented)

// Settings is the snapshot the server started with and never changes; what changes lives here.
// Any thread reads and writes these (relaxed atomics: a command's change shows up soon, in no
// particular order with other memory).
struct RuntimeSettings {
  explicit RuntimeSettings(const Settings& start)
#define RC_INIT_FROM(type, name) , name(start.name)
      : oldest_live(0) RC_RUNTIME_SETTINGS(RC_INIT_FROM) {}
#undef RC_INIT_FROM

  // `start` with the live values in place of the ones it started with.
  Settings Live(Settings start) const {
#define RC_COPY_BACK(type, name) start.name = name.load(std::memory_order_relaxed);
    RC_RUNTIME_SETTINGS(RC_COPY_BACK)
#undef RC_COPY_BACK
    return start;
  }

  // The server-relative time (seconds since start) of the last flush_all, 0 if none: memcached's
  // settings.oldest_live, shown by `stats settings` as "oldest".
  std::atomic<std::uint32_t> oldest_live;
#define RC_DECLARE_LIVE(type, name) std::atomic<type> name;
  RC_RUNTIME_SETTINGS(RC_DECLARE_LIVE)
#undef RC_DECLARE_LIVE
  std::atomic<std::uint64_t> sizes_since_cas{0};  // `stats sizes` counts items with a newer CAS
};

}  // namespace rc::server
