// cluster/hot_keys.cc -- see hot_keys.h.
#include "ringcached/cluster/hot_keys.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "ringcached/base/hash.h"

namespace rc::cluster {

SpaceSaving::SpaceSaving(std::size_t capacity) : capacity_(capacity), counters_(capacity) {
  for (Counter& c : counters_) c.entry.key.reserve(kKeyRoom);
  heap_.reserve(capacity);
  pos_.resize(capacity);
  std::size_t slots = 16;
  while (slots < capacity * 2) slots *= 2;
  index_.assign(slots, 0);
  mask_ = slots - 1;
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
      if (counters_[heap_[child]].entry.count < counters_[heap_[least]].entry.count) {
        least = child;
      }
    }
    if (least == pos) return;
    Swap(pos, least);
    pos = least;
  }
}

std::size_t SpaceSaving::Slot(std::uint64_t hash, std::string_view key) const {
  std::size_t slot = hash & mask_;
  while (index_[slot] != 0) {
    const Counter& c = counters_[index_[slot] - 1];
    if (c.hash == hash && c.entry.key == key) break;
    slot = (slot + 1) & mask_;
  }
  return slot;
}

void SpaceSaving::Unindex(std::size_t slot) {
  // Backward shift: each later entry of the chain moves into the hole unless its home slot lies
  // cyclically in (hole, its slot], where a lookup would stop short of the hole.
  std::size_t hole = slot;
  for (std::size_t at = (slot + 1) & mask_; index_[at] != 0; at = (at + 1) & mask_) {
    const std::size_t home = counters_[index_[at] - 1].hash & mask_;
    const bool stays = hole <= at ? (hole < home && home <= at) : (hole < home || home <= at);
    if (!stays) {
      index_[hole] = index_[at];
      hole = at;
    }
  }
  index_[hole] = 0;
}

void SpaceSaving::Add(std::string_view key, std::uint64_t bytes) {
  if (capacity_ == 0) return;
  const std::uint64_t hash = base::HashKey(key);
  const std::size_t slot = Slot(hash, key);
  if (index_[slot] != 0) {
    const std::uint32_t i = index_[slot] - 1;
    Entry& e = counters_[i].entry;
    ++e.count;
    e.bytes += bytes;
    SiftDown(pos_[i]);  // a count only grows: the counter can only move down
    return;
  }
  if (used_ < capacity_) {
    // A new counter counts 1, the least any can: it rises to the heap's top.
    const auto i = static_cast<std::uint32_t>(used_++);
    counters_[i].entry.key.assign(key);
    counters_[i].entry.count = 1;
    counters_[i].entry.error = 0;
    counters_[i].entry.bytes = bytes;
    counters_[i].hash = hash;
    index_[slot] = i + 1;
    heap_.push_back(i);
    pos_[i] = static_cast<std::uint32_t>(heap_.size() - 1);
    for (std::size_t at = heap_.size() - 1; at > 0; at = (at - 1) / 2) {
      if (counters_[heap_[(at - 1) / 2]].entry.count <= 1) break;
      Swap(at, (at - 1) / 2);
    }
    return;
  }
  // Full: the least counted key gives up its counter; the newcomer inherits its count as the
  // error it may carry.
  const std::uint32_t i = heap_[0];
  Counter& c = counters_[i];
  Unindex(Slot(c.hash, c.entry.key));
  c.entry.error = c.entry.count;
  c.entry.count += 1;
  c.entry.key.assign(key);
  c.entry.bytes = bytes;
  c.hash = hash;
  index_[Slot(hash, key)] = i + 1;  // the slot found above may have moved in the shift
  SiftDown(0);
}

std::vector<SpaceSaving::Entry> SpaceSaving::Take() {
  std::vector<Entry> out;
  out.reserve(used_);
  for (std::size_t i = 0; i < used_; ++i) out.push_back(counters_[i].entry);
  used_ = 0;
  heap_.clear();
  std::fill(index_.begin(), index_.end(), 0);
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
