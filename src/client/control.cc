// client/control.cc -- opening a Client, and its control thread: the member list followed
// (`config get cluster` from a live node, or a MemberSource), each node's hot keys polled over
// the connection that holds its slot, and TKO nodes probed. One thread per Client; it waits on a
// condition variable between ticks, so the destructor stops it at once.
#include <algorithm>

#include "client/client_impl.h"
#include "client/member_list.h"
#include "client/node_source.h"
#include "client/replies.h"

namespace rc::client {

using base::Result;
using base::Status;
using Outcome = Exchange::Outcome;

namespace {

// How often the control thread wakes to see what is due.
constexpr std::chrono::milliseconds kTick{50};

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Open(Options options) {
  const int sources = !options.servers.empty() + !options.discovery.empty() +
                      static_cast<bool>(options.member_source);
  if (sources != 1) {
    return Status::InvalidArgument(
        "give exactly one member source: servers, discovery or member_source");
  }
  if (options.timeout.count() <= 0) return Status::InvalidArgument("the timeout must be > 0");
  auto impl = std::make_unique<Impl>(std::move(options));
  Result<Membership> members = impl->InitialMembers();
  if (!members.ok()) return members.status();
  if (members.value().members.empty()) return Status::NotFound("the member list is empty");
  if (impl->options.profile) {
    impl->profile = *impl->options.profile;
  } else {
    impl->profile = impl->AskProfile(members.value().members)
                        .value_or(cluster::RingProfile::kLibmemcached);
  }
  impl->Adopt(members.value());
  Impl* raw = impl.get();
  raw->control = std::thread([raw] { raw->ControlLoop(); });
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  {
    base::MutexLock lock(impl_->stop_mu);
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  impl_->control.join();
}

Result<Membership> Client::Impl::InitialMembers() {
  if (!options.servers.empty()) {
    Result<MemberList> list = ParseServerList(Join(options.servers));
    if (!list.ok()) return list.status();
    return Membership{std::nullopt, std::move(list.value().members)};
  }
  if (options.member_source) return options.member_source();
  Status failure;
  for (const std::string& node : options.discovery) {
    Result<MemberList> list = FetchFromNode(node, options.timeout);
    if (list.ok()) return Membership{list.value().version, std::move(list.value().members)};
    failure = Status(list.status().code() == Status::Code::kInvalidArgument
                         ? Status::InvalidArgument(node + ": " + list.status().message())
                         : Status::IoError(node + ": " + list.status().message()));
  }
  return failure;
}

std::optional<cluster::RingProfile> Client::Impl::AskProfile(
    const std::vector<cluster::RingMember>& members) {
  for (const cluster::RingMember& m : members) {
    Node node(m.name, options.timeouts_to_tko, options.probe_interval);
    FramedReply reply(StatsReplyLength);
    const Round round = RunRound(node, "stats cluster\r\n", std::ref(reply));
    if (round.outcome != Outcome::kDone) continue;
    // A plain memcached (no `stats cluster`) answers an error: it is not a ringcached cluster,
    // so nothing says which profile its clients use.
    return cluster::ParseRingProfile(StatValue(reply.text(), "ring_profile"));
  }
  return std::nullopt;
}

bool Client::Impl::Adopt(const Membership& membership) {
  if (membership.members.empty()) return false;
  base::MutexLock lock(topo_mu);
  if (membership.version) {
    // Never go back: a node that has not heard of the newest view yet answers an older one.
    if (newest_version && *membership.version <= *newest_version) return false;
    newest_version = membership.version;
  } else if (topo != nullptr) {
    const std::vector<cluster::RingMember>& now = topo->router().members();
    const bool same = std::equal(now.begin(), now.end(), membership.members.begin(),
                                 membership.members.end(), [](const auto& a, const auto& b) {
                                   return a.name == b.name && a.weight == b.weight;
                                 });
    if (same) return false;
  }
  std::vector<cluster::RingMember> members = membership.members;
  if (!Canonicalize(&members).ok()) return false;
  std::map<std::string, std::shared_ptr<Node>, std::less<>> kept;
  std::vector<std::shared_ptr<Node>> nodes;
  for (const cluster::RingMember& m : members) {
    auto it = nodes_by_name.find(m.name);
    std::shared_ptr<Node> node =
        it != nodes_by_name.end()
            ? it->second
            : std::make_shared<Node>(m.name, options.timeouts_to_tko, options.probe_interval);
    kept.emplace(m.name, node);
    nodes.push_back(std::move(node));
  }
  nodes_by_name = std::move(kept);
  topo = std::make_shared<const Topology>(membership.version.value_or(-1), std::move(members),
                                          profile, std::move(nodes));
  return true;
}

void Client::Impl::ControlLoop() {
  Clock::time_point next_members = Clock::now() + options.config_poll_interval;
  Clock::time_point next_hot = Clock::now();
  while (true) {
    {
      base::MutexLock lock(stop_mu);
      if (stopping) return;
    }
    const Clock::time_point now = Clock::now();
    if (follows_members() && now >= next_members) {
      next_members = now + options.config_poll_interval;
      PollMembers();
    }
    if (options.hot_poll_interval.count() > 0 && now >= next_hot) {
      next_hot = now + options.hot_poll_interval;
      PollHotKeys();
    }
    ProbeTkoNodes();
    base::MovableLock lock(stop_mu);
    stop_cv.wait_for(lock, kTick, [this]() RC_NO_THREAD_SAFETY_ANALYSIS { return stopping; });
  }
}

void Client::Impl::PollMembers() {
  if (options.member_source) {
    Result<Membership> got = options.member_source();
    if (got.ok()) Adopt(got.value());
    return;
  }
  // Ask the members in turn, skipping TKO ones, so a dead node costs no poll; the discovery
  // nodes given at the start when none of the members answers.
  const std::shared_ptr<const Topology> current = Current();
  std::vector<std::shared_ptr<Node>> candidates;
  const auto& nodes = current->nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::shared_ptr<Node>& node = nodes[(poll_cursor + i) % nodes.size()];
    if (!node->tko()) candidates.push_back(node);
  }
  ++poll_cursor;
  for (const std::shared_ptr<Node>& node : candidates) {
    FramedReply reply(ConfigReplyLength);
    if (RunRound(*node, "config get cluster\r\n", std::ref(reply)).outcome != Outcome::kDone) {
      continue;
    }
    Result<MemberList> list = ParseClusterConfig(reply.text());
    if (!list.ok()) continue;
    Adopt(Membership{list.value().version, std::move(list.value().members)});
    return;
  }
  for (const std::string& seed : options.discovery) {
    Result<MemberList> list = FetchFromNode(seed, options.timeout);
    if (!list.ok()) continue;
    Adopt(Membership{list.value().version, std::move(list.value().members)});
    return;
  }
}

void Client::Impl::PollHotKeys() {
  const std::shared_ptr<const Topology> current = Current();
  struct Poll {
    Node* node;
    std::unique_ptr<FramedReply> reply;
    Exchange x;
  };
  std::vector<Poll> polls;
  polls.reserve(current->nodes().size());
  for (const std::shared_ptr<Node>& node : current->nodes()) {
    if (node->tko()) continue;
    if (node->hot_conn == nullptr) {
      Result<std::unique_ptr<Connection>> conn = node->Connect();
      if (!conn.ok()) continue;
      node->hot_conn = std::move(conn).value();
    }
    Poll& p = polls.emplace_back();
    p.node = node.get();
    p.reply = std::make_unique<FramedReply>(ConfigReplyLength);
    p.x.conn = node->hot_conn.get();
    p.x.on_input = std::ref(*p.reply);
    node->hot_conn->transport().output().Append("config get hotkeys\r\n");
  }
  std::vector<Exchange*> exchanges;
  for (Poll& p : polls) exchanges.push_back(&p.x);
  RunExchanges(exchanges, Clock::now() + options.timeout);
  for (Poll& p : polls) {
    if (p.x.outcome != Outcome::kDone) {
      // A new connection next time, and with it a new slot. The list stays: TKO, not a stale
      // list, is what keeps reads off a failing node.
      p.node->hot_conn.reset();
      continue;
    }
    Result<HotList> list = ParseHotKeysReply(p.reply->text());
    if (list.ok()) p.node->set_hot(std::make_shared<const HotList>(std::move(list).value()));
  }
}

void Client::Impl::ProbeTkoNodes() {
  const std::shared_ptr<const Topology> current = Current();
  const Clock::time_point now = Clock::now();
  struct Probe {
    Node* node;
    std::unique_ptr<Connection> conn;
    std::unique_ptr<LineReply> reply;
    Exchange x;
  };
  std::vector<Probe> probes;
  probes.reserve(current->nodes().size());
  for (const std::shared_ptr<Node>& node : current->nodes()) {
    if (!node->TakeProbe(now)) continue;
    Result<std::unique_ptr<Connection>> conn = node->Connect();
    if (!conn.ok()) {
      node->OnProbeResult(false);
      continue;
    }
    Probe& p = probes.emplace_back();
    p.node = node.get();
    p.conn = std::move(conn).value();
    p.reply = std::make_unique<LineReply>();
    p.x.conn = p.conn.get();
    p.x.on_input = std::ref(*p.reply);
    p.conn->transport().output().Append("version\r\n");
  }
  if (probes.empty()) return;
  std::vector<Exchange*> exchanges;
  for (Probe& p : probes) exchanges.push_back(&p.x);
  RunExchanges(exchanges, Clock::now() + options.timeout);
  for (Probe& p : probes) {
    const bool answered =
        p.x.outcome == Outcome::kDone && p.reply->line().starts_with("VERSION");
    p.node->OnProbeResult(answered);
    if (answered) p.node->Release(std::move(p.conn));
  }
}

}  // namespace rc::client
