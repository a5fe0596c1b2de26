// server/cluster_commands.cc -- the text commands of ElastiCache auto-discovery, executed for a
// Session: `config get cluster` and the legacy `get AmazonElastiCache:cluster`
// (cluster/discovery.h has the format and its sources).
//
// A node started without --cluster is the memcached it replaces: `config ...` is an unknown
// command there (ERROR, PROTOCOL.md section 1: memcached 1.6 has no `config`), and the legacy
// key is an ordinary key. In a cluster, `config get cluster` is what ElastiCache clients read,
// and `config get hotkeys` what the ring-aware client library reads besides (the hot keys this
// node owns and where their copies are: hot_key_stats.cc); anything else is ERROR.
#include "ringcached/cluster/discovery.h"
#include "ringcached/proto/text_reply.h"
#include "server/session.h"

namespace rc::server {

void Session::ProcessConfig(const proto::Request& req) {
  std::shared_ptr<const cluster::ClusterView> view = context_->admin->cluster_view();
  if (view == nullptr || req.ntokens != 3 || req.tokens[1] != "get") {
    out_->Append(proto::kErrorReply);
  } else if (req.tokens[2] == "cluster") {
    out_->Append(cluster::ConfigGetClusterReply(*view));
  } else if (req.tokens[2] == "hotkeys") {
    const std::string payload = context_->admin->HotKeysConfig(&hot_keys_slot_);
    out_->Append("CONFIG hotkeys 0 " + std::to_string(payload.size()) + "\r\n" + payload +
                 "\r\nEND\r\n");
  } else {
    out_->Append(proto::kErrorReply);
  }
}

bool Session::AppendDiscoveryValue() {
  // Behind a key of the same get that waits for the origin, a value queued now would overtake
  // it; the key is then looked up as an ordinary key instead (a get of the discovery key is
  // normally alone).
  if (parked_ != nullptr) return false;
  std::shared_ptr<const cluster::ClusterView> view = context_->admin->cluster_view();
  if (view == nullptr) return false;
  out_->Append(cluster::LegacyDiscoveryValue(*view));
  return true;
}

}  // namespace rc::server
