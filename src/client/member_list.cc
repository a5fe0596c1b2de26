// client/member_list.cc -- the member-list formats of member_list.h. Parsers are strict and say
// exactly what they could not read: their input comes from an operator's command line or from a
// node, and a silently misread member list would print a wrong ring. A node's reply is framed
// by proto's client codec (a CONFIG block, then END), as any text reply is.
#include "client/member_list.h"

#include <algorithm>
#include <charconv>

#include "ringcached/proto/client_codec.h"

namespace rc::client {
namespace {

using base::Result;
using base::Status;
using cluster::RingMember;
using proto::client::ParseTextReply;
using proto::client::ReplyStatus;
using proto::client::TextReply;

template <typename T>
std::optional<T> ParseUnsigned(std::string_view s) {
  T v{};
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::uint32_t> ParseWeight(std::string_view s) {
  auto w = ParseUnsigned<std::uint32_t>(s);
  if (!w || *w == 0) return std::nullopt;
  return w;
}

}  // namespace

Status Canonicalize(std::vector<RingMember>* members) {
  for (const RingMember& m : *members) {
    if (m.name.empty()) return Status::InvalidArgument("a member has an empty name");
  }
  // std::string compares through char_traits<char>, i.e. as unsigned bytes (memcmp order).
  std::sort(members->begin(), members->end(),
            [](const RingMember& a, const RingMember& b) { return a.name < b.name; });
  const auto dup =
      std::adjacent_find(members->begin(), members->end(),
                         [](const RingMember& a, const RingMember& b) { return a.name == b.name; });
  if (dup != members->end()) return Status::InvalidArgument("duplicate member " + dup->name);
  return Status::Ok();
}

Result<MemberList> ParseServerList(std::string_view spec) {
  MemberList list;
  if (spec.empty()) return Status::InvalidArgument("the server list is empty");
  std::size_t start = 0;
  while (start <= spec.size()) {
    std::size_t comma = spec.find(',', start);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view item = spec.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) return Status::InvalidArgument("empty entry in the server list");
    RingMember m;
    const std::size_t eq = item.rfind('=');
    if (eq != std::string_view::npos) {
      auto weight = ParseWeight(item.substr(eq + 1));
      if (!weight) {
        return Status::InvalidArgument("bad weight in \"" + std::string(item) +
                                       "\": expected name=<positive integer>");
      }
      m.weight = *weight;
      item = item.substr(0, eq);
    }
    if (item.empty()) return Status::InvalidArgument("a server entry has no name");
    for (char c : item) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
        return Status::InvalidArgument("a server name contains a space or control character: \"" +
                                       std::string(item) + "\"");
      }
    }
    m.name = std::string(item);
    list.members.push_back(std::move(m));
  }
  if (Status s = Canonicalize(&list.members); !s.ok()) return s;
  return list;
}

std::size_t ConfigReplyLength(std::string_view buffered) {
  // A first unit that is not a reply at all is handed whole to ParseClusterConfig, which says
  // what is wrong with it.
  const auto line_length = [&] {
    const std::size_t nl = buffered.find('\n');
    return nl == std::string_view::npos ? buffered.size() : nl + 1;
  };
  TextReply first;
  switch (ParseTextReply(buffered, &first)) {
    case ReplyStatus::kNeedMore:
      return 0;
    case ReplyStatus::kError:
      return line_length();
    case ReplyStatus::kOk:
      break;
  }
  if (first.kind != TextReply::Kind::kConfig) return first.consumed;  // END, ERROR...
  TextReply end;
  switch (ParseTextReply(buffered.substr(first.consumed), &end)) {
    case ReplyStatus::kNeedMore:
      return 0;
    case ReplyStatus::kError:
      return buffered.size();
    case ReplyStatus::kOk:
      break;
  }
  return first.consumed + end.consumed;
}

Result<MemberList> ParseClusterConfig(std::string_view reply) {
  TextReply first;
  const ReplyStatus status = ParseTextReply(reply, &first);
  const std::string_view header = reply.substr(0, reply.find("\r\n"));
  if (status == ReplyStatus::kOk && first.kind == TextReply::Kind::kLine) {
    if (first.line == "END") {
      return Status::NotFound(
          "the node has no cluster configuration (`config get cluster` said END)");
    }
    if (first.is_error()) {
      return Status::NotFound("the node refused `config get cluster`: " +
                              std::string(first.line));
    }
  }
  if (!header.starts_with("CONFIG cluster ")) {
    return Status::InvalidArgument("unexpected reply to `config get cluster`: \"" +
                                   std::string(header) + "\"");
  }
  TextReply end;
  if (status != ReplyStatus::kOk || first.kind != TextReply::Kind::kConfig ||
      first.key != "cluster" ||
      ParseTextReply(reply.substr(first.consumed), &end) != ReplyStatus::kOk ||
      end.kind != TextReply::Kind::kLine || end.line != "END") {
    return Status::InvalidArgument("the CONFIG block is not a \"" + std::string(header) +
                                   "\" block followed by \\r\\nEND\\r\\n");
  }
  std::string_view payload = first.value;

  MemberList list;
  const std::size_t nl = payload.find('\n');
  const std::string_view version_text = payload.substr(0, nl);
  const auto version = ParseUnsigned<std::int64_t>(version_text);
  if (!version) {
    return Status::InvalidArgument("bad config version \"" + std::string(version_text) + "\"");
  }
  list.version = *version;
  std::string_view nodes =
      nl == std::string_view::npos ? std::string_view() : payload.substr(nl + 1);
  if (!nodes.empty() && nodes.back() == '\n') nodes.remove_suffix(1);
  if (nodes.find('\n') != std::string_view::npos) {
    return Status::InvalidArgument("the CONFIG block has more than two lines");
  }
  std::size_t start = 0;
  while (start < nodes.size()) {
    std::size_t space = nodes.find(' ', start);
    if (space == std::string_view::npos) space = nodes.size();
    const std::string_view entry = nodes.substr(start, space - start);
    start = space + 1;
    if (entry.empty()) continue;  // tolerate doubled spaces
    const std::size_t bar1 = entry.find('|');
    const std::size_t bar2 = bar1 == std::string_view::npos ? bar1 : entry.find('|', bar1 + 1);
    if (bar2 == std::string_view::npos || entry.find('|', bar2 + 1) != std::string_view::npos) {
      return Status::InvalidArgument("bad node entry \"" + std::string(entry) +
                                     "\": expected host|ip|port");
    }
    const std::string_view host = entry.substr(0, bar1);
    const std::string_view ip = entry.substr(bar1 + 1, bar2 - bar1 - 1);
    const auto port = ParseUnsigned<std::uint32_t>(entry.substr(bar2 + 1));
    if (!port || *port == 0 || *port > 65535 || (host.empty() && ip.empty())) {
      return Status::InvalidArgument("bad node entry \"" + std::string(entry) + "\"");
    }
    std::string name(host.empty() ? ip : host);
    if (name.find(':') != std::string::npos) name = "[" + name + "]";  // an IPv6 literal
    list.members.push_back({name + ":" + std::to_string(*port), 1});
  }
  if (Status s = Canonicalize(&list.members); !s.ok()) return s;
  return list;
}

}  // namespace rc::client
