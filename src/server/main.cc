// server/main.cc -- process start-up: options, limits, daemonizing, privileges, then the Server.
//
// Start-up failures print one clear line and exit non-zero with a <sysexits.h> code. With -d the
// parent waits until the daemon has bound its sockets, so `ringcached -d` fails visibly (and
// non-zero) on a port in use instead of exiting 0 and dying unseen.
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "ringcached/base/log.h"
#include "server/options.h"
#include "server/server.h"

// jemalloc's defaults for the process's own allocations (connection buffers, reply blocks,
// parsing state): one arena instead of four per CPU, and no per-thread caches. Both hold memory
// that no limit accounts for -- after a 2x overfill of -m 64 with 32-byte values, RSS went from
// 1.109 to 1.093 x -m by hand, 1.107 to 1.102 in bench/memory_hit_ratio.py -- and nothing on a
// request's path allocates, so they buy no speed here (text 32 B side by side: the same CPU ratio
// either way, 1.17-1.25). Items have their own arena (store/pool.cc) and never used a thread cache. A
// MALLOC_CONF in the environment still overrides this.
extern "C" {
const char* malloc_conf = "narenas:1,tcache:false";  // NOLINT: jemalloc reads this symbol
}

namespace {

using rc::server::Settings;

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "ringcached: %s\n", message.c_str());
  return code;
}

// Room for -c connections plus the server's own descriptors (memcached raises the limit too).
void RaiseFileLimit(const Settings& settings) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = static_cast<rlim_t>(settings.maxconns) + 64;
  if (rl.rlim_cur >= want) return;
  rlimit raised = rl;
  raised.rlim_cur = want;
  if (raised.rlim_max < want) raised.rlim_max = want;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised.rlim_cur = rl.rlim_max;
    raised.rlim_max = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &raised);
    rc::base::Log(0, "warning: could not raise the open-file limit to %llu for -c %d",
                  static_cast<unsigned long long>(want), settings.maxconns);
  }
}

rc::base::Status DropPrivileges(const std::string& user) {
  if (geteuid() != 0) return rc::base::Status::Ok();
  passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) return rc::base::Status::InvalidArgument("can't find the user " + user + " to switch to");
  if (setgroups(0, nullptr) != 0 && errno != EPERM) {
    return rc::base::Status::IoError(std::string("setgroups: ") + std::strerror(errno));
  }
  if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
    return rc::base::Status::IoError("failed to assume identity of user " + user);
  }
  return rc::base::Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::string text;
  switch (rc::server::ParseCommandLine(argc, argv, &settings, &text)) {
    case rc::server::ParseOutcome::kExitOk:
      std::fputs(text.c_str(), stdout);
      return 0;
    case rc::server::ParseOutcome::kExitError:
      return Fail(EX_USAGE, text);
    case rc::server::ParseOutcome::kRun:
      break;
  }
  // memcached refuses to run as root unless told which user to become.
  if (geteuid() == 0 && settings.user.empty()) {
    return Fail(EX_USAGE, "can't run as root without the -u switch");
  }
  if (settings.enable_coredumps) {
    rlimit rl{RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_CORE, &rl) != 0) rc::base::Log(0, "warning: failed to raise the core file limit");
  }
  RaiseFileLimit(settings);

  int ready_pipe[2] = {-1, -1};
  if (settings.daemonize) {
    if (pipe(ready_pipe) != 0) return Fail(EX_OSERR, "pipe() failed");
    pid_t pid = fork();
    if (pid < 0) return Fail(EX_OSERR, "fork() failed");
    if (pid > 0) {
      // The parent: exit with the daemon's start-up result.
      close(ready_pipe[1]);
      // The daemon writes 0 once it serves, or its start-up exit code if it failed.
      unsigned char status = EX_SOFTWARE;
      ssize_t n = read(ready_pipe[0], &status, 1);
      return n == 1 ? status : EX_SOFTWARE;
    }
    close(ready_pipe[0]);
    setsid();
  }

  // A start-up failure in the daemon also tells the waiting parent which exit code to give.
  auto fail_start = [&](int code, const std::string& message) {
    if (ready_pipe[1] >= 0) {
      unsigned char status = static_cast<unsigned char>(code);
      [[maybe_unused]] ssize_t n = write(ready_pipe[1], &status, 1);
    }
    return Fail(code, message);
  };
  rc::server::Server server(settings);
  rc::base::Status opened = server.Open();
  if (!opened.ok()) return fail_start(EX_CONFIG, opened.message());

  if (!settings.pid_file.empty()) {
    std::FILE* pid_file = std::fopen(settings.pid_file.c_str(), "w");
    if (pid_file == nullptr) {
      return fail_start(EX_CANTCREAT, "could not open the pid file " + settings.pid_file);
    }
    std::fprintf(pid_file, "%d\n", static_cast<int>(getpid()));
    std::fclose(pid_file);
  }
  if (!settings.user.empty()) {
    rc::base::Status dropped = DropPrivileges(settings.user);
    if (!dropped.ok()) return fail_start(EX_NOUSER, dropped.message());
  }
  if (settings.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    rc::base::Log(0, "warning: -k cannot lock down all paged memory: %s", std::strerror(errno));
  }
  if (settings.daemonize) {
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
      if (devnull > 2) close(devnull);
    }
    char ok = 0;
    [[maybe_unused]] ssize_t n = write(ready_pipe[1], &ok, 1);
    close(ready_pipe[1]);
  }

  int code = server.Run();
  if (!settings.pid_file.empty()) unlink(settings.pid_file.c_str());
  return code;
}
