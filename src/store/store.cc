// store/store.cc -- Store: shards, the memory Pool, the CAS sequence, flush_all and the crawler.
//
// Memory is charged before it is allocated (Pool::Reserve), and when the charge does not fit,
// MakeRoom() evicts: first in the shard the key hashes to, then in the next shards round-robin,
// a bounded amount per visit, so a large item takes its room from every shard a little rather
// than emptying one. No shard lock is held while another is taken, and none is held around an
// allocation that might evict (append/prepend and incr/decr drop theirs and re-check).
//
// CAS and flush: every link draws a sequence number from one global atomic counter and stores it
// in the item's cas field, with or without -C (with -C it is hidden: cas() reads 0). flush_all
// records the next sequence number as a cut-off; an item whose sequence is below it is flushed.
// Because sequence order is link order, that cut-off is exact even within one second, which is
// what memcached achieves with settings.oldest_cas (items.c item_is_flushed) when CAS is on; we
// also get it with -C, where memcached falls back to whole seconds (a deliberate difference: a
// set right after flush_all never vanishes here). A delayed flush becomes such a cut-off at the
// first operation that sees the clock reach it.
//
// Semantics follow memcached 1.6 (memcached.c do_store_item, do_add_delta; items.c do_item_get);
// where we differ, the comment says so.
#include "ringcached/store/store.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cstring>
#include <mutex>
#include <new>

#include "ringcached/base/check.h"
#include "ringcached/base/hash.h"
#include "ringcached/base/log.h"
#include "store/item.h"
#include "store/shard.h"
#include "store/size_classes.h"

namespace rc::store {

using internal::Item;
using internal::Moment;
using internal::Pool;
using internal::ReportedClass;
using internal::Shard;
using internal::SizeClasses;
using internal::UnlinkCause;

namespace {

constexpr unsigned kDefaultHashPower = 16;  // memcached's default: 65536 buckets in all
constexpr unsigned kMaxHashPower = 32;
constexpr unsigned kMinShardBucketPower = 4;
constexpr unsigned kMaxShardBits = 16;
// A MakeRoom visit to one shard frees at most this much (or a 1/shards share of the request, if
// larger) before moving on to the next shard.
constexpr std::size_t kMinBytesPerVisit = 16 << 10;
constexpr std::size_t kCrawlBucketsPerLock = 256;
constexpr std::size_t kOldestAccessWalk = 64;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// memcached's safe_strtoull (util.c) over a value that is followed by "\r\n": leading
// whitespace and a sign are allowed (strtoull), there must be at least one digit, no overflow,
// and the digits must end at whitespace or the end of the value. So "9  " -- a decr result
// padded with spaces -- is numeric, and "12ab" is not. A '-' is accepted only when the negated
// result is still a small positive signed number (strtoull's wrap-around; "-0" is 0), exactly
// as memcached's negative-number check does.
bool ParseCounter(const char* p, std::size_t n, std::uint64_t* out) {
  std::size_t i = 0;
  while (i < n && IsSpace(p[i])) ++i;
  bool negative = false;
  if (i < n && (p[i] == '+' || p[i] == '-')) {
    negative = p[i] == '-';
    ++i;
  }
  std::size_t digits_start = i;
  std::uint64_t v = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9') {
    auto d = static_cast<std::uint64_t>(p[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;  // ERANGE
    v = v * 10 + d;
    ++i;
  }
  if (i == digits_start) return false;
  if (i < n && !IsSpace(p[i])) return false;
  if (negative) {
    v = 0 - v;
    if (static_cast<std::int64_t>(v) < 0) return false;
  }
  *out = v;
  return true;
}

// Until an item is linked its hash-chain pointer is unused; Allocate() parks the key's hash
// there so that Put() does not hash the key a second time.
void StashHash(Item* item, std::uint64_t hash) {
  item->h_next = reinterpret_cast<Item*>(static_cast<std::uintptr_t>(hash));
}
std::uint64_t StashedHash(const Item* item) {
  return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(item->h_next));
}

}  // namespace

struct Store::Impl {
  Impl(const Options& opts, const base::Clock* clk);
  ~Impl();

  // The top bits pick the shard (the low ones pick the bucket within it).
  std::size_t ShardIndex(std::uint64_t hash) const {
    return shard_bits == 0 ? 0 : static_cast<std::size_t>(hash >> (64 - shard_bits));
  }
  Shard& ShardFor(std::uint64_t hash) { return *shards[ShardIndex(hash)]; }

  // The current time and flush cut-off, promoting a delayed flush whose time has come.
  Moment Now() {
    base::RelTime now = clock->Now();
    base::RelTime due = flush_due.load(std::memory_order_acquire);
    if (RC_UNLIKELY(due != 0 && now >= due)) PromoteFlush(now);
    return Moment{now, flush_seq.load(std::memory_order_acquire)};
  }
  void PromoteFlush(base::RelTime now);
  std::uint64_t NextSeq() { return seq.fetch_add(1, std::memory_order_relaxed) + 1; }

  // The live item under `key`, or nullptr; a dead one is unlinked on the way (lazy expiry).
  Item* FindLiveLocked(Shard& s, std::uint64_t hash, std::string_view key, const Moment& m,
                       MissReason* reason);

  Allocation AllocateItem(std::string_view key, std::uint32_t flags, base::RelTime exptime,
                          std::uint32_t value_len, std::uint64_t hash, const Moment& m);
  bool MakeRoom(std::size_t usable, std::size_t first_shard, const Moment& m);
  std::uint64_t VisibleCas(std::uint64_t seq_value) const {
    return options.use_cas ? seq_value : 0;
  }

  Options options;
  const base::Clock* clock;
  Pool* pool;  // owned; leaked on purpose if items are still referenced at destruction
  unsigned shard_bits;
  std::vector<std::unique_ptr<Shard>> shards;
  unsigned num_classes;
  std::unique_ptr<std::atomic<std::uint64_t>[]> outofmemory;  // per class
  std::atomic<std::uint64_t> malloc_fails{0};

  std::atomic<std::uint64_t> seq{0};        // the last sequence number handed out
  std::atomic<std::uint64_t> flush_seq{0};  // items with a lower sequence are flushed
  std::atomic<base::RelTime> flush_due{0};  // a delayed flush not yet in effect (0: none)
  std::mutex flush_mu;

  std::mutex crawl_mu;
  std::size_t crawl_shard = 0;
  std::size_t crawl_bucket = 0;
};

Store::Impl::Impl(const Options& opts, const base::Clock* clk)
    : options(opts), clock(clk), pool(new Pool(opts.memory_limit, opts.evictions)) {
  RC_CHECK(clock != nullptr);
  shard_bits = std::min(options.shard_bits, kMaxShardBits);
  unsigned power = options.hashpower_init != 0 ? options.hashpower_init : kDefaultHashPower;
  power = std::min(power, kMaxHashPower);
  unsigned shard_power = power > shard_bits + kMinShardBucketPower ? power - shard_bits
                                                                   : kMinShardBucketPower;
  const SizeClasses& classes = SizeClasses::Get();
  num_classes = classes.ClassOf(Item::TotalSize(0, 0) + options.item_size_max);
  if (num_classes == 0) num_classes = classes.count();
  outofmemory = std::make_unique<std::atomic<std::uint64_t>[]>(num_classes);
  std::size_t n = std::size_t{1} << shard_bits;
  shards.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    shards.push_back(std::make_unique<Shard>(shard_power, num_classes));
  }
}

Store::Impl::~Impl() {
  shards.clear();  // drops the table's reference on every item
  if (pool->used() == 0) {
    delete pool;
  } else {
    // An ItemRef outlived the Store. Destroying the arena would pull the memory from under it,
    // so leave the arena (and the pool it reports back to) alive; it is a bug in the caller.
    base::Log(0, "store: %zu bytes of items still referenced at shutdown; leaking the arena",
              pool->used());
  }
}

void Store::Impl::PromoteFlush(base::RelTime now) {
  std::lock_guard<std::mutex> lock(flush_mu);
  base::RelTime due = flush_due.load(std::memory_order_relaxed);
  if (due == 0 || now < due) return;  // someone else promoted it, or it was replaced
  flush_seq.store(seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  flush_due.store(0, std::memory_order_release);
}

Item* Store::Impl::FindLiveLocked(Shard& s, std::uint64_t hash, std::string_view key,
                                  const Moment& m, MissReason* reason) {
  Item* it = s.FindLocked(hash, key);
  if (it == nullptr) {
    *reason = MissReason::kAbsent;
    return nullptr;
  }
  // Flushed is checked first, as memcached's do_item_get does, so get_flushed wins over
  // get_expired for an item that is both.
  if (m.Flushed(it)) {
    *reason = MissReason::kFlushed;
  } else if (m.Expired(it)) {
    *reason = MissReason::kExpired;
  } else {
    *reason = MissReason::kHit;
    return it;
  }
  s.UnlinkLocked(it, hash, UnlinkCause::kRemove);
  return nullptr;
}

bool Store::Impl::MakeRoom(std::size_t usable, std::size_t first_shard, const Moment& m) {
  pool->MeasureOnce();  // the first time memory runs short, learn the arena's overhead
  if (pool->Reserve(usable)) return true;
  const std::size_t n = shards.size();
  const std::size_t per_visit = std::max(usable >> shard_bits, kMinBytesPerVisit);
  std::size_t idle = 0;  // consecutive shards that could free nothing
  for (std::size_t i = first_shard; idle < n; ++i) {
    Shard& s = *shards[i & (n - 1)];
    std::lock_guard<std::mutex> lock(s.mu);
    std::size_t freed = 0;
    bool any = false;
    for (;;) {
      if (pool->Reserve(usable)) return true;
      if (freed >= per_visit) break;
      std::size_t before = pool->used();
      if (!s.EvictOneLocked(m, options.evictions)) break;
      any = true;
      std::size_t after = pool->used();
      freed += before > after ? before - after : 1;
    }
    idle = any ? 0 : idle + 1;
  }
  return pool->Reserve(usable);
}

Allocation Store::Impl::AllocateItem(std::string_view key, std::uint32_t flags,
                                     base::RelTime exptime, std::uint32_t value_len,
                                     std::uint64_t hash, const Moment& m) {
  RC_CHECK(!key.empty() && key.size() <= 255);  // the engine enforces memcached's 250
  Allocation result;
  std::size_t total = Item::TotalSize(key.size(), value_len);
  if (total > options.item_size_max) {
    result.outcome = Outcome::kTooLarge;
    return result;
  }
  const SizeClasses& classes = SizeClasses::Get();
  unsigned cls = classes.ClassOf(total);
  if (cls == 0 || cls > num_classes) {
    result.outcome = Outcome::kTooLarge;
    return result;
  }
  std::size_t usable = classes.ClassSize(cls);
  if (usable > pool->effective_limit()) {
    // It could never fit: do not empty the cache trying.
    outofmemory[cls - 1].fetch_add(1, std::memory_order_relaxed);
    result.outcome = Outcome::kNoMemory;
    return result;
  }
  if (!pool->Reserve(usable) && !MakeRoom(usable, ShardIndex(hash), m)) {
    outofmemory[cls - 1].fetch_add(1, std::memory_order_relaxed);
    result.outcome = Outcome::kNoMemory;
    return result;
  }
  void* mem = pool->Allocate(total, cls);
  if (mem == nullptr) {
    pool->Unreserve(usable);
    malloc_fails.fetch_add(1, std::memory_order_relaxed);
    result.outcome = Outcome::kNoMemory;
    return result;
  }
  Item* it = new (mem) Item;
  StashHash(it, hash);
  it->q_next = nullptr;
  it->q_prev = nullptr;
  it->cas = 0;
  it->refcount.store(1, std::memory_order_relaxed);
  it->exptime.store(exptime, std::memory_order_relaxed);
  it->last_access.store(m.now, std::memory_order_relaxed);
  it->client_flags = flags;
  it->value_len = value_len;
  it->key_len = static_cast<std::uint8_t>(key.size());
  it->SetBits(options.use_cas ? 0 : internal::kCasHidden);
  it->class_id = static_cast<std::uint8_t>(cls);
  it->pool_id = pool->id() & 0x7f;
  it->key_binary = 0;
  std::memcpy(it->data(), key.data(), key.size());
  std::memcpy(it->value() + value_len, "\r\n", 2);
  result.item = ItemRef(it);
  result.outcome = Outcome::kStored;
  return result;
}

// ---------------------------------------------------------------------------------------------

Store::Store(const Options& options, const base::Clock* clock)
    : impl_(std::make_unique<Impl>(options, clock)) {}

Store::~Store() = default;

Lookup Store::Get(std::string_view key, const GetOptions& options) {
  Impl& im = *impl_;
  std::uint64_t hash = base::HashKey(key);
  Moment m = im.Now();
  Shard& s = im.ShardFor(hash);
  Lookup result;
  std::lock_guard<std::mutex> lock(s.mu);
  Item* it = im.FindLiveLocked(s, hash, key, m, &result.reason);
  if (it == nullptr) return result;
  if (options.bump) Shard::BumpLocked(it, m.now);
  if (options.touch) it->exptime.store(options.new_exptime, std::memory_order_relaxed);
  it->refcount.fetch_add(1, std::memory_order_relaxed);
  result.item = ItemRef(it);
  return result;
}

Allocation Store::Allocate(std::string_view key, std::uint32_t flags, base::RelTime exptime,
                           std::uint32_t value_len) {
  return impl_->AllocateItem(key, flags, exptime, value_len, base::HashKey(key), impl_->Now());
}

Outcome Store::Put(ItemRef* item, Mode mode, std::uint64_t cas_unique) {
  return Put(item, mode, cas_unique, PutOptions{});
}

Outcome Store::Put(ItemRef* item, Mode mode, std::uint64_t cas_unique,
                   const PutOptions& options) {
  Impl& im = *impl_;
  Item* it = item->get();
  // Only an item from this store's Allocate() that was never linked (cas still 0; a failed Put
  // leaves it so, and it may be tried again): its h_next still holds the key's hash.
  RC_CHECK(it != nullptr && it->cas == 0 && !it->linked() && it->pool_id == im.pool->id());
  const std::uint64_t hash = StashedHash(it);
  const std::string_view key = it->key();
  Shard& s = im.ShardFor(hash);

  for (;;) {
    Moment m = im.Now();
    std::unique_lock<std::mutex> lock(s.mu);
    MissReason reason;
    Item* old = im.FindLiveLocked(s, hash, key, m, &reason);
    std::uint8_t inherit = 0;  // stale state carried over by a stale-tolerant cas
    switch (mode) {
      case Mode::kSet:
        break;
      case Mode::kAdd:
        if (old != nullptr) {
          // memcached promotes the present item on a failed add (do_store_item: do_item_update).
          old->last_access.store(m.now, std::memory_order_relaxed);
          return Outcome::kNotStored;
        }
        break;
      case Mode::kReplace:
        if (old == nullptr) return Outcome::kNotStored;
        break;
      case Mode::kCas:
        if (old == nullptr) return Outcome::kNotFound;
        // With -C every item's CAS reads 0, and memcached 1.6 treats a zero CAS as "no match":
        // cas on a present key is EXISTS.
        if (im.options.use_cas && old->cas == cas_unique) break;
        if (options.allow_stale && im.options.use_cas && cas_unique != 0 &&
            cas_unique < old->cas) {
          // An older writer finishing late (meta ms I): its value goes in, but marked stale so
          // that the next reader recaches; the expiry and any win token stay as they were.
          it->exptime.store(old->exptime.load(std::memory_order_relaxed),
                            std::memory_order_relaxed);
          inherit = internal::kStale | (old->GetBits() & internal::kWinTokenSent);
          break;
        }
        return Outcome::kExists;
      case Mode::kAppend:
      case Mode::kPrepend: {
        if (old == nullptr) return Outcome::kNotStored;
        if (im.options.use_cas && cas_unique != 0 && old->cas != cas_unique) {
          return Outcome::kExists;
        }
        // The combined item needs an allocation, which may evict, which may need this shard's
        // lock: hold a reference to the old item, drop the lock, and check afterwards that it
        // is still the one linked.
        old->refcount.fetch_add(1, std::memory_order_relaxed);
        ItemRef old_ref(old);
        lock.unlock();
        std::uint64_t len = std::uint64_t{old->value_len} + it->value_len;
        if (len > UINT32_MAX) return Outcome::kNotStored;
        Allocation a = im.AllocateItem(key, old->client_flags,
                                       old->exptime.load(std::memory_order_relaxed),
                                       static_cast<std::uint32_t>(len), hash, m);
        // memcached 1.6 answers NOT_STORED when the combined item cannot be allocated, whether
        // it is too large or memory is short (do_store_item: "OOM trying to copy").
        if (a.outcome != Outcome::kStored) return Outcome::kNotStored;
        Item* combined = a.item.get();
        const Item* first = mode == Mode::kAppend ? old : it;
        const Item* second = mode == Mode::kAppend ? it : old;
        std::memcpy(combined->value(), first->value(), first->value_len);
        std::memcpy(combined->value() + first->value_len, second->value(), second->value_len);
        lock.lock();
        if (!old->linked()) continue;  // replaced or deleted meanwhile: start over
        Moment m2 = im.Now();
        if (m2.Flushed(old) || m2.Expired(old)) {
          s.UnlinkLocked(old, hash, UnlinkCause::kRemove);
          return Outcome::kNotStored;
        }
        // A touch may have changed the expiry since we copied it.
        combined->exptime.store(old->exptime.load(std::memory_order_relaxed),
                                std::memory_order_relaxed);
        // memcached's combined item loses ITEM_KEY_BINARY, so a meta `k` would then print the
        // raw key bytes; we keep the old item's bit instead.
        combined->key_binary = old->key_binary;
        combined->cas = im.NextSeq();
        s.LinkLocked(combined, hash, old, m2.now);
        *item = std::move(a.item);
        return Outcome::kStored;
      }
    }
    it->cas = im.NextSeq();
    s.LinkLocked(it, hash, old, m.now);
    if (inherit != 0) it->SetBits(it->GetBits() | inherit);
    return Outcome::kStored;
  }
}

Outcome Store::Delete(std::string_view key, unsigned* class_id) {
  DeleteResult r = Delete(key, DeleteOptions{});
  if (class_id != nullptr && r.outcome == Outcome::kDeleted) *class_id = r.class_id;
  return r.outcome;
}

DeleteResult Store::Delete(std::string_view key, const DeleteOptions& options) {
  Impl& im = *impl_;
  std::uint64_t hash = base::HashKey(key);
  Moment m = im.Now();
  Shard& s = im.ShardFor(hash);
  DeleteResult result;
  std::lock_guard<std::mutex> lock(s.mu);
  Item* it = im.FindLiveLocked(s, hash, key, m, &result.reason);
  if (it == nullptr) return result;
  result.class_id = ReportedClass(it->class_id);
  if (options.compare_cas && im.VisibleCas(it->cas) != options.cas) {
    result.outcome = Outcome::kExists;
    return result;
  }
  result.outcome = Outcome::kDeleted;
  if (!options.invalidate) {
    s.UnlinkLocked(it, hash, UnlinkCause::kRemove);
    return result;
  }
  // Invalidation (memcached process_mdelete_command with I): the item stays readable but stale,
  // the next reader wins the recache, and a CAS taken before the invalidation no longer matches.
  // Readers may hold the item, hence the atomic CAS store; the new sequence number also keeps it
  // on the right side of a flush_all cut-off, like any other modification.
  if (options.set_exptime) it->exptime.store(options.exptime, std::memory_order_relaxed);
  it->SetBits(static_cast<std::uint8_t>((it->GetBits() | internal::kStale) &
                                        ~internal::kWinTokenSent));
  std::atomic_ref<std::uint64_t>(it->cas).store(im.NextSeq(), std::memory_order_relaxed);
  result.invalidated = true;
  return result;
}

Outcome Store::Touch(std::string_view key, base::RelTime exptime, unsigned* class_id) {
  Impl& im = *impl_;
  std::uint64_t hash = base::HashKey(key);
  Moment m = im.Now();
  Shard& s = im.ShardFor(hash);
  std::lock_guard<std::mutex> lock(s.mu);
  MissReason reason;
  Item* it = im.FindLiveLocked(s, hash, key, m, &reason);
  if (it == nullptr) return Outcome::kNotFound;
  // memcached's touch is a fetch with a new expiry (items.c do_item_touch): it bumps the item
  // and leaves its CAS alone.
  it->exptime.store(exptime, std::memory_order_relaxed);
  Shard::BumpLocked(it, m.now);
  if (class_id != nullptr) *class_id = ReportedClass(it->class_id);
  return Outcome::kTouched;
}

IncrResult Store::IncrDecr(std::string_view key, bool incr, std::uint64_t delta) {
  return IncrDecr(key, incr, delta, IncrOptions{});
}

IncrResult Store::IncrDecr(std::string_view key, bool incr, std::uint64_t delta,
                           const IncrOptions& options) {
  Impl& im = *impl_;
  std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  IncrResult result;

  for (;;) {
    Moment m = im.Now();
    std::unique_lock<std::mutex> lock(s.mu);
    MissReason reason;
    Item* it = im.FindLiveLocked(s, hash, key, m, &reason);
    if (it == nullptr) {
      result.outcome = Outcome::kNotFound;
      result.reason = reason;
      return result;
    }
    // memcached's do_add_delta: an empty value is non-numeric before the CAS is compared.
    if (it->value_len == 0) {
      result.outcome = Outcome::kNonNumeric;
      return result;
    }
    if (options.compare_cas != 0 && im.VisibleCas(it->cas) != options.compare_cas) {
      result.outcome = Outcome::kExists;
      return result;
    }
    std::uint64_t value;
    if (!ParseCounter(it->value(), it->value_len, &value)) {
      result.outcome = Outcome::kNonNumeric;
      return result;
    }
    result.exptime_before = it->exptime.load(std::memory_order_relaxed);
    // ma T applies to the item that holds the new number. (memcached sets it on the item
    // do_add_delta returns, which is the replaced one when the number did not fit in place, so
    // the new expiry is lost there; we apply it either way.)
    result.exptime = options.touch ? options.new_exptime : result.exptime_before;
    if (incr) {
      value += delta;  // wraps mod 2^64, as memcached does
    } else {
      value = delta > value ? 0 : value - delta;
    }
    char digits[20];
    auto conv = std::to_chars(digits, digits + sizeof(digits), value);
    auto len = static_cast<std::uint32_t>(conv.ptr - digits);
    result.value = value;

    // In place only when the table holds the only reference: references are taken under this
    // lock, so nobody can be reading the value (memcached's "refcount == 2" test).
    if (len <= it->value_len && it->refcount.load(std::memory_order_acquire) == 1) {
      std::memcpy(it->value(), digits, len);
      std::memset(it->value() + len, ' ', it->value_len - len);
      it->cas = im.NextSeq();
      it->last_access.store(m.now, std::memory_order_relaxed);
      if (options.touch) it->exptime.store(options.new_exptime, std::memory_order_relaxed);
      result.outcome = Outcome::kStored;
      result.cas = im.VisibleCas(it->cas);
      result.class_id = ReportedClass(it->class_id);
      return result;
    }

    // A new item. A shorter number keeps the old length, padded, as in place: memcached would
    // shrink the value here (it only pads in place), which makes the stored bytes depend on
    // whether a reader happened to hold the item; we keep one rule.
    std::uint32_t new_len = std::max(len, it->value_len);
    it->refcount.fetch_add(1, std::memory_order_relaxed);
    ItemRef old_ref(it);
    lock.unlock();
    Allocation a = im.AllocateItem(key, it->client_flags,
                                   it->exptime.load(std::memory_order_relaxed), new_len, hash, m);
    if (a.outcome != Outcome::kStored) {
      result.outcome = Outcome::kNoMemory;  // memcached: "SERVER_ERROR out of memory"
      return result;
    }
    Item* fresh = a.item.get();
    std::memcpy(fresh->value(), digits, len);
    std::memset(fresh->value() + len, ' ', new_len - len);
    lock.lock();
    if (!it->linked()) continue;  // replaced or deleted meanwhile: the number may be stale
    Moment m2 = im.Now();
    if (m2.Flushed(it) || m2.Expired(it)) continue;
    result.exptime_before = it->exptime.load(std::memory_order_relaxed);
    result.exptime = options.touch ? options.new_exptime : result.exptime_before;
    fresh->exptime.store(result.exptime, std::memory_order_relaxed);
    fresh->key_binary = it->key_binary;
    fresh->cas = im.NextSeq();
    s.LinkLocked(fresh, hash, it, m2.now);
    result.outcome = Outcome::kStored;
    result.cas = im.VisibleCas(fresh->cas);
    result.class_id = ReportedClass(fresh->class_id);
    return result;
  }
}

MetaLookup Store::MetaGet(std::string_view key, const MetaGetOptions& options) {
  Impl& im = *impl_;
  const std::uint64_t hash = base::HashKey(key);
  Shard& s = im.ShardFor(hash);
  MetaLookup r;
  // A vivified item is allocated with the shard unlocked (allocating may evict, which takes shard
  // locks) and linked only if the key is still missing when the lock is back. It is declared
  // before the lock so that an unused one is freed after the lock is released.
  Allocation fresh;
  bool looked = false;
  for (;;) {
    Moment m = im.Now();
    std::unique_lock<std::mutex> lock(s.mu);
    MissReason reason;
    Item* it = im.FindLiveLocked(s, hash, key, m, &reason);
    if (!looked) {
      r.reason = reason;  // the first lookup's verdict is what the counters report
      looked = true;
    }
    if (it == nullptr) {
      if (!options.vivify) return r;
      if (!fresh.item) {
        lock.unlock();
        fresh = im.AllocateItem(key, 0, 0, 0, hash, m);
        if (!fresh.item) return r;  // no memory for a placeholder: a plain miss, as memcached
        fresh.item.get()->key_binary = options.vivify_key_binary ? 1 : 0;
        continue;
      }
      it = fresh.item.get();
      it->cas = im.NextSeq();
      s.LinkLocked(it, hash, nullptr, m.now);
      r.created = true;
    }

    const std::uint8_t bits = it->GetBits();
    r.win_token_was_sent = (bits & internal::kWinTokenSent) != 0;
    r.stale = (bits & internal::kStale) != 0;
    r.fetched = (bits & internal::kFetched) != 0;
    r.last_access = it->last_access.load(std::memory_order_relaxed);
    base::RelTime e = it->exptime.load(std::memory_order_relaxed);
    bool won = false;
    bool read = false;
    for (std::size_t i = 0; i < options.nsteps && i < options.steps.size(); ++i) {
      switch (options.steps[i]) {
        case MetaStep::kTouch:
          e = options.touch_exptime;
          it->exptime.store(e, std::memory_order_relaxed);
          r.touched = true;
          break;
        case MetaStep::kVivify:
          if (r.created) {
            e = options.vivify_exptime;
            it->exptime.store(e, std::memory_order_relaxed);
            won = true;
          }
          break;
        case MetaStep::kRecache:
          if (!r.win_token_was_sent && !r.created && e != 0 && e < options.recache_before) {
            won = true;
          }
          break;
        case MetaStep::kReadExpiry:
          r.exptime = e;
          read = true;
          break;
      }
    }
    if (!read) r.exptime = e;
    // A stale item whose win nobody holds yet goes to this caller.
    if (r.stale && !r.win_token_was_sent) won = true;
    if (won) it->SetBits(it->GetBits() | internal::kWinTokenSent);
    r.won = won;
    if (options.bump) Shard::BumpLocked(it, m.now);
    if (r.created) {
      r.item = std::move(fresh.item);
    } else {
      it->refcount.fetch_add(1, std::memory_order_relaxed);
      r.item = ItemRef(it);
    }
    return r;
  }
}

void Store::Flush(base::RelTime when) {
  Impl& im = *impl_;
  base::RelTime now = im.clock->Now();
  std::lock_guard<std::mutex> lock(im.flush_mu);
  if (when == 0 || when <= now) {
    // Everything linked so far drew a sequence number <= seq; anything linked from now on
    // draws a larger one and survives. A pending delayed flush is replaced, as in memcached,
    // where each flush_all overwrites settings.oldest_live.
    im.flush_seq.store(im.seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    im.flush_due.store(0, std::memory_order_release);
  } else {
    // Takes effect at the first operation at or after `when` (Impl::Now). Unlike memcached, an
    // earlier flush already in effect stays in effect meanwhile: memcached's single
    // oldest_live would briefly make its victims visible again.
    im.flush_due.store(when, std::memory_order_release);
  }
}

std::size_t Store::Crawl(std::size_t max_items) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> crawl_lock(im.crawl_mu);
  Moment m = im.Now();
  const std::size_t n = im.shards.size();
  std::size_t checked = 0;
  // At most one full pass per call, so an empty store does not spin.
  for (std::size_t shards_done = 0; checked < max_items && shards_done <= n;) {
    Shard& s = *im.shards[im.crawl_shard];
    bool wrapped;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      wrapped = s.CrawlLocked(&im.crawl_bucket, max_items - checked, kCrawlBucketsPerLock, m,
                              &checked);
    }
    if (wrapped) {
      im.crawl_bucket = 0;
      im.crawl_shard = (im.crawl_shard + 1) % n;
      ++shards_done;
    }
  }
  return checked;
}

void Store::Dump(const std::function<bool(const ItemInfo&)>& fn) {
  Impl& im = *impl_;
  Moment m = im.Now();
  for (auto& s : im.shards) {
    std::lock_guard<std::mutex> lock(s->mu);
    if (!s->DumpLocked(fn, m)) return;
  }
}

void Store::SetMemoryLimit(std::size_t bytes) { impl_->pool->set_limit(bytes); }

Stats Store::GetStats() const {
  const Impl& im = *impl_;
  Stats st;
  std::uint64_t buckets = 0;
  for (const auto& s : im.shards) {
    std::lock_guard<std::mutex> lock(s->mu);
    const internal::ShardCounters& c = s->counters();
    st.curr_items += s->count();
    st.bytes += s->linked_bytes();
    st.total_items += c.total_items;
    st.evictions += c.evictions;
    st.reclaimed += c.reclaimed;
    st.expired_unfetched += c.expired_unfetched;
    st.evicted_unfetched += c.evicted_unfetched;
    st.crawler_reclaimed += c.crawler_reclaimed;
    st.crawler_items_checked += c.crawler_items_checked;
    buckets += s->buckets();
  }
  st.memory_limit = im.pool->limit();
  st.malloc_fails = im.malloc_fails.load(std::memory_order_relaxed);
  st.hash_power_level = static_cast<unsigned>(std::bit_width(buckets) - 1);
  st.hash_bytes = buckets * sizeof(Item*);
  return st;
}

std::vector<ClassStats> Store::GetClassStats() const {
  const Impl& im = *impl_;
  const SizeClasses& classes = SizeClasses::Get();
  std::vector<ClassStats> all(im.num_classes);
  std::vector<base::RelTime> oldest(im.num_classes, 0);
  for (const auto& s : im.shards) {
    std::lock_guard<std::mutex> lock(s->mu);
    const std::vector<internal::ClassCounters>& cc = s->classes();
    for (unsigned i = 0; i < im.num_classes; ++i) {
      ClassStats& cs = all[i];
      cs.items += cc[i].items;
      cs.requested_bytes += cc[i].requested_bytes;
      cs.evicted += cc[i].evicted;
      cs.evicted_nonzero += cc[i].evicted_nonzero;
      cs.reclaimed += cc[i].reclaimed;
      cs.expired_unfetched += cc[i].expired_unfetched;
      cs.evicted_unfetched += cc[i].evicted_unfetched;
      cs.crawler_reclaimed += cc[i].crawler_reclaimed;
    }
    s->OldestAccessLocked(&oldest, kOldestAccessWalk);
  }
  // A class with items but none near a queue tail gets the oldest access sampled anywhere: the
  // tails hold the least recently inserted items, so that bounds its age from above.
  base::RelTime oldest_sampled = 0;
  for (base::RelTime t : oldest) {
    if (t != 0 && (oldest_sampled == 0 || t < oldest_sampled)) oldest_sampled = t;
  }
  std::vector<ClassStats> result;
  for (unsigned i = 0; i < im.num_classes; ++i) {
    if (all[i].items == 0) continue;
    ClassStats cs = all[i];
    cs.id = ReportedClass(i + 1);
    cs.chunk_size = classes.ClassSize(i + 1);
    cs.outofmemory = im.outofmemory[i].load(std::memory_order_relaxed);
    cs.oldest_access = oldest[i] != 0 ? oldest[i] : oldest_sampled;
    result.push_back(cs);
  }
  return result;
}

void Store::ResetStats() {
  Impl& im = *impl_;
  for (auto& s : im.shards) {
    std::lock_guard<std::mutex> lock(s->mu);
    s->ResetCountersLocked();
  }
  im.malloc_fails.store(0, std::memory_order_relaxed);
  for (unsigned i = 0; i < im.num_classes; ++i) {
    im.outofmemory[i].store(0, std::memory_order_relaxed);
  }
}

unsigned Store::ClassOf(std::size_t size) {
  return ReportedClass(SizeClasses::Get().ClassOf(std::max(size, Item::TotalSize(1, 0))));
}

std::size_t Store::ClassSize(unsigned id) {
  const SizeClasses& classes = SizeClasses::Get();
  unsigned first = classes.ClassOf(Item::TotalSize(1, 0));
  unsigned internal_id = id + first - 1;
  return id >= 1 && internal_id <= classes.count() ? classes.ClassSize(internal_id) : 0;
}

std::size_t Store::ItemOverhead() { return sizeof(Item) + 2; }

}  // namespace rc::store
