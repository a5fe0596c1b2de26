// net/out_queue.h -- a connection's bytes waiting to be sent, sent with send() or sendmsg().
//
// Text (status lines, VALUE headers, stats) is formatted into 16 KB blocks borrowed from the
// worker's BufferPool while it waits, and given back once it has left (an idle connection holds
// no block). Bytes that live elsewhere -- a value in item memory -- come with a Pin that keeps
// them valid: above kCopyLimit the queue points an iovec at them and holds the Pin until they
// are on the wire. Smaller ones are copied into the text, which costs less than an iovec and a
// pin: a small get's whole reply is then one iovec instead of three. Replies to pipelined
// requests accumulate and leave in as few calls as the kernel allows.
//
// net/ moves bytes and does not know what a Pin holds (server/ pins store items with it, a peer
// link could pin anything else).
//
// Thread-safety: none; owned by one connection on one worker.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/net/buffer_pool.h"

namespace rc::net {

// Keeps some bytes valid while they wait in an OutQueue: an owner and the function that lets it
// go (called once, when the pin is destroyed). Move-only; an empty Pin holds nothing.
class Pin {
 public:
  using Drop = void (*)(void* owner) noexcept;
  Pin() = default;
  Pin(void* owner, Drop drop) : owner_(owner), drop_(drop) {}
  Pin(Pin&& other) noexcept : owner_(other.owner_), drop_(other.drop_) {
    other.owner_ = nullptr;
  }
  Pin& operator=(Pin&& other) noexcept {
    if (this != &other) {
      Reset();
      owner_ = other.owner_;
      drop_ = other.drop_;
      other.owner_ = nullptr;
    }
    return *this;
  }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  ~Pin() { Reset(); }

  void Reset() {
    if (owner_ != nullptr) drop_(owner_);
    owner_ = nullptr;
  }

 private:
  void* owner_ = nullptr;
  Drop drop_ = nullptr;
};

class OutQueue {
 public:
  explicit OutQueue(BufferPool* pool) : pool_(pool) {}
  ~OutQueue() { Clear(); }
  OutQueue(const OutQueue&) = delete;
  OutQueue& operator=(const OutQueue&) = delete;

  // Copies `s` into the queue.
  void Append(std::string_view s);
  // Returns room for at least `n` contiguous bytes; Commit(used) then adds what was written.
  char* Reserve(std::size_t n);
  void Commit(std::size_t used);
  // Queues `bytes`, which `pin` keeps valid, then `suffix` (copied; a text value's "\r\n"). Bytes
  // up to kCopyLimit are copied and the pin dropped at once; larger ones are sent from where
  // they are, and the pin is held until they have left.
  void AppendPinned(std::string_view bytes, Pin pin, std::string_view suffix = {});

  // A point to roll back to, discarding everything queued after it (a multi-get that fails on
  // its Nth key answers only the error, as memcached does).
  struct Mark {
    std::size_t iovs, blocks, block_used, pins;
    std::size_t last_len;  // of the iovec before the mark, which later text may extend
  };
  Mark GetMark() const {
    return {iov_.size(), blocks_used_, block_used_, pins_.size(),
            iov_.empty() ? 0 : iov_.back().iov_len};
  }
  void Rollback(const Mark& mark);
  // Appends to *out the bytes queued after `mark` and rolls back to it: a reply taken out of the
  // queue to be sent later (a parked request's). Nothing may have been sent since the mark.
  void MoveSince(const Mark& mark, std::string* out);

  bool empty() const { return sent_iovs_ == iov_.size(); }
  std::size_t pending_bytes() const { return pending_bytes_; }

  // Moves everything queued into *out (contiguous), leaving the queue empty. For UDP, whose
  // replies are cut into datagrams.
  void MoveTo(std::string* out);

  enum class WriteStatus { kDone, kBlocked, kError };
  // Writes as much as the socket takes; adds the bytes written to *written.
  WriteStatus WriteTo(int fd, std::size_t* written);

 private:
  static constexpr std::size_t kBlockSize = BufferPool::kSize;
  static constexpr std::size_t kCopyLimit = 512;
  void AddIov(const char* base, std::size_t len, bool own_block);
  void Clear();
  // Returns blocks_[block] to the pool if it is an ordinary block, frees it otherwise.
  void GiveBack(std::size_t block);

  BufferPool* pool_;
  std::vector<iovec> iov_;
  std::size_t sent_iovs_ = 0;
  std::size_t pending_bytes_ = 0;
  // blocks_[0 .. blocks_used_) are in use; those of kBlockSize are the pool's.
  struct Block {
    std::unique_ptr<char[]> data;
    std::size_t size;
  };
  std::vector<Block> blocks_;
  std::size_t blocks_used_ = 0;
  std::size_t block_used_ = 0;                   // bytes used in blocks_[blocks_used_ - 1]
  std::vector<Pin> pins_;
  bool last_iov_in_block_ = false;               // iov_.back() ends at the block's write point
};

}  // namespace rc::net
