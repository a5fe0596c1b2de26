// store/index.h -- one shard's hash table: open addressing, one 8-byte slot per entry.
//
// A slot holds the item's address in its low 48 bits and a 16-bit tag from the key's hash in its
// high 16, so a probe compares keys only when the tags match. 0 is an empty slot and 1 a deleted
// one (a tombstone; item addresses are 4-aligned). Linear probing from the home slot
// ((low 32 bits of the hash) * slots >> 32, so any table size works), which keeps a probe
// sequence in consecutive cache lines.
//
// The table holds between kMinLoad and kMaxLoad entries per slot: when entries plus tombstones
// pass kMaxLoad it is rebuilt, larger (to kMinLoad) if the entries alone are over kRebuildLoad,
// else at the same size, which clears the tombstones. Growing by a factor of 1.18 rather than 2
// keeps the memory per item between 9.4 and 11.1 bytes instead of 8 to 20: with small items that
// is the difference between meeting the density target and not (doc/store.md). The price is
// longer probes for keys that are absent (about 22 slots at the top of the band, three cache
// lines of consecutive slots; tags spare the key comparisons).
//
// The table's memory is an anonymous mapping (ZeroedTable), charged to the store's Pool by the
// shard (Shard::Rebuild). The mapping also holds a zeroed trailer after the slots, at least the
// size asked for and whatever else the last page has room for: the shard keeps its ghost table
// there, so the two tables are one mapping, rebuilt and returned to the OS together.
//
// Thread-safety: none; the shard's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "store/item.h"
#include "store/zeroed_table.h"

namespace rc::store::internal {

class Index {
 public:
  static constexpr std::size_t kNone = ~std::size_t{0};
  static constexpr double kMaxLoad = 0.85;
  static constexpr double kRebuildLoad = 0.75;
  static constexpr double kMinLoad = 0.72;

  Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Maps a table of `slots` slots with a trailer of at least `trailer_bytes`, all zeroed. False
  // when the memory is not there.
  bool Init(std::size_t slots, std::size_t trailer_bytes);

  // The slot holding `key`, or kNone.
  std::size_t Find(std::uint64_t hash, std::string_view key) const {
    const std::uint64_t tag = Tag(hash);
    for (std::size_t i = Home(hash);; i = Next(i)) {
      std::uint64_t s = slots_[i];
      if (s == kEmpty) return kNone;
      if ((s & kTagMask) == tag && s != kTombstone) {
        const Item* it = ItemOf(s);
        if (it->key_len == key.size() && std::memcmp(it->key_ptr(), key.data(), key.size()) == 0) {
          return i;
        }
      }
    }
  }
  // Looks up the slot that refers to `item` (whose key hashes to `hash`), or kNone.
  std::size_t FindItem(std::uint64_t hash, const Item* item) const {
    const std::uint64_t want = Tag(hash) | reinterpret_cast<std::uintptr_t>(item);
    for (std::size_t i = Home(hash);; i = Next(i)) {
      std::uint64_t s = slots_[i];
      if (s == kEmpty) return kNone;
      if (s == want) return i;
    }
  }

  // For warming the cache before a lookup (Store::FindHint): the first item with the key's tag
  // among the few slots from its home on (a probe's usual length), or null.
  const Item* FirstTagMatch(std::uint64_t hash) const {
    const std::uint64_t tag = Tag(hash);
    std::size_t i = Home(hash);
    for (int n = 0; n < kHintProbe; ++n, i = Next(i)) {
      std::uint64_t s = slots_[i];
      if (s == kEmpty) return nullptr;
      if ((s & kTagMask) == tag && s != kTombstone) return ItemOf(s);
    }
    return nullptr;
  }

  Item* At(std::size_t slot) const { return ItemOf(slots_[slot]); }
  // Whether a slot holds an entry (for walks over the whole table).
  bool Occupied(std::size_t slot) const { return slots_[slot] > kTombstone; }
  // Whether a slot has never held one since the table was built: a probe stops there.
  bool Unused(std::size_t slot) const { return slots_[slot] == kEmpty; }
  // The home slot of a key hash whose low 32 bits are `position` (0 <= position <= 2^32; 2^32
  // gives slots()). Homes follow the low 32 bits in order, whatever the table's size: that is
  // what lets a walk in hash order survive a rebuild (Shard::VisitHashRangeLocked).
  std::size_t HomeOfPosition(std::uint64_t position) const {
    return static_cast<std::size_t>((position * slots_n_) >> 32);
  }
  // Points an occupied slot at another item with the same key.
  void Replace(std::size_t slot, Item* item) {
    slots_[slot] = (slots_[slot] & kTagMask) | reinterpret_cast<std::uintptr_t>(item);
  }
  void Erase(std::size_t slot) {
    slots_[slot] = kTombstone;
    --live_;
    ++tombstones_;
  }
  // Adds `item`, whose key must not be in the table yet.
  void Insert(std::uint64_t hash, Item* item);

  // Whether the table is due for a rebuild, and the number of slots it should have.
  bool NeedsRebuild() const {
    return static_cast<double>(live_ + tombstones_) > kMaxLoad * static_cast<double>(slots_n_);
  }
  std::size_t RebuildSlots() const;
  // Moves every entry of `old` in (this table must be empty and large enough); `hash_of`
  // recomputes an entry's hash from its item. Each hash reads an item's key, a cache miss, so
  // the items are prefetched kRebuildAhead entries ahead: while the table grows (a write load
  // of new keys), rebuilds took 5.6% of the CPU under memcaslap 1:1 without, 2.6% with.
  // (Prefetching the new table's slots as well, 8 entries ahead, measured no better.)
  template <typename HashOf>
  void TakeFrom(Index& old, HashOf hash_of) {
    constexpr int kRebuildAhead = 16;
    std::size_t ahead = 0;
    auto prefetch_next = [&old, &ahead] {
      while (ahead < old.slots_n_ && !old.Occupied(ahead)) ++ahead;
      if (ahead == old.slots_n_) return;
      const char* it = reinterpret_cast<const char*>(old.At(ahead++));
      __builtin_prefetch(it);
      __builtin_prefetch(it + 32);  // a key that runs past the header's cache line
    };
    for (int k = 0; k < kRebuildAhead; ++k) prefetch_next();
    for (std::size_t i = 0; i < old.slots_n_; ++i) {
      if (!old.Occupied(i)) continue;
      prefetch_next();
      Insert(hash_of(old.At(i)), old.At(i));
    }
  }

  void Swap(Index& other) {
    slots_.Swap(other.slots_);
    std::swap(slots_n_, other.slots_n_);
    std::swap(live_, other.live_);
    std::swap(tombstones_, other.tombstones_);
  }

  std::size_t slots() const { return slots_n_; }
  std::size_t live() const { return live_; }
  // The whole mapping, trailer included.
  std::size_t bytes() const { return slots_.bytes(); }
  std::uint8_t* trailer() const {
    return reinterpret_cast<std::uint8_t*>(slots_.data() + slots_n_);
  }
  std::size_t trailer_bytes() const { return slots_.bytes() - slots_n_ * sizeof(std::uint64_t); }

 private:
  static constexpr std::uint64_t kEmpty = 0;
  static constexpr std::uint64_t kTombstone = 1;
  static constexpr std::uint64_t kTagMask = 0xffffull << 48;
  static constexpr std::uint64_t kPtrMask = ~kTagMask;
  static constexpr int kHintProbe = 8;

  static std::uint64_t Tag(std::uint64_t hash) { return (hash >> 32) << 48; }
  static Item* ItemOf(std::uint64_t slot) {
    return reinterpret_cast<Item*>(static_cast<std::uintptr_t>(slot & kPtrMask));
  }
  std::size_t Home(std::uint64_t hash) const {
    return static_cast<std::size_t>(((hash & 0xffffffffull) * slots_n_) >> 32);
  }
  std::size_t Next(std::size_t i) const { return i + 1 == slots_n_ ? 0 : i + 1; }

  ZeroedTable<std::uint64_t> slots_;
  std::size_t slots_n_ = 0;  // the trailer starts after these
  std::size_t live_ = 0;
  std::size_t tombstones_ = 0;
};

}  // namespace rc::store::internal
