// cluster/hot_keys.cc -- see hot_keys.h.
#include "ringcached/cluster/hot_keys.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace rc::cluster {

SpaceSaving::SpaceSaving(std::size_t capacity) : capacity_(capacity) {
  entries_.reserve(capacity);
  heap_.reserve(capacity);
  pos_.reserve(capacity);
  index_.reserve(capacity * 2);
}

void SpaceSaving::Swap(std::size_t a, std::size_t b) {
  std::swap(heap_[a], heap_[b]);
  pos_[heap_[a]] = static_cast<std::uint32_t>(a);
  pos_[heap_[b]] = static_cast<std::uint32_t>(b);
}

void SpaceSaving::SiftDown(std::size_t pos) {
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t least = pos;
    for (std::size_t child = 2 * pos + 1; child <= 2 * pos + 2 && child < n; ++child) {
      if (entries_[heap_[child]].count < entries_[heap_[least]].count) least = child;
    }
    if (least == pos) return;
    Swap(pos, least);
    pos = least;
  }
}

void SpaceSaving::Add(std::string_view key, std::uint64_t bytes) {
  if (capacity_ == 0) return;
  if (auto it = index_.find(key); it != index_.end()) {
    Entry& e = entries_[it->second];
    ++e.count;
    e.bytes += bytes;
    SiftDown(pos_[it->second]);  // a count only grows: the entry can only move down
    return;
  }
  if (entries_.size() < capacity_) {
    // A new entry counts 1, the least any entry can: it rises to the heap's top.
    const auto i = static_cast<std::uint32_t>(entries_.size());
    entries_.push_back({std::string(key), 1, 0, bytes});
    heap_.push_back(i);
    pos_.push_back(static_cast<std::uint32_t>(heap_.size() - 1));
    index_.emplace(entries_[i].key, i);
    for (std::size_t at = heap_.size() - 1; at > 0; at = (at - 1) / 2) {
      if (entries_[heap_[(at - 1) / 2]].count <= 1) break;
      Swap(at, (at - 1) / 2);
    }
    return;
  }
  // Full: the least counted key gives up its counter; the newcomer inherits its count as the
  // error it may carry.
  const std::uint32_t i = heap_[0];
  Entry& e = entries_[i];
  index_.erase(e.key);
  e.error = e.count;
  e.count += 1;
  e.key.assign(key);
  e.bytes = bytes;
  index_.emplace(e.key, i);
  SiftDown(0);
}

std::vector<SpaceSaving::Entry> SpaceSaving::Take() {
  std::vector<Entry> out = std::move(entries_);
  entries_.clear();
  entries_.reserve(capacity_);
  heap_.clear();
  pos_.clear();
  index_.clear();
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.count > b.count; });
  return out;
}

bool HotKeyJudge::Judge(const std::vector<WindowReport>& reports, std::int64_t now_ms,
                        const std::function<int(std::string_view)>& readers) {
  // One tally per key seen: its rate on this node, summed over the workers, exact where every
  // worker watched it.
  struct Tally {
    double rate = 0, bytes_rate = 0;
    std::size_t watched_by = 0;
    std::uint64_t samples = 0;  // sampled reads, less what the sketches may overstate
  };
  std::map<std::string, Tally, std::less<>> tallies;
  double node_rate = 0, seconds = 0;
  std::size_t counted = 0;
  for (const WindowReport& r : reports) {
    if (r.seconds <= 0) continue;
    ++counted;
    seconds += r.seconds;
    node_rate += static_cast<double>(r.reads) / r.seconds;
    std::map<std::string_view, bool> watched_here;
    if (r.watched_seconds > 0) {
      for (const WindowReport::Watched& w : r.watched) {
        Tally& t = tallies[w.key];
        t.rate += static_cast<double>(w.reads) / r.watched_seconds;
        t.bytes_rate += static_cast<double>(w.bytes) / r.watched_seconds;
        ++t.watched_by;
        watched_here[w.key] = true;
      }
    }
    for (const SpaceSaving::Entry& e : r.sampled) {
      Tally& t = tallies[e.key];
      t.samples += e.count - e.error;
      if (watched_here.count(e.key) != 0) continue;
      // What the samples prove (the count less what it may overstate): a key that took a
      // counter late inherits a count the stream's tail made, and must not crowd out the keys
      // that earned theirs.
      t.rate += static_cast<double>((e.count - e.error) << kSampleShift) / r.seconds;
      t.bytes_rate += static_cast<double>(e.bytes << kSampleShift) / r.seconds;
    }
  }
  node_reads_per_s_ = node_rate;
  threshold_ = rules_.qps;
  if (rules_.share > 0 && node_rate >= rules_.qps) {
    threshold_ = std::min(threshold_, rules_.share * node_rate);
  }
  if (counted == 0) return false;
  // Samples that leave no reasonable doubt: four standard deviations above what a key read at
  // the threshold would give.
  const double expected = threshold_ * (seconds / static_cast<double>(counted)) /
                          static_cast<double>(1u << kSampleShift);
  const double beyond_doubt = expected + 4 * std::sqrt(expected) + 4;

  bool changed = false;
  for (auto it = hot_.begin(); it != hot_.end();) {
    auto t = tallies.find(it->key);
    const double rate = t == tallies.end() ? 0 : t->second.rate;
    it->reads_per_s = rate;
    it->bytes_per_s = t == tallies.end() ? 0 : t->second.bytes_rate;
    it->quiet = rate * std::max(1, readers(it->key)) >= 0.8 * threshold_ ? 0 : it->quiet + 1;
    if (it->quiet >= kQuietWindows) {
      it = hot_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  auto is_hot = [this](std::string_view key) {
    return std::any_of(hot_.begin(), hot_.end(), [&](const HotKey& h) { return h.key == key; });
  };
  std::vector<std::pair<double, const std::string*>> candidates;
  for (const auto& [key, t] : tallies) {
    if (is_hot(key)) continue;
    const bool exact = t.watched_by == counted;
    if ((exact && t.rate >= threshold_) || static_cast<double>(t.samples) >= beyond_doubt) {
      hot_.push_back({key, t.rate, t.bytes_rate, now_ms, 0});
      changed = true;
    } else if (t.rate >= 0.25 * threshold_) {
      candidates.emplace_back(t.rate, &key);
    }
  }
  std::sort(hot_.begin(), hot_.end(),
            [](const HotKey& a, const HotKey& b) { return a.reads_per_s > b.reads_per_s; });
  if (hot_.size() > kMaxWatched) {  // a threshold set far too low: keep the hottest
    hot_.resize(kMaxWatched);
    changed = true;
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  watch_.clear();
  for (const HotKey& h : hot_) watch_.push_back(h.key);
  for (const auto& [rate, key] : candidates) {
    if (watch_.size() >= kMaxWatched) break;
    watch_.push_back(*key);
  }
  return changed;
}

}  // namespace rc::cluster
