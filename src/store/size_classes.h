// store/size_classes.h -- the size classes `stats slabs` and `stats items` report items by.
//
// Items are packed into segments (item.h), so no allocator rounds them up; but memcached's stats
// and tools talk about slab classes, so items are still counted per size class. The classes are
// jemalloc's (read once through mallctl "arenas.bin.<i>.size" and "arenas.lextent.<i>.size"), a
// geometric series much like memcached's -f 1.25 one, numbered from the class the smallest
// possible item falls in, so that small items are class 1 as in memcached and tools that dump
// class 1 find them. A class's "chunk size" is its upper bound.
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
  // ReportedClassOf() for sizes up to 4 KiB: one table lookup (it runs on every link and unlink).
  unsigned ReportedSmall(std::size_t size) const { return reported_lookup_[(size + 7) >> 3]; }
  static constexpr std::size_t kSmallLimit = 4096;

 private:
  SizeClasses();
  unsigned ClassOfLarge(std::size_t size) const;

  std::vector<std::size_t> sizes_;  // ascending; sizes_[id - 1] is class id's size
  unsigned small_count_ = 0;        // classes 1..small_count_ are slab (small) classes
  std::size_t page_ = 0;
  std::uint8_t small_lookup_[(kSmallLimit >> 3) + 1];  // (size + 7) / 8 -> class id
  std::uint8_t reported_lookup_[(kSmallLimit >> 3) + 1];  // (size + 7) / 8 -> reported id
};

// The reported class (1-based) of an item occupying `size` bytes; sizes beyond the last class
// report the last class.
unsigned ReportedClassOfLarge(std::size_t size);
inline unsigned ReportedClassOf(std::size_t size) {
  const SizeClasses& c = SizeClasses::Get();
  return size <= SizeClasses::kSmallLimit ? c.ReportedSmall(size) : ReportedClassOfLarge(size);
}
// The upper bound of reported class `id`; 0 when there is no such class.
std::size_t ReportedClassSize(unsigned id);

}  // namespace rc::store::internal
