// net/listener.h -- listening sockets (TCP over IPv4 and IPv6, UNIX) and their accept loop.
//
// A Listener binds its sockets at Open(), so start-up fails with a clear Status on a bad address
// or a port in use, before any thread starts. Accepting runs on the main loop: each accepted
// socket is handed, non-blocking, to the callback, which decides which worker owns it.
//
// Thread-safety: Open() on the main thread before the loop runs; the rest on the loop's thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ringcached/base/status.h"

struct event;
struct event_base;

namespace rc::net {

struct ListenAddress {
  bool is_unix = false;
  std::string host;   // TCP: numeric address or name; empty = all interfaces (IPv4 and IPv6)
  int port = 0;       // TCP: 0 = ephemeral
  std::string path;   // UNIX
  int mask = 0700;    // UNIX socket permissions
};

// One bound socket.
struct ListenSocket {
  int fd = -1;
  std::string name;   // "tcp:127.0.0.1:11211", "tcp6:[::1]:11211" style, or "unix:/path"
  int port = 0;       // the bound port (TCP)
  bool ipv6 = false;
  bool is_unix = false;
  bool is_udp = false;
  std::string unix_path;
};

// The name of a connected TCP socket's peer, as listeners are named: "tcp:127.0.0.1:40000",
// "tcp6:[::1]:40000"; "tcp:unknown" once the peer has reset the connection.
std::string PeerName(int fd);

// Binds one UDP socket per address (memcached -U). Datagrams are read by the workers, not by a
// Listener; the caller owns and closes the returned sockets.
base::Result<std::vector<ListenSocket>> OpenUdpSockets(const std::vector<ListenAddress>& addresses);

class Listener {
 public:
  // Called for each accepted socket with its fd (non-blocking, close-on-exec) and the socket that
  // accepted it.
  using AcceptFn = std::function<void(int fd, const ListenSocket& from)>;

  static base::Result<std::unique_ptr<Listener>> Open(const std::vector<ListenAddress>& addresses,
                                                       int backlog);
  ~Listener();

  // Starts accepting on `base`. Call once.
  void Start(event_base* base, AcceptFn on_accept);
  // Stops or resumes accepting (graceful stop; too many connections without maxconns_fast).
  void Pause();
  void Resume();
  // Out of file descriptors (EMFILE/ENFILE), accepting pauses itself rather than spin on a
  // readable backlog; the owner calls this now and then (once a second) to try again.
  void ResumeAfterFdExhaustion();
  // Closes every socket (and unlinks a UNIX socket file).
  void Close();

  const std::vector<ListenSocket>& sockets() const { return sockets_; }

 private:
  Listener() = default;
  static void OnAcceptable(int fd, short what, void* arg) noexcept;

  struct Watch {
    Listener* owner;
    std::size_t index;
    event* ev;
  };
  std::vector<ListenSocket> sockets_;
  std::vector<std::unique_ptr<Watch>> watches_;
  AcceptFn on_accept_;
  bool paused_ = false;
  bool out_of_fds_ = false;  // paused because accept() ran out of file descriptors
};

}  // namespace rc::net
