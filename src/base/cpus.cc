// base/cpus.cc -- see cpus.h.
#include "ringcached/base/cpus.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "ringcached/base/file.h"

namespace rc::base {
namespace {

// The file's text, or "" when it cannot be read.
std::string ReadText(const std::string& path) {
  std::string text;
  if (!base::ReadFile(path, &text)) text.clear();
  return text;
}

// The process's cgroup v2 path ("/system.slice/x.service"), from the "0::" line of
// /proc/self/cgroup; empty without the unified hierarchy.
std::string OwnCgroup() {
  std::string text = ReadText("/proc/self/cgroup");
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    if (text.compare(pos, 3, "0::") == 0) return text.substr(pos + 3, end - pos - 3);
    pos = end + 1;
  }
  return {};
}

bool ParseLong(std::string_view text, long long* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

int CpusFromQuota(std::string_view cpu_max) {
  while (!cpu_max.empty() && (cpu_max.back() == '\n' || cpu_max.back() == ' ')) {
    cpu_max.remove_suffix(1);
  }
  std::size_t space = cpu_max.find(' ');
  if (space == std::string_view::npos) return 0;
  long long quota = 0;
  long long period = 0;
  if (!ParseLong(cpu_max.substr(0, space), &quota) ||
      !ParseLong(cpu_max.substr(space + 1), &period) || quota <= 0 || period <= 0) {
    return 0;  // "max", or nothing this can read: no limit
  }
  long long cpus = (quota + period - 1) / period;
  return static_cast<int>(std::min<long long>(cpus, 1 << 20));
}

int UsableCpus() {
  int cpus = 0;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof(mask), &mask) == 0) cpus = CPU_COUNT(&mask);
  if (cpus <= 0) cpus = 1;
  // The quota of the process's cgroup and of every ancestor: the tightest one binds.
  std::string cgroup = OwnCgroup();
  if (!cgroup.empty() && cgroup.front() == '/') {
    while (true) {
      int quota = CpusFromQuota(ReadText("/sys/fs/cgroup" + cgroup + "/cpu.max"));
      if (quota > 0) cpus = std::min(cpus, quota);
      if (cgroup.size() <= 1) break;
      cgroup.resize(std::max<std::size_t>(cgroup.rfind('/'), 1));
    }
  }
  return std::max(cpus, 1);
}

}  // namespace rc::base
