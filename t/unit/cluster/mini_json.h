// t/unit/cluster/mini_json.h -- just enough JSON to read the vector manifests
// (../shared/testdata/ketama/*/lists.json): objects, arrays, strings with simple escapes,
// numbers, true/false/null. Test-only; a parse error fails the calling test with its offset.
//
// Why not the cluster module's reader (src/cluster/member_json.cc): that one decodes a single
// flat object straight into a Member and skips whatever else it meets; it builds no tree, and
// the manifests are nested objects and arrays read by key. Growing it into a general JSON
// reader would put code into the server that only this test needs, and the ring test would then
// read its expected values through the module it tests. So the test keeps its own, small and
// throwing (a malformed manifest is a broken test, not a value to handle).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rc::testing {

struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  bool Has(const std::string& key) const { return object.count(key) != 0; }
  const Json& operator[](const std::string& key) const {
    auto it = object.find(key);
    if (kind != Kind::kObject || it == object.end()) {
      throw std::runtime_error("JSON: no member \"" + key + "\"");
    }
    return it->second;
  }
  std::uint32_t AsUint32() const {
    if (kind != Kind::kNumber) throw std::runtime_error("JSON: not a number");
    return static_cast<std::uint32_t>(number);
  }
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text) {}

  // Throws std::runtime_error (with the byte offset) on malformed input.
  Json Parse() {
    Json v = Value();
    Space();
    if (pos_ != s_.size()) Fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(pos_));
  }
  void Space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    Space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void Expect(char c) {
    if (!Eat(c)) Fail(std::string("expected '") + c + "'");
  }
  bool Word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  std::string String() {
    Expect('"');
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ >= s_.size()) Fail("bad escape");
        char e = s_[pos_++];
        switch (e) {
          case 'n':
            out.push_back('\n');
            break;
          case 't':
            out.push_back('\t');
            break;
          case 'r':
            out.push_back('\r');
            break;
          case 'b':
            out.push_back('\b');
            break;
          case 'f':
            out.push_back('\f');
            break;
          case 'u': {
            // ASCII only: the manifests never need more.
            if (pos_ + 4 > s_.size()) Fail("bad \\u escape");
            const unsigned long cp = std::stoul(std::string(s_.substr(pos_, 4)), nullptr, 16);
            if (cp > 0x7f) Fail("non-ASCII \\u escape");
            out.push_back(static_cast<char>(cp));
            pos_ += 4;
            break;
          }
          default:
            out.push_back(e);  // \" \\ \/
        }
      } else {
        out.push_back(c);
      }
    }
    if (pos_ >= s_.size()) Fail("unterminated string");
    ++pos_;
    return out;
  }

  Json Value() {
    Space();
    if (pos_ >= s_.size()) Fail("unexpected end");
    Json v;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = Json::Kind::kObject;
      if (Eat('}')) return v;
      do {
        Space();
        std::string key = String();
        Expect(':');
        v.object[key] = Value();
      } while (Eat(','));
      Expect('}');
    } else if (c == '[') {
      ++pos_;
      v.kind = Json::Kind::kArray;
      if (Eat(']')) return v;
      do {
        v.array.push_back(Value());
      } while (Eat(','));
      Expect(']');
    } else if (c == '"') {
      v.kind = Json::Kind::kString;
      v.string = String();
    } else if (Word("true")) {
      v.kind = Json::Kind::kBool;
      v.boolean = true;
    } else if (Word("false")) {
      v.kind = Json::Kind::kBool;
    } else if (Word("null")) {
      v.kind = Json::Kind::kNull;
    } else {
      const std::size_t start = pos_;
      while (pos_ < s_.size() &&
             std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos) {
        ++pos_;
      }
      if (pos_ == start) Fail("unexpected character");
      v.kind = Json::Kind::kNumber;
      v.number = std::stod(std::string(s_.substr(start, pos_ - start)));
    }
    return v;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace rc::testing
