// server/replicator.h -- Replicator: every client write, sent to the key's other holders
// (../shared/REPLICATION.md section 4, asynchronous mode).
//
// A write observer (engine/hooks.h) on the engine. For each change a client made (not one a peer
// made: those say WriteEvent::from_peer), on the worker that applied it, it finds the key's
// holders in the adopted view (Ring::Holders, R of them: this node's own view, as the design
// says), and queues to each other holder, on this worker's link to it (peer_link.h), the
// resulting state as a peer write:
//
//   a stored item (set, add, cas, append, incr ...)  ms <key> <len> [F<flags>] [T<ttl>] E<v> Y<me>
//   a delete, hit or miss (a tombstone)              md <key> E<v> Y<me>
//   a TTL change (touch, gat, mg T)                  mg <key> T<ttl> C<v> E<stamp> Y<me>
//
//   an invalidation (md I)                          md <key> I E<v> Y<me>
//
// (keys that are not plain text go base64 with `b`). A node that is not among a key's holders (a
// client with an old server list wrote to it) sends a client's write to all R of them as the
// client made it, then cuts its own copy's expiry to --guest-ttl (Store::ApplyTtl with a fresh
// stamp; the copy only lets that client read its own write). A read-through fill goes as a stored item
// with its fill version; it is stored on the origin thread, so it is encoded there and sent from
// the worker its key hashes to. A link to a node that left the view is dropped with what waited
// for it. The peer applies only if newer, so order between links does not matter. flush_all is
// not sent (node-local by design).
//
// Asynchronous mode: the client's reply goes after the local apply. Synchronous mode
// (--replication sync): the Replicator is also each worker's WriteGate (write_gate.h); the writes
// a request made carry a ticket, and the session holds the request's reply until every other
// holder acknowledged them (applied, or had something newer), or answers SERVER_ERROR once one
// fails or --replication-timeout-ms passes (the outcome is then unknown: never a false STORED).
//
// Deletes, hints and resyncs. A delete is queued as one (PeerLink::Kind::kDelete: kept and sent
// again until answered). Whatever a link loses otherwise (its backlog full, or in flight when it
// failed) leaves it needing a resync: each worker's tick (every 100 ms) walks the store
// (Store::ScanStep, a few thousand slots at a time, only while the link is ready and has little
// waiting) and queues every item and tombstone the peer holds as a peer write; the peer keeps what
// is newer, so sending again what it has costs bytes only.
//
// Access hints: each worker's ReadSampler (read_sampler.h) keeps the keys its clients read, up to
// 4,096 distinct keys a second; evenly through the next second they go to the keys' other
// holders -- with the worker's writes, which the peers wake for anyway, and every 10 ms what no
// write took --, up to 32 on an `rc_hints t <key> ...` line (`rc_hints b` with keys that
// are not plain text, in base64), which the peer takes as reads (Engine::AccessHint), so that
// eviction there keeps what clients read here -- what matters once this node fails. Sent at
// once, as an `mg <key> Y<me>` each, a second's hints kept the peer (and this node, for the
// answers) busy for milliseconds, and the client requests that came meanwhile waited: at 10k
// requests/s that was the p99 of every request, replicated or not (bench/replication.py,
// sync). A key the peer answers EN for (its copy was evicted before any hint came, or never
// arrived) goes to it again, followed by a hint, so that it enters there as read.
//
// Hand-off (handoff.cc; REPLICATION.md section 6): when the view changes, the keys whose holder
// lists changed are pushed to their new holders -- after a loss, the next holder of every key the
// dead node held; after a join, the joiner's keys; after an empty restart (a new incarnation
// under the same name), that node's keys -- by a resumable walk of the store on worker 0's tick,
// at --handoff-rate bytes a second. Each key is pushed by one node: the first of its old holders
// that is still a member under the same incarnation. A view that changes during a walk starts it
// again towards the newest view.
//
// Hot keys (hot_copies.cc; REPLICATION.md section 7): while the detector (hot_key_detector.h)
// lists a key this node owns, its first --hot-copies nodes beyond its R holders (the next
// holders by the same rule, Ring::Holders(key, R + copies)) get a copy whose TTL is
// min(--hot-copy-ttl, the item's own), refreshed every third of that TTL while the key stays
// hot (`mg <key> T<ttl> C<v> E<stamp> Y<me>`; a copy node that misses it or has another version
// gets the item again). A client write of a hot key goes to those nodes too, with the TTL so
// capped; a delete's reply waits until every holder and every copy answered (or
// --replication-timeout-ms passed: a copy node that cannot be reached is counted, and its copy
// dies by its TTL), in either mode. A peer's write of a hot key (a client wrote it elsewhere)
// goes on to the copies too, unawaited. A node that is a holder on either ring is never sent a hot
// copy, so a hot copy never shortens a replica's TTL. `config get hotkeys` lists each hot key's
// readers (ReadersOf), which the client library reads from.
//
// Fenced (cluster/lease.h): while the local lease is not held, this node holds no key. Its
// clients' writes go to all of the key's holders as a non-holder's do (its own copy a guest), and
// each request's reply waits for them, as in synchronous mode, whatever the mode: an error
// (SERVER_ERROR) when none can be reached rather than a write nobody else has. Operations that
// need the owner's state go to the first holder that is not this node. No hint or resync leaves
// a node whose store may be stale.
//
// Thread-safety: OnWrite on any worker, each touching only its own worker's links (other threads'
// writes are posted to a worker); a worker's sampler on that worker.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/counter.h"
#include "ringcached/base/mutex.h"
#include "ringcached/cluster/membership.h"
#include "ringcached/engine/hooks.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/event_loop.h"
#include "server/forwarder.h"
#include "server/hot_key_detector.h"
#include "server/peer_auth.h"
#include "server/peer_link.h"
#include "server/read_sampler.h"
#include "server/write_gate.h"

namespace rc::server {

class Replicator final : public engine::WriteObserver,
                         public WriteGate,
                         public Forwarder,
                         public engine::MissLoader {
 public:
  // One entry per worker: its loop and buffer pool.
  struct WorkerSlot {
    net::EventLoop* loop;
    net::BufferPool* pool;
  };
  // `sync`: synchronous mode; `timeout_ms` bounds the wait for the holders (synchronous mode,
  // and any write while `lease` is not open). `handoff_rate` and `drop_delay_s`: hand-off's
  // bytes a second and how long after a view's adoption what it moved away is dropped. `store`
  // is walked for resyncs. `lease` (not owned; null: always open) says whether this node may
  // hold keys now.
  Replicator(const cluster::ClusterMembership* membership, const PeerAuth* auth,
             std::string self, int replicas, store::Store* store, const base::Clock* clock,
             std::vector<WorkerSlot> workers, bool sync, int timeout_ms, int guest_ttl,
             const engine::ReadFence* lease, std::int64_t handoff_rate,
             int drop_delay_s);
  ~Replicator() override;

  void OnWrite(const engine::WriteEvent& event) override;
  // Client writes of keys this node does not hold, sent to all their holders. Any thread.
  std::uint64_t guest_writes() const;
  // WriteGate (synchronous mode, or not serving): holds a request whose writes went to other
  // holders.
  bool Hold(Release release) override;
  bool Holding() override;
  void Forget() override;
  // Forwarder: a client's operation on a key this node does not hold goes to the key's owner
  // on this worker's link to it.
  Route Forward(std::string_view key, const std::function<std::string()>& request,
                AnswerFn answer) override;
  // MissLoader (the engine's, in place of the origin's, which it passes on to): while this node
  // is warming (cluster_node.h, "Member states"), a miss on a key it holds is fetched from the
  // key's first holder on the ring before the change -- the node clients read it from until
  // now -- with `mg <key> v f t c` on this worker's link, stored here with that node's version
  // (only if newer, not replicated), and answered; what that node misses goes to the origin, if
  // any. A fetch not answered within --replication-timeout-ms is a miss. Workers only.
  bool Wants(std::string_view key) const override;
  void Load(std::string_view key, std::function<void(store::ItemRef)> done) override;
  base::MovableLock FenceWrite(std::string_view key) override {
    return origin_ != nullptr ? origin_->FenceWrite(key) : base::MovableLock();
  }
  void FenceFlush() override {
    if (origin_ != nullptr) origin_->FenceFlush();
  }
  // The origin's loader (--origin), or null. Wiring, before the first Load.
  void set_origin(engine::MissLoader* origin) { origin_ = origin; }
  // Worker i's read sampler (for its SessionContext).
  ReadSampler* sampler(std::size_t worker) { return &workers_[worker]->hints; }

  // Spreads the keys `detector` lists (above) over `copies` extra nodes with copies living
  // `copy_ttl` seconds. Wiring, before the workers start.
  void set_hot_keys(const HotKeyDetector* detector, int copies, int copy_ttl);
  // The nodes clients may read `key` from, owner first: its R holders and, while it is hot,
  // its hot copies; empty unless this node is the key's owner. Any thread.
  std::vector<std::string> ReadersOf(std::string_view key) const;
  // `stats hotkeys`. Any thread.
  struct HotCopyRow {
    std::uint64_t copies_sent = 0, refreshes = 0, resent = 0, deletes = 0, delete_failures = 0;
  };
  HotCopyRow HotCopies() const;

  // Every link's counters, summed, and how many links are ready (for `stats cluster`).
  struct Totals {
    std::uint64_t queued = 0, applied = 0, not_newer = 0, failed = 0, dropped = 0, retried = 0,
                  connects = 0, hints = 0, hint_misses = 0, resyncs = 0;
    std::size_t links = 0, ready = 0;
  };
  // Any thread.
  Totals GetTotals() const;
  // Per peer, summed over the workers' links to it (`stats replication`). Any thread.
  struct PeerRow {
    std::string name;
    std::size_t links = 0, ready = 0;
    std::uint64_t queued = 0, applied = 0, not_newer = 0, failed = 0, dropped = 0, retried = 0,
                  connects = 0, hints = 0, hint_misses = 0, resyncs = 0;
    std::size_t pending_bytes = 0;
    std::array<std::uint64_t, PeerLink::Counters::kLagBuckets> lag{};
    // The lag below which a share `q` of the answers came, in microseconds (a bucket's upper
    // bound, so within a factor of two); 0 before any answer.
    std::uint64_t LagPercentile(double q) const;
  };
  std::vector<PeerRow> PerPeer() const;
  // `stats handoff`. Any thread.
  struct HandoffRow {
    bool scanning = false;
    bool dropping = false;  // unlinking what this node no longer holds
    std::uint64_t keys_dropped = 0;
    std::int32_t from_version = 0, to_version = 0;  // views: served, and being pushed for
    std::uint64_t scans_started = 0, scans_finished = 0, keys_sent = 0, bytes_sent = 0;
    std::int64_t last_started_ms = 0, last_finished_ms = 0;  // steady clock; 0: never
    std::uint64_t warm_fetches = 0, warm_fetched = 0;  // warming misses sent; values stored
  };
  HandoffRow Handoff() const;
  // A drain's question (cluster_node.h): whether the hand-off walk has served ring version
  // `version` (or a newer one) and every message on every link is answered. Any thread.
  bool HandedOff(std::int32_t version) const;
  // Whether every message on every link is answered. Any thread.
  bool AllAnswered() const;
  // What waits on the links, as of their last events (`stats handoff`): bytes not yet sent, and
  // messages (a key's copy each, or a hint or a report) not yet answered. Any thread.
  struct Pending {
    std::size_t bytes = 0, messages = 0;
  };
  Pending PendingOnLinks() const;

 private:
  struct PerWorker;
  // The keys a worker's clients read, sampled, until the tick sends them as hints.
  class HintSampler final : public ReadSampler {
   public:
    void OnRead(std::string_view key, std::size_t value_bytes) override;
    // Takes the keys sampled so far.
    std::vector<std::string> Take();

   private:
    static constexpr std::size_t kMaxKeys = 4096;
    // Looked up by string_view: a key read again costs a hash and a compare, no allocation.
    struct Hash {
      using is_transparent = void;
      std::size_t operator()(std::string_view key) const {
        return std::hash<std::string_view>()(key);
      }
    };
    std::unordered_set<std::string, Hash, std::equal_to<>> keys_;
  };
  struct PerWorker {
    WorkerSlot slot;
    // Its worker looks links up under the lock (uncontended but for `stats`), and only it adds
    // them.
    mutable base::Mutex mu;
    std::unordered_map<std::string, std::unique_ptr<PeerLink>> links RC_GUARDED_BY(mu);
    // The view the links were last checked against: a member that left takes its link (and
    // what waited for it) along.
    std::int64_t view_version = -1;
    // Synchronous mode (and a hot key's delete): the writes of the request being executed, and
    // those held. A hot key's copies answer on a second ticket (`lenient`), whose failures do
    // not fail the request: they are counted, and the copies die by their TTL.
    struct Pending {
      PerWorker* worker = nullptr;
      std::uint64_t ticket = 0, lenient = 0;
      int needed = 0, acked = 0, failed = 0;
      int lenient_needed = 0, lenient_answered = 0;
      WriteGate::Release release;  // set once held
      event* timer = nullptr;  // made with the Pending, added by Hold(); its argument is this
    };
    using PendingMap = std::unordered_map<std::uint64_t, std::unique_ptr<Pending>>;
    Replicator* replicator = nullptr;
    std::uint64_t next_ticket = 1;
    Pending* current = nullptr;
    PendingMap pending;
    // Settled entries (the map's node with its Pending and timer) kept for the next requests:
    // once the worker has settled as many as it holds at once, a held write allocates nothing
    // here. (jemalloc has no thread caches in this process: an allocation and its free cost
    // several hundred instructions, about the work of the rest of the hold.)
    std::vector<PendingMap::node_type> spare_pending;
    std::unordered_map<std::uint64_t, std::uint64_t> lenient_tickets;  // to the request's ticket
    // A client's write as a peer message, made by OnWrite: kept (up to kMaxKeptEncoded bytes),
    // so that its bytes are not allocated again for every write.
    std::string encoded;
    // Resyncs under way, by peer name: where each walk of the store has got to.
    std::unordered_map<std::string, store::Store::Scan> resyncs;
    HintSampler hints;
    // The detector's list as this worker last looked, and when worker 0 last refreshed the
    // copies (its tick count, and the list's version then).
    std::shared_ptr<const HotKeyDetector::List> hot;
    int hot_refreshed_tick = 0;
    std::uint64_t hot_refreshed_version = 0;
    base::Counter guest_writes;
    event* tick = nullptr;  // every kTickMs, once the worker has a link
    int ticks = 0;
    // The last second's hints, due evenly over kHintSpreadMs from hint_started_us; they go
    // with the worker's writes (at least kHintsWithAWrite at a time) or on hint_timer, every
    // kHintSliceMs while some wait: hint_queue[hint_next...] are still to go.
    std::vector<std::string> hint_queue;
    std::size_t hint_next = 0;
    std::int64_t hint_started_us = 0;
    event* hint_timer = nullptr;
  };
  static constexpr int kTickMs = 100;
  static constexpr int kHintEveryTicks = 10;
  static constexpr int kHintSliceMs = 10;
  static constexpr int kHintSpreadMs = 900;
  static constexpr std::size_t kHintsWithAWrite = 8;
  static void OnTick(evutil_socket_t, short, void* arg) noexcept;
  void StartTick(PerWorker& w);
  void Tick(PerWorker& w);
  // Walks on with the resync to `link`'s peer; false once the walk is done.
  bool Resync(PeerLink& link, store::Store::Scan* scan);
  // Takes the second's hints from the sampler (sending what is left of the last second's
  // first) and starts the slices.
  void StartHints(PerWorker& w);
  // Sends up to `count` of the queued hints.
  void SendHints(PerWorker& w, std::size_t count);
  // How many of the queued hints are due by now (from the start of the queue).
  static std::size_t HintsDue(const PerWorker& w);
  static void OnHintTimer(evutil_socket_t, short, void* arg) noexcept;
  // Worker 0's part of the tick: starts the hand-off walk when the view changed (handoff.cc).
  void HandOff();
  // One slice of the walk, within its time and byte budgets; on the walk's own timer.
  void WalkSlice(PerWorker& w);
  // Tells `view`'s warming members, and the members the walk pushed to, that this node's walk
  // has served it, with what it pushed to each (rc_handoff_done).
  void ReportServed(PerWorker& w, const cluster::ClusterView& view);
  // One slice of the drop walk: unlinks what the served view gives other nodes.
  void DropSlice();
  static void OnWalkTimer(evutil_socket_t, short, void* arg) noexcept;
  static constexpr int kWalkSliceEveryMs = 5;
  // `mg <key> <flags>`, the key in base64 (with b) if a meta line cannot carry it as it is.
  static std::string GetLine(std::string_view key, std::string_view flags);
  // An rc_hints line being built: its bytes (without the CRLF) and its keys.
  struct HintLine {
    bool base64;
    std::string bytes = {};
    std::vector<std::string> keys = {};
    void Add(const std::string& key);
  };
  // A hint found no copy on `link`'s peer: the item goes to it again.
  void SendAgain(PeerLink& link, const std::string& key);
  static void OnTimeout(evutil_socket_t, short, void* arg) noexcept;
  void OnAck(PerWorker& w, std::uint64_t ticket, bool acknowledged);
  // Releases `p` if its fate is known (or `timed_out`): acknowledged by all, or not.
  void Settle(PerWorker::Pending* p, bool timed_out);
  void DropLinksOutside(PerWorker& w, const cluster::ClusterView& view);
  PerWorker* Current();
  PeerLink* LinkTo(PerWorker& w, const cluster::Member& peer);
  // On w's loop: queues a write of `key` to each of its holders but this node. `*bytes` is the
  // peer write, or empty to be encoded from `event` once a holder needs it. `gated`: the
  // request's reply waits for the answers (synchronous mode). `serving`: this node may hold the
  // key (false: it writes as a non-holder).
  void SendToHolders(PerWorker& w, std::string_view key, const engine::WriteEvent* event,
                     std::string* bytes, bool gated, PeerLink::Kind kind, bool serving);
  // The peer write for `event`, or false when it has none; with `ttl_cap` (seconds, 0: none)
  // the TTL it carries is at most that (a hot copy's).
  bool Encode(const engine::WriteEvent& event, std::string* out, std::uint64_t ttl_cap = 0) const;
  // The peer write for `key`'s item as this node has it now (a resync, a copy sent again), or
  // false when it has none.
  bool EncodeItem(std::string_view key, std::string* out, std::uint64_t ttl_cap = 0) const;
  // Hot keys (hot_copies.cc). The worker's list, brought up to date on its tick.
  void FollowHotList(PerWorker& w);
  // The extra nodes `key` is copied to if this node owns it and it is hot on `w`'s list; none
  // otherwise. At most kMaxHotCopies.
  static constexpr std::size_t kMaxHotCopies = 8;
  std::size_t HotCopyTargets(const PerWorker& w, const cluster::ClusterView& view,
                             std::string_view key, const cluster::Member** out) const;
  // A write of a hot key, sent on to its copies; with `wait` (a client's delete) the request's
  // reply waits for their answers.
  void SendToHotCopies(PerWorker& w, const cluster::ClusterView& view,
                       const engine::WriteEvent& event, bool wait);
  // Worker 0's tick: the copies of every hot key this node owns, refreshed or sent.
  void RefreshHotCopies(PerWorker& w);
  // The hot copy of `key` sent again to `peer` (it had none, or another version).
  void SendHotCopy(PerWorker& w, const cluster::Member& peer, const std::string& key);
  // The writes of the request being executed on `w`, created if need be (from the spares).
  PerWorker::Pending& CurrentPending(PerWorker& w);
  // Takes `ticket`'s entry out of the pending map (and its lenient ticket), its timer stopped,
  // and keeps it as a spare (up to kMaxSparePending).
  static void Retire(PerWorker& w, std::uint64_t ticket);
  static constexpr std::size_t kMaxSparePending = 256;
  static constexpr std::size_t kMaxKeptEncoded = 16u << 10;
  // The request's lenient ticket on `w` (a hot copy's answers), created if need be.
  std::uint64_t LenientTicket(PerWorker& w);
  const HotKeyDetector* hot_ = nullptr;
  int hot_copies_ = 0;
  int hot_copy_ttl_ = 0;
  base::Counter hot_sent_, hot_refreshes_, hot_resent_, hot_deletes_, hot_delete_failures_;
  // A key a walk of the store met: an item, or a delete's tombstone.
  struct Copy {
    std::string key;
    bool tombstone;
    std::uint64_t version;
  };
  // Its peer write (the item as it is now, or the tombstone's delete) and how it is queued;
  // false when the item is gone.
  bool EncodeCopy(const Copy& c, std::string* out, PeerLink::Kind* kind) const;

  const cluster::ClusterMembership* membership_;
  const PeerAuth* auth_;
  const std::string self_;
  const int replicas_;
  store::Store* store_;
  const base::Clock* clock_;
  const bool sync_;
  const int timeout_ms_;
  const int guest_ttl_;
  const engine::ReadFence* const lease_;
  bool Serving() const { return lease_ == nullptr || lease_->Open(); }
  // The hand-off walk's state, on worker 0 only, and its counters (any thread reads them).
  struct HandoffWalk {
    std::shared_ptr<const cluster::ClusterView> from;  // the view whose holders have their keys
    std::shared_ptr<const cluster::ClusterView> to;    // the view the walk pushes for
    store::Store::Scan scan;
    bool active = false;
    double credit = 0;  // bytes it may send before it waits for the next slice
    event* timer = nullptr;  // worker 0's: the next slice
    bool dropping = false;   // the walk drops what this node no longer holds (from's ring)
    std::int64_t drop_due_ms = 0;  // steady clock: when the drop walk may start (0: none due)
    // What the walk pushed to each member, told to it when the walk is done (ReportServed).
    struct Sent {
      std::uint64_t keys = 0, bytes = 0;
    };
    std::map<std::string, Sent> sent_to;
  };
  HandoffWalk walk_;
  const std::int64_t handoff_rate_;
  const std::int64_t drop_delay_ms_;
  std::atomic<bool> handoff_dropping_{false};
  base::Counter handoff_dropped_;
  std::atomic<bool> handoff_active_{false};
  std::atomic<std::int32_t> handoff_from_{0}, handoff_to_{0};
  base::Counter handoff_started_, handoff_finished_, handoff_keys_, handoff_bytes_;
  std::atomic<std::int64_t> handoff_started_ms_{0}, handoff_finished_ms_{0};
  engine::MissLoader* origin_ = nullptr;
  base::Counter warm_fetches_, warm_fetched_;  // misses sent to the previous holder; stored
  // The key's holder before the change, if this node is warming and holds the key now.
  const cluster::Member* PreviousHolder(const cluster::ClusterView& view,
                                        std::string_view key) const;
  // Stores a fetched `mg ... v f t c` reply as a copy with its version, if newer; the item to
  // answer with (empty on a miss).
  store::ItemRef StoreFetched(std::string_view key, const std::string& reply);
  // Cuts the expiry of this node's copy of a key it does not hold (a guest) to the guest TTL.
  void KeepAsGuest(const engine::WriteEvent& event);
  std::vector<std::unique_ptr<PerWorker>> workers_;
};

}  // namespace rc::server
