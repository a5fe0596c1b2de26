// net/input_buffer.cc -- see input_buffer.h.
#include "ringcached/net/input_buffer.h"

#include <cstring>

namespace rc::net {

bool InputBuffer::Reserve() {
  if (buf_ == nullptr) {
    buf_ = pool_->Take();
    cap_ = BufferPool::kSize;
    start_ = end_ = 0;
  }
  if (start_ == end_) start_ = end_ = 0;
  if (end_ < cap_) return true;
  if (start_ > 0) {
    std::memmove(buf_.get(), buf_.get() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
    return true;
  }
  if (cap_ >= max_) return false;
  std::unique_ptr<char[]> bigger(new char[cap_ * 2]);
  std::memcpy(bigger.get(), buf_.get(), end_);
  if (cap_ == BufferPool::kSize) pool_->Give(std::move(buf_));
  buf_ = std::move(bigger);
  cap_ *= 2;
  return true;
}

void InputBuffer::Release() {
  if (buf_ != nullptr && cap_ == BufferPool::kSize) {
    pool_->Give(std::move(buf_));
  } else {
    buf_.reset();
  }
  cap_ = start_ = end_ = 0;
}

char* InputBuffer::Whole(std::size_t n) {
  if (cap_ < n) {
    Release();
    buf_.reset(new char[n]);
    cap_ = n;
  }
  start_ = end_ = 0;
  return buf_.get();
}

}  // namespace rc::net
