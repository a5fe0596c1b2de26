// store/item.h -- an item's bytes inside a segment, and the header of the segment that holds it.
//
// Items are packed one after another into segments (Segcache's idea: Yang et al., NSDI'21): a
// segment is one jemalloc allocation, 1 MiB for a 64 MiB cache, written append-only and evicted
// whole (doc/store.md). An item therefore needs no allocator rounding, no free-list links and no
// queue links, and its header holds only what the protocols can ask about, with the fields most
// items do not use left out:
//
//   0       4    5    6    7    8
//   +-------+----+----+----+----+---------+-------+-------+--------+---------+-----+-------+
//   | atime |bits|lay |klen|vlen|[exptime]|[flags]|[stamp]|[vlen32]| version | key | value |
//   +-------+----+----+----+----+---------+-------+-------+--------+---------+-----+-------+
//   atime    last access (RelTime), atomic: readers bump it under the shard lock
//   bits     S3-FIFO frequency, linked, fetched, and the meta protocol's stale / win-token state
//   lay      layout: which optional words follow, and immutable properties (binary key, tombstone,
//            guest copy, CAS hidden by -C)
//   klen     key length (1..250); vlen: the value length when it is below 256
//   exptime  only when the item was stored with an expiry (kHasExptime); atomic (touch)
//   flags    only when the client flags are not 0 (kHasFlags)
//   vlen32   the whole value length, when it is 256 or more (kWideValue)
//   stamp    the TTL stamp, only once the item has been touched (kHasTtlStamp): the version of the
//            latest TTL change, which replicas order TTL changes by (REPLICATION.md section 3);
//            8 bytes, written and read under the shard lock. Without one it is the version.
//   version  the item's version (base/hybrid_clock.h), which is also its CAS (8 bytes, 4-aligned,
//            read with memcpy). It never changes once the item is linked: whatever gives a key a
//            new version writes a new item.
//
// So a 16-byte key with a 32-byte value and no expiry or flags costs 16 bytes of header (memcached:
// 56 and a slab class rounding), and items start on 4-byte boundaries so that the atomics are
// aligned. The value is not followed by "\r\n": connections send that from a constant.
//
// An item whose expiry is 0 has no room for one; touching it to a non-zero expiry writes a copy
// with the room (Store::Impl::Rewrite). That keeps the common no-TTL item 4 bytes smaller, and
// items stored with a TTL pay nothing extra until they are touched. The first touch of an item
// writes a copy with room for a TTL stamp as well; later touches change both words in place.
//
// References are counted per SEGMENT, not per item: an ItemRef pins the segment its item lives
// in, so a connection can writev a value from item memory while another thread evicts the
// segment. Segments are aligned to kSegmentAlign, which is how an ItemRef holding nothing but the
// item pointer finds its segment.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include "ringcached/base/check.h"
#include "ringcached/base/clock.h"

namespace rc::store::internal {

// Item::bits (mutable, under the shard lock; readable by anyone holding a reference).
inline constexpr std::uint8_t kFreqMask = 0x03;   // S3-FIFO access count, saturating at 3
inline constexpr std::uint8_t kSizeCredit = 0x04;  // kept once unread for being small (segments.cc)
inline constexpr std::uint8_t kLinked = 0x08;     // in the hash table
inline constexpr std::uint8_t kFetched = 0x10;    // read at least once since it was linked
// Linked from a peer's copy (PutOptions::if_newer): its version was minted elsewhere (counted as
// a copy in Stats). Set before linking.
inline constexpr std::uint8_t kFromPeer = 0x20;
// The meta protocol's anti-stampede state (memcached ITEM_STALE, ITEM_TOKEN_SENT).
inline constexpr std::uint8_t kStale = 0x40;         // invalidated (md I, ms I): serve, but recache
inline constexpr std::uint8_t kWinTokenSent = 0x80;  // a client was told it won the recache (W)

// Item::layout (immutable once the item is linked). The four optional words are the low four
// bits, so that the header's size is one table lookup.
inline constexpr std::uint8_t kHasExptime = 0x01;
inline constexpr std::uint8_t kHasFlags = 0x02;
inline constexpr std::uint8_t kWideValue = 0x04;
inline constexpr std::uint8_t kHasTtlStamp = 0x08;
inline constexpr std::uint8_t kWordsMask = 0x0f;
inline constexpr std::uint8_t kKeyBinary = 0x10;  // the key arrived base64-encoded (meta `b`)
inline constexpr std::uint8_t kCasHidden = 0x20;  // -C: the CAS reads as 0
// A delete's tombstone (key and version, no value): what a replicated write older than the
// delete must not resurrect (REPLICATION.md section 3). Lookups see a miss.
inline constexpr std::uint8_t kTombstone = 0x40;
// A guest copy: a client wrote the key on a node that does not hold it, which forwarded the write
// to the holders and cut its own copy's expiry to --guest-ttl (Store::ApplyTtl's `guest`).
// Counted apart in Stats; kept by every copy of the item (Rewrite, eviction's copies).
inline constexpr std::uint8_t kGuest = 0x80;

inline constexpr std::size_t kItemAlign = 4;

struct Item {
  std::atomic<base::RelTime> last_access;
  std::atomic<std::uint8_t> bits;
  std::uint8_t layout;
  std::uint8_t key_len;
  std::uint8_t value_len_low;

  // The bytes an item with these properties occupies (before rounding to kItemAlign).
  static std::uint8_t LayoutFor(base::RelTime exptime, std::uint32_t flags,
                                std::uint32_t value_len, bool ttl_stamp = false) {
    return static_cast<std::uint8_t>((exptime != 0 ? kHasExptime : 0) |
                                     (flags != 0 ? kHasFlags : 0) |
                                     (value_len >= 256 ? kWideValue : 0) |
                                     (ttl_stamp ? kHasTtlStamp : 0));
  }
  static std::size_t HeaderSize(std::uint8_t layout) {
    // The fixed 8 bytes and the version, plus 4 per optional 32-bit word and 8 for a TTL stamp.
    // A table rather than popcount: without -mpopcnt that is a libgcc call, on every item access.
    static constexpr std::uint8_t kSizes[16] = {16, 20, 20, 24, 20, 24, 24, 28,
                                                24, 28, 28, 32, 28, 32, 32, 36};
    return kSizes[layout & kWordsMask];
  }
  static std::size_t TotalSize(std::uint8_t layout, std::size_t key_len, std::size_t value_len) {
    return HeaderSize(layout) + key_len + value_len;
  }
  static std::size_t Stride(std::size_t total) { return (total + kItemAlign - 1) & ~(kItemAlign - 1); }

  // Writes the header of a new, unlinked item (its CAS 0) and the key.
  void Init(std::string_view key, std::uint32_t flags, base::RelTime exptime,
            std::uint32_t value_len, base::RelTime now, bool cas_hidden, bool ttl_stamp) {
    new (&last_access) std::atomic<base::RelTime>(now);
    new (&bits) std::atomic<std::uint8_t>(0);
    layout = static_cast<std::uint8_t>(LayoutFor(exptime, flags, value_len, ttl_stamp) |
                                       (cas_hidden ? kCasHidden : 0));
    key_len = static_cast<std::uint8_t>(key.size());
    value_len_low = static_cast<std::uint8_t>(value_len & 0xff);
    char* p = words();
    if (layout & kHasExptime) {
      new (p) std::atomic<base::RelTime>(exptime);
      p += 4;
    }
    if (layout & kHasFlags) {
      std::memcpy(p, &flags, 4);
      p += 4;
    }
    if (layout & kHasTtlStamp) {
      std::memset(p, 0, 8);
      p += 8;
    }
    if (layout & kWideValue) {
      std::memcpy(p, &value_len, 4);
      p += 4;
    }
    std::memset(p, 0, 8);  // version
    std::memcpy(p + 8, key.data(), key.size());
  }

  std::uint8_t GetBits() const { return bits.load(std::memory_order_relaxed); }
  // Only the shard that owns the item (under its lock) or the allocating thread writes bits.
  void SetBits(std::uint8_t b) { bits.store(b, std::memory_order_relaxed); }
  bool linked() const { return (GetBits() & kLinked) != 0; }
  unsigned freq() const { return GetBits() & kFreqMask; }

  bool has_exptime() const { return (layout & kHasExptime) != 0; }
  base::RelTime exptime() const {
    return has_exptime() ? exptime_word()->load(std::memory_order_relaxed) : 0;
  }
  // Requires has_exptime() or e == 0.
  void set_exptime(base::RelTime e) {
    if (has_exptime()) {
      exptime_word()->store(e, std::memory_order_relaxed);
    } else {
      RC_CHECK(e == 0);
    }
  }
  std::uint32_t client_flags() const {
    if ((layout & kHasFlags) == 0) return 0;
    std::uint32_t f;
    std::memcpy(&f, words() + ((layout & kHasExptime) ? 4 : 0), 4);
    return f;
  }
  std::uint32_t value_len() const {
    if ((layout & kWideValue) == 0) return value_len_low;
    std::uint32_t v;
    std::memcpy(&v, version_ptr() - 4, 4);
    return v;
  }
  std::uint64_t version() const {
    std::uint64_t c;
    std::memcpy(&c, version_ptr(), 8);
    return c;
  }
  // Only before the item is linked.
  void set_version(std::uint64_t c) { std::memcpy(version_ptr(), &c, 8); }
  bool has_ttl_stamp() const { return (layout & kHasTtlStamp) != 0; }
  // The version of the latest TTL change: the stamp once touched, else the version.
  std::uint64_t ttl_stamp() const {
    if (!has_ttl_stamp()) return version();
    std::uint64_t t;
    std::memcpy(&t, stamp_ptr(), 8);
    return t > version() ? t : version();  // a word not stamped yet holds 0
  }
  // Requires has_ttl_stamp(); under the shard lock once linked.
  void set_ttl_stamp(std::uint64_t t) {
    RC_CHECK(has_ttl_stamp());
    std::memcpy(stamp_ptr(), &t, 8);
  }
  bool cas_hidden() const { return (layout & kCasHidden) != 0; }
  bool key_binary() const { return (layout & kKeyBinary) != 0; }
  bool tombstone() const { return (layout & kTombstone) != 0; }
  bool guest() const { return (layout & kGuest) != 0; }
  // Only before the item is linked.
  void set_tombstone() { layout = static_cast<std::uint8_t>(layout | kTombstone); }
  // Only before the item is linked.
  void set_guest(bool g) {
    layout = static_cast<std::uint8_t>(g ? (layout | kGuest) : (layout & ~kGuest));
  }
  // Only before the item is linked.
  void set_key_binary(bool b) {
    layout = static_cast<std::uint8_t>(b ? (layout | kKeyBinary) : (layout & ~kKeyBinary));
  }

  const char* key_ptr() const { return version_ptr() + 8; }
  std::string_view key() const { return {key_ptr(), key_len}; }
  char* value() { return const_cast<char*>(key_ptr()) + key_len; }
  const char* value() const { return key_ptr() + key_len; }

  std::size_t total_size() const { return TotalSize(layout, key_len, value_len()); }
  std::size_t stride() const { return Stride(total_size()); }
  // The stride without the TTL stamp word, which decides the item's size class: a touch never
  // moves an item to another class (memcached's never does).
  std::size_t class_stride() const { return Stride(total_size() - (has_ttl_stamp() ? 8 : 0)); }

 private:
  char* words() { return reinterpret_cast<char*>(this + 1); }
  const char* words() const { return reinterpret_cast<const char*>(this + 1); }
  std::atomic<base::RelTime>* exptime_word() const {
    return reinterpret_cast<std::atomic<base::RelTime>*>(const_cast<char*>(words()));
  }
  char* version_ptr() { return words() + (HeaderSize(layout) - sizeof(Item) - 8); }
  const char* stamp_ptr() const { return version_ptr() - 8 - ((layout & kWideValue) ? 4 : 0); }
  char* stamp_ptr() { return version_ptr() - 8 - ((layout & kWideValue) ? 4 : 0); }
  const char* version_ptr() const { return words() + (HeaderSize(layout) - sizeof(Item) - 8); }
};

static_assert(sizeof(Item) == 8);

// What a new item's header says: Item::Init's arguments, passed down to where the bytes are
// found (the header is written under the writer head's lock, see segments.cc).
struct NewItem {
  std::string_view key;
  std::uint32_t flags = 0;
  base::RelTime exptime = 0;
  std::uint32_t value_len = 0;
  base::RelTime now = 0;
  bool cas_hidden = false;
  bool ttl_stamp = false;  // room for a TTL stamp

  void WriteTo(Item* item) const {
    item->Init(key, flags, exptime, value_len, now, cas_hidden, ttl_stamp);
  }
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Segments are allocated at this alignment whatever their size, so an item's segment is its
// address rounded down.
inline constexpr std::size_t kSegmentAlign = std::size_t{1} << 20;

// Which list a segment is on (Store::Impl's segment lists, under its segment lock).
enum class SegmentList : std::uint8_t { kNone, kOpen, kSmall, kMain, kEvicting, kFree };

// The header at the start of every segment. Shared segments hold many items appended by one
// writer head at a time; a dedicated segment holds one item too large to share (more than an
// eighth of a segment) and is exactly as large as that item needs.
struct Segment {
  // References: one held by the store for as long as the segment may hold linked items, plus
  // one per ItemRef into it. The last one to go returns the segment to its pool.
  std::atomic<std::uint32_t> refs;
  std::uint8_t pool_id;
  bool dedicated;
  SegmentList list;
  // Set when eviction begins: from then on no item in the segment may be linked (Put copies it
  // elsewhere instead), so once eviction has unlinked every item the segment stays empty.
  std::atomic<bool> closed;
  std::size_t bytes;         // the allocation's usable size, as charged to the pool
  std::size_t write_offset;  // end of the last item written (from begin())
  std::atomic<std::size_t> live_bytes;  // strides of the linked items in it
  Segment* newer;            // list links
  Segment* older;
  std::size_t populated;     // bytes from begin() whose pages are known to be present
  std::uint64_t reserved_;   // pads the header to 64 bytes: items start on a cache line

  static constexpr std::size_t kHeaderBytes = 64;
  // Empty, on no list, with the store's reference: as new, and as taken from the free list.
  void Reset() {
    refs.store(1, std::memory_order_relaxed);
    list = SegmentList::kNone;
    closed.store(false, std::memory_order_relaxed);
    write_offset = 0;
    live_bytes.store(0, std::memory_order_relaxed);
    newer = older = nullptr;
  }
  char* begin() { return reinterpret_cast<char*>(this) + kHeaderBytes; }
  std::size_t capacity() const { return bytes - kHeaderBytes; }
  std::size_t free_bytes() const { return capacity() - write_offset; }
  // Takes `stride` bytes at the write offset for a new item, with their pages present. The
  // caller has checked free_bytes() and is the segment's one writer (it holds the writer head's
  // lock, or has just allocated the segment).
  char* Append(std::size_t stride) {
    char* at = begin() + write_offset;
    write_offset += stride;
    if (write_offset > populated) Populate();
    return at;
  }

 private:
  void Populate();  // pool.cc
};

static_assert(sizeof(Segment) == Segment::kHeaderBytes);

inline Segment* SegmentOf(const Item* item) {
  return reinterpret_cast<Segment*>(reinterpret_cast<std::uintptr_t>(item) & ~(kSegmentAlign - 1));
}

// Pins `item`'s segment.
inline void AddRef(const Item* item) { SegmentOf(item)->refs.fetch_add(1, std::memory_order_relaxed); }
// Drops one reference on `segment`; the last one returns it to its pool (pool.cc).
void ReleaseSegment(Segment* segment);
inline void ReleaseRef(const Item* item) { ReleaseSegment(SegmentOf(item)); }

}  // namespace rc::store::internal
