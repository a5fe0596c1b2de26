// net/buffer_pool.h -- a worker's spare I/O buffers, lent to its connections while they have
// bytes in hand and taken back when they go quiet.
//
// A connection needs an input buffer only while a request is arriving or waiting to run, and an
// output block only while replies wait to leave. Owning both for its whole life, as it once did,
// made every idle connection cost two 16 KB buffers (about 11 KB of them resident: 114 MB of RSS
// with 10,000 idle connections, where memcached needs 12 MB). Lent from here instead, what a
// worker holds is what its busy connections use at once, plus a few spares, whatever the number
// of open connections -- memcached's read buffers are lent the same way (its rbuf cache).
//
// Every buffer is kSize bytes; larger ones (a long multi-get line, a big stats reply) are the
// borrower's own business and are never given back here. The spares are capped at kMaxSpare:
// one burst of many busy connections does not keep its buffers for ever.
//
// Thread-safety: Take/Give on the owning worker's thread only; count() and spare() from any.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace rc::net {

class BufferPool {
 public:
  static constexpr std::size_t kSize = 16 * 1024;
  static constexpr std::size_t kMaxSpare = 32;

  // A kSize buffer: a spare if there is one, a new one otherwise.
  std::unique_ptr<char[]> Take() {
    if (spare_.empty()) {
      count_.fetch_add(1, std::memory_order_relaxed);
      return std::unique_ptr<char[]>(new char[kSize]);
    }
    std::unique_ptr<char[]> buffer = std::move(spare_.back());
    spare_.pop_back();
    spare_count_.store(spare_.size(), std::memory_order_relaxed);
    return buffer;
  }

  // Takes back a buffer that Take() lent (kSize bytes; its contents are dead).
  void Give(std::unique_ptr<char[]> buffer) {
    if (buffer == nullptr) return;
    if (spare_.size() >= kMaxSpare) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      return;  // freed here
    }
    spare_.push_back(std::move(buffer));
    spare_count_.store(spare_.size(), std::memory_order_relaxed);
  }

  // For `stats` (read_buf_count, read_buf_bytes_free), from any thread: the buffers that exist,
  // lent or spare, and the spares.
  std::size_t count() const { return count_.load(std::memory_order_relaxed); }
  std::size_t spare() const { return spare_count_.load(std::memory_order_relaxed); }

 private:
  std::vector<std::unique_ptr<char[]>> spare_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> spare_count_{0};
};

}  // namespace rc::net
