// store/zeroed_table.h -- memory for the store's tables (hash index, ghost fingerprints), taken
// straight from the kernel as an anonymous mapping.
//
// Why not the allocator: a table arrives zeroed, which is what an empty table is, and when it is
// rebuilt the old one is freed whole. From a mapping its pages go back to the OS at once; freed
// into jemalloc's default arena they stayed resident for its dirty decay (10 s), which after an
// overfill held about 0.65 MB of old ghost tables in RSS at -m 64 (doc/store.md, "RSS").
//
// A mapping is whole pages, so bytes() is the page-rounded size, and that is what the shard
// charges to the Pool; capacity() says how many elements fit in it, for tables that can use the
// rounding (the ghost table does).
//
// Thread-safety: none; the owner's lock guards it.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <utility>

namespace rc::store::internal {

template <typename T>
class ZeroedTable {
 public:
  ZeroedTable() = default;
  ~ZeroedTable() { Release(); }
  ZeroedTable(const ZeroedTable&) = delete;
  ZeroedTable& operator=(const ZeroedTable&) = delete;

  // Maps room for at least `n` elements, zeroed; false (and nothing held) when the kernel
  // refuses.
  bool Allocate(std::size_t n) {
    Release();
    std::size_t bytes = RoundedBytes(n);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    data_ = static_cast<T*>(p);
    bytes_ = bytes;
    return true;
  }

  void Swap(ZeroedTable& other) {
    std::swap(data_, other.data_);
    std::swap(bytes_, other.bytes_);
  }

  T* data() const { return data_; }
  T& operator[](std::size_t i) const { return data_[i]; }
  std::size_t bytes() const { return bytes_; }
  std::size_t capacity() const { return bytes_ / sizeof(T); }

  static std::size_t RoundedBytes(std::size_t n) {
    static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return (n * sizeof(T) + page - 1) / page * page;
  }

 private:
  void Release() {
    if (data_ != nullptr) munmap(data_, bytes_);
    data_ = nullptr;
    bytes_ = 0;
  }

  T* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace rc::store::internal
