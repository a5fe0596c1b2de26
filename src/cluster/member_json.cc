// cluster/member_json.cc -- see ringcached/cluster/member_json.h. A recursive-descent reader for
// RFC 8259 values, of which only one object's fields are kept; nesting in unknown fields is
// bounded (kMaxDepth) so a hostile znode cannot exhaust the stack.
#include "ringcached/cluster/member_json.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>

namespace rc::cluster {
namespace {

constexpr int kMaxDepth = 32;

void AppendQuoted(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          *out += "\\u00";
          *out += kHex[c >> 4];
          *out += kHex[c & 15];
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
  *out += '"';
}

void AppendUtf8(std::uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xc0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xe0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    *out += static_cast<char>(0xf0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  base::Result<Member> ReadMember() {
    Member m;
    bool have_name = false, have_port = false;
    SkipSpace();
    if (!Eat('{')) return Error("expected '{'");
    SkipSpace();
    if (!Eat('}')) {
      while (true) {
        SkipSpace();
        std::optional<std::string> key = ReadString();
        if (!key) return Error("expected a field name");
        SkipSpace();
        if (!Eat(':')) return Error("expected ':'");
        SkipSpace();
        bool ok = true;
        if (*key == "name") {
          ok = ReadStringInto(&m.name);
          have_name = ok;
        } else if (*key == "address") {
          ok = ReadStringInto(&m.address);
        } else if (*key == "state") {
          std::string state;
          ok = ReadStringInto(&state);
          std::optional<MemberState> parsed = ParseMemberState(state);
          if (ok && !parsed) {
            error_ = "unknown state \"" + state + "\" (up, warming or leaving)";
            ok = false;
          }
          if (ok) m.state = *parsed;
        } else if (*key == "port") {
          std::optional<std::int64_t> v = ReadInteger(0, 65535);
          ok = v.has_value();
          if (ok) m.port = static_cast<int>(*v);
          have_port = ok;
        } else if (*key == "weight") {
          std::optional<std::int64_t> v = ReadInteger(0, std::numeric_limits<std::uint32_t>::max());
          ok = v.has_value();
          if (ok) m.weight = static_cast<std::uint32_t>(*v);
        } else if (*key == "incarnation") {
          std::optional<std::int64_t> v = ReadInteger(0, std::numeric_limits<std::int64_t>::max());
          ok = v.has_value();
          if (ok) m.incarnation = *v;
        } else {
          ok = SkipValue(0);
        }
        if (!ok) return Error(error_.empty() ? "bad value of \"" + *key + "\"" : error_);
        SkipSpace();
        if (Eat('}')) break;
        if (!Eat(',')) return Error("expected ',' or '}'");
      }
    }
    SkipSpace();
    if (pos_ != in_.size()) return Error("unexpected bytes after the object");
    if (!have_name) return Error("the \"name\" field is missing");
    if (!have_port) return Error("the \"port\" field is missing");
    return m;
  }

 private:
  base::Status Error(const std::string& what) const {
    return base::Status::InvalidArgument("member JSON: " + what + " at byte " +
                                         std::to_string(pos_));
  }
  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return AtEnd() ? '\0' : in_[pos_]; }
  bool Eat(char c) {
    if (Peek() != c || AtEnd()) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (!AtEnd() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' ||
                        in_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool ReadStringInto(std::string* out) {
    std::optional<std::string> s = ReadString();
    if (!s) return false;
    *out = std::move(*s);
    return true;
  }

  std::optional<std::uint32_t> ReadHex4() {
    if (in_.size() - pos_ < 4) return std::nullopt;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = in_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    return v;
  }

  std::optional<std::string> ReadString() {
    if (!Eat('"')) return std::nullopt;
    std::string out;
    while (true) {
      if (AtEnd()) return std::nullopt;
      unsigned char c = static_cast<unsigned char>(in_[pos_++]);
      if (c == '"') return out;
      if (c < 0x20) return std::nullopt;  // control characters must be escaped
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (AtEnd()) return std::nullopt;
      char e = in_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::optional<std::uint32_t> cp = ReadHex4();
          if (!cp) return std::nullopt;
          if (*cp >= 0xd800 && *cp < 0xdc00) {  // a high surrogate needs its low half
            if (!Eat('\\') || !Eat('u')) return std::nullopt;
            std::optional<std::uint32_t> low = ReadHex4();
            if (!low || *low < 0xdc00 || *low >= 0xe000) return std::nullopt;
            *cp = 0x10000 + ((*cp - 0xd800) << 10) + (*low - 0xdc00);
          } else if (*cp >= 0xdc00 && *cp < 0xe000) {
            return std::nullopt;  // a lone low surrogate
          }
          AppendUtf8(*cp, &out);
          break;
        }
        default:
          return std::nullopt;
      }
    }
  }

  // A JSON integer (no fraction, no exponent) within [lo, hi].
  std::optional<std::int64_t> ReadInteger(std::int64_t lo, std::int64_t hi) {
    std::size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (!std::isdigit(static_cast<unsigned char>(Peek()))) return std::nullopt;
    if (Peek() == '0' && pos_ + 1 < in_.size() &&
        std::isdigit(static_cast<unsigned char>(in_[pos_ + 1]))) {
      return std::nullopt;  // no leading zeros in JSON
    }
    while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    if (Peek() == '.' || Peek() == 'e' || Peek() == 'E') {
      error_ = "expected an integer";
      return std::nullopt;
    }
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(in_.data() + start, in_.data() + pos_, v);
    if (ec != std::errc() || end != in_.data() + pos_ || v < lo || v > hi) {
      error_ = "integer out of range";
      return std::nullopt;
    }
    return v;
  }

  // Any JSON number, for fields we skip.
  bool SkipNumber() {
    if (Peek() == '-') ++pos_;
    if (!std::isdigit(static_cast<unsigned char>(Peek()))) return false;
    while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    if (Eat('.')) {
      if (!std::isdigit(static_cast<unsigned char>(Peek()))) return false;
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!std::isdigit(static_cast<unsigned char>(Peek()))) return false;
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    }
    return true;
  }

  bool EatWord(std::string_view word) {
    if (in_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool SkipValue(int depth) {
    if (depth > kMaxDepth) {
      error_ = "nested too deeply";
      return false;
    }
    SkipSpace();
    char c = Peek();
    if (AtEnd()) return false;
    if (c == '"') return ReadString().has_value();
    if (c == 't') return EatWord("true");
    if (c == 'f') return EatWord("false");
    if (c == 'n') return EatWord("null");
    if (c == '[' || c == '{') {
      char close = c == '[' ? ']' : '}';
      ++pos_;
      SkipSpace();
      if (Eat(close)) return true;
      while (true) {
        SkipSpace();
        if (c == '{') {
          if (!ReadString()) return false;
          SkipSpace();
          if (!Eat(':')) return false;
        }
        if (!SkipValue(depth + 1)) return false;
        SkipSpace();
        if (Eat(close)) return true;
        if (!Eat(',')) return false;
      }
    }
    return SkipNumber();
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace

std::string EncodeMember(const Member& m) {
  std::string out = "{\"name\":";
  AppendQuoted(m.name, &out);
  out += ",\"address\":";
  AppendQuoted(m.address, &out);
  out += ",\"port\":" + std::to_string(m.port);
  out += ",\"weight\":" + std::to_string(m.weight);
  out += ",\"incarnation\":" + std::to_string(m.incarnation);
  out += ",\"state\":";
  AppendQuoted(MemberStateName(m.state), &out);
  out += '}';
  return out;
}

base::Result<Member> DecodeMember(std::string_view json) { return Reader(json).ReadMember(); }

base::Result<Member> DecodeMemberZnode(std::string_view znode_name, std::string_view data) {
  base::Result<Member> m = DecodeMember(data);
  if (m.ok() && m.value().name != znode_name) {
    return base::Status::InvalidArgument("its data names \"" + m.value().name + "\"");
  }
  return m;
}

}  // namespace rc::cluster
