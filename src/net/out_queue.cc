// net/out_queue.cc -- see out_queue.h.
#include "ringcached/net/out_queue.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include <algorithm>

namespace rc::net {

char* OutQueue::Reserve(std::size_t n) {
  if (blocks_used_ > 0 && blocks_[blocks_used_ - 1].size - block_used_ >= n) {
    return blocks_[blocks_used_ - 1].data.get() + block_used_;
  }
  // Start the next block: an ordinary one from the pool, a larger one of its own size. (Blocks
  // beyond blocks_used_ are left by a rollback; one big enough is used again.)
  std::size_t size = std::max(n, kBlockSize);
  if (blocks_used_ == blocks_.size()) {
    blocks_.push_back({size == kBlockSize ? pool_->Take() : std::unique_ptr<char[]>(new char[size]),
                       size});
  } else if (blocks_[blocks_used_].size < size) {
    GiveBack(blocks_used_);
    blocks_[blocks_used_] = {std::unique_ptr<char[]>(new char[size]), size};
  }
  ++blocks_used_;
  block_used_ = 0;
  last_iov_in_block_ = false;
  return blocks_[blocks_used_ - 1].data.get();
}

void OutQueue::Commit(std::size_t used) {
  if (used == 0) return;
  char* start = blocks_[blocks_used_ - 1].data.get() + block_used_;
  block_used_ += used;
  AddIov(start, used, true);
}

void OutQueue::Append(std::string_view s) {
  char* p = Reserve(s.size());
  memcpy(p, s.data(), s.size());
  Commit(s.size());
}

void OutQueue::AppendPinned(std::string_view bytes, Pin pin, std::string_view suffix) {
  if (bytes.size() <= kCopyLimit) {
    // Small: copied with its suffix into the text, so a whole get reply is one iovec and the
    // pin is dropped at once.
    char* p = Reserve(bytes.size() + suffix.size());
    memcpy(p, bytes.data(), bytes.size());
    if (suffix.size() == 2) {
      memcpy(p + bytes.size(), suffix.data(), 2);  // "\r\n": two moves, no call
    } else if (!suffix.empty()) {
      memcpy(p + bytes.size(), suffix.data(), suffix.size());
    }
    Commit(bytes.size() + suffix.size());
    return;
  }
  AddIov(bytes.data(), bytes.size(), false);
  pins_.push_back(std::move(pin));
  // The suffix, written as text, starts the iovec that the next reply's text extends, so a
  // multi-get costs no more iovecs than one per value and one for the text between values.
  if (!suffix.empty()) Append(suffix);
}

void OutQueue::AddIov(const char* base, std::size_t len, bool own_block) {
  pending_bytes_ += len;
  // Text formatted right after the previous text in the same block extends its iovec.
  if (own_block && last_iov_in_block_ && !iov_.empty() &&
      static_cast<char*>(iov_.back().iov_base) + iov_.back().iov_len == base) {
    iov_.back().iov_len += len;
    return;
  }
  iov_.push_back({const_cast<char*>(base), len});
  last_iov_in_block_ = own_block;
}

void OutQueue::Rollback(const Mark& mark) {
  for (std::size_t i = mark.iovs; i < iov_.size(); ++i) pending_bytes_ -= iov_[i].iov_len;
  iov_.resize(mark.iovs);
  pins_.resize(mark.pins);
  blocks_used_ = mark.blocks;
  block_used_ = mark.block_used;
  // The iovec before the mark may have been extended after it; trim it back to the block's
  // write point so the discarded text is not sent.
  last_iov_in_block_ = false;
  if (!iov_.empty() && blocks_used_ > 0) {
    char* block = blocks_[blocks_used_ - 1].data.get();
    char* base = static_cast<char*>(iov_.back().iov_base);
    if (base >= block && base <= block + blocks_[blocks_used_ - 1].size) {
      std::size_t keep = static_cast<std::size_t>(block + block_used_ - base);
      if (keep < iov_.back().iov_len) {
        pending_bytes_ -= iov_.back().iov_len - keep;
        iov_.back().iov_len = keep;
      }
      last_iov_in_block_ = true;
    }
  }
}

void OutQueue::MoveSince(const Mark& mark, std::string* out) {
  if (mark.iovs > 0 && mark.iovs <= iov_.size()) {
    const iovec& before = iov_[mark.iovs - 1];
    if (before.iov_len > mark.last_len) {
      out->append(static_cast<const char*>(before.iov_base) + mark.last_len,
                  before.iov_len - mark.last_len);
    }
  }
  for (std::size_t i = mark.iovs; i < iov_.size(); ++i) {
    out->append(static_cast<const char*>(iov_[i].iov_base), iov_[i].iov_len);
  }
  Rollback(mark);
  if (empty()) Clear();  // nothing left to send: the blocks go back to the pool
}

void OutQueue::Clear() {
  iov_.clear();
  sent_iovs_ = 0;
  pending_bytes_ = 0;
  pins_.clear();
  blocks_used_ = 0;
  block_used_ = 0;
  last_iov_in_block_ = false;
  // Nothing waits: the blocks go back to the pool (the larger ones are freed), so that an idle
  // connection holds none.
  for (std::size_t i = 0; i < blocks_.size(); ++i) GiveBack(i);
  blocks_.clear();
}

void OutQueue::GiveBack(std::size_t block) {
  if (blocks_[block].size == kBlockSize) pool_->Give(std::move(blocks_[block].data));
  blocks_[block].data.reset();
}

void OutQueue::MoveTo(std::string* out) {
  out->reserve(out->size() + pending_bytes_);
  for (std::size_t i = sent_iovs_; i < iov_.size(); ++i) {
    out->append(static_cast<const char*>(iov_[i].iov_base), iov_[i].iov_len);
  }
  Clear();
}

namespace {

// send() for one buffer, sendmsg() for several: the socket calls skip the file layer that
// write()/writev() go through (measured: about 1% of a small request's CPU).
ssize_t Send(int fd, const iovec* iov, std::size_t count) {
  if (count == 1) return send(fd, iov->iov_base, iov->iov_len, MSG_NOSIGNAL);
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = count;
  return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

}  // namespace

OutQueue::WriteStatus OutQueue::WriteTo(int fd, std::size_t* written) {
  while (sent_iovs_ < iov_.size()) {
    std::size_t count = std::min<std::size_t>(iov_.size() - sent_iovs_, IOV_MAX);
    ssize_t n = Send(fd, &iov_[sent_iovs_], count);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return WriteStatus::kBlocked;
      return WriteStatus::kError;
    }
    *written += static_cast<std::size_t>(n);
    pending_bytes_ -= static_cast<std::size_t>(n);
    auto left = static_cast<std::size_t>(n);
    while (left > 0) {
      iovec& v = iov_[sent_iovs_];
      if (left >= v.iov_len) {
        left -= v.iov_len;
        ++sent_iovs_;
      } else {
        v.iov_base = static_cast<char*>(v.iov_base) + left;
        v.iov_len -= left;
        left = 0;
      }
    }
  }
  Clear();
  return WriteStatus::kDone;
}

}  // namespace rc::net
