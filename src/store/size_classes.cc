// store/size_classes.cc -- reads jemalloc's size classes once, through mallctl.
#include "store/size_classes.h"

#include <jemalloc/jemalloc.h>

#include <algorithm>
#include <cstdio>

#include "ringcached/base/check.h"
#include "store/item.h"

namespace rc::store::internal {
namespace {

constexpr std::size_t kLargestListed = std::size_t{4} << 30;

// A jemalloc class id as `stats` numbers it, given the class of the smallest item.
unsigned Report(unsigned cls, unsigned first) { return cls >= first ? cls - first + 1 : 1; }

unsigned ReadUnsigned(const char* name) {
  unsigned v = 0;
  std::size_t len = sizeof(v);
  RC_CHECK(mallctl(name, &v, &len, nullptr, 0) == 0);
  return v;
}

std::size_t ReadSize(const char* name) {
  std::size_t v = 0;
  std::size_t len = sizeof(v);
  RC_CHECK(mallctl(name, &v, &len, nullptr, 0) == 0);
  return v;
}

}  // namespace

SizeClasses::SizeClasses() {
  char name[64];
  unsigned nbins = ReadUnsigned("arenas.nbins");
  for (unsigned i = 0; i < nbins; ++i) {
    std::snprintf(name, sizeof(name), "arenas.bin.%u.size", i);
    sizes_.push_back(ReadSize(name));
  }
  small_count_ = nbins;
  page_ = ReadSize("arenas.page");
  unsigned nlextents = ReadUnsigned("arenas.nlextents");
  for (unsigned i = 0; i < nlextents; ++i) {
    std::snprintf(name, sizeof(name), "arenas.lextent.%u.size", i);
    std::size_t size = ReadSize(name);
    if (size > kLargestListed) break;
    sizes_.push_back(size);
  }
  RC_CHECK(!sizes_.empty() && sizes_.size() <= 255);
  RC_CHECK(std::is_sorted(sizes_.begin(), sizes_.end()));

  // Every class up to 4 KiB is a multiple of 8 in jemalloc (16 from 16 bytes up), so a table with
  // one entry per 8 bytes answers exactly for that range.
  for (std::size_t i = 0; i <= (kSmallLimit >> 3); ++i) {
    std::size_t size = std::max<std::size_t>(i << 3, 1);
    small_lookup_[i] = static_cast<std::uint8_t>(ClassOfLarge(size));
  }
  // The same, renumbered as `stats` reports them (ReportedClassOf). Computed here rather than
  // through FirstItemClass(), which needs this table to exist.
  unsigned first = small_lookup_[(Item::Stride(Item::TotalSize(0, 1, 0)) + 7) >> 3];
  for (std::size_t i = 0; i <= (kSmallLimit >> 3); ++i) {
    reported_lookup_[i] = static_cast<std::uint8_t>(Report(small_lookup_[i], first));
  }
}

unsigned SizeClasses::ClassOfLarge(std::size_t size) const {
  auto it = std::lower_bound(sizes_.begin(), sizes_.end(), size);
  if (it == sizes_.end()) return 0;
  return static_cast<unsigned>(it - sizes_.begin()) + 1;
}

namespace {
// The class the smallest possible item (16-byte header, 1-byte key) falls in: reported as 1.
unsigned FirstItemClass() {
  static const unsigned first =
      SizeClasses::Get().ClassOf(Item::Stride(Item::TotalSize(0, 1, 0)));
  return first;
}
}  // namespace

unsigned ReportedClassOfLarge(std::size_t size) {
  const SizeClasses& c = SizeClasses::Get();
  unsigned cls = c.ClassOf(size);
  if (cls == 0) cls = c.count();
  return Report(cls, FirstItemClass());
}

std::size_t ReportedClassSize(unsigned id) {
  const SizeClasses& c = SizeClasses::Get();
  unsigned internal_id = id + FirstItemClass() - 1;
  return id >= 1 && internal_id <= c.count() ? c.ClassSize(internal_id) : 0;
}

}  // namespace rc::store::internal
