// store/index.cc -- the open-addressing table's memory and inserts (see index.h).
#include "store/index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>

#include "ringcached/base/check.h"

namespace rc::store::internal {

// Tables live in their own anonymous mappings: they arrive zeroed, and the memory of a table that
// was rebuilt goes straight back to the OS instead of sitting dirty in an allocator.
bool Index::Init(std::size_t slots) {
  RC_CHECK(slots_ == nullptr && slots >= 8);
  void* p = mmap(nullptr, Bytes(slots), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  slots_ = static_cast<std::uint64_t*>(p);
  slots_n_ = slots;
  return true;
}

Index::~Index() {
  if (slots_ != nullptr) munmap(slots_, Bytes(slots_n_));
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
