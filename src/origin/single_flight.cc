// origin/single_flight.cc -- see single_flight.h.
#include "origin/single_flight.h"

#include "ringcached/base/hash.h"
#include "ringcached/base/log.h"

namespace rc::origin {
namespace {

// The answers that carry nothing but their kind are shared by every reader.
std::shared_ptr<const Answer> MakeAnswer(Answer::Kind kind) {
  auto a = std::make_shared<Answer>();
  a->kind = kind;
  return a;
}

const std::shared_ptr<const Answer>& MissAnswer() {
  static const std::shared_ptr<const Answer> a = MakeAnswer(Answer::Kind::kMiss);
  return a;
}

const std::shared_ptr<const Answer>& FailedAnswer() {
  static const std::shared_ptr<const Answer> a = MakeAnswer(Answer::Kind::kFailed);
  return a;
}

const std::shared_ptr<const Answer>& CachedAnswer() {
  static const std::shared_ptr<const Answer> a = MakeAnswer(Answer::Kind::kCached);
  return a;
}

std::uint64_t Load(const std::atomic<std::uint64_t>& v) {
  return v.load(std::memory_order_relaxed);
}

void Bump(std::atomic<std::uint64_t>& v) { v.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

SingleFlight::SingleFlight(const Options& options, Cache* cache)
    : options_(options),
      cache_(cache),
      breaker_(options.breaker_failures, std::chrono::milliseconds(options.breaker_open_ms)) {}

SingleFlight::Stripe& SingleFlight::StripeOf(std::string_view key) {
  // The top bits: the store shards by the top bits too, but a stripe is only a lock, so sharing
  // the split costs nothing.
  return stripes_[base::HashKey(key) >> 58];
}

SingleFlight::Admission SingleFlight::Admit(std::string_view key, ReadThrough::Waiter* waiter,
                                            SteadyClock::time_point now) {
  Admission result;
  Stripe& s = StripeOf(key);
  base::MutexLock lock(s.mu);
  std::string k(key);
  if (!s.negative.empty()) {
    auto n = s.negative.find(k);
    if (n != s.negative.end()) {
      if (now < n->second) {
        Bump(negative_hits_);
        result.answer = MissAnswer();
        return result;
      }
      s.negative.erase(n);
    }
  }
  auto f = s.flights.find(k);
  if (f != s.flights.end()) {
    f->second->waiters.push_back(std::move(*waiter));
    Bump(coalesced_);
    result.kind = Admission::Kind::kJoined;
    return result;
  }
  // The reader missed before taking this lock; a fill of the key may have landed since (and left
  // the table). Asking the cache again under the lock makes "one fetch per key" hold even then.
  if (cache_->Contains(key)) {
    Bump(cached_);
    result.answer = CachedAnswer();
    return result;
  }
  const Breaker::Admission admitted = breaker_.Admit(now);
  if (admitted == Breaker::Admission::kReject) {
    Bump(rejected_);
    result.answer = FailedAnswer();
    return result;
  }
  auto flight = std::make_shared<Flight>();
  flight->key = std::move(k);
  flight->started = now;
  flight->probe = admitted == Breaker::Admission::kProbe;
  flight->version = cache_->FillVersion();
  flight->waiters.push_back(std::move(*waiter));
  s.flights.emplace(flight->key, flight);
  Bump(fetches_);
  Bump(in_flight_);
  result.kind = Admission::Kind::kStart;
  result.flight = std::move(flight);
  return result;
}

void SingleFlight::RememberMissLocked(Stripe& s, const std::string& key,
                                      SteadyClock::time_point now) {
  const std::size_t limit = options_.max_negative / kStripes + 1;
  if (s.negative.size() >= limit) {
    for (auto it = s.negative.begin(); it != s.negative.end();) {
      it = now >= it->second ? s.negative.erase(it) : std::next(it);
    }
    if (s.negative.size() >= limit) return;
  }
  s.negative[key] = now + std::chrono::seconds(options_.negative_ttl);
}

bool SingleFlight::Complete(const std::shared_ptr<Flight>& flight, Fetched result,
                            SteadyClock::time_point now) {
  Stripe& s = StripeOf(flight->key);
  auto answer = std::make_shared<Answer>();
  std::vector<ReadThrough::Waiter> waiters;
  {
    base::MutexLock lock(s.mu);
    if (flight->done) {
      Bump(late_);
      return false;
    }
    flight->done = true;
    auto it = s.flights.find(flight->key);
    if (it != s.flights.end() && it->second == flight) s.flights.erase(it);
    switch (result.status) {
      case Fetched::Status::kValue:
        Bump(hits_);
        answer->kind = Answer::Kind::kValue;
        answer->value = std::move(result.value);
        // The decision and the store happen under the stripe lock, which every write of the key
        // holds while it applies (FenceWrite): a write either came first and made the flight
        // stale, or comes after the store and replaces the value.
        if (flight->stale) {
          Bump(stale_);
        } else if (cache_->Store(flight->key, answer->value, flight->version)) {
          answer->stored = true;
          answer->version = flight->version;
          Bump(stored_);
        } else {
          // Something was linked before the fetch began (Cache::Store adds only): it wins too.
          Bump(stale_);
        }
        break;
      case Fetched::Status::kMiss:
        Bump(misses_);
        answer->kind = Answer::Kind::kMiss;
        if (!flight->stale && options_.negative_ttl > 0) RememberMissLocked(s, flight->key, now);
        break;
      case Fetched::Status::kError:
        Bump(errors_);
        answer->kind = Answer::Kind::kFailed;
        break;
      case Fetched::Status::kTimeout:
        Bump(timeouts_);
        answer->kind = Answer::Kind::kFailed;
        break;
    }
    waiters.swap(flight->waiters);
  }
  in_flight_.fetch_sub(1, std::memory_order_relaxed);

  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - flight->started);
  latency_.Record(micros.count() > 0 ? static_cast<std::uint64_t>(micros.count()) : 0);

  const bool success =
      result.status == Fetched::Status::kValue || result.status == Fetched::Status::kMiss;
  if (!success) {
    base::Log(1, "origin: fetch failed: %s",
              result.status == Fetched::Status::kTimeout ? "timed out" : result.error.c_str());
  }
  switch (breaker_.Record(success, flight->probe, now)) {
    case Breaker::Change::kOpened:
      base::Log(0,
                "origin: circuit breaker OPEN after %s (%s); misses are answered without the "
                "origin for %d ms",
                flight->probe ? "a failed probe" : "repeated failures",
                result.status == Fetched::Status::kTimeout ? "timed out" : result.error.c_str(),
                options_.breaker_open_ms);
      break;
    case Breaker::Change::kClosed:
      base::Log(0, "origin: circuit breaker closed: the probe fetch succeeded");
      break;
    case Breaker::Change::kNone:
      break;
  }

  for (ReadThrough::Waiter& w : waiters) w(answer);
  return true;
}

base::MovableLock SingleFlight::FenceWrite(std::string_view key) {
  Stripe& s = StripeOf(key);
  base::MovableLock lock(s.mu);
  // Most writes find both maps empty: no string is built for them.
  if (!s.flights.empty() || !s.negative.empty()) {
    std::string k(key);
    auto it = s.flights.find(k);
    if (it != s.flights.end()) {
      it->second->stale = true;
      s.flights.erase(it);
    }
    s.negative.erase(k);
  }
  return lock;
}

void SingleFlight::FenceFlush() {
  for (Stripe& s : stripes_) {
    base::MutexLock lock(s.mu);
    for (auto& [key, flight] : s.flights) flight->stale = true;
    s.flights.clear();
    s.negative.clear();
  }
}

Stats SingleFlight::GetStats() const {
  Stats st;
  st.fetches = Load(fetches_);
  st.hits = Load(hits_);
  st.misses = Load(misses_);
  st.errors = Load(errors_);
  st.timeouts = Load(timeouts_);
  st.coalesced = Load(coalesced_);
  st.negative_hits = Load(negative_hits_);
  st.cached = Load(cached_);
  st.stored = Load(stored_);
  st.stale = Load(stale_);
  st.late = Load(late_);
  st.in_flight = Load(in_flight_);
  st.breaker_opened = breaker_.opened();
  st.breaker_rejected = Load(rejected_);
  switch (breaker_.state()) {
    case Breaker::State::kClosed: st.breaker_state = "closed"; break;
    case Breaker::State::kOpen: st.breaker_state = "open"; break;
    case Breaker::State::kHalfOpen: st.breaker_state = "half-open"; break;
  }
  st.latency_p50_us = latency_.Percentile(0.50);
  st.latency_p90_us = latency_.Percentile(0.90);
  st.latency_p99_us = latency_.Percentile(0.99);
  st.latency_p999_us = latency_.Percentile(0.999);
  st.latency_max_us = latency_.max();
  return st;
}

}  // namespace rc::origin
