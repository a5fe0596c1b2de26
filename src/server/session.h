// server/session.h -- the protocol half of a client connection: bytes in, replies out.
//
// A Session parses what its transport received (a net::InputBuffer), executes each request
// through the engine or the server's admin state, and appends the replies to a net::OutQueue;
// it never touches the socket. The transport (server/connection.h: epoll or io_uring receive,
// sends, back-pressure, close) owns both buffers, feeds the session with Process(), and sends
// what it queued. That split keeps the protocol testable and lets other transports speak it.
//
// The protocol is chosen per session (-B, or the first byte under -B auto): the text protocol
// with its meta commands (text_commands.cc, meta_commands.cc) or the binary protocol
// (binary_commands.cc). A datagram transport (UDP) resets the session before each datagram.
//
// A storage command's data block goes straight into the new item: from the input buffer, or
// from the socket when the transport reads a large value directly (DirectValueRoom). A request
// whose reply waits for asynchronous work parks (parked.cc): a read whose misses go to the
// origin, or a write the worker's WriteGate holds (write_gate.h). Nothing after it is parsed
// until it is answered, its reply is queued whole, and the host's Resume() runs what waited.
//
// Thread-safety: none; owned by one connection on one worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/clock.h"
#include "ringcached/base/counter.h"
#include "ringcached/engine/engine.h"
#include "ringcached/net/event_loop.h"
#include "ringcached/net/input_buffer.h"
#include "ringcached/net/out_queue.h"
#include "ringcached/proto/binary.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/request.h"
#include "ringcached/proto/text_parser.h"
#include "ringcached/server/settings.h"
#include "ringcached/store/store.h"
#include "server/admin.h"
#include "ringcached/cluster/peer_hello.h"
#include "server/conn_registry.h"
#include "server/forwarder.h"
#include "server/peer_auth.h"
#include "server/prefix_stats.h"
#include "ringcached/cluster/lease.h"
#include "server/read_sampler.h"
#include "server/watchers.h"
#include "server/write_gate.h"

namespace rc::server {

// Connection-level counters of `stats`, per worker.
struct ConnStats {
  base::Counter bytes_read, bytes_written, conn_yields;
  void Reset() {
    bytes_read.Reset();
    bytes_written.Reset();
    conn_yields.Reset();
  }
};

// What a session reaches of the worker it runs on and of the process above it; one per worker,
// shared by its sessions. What every request touches is here as plain pointers: the engine, the
// start-up and live settings, the clock, the watchers and `stats detail`, the worker's counters
// (bumped without a lock) and its loop (where deferred work comes back: a watcher's lines, origin
// fills). The admin commands' rarer needs go through `admin` (admin.h), which the Server
// implements; `write_gate` (write_gate.h) is null unless writes wait for replicas;
// `read_sampler` (read_sampler.h) is told of every hit, when someone samples reads. (The outbound
// peer links are the replicator's, which the engine's write stream reaches on the worker itself:
// replicator.h.)
struct SessionContext {
  engine::Engine* engine;
  const Settings* settings;
  RuntimeSettings* runtime;
  base::SystemClock* clock;
  Watchers* watchers;
  PrefixStats* prefix_stats;
  Admin* admin;
  engine::CommandStats* command_stats;
  ConnStats* conn_stats;
  net::EventLoop* loop;
  WriteGate* write_gate = nullptr;
  ReadSampler* read_sampler = nullptr;
  Forwarder* forwarder = nullptr;
  const PeerAuth* peer_auth = nullptr;  // peer_auth.h: null unless this node accepts peers
  // A cluster node's local lease (cluster/lease.h): grants asked for by rc_lease, the
  // incarnations a peer's messages must not be older than, and whether peer writes are taken.
  cluster::LeaseKeeper* lease = nullptr;
};

// The text protocol's reply line for a storage, delete, touch or arithmetic outcome.
std::string_view TextReplyFor(store::Outcome outcome);

// What a session needs from the transport that carries it.
class SessionHost {
 public:
  virtual ~SessionHost() = default;
  // A data block of `bytes` (value and "\r\n") begins: a transport may read a large one
  // straight from the socket into the item.
  virtual void OnDataBlock(std::size_t bytes) = 0;
  // Work the session parked on has finished (an origin fill): run what waited behind it. The
  // host may close, and its owner delete it, before this returns.
  virtual void Resume() = 0;
  // Output was queued outside any request (a watcher's log line): send it.
  virtual void SendQueued() = 0;
};

class Session {
 public:
  // `in`, `out`, `record` and `host` belong to the transport and outlive the session.
  Session(SessionContext* context, SessionHost* host, net::InputBuffer* in, net::OutQueue* out,
          ConnRecord* record, bool datagrams);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Executes what the input holds, up to -R requests (then yielded() is true and the rest
  // waits for the next call). False when the connection must close (quit, a fatal error):
  // close_after_write() says whether what was queued is to be sent first.
  bool Process();
  bool yielded() const { return yielded_; }
  void ClearYield() { yielded_ = false; }
  bool close_after_write() const { return close_after_write_; }
  // A parked request waits (for the origin, or for the write gate): the transport should not
  // read more meanwhile.
  bool waiting() const { return parked_ != nullptr; }
  // A data block is being received (or discarded).
  bool in_data_block() const {
    return state_ == State::kReadValue || state_ == State::kSwallow;
  }
  bool reading_value() const { return state_ == State::kReadValue; }
  // Whether the input buffer may be given back: nothing refers into it.
  bool input_releasable() const {
    return in_->empty() && state_ != State::kReadValue && parked_ == nullptr;
  }
  base::RelTime last_cmd() const { return last_cmd_; }
  // An authenticated peer link (peer_commands.cc): peer-only flags are accepted on it.
  bool peer() const { return peer_ != nullptr && peer_->authenticated; }

  // Where the next value bytes of the data block go when the input buffer is empty: straight
  // into the item, up to DirectValueRoom() bytes (0 outside a data block). ValueReceived(n)
  // counts n bytes written there.
  std::size_t DirectValueRoom() const;
  char* direct_value() const { return pending_.item.writable_value() + pending_.filled; }
  void ValueReceived(std::size_t n) { pending_.filled += n; }
  // The bytes the data block still takes (value and "\r\n") while the input buffer is empty,
  // else 0; FillDataBlock() stores them.
  std::size_t DataBlockLeft() const;
  void FillDataBlock(const char* src, std::size_t n);

  // The key of the first request in the input, if it can be told cheaply (for the read
  // round's cache warming); empty otherwise.
  std::string_view FirstKey() const;

  // Datagrams: each one is a fresh request; forget what the previous one left behind.
  void StartDatagram();
  void EndDatagram();

  // The connection closed: drop what waits (a fill's answer, a watcher's lines, a data block).
  void Closed();

 private:
  enum class State : unsigned char { kParse, kReadValue, kSwallow, kWatching, kClosing };
  void SetState(State state);

  // Binary protocol (binary_commands.cc). ProcessBinary() executes one request from the input
  // buffer: false when the connection must close (after sending what is queued).
  enum class BinaryStep : unsigned char { kNeedMore, kDone, kClose };
  BinaryStep ProcessBinary();
  void ExecuteBinary(const proto::binary::Header& h, const char* extras, std::string_view key);
  void BeginBinaryStorage(const proto::binary::Header& h, const char* extras,
                          std::string_view key);
  void FinishBinaryStorage();
  // The reply to a binary storage command or incr/decr, from its outcome (here or the owner's).
  void ReplyBinaryStore(const proto::binary::Header& h, proto::Command command,
                        store::Outcome outcome, std::uint64_t cas);
  void ReplyBinaryArithmetic(const proto::binary::Header& h, const store::IncrResult& r);
  void BinaryReply(const proto::binary::Header& h, std::uint16_t status, std::string_view extras,
                   std::string_view key, std::string_view value, std::uint64_t cas);
  void BinaryError(const proto::binary::Header& h, proto::binary::Status status);
  void BinaryStats(const proto::binary::Header& h, std::string_view sub);
  // The item_store line for mutation watchers (text and binary).
  void LogStore(const store::ItemRef& item, store::Outcome outcome, proto::Command command);

  // Meta commands (meta_commands.cc), routed from the text path. meta_req_ holds the request,
  // so an ms keeps it while its data block arrives.
  void ExecuteMeta();
  void BeginMetaSet();
  void FinishMetaSet();
  void ReplyMeta(const proto::MetaReplyInfo& info);

  // A request whose reply waits (parked.cc): a read some of whose keys wait for the origin (the
  // parts of its reply in request order, each a hit or a key being filled; kText, kMeta,
  // kBinary), a request whose writes the WriteGate holds (kHeld: its reply, already made), or an
  // operation sent to the key's owner (kForwarded: forwarded.cc; `held` gets the owner's reply).
  struct Parked {
    enum class Kind : unsigned char { kText, kMeta, kBinary, kHeld, kForwarded };
    struct Part {
      store::ItemRef item;  // the hit, or the fill once it arrived (empty: still a miss)
      std::string key;      // the key being filled
      bool waiting = false;
    };
    Kind kind = Kind::kText;
    std::uint64_t id = 0;             // answers for an abandoned fill are dropped
    bool with_cas = false;            // text: gets/gats
    std::vector<Part> parts;
    std::size_t waiting = 0;
    proto::MetaReplyInfo miss_info;   // meta: the reply if the fill finds nothing
    proto::binary::Header header;     // binary: the request
    std::string held;                 // kHeld: the reply's bytes; kForwarded: the owner's
    // kForwarded: how the owner's meta reply is told in the client's protocol, and whether it
    // came at all (lost: the outcome is unknown).
    enum class Told : unsigned char { kTextStore, kTextArithmetic, kMeta, kBinaryStore,
                                      kBinaryArithmetic } told = Told::kMeta;
    proto::Command command = proto::Command::kSet;  // kTextStore, kBinaryStore
    bool noreply = false;                           // text noreply
    bool lost = false;
    // kHeld: how the request can be told its write failed (the gate gave up on it).
    enum class ErrorWay : unsigned char { kNone, kLine, kBinary } error_way = ErrorWay::kNone;
  };
  // Whether a miss on `key` goes to the origin (a loader is wired in, wants the key, not UDP).
  bool WantsFill(std::string_view key) const;
  // Adds `key` to the current read's fill (starting one of `kind` if none), and asks the loader.
  void WaitForFill(Parked::Kind kind, std::string_view key);
  // Adds a hit to the current read's fill, after a part that waits.
  void AddFilledPart(store::ItemRef item);
  void OnFilled(std::uint64_t id, std::size_t part, store::ItemRef item);
  void ReplyParked(Parked& fill);
  // After a request ran to its end: if the write gate holds its writes, takes the reply it
  // queued (since Rare::request_mark) out of the queue and parks it until the gate releases it.
  // Inline: without a gate (every single node) it is one load and a branch per request.
  void RequestDone() {
    if (context_->write_gate != nullptr) HoldForGate();
  }
  // Before a request runs: where its reply will begin, should the gate hold it.
  void MarkRequest() {
    if (context_->write_gate != nullptr) rare().request_mark = out_->GetMark();
  }
  void HoldForGate();
  // A parked request's id, for the callbacks that answer it to check that it is still the one
  // waiting: unique in the process (a relaxed atomic count).
  static std::uint64_t NextParkId();
  void OnReleased(std::uint64_t id, bool acknowledged);
  static void NotifyReleased(void* session, std::uint64_t id, bool acknowledged) {
    static_cast<Session*>(session)->OnReleased(id, acknowledged);
  }
  // Finished Parkeds, up to kMaxSpareParked per thread, kept for the next held writes: a
  // synchronous cluster parks every write, and jemalloc (no thread caches in this process)
  // would allocate and free one each time.
  static constexpr std::size_t kMaxSpareParked = 64;
  static thread_local std::vector<std::unique_ptr<Parked>> spare_parked_;
  // Operations on keys this node does not hold (forwarded.cc, server/forwarder.h): true when
  // the request went to the key's owner (parked until its answer) or was answered an error;
  // false when it is to run here. `request` makes the meta commands for the owner.
  bool ForwardToOwner(std::string_view key, Parked::Told told, proto::Command command,
                      bool noreply, const std::function<std::string()>& request);
  // Whether this session's requests may go to an owner at all: a forwarder is wired in (a
  // replicating cluster), the request did not come in a datagram (answered at once) or from a
  // peer (the owner's to run).
  bool MayForward() const {
    return context_->forwarder != nullptr && !datagrams_ && peer_ == nullptr;
  }
  void OnForwardAnswer(std::uint64_t id, const std::string* reply);
  void ReplyForwarded(Parked& parked);
  // The same for each kind of request that needs the owner's state; false: run it here.
  bool ForwardTextStore(proto::Command command, std::uint64_t cas, bool noreply,
                        const store::ItemRef& item);
  bool ForwardBinaryStore(proto::Command command, std::uint64_t cas, const store::ItemRef& item);
  bool ForwardTextArithmetic(const proto::Request& req);
  bool ForwardBinaryArithmetic(std::string_view key, bool incr, std::uint64_t delta,
                               std::uint64_t initial, std::uint32_t exptime, std::uint64_t cas);
  // meta_req_ (an ms, whose data block is `value`, or an ma).
  bool ForwardMeta(std::string_view value);
  // Runs what waited behind a parked request once it is answered.
  void ResumeAfterParked();
  // Text protocol: one VALUE block.
  void AppendValueReply(store::ItemRef item, bool with_cas);
  // Binary protocol: the reply of a get/gat family opcode, hit or miss.
  void ReplyBinaryGet(const proto::binary::Header& h, std::string_view key, store::ItemRef item);

  // Text protocol (text_commands.cc).
  bool ExecuteText(const proto::Request& req);
  void ReplyText(const proto::Request& req, std::string_view line);
  void ProcessRetrieval(const proto::Request& req);
  void BeginStorage(const proto::Request& req);
  void FinishStorage();
  void ProcessAdmin(const proto::Request& req);
  void ProcessStats(const proto::Request& req);
  void ProcessLruCrawler(const proto::Request& req);
  void ProcessMetadump(const proto::Request& req);
  void ProcessWatch(const proto::Request& req);
  // ElastiCache auto-discovery (cluster_commands.cc): `config get cluster`, and the legacy
  // `get AmazonElastiCache:cluster` value, which AppendDiscoveryValue() queues (false when this
  // node is not in a cluster: the key is then an ordinary key).
  void ProcessConfig(const proto::Request& req);
  bool AppendDiscoveryValue();
  // A peer link's handshake (peer_commands.cc); RefusePeer answers RC_REFUSED and closes.
  void ProcessPeer(const proto::Request& req);
  void RefusePeer(const std::string& why);
  void AnswerLease(const proto::Request& req);
  void AnswerHandoffDone(const proto::Request& req);
  void AnswerHints(const proto::Request& req);
  // A log line for this watcher, delivered on this session's worker.
  void DeliverLog(const std::string& line);
  // A flag that turns false when the session closes, for callbacks that may run after that
  // (queued log deliveries, fill answers) to check. Made on first use.
  std::shared_ptr<bool> alive();
  // Records the time of the request being executed (`stats conns`, -o idle_timeout).
  void NoteCommand();

  // 8-byte fields first, then the structures, then the small fields: no padding.
  SessionContext* context_;
  SessionHost* host_;
  net::InputBuffer* in_;
  net::OutQueue* out_;
  ConnRecord* record_;
  // The meta request being executed (kept while an ms's data block arrives); allocated with
  // the session's first meta command, as most connections never send one.
  std::unique_ptr<proto::MetaRequest> meta_req_;

  // A storage command whose data block is being read (kReadValue) or discarded (kSwallow).
  struct PendingStore {
    std::uint64_t cas_unique = 0;
    proto::binary::Header header;     // binary: the request, for the reply
    store::ItemRef item;
    std::size_t filled = 0;  // bytes of value + "\r\n" received so far
    std::size_t total = 0;   // value_len + 2 (binary: value_len)
    proto::Command command = proto::Command::kSet;
    bool noreply = false;
    bool binary = false;              // a binary request: no "\r\n" follows the value
    bool meta = false;                // an ms: meta_req_ is the request
    char tail[2] = {};       // the "\r\n" after a text or meta value (the item does not keep it)
  } pending_;
  std::size_t swallow_left_ = 0;

  // What few sessions need, allocated the first time one does: every idle connection holds a
  // Session, and its Connection must stay within jemalloc's 448-byte size class
  // (server/connection.h).
  struct Rare {
    std::shared_ptr<bool> alive;       // made by alive() when first asked for
    net::OutQueue::Mark request_mark;  // where the reply of the request being executed begins
  };
  Rare& rare() {
    if (rare_ == nullptr) rare_ = std::make_unique<Rare>();
    return *rare_;
  }
  std::unique_ptr<Rare> rare_;
  // A peer link's handshake and, once authenticated, what it said (peer_commands.cc).
  struct PeerState {
    cluster::PeerHello theirs;
    cluster::PeerHello mine;
    bool authenticated = false;
    std::uint64_t views_checked = 0;  // LeaseKeeper::views_seen() when Current() last said yes
  };
  // On a peer session, before a peer write: false (and the session closing, RC_REFUSED sent)
  // once a newer incarnation of the sender has registered (peer_commands.cc).
  bool CurrentPeer();
  std::unique_ptr<PeerState> peer_;
  std::unique_ptr<Parked> parked_;   // the request waiting, if any (its id: NextParkId)

  base::RelTime last_cmd_ = 0;
  int watcher_id_ = -1;                 // registered with Server::watchers() while >= 0
  State state_ = State::kParse;
  // The protocol this session speaks, chosen by -B or, under -B auto, by its first byte.
  enum class Framing : unsigned char { kUndecided, kText, kBinary } framing_ = Framing::kUndecided;
  proto::TextParser parser_;
  proto::MetaParser meta_parser_;
  // One byte of flags: every idle connection holds a Session, and its Connection must stay
  // within jemalloc's 448-byte size class (server/connection.h).
  bool datagrams_ : 1;
  bool close_after_write_ : 1 = false;
  bool yielded_ : 1 = false;
  bool more_input_ : 1 = false;         // bytes follow the request being executed
  bool last_noreply_ : 1 = false;       // the text request being executed has noreply
  // This connection's number for `config get hotkeys` (-1 until its first), so that a client
  // instance polling on it keeps one slot.
  std::int64_t hot_keys_slot_ = -1;
  proto::binary::Header last_binary_;   // the binary request being executed
};

}  // namespace rc::server
