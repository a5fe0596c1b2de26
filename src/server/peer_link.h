// server/peer_link.h -- PeerLink: the opening side of a peer link (../shared/REPLICATION.md
// section 4), one per (worker, peer), so a write never hops threads.
//
// A link connects to the peer's client port (its Member's address and port), speaks the
// handshake (cluster/peer_hello.h: rc_hello, its RC_HELLO checked -- the peer's proof, its
// configuration, its clock admitted into ours --, rc_auth, RC_OK), then sends what it is given,
// pipelined: peer writes (meta commands with the peer-only flag Y; server/replicator.h makes
// them), each answered by one line (HD applied, EX not newer, NF, or an error), and access hints
// (HD, or EN with the keys the peer had not). What a round of the loop queued leaves in one send
// at the round's end (net::EventLoop::RoundEnd). Until the link is ready, writes wait in a
// bounded backlog; a full one drops and counts. A failure (refused, closed, an unexpected reply)
// closes the socket, counts what was in flight as failed, and reconnects after a backoff that
// doubles from 100 ms to 5 s.
//
// Deletes are never dropped silently (REPLICATION.md section 4): a delete keeps its bytes until
// it is answered, goes back into the backlog when the link fails with it in flight (it may have
// been applied: a peer's delete is idempotent), and waits past the backlog's bound up to a larger
// one of its own. Whatever else is lost (dropped, or in flight when the link failed) leaves the
// link needing a resync (needs_resync(): the replicator walks the store for the peer's keys).
//
// Without PeerAuth (a cluster with no secret) a link skips the handshake: the local lease's
// questions (server/grant_asker.h) are all it carries then.
//
// Thread-safety: none; lives on its loop.
#pragma once

#include <event2/event.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/counter.h"
#include "ringcached/cluster/member.h"
#include "ringcached/cluster/peer_hello.h"
#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/event_loop.h"
#include "ringcached/net/stream_transport.h"
#include "server/peer_auth.h"

namespace rc::server {

class PeerLink final : private net::EventLoop::RoundEnd {
 public:
  enum class State : unsigned char { kIdle, kConnecting, kHello, kAuth, kReady, kBackoff };
  // Written on the link's worker, read by `stats` from any thread (base::Counter).
  struct Counters {
    base::Counter queued;     // writes given to the link
    base::Counter applied;    // answered HD
    base::Counter not_newer;  // answered EX or NF: the peer had something newer
    base::Counter failed;     // in flight when the link failed, or answered with an error
    base::Counter dropped;    // refused: the backlog was full
    base::Counter retried;    // deletes sent again after the link failed with them in flight
    base::Counter connects;   // handshakes completed
    base::Counter hints;      // access hints sent (not counted as writes above)
    base::Counter hint_misses;  // ...answered EN: the peer had no copy (sent again)
    base::Counter resyncs;    // walks of the store that sent the peer its keys again
    base::Counter forwarded;  // client operations sent to the peer as the key's owner
    // Lag, from a write's Queue() (just after the local apply) to the peer's answer: answers
    // counted by bucket, bucket i holding lags below 2^i microseconds.
    static constexpr std::size_t kLagBuckets = 32;
    std::array<base::Counter, kLagBuckets> lag;
  };

  // Bytes that may wait for a link that is not ready, or for a slow peer; deletes may wait past
  // it, up to kMaxDeleteBacklog.
  static constexpr std::size_t kMaxBacklog = 8u << 20;
  static constexpr std::size_t kMaxDeleteBacklog = 64u << 20;

  // What a queued message is: how its loss is handled and its answer counted.
  enum class Kind : unsigned char {
    kWrite,   // lost: counted, and the link needs a resync
    kDelete,  // kept until answered (above)
    kHint,    // access hints: lost quietly, counted apart
    kForward, // a client's operation for the key's owner (Forward below)
  };

  // Told of each write queued with a ticket (not 0): acknowledged (true: HD, EX, NF -- the peer
  // has it or something newer) or lost (false: an error reply, or the link failed while it was
  // in flight). Called on the link's loop, possibly from inside Queue().
  using AckFn = std::function<void(std::uint64_t ticket, bool acknowledged)>;
  PeerLink(net::EventLoop* loop, net::BufferPool* pool, const PeerAuth* auth,
           cluster::Member peer, AckFn on_ack);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Queues one peer write (its line, and its data block for an ms) and connects if need be.
  // False when the backlog is full: the write is dropped and counted. `ticket` (0: none) is
  // reported to on_ack once the write is answered or lost.
  // `kind` is kWrite or kDelete (hints: QueueHint; forwards: Forward).
  bool Queue(std::string_view bytes, std::uint64_t ticket = 0, Kind kind = Kind::kWrite);

  // Sends a client's operation (meta commands, as a client would send them) to the peer, which
  // executes it as the key's owner, followed by `mn`: its whole reply, up to the MN, is handed
  // to `answer` (its VA values included), or null when it is lost (the link failed with it in
  // flight: the outcome is unknown). Never called back from inside Forward(); false (and never
  // called) when the backlog is full.
  using AnswerFn = std::function<void(const std::string* reply)>;
  bool Forward(std::string_view request, AnswerFn answer);

  // Queues access hints for `keys`, in one rc_hints line (`bytes`). For each the peer has no
  // copy of -- evicted or never received: EN, and the keys' positions --, `on_miss` is told the
  // key (on the link's loop), so that the owner can send the copy again: what clients read is
  // what a failover needs. Null: nobody is told.
  using HintMissFn = std::function<void(const std::string& key)>;
  void QueueHints(std::string_view bytes, std::vector<std::string> keys, HintMissFn on_miss);

  // Whether writes were lost since the last resync began, so the peer may miss keys it holds.
  bool needs_resync() const { return needs_resync_; }
  // A resync begins: the flag is cleared (a loss during the walk sets it again).
  void BeginResync() {
    needs_resync_ = false;
    counters_.resyncs.Add();
  }
  // Bytes waiting to be sent or for the link (a resync goes on only while this is small). On the
  // link's loop.
  std::size_t pending_bytes() const;

  // Any thread (`stats`).
  bool ready() const { return ready_.load(std::memory_order_relaxed); }
  State state() const { return state_; }
  const Counters& counters() const { return counters_; }
  // Bytes waiting, as of the link's last event (any thread).
  std::size_t pending_bytes_seen() const { return pending_seen_.load(std::memory_order_relaxed); }
  // Messages sent or waiting that have no answer yet, as of the link's last event (any thread):
  // a draining node leaves once this is 0 everywhere.
  std::size_t unanswered_seen() const {
    return unanswered_seen_.load(std::memory_order_relaxed);
  }
  const cluster::Member& peer() const { return peer_; }
  // Why the link last failed ("" if never), for `stats` and the log.
  const std::string& last_error() const { return last_error_; }

 private:
  static void OnEvent(evutil_socket_t fd, short what, void* arg) noexcept;
  static void OnRetry(evutil_socket_t fd, short what, void* arg) noexcept;
  void Connect();
  void HandleEvent(short what);
  bool ReadReplies();    // false: the link failed
  bool HandleLine(std::string_view line);
  void Flush();
  // What the round queued leaves in one send at its end (Flush), or waits for the socket.
  void AtRoundEnd() override;
  void Arm();
  void Fail(const std::string& why);
  // The handshake is done (or there is none): what waited in the backlog goes.
  void BecomeReady();

  net::EventLoop* loop_;
  net::BufferPool* pool_;
  const PeerAuth* auth_;
  cluster::Member peer_;
  std::unique_ptr<net::StreamTransport> transport_;
  event* event_ = nullptr;
  event* retry_ = nullptr;
  short armed_ = 0;
  State state_ = State::kIdle;
  std::atomic<bool> ready_{false};
  cluster::PeerHello mine_;
  std::string backlog_;        // writes waiting for the link to be ready
  // A message waiting for its answer: its ticket, when it was queued (for the lag), its kind,
  // and a delete's bytes (to send again).
  struct Waiting {
    std::uint64_t ticket;
    std::int64_t queued_us;
    Kind kind;
    std::string retry;  // kDelete: its bytes
    AnswerFn answer;  // kForward
    std::vector<std::string> keys = {};  // kHint: its keys, when a miss is to be told
  };
  // A hints message answered `line` (HD, or EN and positions): tells on_hint_miss_ of the keys.
  void TellHintMisses(std::string_view line, const std::vector<std::string>& keys);
  // kForward at the front: hands the peer's reply to it once whole (up to its MN).
  enum class Take : unsigned char { kTaken, kNeedMore, kBad };
  Take TakeForwardReply(net::InputBuffer& in);
  // Tells a forward's sender it was lost, from the loop (never from inside the caller).
  void TellLost(AnswerFn answer);
  // Sends `bytes` once the link is ready (now, if it is), or keeps them in the backlog,
  // connecting if need be; false when that would pass the bound for its kind.
  bool Enqueue(std::string_view bytes, Waiting waiting);
  std::deque<Waiting> backlog_tickets_;  // one per write in the backlog
  std::deque<Waiting> tickets_;          // one per write in flight, oldest first
  AckFn on_ack_;
  HintMissFn on_hint_miss_;
  int backoff_ms_ = 0;
  bool needs_resync_ = false;
  std::atomic<std::size_t> pending_seen_{0};
  std::atomic<std::size_t> unanswered_seen_{0};
  void NotePending() {
    pending_seen_.store(pending_bytes(), std::memory_order_relaxed);
    unanswered_seen_.store(backlog_tickets_.size() + tickets_.size(), std::memory_order_relaxed);
  }
  std::string last_error_;
  Counters counters_;
};

}  // namespace rc::server
