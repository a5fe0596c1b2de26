// server/grant_asker.cc -- see grant_asker.h.
#include "server/grant_asker.h"

#include <charconv>
#include <set>

namespace rc::server {

// One member's answer, given once: by its reply, or by the timeout, whichever comes first.
struct PeerGrantAsker::Question {
  std::string member;
  AnswerFn answer;
  event* timer = nullptr;
  bool answered = false;

  void Give(cluster::GrantReply reply) {
    if (answered) return;
    answered = true;
    answer(member, reply);
  }
};

PeerGrantAsker::PeerGrantAsker(net::EventLoop* loop, const PeerAuth* auth)
    : loop_(loop), auth_(auth) {}

PeerGrantAsker::~PeerGrantAsker() = default;

cluster::GrantReply PeerGrantAsker::ParseReply(const std::string& reply) {
  using Kind = cluster::GrantReply::Kind;
  cluster::GrantReply r;
  const std::string_view line = std::string_view(reply).substr(0, reply.find("\r\n"));
  if (line == "RC_LEASE refused") {
    r.kind = Kind::kRefuse;
  } else if (line.rfind("RC_LEASE granted ", 0) == 0) {
    const std::string_view digits = line.substr(17);
    std::int64_t ms = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ms);
    if (ec == std::errc() && end == digits.data() + digits.size() && ms > 0) {
      r.kind = Kind::kGrant;
      r.length = std::chrono::milliseconds(ms);
    }
  }
  return r;  // "RC_LEASE unknown", or anything else: unknown
}

PeerLink* PeerGrantAsker::LinkTo(const cluster::Member& peer) {
  auto it = links_.find(peer.name);
  // A member back under another address gets a fresh link; so does one that has not answered
  // the last question (stopped, or cut off without a reset): what waits on the old link is told
  // lost, and the question goes to a new connection.
  if (it != links_.end() && (it->second->peer().address != peer.address ||
                             it->second->peer().port != peer.port ||
                             unanswered_.contains(peer.name))) {
    links_.erase(it);
    it = links_.end();
  }
  if (it == links_.end()) {
    it = links_.emplace(peer.name, std::make_unique<PeerLink>(loop_, &pool_, auth_, peer,
                                                              PeerLink::AckFn()))
             .first;
  }
  return it->second.get();
}

void PeerGrantAsker::OnTimeout(evutil_socket_t, short, void* arg) noexcept {
  static_cast<Question*>(arg)->Give(cluster::GrantReply{});
}

void PeerGrantAsker::Ask(const cluster::ClusterView& view, const std::string& self,
                         std::int64_t incarnation, std::chrono::milliseconds timeout,
                         AnswerFn answer) {
  // Links to members that left go (and with them, questions still in flight: told unknown).
  const std::vector<cluster::Member> everyone = view.everyone();  // leaving members vouch too
  std::set<std::string, std::less<>> members;
  for (const cluster::Member& m : everyone) members.insert(m.name);
  std::erase_if(links_, [&](const auto& kv) { return !members.contains(kv.first); });
  std::erase_if(unanswered_, [&](const std::string& name) { return !members.contains(name); });

  const std::string request =
      "rc_lease " + self + " " + std::to_string(incarnation) + "\r\n";
  for (const cluster::Member& m : everyone) {
    if (m.name == self) continue;
    auto q = std::make_shared<Question>();
    q->member = m.name;
    q->answer = answer;
    // The reply's callback owns the question (through `finish`); the timer only points at it,
    // and is freed by `finish` when the reply, or the link's loss, comes.
    q->timer = evtimer_new(loop_->base(), &PeerGrantAsker::OnTimeout, q.get());
    const timeval tv{static_cast<time_t>(timeout.count() / 1000),
                     static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    evtimer_add(q->timer, &tv);
    auto finish = [q](cluster::GrantReply reply) {
      q->Give(reply);
      if (q->timer != nullptr) {
        event_free(q->timer);
        q->timer = nullptr;
      }
    };
    PeerLink* link = LinkTo(m);
    unanswered_.insert(m.name);
    const bool sent = link->Forward(
        request, [this, finish, name = m.name](const std::string* reply) {
          if (reply != nullptr) unanswered_.erase(name);  // this link answers: keep it
          finish(reply == nullptr ? cluster::GrantReply{} : ParseReply(*reply));
        });
    if (!sent) {
      // Told on the loop, never from inside Ask (GrantAsker's promise).
      loop_->RunInLoop([finish] { finish(cluster::GrantReply{}); });
    }
  }
}

}  // namespace rc::server
