// t/proto/server_process.h -- the binary under test ($RINGCACHED) as a child process, for the
// GoogleTest protocol tests in t/proto (the C++ twin of rctest.py's ServerProcess).
//
// ServerProcess runs `$RINGCACHED -p PORT -U 0 -l 127.0.0.1 [-u root] ARGS...` on a port that was
// free a moment before (bind port 0 on 127.0.0.1), and Start() returns once the server accepts a
// connection (10 s at most; a port taken meanwhile is retried with another one). Stop() sends
// SIGTERM, waits 10 s, then SIGKILLs; it fails if the server had died on its own before (a crash),
// did not exit in time, or exited with anything but status 0 (or death by the SIGTERM itself).
// The destructor stops a running server and reports a crash with ADD_FAILURE, so a test that
// forgets Stop() still cannot leave a process behind or hide a crash.
//
// The server's stdout and stderr go to an unlinked temporary file; Output() returns them for
// failure messages. The child gets PR_SET_PDEATHSIG(SIGKILL), so a test binary that crashes or is
// killed does not leave a server behind. Not thread-safe: one test thread owns a ServerProcess
// (the death signal follows the thread that forked).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace rctest {

// A TCP port on 127.0.0.1 that was free when this returned (0 on error).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// True if a TCP connection to 127.0.0.1:port succeeds.
inline bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

inline std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")" + (WCOREDUMP(status) ? ", core dumped" : "");
  }
  return "status " + std::to_string(status);
}

class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args = {}) : args_(std::move(args)) {}
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  ~ServerProcess() {
    if (pid_ > 0) {
      testing::AssertionResult r = Stop();
      if (!r) ADD_FAILURE() << r.message();
    }
    if (log_fd_ >= 0) ::close(log_fd_);
  }

  // Starts the server and waits until it accepts connections. On failure returns an error
  // message (and no process is left running); on success returns "".
  std::string Start() {
    const char* bin = std::getenv("RINGCACHED");
    if (bin == nullptr || *bin == '\0') return "RINGCACHED is not set";
    if (::access(bin, X_OK) != 0) return std::string("RINGCACHED=") + bin + " is not executable";
    std::string error;
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreePort();
      if (port_ == 0) return "no free port";
      std::vector<std::string> argv = {bin, "-p", std::to_string(port_), "-U", "0",
                                       "-l", "127.0.0.1"};
      if (::geteuid() == 0) {  // memcached refuses to run as root without -u
        argv.push_back("-u");
        argv.push_back("root");
      }
      argv.insert(argv.end(), args_.begin(), args_.end());
      error = Spawn(argv);
      if (error.empty()) error = WaitUntilAccepting();
      if (error.empty()) return "";
      if (Output().find("bind") == std::string::npos) break;  // not a port race: give up
    }
    return error;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // True while the child runs. Reaps it (and remembers its status) if it exited.
  bool Alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      died_status_ = status;
      died_ = true;
      pid_ = -1;
      return false;
    }
    return r == 0;
  }

  // Success while the server runs; a loud failure (with its output) if it died.
  testing::AssertionResult CheckAlive() {
    if (Alive()) return testing::AssertionSuccess();
    return testing::AssertionFailure()
           << "server DIED unexpectedly: "
           << (died_ ? DescribeStatus(died_status_) : std::string("never started"))
           << "\n--- server output ---\n" << Output();
  }

  // SIGTERM and reap; see the file comment for what counts as a failure.
  testing::AssertionResult Stop() {
    if (pid_ <= 0) {
      if (died_) {
        died_ = false;  // report once
        return testing::AssertionFailure()
               << "server had DIED before Stop(): " << DescribeStatus(died_status_)
               << "\n--- server output ---\n" << Output();
      }
      return testing::AssertionSuccess();
    }
    if (!Alive()) return Stop();
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                     (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        if (clean) return testing::AssertionSuccess();
        return testing::AssertionFailure() << "server exited badly on SIGTERM: "
                                           << DescribeStatus(status) << "\n--- server output ---\n"
                                           << Output();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return testing::AssertionFailure() << "server did not exit within 10 s of SIGTERM; killed";
  }

  // What the server wrote to stdout/stderr (the last 8 KB).
  std::string Output() const {
    if (log_fd_ < 0) return "";
    off_t size = ::lseek(log_fd_, 0, SEEK_END);
    off_t from = size > 8192 ? size - 8192 : 0;
    std::string out(static_cast<size_t>(size - from), '\0');
    ssize_t n = ::pread(log_fd_, out.data(), out.size(), from);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
  }

 private:
  std::string Spawn(const std::vector<std::string>& argv) {
    if (log_fd_ >= 0) ::close(log_fd_);
    char path[] = "/tmp/rc-server-log.XXXXXX";
    log_fd_ = ::mkstemp(path);
    if (log_fd_ < 0) return std::string("mkstemp: ") + std::strerror(errno);
    ::unlink(path);
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return std::string("fork: ") + std::strerror(errno);
    if (pid == 0) {
      // Should the test process crash or be killed, the server goes with it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(127);
      ::dup2(log_fd_, STDOUT_FILENO);
      ::dup2(log_fd_, STDERR_FILENO);
      int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
      if (::close_range(3, ~0U, 0) != 0) {  // no test sockets leak into the server
        for (int fd = 3; fd < 1024; ++fd) ::close(fd);
      }
      ::execv(cargv[0], cargv.data());
      _exit(127);
    }
    pid_ = pid;
    died_ = false;
    return "";
  }

  std::string WaitUntilAccepting() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Alive()) {
        died_ = false;  // a start-up failure, reported here rather than as a crash
        return "server exited during start-up: " + DescribeStatus(died_status_) + "\n" + Output();
      }
      if (CanConnect(port_)) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return "server did not accept connections within 10 s\n" + Output();
  }

  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int port_ = 0;
  int log_fd_ = -1;
  bool died_ = false;
  int died_status_ = 0;
};

}  // namespace rctest
