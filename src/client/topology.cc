// client/topology.cc -- see topology.h.
#include "client/topology.h"

#include <algorithm>

namespace rc::client {

Topology::Topology(std::int64_t version, std::vector<cluster::RingMember> members,
                   cluster::RingProfile profile, std::vector<std::shared_ptr<Node>> nodes)
    : version_(version), router_(std::move(members), profile), nodes_(std::move(nodes)) {
  for (std::uint32_t i = 0; i < router_.members().size(); ++i) {
    index_.emplace(router_.members()[i].name, i);
  }
}

std::size_t Topology::ReadOrder(std::string_view key, std::uint32_t* out, std::size_t max,
                                bool hot_copies) const {
  const auto is_tko = [this](std::uint32_t m) { return IsTko(m); };
  std::size_t n = 0;
  const std::uint32_t owner = router_.Owner(key);
  const std::shared_ptr<const HotList> hot = nodes_[owner]->hot();
  if (hot_copies && !hot->keys.empty()) {
    const auto it = hot->keys.find(key);
    if (it != hot->keys.end() && !it->second.copies.empty()) {
      const std::vector<std::string>& copies = it->second.copies;
      const std::size_t pick = ChooseHotCopy(copies, hot->slot, [&](std::string_view name) {
        const auto m = index_.find(name);
        return m != index_.end() && !IsTko(m->second);
      });
      if (pick < copies.size()) out[n++] = index_.find(copies[pick])->second;
    }
  }
  if (n >= max) return n;
  std::uint32_t rest[4];
  const std::size_t got = router_.ReadOrder(key, is_tko, rest, std::min<std::size_t>(4, max));
  for (std::size_t i = 0; i < got && n < max; ++i) {
    if (std::find(out, out + n, rest[i]) == out + n) out[n++] = rest[i];
  }
  return n;
}

std::uint32_t Topology::HotCopyTtl(std::string_view key) const {
  const std::shared_ptr<const HotList> hot = nodes_[router_.Owner(key)]->hot();
  if (hot->keys.empty() || hot->keys.find(key) == hot->keys.end()) return 0;
  return hot->copy_ttl_s;
}

bool Topology::IsHotCopyRead(std::string_view key, std::uint32_t member) const {
  std::uint32_t holder;
  return ReadOrder(key, &holder, 1, /*hot_copies=*/false) == 1 && holder != member;
}

std::uint32_t Topology::WriteTarget(std::string_view key) const {
  return router_.WriteTarget(key, [this](std::uint32_t m) { return IsTko(m); });
}

}  // namespace rc::client
