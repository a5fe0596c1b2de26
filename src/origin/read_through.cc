// origin/read_through.cc -- the origin thread: its event loop, the backend that lives on it, and
// one timeout timer per fetch. The rules themselves are in single_flight.cc.
//
// A fetch's path: a worker's Fetch() admits the miss into the flight table (single_flight.h); if
// a fetch must start, the flight is posted to the origin loop (EventLoop::RunInLoop), where
// StartFetch() arms the flight's timer and hands the key to the backend. Whichever comes first --
// the backend's answer or the timer -- completes the flight; the other finds it done and is
// ignored (counted as "late" when it is the origin's answer).
#include "ringcached/origin/read_through.h"

#include <event2/event.h>

#include <unordered_set>

#include "origin/backend.h"
#include "origin/single_flight.h"
#include "origin/url.h"
#include "ringcached/base/check.h"
#include "ringcached/net/event_loop.h"

namespace rc::origin {

struct ReadThrough::Impl {
  // The timer of one flight; its callback argument. Origin thread only.
  struct Timer {
    Impl* impl;
    std::shared_ptr<Flight> flight;
  };

  Impl(const Options& opts, SingleFlight* table) : options(opts), flights(table) {}

  void StartFetch(std::shared_ptr<Flight> flight) {
    auto* timer = new Timer{this, flight};
    flight->timer = event_new(loop.base(), -1, 0, &Impl::OnTimeout, timer);
    RC_CHECK(flight->timer != nullptr);
    const timeval tv{options.timeout_ms / 1000, (options.timeout_ms % 1000) * 1000};
    event_add(flight->timer, &tv);
    timers.insert(timer);
    const auto deadline = flight->started + std::chrono::milliseconds(options.timeout_ms);
    std::string key = flight->key;
    // Last: the backend may answer before Fetch() returns.
    backend->Fetch(std::move(key), deadline,
                   [this, flight](Fetched result) { Finish(flight, std::move(result)); });
  }

  void Finish(const std::shared_ptr<Flight>& flight, Fetched result) {
    if (!flights->Complete(flight, std::move(result), SteadyClock::now())) return;
    // First completion: the timer is no longer needed (this may run inside its callback, which
    // libevent allows for a non-persistent event).
    auto* timer = static_cast<Timer*>(event_get_callback_arg(flight->timer));
    event_free(flight->timer);
    flight->timer = nullptr;
    timers.erase(timer);
    delete timer;
  }

  static void OnTimeout(int, short, void* arg) noexcept {
    auto* timer = static_cast<Timer*>(arg);
    // Copy: Finish() deletes the Timer.
    std::shared_ptr<Flight> flight = timer->flight;
    timer->impl->Finish(flight, {.status = Fetched::Status::kTimeout});
  }

  const Options options;
  SingleFlight* flights;
  net::EventLoop loop;                     // the origin thread's loop
  std::unique_ptr<Backend> backend;        // lives on the origin thread
  std::unordered_set<Timer*> timers;       // origin thread only; freed by Stop()
  bool started = false;
  bool stopped = false;
};

ReadThrough::ReadThrough(const Options& options, Cache* cache)
    : flights_(std::make_unique<SingleFlight>(options, cache)),
      impl_(std::make_unique<Impl>(options, flights_.get())),
      description_(RedactUrl(options.url)) {}

ReadThrough::~ReadThrough() { Stop(); }

base::Result<std::unique_ptr<ReadThrough>> ReadThrough::Open(const Options& options,
                                                             Cache* cache) {
  if (options.connections < 1 || options.timeout_ms < 1 || options.negative_ttl < 0 ||
      options.breaker_failures < 0 || options.breaker_open_ms < 1) {
    return base::Status::InvalidArgument("origin: connections, timeout and breaker period must "
                                         "be positive");
  }
  std::unique_ptr<ReadThrough> rt(new ReadThrough(options, cache));
  base::Result<std::unique_ptr<Backend>> backend = base::Status::InvalidArgument("");
  switch (SchemeOf(options.url)) {
    case Scheme::kHttp:
      backend = OpenHttpBackend(options, rt->impl_->loop.base());
      break;
    case Scheme::kPostgres:
      backend = OpenPgBackend(options, rt->impl_->loop.base());
      break;
    case Scheme::kHttps:
      return base::Status::InvalidArgument("origin " + rt->description_ +
                                           ": https is not supported (no TLS in this build)");
    case Scheme::kUnknown:
      return base::Status::InvalidArgument(
          "origin " + rt->description_ +
          ": unknown kind of origin (want postgresql://... or http://...)");
  }
  if (!backend.ok()) {
    return base::Status::InvalidArgument("origin " + rt->description_ + ": " +
                                         backend.status().message());
  }
  rt->impl_->backend = std::move(backend).value();
  rt->impl_->loop.Start("rc-origin");
  rt->impl_->started = true;
  return rt;
}

void ReadThrough::Stop() {
  Impl& impl = *impl_;
  if (impl.stopped) return;
  impl.stopped = true;
  if (impl.started) {
    impl.loop.Stop();
    impl.loop.Join();
  }
  // The origin thread is gone: its objects may be freed from here.
  impl.backend.reset();
  for (Impl::Timer* timer : impl.timers) {
    event_free(timer->flight->timer);
    timer->flight->timer = nullptr;
    delete timer;
  }
  impl.timers.clear();
}

void ReadThrough::Fetch(std::string_view key, Waiter waiter) {
  SingleFlight::Admission a = flights_->Admit(key, &waiter, SteadyClock::now());
  switch (a.kind) {
    case SingleFlight::Admission::Kind::kAnswered:
      waiter(std::move(a.answer));
      return;
    case SingleFlight::Admission::Kind::kJoined:
      return;
    case SingleFlight::Admission::Kind::kStart:
      impl_->loop.RunInLoop(
          [impl = impl_.get(), flight = std::move(a.flight)]() mutable {
            impl->StartFetch(std::move(flight));
          });
      return;
  }
}

base::MovableLock ReadThrough::FenceWrite(std::string_view key) {
  return flights_->FenceWrite(key);
}

void ReadThrough::FenceFlush() { flights_->FenceFlush(); }

Stats ReadThrough::GetStats() const { return flights_->GetStats(); }

}  // namespace rc::origin
