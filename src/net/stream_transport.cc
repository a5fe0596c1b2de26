// net/stream_transport.cc -- see stream_transport.h.
#include "ringcached/net/stream_transport.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rc::net {

bool StreamTransport::ReceiveInto(char* dst, std::size_t room, std::size_t* got) {
  *got = 0;
  // recv(), not read(): the socket call skips the file layer (see OutQueue's Send).
  ssize_t n = recv(fd_, dst, room, 0);
  if (n > 0) {
    *got = static_cast<std::size_t>(n);
    return true;
  }
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);  // else EOF/error
}

bool StreamTransport::Receive(std::size_t* got) {
  *got = 0;
  if (!in_.Reserve()) return false;
  if (!ReceiveInto(in_.tail(), in_.room(), got)) return false;
  in_.Commit(*got);
  return true;
}

bool StreamTransport::Send(std::size_t* sent) {
  *sent = 0;
  if (out_.empty()) return true;
  return out_.WriteTo(fd_, sent) != OutQueue::WriteStatus::kError;
}

void StreamTransport::Close() {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
}

}  // namespace rc::net
