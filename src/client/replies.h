// client/replies.h -- the reply collectors of the client library's requests: each is handed the
// bytes a connection received (client/connection.h's Exchange::on_input), consumes whole text
// protocol replies (proto/client_codec.h parses them) and says when the round's last one is in.
//
// Thread-safety: none; one collector serves one exchange on one thread.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "ringcached/client/client.h"
#include "ringcached/proto/client_codec.h"

namespace rc::client {

// The replies of `gets` pipelined `get` requests: VALUE blocks into *items, each request ended
// by END. An error line ends a request too, and is kept in error_line (the call reports it).
class GetReplies {
 public:
  GetReplies(std::size_t gets, std::map<std::string, Item, std::less<>>* items)
      : ends_left_(gets), items_(items) {}
  proto::client::ReplyStatus operator()(std::string_view in, std::size_t* consumed);
  const std::string& error_line() const { return error_line_; }

 private:
  std::size_t ends_left_;
  std::map<std::string, Item, std::less<>>* items_;
  std::string error_line_;
};

// A one-line reply (STORED, DELETED, VERSION ..., an error line) into line().
class LineReply {
 public:
  proto::client::ReplyStatus operator()(std::string_view in, std::size_t* consumed);
  const std::string& line() const { return line_; }

 private:
  std::string line_;
};

// A reply that a length function frames (member_list.h's ConfigReplyLength, StatsReplyLength
// below), copied whole into text().
class FramedReply {
 public:
  using Length = std::size_t (*)(std::string_view buffered);
  explicit FramedReply(Length length) : length_(length) {}
  proto::client::ReplyStatus operator()(std::string_view in, std::size_t* consumed);
  const std::string& text() const { return text_; }

 private:
  Length length_;
  std::string text_;
};

// A `stats <group>` reply: STAT lines through END, or one error line.
std::size_t StatsReplyLength(std::string_view buffered);
// The value of `STAT <name> <value>` in a stats reply, or empty.
std::string_view StatValue(std::string_view reply, std::string_view name);

}  // namespace rc::client
