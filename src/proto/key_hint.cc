// proto/key_hint.cc -- see key_hint.h.
#include "ringcached/proto/key_hint.h"

#include <cstddef>

#include "ringcached/proto/binary.h"
#include "ringcached/proto/limits.h"

namespace rc::proto {
namespace {

// The word of `in` that starts at `at`: up to a space or the end of the line.
std::string_view WordAt(std::string_view in, std::size_t at) {
  std::size_t end = at;
  while (end < in.size() && end - at <= kMaxKeyLength && in[end] != ' ' && in[end] != '\r' &&
         in[end] != '\n') {
    ++end;
  }
  if (end == in.size() || end - at > kMaxKeyLength) return {};  // the word may go on
  return in.substr(at, end - at);
}

}  // namespace

std::string_view FirstKeyHint(std::string_view in, bool binary) {
  if (binary) {
    if (in.size() < binary::kHeaderSize ||
        static_cast<unsigned char>(in[0]) != binary::kRequestMagic) {
      return {};
    }
    std::size_t key_len =
        (static_cast<unsigned char>(in[2]) << 8) | static_cast<unsigned char>(in[3]);
    std::size_t at = binary::kHeaderSize + static_cast<unsigned char>(in[4]);
    if (key_len == 0 || at + key_len > in.size()) return {};
    return in.substr(at, key_len);
  }
  std::string_view command = WordAt(in, 0);
  if (command.empty() || command.size() + 1 >= in.size()) return {};
  std::size_t at = command.size() + 1;
  if (command == "gat" || command == "gats") {  // gat <exptime> <key>*
    std::string_view exptime = WordAt(in, at);
    at += exptime.size() + 1;
    if (exptime.empty() || at >= in.size()) return {};
  }
  return WordAt(in, at);
}

}  // namespace rc::proto
