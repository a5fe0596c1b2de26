// origin/pg_backend.cc -- a PostgreSQL origin through libpq's asynchronous API. With pg_lib.h
// (libpq, loaded at run time) the only code that sees <libpq-fe.h> (STYLE.md section 1);
// pg_text.cc decodes column text.
//
// A small pool of connections, each with the query prepared once ("ringcached_fetch"), each
// running one query at a time: PQsendQueryPrepared with the key as $1 (binary, so any key bytes
// pass unchanged), then libevent watches the socket and PQconsumeInput / PQgetResult collect the
// answer. A connection's life:
//
//   connecting --PQconnectPoll OK--> preparing --prepared--> ready <--> busy
//        \__________________________________\______________________\_____\__ broken: closed
//
// Requests wait in our queue for a ready connection; one whose deadline passes there is dropped
// (kTimeout) without being sent. The pool grows on demand up to --origin-connections; a broken
// connection is closed and replaced when needed. When no connection can be opened (the server is
// down), waiting requests fail at once with the connect error, and new connects wait 100 ms, so a
// dead origin costs each fetch microseconds until the breaker opens.
//
// Every connection sets statement_timeout to just over --origin-timeout-ms (BackendTimeoutMs), so
// the server itself abandons a query we stopped waiting for. A once-a-second tick drops queued
// requests past their deadline and connections stuck connecting or busy for much longer than the
// timeout (a server that stopped answering without closing its sockets).
//
// Limits: libpq resolves a host NAME synchronously inside PQconnectStartParams; use an IP address
// or a socket directory (as the tests do), or hostaddr=, to keep the origin thread from waiting on
// DNS when it reconnects. TODO(origin): resolve names at start-up into hostaddr (#6).
#include <event2/event.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <vector>

#include "origin/backend.h"
#include "origin/pg_lib.h"
#include "origin/pg_text.h"
#include "ringcached/base/check.h"
#include "ringcached/base/log.h"

namespace rc::origin {
namespace {

constexpr const char* kStatement = "ringcached_fetch";
constexpr auto kConnectBackoff = std::chrono::milliseconds(100);

// libpq's messages end with a newline (sometimes two lines); one line is enough for a log.
std::string OneLine(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\t', ' ');
  return s.empty() ? std::string("unknown error") : s;
}

// Connection parameters: ours first, then the URL, which libpq expands (expand_dbname) and which
// overrides ours wherever it says something else.
struct ConnParams {
  explicit ConnParams(const Options& options)
      : connect_timeout("5"),
        statement_timeout("-c statement_timeout=" + std::to_string(BackendTimeoutMs(options))),
        url(options.url) {
    keywords = {"connect_timeout", "application_name", "options", "dbname", nullptr};
    values = {connect_timeout.c_str(), "ringcached", statement_timeout.c_str(), url.c_str(),
              nullptr};
  }
  std::string connect_timeout, statement_timeout, url;
  std::vector<const char*> keywords, values;
};

class PgBackend final : public Backend {
 public:
  // `pq` is libpq (pg_lib.h), already loaded.
  PgBackend(event_base* base, const Options& options, const PgLib* pq)
      : pq_(pq), base_(base), options_(options), params_(options) {
    tick_ = event_new(base_, -1, EV_PERSIST, &PgBackend::OnTick, this);
    RC_CHECK(tick_ != nullptr);
    timeval one_second{1, 0};
    event_add(tick_, &one_second);
  }

  ~PgBackend() override {
    for (auto& c : conns_) Close(*c);
    event_free(tick_);
  }

  // Start-up: the first connection, made synchronously so that a bad URL, an unreachable server
  // or a query that does not prepare stops the server with a clear message.
  base::Status OpenFirst() {
    PGconn* pg = pq_->PQconnectdbParams(params_.keywords.data(), params_.values.data(), 1);
    if (pg == nullptr) return base::Status::Internal("libpq: out of memory");
    if (pq_->PQstatus(pg) != CONNECTION_OK) {
      std::string why = OneLine(pq_->PQerrorMessage(pg));
      pq_->PQfinish(pg);
      return base::Status::IoError("cannot connect: " + why);
    }
    base::Status checked = CheckQuery(pg);
    if (!checked.ok()) {
      pq_->PQfinish(pg);
      return checked;
    }
    auto conn = std::make_unique<Conn>();
    conn->self = this;
    conn->pg = pg;
    pq_->PQsetnonblocking(pg, 1);
    SetState(*conn, State::kReady);
    Watch(*conn, EV_READ);  // a ready connection still notices the server closing it
    conns_.push_back(std::move(conn));
    return base::Status::Ok();
  }

  void Fetch(std::string key, SteadyClock::time_point deadline, FetchDone done) override {
    queue_.push_back({std::move(key), deadline, std::move(done)});
    Pump();
  }

 private:
  enum class State : std::uint8_t { kConnecting, kPreparing, kReady, kBusy };

  struct Queued {
    std::string key;
    SteadyClock::time_point deadline;
    FetchDone done;
  };

  struct Conn {
    PgBackend* self = nullptr;
    PGconn* pg = nullptr;
    State state = State::kConnecting;
    SteadyClock::time_point since;  // when `state` began
    event* ev = nullptr;
    int ev_fd = -1;
    short ev_what = 0;
    // kBusy: the request it runs, and its result once a PGresult arrived.
    FetchDone done;
    bool have_result = false;
    Fetched result;
    std::string prepare_error;  // kPreparing: why the statement did not prepare
  };

  base::Status CheckQuery(PGconn* pg) {
    PGresult* r = pq_->PQprepare(pg, kStatement, options_.query.c_str(), 1, nullptr);
    const bool prepared = pq_->PQresultStatus(r) == PGRES_COMMAND_OK;
    std::string why = prepared ? "" : OneLine(pq_->PQresultErrorMessage(r));
    pq_->PQclear(r);
    if (!prepared) return base::Status::InvalidArgument("the query does not prepare: " + why);
    r = pq_->PQdescribePrepared(pg, kStatement);
    if (pq_->PQresultStatus(r) != PGRES_COMMAND_OK) {
      why = OneLine(pq_->PQresultErrorMessage(r));
      pq_->PQclear(r);
      return base::Status::InvalidArgument("cannot describe the query: " + why);
    }
    const int nparams = pq_->PQnparams(r);
    const int nfields = pq_->PQnfields(r);
    pq_->PQclear(r);
    if (nparams != 1) {
      return base::Status::InvalidArgument(
          "the query must take exactly one parameter, $1 (the key); it takes " +
          std::to_string(nparams));
    }
    if (nfields < 1) {
      return base::Status::InvalidArgument(
          "the query must return rows, with the value in the first column");
    }
    return base::Status::Ok();
  }

  void SetState(Conn& c, State state) {
    c.state = state;
    c.since = SteadyClock::now();
  }

  // Points the connection's event at its current socket and the directions wanted.
  void Watch(Conn& c, short what) {
    const int fd = pq_->PQsocket(c.pg);
    if (c.ev != nullptr && c.ev_fd == fd && c.ev_what == what) return;
    if (c.ev != nullptr) event_free(c.ev);
    c.ev = event_new(base_, fd, static_cast<short>(what | EV_PERSIST), &PgBackend::OnSocket, &c);
    RC_CHECK(c.ev != nullptr);
    event_add(c.ev, nullptr);
    c.ev_fd = fd;
    c.ev_what = what;
  }

  void Close(Conn& c) {
    if (c.ev != nullptr) event_free(c.ev);
    c.ev = nullptr;
    if (c.pg != nullptr) pq_->PQfinish(c.pg);
    c.pg = nullptr;
  }

  void StartConnect() {
    auto conn = std::make_unique<Conn>();
    conn->self = this;
    conn->pg = pq_->PQconnectStartParams(params_.keywords.data(), params_.values.data(), 1);
    if (conn->pg == nullptr || pq_->PQstatus(conn->pg) == CONNECTION_BAD) {
      last_error_ = conn->pg == nullptr ? std::string("libpq: out of memory")
                                        : OneLine(pq_->PQerrorMessage(conn->pg));
      Close(*conn);
      ConnectFailed();
      return;
    }
    SetState(*conn, State::kConnecting);
    Conn& c = *conn;
    conns_.push_back(std::move(conn));
    // libpq wants to be polled once the socket is writable (PQconnectStart's contract).
    Watch(c, EV_WRITE);
  }

  // No connection could be opened: requests that have no connection to wait for fail now.
  void ConnectFailed() {
    next_connect_ = SteadyClock::now() + kConnectBackoff;
    const bool usable = std::any_of(conns_.begin(), conns_.end(), [](const auto& c) {
      return c->state != State::kConnecting;
    });
    if (!usable) FailQueued();
  }

  void FailQueued() {
    std::deque<Queued> failed;
    failed.swap(queue_);
    for (Queued& q : failed) {
      q.done({.status = Fetched::Status::kError, .error = "postgresql origin: " + last_error_});
    }
  }

  // Ends a connection: its request (if any) fails with `why`; the pool refills on demand (every
  // entry point -- Fetch, a socket event, the tick -- ends with Pump()). `c` is gone afterwards.
  void Drop(Conn* c, const std::string& why) {
    base::Log(1, "origin: postgresql connection closed: %s", why.c_str());
    const bool was_connecting = c->state == State::kConnecting || c->state == State::kPreparing;
    FetchDone done = std::move(c->done);
    Close(*c);
    conns_.erase(std::find_if(conns_.begin(), conns_.end(),
                              [c](const auto& p) { return p.get() == c; }));
    if (done) done({.status = Fetched::Status::kError, .error = "postgresql origin: " + why});
    if (was_connecting) {
      last_error_ = why;
      ConnectFailed();
    }
  }

  // Hands queued requests to ready connections, and opens connections while requests wait.
  void Pump() {
    const auto now = SteadyClock::now();
    while (true) {
      while (!queue_.empty() && now >= queue_.front().deadline) {
        Expire(queue_.front());
        queue_.pop_front();
      }
      if (queue_.empty()) return;
      auto ready = std::find_if(conns_.begin(), conns_.end(),
                                [](const auto& c) { return c->state == State::kReady; });
      if (ready == conns_.end()) break;
      Queued q = std::move(queue_.front());
      queue_.pop_front();
      Send(**ready, std::move(q));  // may drop the connection: look again from the start
    }
    std::size_t connecting = 0;
    for (auto& c : conns_) {
      connecting += c->state == State::kConnecting || c->state == State::kPreparing;
    }
    while (queue_.size() > connecting &&
           conns_.size() < static_cast<std::size_t>(options_.connections) && now >= next_connect_) {
      const std::size_t before = conns_.size();
      StartConnect();
      if (conns_.size() == before) break;  // failed at once; ConnectFailed() handled the queue
      ++connecting;
    }
    // No connection at all, and the last connect failed less than kConnectBackoff ago: the
    // requests fail now rather than wait out their timeout for a connect that is not coming.
    if (conns_.empty() && !queue_.empty()) FailQueued();
  }

  static void Expire(Queued& q) {
    q.done({.status = Fetched::Status::kTimeout,
            .error = "timed out waiting for a postgresql connection"});
  }

  void Send(Conn& c, Queued q) {
    const char* values[1] = {q.key.data()};
    const int lengths[1] = {static_cast<int>(q.key.size())};
    const int formats[1] = {1};  // binary: the key's bytes as they are
    c.done = std::move(q.done);
    c.have_result = false;
    c.result = Fetched{};
    SetState(c, State::kBusy);
    if (pq_->PQsendQueryPrepared(c.pg, kStatement, 1, values, lengths, formats, 0) == 0) {
      Drop(&c, OneLine(pq_->PQerrorMessage(c.pg)));
      return;
    }
    FlushAndWatch(c);
  }

  // Sends what libpq buffered; watches for writability too while some is left. False if the
  // connection was dropped.
  bool FlushAndWatch(Conn& c) {
    const int r = pq_->PQflush(c.pg);
    if (r < 0) {
      Drop(&c, OneLine(pq_->PQerrorMessage(c.pg)));
      return false;
    }
    Watch(c, r == 1 ? EV_READ | EV_WRITE : EV_READ);
    return true;
  }

  static void OnSocket(int, short what, void* arg) noexcept {
    auto* c = static_cast<Conn*>(arg);
    PgBackend* self = c->self;
    self->Handle(c, what);  // may drop (delete) c
    self->Pump();
  }

  void Handle(Conn* c, short what) {
    if (c->state == State::kConnecting) {
      Connecting(c);
      return;
    }
    if ((what & EV_WRITE) && !FlushAndWatch(*c)) return;
    if (!(what & EV_READ)) return;
    if (pq_->PQconsumeInput(c->pg) == 0) {
      Drop(c, OneLine(pq_->PQerrorMessage(c->pg)));
      return;
    }
    if (c->state == State::kReady) {
      // Nothing was asked: a notice, or the server going away (then PQconsumeInput failed above
      // or the status says so).
      if (pq_->PQstatus(c->pg) == CONNECTION_BAD) Drop(c, "the server closed the connection");
      return;
    }
    while (!pq_->PQisBusy(c->pg)) {
      PGresult* r = pq_->PQgetResult(c->pg);
      if (r == nullptr) {
        CommandDone(c);
        return;
      }
      TakeResult(*c, r);
      pq_->PQclear(r);
    }
  }

  void Connecting(Conn* c) {
    switch (pq_->PQconnectPoll(c->pg)) {
      case PGRES_POLLING_READING:
        Watch(*c, EV_READ);
        return;
      case PGRES_POLLING_WRITING:
        Watch(*c, EV_WRITE);
        return;
      case PGRES_POLLING_OK:
        pq_->PQsetnonblocking(c->pg, 1);
        SetState(*c, State::kPreparing);
        c->prepare_error.clear();
        if (pq_->PQsendPrepare(c->pg, kStatement, options_.query.c_str(), 1, nullptr) == 0) {
          Drop(c, OneLine(pq_->PQerrorMessage(c->pg)));
          return;
        }
        FlushAndWatch(*c);
        return;
      default:
        Drop(c, OneLine(pq_->PQerrorMessage(c->pg)));
        return;
    }
  }

  void TakeResult(Conn& c, PGresult* r) {
    if (c.state == State::kPreparing) {
      if (pq_->PQresultStatus(r) != PGRES_COMMAND_OK) {
        c.prepare_error = OneLine(pq_->PQresultErrorMessage(r));
      }
      return;
    }
    if (c.have_result) return;  // one statement, one result; ignore anything after it
    c.have_result = true;
    if (pq_->PQresultStatus(r) != PGRES_TUPLES_OK) {
      // SQLSTATE class 22, "data exception" (a key that is not valid UTF-8, or that the query
      // cannot cast): this key cannot be in the origin, which is healthy. A miss, not an error,
      // so that odd keys from a client cannot open the breaker for everyone.
      const char* state = pq_->PQresultErrorField(r, PG_DIAG_SQLSTATE);
      if (state != nullptr && state[0] == '2' && state[1] == '2') {
        c.result = {.status = Fetched::Status::kMiss};
        return;
      }
      c.result = {.status = Fetched::Status::kError,
                  .error = "postgresql origin: " + OneLine(pq_->PQresultErrorMessage(r))};
      return;
    }
    c.result = DecodeRow(r);
  }

  // The first row of a fetch: the value in column 0, and "flags" / "ttl" columns if the query
  // returns them. No row, or a NULL value, is "no such key".
  Fetched DecodeRow(const PGresult* r) const {
    Fetched f;
    if (pq_->PQntuples(r) < 1 || pq_->PQgetisnull(r, 0, 0)) {
      f.status = Fetched::Status::kMiss;
      return f;
    }
    constexpr Oid kByteaOid = 17;
    std::string_view text(pq_->PQgetvalue(r, 0, 0),
                          static_cast<std::size_t>(pq_->PQgetlength(r, 0, 0)));
    if (pq_->PQftype(r, 0) == kByteaOid) {
      if (!DecodeByteaHex(text, &f.value.bytes)) {
        f.error = "postgresql origin: cannot decode the bytea value";
        return f;
      }
    } else {
      f.value.bytes.assign(text);
    }
    const int flags = pq_->PQfnumber(r, "flags");
    if (flags > 0 && !pq_->PQgetisnull(r, 0, flags) &&
        !ParseFlags(pq_->PQgetvalue(r, 0, flags), &f.value.flags)) {
      f.error = "postgresql origin: the flags column is not a number in 0..4294967295";
      return f;
    }
    const int ttl = pq_->PQfnumber(r, "ttl");
    if (ttl > 0 && !pq_->PQgetisnull(r, 0, ttl) &&
        !ParseTtl(pq_->PQgetvalue(r, 0, ttl), &f.value.ttl)) {
      f.error = "postgresql origin: the ttl column is not a whole number of seconds";
      return f;
    }
    f.status = Fetched::Status::kValue;
    return f;
  }

  // The statement's results are all in (PQgetResult returned null).
  void CommandDone(Conn* c) {
    if (c->state == State::kPreparing) {
      if (!c->prepare_error.empty()) {
        base::Log(0, "origin: postgresql: the query no longer prepares: %s",
                  c->prepare_error.c_str());
        Drop(c, "the query does not prepare: " + c->prepare_error);
        return;
      }
      SetState(*c, State::kReady);
      Watch(*c, EV_READ);
      return;
    }
    if (c->state != State::kBusy) return;
    FetchDone done = std::move(c->done);
    Fetched result = c->have_result
                         ? std::move(c->result)
                         : Fetched{.status = Fetched::Status::kError,
                                   .error = "postgresql origin: no result"};
    SetState(*c, State::kReady);
    Watch(*c, EV_READ);
    done(std::move(result));
  }

  static void OnTick(int, short, void* arg) noexcept {
    auto* self = static_cast<PgBackend*>(arg);
    self->Tick();
    self->Pump();
  }

  void Tick() {
    const auto now = SteadyClock::now();
    // Requests that outlived their deadline in the queue (ReadThrough answered their readers).
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (now >= it->deadline) {
        Expire(*it);
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    // A connection that has been connecting or running one query for far longer than the
    // timeout belongs to a server that stopped answering: close it, so the pool can recover.
    const auto stuck =
        std::max<SteadyClock::duration>(std::chrono::seconds(5),
                                        4 * std::chrono::milliseconds(options_.timeout_ms));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      Conn* c = conns_[i].get();
      if (c->state != State::kReady && now - c->since > stuck) {
        Drop(c, "no answer from the server");
        return;  // Drop() changed conns_; the next tick looks at the rest
      }
    }
  }

  const PgLib* pq_;
  event_base* base_;
  const Options options_;
  ConnParams params_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::deque<Queued> queue_;
  event* tick_ = nullptr;
  std::string last_error_ = "not connected";
  SteadyClock::time_point next_connect_{};
};

}  // namespace

base::Result<std::unique_ptr<Backend>> OpenPgBackend(const Options& options, event_base* base) {
  if (options.query.empty()) {
    return base::Status::InvalidArgument(
        "a postgresql origin needs --origin-query (e.g. 'SELECT value FROM kv WHERE key = $1')");
  }
  base::Result<const PgLib*> pq = LoadPgLib();
  if (!pq.ok()) return pq.status();
  auto backend = std::make_unique<PgBackend>(base, options, pq.value());
  base::Status opened = backend->OpenFirst();
  if (!opened.ok()) return opened;
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace rc::origin
