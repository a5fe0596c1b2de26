// server/hot_key_stats.cc -- the two views of the hot-key list (hot_key_detector.h): `stats
// hotkeys` for operators, and `config get hotkeys` for the client library
// (include/ringcached/client/, doc/client.md), which polls every node about once a second.
//
// `stats hotkeys` (any node with --hot-key-qps above 0; ERROR otherwise, as memcached answers
// an unknown group):
//   hot_key_qps, hot_key_share, hot_key_threshold   the rules, and the rate that made a key hot
//                                                   last window (the share rule can lower it)
//   node_reads_per_sec, hot_keys, hot_keys_version, hot_keys_found, hot_keys_cooled, windows
//   hot_copies_sent, hot_copy_refreshes, hot_copies_resent, hot_copy_deletes,
//   hot_copy_delete_failures                        spreading (with replication only)
//   hotkey:<i>:key         the key (base64 after "b64:" when it is not printable text)
//   hotkey:<i>:reads_per_sec, hotkey:<i>:bytes_per_sec   on this node, last window
//   hotkey:<i>:since       unix time it became hot
//   hotkey:<i>:copies      how many nodes hold it for clients to read (1: only this one)
//   hotkey:<i>:readers     those nodes' ring names, owner first ("-" when this node is not the
//                          owner: a hot copy or a replica read by clients)
//
// `config get hotkeys` (cluster nodes only: a single node answers `config` ERROR, as memcached
// does), in ElastiCache's `config get` framing, payload:
//   <version> <slot> <hot_copy_ttl>\n
//   <base64 key> <reads per second> <reader>,<reader>,...\n     one line per hot key it owns
// `slot` is the connection's own number, given at its first `config get hotkeys` from a
// node-wide count, so consecutive client instances get consecutive slots: a client reads a hot
// key from readers[slot % readers], which spreads instances evenly over the copies.
#include <cinttypes>
#include <cstdio>

#include "ringcached/proto/meta.h"
#include "ringcached/proto/text_reply.h"
#include "server/server.h"
#include "server/stats.h"

namespace rc::server {
namespace {

std::string Base64(std::string_view key) {
  std::string out((key.size() + 2) / 3 * 4 + 4, '\0');
  out.resize(proto::Base64Encode(key.data(), key.size(), out.data()));
  return out;
}

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ',';
    out += n;
  }
  return out;
}

}  // namespace

void AppendHotKeyStats(const Server& server, StatSink& w) {
  const HotKeyDetector& detector = *server.hot_keys();
  std::shared_ptr<const HotKeyDetector::List> list = detector.list();
  char number[32];
  auto fixed = [&](double v) {
    std::snprintf(number, sizeof number, "%.0f", v);
    return std::string(number);
  };
  w.Add("hot_key_qps", server.settings().hot_key_qps);
  std::snprintf(number, sizeof number, "%.2f", server.settings().hot_key_share);
  w.Add("hot_key_share", number);
  w.Add("hot_key_threshold", fixed(list->threshold));
  w.Add("node_reads_per_sec", fixed(list->node_reads_per_s));
  w.Add("hot_keys", static_cast<std::uint64_t>(list->keys.size()));
  w.Add("hot_keys_version", list->version);
  w.Add("hot_keys_found", detector.found());
  w.Add("hot_keys_cooled", detector.cooled());
  w.Add("windows", detector.windows());
  const Replicator* replicator = server.replicator();
  if (replicator != nullptr) {
    const Replicator::HotCopyRow h = replicator->HotCopies();
    w.Add("hot_copies_sent", h.copies_sent);
    w.Add("hot_copy_refreshes", h.refreshes);
    w.Add("hot_copies_resent", h.resent);
    w.Add("hot_copy_deletes", h.deletes);
    w.Add("hot_copy_delete_failures", h.delete_failures);
  }
  for (std::size_t i = 0; i < list->keys.size(); ++i) {
    const cluster::HotKey& h = list->keys[i];
    const std::string p = "hotkey:" + std::to_string(i) + ":";
    w.Add(p + "key", proto::IsPlainKey(h.key) ? h.key : "b64:" + Base64(h.key));
    w.Add(p + "reads_per_sec", fixed(h.reads_per_s));
    w.Add(p + "bytes_per_sec", fixed(h.bytes_per_s));
    w.Add(p + "since", h.since_ms / 1000);
    const std::vector<std::string> readers =
        replicator != nullptr ? replicator->ReadersOf(h.key) : std::vector<std::string>();
    w.Add(p + "copies", static_cast<std::uint64_t>(std::max<std::size_t>(1, readers.size())));
    w.Add(p + "readers", readers.empty() ? "-" : Join(readers));
  }
}

namespace {

// `config get hotkeys`'s lines after the first: each hot key of `list` this node owns.
std::string OwnedHotKeyLines(const HotKeyDetector::List& list, const Replicator* replicator) {
  std::string out;
  if (replicator == nullptr) return out;  // no replication: nothing is spread
  char rate[32];
  for (const cluster::HotKey& h : list.keys) {
    const std::vector<std::string> readers = replicator->ReadersOf(h.key);
    if (readers.empty()) continue;  // not its owner
    std::snprintf(rate, sizeof rate, "%.0f", h.reads_per_s);
    out += Base64(h.key) + " " + rate + " " + Join(readers) + "\n";
  }
  return out;
}

}  // namespace

std::string Server::HotKeysConfig(std::int64_t* slot) {
  if (cluster_ == nullptr) return std::string();
  if (*slot < 0) *slot = next_hot_slot_.fetch_add(1);
  std::shared_ptr<const HotKeyDetector::List> list =
      hot_keys_ != nullptr ? hot_keys_->list() : nullptr;
  std::string out = std::to_string(list != nullptr ? list->version : 0) + " " +
                    std::to_string(*slot) + " " + std::to_string(settings_.hot_copy_ttl) + "\n";
  if (list == nullptr) return out;  // --hot-key-qps 0: an empty list
  // The body changes with the list (every window) or the view: built once for all the pollers.
  std::shared_ptr<const cluster::ClusterView> view = cluster_view();
  const std::int64_t view_version = view != nullptr ? view->version : -1;
  base::MutexLock lock(hot_body_mu_);
  if (hot_body_.list != list || hot_body_.view_version != view_version) {
    hot_body_ = {list, view_version, OwnedHotKeyLines(*list, replicator_.get())};
  }
  return out + hot_body_.text;
}

}  // namespace rc::server
