// net/input_buffer.h -- a connection's received bytes waiting to be parsed.
//
// The buffer is borrowed from the worker's BufferPool when bytes arrive and given back when the
// owner says they have all been used (Release), so an idle connection holds none. A request
// longer than the pool's buffers (a get of many keys) makes it grow, by doubling, up to the
// limit given at construction; a grown buffer is the connection's own and is freed, not pooled.
//
//   [ consumed | data() ... size() | room() to fill at tail() ]
//   0          start_              end_                     cap_
//
// Thread-safety: none; owned by one connection on one worker.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "ringcached/net/buffer_pool.h"

namespace rc::net {

class InputBuffer {
 public:
  InputBuffer(BufferPool* pool, std::size_t max_bytes) : pool_(pool), max_(max_bytes) {}
  ~InputBuffer() { Release(); }
  InputBuffer(const InputBuffer&) = delete;
  InputBuffer& operator=(const InputBuffer&) = delete;

  // The bytes received and not yet consumed.
  const char* data() const { return buf_.get() + start_; }
  std::size_t size() const { return end_ - start_; }
  bool empty() const { return start_ == end_; }
  std::string_view view() const { return {data(), size()}; }
  void Consume(std::size_t n) { start_ += n; }

  // Makes room at the tail: borrows a buffer if there is none, moves the data to the front, or
  // doubles the buffer. False when the data already fills the largest buffer allowed.
  bool Reserve();
  char* tail() { return buf_.get() + end_; }
  std::size_t room() const { return cap_ - end_; }
  void Commit(std::size_t n) { end_ += n; }
  // Nothing consumed and no room left: a read now would have to move or grow the buffer.
  bool full() const { return end_ == cap_ && start_ == 0; }
  std::size_t capacity() const { return cap_; }

  // Gives the buffer back (a pool buffer to the pool, a grown one freed), dropping any bytes.
  // The owner calls it once nothing refers into the buffer any more.
  void Release();

  // Datagrams: the whole buffer, at least `n` bytes (the connection's own), emptied; then
  // Frame() marks which part of what was written is the request.
  char* Whole(std::size_t n);
  void Frame(std::size_t start, std::size_t end) {
    start_ = start;
    end_ = end;
  }

 private:
  BufferPool* pool_;
  std::size_t max_;
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0, start_ = 0, end_ = 0;
};

}  // namespace rc::net
