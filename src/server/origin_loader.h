// server/origin_loader.h -- read-through wired into the server (issue #6): the engine's
// MissLoader seam (engine/hooks.h) over origin::ReadThrough, and origin::Cache over the store.
//
// Who does what on a miss: a connection asks Wants() and Load() (parked.cc); ReadThrough
// coalesces the misses of one key and fetches it on the origin thread; there, under the key's
// fill lock, Store() links the value with `add` (so it never replaces an item someone linked);
// then each reader's answer is posted back to the reader's own worker loop, where it becomes an
// ItemRef to reply with: the stored item if it is still the one in the cache, else an unlinked
// copy of the fetched value (a write won, or the item was already replaced or evicted).
//
// Thread-safety: Wants(), Load(), FenceWrite(), FenceFlush() from any worker; Contains() and
// Store() from ReadThrough (under the key's lock); Open() and Stop() from the server's thread.
#pragma once

#include <memory>
#include <string>

#include "ringcached/base/clock.h"
#include "ringcached/base/status.h"
#include "ringcached/engine/hooks.h"
#include "ringcached/origin/read_through.h"
#include "ringcached/server/settings.h"
#include "ringcached/store/store.h"

namespace rc::server {

class Server;
class StatSink;

class OriginLoader final : public engine::MissLoader, public origin::Cache {
 public:
  // Connects to settings.origin and starts the origin thread (origin::ReadThrough::Open); the
  // error names the origin and the problem. `store` and `clock` are not owned and must outlive
  // the loader.
  static base::Result<std::unique_ptr<OriginLoader>> Open(const Settings& settings,
                                                          store::Store* store,
                                                          const base::Clock* clock);
  // Stops the origin thread; call once the workers have stopped.
  void Stop() { read_through_->Stop(); }

  // engine::MissLoader
  bool Wants(std::string_view key) const override;
  void Load(std::string_view key, std::function<void(store::ItemRef)> done) override;
  base::MovableLock FenceWrite(std::string_view key) override {
    return read_through_->FenceWrite(key);
  }
  void FenceFlush() override { read_through_->FenceFlush(); }

  // origin::Cache
  bool Contains(std::string_view key) override;
  std::uint64_t FillVersion() override { return store_->versions().Mint(); }
  bool Store(std::string_view key, const origin::Value& value, std::uint64_t version) override;

  // Told of every fill stored (WriteEvent::Kind::kFill, on the origin thread): replication.
  // Wiring, before the first Load.
  void set_write_observer(engine::WriteObserver* observer) { observer_ = observer; }
  // While `fence` is closed (a cluster node's lease, cluster/lease.h), what the store holds is
  // not an answer: Contains() says no, so every miss is fetched, and the fill's `add` leaves an
  // old item alone while the reader gets the fetched value. Wiring, before the first Load.
  void set_read_fence(const engine::ReadFence* fence) { fence_ = fence; }

  const origin::ReadThrough& read_through() const { return *read_through_; }

 private:
  OriginLoader(const Settings& settings, store::Store* store, const base::Clock* clock);
  // On the reader's worker: the item to answer with.
  store::ItemRef ItemFor(std::string_view key, const origin::Answer& answer);
  base::RelTime ExptimeOf(const origin::Value& value) const;

  store::Store* store_;
  const base::Clock* clock_;
  engine::WriteObserver* observer_ = nullptr;
  const engine::ReadFence* fence_ = nullptr;
  std::string key_prefix_;
  int ttl_;
  std::unique_ptr<origin::ReadThrough> read_through_;
};

// `stats origin`: the read-through counters, the breaker and fetch latency percentiles (nothing
// without an origin).
void AppendOriginStats(Server& server, StatSink* sink);

}  // namespace rc::server
