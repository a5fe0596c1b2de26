// server/cluster_node.cc -- see cluster_node.h.
#include "server/cluster_node.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>

#include <event2/event.h>

#include "ringcached/base/log.h"
#include "ringcached/cluster/cluster_url.h"
#include "ringcached/cluster/discovery.h"
#include "server/options.h"

namespace rc::server {
namespace {

// The host of the first -l address (options.h ParseListenAddress), or "" for all interfaces.
base::Result<std::string> FirstListenHost(const Settings& settings) {
  if (settings.listen.empty()) return std::string();
  base::Result<HostPort> split = ParseListenAddress(settings.listen.front());
  if (!split.ok()) return split.status();
  return split.value().host;
}

bool IsWildcard(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "*";
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The numeric address of `host`: itself if it is one, else its first DNS answer; "" if it does
// not resolve (clients of discovery then connect by host name).
std::string NumericAddress(const std::string& host) {
  if (host.empty() || IsIpLiteral(host)) return host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) {
    base::Log(0, "cluster: warning: \"%s\" does not resolve; its discovery entry has no address",
              host.c_str());
    return "";
  }
  char text[NI_MAXHOST] = "";
  getnameinfo(res->ai_addr, res->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
  freeaddrinfo(res);
  return text;
}

std::string HostName() {
  char name[256] = "";
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

std::string Hex(std::int64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace

base::Result<std::unique_ptr<ClusterNode>> ClusterNode::Join(const Settings& settings,
                                                             const net::Listener& listener) {
  base::Result<cluster::ClusterUrl> url = cluster::ParseClusterUrl(settings.cluster);
  if (!url.ok()) return url.status();
  std::optional<cluster::RingProfile> profile = cluster::ParseRingProfile(settings.ring_profile);
  if (!profile) return base::Status::InvalidArgument("unknown ring profile " + settings.ring_profile);

  int port = 0;
  for (const net::ListenSocket& s : listener.sockets()) {
    if (!s.is_unix && !s.is_udp) {
      port = s.port;
      break;
    }
  }
  if (port == 0) return base::Status::InvalidArgument("--cluster needs a TCP listener");

  base::Result<std::string> first_host = FirstListenHost(settings);
  if (!first_host.ok()) return first_host.status();
  const std::string& listen_host = first_host.value();
  cluster::Member self;
  self.port = port;
  self.weight = settings.weight;
  if (!settings.advertise.empty()) {
    self.name = settings.advertise;
  } else {
    std::string host = IsWildcard(listen_host) ? HostName() : listen_host;
    bool v6 = host.find(':') != std::string::npos;
    self.name = (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
    base::Status valid = cluster::CheckRingName(self.name);
    if (!valid.ok()) {
      return base::Status::InvalidArgument("cannot derive a ring name from -l/-p (" +
                                           valid.message() + "); give --advertise");
    }
  }
  self.address = NumericAddress(IsWildcard(listen_host) ? cluster::DiscoveryHost(self)
                                                         : listen_host);

  cluster::MembershipOptions options;
  options.zk_hosts = url.value().hosts;
  options.path = url.value().path;
  options.self = self;
  options.profile = *profile;
  options.debounce = std::chrono::milliseconds(settings.ring_debounce_ms);
  options.session_timeout = std::chrono::milliseconds(settings.zk_session_timeout_ms);
  // Hand-off needs peer links: only then can a new incarnation be given its keys.
  options.register_warming = !settings.cluster_secret_file.empty() && settings.replicas > 1;

  std::unique_ptr<ClusterNode> node(new ClusterNode());
  node->control_loop_ = std::make_unique<net::EventLoop>();
  node->control_loop_->Start("rc-cluster");
  node->membership_ = std::make_unique<cluster::Membership>(options, node->control_loop_.get());
  node->membership_->AddListener(node.get());
  base::Log(1, "cluster: joining %s%s as %s (address %s, port %d, weight %u)",
            options.zk_hosts.c_str(), options.path.c_str(), self.name.c_str(),
            self.address.empty() ? "unknown" : self.address.c_str(), self.port, self.weight);
  node->membership_->Join();
  base::Status joined = node->membership_->WaitJoined();
  if (!joined.ok()) return joined;  // ~ClusterNode stops the control thread
  node->lease_ = std::make_unique<cluster::LeaseKeeper>(node->membership_.get(),
                                                        node->control_loop_.get(), self.name);
  return node;
}

void ClusterNode::StartLease(std::function<void()> wipe, const PeerAuth* auth) {
  lease_->set_wipe(std::move(wipe));
  asker_ = std::make_unique<PeerGrantAsker>(control_loop_.get(), auth);
  lease_->set_asker(asker_.get());
  lease_->Start();
}

ClusterNode::~ClusterNode() { Leave(); }

void ClusterNode::OnRegistered(std::int64_t) { registrations_.fetch_add(1); }

void ClusterNode::OnViewAdopted(const std::shared_ptr<const cluster::ClusterView>&) {
  views_adopted_.fetch_add(1);
}

void ClusterNode::OnSessionLost() { sessions_lost_.fetch_add(1); }

void ClusterNode::OnSessionExpired() { sessions_expired_.fetch_add(1); }

void ClusterNode::Leave() {
  if (left_ || control_loop_ == nullptr) return;
  left_ = true;
  if (membership_) membership_->Leave();
  control_loop_->Stop();
  control_loop_->Join();
  if (states_timer_ != nullptr) {
    event_free(states_timer_);
    states_timer_ = nullptr;
  }
}

void ClusterNode::AddStats(StatSink& w) const {
  cluster::MembershipStatus st = membership_->Status();
  const cluster::MembershipOptions& o = membership_->options();
  std::string names, incarnations, states;
  std::size_t members = 0, points = 0;
  std::int64_t age = 0;
  if (st.view) {
    const std::vector<cluster::Member> everyone = st.view->everyone();
    for (const cluster::Member& m : everyone) {
      names += (names.empty() ? "" : ",") + m.name;
      incarnations += (incarnations.empty() ? "" : ",") + std::to_string(m.incarnation);
      states += (states.empty() ? "" : ",") + std::string(cluster::MemberStateName(m.state));
    }
    members = everyone.size();
    points = st.view->ring.points().size();
    age = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                           st.view->adopted)
              .count();
  }
  w.Add("cluster_path", o.path);
  w.Add("ring_profile", cluster::RingProfileName(o.profile));
  w.Add("ring_version", static_cast<std::int64_t>(st.view ? st.view->version : 0));
  w.Add("ring_members", static_cast<std::uint64_t>(members));
  w.Add("ring_member_names", names.empty() ? "-" : names);
  w.Add("ring_member_incarnations", incarnations.empty() ? "-" : incarnations);
  w.Add("ring_member_states", states.empty() ? "-" : states);
  w.Add("ring_points", static_cast<std::uint64_t>(points));
  w.Add("ring_changes", st.ring_changes);
  w.Add("secs_since_ring_change", age);
  w.Add("self_name", o.self.name);
  w.Add("self_address", o.self.address.empty() ? "-" : o.self.address);
  w.Add("self_port", o.self.port);
  w.Add("self_weight", static_cast<std::uint64_t>(o.self.weight));
  w.Add("self_state", cluster::NodeStateName(st.state));
  w.Add("self_incarnation", st.incarnation);
  w.Add("zk_hosts", o.zk_hosts);
  w.Add("zk_session_state", st.session_state);
  w.Add("zk_session_id", Hex(st.session_id));
  w.Add("zk_session_timeout_ms", st.session_timeout_ms);
  w.Add("zk_session_expirations", st.session_expirations);
  w.Add("zk_disconnects", st.disconnects);
  // The local lease (cluster/lease.h): whether this node may serve its store, and why not.
  const cluster::LeaseStatus lease = lease_->Status();
  w.Add("lease_state", lease.state);
  w.Add("lease_left_ms", lease.left_ms);
  w.Add("lease_length_ms", lease.length_ms);
  w.Add("fenced_reason", lease.fenced_reason.empty() ? "-" : lease.fenced_reason);
  w.Add("lease_fences", lease.fences);
  w.Add("lease_wipes", lease.wipes);
  w.Add("lease_zk_renewals", lease.zk_renewals);
  w.Add("lease_grant_rounds", lease.grant_rounds);
  w.Add("lease_grant_renewals", lease.grant_renewals);
  w.Add("lease_grants_received", lease.grants_received);
  w.Add("lease_refusals_received", lease.refusals_received);
  w.Add("lease_unknown_received", lease.unknown_received);
  w.Add("lease_grants_given", lease.grants_given);
  w.Add("lease_refusals_given", lease.refusals_given);
  w.Add("lease_unknown_given", lease.unknown_given);
  // Member states (member_states.cc): the last warming, and the drain (none until SIGUSR1 or
  // `shutdown graceful`).
  w.Add("warming_ms", warm_ms_.load());
  w.Add("warming_timeouts", warm_timeouts_.load());
  w.Add("drain_state", DrainPhaseName(drain_phase_.load()));
  w.Add("drain_ms", drain_ms_.load());
  // The membership's events as its listeners hear them.
  w.Add("events_registered", registrations_.load());
  w.Add("events_views_adopted", views_adopted_.load());
  w.Add("events_sessions_lost", sessions_lost_.load());
  w.Add("events_sessions_expired", sessions_expired_.load());
}

}  // namespace rc::server
