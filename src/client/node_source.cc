// client/node_source.cc -- see node_source.h. The request and its reply travel over a
// net::StreamTransport run by net::RunUntil (poll(2), one deadline for every step);
// getaddrinfo itself cannot be bounded, which is acceptable in a tool.
#include "client/node_source.h"

#include <string>

#include "ringcached/net/buffer_pool.h"
#include "ringcached/net/connect.h"
#include "ringcached/net/poll_runner.h"
#include "ringcached/net/stream_transport.h"

namespace rc::client {
namespace {

using base::Result;
using base::Status;
using Clock = std::chrono::steady_clock;

// The longest reply accepted: a member list of thousands of nodes is well under a megabyte.
constexpr std::size_t kMaxReply = 64u << 20;

}  // namespace

Result<MemberList> FetchFromNode(std::string_view node, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  const cluster::HostPort hp = cluster::SplitRingName(node);
  if (hp.host.empty()) {
    return Status::InvalidArgument("bad node address \"" + std::string(node) + "\"");
  }
  const std::string where(node);
  Result<std::vector<net::Endpoint>> endpoints = net::Resolve(hp.host, hp.port.value_or(11211));
  if (!endpoints.ok()) return endpoints.status();

  // Each address in turn until one answers; the last failure explains.
  Status failure;
  for (const net::Endpoint& to : endpoints.value()) {
    Result<int> fd = net::StartConnect(to);
    if (!fd.ok()) {
      failure = fd.status();  // "cannot connect to <address>: <why>"
      continue;
    }
    net::BufferPool pool;
    net::StreamTransport transport(fd.value(), &pool, kMaxReply,
                                   net::StreamTransport::Start::kConnecting);
    transport.output().Append("config get cluster\r\n");
    std::size_t complete = 0;
    Status run = net::RunUntil(&transport, deadline, [&] {
      complete = ConfigReplyLength(transport.input().view());
      return complete > 0;
    });
    if (run.ok()) return ParseClusterConfig(transport.input().view().substr(0, complete));
    if (transport.connecting()) {
      failure = Status::IoError("cannot connect to " + where + " (" + to.text + "): " +
                                run.message());
      continue;
    }
    if (Clock::now() >= deadline) {
      return Status::IoError(where + ": no complete reply to `config get cluster` within " +
                             std::to_string(timeout.count()) + " ms");
    }
    if (transport.input().size() >= kMaxReply) {
      return Status::InvalidArgument(where + ": reply too large");
    }
    return Status::IoError(where + ": " + run.message() + " before the reply was complete");
  }
  return failure;
}

}  // namespace rc::client
