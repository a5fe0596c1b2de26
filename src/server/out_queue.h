// server/out_queue.h -- a connection's pending replies, sent with send() or sendmsg().
//
// Reply text (status lines, VALUE headers, stats) is formatted into 16 KB blocks borrowed from the
// worker's BufferPool while replies wait, and given back once they have left (an idle connection
// holds no block).
// Values above kCopyLimit are not copied: the queue points an iovec at the item's memory and
// holds an ItemRef so the item stays valid until the bytes are on the wire. Smaller values are
// copied into the text, which costs less than an iovec and a reference: a small get's whole
// reply is then one iovec instead of three. Replies to pipelined requests accumulate and leave
// in as few calls as the kernel allows.
//
// Thread-safety: none; owned by one connection on one worker.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/store/store.h"
#include "server/buffer_pool.h"

namespace rc::server {

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
  // Queues the item's value (from item memory, held until sent, unless it is small enough to
  // copy) and "\r\n" after it.
  void AppendValue(store::ItemRef item);
  // Queues `bytes`, which lie in `item`'s memory (a binary reply's value, without "\r\n"),
  // copied when small as AppendValue does.
  void AppendItemBytes(store::ItemRef item, std::string_view bytes);

  // A point to roll back to, discarding everything queued after it (a multi-get that fails on
  // its Nth key answers only the error, as memcached does).
  struct Mark {
    std::size_t iovs, blocks, block_used, items;
  };
  Mark GetMark() const { return {iov_.size(), blocks_used_, block_used_, items_.size()}; }
  void Rollback(const Mark& mark);

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
  std::vector<store::ItemRef> items_;
  bool last_iov_in_block_ = false;               // iov_.back() ends at the block's write point
};

}  // namespace rc::server
