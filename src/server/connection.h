// server/connection.h -- one client connection: read, parse, execute, reply.
//
// A Connection lives on one worker thread for its whole life, so nothing in it is locked. Its
// loop is memcached's: read what the socket has, parse and execute every complete request (at
// most -R per event, for fairness between pipelining clients), queue the replies, and send them
// with one sendmsg. A storage command's data block is read straight into the new item.
//
// Reading: where the worker has an io_uring (net/recv_ring.h, --io-engine), a multishot receive
// stands for the socket's readability: the kernel receives into the worker's buffer pool and
// OnReceived copies the bytes into the input buffer (a value's into its item). The connection
// falls back to epoll reads for a while after a large value (one copy less: ring_pause_), and
// stops the ring's receive when the input has ended or kMaxBacklog bytes wait behind blocked
// replies. Either way the requests run in the worker's read round.
//
// The protocol is chosen per connection (-B, or the first byte under -B auto): the text protocol
// with its meta commands (text_commands.cc, meta_commands.cc) or the binary protocol
// (binary_commands.cc). A UDP socket is served by one Connection per worker in datagram mode:
// each datagram is one request, answered in framed datagrams.
//
// Read-through (pending_fill.cc): a read whose misses go to the origin leaves the connection
// waiting for the fills. Nothing after that read is parsed until every one of its misses is
// answered, and its reply is queued whole, so replies stay in request order; the socket is not
// read meanwhile (beyond kMaxBacklog, through the ring), and other connections on the worker are
// not held up.
//
// Thread-safety: none; owned by one worker.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/net/input_buffer.h"
#include "ringcached/net/listener.h"
#include "ringcached/net/recv_ring.h"
#include "ringcached/proto/binary.h"
#include "ringcached/proto/meta.h"
#include "ringcached/proto/request.h"
#include "ringcached/proto/text_parser.h"
#include "ringcached/store/store.h"
#include "server/conn_registry.h"
#include "ringcached/net/out_queue.h"

struct event;

namespace rc::server {

class Worker;
class Server;

class Connection {
 public:
  // Takes ownership of `fd`.
  Connection(Worker* worker, int fd, const net::ListenSocket& from);
  ~Connection();

  void Start();
  // The connection serves a UDP socket (memcached -U): every datagram is one request, answered
  // in datagrams of at most kUdpPayload bytes, each behind an 8-byte frame header.
  bool udp() const { return udp_; }
  // memcached's UDP_MAX_PAYLOAD_SIZE (1400) counts the 8-byte frame header.
  static constexpr std::size_t kUdpPayload = 1400 - 8;
  // Closes the socket and hands the connection back to its worker for deletion.
  void Close();
  // Graceful stop: no new requests; close once what was received is answered.
  void Drain();
  // Whether the connection holds a partial request or unsent replies.
  bool busy() const;
  base::RelTime last_cmd() const { return last_cmd_; }
  bool closed() const { return fd_ < 0; }
  // Between a read callback that read the socket and RunRead() (Worker::QueueRead).
  bool read_queued() const { return read_queued_; }
  // The two cache-warming passes of a read round (Worker::RunReadRound) for the first request
  // read: the store's hint for its key's item (under the shard lock; the key is found by
  // proto::FirstKeyHint, when it can be told cheaply), then a load from it.
  void LocateFirstKey();
  void PrefetchFirstKey() const;
  // Runs what the queued read brought.
  void RunRead();
  // A completion of this connection's multishot receive (Worker::CollectReceives): buffers the
  // bytes and queues the connection for the worker's read round, as an epoll read would.
  void OnReceived(const net::RecvRing::Completion& c);

 private:
  enum class State : unsigned char { kParse, kReadValue, kSwallow, kWatching, kClosing };

  static void OnEvent(int fd, short what, void* arg) noexcept;
  // `already_read`: an EV_READ whose socket read was done by the read callback (RunRead).
  void HandleEvent(short what, bool already_read = false);
  // Reads from the socket into the input buffer. False when the peer closed or failed.
  bool ReadSocket();
  // Whether the next bytes go from the socket straight into a large value's item.
  bool ReadsValueDirectly() const;
  // Arms or cancels the ring's receive as the connection's state asks (UpdateEvents).
  void UpdateReceive();
  // Gives the input buffer back to the worker's pool once everything in it has been used: an
  // idle connection holds no buffer (net::BufferPool).
  void ReleaseInput();
  // Adds bytes received through the worker's ring to the input (or to the value being read).
  // False when the input is at its limit.
  bool AppendInput(const char* src, std::size_t n);
  // UDP: reads and answers the datagrams waiting on the socket.
  void ReadDatagrams();
  void AnswerDatagram(std::uint16_t request_id, const sockaddr_storage& peer, socklen_t peer_len);
  // Executes what the input buffer holds; false when the connection must close.
  bool ProcessInput();
  // Stores n bytes of the data block being received (pending_): value, then "\r\n".
  void FillPending(const char* src, std::size_t n);
  bool Flush();
  void UpdateEvents();
  void SetState(State state);

  // Binary protocol (binary_commands.cc). ProcessBinary() executes one request from the input
  // buffer: false when the connection must close (after sending what is queued).
  enum class BinaryStep : unsigned char { kNeedMore, kDone, kClose };
  BinaryStep ProcessBinary();
  void ExecuteBinary(const proto::binary::Header& h, const char* extras, std::string_view key);
  void BeginBinaryStorage(const proto::binary::Header& h, const char* extras,
                          std::string_view key);
  void FinishBinaryStorage();
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

  // Read-through (pending_fill.cc). A read some of whose keys wait for the origin: the parts of
  // its reply in request order, each a hit or a key being filled.
  struct PendingFill {
    enum class Kind : unsigned char { kText, kMeta, kBinary };
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
  };
  // Whether a miss on `key` goes to the origin (a loader is wired in, wants the key, not UDP).
  bool WantsFill(std::string_view key) const;
  // Adds `key` to the current read's fill (starting one of `kind` if none), and asks the loader.
  void WaitForFill(PendingFill::Kind kind, std::string_view key);
  // Adds a hit to the current read's fill, after a part that waits.
  void AddFilledPart(store::ItemRef item);
  void OnFilled(std::uint64_t id, std::size_t part, store::ItemRef item);
  void ReplyFill(PendingFill& fill);
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
  // A log line for this watcher, delivered on this connection's worker.
  void DeliverLog(const std::string& line);
  // A flag that turns false when the connection closes, for callbacks that may run after that
  // (queued log deliveries, fill answers) to check. Made on first use.
  std::shared_ptr<bool> alive();
  // Emits a conn_new / conn_close line to connevents watchers.
  void LogConnEvent(const char* type, const char* reason);

  // Members are ordered by size, so that the object (which every idle connection costs) has no
  // padding: 8-byte fields, then the structures, then the small fields.
  Worker* worker_;
  Server* server_;
  int fd_;
  // Reads left through epoll before the ring takes over again (after a large value: SetState).
  unsigned ring_pause_ = 0;
  event* event_ = nullptr;
  // Receiving through the worker's io_uring (0: through epoll, event_): the tag its completions
  // carry. recv_armed_, recv_cancelling_ and input_ended_ below: whether its multishot receive
  // is live and whether its cancellation was asked for, and whether the input has ended (the
  // peer closed or the socket failed): the connection closes once what it received is answered.
  std::uint64_t recv_tag_ = 0;
  // The item of the first request of the last read, for warming the cache (LocateFirstKey).
  const void* first_item_hint_ = nullptr;

  // Input: what was received and not yet executed (no buffer while there is nothing).
  net::InputBuffer in_;
  // The meta request being executed (kept while an ms's data block arrives); allocated with
  // the connection's first meta command, as most connections never send one.
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

  net::OutQueue out_;
  ConnRecord record_;
  std::shared_ptr<bool> alive_;         // made by alive() when first asked for
  std::unique_ptr<PendingFill> fill_;   // the read waiting for the origin, if any
  std::uint64_t fill_seq_ = 0;

  base::RelTime last_cmd_ = 0;
  int watcher_id_ = -1;                 // registered with Server::watchers() while >= 0
  short armed_ = 0;
  State state_ = State::kParse;
  // The protocol this connection speaks, chosen by -B or, under -B auto, by its first byte.
  enum class Framing : unsigned char { kUndecided, kText, kBinary } framing_ = Framing::kUndecided;
  proto::TextParser parser_;
  proto::MetaParser meta_parser_;
  bool recv_armed_ = false;
  bool recv_cancelling_ = false;
  bool input_ended_ = false;
  bool draining_ = false;
  bool close_after_write_ = false;
  bool yielded_ = false;
  bool read_queued_ = false;
  bool udp_ = false;
  bool more_input_ = false;             // bytes follow the request being executed
};

}  // namespace rc::server
