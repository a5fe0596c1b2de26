// net/stream_transport.cc -- see stream_transport.h.
#include "ringcached/net/stream_transport.h"

#include <unistd.h>

namespace rc::net {

void StreamTransport::Close() {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
}

}  // namespace rc::net
