// engine/meta.cc -- the meta commands (mg, ms, md, ma, me) over the Store, with memcached
// 1.6.18's semantics and counters (proto_text.c process_mget_command, process_mset_command +
// _finalize_mset, process_mdelete_command, process_marithmetic_command, process_meta_command;
// memcached.c do_store_item, do_add_delta).
//
// The anti-stampede protocol in one paragraph: `md <key> I` (or a late `ms ... C<old cas> I`)
// marks an item stale instead of removing it. The next `mg` gets the stale value with X and W:
// it won the right to recompute. Everyone after it gets X and Z (someone else is on it) until a
// fresh set replaces the item. `mg <key> N<ttl>` does the same for a missing key, by linking an
// empty placeholder, and `mg <key> R<ttl>` hands out one W when the TTL left drops below <ttl>.
// The store keeps the stale / win-sent bits and applies all of it under the item's lock
// (Store::MetaGet); this file maps flags to store calls and counts.
//
// Counters, as 1.6.18 keeps them: mg counts as get (or as touch when T applied to an item;
// vivified items count as hits); ms counts cmd_set once the data block is in, plus cas_* in CAS
// mode; md counts delete_hits only for a real delete; ma counts incr/decr hits and misses, not
// when it creates the item; only me counts cmd_meta. Every lookup that meets an expired or
// flushed item counts get_expired / get_flushed, as memcached's do_item_get does.
#include <algorithm>
#include <charconv>

#include "ringcached/engine/engine.h"
#include "ringcached/proto/text_reply.h"

namespace rc::engine {
namespace {

using proto::MetaRequest;
using proto::MetaStatus;

// memcached's ITEM_ntotal: its 48-byte header, 8 bytes of CAS when CAS is on, the key and its
// NUL, the value and "\r\n", and 4 bytes of client flags when they are non-zero. `me` reports it.
constexpr std::uint64_t kMemcachedHeader = 48;

void CountLookupMiss(store::MissReason reason, CommandStats* stats) {
  if (reason == store::MissReason::kExpired) stats->get_expired.Add();
  if (reason == store::MissReason::kFlushed) stats->get_flushed.Add();
}

// Whether flag `a` comes before flag `b` in the request (false if `a` is absent).
bool Before(const MetaRequest& req, char a, char b) {
  for (std::size_t i = 0; i < req.nflags; ++i) {
    if (req.flags[i] == b) return false;
    if (req.flags[i] == a) return true;
  }
  return false;
}

// The `t` flag: -1 for no expiry, else the seconds left, computed in 32 bits as memcached does
// (an expiry already past would wrap; it can only be reached through a T in the past).
std::int64_t TtlLeft(base::RelTime exptime, base::RelTime now) {
  if (exptime == 0) return -1;
  return static_cast<std::uint32_t>(exptime - now);
}

store::Mode StoreMode(const MetaRequest& req) {
  const bool has_cas = req.Has('C');
  switch (req.set_mode()) {
    case proto::MetaSetMode::kAdd: return store::Mode::kAdd;
    case proto::MetaSetMode::kAppend: return store::Mode::kAppend;
    case proto::MetaSetMode::kPrepend: return store::Mode::kPrepend;
    // A CAS turns set into cas, and replace too (replace + cas works as cas).
    case proto::MetaSetMode::kReplace: return has_cas ? store::Mode::kCas : store::Mode::kReplace;
    case proto::MetaSetMode::kSet: break;
  }
  return has_cas ? store::Mode::kCas : store::Mode::kSet;
}

// The version a write takes: E's token (admitted by Engine::AdmitMetaCas), else 0 to mint one.
std::uint64_t NewCas(const MetaRequest& req) { return req.Has('E') ? req.new_cas : 0; }

MetaStatus StatusOf(store::Outcome outcome) {
  switch (outcome) {
    case store::Outcome::kStored: return MetaStatus::kHD;
    case store::Outcome::kExists: return MetaStatus::kEX;
    case store::Outcome::kNotFound: return MetaStatus::kNF;
    default: return MetaStatus::kNS;
  }
}

}  // namespace

bool Engine::AdmitMetaCas(const MetaRequest& req) {
  if (!req.Has('E')) return true;
  // mg uses E only to vivify (memcached 1.6.27 likewise ignores it otherwise), or as a peer's
  // TTL stamp.
  if (req.command == proto::MetaCommand::kGet && !req.Has('N') && !req.Has('Y')) return true;
  if (req.command == proto::MetaCommand::kNoop || req.command == proto::MetaCommand::kDebug) {
    return true;
  }
  return store_->versions().Admit(req.new_cas);
}

bool Engine::IsPeerWrite(const MetaRequest& req) {
  if (!req.Has('Y')) return false;
  if (IsAccessHint(req)) return true;
  if (!req.Has('E')) return false;
  switch (req.command) {
    case proto::MetaCommand::kSet:
      return !req.Has('C') && req.set_mode() == proto::MetaSetMode::kSet;
    case proto::MetaCommand::kDelete:
      return !req.Has('C') && !req.Has('T');
    case proto::MetaCommand::kGet:
      return req.Has('T') && req.Has('C') && !req.Has('N');
    default:
      return false;
  }
}

bool Engine::IsAccessHint(const MetaRequest& req) {
  if (req.command != proto::MetaCommand::kGet || !req.Has('Y')) return false;
  for (std::size_t i = 0; i < req.nflags; ++i) {
    if (req.flags[i] != 'Y' && req.flags[i] != 'b') return false;
  }
  return true;
}

bool Engine::AccessHint(std::string_view key) { return static_cast<bool>(store_->Get(key).item); }

MetaGetResult Engine::MetaGet(const MetaRequest& req, CommandStats* stats) {
  if (IsAccessHint(req)) {
    // A peer's access hint: its clients read this key there, so it counts as read here too
    // (eviction keeps it as the owner would). Nothing is counted as client traffic.
    MetaGetResult result;
    result.info.key = req.key();
    result.info.key_binary = req.key_binary;
    result.info.status = AccessHint(req.key()) ? MetaStatus::kHD : MetaStatus::kEN;
    return result;
  }
  if (req.Has('Y')) {
    // A peer's TTL change: applied if the item holds the value it was made on and its own TTL
    // stamp is older (store.h ApplyTtl).
    MetaGetResult result;
    result.info.key = req.key();
    result.info.key_binary = req.key_binary;
    store::Outcome o;
    {
      base::MovableLock fence = Fence(req.key());
      o = store_->ApplyTtl(req.key(), req.cas, req.new_cas, clock_->ToRelTime(req.ttl));
    }
    result.info.status = o == store::Outcome::kTouched  ? MetaStatus::kHD
                         : o == store::Outcome::kExists ? MetaStatus::kEX
                                                        : MetaStatus::kNF;
    if (o == store::Outcome::kTouched) {
      Notify({.kind = WriteEvent::Kind::kTouch, .key = req.key(), .exptime = req.ttl,
              .version = req.cas, .ttl_stamp = req.new_cas, .from_peer = true});
    }
    return result;
  }
  store::MetaGetOptions options;
  options.bump = !req.Has('u');
  for (std::size_t i = 0; i < req.nflags && options.nsteps < options.steps.size(); ++i) {
    switch (req.flags[i]) {
      case 'T':
        options.steps[options.nsteps++] = store::MetaStep::kTouch;
        options.touch_exptime = clock_->ToRelTime(req.ttl);
        break;
      case 'N':
        options.steps[options.nsteps++] = store::MetaStep::kVivify;
        options.vivify = true;
        options.vivify_exptime = clock_->ToRelTime(req.vivify_ttl);
        // memcached's vivified item does not remember a `b` key, so `k` would then print raw
        // bytes; ours does.
        options.vivify_key_binary = req.key_binary;
        options.vivify_version = NewCas(req);
        break;
      case 'R':
        options.steps[options.nsteps++] = store::MetaStep::kRecache;
        options.recache_before = clock_->ToRelTime(req.recache_ttl);
        break;
      case 't':
        options.steps[options.nsteps++] = store::MetaStep::kReadExpiry;
        break;
      default:
        break;
    }
  }

  // Fenced: a miss, and nothing vivified (its win would be one this node cannot keep).
  store::MetaLookup found = Fenced() ? store::MetaLookup{} : store_->MetaGet(req.key(), options);
  const base::RelTime now = clock_->Now();
  MetaGetResult result;
  proto::MetaReplyInfo& info = result.info;
  CountLookupMiss(found.reason, stats);
  if (!found.item) {
    // A miss counts as a get even with T: memcached only learns of the touch on a hit.
    stats->cmd_get.Add();
    stats->get_misses.Add();
    info.status = MetaStatus::kEN;
    info.key = req.key();
    info.key_binary = req.key_binary;
    return result;
  }

  const store::ItemRef& item = found.item;
  ClassCommandStats& per_class = stats->ForClass(item.class_id());
  if (found.touched) {
    stats->cmd_touch.Add();
    stats->touch_hits.Add();
    per_class.touch_hits.Add();
    Notify({.kind = WriteEvent::Kind::kTouch, .key = req.key(), .item = &item,
            .exptime = req.ttl, .ttl_stamp = found.ttl_stamp});
  } else {
    stats->cmd_get.Add();
    stats->get_hits.Add();
    per_class.get_hits.Add();
  }
  // A vivified placeholder is a local lease, not data: the write observer does not hear of it.

  info.status = req.Has('v') ? MetaStatus::kVA : MetaStatus::kHD;
  info.value_len = static_cast<std::uint32_t>(item.value().size());
  info.client_flags = item.flags();
  info.cas = item.cas();
  info.ttl = TtlLeft(found.exptime, now);
  info.idle = now - found.last_access;
  info.fetched = found.fetched;
  info.win = found.won;
  info.stale = found.stale;
  info.win_sent = found.win_token_was_sent;
  info.created = found.created;
  info.key = item.key();
  info.key_binary = item.key_binary();
  result.item = std::move(found.item);
  return result;
}

proto::MetaReplyInfo Engine::MetaFilledInfo(const MetaRequest& req,
                                            const store::ItemRef& item) const {
  proto::MetaReplyInfo info;
  info.status = req.Has('v') ? MetaStatus::kVA : MetaStatus::kHD;
  info.value_len = static_cast<std::uint32_t>(item.value().size());
  info.client_flags = item.flags();
  info.cas = item.cas();
  info.ttl = TtlLeft(item.exptime(), clock_->Now());
  info.idle = 0;  // just stored; nobody had read it before this request
  info.key = item.key();
  info.key_binary = req.key_binary;
  return info;
}

store::Allocation Engine::BeginMetaSet(const MetaRequest& req, CommandStats* stats) {
  const bool peer = req.Has('Y');
  // A peer's copy that is not newer (a resync sends what the node mostly has) takes no memory.
  if (peer && !store_->Newer(req.key(), req.new_cas)) {
    return store::Allocation{.outcome = store::Outcome::kExists};
  }
  store::Allocation alloc = store_->Allocate(req.key(), req.client_flags,
                                             clock_->ToRelTime(req.ttl), req.value_len);
  if (peer && !alloc.item) {
    // No room for a newer copy: the older one here goes, quietly (the peer's write, not a
    // client's delete), under a tombstone just older than the copy, which a resend still beats.
    base::MovableLock fence = Fence(req.key());
    store_->Delete(req.key(), store::DeleteOptions{.version = req.new_cas - 1, .if_newer = true});
    return alloc;
  }
  if (alloc.outcome == store::Outcome::kTooLarge || alloc.outcome == store::Outcome::kNoMemory) {
    (alloc.outcome == store::Outcome::kTooLarge ? stats->store_too_large : stats->store_no_memory)
        .Add();
    // "Avoid stale data persisting in cache because we failed alloc", in every mode.
    DeleteRefused(req.key());
    return alloc;
  }
  alloc.item.set_key_binary(req.key_binary);
  return alloc;
}

proto::MetaReplyInfo Engine::CompleteMetaSet(const MetaRequest& req, store::ItemRef* item,
                                             CommandStats* stats) {
  if (req.Has('Y')) {
    // A peer's copy: linked only if newer than this node's item or tombstone (store.h), counted
    // apart from client sets.
    store::Outcome outcome;
    {
      base::MovableLock fence = Fence(item->key());
      outcome = store_->Put(item, store::Mode::kSet, 0,
                            {.version = req.new_cas, .if_newer = true});
    }
    proto::MetaReplyInfo info;
    info.status = outcome == store::Outcome::kStored ? MetaStatus::kHD : MetaStatus::kEX;
    info.key = item->key();
    info.key_binary = req.key_binary;
    if (outcome == store::Outcome::kStored) {
      Notify({.kind = WriteEvent::Kind::kStore, .key = item->key(), .item = item,
              .from_peer = true});
    }
    return info;
  }
  stats->cmd_set.Add();
  ClassCommandStats& per_class = stats->ForClass(item->class_id());
  per_class.cmd_set.Add();
  const store::Mode mode = StoreMode(req);
  // add ignores a CAS; append and prepend compare it when it is non-zero; cas compares it.
  const std::uint64_t cas = mode == store::Mode::kAdd ? 0 : req.cas;
  // I only matters in CAS mode (memcached sets set_stale only for NREAD_CAS).
  const store::PutOptions options{.allow_stale = mode == store::Mode::kCas && req.Has('I'),
                                  .version = NewCas(req)};
  store::Outcome outcome;
  {
    base::MovableLock fence = Fence(item->key());
    outcome = store_->Put(item, mode, cas, options);
  }
  if (mode == store::Mode::kCas) {
    if (outcome == store::Outcome::kStored) {
      stats->cas_hits.Add();
      per_class.cas_hits.Add();
    } else if (outcome == store::Outcome::kExists) {
      stats->cas_badval.Add();
      per_class.cas_badval.Add();
    } else if (outcome == store::Outcome::kNotFound) {
      stats->cas_misses.Add();
    }
  }

  proto::MetaReplyInfo info;
  info.status = StatusOf(outcome);
  // memcached clears the connection's CAS before storing and sets it only on success.
  info.cas = outcome == store::Outcome::kStored ? item->cas() : 0;
  info.key = item->key();
  info.key_binary = req.key_binary;
  if (outcome == store::Outcome::kStored) {
    Notify({.kind = WriteEvent::Kind::kStore, .key = item->key(), .item = item});
  }
  return info;
}

proto::MetaReplyInfo Engine::MetaDelete(const MetaRequest& req, CommandStats* stats) {
  store::DeleteOptions options;
  options.compare_cas = req.Has('C');
  options.cas = req.cas;
  options.invalidate = req.Has('I');
  options.set_exptime = req.Has('T');
  options.exptime = clock_->ToRelTime(req.ttl);
  options.version = NewCas(req);
  options.if_newer = req.Has('Y');  // a peer's delete: its tombstone, if newer
  store::DeleteResult r;
  {
    base::MovableLock fence = Fence(req.key());
    r = store_->Delete(req.key(), options);
  }

  proto::MetaReplyInfo info;
  info.key = req.key();
  info.key_binary = req.key_binary;
  if (options.if_newer) {
    info.status = r.outcome == store::Outcome::kExists ? MetaStatus::kEX : MetaStatus::kHD;
    if (r.invalidated) {
      Notify({.kind = WriteEvent::Kind::kInvalidate, .key = req.key(), .version = r.version,
              .from_peer = true});
    } else if (r.outcome != store::Outcome::kExists && !options.invalidate) {
      Notify({.kind = WriteEvent::Kind::kDelete, .key = req.key(),
              .hit = r.outcome == store::Outcome::kDeleted, .version = r.version,
              .from_peer = true});
    }
    return info;
  }
  switch (r.outcome) {
    case store::Outcome::kDeleted:
      info.status = MetaStatus::kHD;
      if (r.invalidated) {
        // An invalidation is not a delete: memcached counts nothing for it.
        Notify({.kind = WriteEvent::Kind::kInvalidate, .key = req.key(), .version = r.version});
        if (options.set_exptime) {
          Notify({.kind = WriteEvent::Kind::kTouch, .key = req.key(), .exptime = req.ttl,
                  .version = r.version, .ttl_stamp = r.version});
        }
      } else {
        stats->delete_hits.Add();
        stats->ForClass(r.class_id).delete_hits.Add();
        Notify({.kind = WriteEvent::Kind::kDelete, .key = req.key(), .version = r.version});
      }
      break;
    case store::Outcome::kExists:
      stats->delete_misses.Add();
      info.status = MetaStatus::kEX;
      break;
    default:
      CountLookupMiss(r.reason, stats);
      stats->delete_misses.Add();
      info.status = MetaStatus::kNF;
      // An invalidation of a missing key deletes nothing anywhere; a delete miss is a tombstone.
      if (!options.invalidate) {
        Notify({.kind = WriteEvent::Kind::kDelete, .key = req.key(), .hit = false,
                .version = r.version});
      }
      break;
  }
  return info;
}

MetaArithmeticResult Engine::MetaArithmetic(const MetaRequest& req, CommandStats* stats) {
  const bool incr = req.incr();
  store::IncrOptions options;
  options.compare_cas = req.Has('C') ? req.cas : 0;  // C0 compares nothing (do_add_delta)
  options.touch = req.Has('T');
  options.new_exptime = clock_->ToRelTime(req.ttl);
  options.version = NewCas(req);
  const bool value = req.Has('v');
  const base::RelTime now = clock_->Now();

  MetaArithmeticResult result;
  proto::MetaReplyInfo& info = result.info;
  info.key = req.key();
  info.key_binary = req.key_binary;

  // Two tries: if our create loses a race with another client's, increment theirs. (memcached
  // holds the item lock across the lookup and the create, so it never sees that race.)
  for (int attempt = 0; attempt < 2; ++attempt) {
    store::IncrResult r;
    {
      base::MovableLock fence = Fence(req.key());
      r = store_->IncrDecr(req.key(), incr, req.delta, options);
    }
    switch (r.outcome) {
      case store::Outcome::kStored: {
        (incr ? stats->incr_hits : stats->decr_hits).Add();
        ClassCommandStats& per_class = stats->ForClass(r.class_id);
        (incr ? per_class.incr_hits : per_class.decr_hits).Add();
        Notify({.kind = WriteEvent::Kind::kArithmetic, .key = req.key(), .item = &r.item});
        if (options.touch) {
          // The TTL came with the new number: its stamp is the new item's version.
          Notify({.kind = WriteEvent::Kind::kTouch, .key = req.key(), .item = &r.item,
                  .exptime = req.ttl, .ttl_stamp = r.item.version()});
        }
        info.status = value ? MetaStatus::kVA : MetaStatus::kHD;
        info.number = r.value;
        info.cas = r.cas;
        info.ttl = TtlLeft(Before(req, 't', 'T') ? r.exptime_before : r.exptime, now);
        return result;
      }
      case store::Outcome::kNonNumeric:
        result.error = proto::kNonNumeric;
        return result;
      case store::Outcome::kNoMemory:
        result.error = proto::kIncrNoMemory;
        return result;
      case store::Outcome::kExists:
        info.status = MetaStatus::kEX;
        return result;
      default:
        break;
    }

    // Not found.
    if (attempt == 0) CountLookupMiss(r.reason, stats);
    if (!req.Has('N')) {
      (incr ? stats->incr_misses : stats->decr_misses).Add();
      info.status = MetaStatus::kNF;
      return result;
    }
    // Create the item with J as its value. Its expiry is whatever N and T set last, in request
    // order, and `t` shows it as of its own position (memcached starts the item at 0, "never").
    base::RelTime exptime = 0;
    base::RelTime seen = 0;
    for (std::size_t i = 0; i < req.nflags; ++i) {
      if (req.flags[i] == 'N') exptime = clock_->ToRelTime(req.vivify_ttl);
      if (req.flags[i] == 'T') exptime = clock_->ToRelTime(req.ttl);
      if (req.flags[i] == 't') seen = exptime;
    }
    char digits[20];
    const auto len = static_cast<std::uint32_t>(std::to_chars(digits, digits + 20, req.initial).ptr -
                                                digits);
    store::Allocation alloc = store_->Allocate(req.key(), 0, exptime, len);
    if (!alloc.item) {
      result.error = proto::kMetaCreateNoMemory;
      return result;
    }
    alloc.item.set_key_binary(req.key_binary);
    std::copy(digits, digits + len, alloc.item.writable_value());
    store::Outcome added;
    {
      base::MovableLock fence = Fence(req.key());
      added = store_->Put(&alloc.item, store::Mode::kAdd, 0, {.version = NewCas(req)});
    }
    if (added == store::Outcome::kStored) {
      Notify({.kind = WriteEvent::Kind::kStore, .key = req.key(), .item = &alloc.item});
      info.status = value ? MetaStatus::kVA : MetaStatus::kHD;
      info.number = req.initial;
      info.cas = alloc.item.cas();
      info.ttl = TtlLeft(seen, now);
      info.created = true;
      return result;
    }
  }
  info.status = MetaStatus::kNS;
  return result;
}

bool Engine::MetaDebug(const MetaRequest& req, proto::MetaDebugInfo* info, CommandStats* stats) {
  stats->cmd_meta.Add();
  store::Lookup found =
      Fenced() ? store::Lookup{} : store_->Get(req.key(), store::GetOptions{.bump = false});
  if (!found.item) {
    CountLookupMiss(found.reason, stats);
    return false;
  }
  const store::ItemRef& item = found.item;
  const base::RelTime now = clock_->Now();
  const base::RelTime exptime = item.exptime();
  info->key = req.key();
  info->key_binary = item.key_binary();
  // memcached prints (current_time - exptime) with %d: the seconds left, negated.
  info->exp = exptime == 0 ? -1 : static_cast<std::int32_t>(now - exptime);
  info->la = now - item.last_access();
  info->cas = item.cas();
  info->fetched = item.fetched();
  info->cls = item.class_id();
  info->size = kMemcachedHeader + (item.cas() != 0 ? 8 : 0) + item.key().size() + 1 +
               item.value().size() + 2 + (item.flags() != 0 ? 4 : 0);
  return true;
}

}  // namespace rc::engine
