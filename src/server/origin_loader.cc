// server/origin_loader.cc -- see origin_loader.h.
#include "server/origin_loader.h"

#include <cstring>

#include "ringcached/base/check.h"
#include "ringcached/net/event_loop.h"
#include "server/server.h"
#include "server/stats.h"

namespace rc::server {

OriginLoader::OriginLoader(const Settings& settings, store::Store* store,
                           const base::Clock* clock)
    : store_(store), clock_(clock), key_prefix_(settings.origin_key_prefix),
      ttl_(settings.origin_ttl) {}

base::Result<std::unique_ptr<OriginLoader>> OriginLoader::Open(const Settings& settings,
                                                               store::Store* store,
                                                               const base::Clock* clock) {
  std::unique_ptr<OriginLoader> loader(new OriginLoader(settings, store, clock));
  origin::Options options;
  options.url = settings.origin;
  options.query = settings.origin_query;
  options.connections = settings.origin_connections;
  options.timeout_ms = settings.origin_timeout_ms;
  options.negative_ttl = settings.origin_negative_ttl;
  options.breaker_failures = settings.origin_breaker_failures;
  options.breaker_open_ms = settings.origin_breaker_open_ms;
  options.max_value_size = settings.item_size_max;
  auto rt = origin::ReadThrough::Open(options, loader.get());
  if (!rt.ok()) return rt.status();
  loader->read_through_ = std::move(rt).value();
  return loader;
}

bool OriginLoader::Wants(std::string_view key) const { return key.starts_with(key_prefix_); }

void OriginLoader::Load(std::string_view key, std::function<void(store::ItemRef)> done) {
  net::EventLoop* loop = net::EventLoop::Current();
  RC_CHECK(loop != nullptr);
  // The answer may come on the origin thread or, when known at once, right here; either way it
  // is posted, so `done` always runs later on the reader's own loop, never inside Load().
  read_through_->Fetch(
      key, [this, loop, key = std::string(key),
            done = std::move(done)](std::shared_ptr<const origin::Answer> answer) {
        loop->RunInLoop([this, key, done, answer = std::move(answer)] {
          done(ItemFor(key, *answer));
        });
      });
}

base::RelTime OriginLoader::ExptimeOf(const origin::Value& value) const {
  // The origin's ttl column wins over --origin-ttl; both read as a memcached exptime (seconds,
  // or a Unix time beyond 30 days; 0 never expires).
  return clock_->ToRelTime(value.ttl >= 0 ? value.ttl : ttl_);
}

bool OriginLoader::Contains(std::string_view key) {
  if (fence_ != nullptr && !fence_->Open()) return false;
  return static_cast<bool>(store_->Get(key, store::GetOptions{.bump = false}).item);
}

bool OriginLoader::Store(std::string_view key, const origin::Value& value,
                         std::uint64_t version) {
  store::Allocation alloc = store_->Allocate(key, value.flags, ExptimeOf(value),
                                             static_cast<std::uint32_t>(value.bytes.size()));
  if (!alloc.item) return false;  // too large for -I, or no memory: the readers still get it
  if (!value.bytes.empty()) {
    std::memcpy(alloc.item.writable_value(), value.bytes.data(), value.bytes.size());
  }
  // add, not set: an item linked since the reader missed (a set, or mg N's placeholder that a
  // meta client is about to fill) is newer than what the origin said.
  if (store_->Put(&alloc.item, store::Mode::kAdd, 0, store::PutOptions{.version = version}) !=
      store::Outcome::kStored) {
    return false;
  }
  if (observer_ != nullptr) {
    observer_->OnWrite({.kind = engine::WriteEvent::Kind::kFill, .key = key, .item = &alloc.item,
                        .version = version});
  }
  return true;
}

store::ItemRef OriginLoader::ItemFor(std::string_view key, const origin::Answer& answer) {
  using Kind = origin::Answer::Kind;
  if (answer.kind == Kind::kCached) return std::move(store_->Get(key).item);
  if (answer.kind != Kind::kValue) return store::ItemRef();
  if (answer.stored) {
    store::Lookup found = store_->Get(key);
    // Our fill, unless a write replaced it since.
    if (found.item && found.item.version() == answer.version) return std::move(found.item);
  }
  // The fetched value without the cache: a write won, or our item is gone already. The reader
  // still gets what it waited for, from an item of its own that is never linked.
  const origin::Value& v = answer.value;
  store::Allocation alloc =
      store_->Allocate(key, v.flags, ExptimeOf(v), static_cast<std::uint32_t>(v.bytes.size()));
  if (!alloc.item) return store::ItemRef();
  if (!v.bytes.empty()) std::memcpy(alloc.item.writable_value(), v.bytes.data(), v.bytes.size());
  return std::move(alloc.item);
}

void AppendOriginStats(Server& server, StatSink* sink) {
  StatSink& w = *sink;
  const OriginLoader* loader = server.origin();
  if (loader == nullptr) return;
  const origin::Stats st = loader->read_through().GetStats();
  w.Add("origin", loader->read_through().description());
  w.Add("fetches", st.fetches);
  w.Add("hits", st.hits);
  w.Add("misses", st.misses);
  w.Add("errors", st.errors);
  w.Add("timeouts", st.timeouts);
  w.Add("coalesced", st.coalesced);
  w.Add("negative_hits", st.negative_hits);
  w.Add("cached", st.cached);
  w.Add("stored", st.stored);
  w.Add("stale", st.stale);
  w.Add("late", st.late);
  w.Add("in_flight", st.in_flight);
  w.Add("breaker", st.breaker_state);
  w.Add("breaker_opened", st.breaker_opened);
  w.Add("breaker_rejected", st.breaker_rejected);
  w.Add("latency_p50_us", st.latency_p50_us);
  w.Add("latency_p90_us", st.latency_p90_us);
  w.Add("latency_p99_us", st.latency_p99_us);
  w.Add("latency_p999_us", st.latency_p999_us);
  w.Add("latency_max_us", st.latency_max_us);
}

}  // namespace rc::server
