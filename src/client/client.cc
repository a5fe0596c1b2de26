// client/client.cc -- the Client's calls (client.h): each routes by the current Topology, runs
// its request rounds (client/connection.h) and retries by the rules of the header: a read on
// the next holder after any failure, a write only when it cannot have been applied twice in a
// way that matters (never sent, or sent over an idle connection that broke). Opening and the
// control thread are in control.cc.
#include <functional>
#include <set>

#include "client/client_impl.h"
#include "client/replies.h"
#include "ringcached/proto/client_codec.h"

namespace rc::client {

using base::Result;
using base::Status;
using proto::client::AppendTextGet;
using proto::client::AppendTextLine;
using proto::client::AppendTextStore;
using proto::client::ReplyStatus;
using Outcome = Exchange::Outcome;

namespace {

// Read attempts per key: the first holder, a fresh connection to it when an idle one had been
// closed, then the next holders. Every failure either moves on or marks a node TKO.
constexpr int kReadAttempts = 4;
constexpr int kWriteAttempts = 3;
// Keys per `get` line of a multi-get: the lines stay short, and the node starts answering the
// first while the next arrive.
constexpr std::size_t kKeysPerGet = 100;

Status CheckKey(std::string_view key) {
  if (key.empty() || key.size() > 250) {
    return Status::InvalidArgument("a key must be 1 to 250 bytes long");
  }
  for (char c : key) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument("a key must not contain spaces or control characters");
    }
  }
  return Status::Ok();
}

}  // namespace

void Client::Impl::Settle(Node& node, std::unique_ptr<Connection> conn, const Exchange& x) {
  switch (x.outcome) {
    case Outcome::kDone:
      node.OnSuccess();
      node.Release(std::move(conn));
      return;
    case Outcome::kConnectFailed:
      node.OnConnectError();
      return;
    case Outcome::kTimedOut:
      node.OnTimeout();
      return;
    case Outcome::kBroken:
      // A node restarted, or one that closed our idle connections, breaks reused connections
      // once; a fresh one breaking means the node itself is failing (kill -9: reset at once).
      if (conn->reused()) {
        node.DropIdle();
      } else {
        node.OnConnectError();
      }
      return;
    case Outcome::kPending:
      return;
  }
}

Client::Impl::Round Client::Impl::RunRound(
    Node& node, const std::string& request,
    std::function<ReplyStatus(std::string_view, std::size_t*)> on_input, bool fresh) {
  Round round;
  Result<std::unique_ptr<Connection>> conn = fresh ? node.Connect() : node.Acquire();
  if (!conn.ok()) {
    node.OnConnectError();
    round.outcome = Outcome::kConnectFailed;
    round.error = conn.status().message();
    return round;
  }
  Exchange x;
  x.conn = conn.value().get();
  x.on_input = std::move(on_input);
  round.reused = x.conn->reused();
  x.conn->transport().output().Append(request);
  std::vector<Exchange*> all{&x};
  RunExchanges(all, Clock::now() + options.timeout);
  round.outcome = x.outcome;
  round.error = x.error;
  Settle(node, std::move(conn).value(), x);
  return round;
}

Result<std::optional<Item>> Client::Get(std::string_view key) {
  if (Status s = CheckKey(key); !s.ok()) return s;
  std::string request;
  AppendTextGet(&request, {key});
  std::uint32_t local_ttl = 0;  // the hot-copy TTL when the local cache may keep the key
  if (impl_->options.local_hot_cache) {
    local_ttl = impl_->Current()->HotCopyTtl(key);
    if (local_ttl != 0) {
      if (std::optional<Item> kept = impl_->local_cache.Lookup(key, Impl::Clock::now())) {
        impl_->local_hits.fetch_add(1, std::memory_order_relaxed);
        return kept;
      }
    }
  }
  Status last;
  bool hot_copies = true;
  for (int attempt = 0; attempt < kReadAttempts; ++attempt) {
    const std::shared_ptr<const Topology> topo = impl_->Current();
    std::uint32_t target;
    topo->ReadOrder(key, &target, 1, hot_copies);
    Node& node = *topo->nodes()[target];
    std::map<std::string, Item, std::less<>> items;
    GetReplies replies(1, &items);
    const Impl::Round round = impl_->RunRound(node, request, std::ref(replies));
    if (round.outcome == Outcome::kDone) {
      if (!replies.error_line().empty()) return Status::Internal(replies.error_line());
      if (!items.empty()) {
        if (local_ttl != 0) {
          impl_->local_cache.Store(key, items.begin()->second, std::chrono::seconds(local_ttl),
                                   Impl::Clock::now());
        }
        return std::optional<Item>(std::move(items.begin()->second));
      }
      // A hot copy can be gone before its owner's list says so (its TTL ran out, or it was
      // evicted there): its miss is asked of the key's holders before it is believed.
      if (!hot_copies || !topo->IsHotCopyRead(key, target)) return std::optional<Item>();
      hot_copies = false;
      continue;
    }
    last = Status::IoError(node.name() + ": " + round.error);
  }
  return last;
}

Result<std::map<std::string, Item, std::less<>>> Client::GetMulti(
    const std::vector<std::string_view>& keys) {
  for (std::string_view key : keys) {
    if (Status s = CheckKey(key); !s.ok()) return s;
  }
  std::set<std::string_view> pending(keys.begin(), keys.end());
  std::set<std::string_view> holders_only;  // missed on a hot copy: asked of a holder next
  std::map<std::string, Item, std::less<>> found;
  Status last;
  for (int attempt = 0; attempt < kReadAttempts && !pending.empty(); ++attempt) {
    const std::shared_ptr<const Topology> topo = impl_->Current();
    // Each pending key to its first read target, then one round per node, all at once.
    std::map<std::uint32_t, std::vector<std::string_view>> by_node;
    for (std::string_view key : pending) {
      std::uint32_t target;
      topo->ReadOrder(key, &target, 1, holders_only.count(key) == 0);
      by_node[target].push_back(key);
    }
    struct NodeRound {
      std::uint32_t member;
      Node* node;
      std::vector<std::string_view> keys;
      std::unique_ptr<Connection> conn;
      std::unique_ptr<GetReplies> replies;
      Exchange x;
    };
    std::vector<NodeRound> rounds;
    rounds.reserve(by_node.size());
    std::vector<Exchange*> exchanges;
    for (auto& [member, node_keys] : by_node) {
      Node* node = topo->nodes()[member].get();
      Result<std::unique_ptr<Connection>> conn = node->Acquire();
      if (!conn.ok()) {
        node->OnConnectError();
        last = Status::IoError(node->name() + ": " + conn.status().message());
        continue;
      }
      NodeRound& r = rounds.emplace_back();
      r.member = member;
      r.node = node;
      r.keys = std::move(node_keys);
      r.conn = std::move(conn).value();
      std::string request;
      std::size_t gets = 0;
      for (std::size_t i = 0; i < r.keys.size(); i += kKeysPerGet) {
        request += "get";
        for (std::size_t j = i; j < std::min(r.keys.size(), i + kKeysPerGet); ++j) {
          request += ' ';
          request += r.keys[j];
        }
        request += "\r\n";
        ++gets;
      }
      r.conn->transport().output().Append(request);
      r.replies = std::make_unique<GetReplies>(gets, &found);
      r.x.conn = r.conn.get();
      r.x.on_input = std::ref(*r.replies);
    }
    for (NodeRound& r : rounds) exchanges.push_back(&r.x);
    RunExchanges(exchanges, Impl::Clock::now() + impl_->options.timeout);
    for (NodeRound& r : rounds) {
      const Exchange x = std::move(r.x);
      Impl::Settle(*r.node, std::move(r.conn), x);
      if (x.outcome != Outcome::kDone) {
        last = Status::IoError(r.node->name() + ": " + x.error);
        continue;
      }
      if (!r.replies->error_line().empty()) return Status::Internal(r.replies->error_line());
      for (std::string_view key : r.keys) {
        // As in Get(): a hot copy's miss is asked of the key's holders before it is believed.
        if (found.count(key) == 0 && holders_only.count(key) == 0 &&
            topo->IsHotCopyRead(key, r.member)) {
          holders_only.insert(key);
          continue;
        }
        pending.erase(key);
      }
    }
  }
  if (!pending.empty()) return last;
  return found;
}

Result<std::string> Client::Impl::Write(std::string_view key, const std::string& request) {
  // This client sees its own writes: the kept value goes before the write, and again after it
  // (a read racing with the write may have kept the old value meanwhile).
  struct Forget {
    Impl* impl;
    std::string_view key;
    void Now() const {
      if (impl->options.local_hot_cache) impl->local_cache.Forget(key);
    }
    ~Forget() { Now(); }
  } forget{this, key};
  forget.Now();
  Status last;
  bool fresh = false;
  for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
    const std::shared_ptr<const Topology> current = Current();
    Node& node = *current->nodes()[current->WriteTarget(key)];
    LineReply reply;
    const Round round = RunRound(node, request, std::ref(reply), fresh);
    if (round.outcome == Outcome::kDone) return reply.line();
    last = Status::IoError(node.name() + ": " + round.error);
    // Safe to send again: the connect failed (nothing left), or an idle connection broke --
    // the node had closed it, and a set or delete applied twice ends the same.
    const bool retry = round.outcome == Outcome::kConnectFailed ||
                       (round.outcome == Outcome::kBroken && round.reused);
    if (!retry) return last;
    fresh = round.outcome == Outcome::kBroken;
  }
  return last;
}

Status Client::Set(std::string_view key, std::string_view value, std::uint32_t flags,
                   std::int64_t exptime) {
  if (Status s = CheckKey(key); !s.ok()) return s;
  std::string request;
  AppendTextStore(&request, "set", key, flags, exptime, value);
  Result<std::string> line = impl_->Write(key, request);
  if (!line.ok()) return line.status();
  if (line.value() != "STORED") return Status::Internal(line.value());
  return Status::Ok();
}

Result<bool> Client::Add(std::string_view key, std::string_view value, std::uint32_t flags,
                         std::int64_t exptime) {
  if (Status s = CheckKey(key); !s.ok()) return s;
  std::string request;
  AppendTextStore(&request, "add", key, flags, exptime, value);
  Result<std::string> line = impl_->Write(key, request);
  if (!line.ok()) return line.status();
  if (line.value() == "STORED") return true;
  if (line.value() == "NOT_STORED") return false;
  return Status::Internal(line.value());
}

Result<bool> Client::Delete(std::string_view key) {
  if (Status s = CheckKey(key); !s.ok()) return s;
  std::string request;
  AppendTextLine(&request, "delete " + std::string(key));
  Result<std::string> line = impl_->Write(key, request);
  if (!line.ok()) return line.status();
  if (line.value() == "DELETED") return true;
  if (line.value() == "NOT_FOUND") return false;
  return Status::Internal(line.value());
}

cluster::RingProfile Client::profile() const { return impl_->profile; }

ClientStats Client::Stats() const {
  return {.local_hits = impl_->local_hits.load(std::memory_order_relaxed)};
}

std::int64_t Client::ring_version() const { return impl_->Current()->version(); }

std::vector<NodeInfo> Client::Nodes() const {
  std::vector<NodeInfo> out;
  for (const std::shared_ptr<Node>& node : impl_->Current()->nodes()) {
    const std::shared_ptr<const HotList> hot = node->hot();
    out.push_back({node->name(), node->tko(), node->tko_count(), hot->slot, hot->keys.size()});
  }
  return out;
}

std::string Client::ReadNode(std::string_view key) const {
  const std::shared_ptr<const Topology> topo = impl_->Current();
  std::uint32_t target;
  topo->ReadOrder(key, &target, 1);
  return topo->nodes()[target]->name();
}

std::string Client::WriteNode(std::string_view key) const {
  const std::shared_ptr<const Topology> topo = impl_->Current();
  return topo->nodes()[topo->WriteTarget(key)]->name();
}

}  // namespace rc::client
