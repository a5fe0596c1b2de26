// store/index.cc -- the open-addressing table's memory and inserts (see index.h).
#include "store/index.h"

#include <algorithm>
#include <cmath>

#include "ringcached/base/check.h"

namespace rc::store::internal {

bool Index::Init(std::size_t slots, std::size_t trailer_bytes) {
  RC_CHECK(slots_.data() == nullptr && slots >= 8);
  std::size_t trailer_slots = (trailer_bytes + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t);
  if (!slots_.Allocate(slots + trailer_slots)) return false;
  slots_n_ = slots;
  return true;
}

void Index::Insert(std::uint64_t hash, Item* item) {
  std::size_t i = Home(hash);
  while (slots_[i] > kTombstone) i = Next(i);
  if (slots_[i] == kTombstone) --tombstones_;
  slots_[i] = Tag(hash) | reinterpret_cast<std::uintptr_t>(item);
  ++live_;
}

std::size_t Index::RebuildSlots() const {
  if (static_cast<double>(live_) <= kRebuildLoad * static_cast<double>(slots_n_)) return slots_n_;
  auto want = static_cast<std::size_t>(std::ceil(static_cast<double>(live_ + 1) / kMinLoad));
  return std::max(want, slots_n_ + 8);
}

}  // namespace rc::store::internal
