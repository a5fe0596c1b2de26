// server/prefix_stats.cc -- see prefix_stats.h.
#include "server/prefix_stats.h"

namespace rc::server {

void PrefixStats::Record(std::string_view key, char delimiter, Op op, bool hit) {
  std::size_t end = key.find(delimiter);
  if (end == std::string_view::npos) return;
  std::string_view prefix = key.substr(0, end);
  base::MutexLock lock(mu_);
  auto it = prefixes_.find(prefix);
  if (it == prefixes_.end()) it = prefixes_.emplace(std::string(prefix), Counts{}).first;
  switch (op) {
    case Op::kGet:
      ++it->second.gets;
      if (hit) ++it->second.hits;
      break;
    case Op::kSet: ++it->second.sets; break;
    case Op::kDelete: ++it->second.deletes; break;
  }
}

std::string PrefixStats::Dump() const {
  std::string out;
  base::MutexLock lock(mu_);
  for (const auto& [prefix, c] : prefixes_) {
    out += "PREFIX " + prefix + " get " + std::to_string(c.gets) + " hit " +
           std::to_string(c.hits) + " set " + std::to_string(c.sets) + " del " +
           std::to_string(c.deletes) + "\r\n";
  }
  out += "END\r\n";
  return out;
}

void PrefixStats::Clear() {
  base::MutexLock lock(mu_);
  prefixes_.clear();
}

}  // namespace rc::server
