// origin/http_backend.cc -- an HTTP origin, through libevent's HTTP client (evhttp_connection).
//
// GET <prefix><URL-encoded key>: 200 is the value (the body), 404 is "no such key", anything
// else -- another status, a refused or dropped connection, a timeout, a body over the item size
// limit -- is an error. Flags are 0 and the TTL is --origin-ttl.
//
// Up to `connections` requests are outstanding at once, one per evhttp_connection (libevent would
// queue more behind a slow one, where our deadline could not reach them); the rest wait in our own
// queue, which drops a request whose deadline has passed instead of sending it. libevent keeps
// each connection alive between requests and reconnects after a failure by itself.
//
// The host name is resolved once, at start-up, and the connections are given the numeric
// address, so the origin thread never waits on DNS; the Host header carries the name.
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <vector>

#include "origin/backend.h"
#include "origin/url.h"
#include "ringcached/base/check.h"
#include "ringcached/base/uri.h"

namespace rc::origin {
namespace {

// At start-up: the numeric address of `host`, for libevent.
base::Result<std::string> Resolve(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return base::Status::IoError("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  char numeric[NI_MAXHOST] = "";
  const int nrc = getnameinfo(found->ai_addr, found->ai_addrlen, numeric, sizeof numeric, nullptr,
                              0, NI_NUMERICHOST);
  freeaddrinfo(found);
  if (nrc != 0) return base::Status::IoError("cannot resolve " + host + ": " + gai_strerror(nrc));
  return std::string(numeric);
}

// At start-up: can a TCP connection to the origin be opened within `timeout_ms`?
base::Status CheckConnect(const std::string& address, std::uint16_t port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* ai = nullptr;
  if (getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &ai) != 0) {
    return base::Status::IoError("bad address " + address);
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int err = fd < 0 ? errno : 0;
  if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int n = poll(&p, 1, timeout_ms);
      socklen_t len = sizeof err;
      if (n <= 0) {
        err = ETIMEDOUT;
      } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
        err = errno;
      }
    }
  }
  freeaddrinfo(ai);
  if (fd >= 0) close(fd);
  if (err != 0) {
    return base::Status::IoError("cannot connect to " + address + " port " +
                                 std::to_string(port) + ": " + std::strerror(err));
  }
  return base::Status::Ok();
}

const char* RequestErrorText(int error) {
  switch (error) {
    case EVREQ_HTTP_TIMEOUT: return "timed out";
    case EVREQ_HTTP_EOF: return "connection closed by the origin";
    case EVREQ_HTTP_INVALID_HEADER: return "bad response header";
    case EVREQ_HTTP_BUFFER_ERROR: return "connection failed";
    case EVREQ_HTTP_DATA_TOO_LONG: return "response body larger than the item size limit";
    default: return "request failed";
  }
}

class HttpBackend final : public Backend {
 public:
  HttpBackend(event_base* base, HttpTarget target, const std::string& address,
              const Options& options)
      : target_(std::move(target)) {
    host_header_ = target_.host.find(':') != std::string::npos ? "[" + target_.host + "]"
                                                               : target_.host;
    if (target_.port != 80) host_header_ += ":" + std::to_string(target_.port);
    const int ms = BackendTimeoutMs(options);
    timeval timeout{ms / 1000, (ms % 1000) * 1000};
    slots_.resize(static_cast<std::size_t>(options.connections));
    for (Slot& slot : slots_) {
      slot.conn = evhttp_connection_base_new(base, nullptr, address.c_str(), target_.port);
      RC_CHECK(slot.conn != nullptr);
      evhttp_connection_set_timeout_tv(slot.conn, &timeout);
      evhttp_connection_set_retries(slot.conn, 0);
      evhttp_connection_set_max_body_size(slot.conn,
                                          static_cast<ev_ssize_t>(options.max_value_size));
    }
  }

  ~HttpBackend() override {
    closing_ = true;
    for (Slot& slot : slots_) evhttp_connection_free(slot.conn);
  }

  void Fetch(std::string key, SteadyClock::time_point deadline, FetchDone done) override {
    queue_.push_back({std::move(key), deadline, std::move(done)});
    Pump();
  }

 private:
  // A request waiting for a connection.
  struct Queued {
    std::string key;
    SteadyClock::time_point deadline;
    FetchDone done;
  };
  struct Slot;
  // A request on a connection; the evhttp_request's callback argument.
  struct Outstanding {
    HttpBackend* backend;
    Slot* slot;
    FetchDone done;
    int error = -1;  // the evhttp_request_error libevent reported, if any
  };
  struct Slot {
    evhttp_connection* conn = nullptr;
    std::unique_ptr<Outstanding> outstanding;  // null when the connection is free
  };

  void Pump() {
    for (Slot& slot : slots_) {
      if (queue_.empty()) return;
      if (slot.outstanding) continue;
      Queued q = std::move(queue_.front());
      queue_.pop_front();
      if (SteadyClock::now() >= q.deadline) {
        q.done({.status = Fetched::Status::kTimeout,
                .error = "timed out waiting for a connection"});
        continue;
      }
      Send(slot, std::move(q));
    }
  }

  void Send(Slot& slot, Queued q) {
    slot.outstanding.reset(new Outstanding{this, &slot, std::move(q.done)});
    evhttp_request* req = evhttp_request_new(&HttpBackend::OnResponse, slot.outstanding.get());
    evhttp_request_set_error_cb(req, &HttpBackend::OnError);
    evkeyvalq* headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Host", host_header_.c_str());
    evhttp_add_header(headers, "User-Agent", "ringcached");
    std::string uri = target_.path_prefix;
    base::AppendUriEncoded(q.key, &uri);  // one path segment, whatever the key
    // On failure libevent has freed the request, without calling back.
    if (evhttp_make_request(slot.conn, req, EVHTTP_REQ_GET, uri.c_str()) != 0) {
      Finish(slot, {.status = Fetched::Status::kError, .error = "cannot send the request"});
    }
  }

  static void OnError(evhttp_request_error error, void* arg) noexcept {
    static_cast<Outstanding*>(arg)->error = error;
  }

  // libevent calls this once per request: with the response, or with req == nullptr (or a
  // response code of 0) when the request failed. It frees the request when this returns.
  static void OnResponse(evhttp_request* req, void* arg) noexcept {
    auto* out = static_cast<Outstanding*>(arg);
    HttpBackend* self = out->backend;
    if (self->closing_) return;
    Fetched result;
    const int code = req == nullptr ? 0 : evhttp_request_get_response_code(req);
    if (code == 200) {
      evbuffer* body = evhttp_request_get_input_buffer(req);
      const std::size_t len = evbuffer_get_length(body);
      result.status = Fetched::Status::kValue;
      result.value.bytes.resize(len);
      if (len > 0) evbuffer_copyout(body, result.value.bytes.data(), len);
    } else if (code == 404) {
      result.status = Fetched::Status::kMiss;
    } else if (code == 0) {
      result.error = std::string("http origin: ") + RequestErrorText(out->error);
    } else {
      const char* line = evhttp_request_get_response_code_line(req);
      result.error = "http origin: status " + std::to_string(code) +
                     (line != nullptr ? std::string(" ") + line : std::string());
    }
    self->Finish(*out->slot, std::move(result));
  }

  void Finish(Slot& slot, Fetched result) {
    FetchDone done = std::move(slot.outstanding->done);
    slot.outstanding.reset();
    done(std::move(result));
    Pump();
  }

  HttpTarget target_;
  std::string host_header_;
  std::vector<Slot> slots_;
  std::deque<Queued> queue_;
  bool closing_ = false;
};

}  // namespace

base::Result<std::unique_ptr<Backend>> OpenHttpBackend(const Options& options, event_base* base) {
  base::Result<HttpTarget> target = ParseHttpUrl(options.url);
  if (!target.ok()) return target.status();
  base::Result<std::string> address = Resolve(target.value().host, target.value().port);
  if (!address.ok()) return address.status();
  // An origin that is down at start-up is a configuration problem worth stopping for: say so now
  // rather than answer every read with a miss.
  base::Status reachable =
      CheckConnect(address.value(), target.value().port, std::max(options.timeout_ms, 2000));
  if (!reachable.ok()) return reachable;
  return std::unique_ptr<Backend>(
      new HttpBackend(base, std::move(target).value(), address.value(), options));
}

}  // namespace rc::origin
