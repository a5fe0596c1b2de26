// client/hot_keys.cc -- see hot_keys.h. Strict like member_list.cc: a node's reply that does not
// follow the format is rejected whole rather than half-read, and the client keeps routing by the
// list it had (a hot key read from its owner is slower, never wrong).
#include "client/hot_keys.h"

#include <charconv>

#include "ringcached/proto/client_codec.h"
#include "ringcached/proto/meta.h"

namespace rc::client {
namespace {

using base::Result;
using base::Status;
using proto::client::ParseTextReply;
using proto::client::ReplyStatus;
using proto::client::TextReply;

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// Splits `s` at single spaces (as the node writes them).
std::vector<std::string_view> Fields(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t sp = s.find(' ', start);
    if (sp == std::string_view::npos) sp = s.size();
    out.push_back(s.substr(start, sp - start));
    start = sp + 1;
  }
  return out;
}

Status ParseKeyLine(std::string_view line, HotList* list) {
  const std::vector<std::string_view> f = Fields(line);
  if (f.size() != 2 && f.size() != 3) {
    return Status::InvalidArgument("hot key line \"" + std::string(line) +
                                   "\": expected <base64 key> <reads/s> [<copies>]");
  }
  std::string key(f[0].size() / 4 * 3 + 3, '\0');
  const std::size_t n = proto::Base64Decode(f[0].data(), f[0].size(), key.data());
  if (n == 0) return Status::InvalidArgument("hot key \"" + std::string(f[0]) + "\" is not base64");
  key.resize(n);
  HotKey hot;
  if (!ParseNumber(f[1], &hot.reads_per_second)) {
    return Status::InvalidArgument("hot key line \"" + std::string(line) + "\": bad reads/s");
  }
  if (f.size() == 3) {
    std::size_t start = 0;
    while (start <= f[2].size()) {
      std::size_t comma = f[2].find(',', start);
      if (comma == std::string_view::npos) comma = f[2].size();
      const std::string_view copy = f[2].substr(start, comma - start);
      if (copy.empty()) {
        return Status::InvalidArgument("hot key line \"" + std::string(line) +
                                       "\": empty copy name");
      }
      hot.copies.emplace_back(copy);
      start = comma + 1;
    }
  }
  list->keys.insert_or_assign(std::move(key), std::move(hot));
  return Status::Ok();
}

}  // namespace

Result<HotList> ParseHotKeysReply(std::string_view reply) {
  TextReply first;
  if (ParseTextReply(reply, &first) != ReplyStatus::kOk) {
    return Status::InvalidArgument("malformed reply to `config get hotkeys`");
  }
  if (first.kind == TextReply::Kind::kLine) {
    // A node without the command (ERROR), or one with nothing to say (END): no hot keys.
    if (first.is_error() || first.line == "END") return HotList{};
    return Status::InvalidArgument("unexpected reply to `config get hotkeys`: \"" +
                                   std::string(first.line) + "\"");
  }
  TextReply end;
  if (first.kind != TextReply::Kind::kConfig || first.key != "hotkeys" ||
      ParseTextReply(reply.substr(first.consumed), &end) != ReplyStatus::kOk ||
      end.kind != TextReply::Kind::kLine || end.line != "END") {
    return Status::InvalidArgument("the reply to `config get hotkeys` is not a CONFIG hotkeys "
                                   "block followed by END");
  }
  std::string_view payload = first.value;
  if (payload.empty() || payload.back() != '\n') {
    return Status::InvalidArgument("the hot-key payload does not end with a newline");
  }
  payload.remove_suffix(1);
  const std::size_t nl = payload.find('\n');
  const std::string_view head = payload.substr(0, nl);
  const std::vector<std::string_view> h = Fields(head);
  HotList list;
  if (h.size() != 3 || !ParseNumber(h[0], &list.version) || !ParseNumber(h[1], &list.slot) ||
      !ParseNumber(h[2], &list.copy_ttl_s)) {
    return Status::InvalidArgument("bad hot-key header \"" + std::string(head) +
                                   "\": expected <version> <slot> <hot_copy_ttl>");
  }
  std::string_view rest = nl == std::string_view::npos ? std::string_view() : payload.substr(nl + 1);
  while (!rest.empty()) {
    const std::size_t end_of_line = rest.find('\n');
    if (Status s = ParseKeyLine(rest.substr(0, end_of_line), &list); !s.ok()) return s;
    rest = end_of_line == std::string_view::npos ? std::string_view() : rest.substr(end_of_line + 1);
  }
  return list;
}

std::size_t ChooseHotCopy(const std::vector<std::string>& copies, std::uint64_t slot,
                          const std::function<bool(std::string_view name)>& usable) {
  const std::size_t n = copies.size();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t at = (slot + i) % n;
    if (usable(copies[at])) return at;
  }
  return n;
}

}  // namespace rc::client
