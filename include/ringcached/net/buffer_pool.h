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
// borrower's own business and are never given back here. How many spares it keeps follows how
// many its connections borrow at once: a worker's read round reads every ready connection
// before it runs any, so under load as many buffers are out at once as connections were ready.
// A fixed cap of 32 spares made a round of 50 ready connections allocate and free 18 buffers
// from jemalloc (which has no thread caches here, server/main.cc), about 4,000 instructions a
// buffer: 9% of a 10-key multi-get's cost (callgrind, 50 connections). So every buffer given
// back is kept (up to kMaxSpare), and Trim(), once a second, frees the spares beyond the most
// that were out at once since the last Trim (at least kMinSpare): a steady load keeps what it
// borrows, and a burst's buffers go back within two seconds.
//
// Thread-safety: Take/Give/Trim on the owning worker's thread only; count() and spare() from any.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <vector>

namespace rc::net {

class BufferPool {
 public:
  static constexpr std::size_t kSize = 16 * 1024;
  static constexpr std::size_t kMinSpare = 32;
  static constexpr std::size_t kMaxSpare = 1024;

  // A kSize buffer: a spare if there is one, a new one otherwise.
  std::unique_ptr<char[]> Take() {
    if (++lent_ > peak_) peak_ = lent_;
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
    if (lent_ > 0) --lent_;
    if (spare_.size() >= kMaxSpare) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      return;  // freed here
    }
    spare_.push_back(std::move(buffer));
    spare_count_.store(spare_.size(), std::memory_order_relaxed);
  }

  // Frees the spares beyond the most buffers lent at once since the last Trim (at least
  // kMinSpare), and starts counting that anew.
  void Trim() {
    std::size_t keep = std::max(kMinSpare, peak_);
    if (spare_.size() > keep) {
      count_.fetch_sub(spare_.size() - keep, std::memory_order_relaxed);
      spare_.resize(keep);
      spare_count_.store(spare_.size(), std::memory_order_relaxed);
    }
    peak_ = lent_;
  }

  // Whether Trim() might free something (from any thread: a hint).
  bool WorthTrimming() const { return spare() > kMinSpare; }

  // For `stats` (read_buf_count, read_buf_bytes_free), from any thread: the buffers that exist,
  // lent or spare, and the spares.
  std::size_t count() const { return count_.load(std::memory_order_relaxed); }
  std::size_t spare() const { return spare_count_.load(std::memory_order_relaxed); }

 private:
  std::vector<std::unique_ptr<char[]>> spare_;
  std::size_t lent_ = 0;  // out now
  std::size_t peak_ = 0;  // the most out at once since the last Trim
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> spare_count_{0};
};

}  // namespace rc::net
