// client/node_source.h -- the member list as a running node reports it: one `config get cluster`
// request (the ElastiCache auto-discovery command, so the same nodes also serve discovery-aware
// clients) on a short-lived TCP connection. Blocking, with one deadline for resolve, connect, send
// and the whole reply: this is for tools, never for a server thread.
#pragma once

#include <chrono>
#include <string_view>

#include "client/member_list.h"

namespace rc::client {

// `node` is "host:port", "[v6]:port" or "host" (port 11211). Errors: NotFound when the name does
// not resolve or the node has no cluster configuration, IoError when it cannot be reached or does
// not answer within `timeout`, InvalidArgument when the reply is malformed.
base::Result<MemberList> FetchFromNode(std::string_view node, std::chrono::milliseconds timeout);

}  // namespace rc::client
