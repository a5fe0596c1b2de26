// client/replies.cc -- see replies.h.
#include "client/replies.h"

namespace rc::client {

using proto::client::ParseTextReply;
using proto::client::ReplyStatus;
using proto::client::TextReply;

ReplyStatus GetReplies::operator()(std::string_view in, std::size_t* consumed) {
  *consumed = 0;
  while (ends_left_ > 0) {
    TextReply r;
    const ReplyStatus status = ParseTextReply(in.substr(*consumed), &r);
    if (status != ReplyStatus::kOk) return status;
    *consumed += r.consumed;
    if (r.kind == TextReply::Kind::kValue) {
      (*items_)[std::string(r.key)] = Item{std::string(r.value), r.flags};
    } else if (r.kind == TextReply::Kind::kLine && r.line == "END") {
      --ends_left_;
    } else if (r.kind == TextReply::Kind::kLine && r.is_error()) {
      error_line_ = std::string(r.line);
      --ends_left_;
    } else {
      return ReplyStatus::kError;
    }
  }
  return ReplyStatus::kOk;
}

ReplyStatus LineReply::operator()(std::string_view in, std::size_t* consumed) {
  TextReply r;
  const ReplyStatus status = ParseTextReply(in, &r);
  if (status != ReplyStatus::kOk) return status;
  if (r.kind != TextReply::Kind::kLine) return ReplyStatus::kError;
  *consumed = r.consumed;
  line_ = std::string(r.line);
  return ReplyStatus::kOk;
}

ReplyStatus FramedReply::operator()(std::string_view in, std::size_t* consumed) {
  const std::size_t n = length_(in);
  if (n == 0) return ReplyStatus::kNeedMore;
  text_ = std::string(in.substr(0, n));
  *consumed = n;
  return ReplyStatus::kOk;
}

std::size_t StatsReplyLength(std::string_view buffered) {
  std::size_t at = 0;
  while (true) {
    const std::size_t nl = buffered.find("\r\n", at);
    if (nl == std::string_view::npos) return 0;
    const std::string_view line = buffered.substr(at, nl - at);
    at = nl + 2;
    if (!line.starts_with("STAT ")) return at;  // END, or an error line
  }
}

std::string_view StatValue(std::string_view reply, std::string_view name) {
  std::size_t at = 0;
  while (at < reply.size()) {
    std::size_t nl = reply.find("\r\n", at);
    if (nl == std::string_view::npos) nl = reply.size();
    std::string_view line = reply.substr(at, nl - at);
    at = nl + 2;
    if (!line.starts_with("STAT ")) continue;
    line.remove_prefix(5);
    if (line.starts_with(name) && line.size() > name.size() && line[name.size()] == ' ') {
      return line.substr(name.size() + 1);
    }
  }
  return {};
}

}  // namespace rc::client
