// base/log.cc -- see log.h.
#include "ringcached/base/log.h"

#include <cstdarg>
#include <cstdio>

namespace rc::base {
namespace {
std::atomic<int> g_verbosity{0};
}

void SetLogVerbosity(int level) { g_verbosity.store(level, std::memory_order_relaxed); }
int LogVerbosity() { return g_verbosity.load(std::memory_order_relaxed); }

void Log(int level, const char* fmt, ...) {
  if (level > LogVerbosity()) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > static_cast<int>(sizeof line) - 2) n = sizeof line - 2;
  line[n] = '\n';
  std::fwrite(line, 1, n + 1, stderr);
}

}  // namespace rc::base
