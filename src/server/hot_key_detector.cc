// server/hot_key_detector.cc -- see hot_key_detector.h.
#include "server/hot_key_detector.h"

#include <algorithm>
#include <array>
#include <chrono>

#include <cstring>

namespace rc::server {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A watched key's fingerprint: its length and its first and last 8 bytes, mixed. Cheaper than a
// whole hash on every read, and enough to keep the watch table's probes short; keys that share
// it are told apart by comparing them whole.
std::uint64_t Fingerprint(std::string_view key) {
  std::uint64_t head = 0, tail = 0;
  if (key.size() >= 8) {
    std::memcpy(&head, key.data(), 8);
    std::memcpy(&tail, key.data() + key.size() - 8, 8);
  } else {
    std::memcpy(&head, key.data(), key.size());
  }
  return ((head * 0x9E3779B97F4A7C15ULL) ^ tail ^ key.size()) * 0xBF58476D1CE4E5B9ULL;
}

}  // namespace

// One worker's counting (hot_key_detector.h). Every member is touched on its worker only.
class HotKeyDetector::Tap final : public ReadSampler {
 public:
  Tap(ReadSampler* next, std::uint64_t seed) : next_(next), rng_(seed | 1) {
    slots_.fill(kEmpty);
    NextGap();
  }

  void OnRead(std::string_view key, std::size_t value_bytes) override {
    ++reads_;
    if (!watched_.empty()) CountWatched(key, value_bytes);
    if (--gap_ == 0) {
      sketch_.Add(key, value_bytes);
      NextGap();
    }
    if (next_ != nullptr) next_->OnRead(key, value_bytes);
  }

  // The window so far, and a new one begun.
  cluster::WindowReport Take() {
    cluster::WindowReport r;
    r.seconds = SecondsSince(window_start_);
    r.reads = reads_;
    r.sampled = sketch_.Take();
    r.watched_seconds = SecondsSince(watch_start_);
    for (Watched& w : watched_) {
      r.watched.push_back({w.key, w.reads, w.bytes});
      w.reads = w.bytes = 0;
    }
    reads_ = 0;
    window_start_ = watch_start_ = std::chrono::steady_clock::now();
    return r;
  }

  // Counts every read of `keys` from now on (and of no other).
  void Watch(const std::vector<std::string>& keys) {
    watched_.clear();
    slots_.fill(kEmpty);
    for (const std::string& key : keys) {
      if (watched_.size() >= cluster::kMaxWatched) break;
      const std::uint64_t hash = Fingerprint(key);
      std::size_t slot = hash >> kSlotShift;
      while (slots_[slot] != kEmpty) slot = (slot + 1) & (kSlots - 1);
      slots_[slot] = static_cast<std::uint8_t>(watched_.size());
      watched_.push_back({key, hash, 0, 0});
    }
    watch_start_ = std::chrono::steady_clock::now();
  }

 private:
  static constexpr std::size_t kSlots = 128;  // at least twice kMaxWatched: short probes
  static constexpr unsigned kSlotShift = 64 - 7;  // a fingerprint's top 7 bits pick the slot
  static constexpr std::uint8_t kEmpty = 0xff;
  static_assert(cluster::kMaxWatched * 2 <= kSlots && kSlots < kEmpty);

  // The reads until the next sample: 1 to 2^(kSampleShift+1) - 1, uniformly (a mean of
  // 2^kSampleShift), from a 64-bit LCG's top bits: in no pattern a client's reads could follow.
  void NextGap() {
    rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
    constexpr std::uint64_t kSpan = (2u << cluster::kSampleShift) - 1;
    gap_ = 1 + static_cast<std::uint32_t>(((rng_ >> 32) * kSpan) >> 32);
  }

  void CountWatched(std::string_view key, std::size_t value_bytes) {
    const std::uint64_t hash = Fingerprint(key);
    for (std::size_t slot = hash >> kSlotShift; slots_[slot] != kEmpty;
         slot = (slot + 1) & (kSlots - 1)) {
      Watched& w = watched_[slots_[slot]];
      if (w.hash == hash && w.key == key) {
        ++w.reads;
        w.bytes += value_bytes;
        return;
      }
    }
  }

  struct Watched {
    std::string key;
    std::uint64_t hash;
    std::uint64_t reads, bytes;
  };
  ReadSampler* const next_;
  std::uint64_t rng_;
  std::uint32_t gap_ = 1;
  std::uint64_t reads_ = 0;
  cluster::SpaceSaving sketch_{cluster::kSketchCapacity};
  std::vector<Watched> watched_;
  std::array<std::uint8_t, kSlots> slots_;
  std::chrono::steady_clock::time_point window_start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point watch_start_ = window_start_;
};

bool HotKeyDetector::List::Contains(std::string_view key) const {
  return std::any_of(keys.begin(), keys.end(),
                     [&](const cluster::HotKey& h) { return h.key == key; });
}

HotKeyDetector::HotKeyDetector(cluster::HotKeyRules rules, net::EventLoop* main_loop,
                               std::vector<net::EventLoop*> worker_loops,
                               std::vector<ReadSampler*> next)
    : rules_(rules),
      main_loop_(main_loop),
      worker_loops_(std::move(worker_loops)),
      judge_(rules),
      list_(std::make_shared<List>()) {
  for (std::size_t i = 0; i < worker_loops_.size(); ++i) {
    taps_.push_back(std::make_unique<Tap>(i < next.size() ? next[i] : nullptr,
                                          0x9e3779b97f4a7c15ULL * (i + 1)));
  }
}

HotKeyDetector::~HotKeyDetector() = default;

ReadSampler* HotKeyDetector::sampler(std::size_t worker) { return taps_[worker].get(); }

std::shared_ptr<const HotKeyDetector::List> HotKeyDetector::list() const {
  base::MutexLock lock(mu_);
  return list_;
}

void HotKeyDetector::Tick() {
  if (awaited_ != 0) return;  // a worker has not answered the last window yet
  awaited_ = taps_.size();
  reports_.assign(taps_.size(), {});
  for (std::size_t i = 0; i < taps_.size(); ++i) {
    worker_loops_[i]->RunInLoop([this, i] {
      cluster::WindowReport report = taps_[i]->Take();
      main_loop_->RunInLoop([this, i, report = std::move(report)]() mutable {
        OnReport(i, std::move(report));
      });
    });
  }
}

void HotKeyDetector::OnReport(std::size_t worker, cluster::WindowReport report) {
  reports_[worker] = std::move(report);
  if (--awaited_ == 0) Judge();
}

void HotKeyDetector::Judge() {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  std::shared_ptr<const List> before = list();
  const bool changed = judge_.Judge(reports_, now_ms, readers_);
  windows_.fetch_add(1);
  auto list = std::make_shared<List>();
  list->keys = judge_.hot();
  list->node_reads_per_s = judge_.node_reads_per_s();
  list->threshold = judge_.threshold();
  list->version = before->version + (changed ? 1 : 0);
  std::uint64_t found = 0;
  for (const cluster::HotKey& h : list->keys) found += before->Contains(h.key) ? 0 : 1;
  const std::uint64_t kept = list->keys.size() - found;
  found_.fetch_add(found);
  cooled_.fetch_add(before->keys.size() - kept);
  {
    base::MutexLock lock(mu_);
    list_ = list;
  }
  version_.store(list->version, std::memory_order_release);
  const auto watch = std::make_shared<const std::vector<std::string>>(judge_.watch());
  for (std::size_t i = 0; i < taps_.size(); ++i) {
    worker_loops_[i]->RunInLoop([this, i, watch] { taps_[i]->Watch(*watch); });
  }
}

}  // namespace rc::server
