// server/text_commands.cc -- the text protocol's commands, executed for a Session.
//
// Each command maps onto the engine (data commands) or the server (admin commands) and queues
// its reply with memcached 1.6.18's exact strings (../shared/PROTOCOL.md section 3a). noreply
// suppresses every reply of a command that parsed far enough to see it, errors included.
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "ringcached/base/log.h"
#include "ringcached/base/uri.h"
#include "ringcached/base/version.h"
#include "ringcached/cluster/discovery.h"
#include "ringcached/proto/text_reply.h"
#include "server/session.h"
#include "server/item_pin.h"
#include "server/stats.h"
#include "server/watchers.h"

namespace rc::server {

std::string_view TextReplyFor(store::Outcome outcome) {
  switch (outcome) {
    case store::Outcome::kStored: return proto::kStored;
    case store::Outcome::kNotStored: return proto::kNotStored;
    case store::Outcome::kExists: return proto::kExists;
    case store::Outcome::kNotFound: return proto::kNotFound;
    case store::Outcome::kDeleted: return proto::kDeleted;
    case store::Outcome::kTouched: return proto::kTouched;
    case store::Outcome::kTooLarge: return proto::kTooLarge;
    case store::Outcome::kNoMemory: return proto::kNoMemory;
    case store::Outcome::kNonNumeric: return proto::kNonNumeric;
  }
  return proto::kErrorReply;
}

namespace {

using proto::Command;

// strtol-style parse of a whole token; false on junk, as memcached's safe_strtol.
bool ParseInt(std::string_view token, long long* out) {
  if (token.empty() || token.size() > 20) return false;
  std::string s(token);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

void Session::ReplyText(const proto::Request& req, std::string_view line) {
  if (!req.noreply) out_->Append(line);
}

bool Session::ExecuteText(const proto::Request& req) {
  engine::Engine& engine = *context_->engine;
  engine::CommandStats* stats = context_->command_stats;
  const Settings& settings = *context_->settings;
  switch (req.command) {
    case Command::kGet:
    case Command::kGets:
    case Command::kGat:
    case Command::kGats:
      ProcessRetrieval(req);
      return true;
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kAppend:
    case Command::kPrepend:
    case Command::kCas:
      BeginStorage(req);
      return true;
    case Command::kDelete: {
      store::Outcome outcome = engine.Delete(req.key, stats);
      if (context_->runtime->detail_enabled.load(std::memory_order_relaxed)) {
        context_->prefix_stats->Record(req.key, settings.prefix_delimiter,
                                       PrefixStats::Op::kDelete, false);
      }
      ReplyText(req, TextReplyFor(outcome));
      return true;
    }
    case Command::kIncr:
    case Command::kDecr: {
      if (ForwardTextArithmetic(req)) return true;
      store::IncrResult r = engine.Arithmetic(req.key, req.command == Command::kIncr, req.delta,
                                              stats);
      if (r.outcome == store::Outcome::kStored) {
        if (!req.noreply) {
          char* p = out_->Reserve(22);
          std::size_t n = proto::FormatUint64(p, r.value);
          p[n] = '\r';
          p[n + 1] = '\n';
          out_->Commit(n + 2);
        }
      } else if (r.outcome == store::Outcome::kNoMemory) {
        ReplyText(req, proto::kIncrNoMemory);
      } else {
        ReplyText(req, TextReplyFor(r.outcome));
      }
      return true;
    }
    case Command::kTouch:
      ReplyText(req, TextReplyFor(engine.Touch(req.key, req.exptime, stats)));
      return true;
    case Command::kFlushAll:
      if (!settings.flush_enabled) {
        // Still counted, as memcached does (t/flush-all.t with -F).
        stats->cmd_flush.Add();
        ReplyText(req, "CLIENT_ERROR flush_all not allowed\r\n");
        return true;
      }
      engine.FlushAll(req.exptime, req.has_number, stats);
      // `stats settings` shows the flush time as "oldest" (memcached settings.oldest_live).
      context_->runtime->oldest_live.store(
          req.has_number && req.exptime > 0 ? context_->clock->ToRelTime(req.exptime) - 1
                                            : context_->clock->Now() - 1);
      ReplyText(req, proto::kOkReply);
      return true;
    case Command::kVersion:
      out_->Append("VERSION " RC_MEMCACHED_VERSION "\r\n");
      return true;
    case Command::kVerbosity:
      context_->runtime->verbose.store(static_cast<int>(req.number), std::memory_order_relaxed);
      base::SetLogVerbosity(static_cast<int>(req.number));
      ReplyText(req, proto::kOkReply);
      return true;
    case Command::kQuit:
      close_after_write_ = true;
      return true;
    case Command::kCacheMemlimit:
      if (req.number < 8) {
        ReplyText(req, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n");
      } else if (req.number > 1000000000) {
        ReplyText(req, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n");
      } else {
        std::size_t bytes = static_cast<std::size_t>(req.number) << 20;
        context_->admin->SetMemoryLimit(bytes);
        ReplyText(req, proto::kOkReply);
      }
      return true;
    case Command::kShutdown:
      if (!settings.enable_shutdown) {
        out_->Append("ERROR: shutdown not enabled\r\n");
        return true;
      }
      if (req.ntokens == 1) {
        context_->admin->RequestStop(false);
      } else if (req.ntokens == 2 && req.tokens[1] == "graceful") {
        context_->admin->RequestStop(true);
      } else {
        out_->Append("CLIENT_ERROR invalid shutdown mode\r\n");
        return true;
      }
      return false;  // memcached closes the connection that asked
    default:
      ProcessAdmin(req);
      return true;
  }
}

void Session::ProcessRetrieval(const proto::Request& req) {
  engine::Engine& engine = *context_->engine;
  engine::CommandStats* stats = context_->command_stats;
  const bool with_cas = req.command == Command::kGets || req.command == Command::kGats;
  const bool touch = req.command == Command::kGat || req.command == Command::kGats;
  const bool detail = context_->runtime->detail_enabled.load(std::memory_order_relaxed);
  net::OutQueue::Mark mark = out_->GetMark();
  proto::KeyIterator keys(req.keys);
  std::string_view key;
  while (keys.Next(&key)) {
    if (key.size() > proto::kMaxKeyLength) {
      // memcached looks keys up in order and fails at the long one, dropping the replies queued
      // for the keys before it (their lookups still count), and those waiting for the origin.
      out_->Rollback(mark);
      parked_.reset();
      out_->Append(proto::kBadFormat);
      return;
    }
    // ElastiCache's legacy discovery key answers with the cluster's configuration (a plain get
    // only; in a single node it is an ordinary key). Behind a key waiting for the origin it is
    // looked up as an ordinary key too: its reply would otherwise overtake the filled one.
    if (!touch && !with_cas && parked_ == nullptr && key == cluster::kLegacyDiscoveryKey &&
        AppendDiscoveryValue()) {
      continue;
    }
    store::ItemRef item = touch ? engine.GetAndTouch(key, req.exptime, stats)
                                : engine.Get(key, stats);
    if (detail) {
      context_->prefix_stats->Record(key, context_->settings->prefix_delimiter,
                                     PrefixStats::Op::kGet, static_cast<bool>(item));
    }
    if (context_->watchers->mask() & kWatchFetchers) {
      std::string body = "type=item_get key=";
      base::AppendUriEncoded(key, &body);
      body += item ? " status=found clsid=" + std::to_string(item.class_id())
                   : " status=not_found clsid=0";
      body += " cfd=" + std::to_string(record_->fd) +
              " size=" + std::to_string(item ? item.value().size() : 0);
      context_->watchers->Emit(kWatchFetchers, body);
    }
    if (!item) {
      // Read-through: the key's VALUE (if the origin has one) comes when the fill does.
      if (WantsFill(key)) {
        WaitForFill(Parked::Kind::kText, key);
        parked_->with_cas = with_cas;
      }
      continue;
    }
    if (context_->read_sampler != nullptr) {
      context_->read_sampler->OnRead(key, item.value().size());
    }
    if (parked_ != nullptr) {
      AddFilledPart(std::move(item));  // after a key that waits: keep the order
      continue;
    }
    AppendValueReply(std::move(item), with_cas);
  }
  if (parked_ != nullptr) return;  // the fill answers the rest, END included
  out_->Append(proto::kEnd);
}

void Session::AppendValueReply(store::ItemRef item, bool with_cas) {
  char* p = out_->Reserve(proto::kMaxValueHeader);
  out_->Commit(proto::FormatValueHeader(p, item.key(), item.flags(),
                                       static_cast<std::uint32_t>(item.value().size()), with_cas,
                                       item.cas()));
  QueueValue(out_, std::move(item));
}

void Session::BeginStorage(const proto::Request& req) {
  if (context_->runtime->detail_enabled.load(std::memory_order_relaxed)) {
    context_->prefix_stats->Record(req.key, context_->settings->prefix_delimiter,
                                   PrefixStats::Op::kSet, false);
  }
  store::Allocation alloc = context_->engine->BeginStore(req, context_->command_stats);
  if (!alloc.item) {
    // The line was fine but the item cannot be stored: answer, and discard the data block.
    ReplyText(req, TextReplyFor(alloc.outcome));
    swallow_left_ = static_cast<std::size_t>(req.value_len) + 2;
    SetState(State::kSwallow);
    return;
  }
  pending_.command = req.command;
  pending_.cas_unique = req.cas_unique;
  pending_.noreply = req.noreply;
  pending_.binary = false;
  pending_.meta = false;
  pending_.item = std::move(alloc.item);
  pending_.filled = 0;
  pending_.total = static_cast<std::size_t>(req.value_len) + 2;
  SetState(State::kReadValue);
}

void Session::FinishStorage() {
  if (pending_.binary) {
    FinishBinaryStorage();
    return;
  }
  if (pending_.meta) {
    FinishMetaSet();
    return;
  }
  proto::Request req;
  req.command = pending_.command;
  req.cas_unique = pending_.cas_unique;
  req.noreply = pending_.noreply;
  const char* end = pending_.tail;
  if (end[0] != '\r' || end[1] != '\n') {
    // memcached reads exactly <bytes>+2 and checks the last two (PROTOCOL.md section 1).
    ReplyText(req, proto::kBadDataChunk);
    context_->engine->AbandonStore(pending_.item, context_->command_stats);
    pending_.item.Reset();
    return;
  }
  if (ForwardTextStore(req.command, req.cas_unique, req.noreply, pending_.item)) {
    pending_.item.Reset();
    return;
  }
  store::Outcome outcome =
      context_->engine->CompleteStore(req, &pending_.item, context_->command_stats);
  LogStore(pending_.item, outcome, req.command);
  pending_.item.Reset();
  ReplyText(req, TextReplyFor(outcome));
}

void Session::LogStore(const store::ItemRef& item, store::Outcome outcome, Command command) {
  if ((context_->watchers->mask() & kWatchMutations) == 0) return;
  static const char* const kCommands[] = {"set", "add", "replace", "append", "prepend", "cas"};
  static const char* const kStatus[] = {"stored", "not_stored", "exists", "not_found", "stored",
                                        "stored", "too_large", "no_memory", "not_stored"};
  base::RelTime exptime = item.exptime();
  base::RelTime now = context_->clock->Now();
  std::string body = "type=item_store key=";
  base::AppendUriEncoded(item.key(), &body);
  body += std::string(" status=") + kStatus[static_cast<int>(outcome)] +
          " cmd=" + kCommands[static_cast<int>(command) - static_cast<int>(Command::kSet)] +
          " ttl=" + std::to_string(exptime == 0 ? 0 : (exptime > now ? exptime - now : 0)) +
          " clsid=" + std::to_string(item.class_id()) + " cfd=" + std::to_string(record_->fd) +
          " size=" + std::to_string(item.value().size());
  context_->watchers->Emit(kWatchMutations, body);
}

void Session::ProcessAdmin(const proto::Request& req) {
  const Settings& settings = *context_->settings;
  std::string_view sub = req.ntokens > 1 ? req.tokens[1] : std::string_view();
  switch (req.command) {
    case Command::kStats:
      ProcessStats(req);
      return;
    case Command::kSlabs: {
      long long v = 0;
      if (sub == "automove" && req.ntokens == 3) {
        if (!ParseInt(req.tokens[2], &v)) {
          out_->Append(proto::kBadFormat);
        } else if (v < 0 || v > 2) {
          out_->Append(proto::kErrorReply);
        } else {
          context_->runtime->slab_automove.store(static_cast<int>(v));
          out_->Append(proto::kOkReply);
        }
        return;
      }
      if (sub == "reassign" && req.ntokens == 4) {
        long long src = 0, dst = 0;
        if (!settings.slab_reassign) {
          out_->Append("CLIENT_ERROR slab reassignment disabled\r\n");
        } else if (!ParseInt(req.tokens[2], &src) || !ParseInt(req.tokens[3], &dst)) {
          out_->Append(proto::kBadFormat);
        } else if (src == dst) {
          out_->Append("SAME src and dst class are identical\r\n");
        } else if (src < -1 || src == 0 || src > 63 || dst < 1 || dst > 63) {
          out_->Append("BADCLASS invalid src or dst class id\r\n");
        } else {
          // Items are allocated per jemalloc size class on demand, so no class ever holds pages
          // another needs: there is never anything to move (doc/deviations.md).
          out_->Append("NOSPARE source class has no spare pages\r\n");
        }
        return;
      }
      out_->Append(proto::kErrorReply);
      return;
    }
    case Command::kLru: {
      // Accepted for compatibility; the store has one eviction policy (doc/store.md).
      long long v = 0;
      RuntimeSettings& rt = *context_->runtime;
      if (sub == "mode" && req.ntokens == 3 &&
          (req.tokens[2] == "flat" || req.tokens[2] == "segmented")) {
        rt.lru_segmented.store(req.tokens[2] == "segmented");
        out_->Append(proto::kOkReply);
      } else if (sub == "temp_ttl" && req.ntokens == 3 && ParseInt(req.tokens[2], &v)) {
        // memcached: a negative TTL turns the temporary LRU off, anything else turns it on.
        rt.temp_lru.store(v >= 0);
        rt.temporary_ttl.store(static_cast<int>(v < 0 ? 0 : v));
        out_->Append(proto::kOkReply);
      } else if (sub == "tune" && req.ntokens == 6) {
        long long hot = 0, warm = 0;
        double hf = std::atof(std::string(req.tokens[4]).c_str());
        double wf = std::atof(std::string(req.tokens[5]).c_str());
        if (!ParseInt(req.tokens[2], &hot) || !ParseInt(req.tokens[3], &warm)) {
          out_->Append(proto::kErrorReply);
        } else if (hot + warm > 80) {
          out_->Append("ERROR hot and warm pcts must not exceed 80\r\n");
        } else if (hf <= 0 || wf <= 0) {
          out_->Append("ERROR hot/warm age factors must be greater than 0\r\n");
        } else {
          out_->Append(proto::kOkReply);
        }
      } else {
        out_->Append(proto::kErrorReply);
      }
      return;
    }
    case Command::kLruCrawler:
      ProcessLruCrawler(req);
      return;
    case Command::kWatch:
      ProcessWatch(req);
      return;
    case Command::kConfig:
      ProcessConfig(req);
      return;
    case Command::kPeer:
      ProcessPeer(req);
      return;
    case Command::kDebugTime: {
#ifdef RC_DEBUG
      long long shift = 0;
      if (req.ntokens == 2 && ParseInt(req.tokens[1], &shift)) {
        context_->clock->Shift(shift);
        out_->Append(proto::kOkReply);
        return;
      }
#endif
      out_->Append(proto::kErrorReply);
      return;
    }
    default:
      out_->Append(proto::kErrorReply);
      return;
  }
}

void Session::ProcessLruCrawler(const proto::Request& req) {
  std::string_view sub = req.ntokens > 1 ? req.tokens[1] : std::string_view();
  long long v = 0;
  RuntimeSettings& rt = *context_->runtime;
  if (sub == "enable" && req.ntokens == 2) {
    rt.lru_crawler.store(true);
    out_->Append(proto::kOkReply);
  } else if (sub == "disable" && req.ntokens == 2) {
    rt.lru_crawler.store(false);
    out_->Append(proto::kOkReply);
  } else if (sub == "sleep" && req.ntokens == 3) {
    if (!ParseInt(req.tokens[2], &v)) {
      out_->Append(proto::kBadFormat);
    } else if (v > 1000000 || v < 0) {
      out_->Append("CLIENT_ERROR sleep must be one second or less\r\n");
    } else {
      out_->Append(proto::kOkReply);
    }
  } else if (sub == "tocrawl" && req.ntokens == 3) {
    if (!ParseInt(req.tokens[2], &v)) {
      out_->Append(proto::kBadFormat);
    } else {
      out_->Append(proto::kOkReply);
    }
  } else if (sub == "crawl" && req.ntokens == 3) {
    if (!rt.lru_crawler.load()) {
      out_->Append("CLIENT_ERROR lru crawler disabled\r\n");
    } else {
      context_->admin->KickCrawler();
      out_->Append(proto::kOkReply);
    }
  } else if ((sub == "metadump" || sub == "mgdump") && req.ntokens == 3) {
    ProcessMetadump(req);
  } else {
    out_->Append(proto::kErrorReply);
  }
}

void Session::ProcessMetadump(const proto::Request& req) {
  if (!context_->settings->dump_enabled) {
    out_->Append("ERROR metadump not allowed\r\n");
    return;
  }
  if (!context_->runtime->lru_crawler.load()) {
    out_->Append("CLIENT_ERROR lru crawler disabled\r\n");
    return;
  }
  context_->admin->AppendMetadump(req.tokens[2], out_);
}

void Session::ProcessStats(const proto::Request& req) {
  std::string_view sub = req.ntokens > 1 ? req.tokens[1] : std::string_view();
  if (sub == "detail") {
    std::string_view arg = req.ntokens > 2 ? req.tokens[2] : std::string_view();
    if (arg == "on") {
      context_->runtime->detail_enabled.store(true);
      out_->Append(proto::kOkReply);
    } else if (arg == "off") {
      context_->runtime->detail_enabled.store(false);
      out_->Append(proto::kOkReply);
    } else if (arg == "dump") {
      out_->Append(context_->prefix_stats->Dump());
    } else {
      out_->Append("CLIENT_ERROR usage: stats detail on|off|dump\r\n");
    }
    return;
  }
  if (sub == "cachedump") {
    if (!context_->settings->dump_enabled) {
      out_->Append("CLIENT_ERROR stats cachedump not allowed\r\n");
      return;
    }
    long long cls = 0, limit = 0;
    if (req.ntokens < 4 || !ParseInt(req.tokens[2], &cls) || !ParseInt(req.tokens[3], &limit)) {
      out_->Append("CLIENT_ERROR bad command line\r\n");
      return;
    }
    if (cls < 1 || cls > kMaxReportedClass) {
      out_->Append("CLIENT_ERROR Illegal slab id\r\n");
      return;
    }
    context_->admin->AppendCachedump(static_cast<unsigned>(cls), limit, out_);
    return;
  }
  if (sub == "reset" && req.ntokens == 2) {
    context_->admin->ResetStats();
    out_->Append(proto::kReset);
    return;
  }
  TextStatSink sink(out_);
  switch (context_->admin->AddStats(sub, &sink)) {
    case StatsResult::kList: out_->Append(proto::kEnd); break;
    case StatsResult::kSingleLine: break;
    case StatsResult::kUnknown: out_->Append(proto::kErrorReply); break;
  }
}

void Session::ProcessWatch(const proto::Request& req) {
  // A UDP "connection" is shared by every datagram's sender: it cannot become a watcher.
  if (!context_->settings->watch_enabled || datagrams_) {
    out_->Append("CLIENT_ERROR watch commands not allowed\r\n");
    return;
  }
  if (more_input_) {
    out_->Append("ERROR cannot pipeline other commands before watch\r\n");
    return;
  }
  unsigned kinds = 0;
  for (std::size_t i = 1; i < req.ntokens; ++i) {
    unsigned kind = WatchKindOf(req.tokens[i]);
    if (kind == 0) {
      out_->Append(proto::kErrorReply);
      return;
    }
    kinds |= kind;
  }
  if (kinds == 0) kinds = kWatchFetchers;  // memcached's default
  // Lines are emitted on any worker and applied here, on this connection's own worker.
  net::EventLoop* loop = context_->loop;
  std::shared_ptr<bool> alive = this->alive();
  Session* self = this;
  int id = context_->watchers->Add(kinds, [loop, alive, self](std::string line) {
    loop->RunInLoop([alive, self, line = std::move(line)] {
      if (*alive) self->DeliverLog(line);
    });
  });
  if (id < 0) {
    out_->Append("WATCHER_TOO_MANY log watcher limit reached\r\n");
    return;
  }
  watcher_id_ = id;
  out_->Append(proto::kOkReply);
  SetState(State::kWatching);
}

void Session::DeliverLog(const std::string& line) {
  // A watcher that does not read loses lines rather than growing the server without bound
  // (memcached: watcher_logbuf_size, log_watcher_skipped).
  if (out_->pending_bytes() + line.size() >
      static_cast<std::size_t>(context_->settings->watcher_logbuf_size)) {
    context_->watchers->CountSkipped();
    return;
  }
  out_->Append(line);
  host_->SendQueued();
}

}  // namespace rc::server
