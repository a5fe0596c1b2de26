// store/reclaimer.cc -- the background reclaimer: a thread that keeps a few free segments ready
// in a full cache, so that writers seldom evict or compact inline.
//
// In a full cache every new segment a writer needs comes from eviction or compaction
// (segments.cc), which walks a whole segment: about a millisecond for 1 MiB of small items, and
// more when compaction copies the live ones forward. Done inline, that lands on the one write in
// a few hundred that crosses a segment boundary, and on the p99 of writes under overwrite churn.
// This thread does the same work ahead of time, whenever the free list of a full cache falls
// below its reserve (1/128 of the segments, between 2 and 8), and stops when it is back. It keeps
// the reserve only while eviction is reclaiming dead space (overwrite or delete churn), where
// the inline work is compaction, which copies; a write-once workload keeps all of -m for data
// and evicts inline.
//
// It runs under SCHED_IDLE: any runnable request thread takes the CPU from it at once, so on a
// machine with no idle CPU it gets nothing, the reserve runs out, and the writers take the work
// over, a few items a write (segments.cc, "Emptying in steps"). The segments it keeps spare hold no data: the price is
// that much of -m under churn (0.8-3%), where compaction gains far more. (Kept always, 2 spare
// segments at -m 64 cost the 1 KB fill 0.958 -> 0.927 of -m kept; with one, under memtier's
// churn, the reclaimer fell behind and the live bytes kept went from 54 to 49 MB.)
//
// Only with evictions on: under -M compaction is done for the item asked for (CompactOne).
#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "store/store_impl.h"

namespace rc::store {

namespace {

constexpr std::size_t kReserveDivisor = 128;
constexpr std::size_t kMinReserve = 2;
constexpr std::size_t kMaxReserve = 8;

}  // namespace

void Store::Impl::StartReclaimer() {
  std::size_t segments = options.memory_limit / pool->segment_bytes();
  reclaim_reserve = std::clamp(segments / kReserveDivisor, kMinReserve, kMaxReserve);
  reclaimer = std::thread([this] { ReclaimerMain(); });
}

void Store::Impl::StopReclaimer() {
  if (!reclaimer.joinable()) return;
  {
    base::MutexLock lock(reclaim_mu);
    reclaim_stop = true;
  }
  reclaim_cv.notify_all();
  reclaimer.join();
}

bool Store::Impl::ReserveLow() const {
  // Only while eviction finds dead space, at least a quarter of its turns: then the inline work
  // is compaction, which copies, and the spare segment pays for itself many times over. A
  // write-once workload keeps all of -m for data and evicts inline, as it always did.
  return !pool->CanGrow() && pool->free_count() < reclaim_reserve &&
         dead_space_score.load(std::memory_order_relaxed) >= kQuarterScore;
}

void Store::Impl::NoteSegmentTaken() {
  if (!reclaimer.joinable() || !ReserveLow()) return;
  // One wake-up per episode: the flag stays set until the reclaimer has looked.
  if (reclaim_wanted.exchange(true, std::memory_order_acq_rel)) return;
  base::MutexLock lock(reclaim_mu);
  reclaim_cv.notify_one();
}

void Store::Impl::ReclaimerMain() {
  pthread_setname_np(pthread_self(), "rc-reclaimer");
  sched_param param{};
  (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
  base::MutexLock lock(reclaim_mu);
  while (!reclaim_stop) {
    while (!reclaim_stop && !reclaim_wanted.load(std::memory_order_acquire)) {
      reclaim_cv.wait(reclaim_mu);
    }
    // Cleared before the work: a writer that finds the reserve low meanwhile sets it again, and
    // the loop comes round once more.
    reclaim_wanted.store(false, std::memory_order_release);
    lock.Unlock();
    // Bounded: each round frees at most one segment's worth, and a round that frees nothing
    // (nothing left to evict) ends the episode.
    for (std::size_t i = 0; i < 4 * kMaxReserve && ReserveLow(); ++i) {
      if (!MakeRoom(Now(), 0, /*background=*/true)) break;
      background_reclaims.fetch_add(1, std::memory_order_relaxed);
    }
    lock.Lock();
  }
}

}  // namespace rc::store
