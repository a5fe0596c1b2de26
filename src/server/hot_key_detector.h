// server/hot_key_detector.h -- HotKeyDetector: the keys this node's clients read most, found
// while it serves (../shared/REPLICATION.md section 7; the counting and the rules are
// cluster/hot_keys.h). On with --hot-key-qps above 0, on a single node as in a cluster.
//
// Each worker has a Tap, the ReadSampler its sessions tell of every hit (read_sampler.h), ahead
// of the replicator's access hints, which it passes every read on to. A tap costs a read a
// counter increment and a countdown to the next sample (a random gap averaging 16 reads); the
// sample goes into its SpaceSaving sketch; while keys are watched, every read also looks its
// key's fingerprint (length, first and last 8 bytes) up in a 128-slot table of them.
//
// Every second (Tick, on the main loop) the detector asks each worker for its window -- a
// closure posted to the worker's loop, which posts the tap's report back -- and once every
// worker has answered, judges the window (HotKeyJudge), publishes the hot list, and posts each
// tap its new watch list. Nothing on a worker waits: a worker that has not answered by the next
// tick only makes that tick skip.
//
// The published list (List) is a snapshot swapped whole: `stats hotkeys`, `config get hotkeys`
// and the replicator's spreading read it from any thread; the replicator tells the judge how
// many nodes each hot key is read from (set_readers), so that a spread key does not cool
// because its copies took its reads.
//
// Thread-safety: Tick on the main loop; each tap on its worker; list(), version() and the
// counters from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/mutex.h"
#include "ringcached/cluster/hot_keys.h"
#include "ringcached/net/event_loop.h"
#include "server/read_sampler.h"

namespace rc::server {

class HotKeyDetector {
 public:
  // `worker_loops[i]`: worker i's loop; `next[i]`: the sampler its sessions had before (the
  // replicator's hints), or null.
  HotKeyDetector(cluster::HotKeyRules rules, net::EventLoop* main_loop,
                 std::vector<net::EventLoop*> worker_loops, std::vector<ReadSampler*> next);
  ~HotKeyDetector();

  // Worker i's tap, for its SessionContext.
  ReadSampler* sampler(std::size_t worker);
  // Once a second, on the main loop.
  void Tick();
  // How many nodes clients read a hot key from (the replicator's spreading). Before Tick runs.
  void set_readers(std::function<int(std::string_view)> readers) { readers_ = std::move(readers); }

  struct List {
    std::uint64_t version = 0;  // changes with the set of hot keys
    std::vector<cluster::HotKey> keys;
    double node_reads_per_s = 0, threshold = 0;
    bool Contains(std::string_view key) const;
  };
  // The last judged window's list. Any thread.
  std::shared_ptr<const List> list() const;
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  const cluster::HotKeyRules& rules() const { return rules_; }
  // Windows judged, keys that became hot, keys that cooled. Any thread.
  std::uint64_t windows() const { return windows_.load(); }
  std::uint64_t found() const { return found_.load(); }
  std::uint64_t cooled() const { return cooled_.load(); }

 private:
  class Tap;
  void OnReport(std::size_t worker, cluster::WindowReport report);
  void Judge();

  const cluster::HotKeyRules rules_;
  net::EventLoop* const main_loop_;
  const std::vector<net::EventLoop*> worker_loops_;
  std::vector<std::unique_ptr<Tap>> taps_;
  std::function<int(std::string_view)> readers_ = [](std::string_view) { return 1; };
  // The window being collected, on the main loop.
  cluster::HotKeyJudge judge_;
  std::vector<cluster::WindowReport> reports_;
  std::size_t awaited_ = 0;  // workers yet to answer this window
  mutable base::Mutex mu_;
  std::shared_ptr<const List> list_ RC_GUARDED_BY(mu_);
  std::atomic<std::uint64_t> version_{0}, windows_{0}, found_{0}, cooled_{0};
};

class Server;
class StatSink;
// `stats hotkeys` (hot_key_stats.cc).
void AppendHotKeyStats(const Server& server, StatSink& sink);

}  // namespace rc::server
