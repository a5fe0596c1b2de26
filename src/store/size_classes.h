// store/size_classes.h -- jemalloc's size classes, numbered the way `stats slabs` shows them.
//
// The store has no slab allocator of its own: every item is one jemalloc allocation, so the
// "slab classes" that memcached's stats and tools talk about are jemalloc's size classes. This
// table is read once from jemalloc itself (mallctl "arenas.bin.<i>.size" for the small classes,
// "arenas.lextent.<i>.size" for the large ones), so it always matches what nallocx() returns and
// lets the hot path find an item's usable size without calling into jemalloc.
//
// Class ids start at 1 (memcached's slab class 0 is reserved too) and grow with size. Only classes
// up to 4 GiB are listed, which keeps ids within a byte (the item header stores one).
//
// Thread-safety: the table is built once, on first use, and never changes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rc::store::internal {

class SizeClasses {
 public:
  // The process-wide table. Inline so that the hot path pays only the guard check.
  static const SizeClasses& Get() {
    static const SizeClasses table;  // C++ guarantees a thread-safe first initialisation
    return table;
  }

  // The class an allocation of `size` bytes lands in (1-based), or 0 when `size` is larger than
  // the largest listed class.
  unsigned ClassOf(std::size_t size) const {
    if (size <= kSmallLimit) return small_lookup_[(size + 7) >> 3];
    return ClassOfLarge(size);
  }
  // The allocation (usable) size of class `id`; `id` must be in [1, count()].
  std::size_t ClassSize(unsigned id) const { return sizes_[id - 1]; }
  unsigned count() const { return static_cast<unsigned>(sizes_.size()); }
  // Large classes are whole pages, allocated as extents rather than slab regions.
  bool IsLarge(unsigned id) const { return id > small_count_; }
  // jemalloc's page size ("arenas.page").
  std::size_t page() const { return page_; }

 private:
  static constexpr std::size_t kSmallLimit = 4096;

  SizeClasses();
  unsigned ClassOfLarge(std::size_t size) const;

  std::vector<std::size_t> sizes_;  // ascending; sizes_[id - 1] is class id's size
  unsigned small_count_ = 0;        // classes 1..small_count_ are slab (small) classes
  std::size_t page_ = 0;
  std::uint8_t small_lookup_[(kSmallLimit >> 3) + 1];  // (size + 7) / 8 -> class id
};

}  // namespace rc::store::internal
