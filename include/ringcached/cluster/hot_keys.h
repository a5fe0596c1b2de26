// cluster/hot_keys.h -- finding the keys that draw a large share of a node's reads
// (../shared/REPLICATION.md section 7): the pure part, with no threads and no clock of its own,
// so that unit tests drive it window by window. server/hot_key_detector.h feeds it from the
// workers and publishes what it decides.
//
// Two ways of counting, one cheap and approximate, one exact and narrow:
//   * each worker samples about one read in 2^kSampleShift into a SpaceSaving sketch (the
//     top-K of a stream in K counters: Metwally, Agrawal and El Abbadi, 2005). It finds the
//     candidates among any number of keys, but a key near the threshold gets too few samples a
//     second to be judged on them;
//   * so the keys a window's samples put near the threshold (and every hot key) are *watched*
//     the next window: each worker counts every read of them, and the judgement is made on those
//     exact counts. A key far above the threshold is judged hot on its samples alone, one window
//     sooner, when they leave no reasonable doubt.
//
// The rules (HotKeyRules): a key is hot when it is read at least `qps` times a second on this
// node, or, while the node is busy (serving at least `qps` reads a second in all), when it takes
// at least `share` of the node's reads. Hysteresis: a hot key stays hot while its rate, times
// the number of nodes clients read it from (its copies take that share of its reads off this
// node), is at least 0.8 of the threshold; after kQuietWindows windows below that it cools.
//
// Thread-safety: none; SpaceSaving belongs to one worker, HotKeyJudge to one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace rc::cluster {

// The top-K of a stream of keys: K counters, each a key, its count, and by how much that count
// may overstate it (`error`: the count of the key it replaced). Every key read more than N/K
// times of N is among them. Add allocates nothing once the counters are in use (keys up to
// kKeyRoom bytes): it runs on a worker, for every sampled read.
class SpaceSaving {
 public:
  explicit SpaceSaving(std::size_t capacity);
  void Add(std::string_view key, std::uint64_t bytes);
  struct Entry {
    std::string key;
    std::uint64_t count = 0, error = 0, bytes = 0;
  };
  // The counters, most counted first, and the sketch emptied.
  std::vector<Entry> Take();
  std::size_t size() const { return used_; }

 private:
  static constexpr std::size_t kKeyRoom = 64;
  struct Counter {
    Entry entry;
    std::uint64_t hash = 0;
  };
  // A min-heap of counter indices by count, and where each counter sits in it.
  void SiftDown(std::size_t pos);
  void Swap(std::size_t a, std::size_t b);
  // The index: open addressing with linear probing over counter index + 1 (0: empty), at
  // most half full; a removal shifts the probe chain back, so no tombstones build up.
  std::size_t Slot(std::uint64_t hash, std::string_view key) const;
  void Unindex(std::size_t slot);
  std::size_t capacity_, used_ = 0;
  std::vector<Counter> counters_;
  std::vector<std::uint32_t> heap_, pos_;
  std::vector<std::uint32_t> index_;
  std::size_t mask_;
};

inline constexpr unsigned kSampleShift = 4;  // one read in 16 is sampled
inline constexpr std::size_t kSketchCapacity = 512;
inline constexpr std::size_t kMaxWatched = 64;
inline constexpr int kQuietWindows = 3;

struct HotKeyRules {
  double qps = 0;    // --hot-key-qps: reads a second that make a key hot
  double share = 0;  // --hot-key-share: the share of a busy node's reads that does (0: off)
};

// What one worker counted over one window.
struct WindowReport {
  double seconds = 0;  // how long it sampled and counted reads
  std::uint64_t reads = 0;
  std::vector<SpaceSaving::Entry> sampled;
  // Every read of the watched keys, counted since the watch list was installed
  // (`watched_seconds` ago).
  double watched_seconds = 0;
  struct Watched {
    std::string key;
    std::uint64_t reads = 0, bytes = 0;
  };
  std::vector<Watched> watched;
};

struct HotKey {
  std::string key;
  double reads_per_s = 0, bytes_per_s = 0;  // on this node, last window
  std::int64_t since_ms = 0;                // when it became hot (the caller's clock)
  int quiet = 0;                            // windows in a row below the cooling threshold
};

class HotKeyJudge {
 public:
  explicit HotKeyJudge(HotKeyRules rules) : rules_(rules) {}
  // Judges one window from the workers' reports; true when the set of hot keys changed.
  // `readers(key)`: how many nodes clients read a hot key from (1 while it is not spread).
  bool Judge(const std::vector<WindowReport>& reports, std::int64_t now_ms,
             const std::function<int(std::string_view)>& readers);
  const std::vector<HotKey>& hot() const { return hot_; }
  // The keys to count exactly next window: every hot key, then the likeliest candidates.
  const std::vector<std::string>& watch() const { return watch_; }
  double node_reads_per_s() const { return node_reads_per_s_; }
  // The rate above which a key is hot this window (the share rule can lower it).
  double threshold() const { return threshold_; }

 private:
  HotKeyRules rules_;
  std::vector<HotKey> hot_;
  std::vector<std::string> watch_;
  double node_reads_per_s_ = 0;
  double threshold_ = 0;
};

}  // namespace rc::cluster
