// server/buffer_pool.h -- a worker's spare I/O buffers, lent to its connections while they have
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
// Thread-safety: none; owned by one worker and used only on its thread.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace rc::server {

class BufferPool {
 public:
  static constexpr std::size_t kSize = 16 * 1024;
  static constexpr std::size_t kMaxSpare = 32;

  // A kSize buffer: a spare if there is one, a new one otherwise.
  std::unique_ptr<char[]> Take() {
    if (spare_.empty()) return std::unique_ptr<char[]>(new char[kSize]);
    std::unique_ptr<char[]> buffer = std::move(spare_.back());
    spare_.pop_back();
    return buffer;
  }

  // Takes back a buffer that Take() lent (kSize bytes; its contents are dead).
  void Give(std::unique_ptr<char[]> buffer) {
    if (buffer == nullptr || spare_.size() >= kMaxSpare) return;  // freed here
    spare_.push_back(std::move(buffer));
  }

  std::size_t spare() const { return spare_.size(); }

 private:
  std::vector<std::unique_ptr<char[]>> spare_;
};

}  // namespace rc::server
