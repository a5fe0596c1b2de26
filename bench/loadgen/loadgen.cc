// bench/loadgen/loadgen.cc -- rc-loadgen: a memcached load generator on libevent 2.1, for the
// measures memcaslap lacks (bench/README.md has examples).
//
//   * Closed loop: every connection keeps --pipeline requests in flight and sends the next as soon
//     as a reply arrives; throughput is what the server (or this client) can do.
//   * Open loop (--rate R): requests are due at fixed times t0 + k/R, whatever the replies do, and
//     latency is measured from that intended time, not from the moment the request left. A server
//     that stalls for 10 ms is therefore charged for every request that should have gone out during
//     those 10 ms, not just the one it was holding ("coordinated omission", Gil Tene). A request
//     whose intended time is behind the clock goes out at once. Between due times the loop sleeps
//     on a precise timer (EVENT_BASE_FLAG_PRECISE_TIMER, a timerfd): epoll's own timeouts have
//     millisecond resolution, which would send in bursts of R/1000. The timerfd costs about a
//     third of this client's CPU at 40 k/s in this VM; --spin polls instead (EVLOOP_NONBLOCK)
//     whenever the next request is due within 2 ms, which is cheaper and more exact on a quiet
//     machine with a core to spare, and worse on a busy one: a spinning process loses its core
//     for whole scheduler slices, where a sleeping one is woken promptly. Requests sent more than
//     1 ms late are counted ("late"); if there are many, the percentiles describe this client.
//   * Paced (--pace N): every connection has one request in flight at most and sends the next
//     1/N s after the previous reply arrived, so N requests/s per connection is an upper bound
//     (the real rate is N / (1 + N x latency)). This is the load of many mostly idle clients, each
//     with its own socket, as memtier_benchmark's --rate-limiting=N models it; memtier, though,
//     runs a periodic timer per connection that fires at most 50 times a second and lets
//     ceil(N/50) requests out back to back each time (memtier_benchmark.cpp), rather than timing
//     each request from the previous reply. Latency is measured from the moment the request left
//     to its reply: there is no schedule to fall behind, so no coordinated-omission correction,
//     and a slow reply delays the connection's next request instead of being charged to it. The
//     connections' first requests are spread evenly over one interval so they do not fire in
//     lockstep. One libevent timer per connection, on the same precise timer as the open loop; a
//     timer that fires more than 1 ms late counts as "late" (it lowers the rate, not latency).
//   * Text or binary protocol, gets of 1, 10 or 100 keys (binary: GETKQ... NOOP), a set:get ratio,
//     key choice uniform, Zipf (exact CDF) or sequential, all seeded.
//   * Values of one size (-v) or of sizes drawn per set (--value-sizes: uniform or a bounded
//     Pareto, up to memcached's 1 MB item limit; ValueSizes in workload.h), from a seeded stream
//     of their own, so the n-th set of a connection has the same size against any server. The JSON
//     line reports the mean, least and largest size drawn next to the distribution's exact mean,
//     so a run shows that it sent what it says.
//   * --preload sets every key once before the run; --lookaside sets a key after its get missed
//     (a look-aside cache); --warmup seconds are run but not counted.
//   * Stops at --duration seconds or after --ops requests, whichever comes first.
//   * --server-pid P: the server's CPU time (utime+stime from /proc/P/stat) over the measured
//     window, and so requests per server CPU-second.
//
// Output: one JSON line on stdout (field names in Main()), a human summary on stderr. Latency
// percentiles are given over all requests (lat_us) and separately for sets, look-aside fills
// included (set_lat_us), and gets (get_lat_us).
//
// Threads: --threads event loops, each owning its connections outright (nothing is shared but
// atomic op and key counters and the read-only Zipf table); the main thread only starts, times
// and joins them.
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "histogram.h"
#include "workload.h"

namespace rc::loadgen {
namespace {

std::int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

timeval ToTimeval(std::int64_t ns) {
  if (ns < 0) ns = 0;
  return timeval{.tv_sec = static_cast<time_t>(ns / 1000000000),
                 .tv_usec = static_cast<suseconds_t>((ns % 1000000000) / 1000)};
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "rc-loadgen: %s\n", message.c_str());
  std::exit(2);
}

struct Config {
  std::string host = "127.0.0.1";
  std::string port = "11211";
  Protocol protocol = Protocol::kText;
  unsigned conns = 50;
  unsigned threads = 1;
  unsigned pipeline = 1;
  bool batch = false;    // pipeline in waves: send `pipeline`, wait for every reply
  bool spin = false;     // open loop: poll between due times instead of a precise timer
  double rate = 0;       // ops/s over all connections; 0 = closed loop
  double pace = 0;       // ops/s per connection, each 1/pace s after the last reply; 0 = off
  double duration = 10;  // seconds measured (after warmup); 0 = no time bound
  double warmup = 0;
  std::uint64_t ops = 0;  // requests to send after preload; 0 = no count bound
  ValueSizes value_sizes{32};
  unsigned set_ratio = 1;
  unsigned get_ratio = 10;
  unsigned multiget = 1;
  Distribution dist = Distribution::kUniform;
  double zipf_theta = 0.99;
  std::uint64_t seed = 1;
  KeySpace keys;
  bool preload = false;
  bool lookaside = false;
  bool quiet = false;
  int server_pid = 0;
  std::string label;
};

// One request in flight on a connection, oldest first.
struct Pending {
  Kind kind;
  bool fill;  // a look-aside set after a miss
  std::uint16_t nkeys;
  std::uint64_t key;   // single-key requests: the key id (for --lookaside)
  std::int64_t stamp;  // open loop: intended send time; closed loop and paced: send time
};

struct Counters {
  std::uint64_t ops = 0, gets = 0, sets = 0, fills = 0, get_keys = 0, hits = 0, errors = 0;
  std::uint64_t late = 0;  // open loop and paced: requests sent more than 1 ms after their time
  std::int64_t max_lag_ns = 0;
  std::int64_t last_done = 0;  // time of the last counted completion
  Histogram latency;
  Histogram set_latency;  // sets and fills
  Histogram get_latency;  // gets and multi-gets

  void Merge(const Counters& o) {
    ops += o.ops;
    gets += o.gets;
    sets += o.sets;
    fills += o.fills;
    get_keys += o.get_keys;
    hits += o.hits;
    errors += o.errors;
    late += o.late;
    max_lag_ns = std::max(max_lag_ns, o.max_lag_ns);
    last_done = std::max(last_done, o.last_done);
    latency.Merge(o.latency);
    set_latency.Merge(o.set_latency);
    get_latency.Merge(o.get_latency);
  }
};

// Every value size drawn (preload, warm-up and measured sets alike): the check that
// --value-sizes sends what it says.
struct SizeTally {
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  std::size_t least = ~std::size_t{0};
  std::size_t most = 0;

  void Add(std::size_t size) {
    ++count;
    bytes += size;
    least = std::min(least, size);
    most = std::max(most, size);
  }
  void Merge(const SizeTally& o) {
    count += o.count;
    bytes += o.bytes;
    least = std::min(least, o.least);
    most = std::max(most, o.most);
  }
  double mean() const { return count == 0 ? 0 : static_cast<double>(bytes) / count; }
};

// State shared by all workers: read-only after start, except the atomics.
struct Shared {
  const Config* config = nullptr;
  std::unique_ptr<ZipfTable> zipf;
  std::atomic<std::uint64_t> preload_next{0};
  std::atomic<std::uint64_t> ops_claimed{0};
  std::atomic<std::uint64_t> sequence{0};
  std::int64_t window_start = 0;  // completions before this are warmup
  std::int64_t deadline = 0;      // 0: none
};

class Worker;

// Thread-safety: none; owned by one Worker, used on its thread only.
class Conn {
 public:
  // Value sizes come from a stream of their own (size_rng_), so the keys a seed chooses do not
  // depend on --value-sizes.
  Conn(Worker* worker, int fd, std::uint64_t seed)
      : worker_(worker), fd_(fd), rng_(seed), size_rng_(seed ^ 0x5A17E5A17E5A17E5ull) {
    in_.resize(64 << 10);
  }
  ~Conn() {
    if (rev_ != nullptr) event_free(rev_);
    if (wev_ != nullptr) event_free(wev_);
    if (pace_timer_ != nullptr) event_free(pace_timer_);
    close(fd_);
  }
  // Registers the socket's events, and with `paced` the connection's pacing timer.
  void Open(event_base* base, bool paced);
  // Paced mode: the next request goes out `delay_ns` from now.
  void SchedulePaced(std::int64_t now, std::int64_t delay_ns);

  Worker* worker_;
  int fd_;
  Rng rng_;
  Rng size_rng_;
  event* rev_ = nullptr;
  event* wev_ = nullptr;
  event* pace_timer_ = nullptr;  // paced mode only
  std::int64_t pace_due_ = 0;    // paced mode: when pace_timer_ should fire
  std::string out_;
  std::size_t out_off_ = 0;
  std::vector<char> in_;
  std::size_t head_ = 0, tail_ = 0;
  std::deque<Pending> pending_;
  std::deque<std::uint64_t> fills_;  // closed loop: keys to set before new requests
  bool dirty_ = false;               // has unsent output queued this round
};

class Worker {
 public:
  Worker(Shared* shared, unsigned index)
      : shared_(shared),
        config_(*shared->config),
        encoder_(config_.protocol, config_.keys, config_.value_sizes.max()),
        index_(index) {
    event_config* cfg = event_config_new();
    if ((config_.rate > 0 && !config_.spin) || config_.pace > 0) {
      event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    }
    base_ = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (base_ == nullptr) Die("event_base_new failed");
    keys_.resize(config_.multiget);
  }
  ~Worker() {
    conns_.clear();
    for (event* ev : timers_) event_free(ev);
    event_base_free(base_);
  }

  void Adopt(int fd) {
    const std::uint64_t seed =
        config_.seed * 0x100000001B3ull + index_ * 0x10001ull + conns_.size() + 1;
    conns_.push_back(std::make_unique<Conn>(this, fd, seed));
    conns_.back()->Open(base_, config_.pace > 0);
  }

  void RunPreload() {
    preloading_ = true;
    for (auto& c : conns_) RefillPreload(*c);
    FlushDirty();
    if (AllIdle()) return;
    event_base_dispatch(base_);
    preloading_ = false;
  }

  void RunLoad() {
    stopping_ = false;
    const std::int64_t now = NowNs();
    if (shared_->deadline != 0) {
      AddTimer(shared_->deadline - now, &Worker::OnDeadline);
    }
    if (config_.rate > 0) {
      interval_ns_ = 1e9 * config_.threads / config_.rate;
      // Threads start their schedules a fraction of an interval apart, so they do not send in
      // lockstep.
      next_due_ = static_cast<double>(now) + interval_ns_ * index_ / config_.threads;
      RunOpenLoop();
      return;
    }
    if (config_.pace > 0) {
      StartPaced(now);
      if (!done_) event_base_dispatch(base_);
      return;
    }
    for (auto& c : conns_) RefillClosed(*c, now);
    FlushDirty();
    if (!done_) event_base_dispatch(base_);
  }

  const Counters& counters() const { return counters_; }
  const SizeTally& sizes() const { return sizes_; }
  std::uint64_t preload_errors() const { return preload_errors_; }
  bool undrained() const { return undrained_; }

  // Called from Conn's event callbacks.
  void OnReadable(Conn& c);
  void OnWritable(Conn& c) { Write(c); }
  void OnPaceTimer(Conn& c);

 private:
  using TimerFn = void (Worker::*)();
  struct TimerArg {
    Worker* worker;
    TimerFn fn;
  };

  // A timer that calls `fn` after `delay_ns`; with fn == nullptr and delay_ns < 0, one that does
  // nothing and is not armed yet (it only wakes the loop).
  event* AddTimer(std::int64_t delay_ns, TimerFn fn) {
    auto* arg = new TimerArg{this, fn};
    timer_args_.emplace_back(arg);
    event* ev = evtimer_new(
        base_,
        [](evutil_socket_t, short, void* p) noexcept {
          auto* a = static_cast<TimerArg*>(p);
          if (a->fn != nullptr) (a->worker->*(a->fn))();
        },
        arg);
    timers_.push_back(ev);
    if (delay_ns >= 0) {
      const timeval tv = ToTimeval(delay_ns);
      evtimer_add(ev, &tv);
    }
    return ev;
  }

  bool ClaimOp() {
    if (config_.ops == 0) return true;
    return shared_->ops_claimed.fetch_add(1, std::memory_order_relaxed) < config_.ops;
  }

  std::uint64_t PickKey(Conn& c) {
    switch (config_.dist) {
      case Distribution::kUniform:
        return c.rng_.Below(config_.keys.keys);
      case Distribution::kZipf:
        return shared_->zipf->Draw(c.rng_);
      case Distribution::kSequential:
        return shared_->sequence.fetch_add(1, std::memory_order_relaxed) % config_.keys.keys;
    }
    return 0;
  }

  void SendSet(Conn& c, std::uint64_t key, bool fill, std::int64_t stamp) {
    const std::size_t size = config_.value_sizes.Draw(c.size_rng_);
    sizes_.Add(size);
    encoder_.Set(key, size, &c.out_);
    c.pending_.push_back(Pending{Kind::kSet, fill, 1, key, stamp});
    c.dirty_ = true;
  }

  // One new request of the workload's mix.
  void Generate(Conn& c, std::int64_t stamp) {
    const unsigned total = config_.set_ratio + config_.get_ratio;
    const bool is_set = config_.get_ratio == 0 ||
                        (config_.set_ratio > 0 && c.rng_.Below(total) < config_.set_ratio);
    if (is_set) {
      SendSet(c, PickKey(c), false, stamp);
      return;
    }
    for (unsigned i = 0; i < config_.multiget; ++i) keys_[i] = PickKey(c);
    encoder_.Get(keys_.data(), config_.multiget, &c.out_);
    c.pending_.push_back(Pending{config_.multiget == 1 ? Kind::kGet : Kind::kMultiGet, false,
                                 static_cast<std::uint16_t>(config_.multiget), keys_[0], stamp});
    c.dirty_ = true;
  }

  void RefillPreload(Conn& c) {
    constexpr std::size_t kDepth = 64;
    while (c.pending_.size() < kDepth) {
      const std::uint64_t key = shared_->preload_next.fetch_add(1, std::memory_order_relaxed);
      if (key >= config_.keys.keys) break;
      SendSet(c, key, false, 0);
    }
  }

  void RefillClosed(Conn& c, std::int64_t now) {
    if (config_.batch && !c.pending_.empty()) return;
    while (!stopping_ && c.pending_.size() < config_.pipeline) {
      if (!c.fills_.empty()) {
        SendSet(c, c.fills_.front(), true, now);
        c.fills_.pop_front();
        continue;
      }
      if (!ClaimOp()) {
        stopping_ = true;
        break;
      }
      Generate(c, now);
    }
  }

  // The open loop: send what is due, then poll for replies, or sleep when nothing is due for a
  // while (see the file comment).
  void RunOpenLoop() {
    constexpr std::int64_t kSpinBelowNs = 2000000;
    event* wake = AddTimer(-1, nullptr);
    while (!done_) {
      if (!stopping_) SendDue();
      if (done_) break;
      std::int64_t gap =
          stopping_ ? std::int64_t{50000000} : static_cast<std::int64_t>(next_due_) - NowNs();
      if (gap <= 0 || (config_.spin && gap <= kSpinBelowNs)) {
        event_base_loop(base_, EVLOOP_NONBLOCK);
        continue;
      }
      if (config_.spin) gap -= kSpinBelowNs / 2;  // wake a little early, then spin
      const timeval tv = ToTimeval(std::min<std::int64_t>(gap, 50000000));
      evtimer_add(wake, &tv);
      event_base_loop(base_, EVLOOP_ONCE);
      evtimer_del(wake);
    }
  }

  // Arms every connection's first paced request. Connection i of all --conns (they are dealt to
  // threads round-robin) starts i/conns of an interval from now, so the connections of all
  // threads together send evenly spread over each interval rather than in one burst.
  void StartPaced(std::int64_t now) {
    interval_ns_ = 1e9 / config_.pace;
    for (std::size_t j = 0; j < conns_.size(); ++j) {
      const double global_index = static_cast<double>(j * config_.threads + index_);
      conns_[j]->SchedulePaced(
          now, static_cast<std::int64_t>(interval_ns_ * global_index / config_.conns));
    }
  }

  void SendDue() {
    const std::int64_t now = NowNs();
    while (!stopping_ && next_due_ <= static_cast<double>(now)) {
      if (!ClaimOp()) {
        stopping_ = true;
        break;
      }
      const auto due = static_cast<std::int64_t>(next_due_);
      const std::int64_t lag = now - due;
      if (lag > 1000000) ++counters_.late;
      counters_.max_lag_ns = std::max(counters_.max_lag_ns, lag);
      Generate(*conns_[next_conn_], due);
      next_conn_ = (next_conn_ + 1) % conns_.size();
      next_due_ += interval_ns_;
    }
    FlushDirty();
    if (stopping_) MaybeFinish();
  }

  void OnDeadline() {
    stopping_ = true;
    AddTimer(2000000000, &Worker::OnDrainTimeout);
    MaybeFinish();
  }

  void OnDrainTimeout() {
    undrained_ = !AllIdle();
    Finish();
  }

  void Finish() {
    done_ = true;
    event_base_loopbreak(base_);
  }

  bool AllIdle() const {
    for (const auto& c : conns_) {
      if (!c->pending_.empty()) return false;
    }
    return true;
  }

  void MaybeFinish() {
    if (stopping_ && AllIdle()) Finish();
  }

  void FlushDirty() {
    for (auto& c : conns_) {
      if (c->dirty_) Write(*c);
    }
  }

  void Write(Conn& c);
  void Complete(Conn& c, const Pending& p, const Reply& reply, std::int64_t now);

  Shared* shared_;
  const Config& config_;
  Encoder encoder_;
  unsigned index_;
  event_base* base_ = nullptr;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<event*> timers_;
  std::vector<std::unique_ptr<TimerArg>> timer_args_;
  std::vector<std::uint64_t> keys_;  // scratch for a multi-get's keys
  bool preloading_ = false;
  bool stopping_ = false;
  bool done_ = false;
  bool undrained_ = false;
  double interval_ns_ = 0;
  double next_due_ = 0;
  std::size_t next_conn_ = 0;
  std::uint64_t preload_errors_ = 0;
  Counters counters_;
  SizeTally sizes_;
};

void Conn::Open(event_base* base, bool paced) {
  rev_ = event_new(
      base, fd_, EV_READ | EV_PERSIST,
      [](evutil_socket_t, short, void* p) noexcept {
        auto* c = static_cast<Conn*>(p);
        c->worker_->OnReadable(*c);
      },
      this);
  wev_ = event_new(
      base, fd_, EV_WRITE,
      [](evutil_socket_t, short, void* p) noexcept {
        auto* c = static_cast<Conn*>(p);
        c->worker_->OnWritable(*c);
      },
      this);
  event_add(rev_, nullptr);
  if (paced) {
    pace_timer_ = evtimer_new(
        base,
        [](evutil_socket_t, short, void* p) noexcept {
          auto* c = static_cast<Conn*>(p);
          c->worker_->OnPaceTimer(*c);
        },
        this);
  }
}

void Conn::SchedulePaced(std::int64_t now, std::int64_t delay_ns) {
  pace_due_ = now + delay_ns;
  const timeval tv = ToTimeval(delay_ns);
  evtimer_add(pace_timer_, &tv);
}

void Worker::Write(Conn& c) {
  c.dirty_ = false;
  while (c.out_off_ < c.out_.size()) {
    const ssize_t n = write(c.fd_, c.out_.data() + c.out_off_, c.out_.size() - c.out_off_);
    if (n > 0) {
      c.out_off_ += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      event_add(c.wev_, nullptr);
      return;
    }
    Die(std::string("write: ") + std::strerror(errno));
  }
  c.out_.clear();
  c.out_off_ = 0;
}

void Worker::OnReadable(Conn& c) {
  for (int reads = 0; reads < 8; ++reads) {
    if (c.tail_ == c.in_.size()) {
      if (c.head_ > 0) {
        std::memmove(c.in_.data(), c.in_.data() + c.head_, c.tail_ - c.head_);
        c.tail_ -= c.head_;
        c.head_ = 0;
      } else {
        c.in_.resize(c.in_.size() * 2);
      }
    }
    const std::size_t room = c.in_.size() - c.tail_;
    const ssize_t n = read(c.fd_, c.in_.data() + c.tail_, room);
    if (n > 0) {
      c.tail_ += static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < room) break;
      continue;
    }
    if (n == 0) Die("the server closed a connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    Die(std::string("read: ") + std::strerror(errno));
  }

  const std::int64_t now = NowNs();
  while (!c.pending_.empty()) {
    Reply reply;
    bool fatal = false;
    const Pending& p = c.pending_.front();
    std::string_view in(c.in_.data() + c.head_, c.tail_ - c.head_);
    if (!ParseReply(config_.protocol, p.kind, in, &reply, &fatal)) {
      if (fatal) Die("unparseable reply from the server");
      break;
    }
    c.head_ += reply.consumed;
    const Pending done = p;
    c.pending_.pop_front();
    Complete(c, done, reply, now);
  }
  if (c.head_ == c.tail_) c.head_ = c.tail_ = 0;

  if (preloading_) {
    RefillPreload(c);
    if (c.dirty_) Write(c);
    if (AllIdle()) event_base_loopbreak(base_);
    return;
  }
  if (config_.rate > 0) {
    while (!stopping_ && !c.fills_.empty()) {
      SendSet(c, c.fills_.front(), true, now);
      c.fills_.pop_front();
    }
  } else if (config_.pace > 0) {
    if (!stopping_ && c.pending_.empty()) {
      c.SchedulePaced(now, static_cast<std::int64_t>(interval_ns_));
    }
  } else {
    RefillClosed(c, now);
  }
  if (c.dirty_) Write(c);
  MaybeFinish();
}

// A paced connection's turn: one request (a look-aside fill if one is owed), stamped now.
void Worker::OnPaceTimer(Conn& c) {
  if (stopping_) return;
  const std::int64_t now = NowNs();
  const std::int64_t lag = now - c.pace_due_;
  if (lag > 1000000) ++counters_.late;
  counters_.max_lag_ns = std::max(counters_.max_lag_ns, lag);
  if (!c.fills_.empty()) {
    SendSet(c, c.fills_.front(), true, now);
    c.fills_.pop_front();
  } else if (ClaimOp()) {
    Generate(c, now);
  } else {
    stopping_ = true;
    MaybeFinish();
    return;
  }
  Write(c);
}

void Worker::Complete(Conn& c, const Pending& p, const Reply& reply, std::int64_t now) {
  if (preloading_) {
    preload_errors_ += reply.error;
    return;
  }
  if (config_.lookaside && p.kind == Kind::kGet && reply.hits == 0 && !reply.error) {
    c.fills_.push_back(p.key);
  }
  const bool in_window =
      p.stamp >= shared_->window_start && (shared_->deadline == 0 || now <= shared_->deadline);
  if (!in_window) return;
  Counters& k = counters_;
  ++k.ops;
  k.errors += reply.error;
  k.last_done = now;
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now - p.stamp));
  k.latency.Record(ns);
  if (p.kind == Kind::kSet) {
    k.set_latency.Record(ns);
    ++(p.fill ? k.fills : k.sets);
  } else {
    k.get_latency.Record(ns);
    ++k.gets;
    k.get_keys += p.nkeys;
    k.hits += reply.hits;
  }
}

// -- set-up --------------------------------------------------------------------------------------

int Connect(const Config& config) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(config.host.c_str(), config.port.c_str(), &hints, &res); rc != 0) {
    Die("cannot resolve " + config.host + ": " + gai_strerror(rc));
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    Die("cannot connect to " + config.host + ":" + config.port + ": " + std::strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Every connection is a descriptor, and paced runs open hundreds. Raises the soft limit to
// `conns` plus some room, and the hard one too where allowed (root); dies with a clear message
// when neither is enough, rather than on an EMFILE halfway through connecting.
void RaiseFileLimit(unsigned conns) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = static_cast<rlim_t>(conns) + 64;
  if (rl.rlim_cur >= want) return;
  rlimit raised{.rlim_cur = want, .rlim_max = std::max(want, rl.rlim_max)};
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  raised = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
  if (rl.rlim_max >= want && setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  Die("--conns " + std::to_string(conns) + " needs " + std::to_string(want) +
      " open files; the limit is " + std::to_string(rl.rlim_max) + " (ulimit -n)");
}

// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15); < 0 if unreadable.
double ProcessCpuSeconds(int pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  char buf[1024];
  const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name (field 2) may hold spaces; fields after it start past the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr) return -1;
  unsigned long utime = 0, stime = 0;
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) !=
      2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void Usage(FILE* out) {
  std::fputs(
      "usage: rc-loadgen [options]\n"
      "  -s, --server HOST:PORT   server (default 127.0.0.1:11211)\n"
      "  -P, --protocol text|binary\n"
      "  -c, --conns N            connections (default 50)\n"
      "  -T, --threads N          event-loop threads (default 1)\n"
      "  -d, --pipeline N         closed loop: requests in flight per connection (default 1)\n"
      "  -b, --batch              pipeline in waves: send N, wait for all N replies, repeat\n"
      "                           (default: a sliding window, a new request per reply)\n"
      "  -r, --rate OPS           open loop at this many requests/s in total (latency from the\n"
      "                           intended send time); default: closed loop\n"
      "      --pace OPS           paced: each connection sends one request 1/OPS s after the\n"
      "                           last reply (at most OPS requests/s per connection; latency\n"
      "                           from the send)\n"
      "      --spin               open loop: poll instead of sleeping between requests (see\n"
      "                           the file comment: better on a quiet machine only)\n"
      "  -t, --duration SEC       measured seconds (default 10; 0 = until --ops)\n"
      "  -w, --warmup SEC         run this long first without counting (default 0)\n"
      "  -n, --ops N              stop after N requests (default: no bound)\n"
      "  -v, --value-size BYTES   every value this long (default 32)\n"
      "      --value-sizes SPEC   a size drawn per set, seeded (--seed) and in a stream of its\n"
      "                           own, so the keys do not change with SPEC:\n"
      "                             N or fixed:N          the same as -v N\n"
      "                             uniform:MIN:MAX       uniform over [MIN, MAX]\n"
      "                             pareto:MIN:MAX:ALPHA  bounded Pareto on [MIN, MAX], heavy-\n"
      "                                                   tailed: pareto:100:102400:1 has a\n"
      "                                                   median of 200 B and a mean of 694 B\n"
      "                           sizes up to 1048576 (memcached's item limit, which the key and\n"
      "                           item header count against); the JSON line has the mean drawn\n"
      "                           (value_mean_drawn) next to the exact mean (value_mean)\n"
      "  -R, --ratio SET:GET      (default 1:10; 1:0 = sets only, 0:1 = gets only)\n"
      "  -m, --multiget N         keys per get (default 1)\n"
      "  -k, --keys N             key space size (default 100000)\n"
      "      --key-offset N       first key id (default 0)\n"
      "      --key-len N          bytes per key (default 16)\n"
      "      --key-prefix S       (default \"key:\")\n"
      "  -D, --dist uniform|zipf[:THETA]|seq   key choice (default uniform; zipf = 0.99)\n"
      "  -S, --seed N             (default 1)\n"
      "  -p, --preload            set every key once before the run\n"
      "      --preload-only       only that, then exit\n"
      "  -L, --lookaside          set a key after its get missed\n"
      "      --server-pid PID     report the server's CPU time over the measured window\n"
      "      --label S            copied into the JSON line\n"
      "  -q, --quiet              no human summary on stderr\n",
      out);
}

std::uint64_t ParseCount(const char* arg, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(arg, &end);
  double scale = 1;
  if (end != nullptr && (*end == 'k' || *end == 'K'))
    scale = 1e3, ++end;
  else if (end != nullptr && (*end == 'm' || *end == 'M'))
    scale = 1e6, ++end;
  if (end == arg || *end != '\0' || v < 0) Die(std::string("bad ") + what + ": " + arg);
  return static_cast<std::uint64_t>(v * scale + 0.5);
}

Config ParseArgs(int argc, char** argv, bool* preload_only) {
  enum {
    kKeyOffset = 1000,
    kKeyLen,
    kKeyPrefix,
    kPreloadOnly,
    kServerPid,
    kLabel,
    kSpin,
    kPace,
    kValueSizes
  };
  static const option kOptions[] = {{"server", required_argument, nullptr, 's'},
                                    {"protocol", required_argument, nullptr, 'P'},
                                    {"conns", required_argument, nullptr, 'c'},
                                    {"threads", required_argument, nullptr, 'T'},
                                    {"pipeline", required_argument, nullptr, 'd'},
                                    {"rate", required_argument, nullptr, 'r'},
                                    {"batch", no_argument, nullptr, 'b'},
                                    {"spin", no_argument, nullptr, kSpin},
                                    {"pace", required_argument, nullptr, kPace},
                                    {"duration", required_argument, nullptr, 't'},
                                    {"warmup", required_argument, nullptr, 'w'},
                                    {"ops", required_argument, nullptr, 'n'},
                                    {"value-size", required_argument, nullptr, 'v'},
                                    {"value-sizes", required_argument, nullptr, kValueSizes},
                                    {"ratio", required_argument, nullptr, 'R'},
                                    {"multiget", required_argument, nullptr, 'm'},
                                    {"keys", required_argument, nullptr, 'k'},
                                    {"key-offset", required_argument, nullptr, kKeyOffset},
                                    {"key-len", required_argument, nullptr, kKeyLen},
                                    {"key-prefix", required_argument, nullptr, kKeyPrefix},
                                    {"dist", required_argument, nullptr, 'D'},
                                    {"seed", required_argument, nullptr, 'S'},
                                    {"preload", no_argument, nullptr, 'p'},
                                    {"preload-only", no_argument, nullptr, kPreloadOnly},
                                    {"lookaside", no_argument, nullptr, 'L'},
                                    {"server-pid", required_argument, nullptr, kServerPid},
                                    {"label", required_argument, nullptr, kLabel},
                                    {"quiet", no_argument, nullptr, 'q'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  Config c;
  int opt;
  while ((opt = getopt_long(argc, argv, "s:P:c:T:d:br:t:w:n:v:R:m:k:D:S:pLqh", kOptions,
                            nullptr)) != -1) {
    switch (opt) {
      case 's': {
        std::string s = optarg;
        const std::size_t colon = s.rfind(':');
        if (colon == std::string::npos) Die("--server wants HOST:PORT");
        c.host = s.substr(0, colon);
        c.port = s.substr(colon + 1);
        if (c.host.size() > 2 && c.host.front() == '[')
          c.host = c.host.substr(1, c.host.size() - 2);
        break;
      }
      case 'P':
        if (std::strcmp(optarg, "text") == 0 || std::strcmp(optarg, "ascii") == 0) {
          c.protocol = Protocol::kText;
        } else if (std::strcmp(optarg, "binary") == 0) {
          c.protocol = Protocol::kBinary;
        } else {
          Die("--protocol is text or binary");
        }
        break;
      case 'c':
        c.conns = static_cast<unsigned>(ParseCount(optarg, "--conns"));
        break;
      case 'T':
        c.threads = static_cast<unsigned>(ParseCount(optarg, "--threads"));
        break;
      case 'd':
        c.pipeline = static_cast<unsigned>(ParseCount(optarg, "--pipeline"));
        break;
      case 'b':
        c.batch = true;
        break;
      case kSpin:
        c.spin = true;
        break;
      case 'r':
        c.rate = static_cast<double>(ParseCount(optarg, "--rate"));
        break;
      case kPace:
        c.pace = static_cast<double>(ParseCount(optarg, "--pace"));
        break;
      case 't':
        c.duration = std::strtod(optarg, nullptr);
        break;
      case 'w':
        c.warmup = std::strtod(optarg, nullptr);
        break;
      case 'n':
        c.ops = ParseCount(optarg, "--ops");
        break;
      case 'v':
        c.value_sizes = ValueSizes(ParseCount(optarg, "--value-size"));
        break;
      case kValueSizes:
        if (std::string e = ValueSizes::Parse(optarg, &c.value_sizes); !e.empty()) {
          Die("--value-sizes: " + e);
        }
        break;
      case 'R':
        if (std::sscanf(optarg, "%u:%u", &c.set_ratio, &c.get_ratio) != 2 ||
            c.set_ratio + c.get_ratio == 0) {
          Die("--ratio wants SET:GET, e.g. 1:10");
        }
        break;
      case 'm':
        c.multiget = static_cast<unsigned>(ParseCount(optarg, "--multiget"));
        break;
      case 'k':
        c.keys.keys = ParseCount(optarg, "--keys");
        break;
      case kKeyOffset:
        c.keys.key_offset = ParseCount(optarg, "--key-offset");
        break;
      case kKeyLen:
        c.keys.key_len = ParseCount(optarg, "--key-len");
        break;
      case kKeyPrefix:
        c.keys.prefix = optarg;
        break;
      case 'D':
        if (std::strcmp(optarg, "uniform") == 0) {
          c.dist = Distribution::kUniform;
        } else if (std::strcmp(optarg, "seq") == 0) {
          c.dist = Distribution::kSequential;
        } else if (std::strncmp(optarg, "zipf", 4) == 0) {
          c.dist = Distribution::kZipf;
          if (optarg[4] == ':') c.zipf_theta = std::strtod(optarg + 5, nullptr);
        } else {
          Die("--dist is uniform, zipf[:THETA] or seq");
        }
        break;
      case 'S':
        c.seed = ParseCount(optarg, "--seed");
        break;
      case 'p':
        c.preload = true;
        break;
      case kPreloadOnly:
        c.preload = true;
        *preload_only = true;
        break;
      case 'L':
        c.lookaside = true;
        break;
      case kServerPid:
        c.server_pid = static_cast<int>(ParseCount(optarg, "--server-pid"));
        break;
      case kLabel:
        c.label = optarg;
        break;
      case 'q':
        c.quiet = true;
        break;
      case 'h':
        Usage(stdout);
        std::exit(0);
      default:
        Usage(stderr);
        std::exit(2);
    }
  }
  if (optind != argc) Die(std::string("unexpected argument: ") + argv[optind]);
  if (c.conns == 0 || c.threads == 0 || c.pipeline == 0 || c.multiget == 0) {
    Die("--conns, --threads, --pipeline and --multiget must be at least 1");
  }
  if (c.threads > c.conns) c.threads = c.conns;
  if (c.pace > 0 && c.rate > 0) Die("--pace and --rate exclude each other");
  if (c.pace > 0 && (c.pipeline > 1 || c.batch)) {
    Die("--pace sends one request at a time: no --pipeline or --batch");
  }
  if (c.multiget > 4096) Die("--multiget above 4096");
  if (c.lookaside && c.multiget > 1) Die("--lookaside works with single-key gets only");
  if (c.duration <= 0 && c.ops == 0 && !*preload_only) Die("give --duration or --ops");
  if (std::string e = c.keys.Check(); !e.empty()) Die(e);
  return c;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out + "\"";
}

const char* DistName(Distribution d) {
  switch (d) {
    case Distribution::kUniform:
      return "uniform";
    case Distribution::kZipf:
      return "zipf";
    case Distribution::kSequential:
      return "seq";
  }
  return "?";
}

// "value_sizes":SPEC,"value_mean":exact mean,"values_drawn":N,"value_mean_drawn":mean of the N
// sizes drawn (all sets of the run, preload and warm-up included),"value_min_drawn",
// "value_max_drawn".
std::string SizesJson(const Config& c, const SizeTally& t) {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "\"value_sizes\":\"%s\",\"value_mean\":%.2f,\"values_drawn\":%llu,"
                "\"value_mean_drawn\":%.2f,\"value_min_drawn\":%zu,\"value_max_drawn\":%zu",
                c.value_sizes.Spec().c_str(), c.value_sizes.mean(),
                static_cast<unsigned long long>(t.count), t.mean(), t.count == 0 ? 0 : t.least,
                t.most);
  return buf;
}

// {"p50":..,"p90":..,"p99":..,"p999":..,"max":..} in microseconds.
std::string PercentilesJson(const Histogram& h) {
  auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
                us(h.Percentile(0.50)), us(h.Percentile(0.90)), us(h.Percentile(0.99)),
                us(h.Percentile(0.999)), us(h.max()));
  return buf;
}

// A fixed size in bytes, or the distribution's SPEC and mean.
std::string SizesText(const Config& c) {
  if (c.value_sizes.fixed()) return std::to_string(c.value_sizes.min()) + " B values";
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%s values (mean %.0f B)", c.value_sizes.Spec().c_str(),
                c.value_sizes.mean());
  return buf;
}

const char* ModeName(const Config& c) {
  if (c.rate > 0) return "open";
  return c.pace > 0 ? "paced" : "closed";
}

// The summary's description of the load beyond connections and pipeline.
std::string LoadShape(const Config& c) {
  if (c.rate > 0) return ", open loop at " + std::to_string(static_cast<long>(c.rate)) + "/s";
  if (c.pace > 0) {
    return ", paced at " + std::to_string(static_cast<long>(c.pace)) + "/s per connection";
  }
  return "";
}

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  bool preload_only = false;
  const Config config = ParseArgs(argc, argv, &preload_only);

  Shared shared;
  shared.config = &config;
  if (config.dist == Distribution::kZipf) {
    shared.zipf = std::make_unique<ZipfTable>(config.keys.keys, config.zipf_theta);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned t = 0; t < config.threads; ++t) {
    workers.push_back(std::make_unique<Worker>(&shared, t));
  }
  RaiseFileLimit(config.conns);
  for (unsigned i = 0; i < config.conns; ++i) workers[i % config.threads]->Adopt(Connect(config));

  auto run_all = [&](void (Worker::*fn)()) {
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([&w, fn] { ((*w).*fn)(); });
    for (auto& t : threads) t.join();
  };

  double preload_s = 0;
  std::uint64_t preload_errors = 0;
  if (config.preload) {
    const std::int64_t t0 = NowNs();
    run_all(&Worker::RunPreload);
    preload_s = static_cast<double>(NowNs() - t0) / 1e9;
    for (auto& w : workers) preload_errors += w->preload_errors();
    if (!config.quiet) {
      std::fprintf(stderr, "preloaded %llu keys, %s, in %.2f s (%llu errors)\n",
                   static_cast<unsigned long long>(config.keys.keys), SizesText(config).c_str(),
                   preload_s, static_cast<unsigned long long>(preload_errors));
    }
  }
  auto all_sizes = [&] {
    SizeTally t;
    for (auto& w : workers) t.Merge(w->sizes());
    return t;
  };
  if (preload_only) {
    std::printf(
        "{\"tool\":\"rc-loadgen\",\"preload_only\":true,\"keys\":%llu,\"preload_s\":%.3f,"
        "\"preload_errors\":%llu,%s}\n",
        static_cast<unsigned long long>(config.keys.keys), preload_s,
        static_cast<unsigned long long>(preload_errors), SizesJson(config, all_sizes()).c_str());
    return preload_errors == 0 ? 0 : 1;
  }

  const std::int64_t start = NowNs();
  shared.window_start = start + static_cast<std::int64_t>(config.warmup * 1e9);
  shared.deadline = config.duration > 0
                        ? shared.window_start + static_cast<std::int64_t>(config.duration * 1e9)
                        : 0;
  double server_cpu0 = -1, client_cpu0 = 0;
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([&w] { w->RunLoad(); });
  // Sample CPU times when the measured window opens.
  std::this_thread::sleep_for(
      std::chrono::nanoseconds(std::max<std::int64_t>(0, shared.window_start - NowNs())));
  if (config.server_pid > 0) server_cpu0 = ProcessCpuSeconds(config.server_pid);
  client_cpu0 = SelfCpuSeconds();
  for (auto& t : threads) t.join();
  const double server_cpu1 = config.server_pid > 0 ? ProcessCpuSeconds(config.server_pid) : -1;
  const double client_cpu = SelfCpuSeconds() - client_cpu0;

  Counters total;
  bool undrained = false;
  for (auto& w : workers) {
    total.Merge(w->counters());
    undrained |= w->undrained();
  }
  std::int64_t end = total.last_done;
  if (shared.deadline != 0 && (end == 0 || end > shared.deadline)) end = shared.deadline;
  if (shared.deadline != 0 && config.ops == 0) end = shared.deadline;
  const double window = std::max(1e-9, static_cast<double>(end - shared.window_start) / 1e9);
  const double ops_per_s = static_cast<double>(total.ops) / window;
  const double server_cpu = (server_cpu0 >= 0 && server_cpu1 >= 0) ? server_cpu1 - server_cpu0 : -1;
  const double hit_ratio =
      total.get_keys == 0 ? 0
                          : static_cast<double>(total.hits) / static_cast<double>(total.get_keys);
  auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
  const Histogram& h = total.latency;
  const SizeTally sizes = all_sizes();
  // "value_size": the fixed size, or the distribution's mean rounded (value_sizes has the SPEC).
  const auto value_size = config.value_sizes.fixed()
                              ? config.value_sizes.min()
                              : static_cast<std::size_t>(config.value_sizes.mean() + 0.5);

  char ratio[32];
  std::snprintf(ratio, sizeof(ratio), "%u:%u", config.set_ratio, config.get_ratio);
  std::printf(
      "{\"tool\":\"rc-loadgen\",\"label\":%s,\"server\":%s,\"protocol\":\"%s\","
      "\"mode\":\"%s\",\"conns\":%u,\"threads\":%u,\"pipeline\":%u,\"batch\":%s,\"rate\":%.0f,"
      "\"pace\":%.0f,"
      "\"value_size\":%zu,\"ratio\":\"%s\",\"multiget\":%u,\"dist\":\"%s\",\"zipf_theta\":%.3f,"
      "\"keys\":%llu,\"key_offset\":%llu,\"key_len\":%zu,\"seed\":%llu,\"lookaside\":%s,"
      "\"preload_s\":%.3f,\"duration_s\":%.4f,\"ops\":%llu,\"ops_per_s\":%.1f,"
      "\"keys_per_s\":%.1f,\"gets\":%llu,\"sets\":%llu,\"fills\":%llu,\"get_keys\":%llu,"
      "\"hits\":%llu,\"hit_ratio\":%.6f,\"errors\":%llu,\"late\":%llu,\"max_lag_us\":%.1f,"
      "\"undrained\":%s,\"lat_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,"
      "\"max\":%.1f,\"mean\":%.1f},\"set_lat_us\":%s,\"get_lat_us\":%s,%s,"
      "\"client_cpu_s\":%.3f,\"server_cpu_s\":%.3f,\"ops_per_server_cpu_s\":%.1f}\n",
      JsonString(config.label).c_str(), JsonString(config.host + ":" + config.port).c_str(),
      config.protocol == Protocol::kText ? "text" : "binary", ModeName(config), config.conns,
      config.threads, config.pipeline, config.batch ? "true" : "false", config.rate, config.pace,
      value_size, ratio, config.multiget, DistName(config.dist), config.zipf_theta,
      static_cast<unsigned long long>(config.keys.keys),
      static_cast<unsigned long long>(config.keys.key_offset), config.keys.key_len,
      static_cast<unsigned long long>(config.seed), config.lookaside ? "true" : "false", preload_s,
      window, static_cast<unsigned long long>(total.ops), ops_per_s,
      static_cast<double>(total.gets * config.multiget + total.sets + total.fills) / window,
      static_cast<unsigned long long>(total.gets), static_cast<unsigned long long>(total.sets),
      static_cast<unsigned long long>(total.fills), static_cast<unsigned long long>(total.get_keys),
      static_cast<unsigned long long>(total.hits), hit_ratio,
      static_cast<unsigned long long>(total.errors), static_cast<unsigned long long>(total.late),
      static_cast<double>(total.max_lag_ns) / 1e3, undrained ? "true" : "false",
      us(h.Percentile(0.50)), us(h.Percentile(0.90)), us(h.Percentile(0.99)),
      us(h.Percentile(0.999)), us(h.max()), h.mean() / 1e3,
      PercentilesJson(total.set_latency).c_str(), PercentilesJson(total.get_latency).c_str(),
      SizesJson(config, sizes).c_str(), client_cpu, server_cpu,
      server_cpu > 0 ? static_cast<double>(total.ops) / server_cpu : 0.0);
  std::fflush(stdout);

  if (!config.quiet) {
    std::fprintf(
        stderr,
        "%s %s, %u conns x pipeline %u%s, %s, set:get %s, multiget %u, %s keys\n"
        "  %.2f s: %llu requests, %.0f req/s (%llu gets, %llu sets, %llu fills), "
        "hit ratio %.4f, %llu errors\n"
        "  latency us: p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n"
        "  client CPU %.2f s (%.0f%% of one core)",
        config.host.c_str(), config.protocol == Protocol::kText ? "text" : "binary", config.conns,
        config.pipeline, LoadShape(config).c_str(), SizesText(config).c_str(), ratio,
        config.multiget, DistName(config.dist), window, static_cast<unsigned long long>(total.ops),
        ops_per_s, static_cast<unsigned long long>(total.gets),
        static_cast<unsigned long long>(total.sets), static_cast<unsigned long long>(total.fills),
        hit_ratio, static_cast<unsigned long long>(total.errors), us(h.Percentile(0.50)),
        us(h.Percentile(0.90)), us(h.Percentile(0.99)), us(h.Percentile(0.999)), us(h.max()),
        client_cpu, 100 * client_cpu / window);
    if (server_cpu >= 0) {
      std::fprintf(stderr, "; server CPU %.2f s, %.0f req per server CPU-second", server_cpu,
                   server_cpu > 0 ? static_cast<double>(total.ops) / server_cpu : 0.0);
    }
    std::fputc('\n', stderr);
    if (!config.value_sizes.fixed()) {
      std::fprintf(stderr, "  value sizes drawn: %llu, mean %.1f B (expected %.1f), %zu..%zu B\n",
                   static_cast<unsigned long long>(sizes.count), sizes.mean(),
                   config.value_sizes.mean(), sizes.count == 0 ? 0 : sizes.least, sizes.most);
    }
    if (total.late > 0) {
      std::fprintf(stderr,
                   "  warning: %llu requests went out more than 1 ms late (max %.1f ms): "
                   "this client could not keep the rate\n",
                   static_cast<unsigned long long>(total.late),
                   static_cast<double>(total.max_lag_ns) / 1e6);
    }
    if (undrained) std::fprintf(stderr, "  warning: replies still missing 2 s after the end\n");
  }
  return 0;
}

}  // namespace
}  // namespace rc::loadgen

int main(int argc, char** argv) { return rc::loadgen::Main(argc, argv); }
