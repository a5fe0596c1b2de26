// engine/engine.cc -- memcached command semantics: which counters each command bumps, how a
// storage command maps to a store mode, and which writes the observer hears about.
//
// Counter rules follow memcached 1.6.18 (proto_text.c, thread.c) as recorded in
// ../shared/reference/memcached-1.6.18-transcript.txt: a multi-get counts one cmd_get per key;
// gat counts cmd_touch and touch_hits/misses only; get_expired and get_flushed
// count misses caused by expiry and flush_all.
#include "ringcached/engine/engine.h"

namespace rc::engine {

void CommandStats::Reset() {
  auto reset = [](base::Counter& c) { c.Reset(); };
  ForEach(*this, reset);
  for (ClassCommandStats& k : per_class) ClassCommandStats::ForEach(k, reset);
}

Engine::Engine(store::Store* store, const base::Clock* clock) : store_(store), clock_(clock) {}

namespace {

void CountMiss(store::MissReason reason, CommandStats* stats) {
  stats->get_misses.Add();
  if (reason == store::MissReason::kExpired) stats->get_expired.Add();
  if (reason == store::MissReason::kFlushed) stats->get_flushed.Add();
}

store::Mode ModeOf(proto::Command command) {
  switch (command) {
    case proto::Command::kAdd: return store::Mode::kAdd;
    case proto::Command::kReplace: return store::Mode::kReplace;
    case proto::Command::kAppend: return store::Mode::kAppend;
    case proto::Command::kPrepend: return store::Mode::kPrepend;
    case proto::Command::kCas: return store::Mode::kCas;
    default: return store::Mode::kSet;
  }
}

}  // namespace

store::ItemRef Engine::Get(std::string_view key, CommandStats* stats) {
  stats->cmd_get.Add();
  store::Lookup found = Fenced() ? store::Lookup{} : store_->Get(key);
  if (found.item) {
    stats->get_hits.Add();
    stats->ForClass(found.item.class_id()).get_hits.Add();
  } else {
    CountMiss(found.reason, stats);
  }
  return std::move(found.item);
}

store::ItemRef Engine::GetAndTouch(std::string_view key, std::int64_t exptime,
                                   CommandStats* stats) {
  // gat counts as a touch only, not as a get (the reference transcript's cmd_get and get_hits
  // exclude its keys).
  stats->cmd_touch.Add();
  store::GetOptions options{.touch = true, .new_exptime = clock_->ToRelTime(exptime)};
  store::Lookup found = Fenced() ? store::Lookup{} : store_->Get(key, options);
  if (found.item) {
    stats->touch_hits.Add();
    stats->ForClass(found.item.class_id()).touch_hits.Add();
    Notify({.kind = WriteEvent::Kind::kTouch, .key = key, .item = &found.item, .exptime = exptime,
            .ttl_stamp = found.ttl_stamp});
  } else {
    stats->touch_misses.Add();
  }
  return std::move(found.item);
}

store::Allocation Engine::BeginStore(const proto::Request& req, CommandStats* stats) {
  store::Allocation alloc =
      store_->Allocate(req.key, req.flags, clock_->ToRelTime(req.exptime), req.value_len);
  // A refused allocation is not a cmd_set (memcached counts sets once the data block is in).
  if (alloc.outcome == store::Outcome::kTooLarge) {
    stats->store_too_large.Add();
    // memcached drops the key's old value on a too-large *set*, so that a client cannot go on
    // reading a value it believes it replaced (proto_text.c process_update_command; t/getset.t).
    if (req.command == proto::Command::kSet) DeleteRefused(req.key);
  } else if (alloc.outcome == store::Outcome::kNoMemory) {
    stats->store_no_memory.Add();
    if (req.command == proto::Command::kSet) DeleteRefused(req.key);
  }
  return alloc;
}

void Engine::DeleteRefused(std::string_view key) {
  store::DeleteResult r;
  {
    base::MovableLock fence = Fence(key);
    r = store_->Delete(key, store::DeleteOptions{});
  }
  Notify({.kind = WriteEvent::Kind::kDelete,
          .key = key,
          .hit = r.outcome == store::Outcome::kDeleted,
          .version = r.version});
}

void Engine::AbandonStore(const store::ItemRef& item, CommandStats* stats) {
  stats->cmd_set.Add();
  stats->ForClass(item.class_id()).cmd_set.Add();
}

store::Outcome Engine::CompleteStore(const proto::Request& req, store::ItemRef* item,
                                     CommandStats* stats) {
  stats->cmd_set.Add();
  ClassCommandStats& per_class = stats->ForClass(item->class_id());
  per_class.cmd_set.Add();
  store::Mode mode = ModeOf(req.command);
  store::Outcome outcome;
  {
    base::MovableLock fence = Fence(item->key());
    outcome = store_->Put(item, mode, req.cas_unique);
  }
  if (mode == store::Mode::kCas) {
    if (outcome == store::Outcome::kStored) {
      stats->cas_hits.Add();
      per_class.cas_hits.Add();
    }
    if (outcome == store::Outcome::kExists) {
      stats->cas_badval.Add();
      per_class.cas_badval.Add();
    }
    if (outcome == store::Outcome::kNotFound) stats->cas_misses.Add();
  }
  if (outcome == store::Outcome::kNoMemory) stats->store_no_memory.Add();
  if (outcome == store::Outcome::kTooLarge) stats->store_too_large.Add();
  if (outcome == store::Outcome::kStored) {
    Notify({.kind = WriteEvent::Kind::kStore, .key = item->key(), .item = item});
  }
  return outcome;
}

store::Outcome Engine::Delete(std::string_view key, CommandStats* stats,
                              std::uint64_t compare_cas) {
  store::DeleteResult r;
  {
    base::MovableLock fence = Fence(key);
    r = store_->Delete(key, {.compare_cas = compare_cas != 0, .cas = compare_cas});
  }
  if (r.outcome == store::Outcome::kDeleted) {
    stats->delete_hits.Add();
    stats->ForClass(r.class_id).delete_hits.Add();
    Notify({.kind = WriteEvent::Kind::kDelete, .key = key, .version = r.version});
  } else if (r.outcome == store::Outcome::kNotFound) {
    stats->delete_misses.Add();
    Notify({.kind = WriteEvent::Kind::kDelete, .key = key, .hit = false, .version = r.version});
  }
  return r.outcome;
}

store::Outcome Engine::AddCounter(store::ItemRef* item) {
  store::Outcome outcome;
  {
    base::MovableLock fence = Fence(item->key());
    outcome = store_->Put(item, store::Mode::kAdd);
  }
  if (outcome == store::Outcome::kStored) {
    Notify({.kind = WriteEvent::Kind::kStore, .key = item->key(), .item = item});
  }
  return outcome;
}

store::IncrResult Engine::Arithmetic(std::string_view key, bool incr, std::uint64_t delta,
                                     CommandStats* stats, const ArithmeticOptions& options) {
  store::IncrResult result;
  {
    base::MovableLock fence = Fence(key);
    result = options.compare_cas != 0
                 ? store_->IncrDecr(key, incr, delta, {.compare_cas = options.compare_cas})
                 : store_->IncrDecr(key, incr, delta);
  }
  // A non-numeric value is neither a hit nor a miss: memcached's do_add_delta gives up before it
  // counts (the reference transcript's incr_hits excludes them).
  if (result.outcome == store::Outcome::kNotFound) {
    if (options.count_miss) (incr ? stats->incr_misses : stats->decr_misses).Add();
  } else if (result.outcome == store::Outcome::kStored) {
    (incr ? stats->incr_hits : stats->decr_hits).Add();
    ClassCommandStats& per_class = stats->ForClass(result.class_id);
    (incr ? per_class.incr_hits : per_class.decr_hits).Add();
  }
  if (result.outcome == store::Outcome::kStored) {
    Notify({.kind = WriteEvent::Kind::kArithmetic, .key = key, .item = &result.item});
  }
  return result;
}

store::Outcome Engine::Touch(std::string_view key, std::int64_t exptime, CommandStats* stats) {
  stats->cmd_touch.Add();
  unsigned class_id = 0;
  // A touch can end an item (an exptime in the past), so it is fenced like a delete.
  store::Outcome outcome;
  store::ItemRef touched;  // asked for only when someone observes writes: it costs a reference
  std::uint64_t stamp = 0;
  {
    base::MovableLock fence = Fence(key);
    outcome = store_->Touch(key, clock_->ToRelTime(exptime), &class_id,
                            observed() ? &touched : nullptr, &stamp);
  }
  if (outcome == store::Outcome::kTouched) {
    stats->touch_hits.Add();
    stats->ForClass(class_id).touch_hits.Add();
    Notify({.kind = WriteEvent::Kind::kTouch, .key = key, .item = &touched, .exptime = exptime,
            .ttl_stamp = stamp});
  } else {
    stats->touch_misses.Add();
  }
  return outcome;
}

void Engine::FlushAll(std::int64_t delay, bool has_delay, CommandStats* stats) {
  stats->cmd_flush.Add();
  // A delay follows the exptime rules (relative up to 30 days, else absolute); no delay, or 0,
  // means now (proto_text.c process_flush_all_command).
  base::RelTime when = (has_delay && delay > 0) ? clock_->ToRelTime(delay) : 0;
  if (loader_ != nullptr) loader_->FenceFlush();
  const std::uint64_t cut = store_->Flush(when);
  Notify({.kind = WriteEvent::Kind::kFlush, .exptime = has_delay ? delay : 0, .version = cut});
}

}  // namespace rc::engine
