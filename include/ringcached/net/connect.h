// net/connect.h -- opening outbound stream connections: a "host" and port resolved into the
// addresses to try, a non-blocking connect started on one, and its outcome read once the socket
// turns writable.
//
// The server only accepts, but a node's peer links and the client library open connections of
// their own, and a connection opened here is carried by the same net::StreamTransport as an
// accepted one (stream_transport.h: a transport built from a connecting socket waits for
// writability first). Nothing here blocks except Resolve(), whose getaddrinfo cannot be
// bounded: call it where a wait is acceptable (a tool, a control thread), never on a worker.
//
// Thread-safety: none needed; every function works on its arguments only.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/status.h"

namespace rc::net {

// One address to connect to, and how to name it in messages ("127.0.0.1:11211", "[::1]:11211").
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;
};

// The TCP addresses of `host` (a name, or an IPv4 or IPv6 literal without brackets) at `port`,
// in getaddrinfo's order. NotFound when the name does not resolve.
base::Result<std::vector<Endpoint>> Resolve(std::string_view host, std::uint16_t port);

// A non-blocking, close-on-exec socket with TCP_NODELAY connecting to `to` (or connected
// already, as loopback often is): hand it to a StreamTransport built as connecting. IoError when
// the connect fails at once (no route, refused on the spot).
base::Result<int> StartConnect(const Endpoint& to);

// For a connecting socket that has turned writable (or reported an error): OK once it is
// connected, or IoError with the reason the connect failed ("Connection refused").
base::Status FinishConnect(int fd);

}  // namespace rc::net
