// server/watchers.cc -- see watchers.h.
#include "server/watchers.h"

#include <sys/time.h>

namespace rc::server {

std::string ConnEventBody(std::string_view addr, int fd, const char* type, const char* reason) {
  std::string_view transport = addr.substr(0, addr.find(':'));
  std::string_view rest = addr.substr(addr.find(':') + 1);
  std::string rip(rest), rport = "0";
  if (transport != "unix") {
    std::size_t colon = rest.rfind(':');
    rip = std::string(rest.substr(0, colon));
    rport = std::string(rest.substr(colon + 1));
    if (!rip.empty() && rip.front() == '[') rip = rip.substr(1, rip.size() - 2);
  }
  std::string body = std::string("type=") + type + " rip=" + rip + " rport=" + rport +
                     " transport=" + (transport == "unix" ? "local" : "tcp");
  if (reason != nullptr) body += std::string(" reason=") + reason;
  body += " cfd=" + std::to_string(fd);
  return body;
}

unsigned WatchKindOf(std::string_view word) {
  if (word == "fetchers") return kWatchFetchers;
  if (word == "mutations") return kWatchMutations;
  if (word == "evictions") return kWatchEvictions;
  if (word == "connevents") return kWatchConnEvents;
  if (word == "sysevents") return kWatchSysEvents;
  if (word == "rawcmds") return kWatchRawCmds;
  return 0;
}

int Watchers::Add(unsigned kinds, Deliver deliver) {
  base::MutexLock lock(mu_);
  if (entries_.size() >= kLimit) return -1;
  int id = next_id_++;
  entries_.push_back({id, kinds, std::move(deliver)});
  mask_.fetch_or(kinds, std::memory_order_relaxed);
  return id;
}

void Watchers::Remove(int id) {
  base::MutexLock lock(mu_);
  unsigned mask = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->id == id) {
      it = entries_.erase(it);
    } else {
      mask |= it->kinds;
      ++it;
    }
  }
  mask_.store(mask, std::memory_order_relaxed);
}

std::uint64_t Watchers::count() const {
  base::MutexLock lock(mu_);
  return entries_.size();
}

void Watchers::Emit(unsigned kind, std::string_view body) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  std::string line = "ts=" + std::to_string(tv.tv_sec) + "." + std::to_string(tv.tv_usec) +
                     " gid=" + std::to_string(gid_.fetch_add(1, std::memory_order_relaxed) + 1) +
                     " ";
  line.append(body);
  line.push_back('\n');
  base::MutexLock lock(mu_);
  for (const Entry& e : entries_) {
    if ((e.kinds & kind) == 0) continue;
    e.deliver(line);
    sent_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace rc::server
