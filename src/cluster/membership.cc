// cluster/membership.cc -- see membership.h. The state machine, all on the control loop:
//
//   Join ──> StartSession ──(connected)──> Register: EnsurePath -> CreateSelf ──> OnRegistered
//                 ^   │ (no connection within kConnectWindow: close, back off, log)     │
//                 └───┘                                                                  v
//   ReadMembers (sets the child watch) ──> OnMemberList ──(debounced)──> FetchAndAdopt ──> Adopt
//        ^  the watch fires / reconnect                                   (first view: at once)
//
// Disconnected (the client reconnects by itself): keep the view, keep the handle, so the session
// survives. Expired: close the handle, open a new session, Register again with a new incarnation.
#include "ringcached/cluster/membership.h"

#include <event2/event.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <utility>

#include "cluster/debounce.h"
#include "cluster/registration.h"
#include "cluster/zk_session.h"
#include "ringcached/base/check.h"
#include "ringcached/base/log.h"
#include "ringcached/base/mutex.h"
#include "ringcached/cluster/member_json.h"
#include "ringcached/net/event_loop.h"

namespace rc::cluster {
namespace {

using Code = ZkSession::Code;
using SteadyClock = std::chrono::steady_clock;

// How long a new handle may try before we call ZooKeeper unreachable, close it and back off.
// The C client alone would retry every 50 ms forever, without a word.
constexpr std::chrono::milliseconds kConnectWindow{2000};
constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{15000};
// After a refusal that needs an operator (a name conflict found while re-registering), or an
// error ZooKeeper gave for no reason we can fix, try again this much later.
constexpr std::chrono::milliseconds kRetryLater{5000};
// The debounce cap, in debounce intervals (membership.h).
constexpr int kMaxWaitIntervals = 5;

std::int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

std::int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Hex(std::int64_t id) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(id));
  return buf;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  if (ms.count() < 0) ms = std::chrono::milliseconds(0);
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// The member data of one FetchAndAdopt round.
struct Fetch {
  std::vector<std::string> names;
  std::vector<std::string> data;
  std::int32_t cversion = 0;
  std::size_t remaining = 0;
  bool vanished = false;  // a member was deleted meanwhile: a newer list is coming
  bool failed = false;    // no answer: the reconnect reads the list again
};

}  // namespace

std::vector<Member> ClusterView::everyone() const {
  std::vector<Member> all = members;
  for (const Member& m : before_members) {
    if (m.state == MemberState::kLeaving) all.push_back(m);
  }
  std::sort(all.begin(), all.end(),
            [](const Member& a, const Member& b) { return a.name < b.name; });
  return all;
}

const Member* ClusterView::Find(std::string_view name) const {
  for (const std::vector<Member>* list : {&members, &before_members}) {
    for (const Member& m : *list) {
      if (m.name == name) return &m;
    }
  }
  return nullptr;
}

void SetViewMembers(ClusterView* view, std::vector<Member> everyone, RingProfile profile) {
  auto ring_of = [profile](const std::vector<Member>& members) {
    std::vector<RingMember> ring_members;
    ring_members.reserve(members.size());
    for (const Member& m : members) ring_members.push_back(RingMember{m.name, m.weight});
    return Ring(std::move(ring_members), profile);
  };
  view->members.clear();
  view->before_members.clear();
  const bool changing = std::any_of(everyone.begin(), everyone.end(),
                                    [](const Member& m) { return m.state != MemberState::kUp; });
  for (Member& m : everyone) {
    if (changing && m.state != MemberState::kWarming) view->before_members.push_back(m);
    if (m.state != MemberState::kLeaving) view->members.push_back(std::move(m));
  }
  view->ring = ring_of(view->members);
  view->before_ring = changing ? ring_of(view->before_members) : Ring();
}

std::string_view NodeStateName(NodeState state) {
  switch (state) {
    case NodeState::kUnregistered: return "unregistered";
    case NodeState::kUp: return "up";
    case NodeState::kDisconnected: return "disconnected";
    case NodeState::kRejoining: return "rejoining";
    case NodeState::kConflict: return "conflict";
    case NodeState::kLeft: return "left";
  }
  return "unknown";
}

struct Membership::Impl {
  Impl(const MembershipOptions& options, net::EventLoop* loop);
  ~Impl();

  // ---- loop thread --------------------------------------------------------------------------
  void Start();
  void StartSession();
  void OnSessionState(ZkSession::State state);
  void OnConnectWindowOver();
  void RetryLater(std::chrono::milliseconds delay);
  void Register();
  void EnsurePath(std::size_t component);
  void CreateSelf();
  void JudgeExisting(const std::string& data, const ZkSession::Stat& stat);
  void OnRegistered();
  void RegistrationStalled(Code code, const char* step);
  void ReadMembers();
  void OnMemberDataChanged();
  void OnMemberList(std::vector<std::string> names, std::int32_t version);
  void SetSelfState(MemberState state);
  void WriteSelfState();
  void ArmDebounce();
  void OnDebounce();
  void FetchAndAdopt(std::vector<std::string> names, std::int32_t cversion);
  void FinishFetch(const std::shared_ptr<Fetch>& fetch, std::uint64_t epoch);
  void Adopt(std::int32_t version, std::vector<Member> members);
  void DoLeave();
  void FailJoin(base::Status status);
  static void OnTimer(evutil_socket_t, short, void* arg) noexcept;

  // Status shared with other threads.
  void SetState(NodeState state);
  void UpdateSessionStatus();
  // The local lease's evidence (ClusterMembership::LastAnswerSentMs): this node's own znode
  // read every probe interval while the session is connected.
  void Probe();
  void ArmProbe();
  // This node's znode is gone while the session lives (deleted under it): register again.
  void LostZnode(const char* how);
  template <typename Call>
  void Tell(Call call) {
    for (MembershipListener* l : listeners) call(l);
  }

  const MembershipOptions& options;
  net::EventLoop* loop;
  ZkSession zk;
  const std::string members_path;
  const std::string self_path;
  Member self;
  std::vector<std::int64_t> earlier_sessions;  // ids of this process's previous sessions
  bool started = false;
  bool left = false;
  bool join_failed = false;
  bool registered = false;   // this session holds self_path
  bool registering = false;  // a Register() chain is in flight
  bool ever_registered = false;
  bool handle_connected = false;  // the current handle has connected at least once
  int unreachable_attempts = 0;
  std::chrono::milliseconds backoff = kFirstBackoff;

  // Timers, created on the loop thread by Start().
  enum class TimerKind { kConnectWindow, kRetry, kDebounce, kProbe };
  struct Timer {
    Impl* impl;
    TimerKind kind;
    event* ev = nullptr;
  };
  Timer connect_timer{this, TimerKind::kConnectWindow};
  Timer retry_timer{this, TimerKind::kRetry};
  Timer debounce_timer{this, TimerKind::kDebounce};
  Timer probe_timer{this, TimerKind::kProbe};
  bool probing = false;  // a probe is in flight
  void Arm(Timer& t, std::chrono::milliseconds delay);
  void Disarm(Timer& t);

  Debouncer debouncer;
  std::vector<std::string> latest_names;  // the newest member list read, sorted
  std::int32_t latest_cversion = -1;  // the view version of latest_names (ViewVersion)
  bool member_data_changed = false;   // a data watch fired: fetch even if the version is the same
  bool self_state_unwritten = false;  // SetSelfState's write has not been acknowledged yet
  std::uint64_t fetch_epoch = 0;
  std::vector<MembershipListener*> listeners;

  // ---- any thread ---------------------------------------------------------------------------
  std::atomic<std::shared_ptr<const ClusterView>> view;
  // Steady-clock milliseconds at which the newest probe ZooKeeper answered was sent.
  std::atomic<std::int64_t> last_answer_sent_ms{0};
  mutable base::Mutex mu;
  std::condition_variable_any cv;
  MembershipStatus status RC_GUARDED_BY(mu);  // its `view` is not used; see view above
  bool join_done RC_GUARDED_BY(mu) = false;
  base::Status join_result RC_GUARDED_BY(mu);
  bool leave_done RC_GUARDED_BY(mu) = false;
  std::vector<std::string> listed RC_GUARDED_BY(mu);  // latest_names, for ListsMember
};

Membership::Impl::Impl(const MembershipOptions& opts, net::EventLoop* l)
    : options(opts),
      loop(l),
      zk(l, opts.zk_hosts, static_cast<int>(opts.session_timeout.count()),
         ZkSession::Callbacks{[this](ZkSession::State s) { OnSessionState(s); },
                              [this] { ReadMembers(); },
                              [this] { OnMemberDataChanged(); }}),
      members_path(opts.path + "/members"),
      self_path(opts.path + "/members/" + opts.self.name),
      self(opts.self),
      debouncer(opts.debounce.count(), opts.debounce.count() * kMaxWaitIntervals) {
  status.session_state = std::string(ZkSession::StateName(ZkSession::State::kClosed));
}

Membership::Impl::~Impl() {
  for (Timer* t : {&connect_timer, &retry_timer, &debounce_timer, &probe_timer}) {
    if (t->ev != nullptr) event_free(t->ev);
  }
}

void Membership::Impl::Arm(Timer& t, std::chrono::milliseconds delay) {
  timeval tv = ToTimeval(delay);
  event_add(t.ev, &tv);
}

void Membership::Impl::Disarm(Timer& t) { event_del(t.ev); }

void Membership::Impl::OnTimer(evutil_socket_t, short, void* arg) noexcept {
  auto* t = static_cast<Timer*>(arg);
  switch (t->kind) {
    case TimerKind::kConnectWindow: t->impl->OnConnectWindowOver(); break;
    case TimerKind::kRetry:
      if (!t->impl->zk.is_open()) {
        t->impl->StartSession();
      } else if (!t->impl->registered) {
        t->impl->Register();
      } else {
        t->impl->WriteSelfState();
      }
      break;
    case TimerKind::kDebounce: t->impl->OnDebounce(); break;
    case TimerKind::kProbe: t->impl->Probe(); break;
  }
}

void Membership::Impl::SetState(NodeState state) {
  base::MutexLock lock(mu);
  status.state = state;
  status.incarnation = self.incarnation;
}

void Membership::Impl::UpdateSessionStatus() {
  base::MutexLock lock(mu);
  status.session_state = std::string(ZkSession::StateName(zk.state()));
  status.session_id = zk.is_open() ? zk.session_id() : 0;
  status.session_timeout_ms = zk.negotiated_timeout_ms();
}

void Membership::Impl::ArmProbe() {
  Arm(probe_timer, std::chrono::milliseconds(ProbeIntervalMs(zk.negotiated_timeout_ms())));
}

void Membership::Impl::Probe() {
  ArmProbe();
  // One at a time: a probe ZooKeeper has not answered yet still counts from when it was sent.
  if (probing || !registered || left || zk.state() != ZkSession::State::kConnected) return;
  probing = true;
  const std::int64_t sent = NowMillis();
  const std::uint64_t session = static_cast<std::uint64_t>(zk.session_id());
  zk.Get(self_path, [this, sent, session](Code code, std::string, const ZkSession::Stat& stat) {
    probing = false;
    if (static_cast<std::uint64_t>(zk.session_id()) != session || !registered) return;
    if (code == Code::kOk && stat.ephemeral_owner == zk.session_id()) {
      std::int64_t seen = last_answer_sent_ms.load(std::memory_order_relaxed);
      if (sent > seen) last_answer_sent_ms.store(sent, std::memory_order_relaxed);
    } else if (code == Code::kOk || code == Code::kNoNode) {
      LostZnode(code == Code::kOk ? "is owned by another session" : "is gone");
    }
    // Otherwise no answer (a disconnect): the lease runs down until one comes.
  });
}

void Membership::Impl::LostZnode(const char* how) {
  base::Log(0, "cluster: %s %s while the session lives; registering again", self_path.c_str(),
            how);
  registered = false;
  Tell([](MembershipListener* l) { l->OnSessionExpired(); });
  Register();
}

void Membership::Impl::FailJoin(base::Status s) {
  join_failed = true;
  zk.Close();
  UpdateSessionStatus();
  base::MutexLock lock(mu);
  join_done = true;
  join_result = std::move(s);
  cv.notify_all();
}

// ---- session ------------------------------------------------------------------------------------

void Membership::Impl::Start() {
  for (Timer* t : {&connect_timer, &retry_timer, &debounce_timer, &probe_timer}) {
    t->ev = event_new(loop->base(), -1, 0, &Impl::OnTimer, t);
    RC_CHECK(t->ev != nullptr);
  }
  started = true;
  StartSession();
}

void Membership::Impl::StartSession() {
  if (left || join_failed) return;
  base::Status opened = zk.Open();
  if (!opened.ok()) {
    ++unreachable_attempts;
    base::Log(0, "cluster: %s (attempt %d); retrying in %.1f s", opened.message().c_str(),
              unreachable_attempts, backoff.count() / 1000.0);
    RetryLater(backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
    return;
  }
  handle_connected = false;
  probing = false;  // a probe of the old handle is never answered (ZkSession drops it)
  Arm(connect_timer, kConnectWindow);
  UpdateSessionStatus();
}

void Membership::Impl::OnConnectWindowOver() {
  if (handle_connected || !zk.is_open()) return;
  // A handle that never connected holds no session worth keeping: start over later.
  ++unreachable_attempts;
  base::Log(0,
            "cluster: ZooKeeper at %s is not reachable (no session after %.1f s, attempt %d); "
            "retrying in %.1f s%s",
            options.zk_hosts.c_str(), kConnectWindow.count() / 1000.0, unreachable_attempts,
            backoff.count() / 1000.0,
            ever_registered ? "; serving with the last ring meanwhile" : "");
  zk.Close();
  UpdateSessionStatus();
  RetryLater(backoff);
  backoff = std::min(backoff * 2, kMaxBackoff);
}

void Membership::Impl::RetryLater(std::chrono::milliseconds delay) { Arm(retry_timer, delay); }

void Membership::Impl::OnSessionState(ZkSession::State state) {
  UpdateSessionStatus();
  switch (state) {
    case ZkSession::State::kConnected:
      Disarm(connect_timer);
      if (unreachable_attempts > 0) {
        base::Log(0, "cluster: connected to ZooKeeper at %s after %d failed attempt(s)",
                  options.zk_hosts.c_str(), unreachable_attempts);
      }
      unreachable_attempts = 0;
      backoff = kFirstBackoff;
      if (!handle_connected) {
        handle_connected = true;
        base::Log(1, "cluster: ZooKeeper session %s established (timeout %d ms)",
                  Hex(zk.session_id()).c_str(), zk.negotiated_timeout_ms());
      }
      if (!registered) {
        Register();
      } else {
        base::Log(0, "cluster: reconnected to ZooKeeper; session %s is still valid",
                  Hex(zk.session_id()).c_str());
        SetState(NodeState::kUp);
        WriteSelfState();  // a state change the disconnect swallowed
        ReadMembers();  // changes during the disconnect fire the watch too; this is cheap
      }
      return;
    case ZkSession::State::kConnecting:
      if (registered) {
        {
          base::MutexLock lock(mu);
          ++status.disconnects;
        }
        std::shared_ptr<const ClusterView> v = view.load();
        base::Log(0,
                  "cluster: lost the connection to ZooKeeper; serving with ring version %d "
                  "while reconnecting",
                  v ? v->version : 0);
        SetState(NodeState::kDisconnected);
        Tell([](MembershipListener* l) { l->OnSessionLost(); });
      }
      return;
    case ZkSession::State::kExpired: {
      {
        base::MutexLock lock(mu);
        ++status.session_expirations;
      }
      std::int64_t old_id = zk.session_id();
      if (old_id != 0) earlier_sessions.push_back(old_id);
      base::Log(0, "cluster: ZooKeeper session %s expired; registering again with a new "
                   "incarnation (serving with the last ring meanwhile)",
                Hex(old_id).c_str());
      zk.Close();
      registered = false;
      registering = false;
      if (ever_registered) SetState(NodeState::kRejoining);
      UpdateSessionStatus();
      Tell([](MembershipListener* l) { l->OnSessionExpired(); });
      StartSession();
      return;
    }
    case ZkSession::State::kAuthFailed:
      base::Log(0, "cluster: ZooKeeper refused authentication; retrying in %.1f s",
                kRetryLater.count() / 1000.0);
      zk.Close();
      registered = false;
      registering = false;
      UpdateSessionStatus();
      RetryLater(kRetryLater);
      return;
    case ZkSession::State::kClosed:
      return;
  }
}

// ---- registration -------------------------------------------------------------------------------

void Membership::Impl::Register() {
  if (registering || left || join_failed || !zk.is_open()) return;
  registering = true;
  // "A number that grows with each new session": wall-clock milliseconds, forced upwards if the
  // clock stepped back, so peers can always tell the newer registration of a name.
  self.incarnation = std::max(WallMillis(), self.incarnation + 1);
  // A new incarnation holds nothing its holders have not given it yet (a draining node stays
  // leaving).
  if (options.register_warming && self.state != MemberState::kLeaving) {
    self.state = MemberState::kWarming;
  }
  EnsurePath(1);
}

// Creates the components of members_path one by one ("/a", "/a/b", ...), starting at the one
// that ends at the `component`-th '/', then the node's own znode.
void Membership::Impl::EnsurePath(std::size_t component) {
  std::size_t end = 0;
  for (std::size_t i = 0; i < component; ++i) {
    end = members_path.find('/', end + 1);
    if (end == std::string::npos) break;
  }
  std::string prefix = end == std::string::npos ? members_path : members_path.substr(0, end);
  zk.Create(prefix, "", /*ephemeral=*/false, [this, component, done = prefix == members_path](
                                                   Code code) {
    if (code != Code::kOk && code != Code::kNodeExists) {
      RegistrationStalled(code, "creating the cluster path");
      return;
    }
    if (done) {
      CreateSelf();
    } else {
      EnsurePath(component + 1);
    }
  });
}

void Membership::Impl::CreateSelf() {
  zk.Create(self_path, EncodeMember(self), /*ephemeral=*/true, [this](Code code) {
    switch (code) {
      case Code::kOk:
        OnRegistered();
        return;
      case Code::kNodeExists:
        zk.Get(self_path, [this](Code got, std::string data, const ZkSession::Stat& stat) {
          if (got == Code::kNoNode) {
            CreateSelf();  // gone meanwhile
          } else if (got != Code::kOk) {
            RegistrationStalled(got, "reading the existing znode");
          } else {
            JudgeExisting(data, stat);
          }
        });
        return;
      case Code::kNoNode:
        EnsurePath(1);  // the path was deleted under us
        return;
      default:
        RegistrationStalled(code, "creating this node's znode");
        return;
    }
  });
}

void Membership::Impl::JudgeExisting(const std::string& data, const ZkSession::Stat& stat) {
  base::Result<Member> existing = DecodeMember(data);
  ExistingNode verdict = JudgeExistingNode(stat.ephemeral_owner, existing, zk.session_id(),
                                           earlier_sessions, self);
  switch (verdict) {
    case ExistingNode::kOurs: {
      // Our own create, whose reply a disconnect swallowed; keep its incarnation.
      if (existing.ok()) self.incarnation = existing.value().incarnation;
      const bool state_behind = existing.ok() && existing.value().state != self.state;
      OnRegistered();
      if (state_behind) {
        self_state_unwritten = true;
        WriteSelfState();
      }
      return;
    }
    case ExistingNode::kLeftover:
      base::Log(0, "cluster: replacing %s, left by the earlier ZooKeeper session %s of this "
                   "node",
                self_path.c_str(), Hex(stat.ephemeral_owner).c_str());
      zk.Delete(self_path, stat.version, [this](Code code) {
        if (code == Code::kOk || code == Code::kNoNode || code == Code::kBadVersion) {
          CreateSelf();  // kBadVersion: it changed meanwhile; the create judges it again
        } else {
          RegistrationStalled(code, "deleting the leftover znode");
        }
      });
      return;
    case ExistingNode::kLiveConflict:
    case ExistingNode::kNotEphemeral: {
      std::string why =
          DescribeNameConflict(verdict, self_path, stat.ephemeral_owner, existing);
      registering = false;
      if (!ever_registered) {
        FailJoin(base::Status::InvalidArgument("--advertise " + self.name + ": " + why));
        return;
      }
      base::Log(0, "cluster: cannot register again: %s; retrying in %.1f s", why.c_str(),
                kRetryLater.count() / 1000.0);
      SetState(NodeState::kConflict);
      RetryLater(kRetryLater);
      return;
    }
  }
}

void Membership::Impl::RegistrationStalled(Code code, const char* step) {
  registering = false;
  if (code == Code::kConnectionLoss || code == Code::kSessionExpired || code == Code::kClosing) {
    return;  // the reconnect (or the new session) registers again
  }
  base::Log(0, "cluster: ZooKeeper error while %s (%s): %s; retrying in %.1f s", step,
            std::string(ZkSession::CodeName(code)).c_str(), self_path.c_str(),
            kRetryLater.count() / 1000.0);
  RetryLater(kRetryLater);
}

void Membership::Impl::OnRegistered() {
  registering = false;
  self_state_unwritten = false;  // the znode was created with the current state
  registered = true;
  bool again = ever_registered;
  ever_registered = true;
  base::Log(again ? 0 : 1, "cluster: %sregistered as %s (incarnation %lld, session %s)",
            again ? "re-" : "", self.name.c_str(), static_cast<long long>(self.incarnation),
            Hex(zk.session_id()).c_str());
  SetState(NodeState::kUp);
  // The create was answered: as good as a probe sent now (a little later than it was sent).
  last_answer_sent_ms.store(NowMillis(), std::memory_order_relaxed);
  const std::int64_t incarnation = self.incarnation;
  Tell([incarnation](MembershipListener* l) { l->OnRegistered(incarnation); });
  ArmProbe();
  ReadMembers();
}

// ---- the member list ----------------------------------------------------------------------------

void Membership::Impl::ReadMembers() {
  if (!registered) return;
  zk.GetChildren(members_path, /*watch=*/true,
                 [this](Code code, std::vector<std::string> names, const ZkSession::Stat& stat) {
                   if (code == Code::kOk) {
                     // The view version: joins and leaves move the children's version, state
                     // changes the members znode's own data version (SetSelfState writes it in
                     // the same transaction). Both only grow, so their sum does, and every node
                     // that read the same list reads the same sum.
                     OnMemberList(std::move(names), ViewVersion(stat.cversion, stat.version));
                   } else if (code == Code::kNoNode) {
                     base::Log(0, "cluster: %s was deleted; registering again",
                               members_path.c_str());
                     registered = false;
                     Tell([](MembershipListener* l) { l->OnSessionExpired(); });
                     Register();
                   }
                   // Otherwise no answer: the reconnect reads the list again.
                 });
}

void Membership::Impl::OnMemberDataChanged() {
  member_data_changed = true;
  ReadMembers();
}

void Membership::Impl::SetSelfState(MemberState state) {
  if (self.state == state) return;
  base::Log(1, "cluster: %s is now %s", self.name.c_str(),
            std::string(MemberStateName(state)).c_str());
  self.state = state;
  self_state_unwritten = true;
  WriteSelfState();  // when not registered, the registration writes it
}

void Membership::Impl::WriteSelfState() {
  if (!registered || !self_state_unwritten || left) return;
  // The member's data and the members znode's data in one transaction, so that the view
  // version (ReadMembers) moves exactly when a state does.
  zk.SetAll({{self_path, EncodeMember(self)}, {members_path, ""}}, [this](Code code) {
    if (code == Code::kOk) {
      self_state_unwritten = false;
    } else if (code != Code::kConnectionLoss && code != Code::kSessionExpired &&
               code != Code::kClosing) {
      base::Log(0, "cluster: ZooKeeper error while writing this node's state (%s); retrying",
                std::string(ZkSession::CodeName(code)).c_str());
      RetryLater(kRetryLater);
    }
    // A lost connection: the reconnect writes it again (OnSessionState).
  });
}

void Membership::Impl::OnMemberList(std::vector<std::string> names, std::int32_t version) {
  std::sort(names.begin(), names.end());  // std::string compares bytes: the ring order
  if (registered && !registering &&
      !std::binary_search(names.begin(), names.end(), self.name)) {
    LostZnode("disappeared");
    return;
  }
  latest_names = std::move(names);
  {
    base::MutexLock lock(mu);
    listed = latest_names;
  }
  latest_cversion = version;
  std::shared_ptr<const ClusterView> current = view.load();
  if (!current) {
    FetchAndAdopt(latest_names, latest_cversion);  // the first view: no reason to wait
    return;
  }
  if (current->version == version && !member_data_changed) return;
  debouncer.Touch(NowMillis());
  ArmDebounce();
}

void Membership::Impl::ArmDebounce() {
  Arm(debounce_timer, std::chrono::milliseconds(debouncer.deadline() - NowMillis()));
}

void Membership::Impl::OnDebounce() {
  if (!debouncer.pending()) return;
  if (!debouncer.Due(NowMillis())) {
    ArmDebounce();
    return;
  }
  debouncer.Clear();
  FetchAndAdopt(latest_names, latest_cversion);
}

void Membership::Impl::FetchAndAdopt(std::vector<std::string> names, std::int32_t cversion) {
  std::uint64_t epoch = ++fetch_epoch;
  auto fetch = std::make_shared<Fetch>();
  fetch->names = std::move(names);
  fetch->data.resize(fetch->names.size());
  fetch->cversion = cversion;
  fetch->remaining = fetch->names.size();
  member_data_changed = false;
  if (fetch->remaining == 0) {
    FinishFetch(fetch, epoch);
    return;
  }
  for (std::size_t i = 0; i < fetch->names.size(); ++i) {
    // Watched: a member's state change (its data) is a new view too.
    zk.Get(members_path + "/" + fetch->names[i], /*watch=*/true,
           [this, fetch, i, epoch](Code code, std::string data, const ZkSession::Stat&) {
             if (code == Code::kOk) {
               fetch->data[i] = std::move(data);
             } else if (code == Code::kNoNode) {
               fetch->vanished = true;
             } else {
               fetch->failed = true;
             }
             if (--fetch->remaining == 0) FinishFetch(fetch, epoch);
           });
  }
}

void Membership::Impl::FinishFetch(const std::shared_ptr<Fetch>& fetch, std::uint64_t epoch) {
  if (epoch != fetch_epoch || fetch->failed) return;  // superseded, or the reconnect rereads
  if (fetch->vanished) {
    ReadMembers();  // its deletion is a newer list; adopt that one instead
    return;
  }
  // A newer list already waits for its own debounce: adopting this one would be churn. Only the
  // first view goes through regardless.
  if (view.load() && fetch->cversion != latest_cversion) return;
  std::vector<Member> members;
  members.reserve(fetch->names.size());
  for (std::size_t i = 0; i < fetch->names.size(); ++i) {
    base::Result<Member> m = DecodeMemberZnode(fetch->names[i], fetch->data[i]);
    // Every node skips the same bad znode, so the rings still agree.
    if (!m.ok()) {
      base::Log(0, "cluster: ignoring member %s: %s", fetch->names[i].c_str(),
                m.status().message().c_str());
      continue;
    }
    members.push_back(std::move(m).value());
  }
  Adopt(fetch->cversion, std::move(members));
}

void Membership::Impl::Adopt(std::int32_t version, std::vector<Member> members) {
  std::shared_ptr<const ClusterView> current = view.load();
  if (current && current->version == version && current->everyone() == members) return;
  auto next = std::make_shared<ClusterView>();
  next->version = version;
  std::string names;
  for (const Member& m : members) {
    names += (names.empty() ? "" : ", ") + m.name;
    if (m.state != MemberState::kUp) names += " (" + std::string(MemberStateName(m.state)) + ")";
  }
  SetViewMembers(next.get(), std::move(members), options.profile);
  next->adopted = SteadyClock::now();
  base::Log(1, "cluster: ring version %d: %zu member(s): %s", version,
            next->everyone().size(), names.c_str());
  view.store(next);
  {
    base::MutexLock lock(mu);
    ++status.ring_changes;
    if (!join_done) {
      join_done = true;
      join_result = base::Status::Ok();
      cv.notify_all();
    }
  }
  std::shared_ptr<const ClusterView> adopted = std::move(next);
  Tell([&adopted](MembershipListener* l) { l->OnViewAdopted(adopted); });
}

// ---- leaving ------------------------------------------------------------------------------------

void Membership::Impl::DoLeave() {
  if (!left) {
    left = true;
    if (started) {
      for (Timer* t : {&connect_timer, &retry_timer, &debounce_timer}) Disarm(*t);
    }
    bool had_session = zk.state() == ZkSession::State::kConnected && registered;
    zk.Close();  // ends the session: ZooKeeper deletes our znode now
    registered = false;
    if (had_session) {
      base::Log(1, "cluster: left the cluster (session closed; %s goes with it)",
                self_path.c_str());
    }
    SetState(NodeState::kLeft);
    UpdateSessionStatus();
  }
  base::MutexLock lock(mu);
  leave_done = true;
  if (!join_done) {
    join_done = true;
    join_result = base::Status::Internal("left the cluster before joining it");
  }
  cv.notify_all();
}

// ---- Membership ---------------------------------------------------------------------------------

Membership::Membership(MembershipOptions options, net::EventLoop* loop)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_, loop)) {}

Membership::~Membership() = default;

void Membership::Join() {
  Impl* impl = impl_.get();
  impl->loop->RunInLoop([impl] { impl->Start(); });
}

base::Status Membership::WaitJoined() {
  base::MutexLock lock(impl_->mu);
  while (!impl_->join_done) impl_->cv.wait(impl_->mu);
  return impl_->join_result;
}

void Membership::Leave() {
  Impl* impl = impl_.get();
  {
    base::MutexLock lock(impl->mu);
    if (impl->leave_done) return;
  }
  impl->loop->RunInLoop([impl] { impl->DoLeave(); });
  base::MutexLock lock(impl->mu);
  while (!impl->leave_done) impl->cv.wait(impl->mu);
}

std::shared_ptr<const ClusterView> Membership::view() const { return impl_->view.load(); }

void Membership::SetSelfState(MemberState state) {
  Impl* impl = impl_.get();
  impl->loop->RunInLoop([impl, state] { impl->SetSelfState(state); });
}

void Membership::AddListener(MembershipListener* listener) {
  impl_->listeners.push_back(listener);
}

std::int64_t Membership::LastAnswerSentMs() const {
  return impl_->last_answer_sent_ms.load(std::memory_order_relaxed);
}

bool Membership::ListsMember(std::string_view name) const {
  base::MutexLock lock(impl_->mu);
  return std::binary_search(impl_->listed.begin(), impl_->listed.end(), name);
}

MembershipStatus Membership::Status() const {
  MembershipStatus s;
  {
    base::MutexLock lock(impl_->mu);
    s = impl_->status;
  }
  s.view = impl_->view.load();
  return s;
}

}  // namespace rc::cluster
