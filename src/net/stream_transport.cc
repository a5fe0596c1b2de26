// net/stream_transport.cc -- see stream_transport.h. (Its io_uring receive is in recv_ring.cc, so
// that a transport run without a ring links without liburing.)
#include "ringcached/net/stream_transport.h"

#include <unistd.h>

#include "ringcached/net/connect.h"

namespace rc::net {

base::Status StreamTransport::FinishConnect() {
  base::Status status = net::FinishConnect(fd_);
  if (status.ok()) connecting_ = false;
  return status;
}

void StreamTransport::Close() {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
}

}  // namespace rc::net
