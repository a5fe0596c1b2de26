// proto/client_codec.cc -- see client_codec.h.
#include "ringcached/proto/client_codec.h"

#include <charconv>
#include <cstring>


namespace rc::proto::client {
namespace {

// Longest reply line accepted before the stream is judged lost: a VALUE header is at most
// kMaxValueHeader bytes, an error line a few hundred; memcached's own limit for a line is 2048.
constexpr std::size_t kMaxLine = 8192;

void AppendNumber(std::string* out, std::uint64_t v) {
  char buf[24];
  out->append(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof(buf), v).ptr - buf));
}

void AppendSigned(std::string* out, std::int64_t v) {
  char buf[24];
  out->append(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof(buf), v).ptr - buf));
}

// The line at the front of `in`, without its "\r\n"; kNeedMore until the "\n" is there, kError
// for a line too long or not ended by "\r\n".
ReplyStatus TakeLine(std::string_view in, std::string_view* line, std::size_t* consumed) {
  const std::size_t nl = in.substr(0, kMaxLine).find('\n');
  if (nl == std::string_view::npos) {
    return in.size() >= kMaxLine ? ReplyStatus::kError : ReplyStatus::kNeedMore;
  }
  if (nl == 0 || in[nl - 1] != '\r') return ReplyStatus::kError;
  *line = in.substr(0, nl - 1);
  *consumed = nl + 1;
  return ReplyStatus::kOk;
}

// Splits off the next space-separated token of `rest`.
std::string_view NextToken(std::string_view* rest) {
  const std::size_t start = rest->find_first_not_of(' ');
  if (start == std::string_view::npos) {
    *rest = {};
    return {};
  }
  const std::size_t end = rest->find(' ', start);
  const std::string_view token =
      rest->substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  *rest = end == std::string_view::npos ? std::string_view{} : rest->substr(end);
  return token;
}

template <typename T>
bool ParseNumber(std::string_view token, T* v) {
  if (token.empty()) return false;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), *v);
  return ec == std::errc() && end == token.data() + token.size();
}

bool IsErrorLine(std::string_view line) {
  return line == "ERROR" || line.starts_with("CLIENT_ERROR") || line.starts_with("SERVER_ERROR");
}

// A data block of `len` bytes and its "\r\n" at in[start...]: the data, and the bytes up to its
// end, or kNeedMore / kError.
ReplyStatus TakeData(std::string_view in, std::size_t start, std::size_t len,
                     std::string_view* data, std::size_t* end) {
  if (in.size() < start || in.size() - start < len + 2) return ReplyStatus::kNeedMore;
  if (in[start + len] != '\r' || in[start + len + 1] != '\n') return ReplyStatus::kError;
  *data = in.substr(start, len);
  *end = start + len + 2;
  return ReplyStatus::kOk;
}

}  // namespace

// ---- text -------------------------------------------------------------------------------------

void AppendTextGet(std::string* out, std::initializer_list<std::string_view> keys,
                   bool with_cas) {
  out->append(with_cas ? "gets" : "get");
  for (std::string_view k : keys) {
    out->push_back(' ');
    out->append(k);
  }
  out->append("\r\n");
}

void AppendTextStore(std::string* out, std::string_view command, std::string_view key,
                     std::uint32_t flags, std::int64_t exptime, std::string_view value,
                     std::uint64_t cas, bool noreply) {
  out->append(command);
  out->push_back(' ');
  out->append(key);
  out->push_back(' ');
  AppendNumber(out, flags);
  out->push_back(' ');
  AppendSigned(out, exptime);
  out->push_back(' ');
  AppendNumber(out, value.size());
  if (command == "cas") {
    out->push_back(' ');
    AppendNumber(out, cas);
  }
  if (noreply) out->append(" noreply");
  out->append("\r\n");
  out->append(value);
  out->append("\r\n");
}

void AppendTextLine(std::string* out, std::string_view line) {
  out->append(line);
  out->append("\r\n");
}

bool TextReply::is_error() const { return kind == Kind::kLine && IsErrorLine(line); }

ReplyStatus ParseTextReply(std::string_view in, TextReply* out) {
  std::string_view line;
  std::size_t header = 0;
  if (ReplyStatus s = TakeLine(in, &line, &header); s != ReplyStatus::kOk) return s;
  *out = TextReply{};
  const bool value = line.starts_with("VALUE ");
  if (!value && !line.starts_with("CONFIG ")) {
    out->line = line;
    out->consumed = header;
    return ReplyStatus::kOk;
  }
  // "VALUE <key> <flags> <bytes>[ <cas>]", and the same for CONFIG.
  std::string_view rest = line.substr(value ? 6 : 7);
  const std::string_view key = NextToken(&rest);
  std::uint32_t flags = 0;
  std::uint64_t bytes = 0;
  if (key.empty() || !ParseNumber(NextToken(&rest), &flags) ||
      !ParseNumber(NextToken(&rest), &bytes) || bytes > (std::uint64_t{1} << 32)) {
    return ReplyStatus::kError;
  }
  if (const std::string_view cas = NextToken(&rest); !cas.empty()) {
    std::uint64_t v = 0;
    if (!ParseNumber(cas, &v) || !NextToken(&rest).empty()) return ReplyStatus::kError;
    out->cas = v;
  }
  std::size_t end = 0;
  if (ReplyStatus s = TakeData(in, header, static_cast<std::size_t>(bytes), &out->value, &end);
      s != ReplyStatus::kOk) {
    return s;
  }
  out->kind = value ? TextReply::Kind::kValue : TextReply::Kind::kConfig;
  out->key = key;
  out->flags = flags;
  out->consumed = end;
  return ReplyStatus::kOk;
}

// ---- meta -------------------------------------------------------------------------------------

void AppendMeta(std::string* out, std::string_view command, std::string_view key,
                std::string_view flags, std::string_view value) {
  out->append(command);
  if (!key.empty()) {
    out->push_back(' ');
    out->append(key);
  }
  const bool set = command == "ms";
  if (set) {
    out->push_back(' ');
    AppendNumber(out, value.size());
  }
  if (!flags.empty()) {
    out->push_back(' ');
    out->append(flags);
  }
  out->append("\r\n");
  if (set) {
    out->append(value);
    out->append("\r\n");
  }
}

void AppendMetaRequest(std::string* out, const MetaRequest& req, std::string_view value,
                       bool drop_quiet) {
  static constexpr std::string_view kCommands[] = {"mg", "ms", "md", "ma", "mn", "me"};
  std::string key;
  if (req.key_binary) {
    char encoded[(kMaxKeyLength + 2) / 3 * 4 + 4];
    key.assign(encoded, Base64Encode(req.key().data(), req.key().size(), encoded));
  } else {
    key = req.key();
  }
  std::string flags;
  for (std::size_t i = 0; i < req.nflags; ++i) {
    const char f = req.flags[i];
    if (f == 'q' && drop_quiet) continue;
    if (!flags.empty()) flags.push_back(' ');
    flags.push_back(f);
    switch (f) {
      case 'N': AppendSigned(&flags, req.vivify_ttl); break;
      case 'T': AppendSigned(&flags, req.ttl); break;
      case 'R': AppendSigned(&flags, req.recache_ttl); break;
      case 'F': AppendNumber(&flags, req.client_flags); break;
      case 'C': AppendNumber(&flags, req.cas); break;
      case 'E': AppendNumber(&flags, req.new_cas); break;
      case 'D': AppendNumber(&flags, req.delta); break;
      case 'J': AppendNumber(&flags, req.initial); break;
      case 'M': flags.push_back(req.mode); break;
      case 'O': flags.append(req.opaque()); break;
      case 'Y': flags.append(req.minter()); break;
      default: break;  // a flag without a token
    }
  }
  AppendMeta(out, kCommands[static_cast<std::size_t>(req.command)], key, flags, value);
}

std::optional<std::string_view> MetaReply::Flag(char f) const {
  if (is_error()) return std::nullopt;
  std::string_view rest = flags;
  for (std::string_view t = NextToken(&rest); !t.empty(); t = NextToken(&rest)) {
    if (t[0] == f) return t.substr(1);
  }
  return std::nullopt;
}

bool MetaReply::is_error() const {
  return code == "ERROR" || code == "CLIENT_ERROR" || code == "SERVER_ERROR";
}

ReplyStatus ParseMetaReply(std::string_view in, MetaReply* out) {
  std::string_view line;
  std::size_t header = 0;
  if (ReplyStatus s = TakeLine(in, &line, &header); s != ReplyStatus::kOk) return s;
  *out = MetaReply{};
  std::string_view rest = line;
  const std::string_view code = NextToken(&rest);
  const std::size_t flags_at = rest.find_first_not_of(' ');
  const std::string_view flags =
      flags_at == std::string_view::npos ? std::string_view{} : rest.substr(flags_at);
  out->code = code;
  out->consumed = header;
  if (code == "ERROR" || code == "CLIENT_ERROR" || code == "SERVER_ERROR") {
    out->flags = flags;  // the message
    return ReplyStatus::kOk;
  }
  if (code == "HD" || code == "EN" || code == "NF" || code == "NS" || code == "EX" ||
      code == "MN") {
    out->flags = flags;
    return ReplyStatus::kOk;
  }
  if (code != "VA") return ReplyStatus::kError;
  std::string_view size_and_flags = flags;
  std::uint64_t size = 0;
  if (!ParseNumber(NextToken(&size_and_flags), &size) || size > (std::uint64_t{1} << 32)) {
    return ReplyStatus::kError;
  }
  const std::size_t at = size_and_flags.find_first_not_of(' ');
  out->flags = at == std::string_view::npos ? std::string_view{} : size_and_flags.substr(at);
  std::size_t end = 0;
  if (ReplyStatus s = TakeData(in, header, static_cast<std::size_t>(size), &out->value, &end);
      s != ReplyStatus::kOk) {
    return s;
  }
  out->consumed = end;
  return ReplyStatus::kOk;
}

// ---- binary -----------------------------------------------------------------------------------

void AppendBinary(std::string* out, const BinaryRequest& r) {
  char h[binary::kHeaderSize];
  h[0] = static_cast<char>(binary::kRequestMagic);
  h[1] = static_cast<char>(r.opcode);
  h[2] = static_cast<char>(r.key.size() >> 8);
  h[3] = static_cast<char>(r.key.size() & 0xff);
  h[4] = static_cast<char>(r.extras.size());
  h[5] = 0;  // data type: raw bytes
  h[6] = 0;  // vbucket
  h[7] = 0;
  binary::Store32(h + 8,
                  static_cast<std::uint32_t>(r.extras.size() + r.key.size() + r.value.size()));
  std::memcpy(h + 12, &r.opaque, 4);  // as the server echoes it: raw
  binary::Store64(h + 16, r.cas);
  out->append(h, sizeof(h));
  out->append(r.extras);
  out->append(r.key);
  out->append(r.value);
}

std::string_view StorageExtras(char* buf, std::uint32_t flags, std::uint32_t exptime) {
  binary::Store32(buf, flags);
  binary::Store32(buf + 4, exptime);
  return {buf, 8};
}

std::string_view CounterExtras(char* buf, std::uint64_t delta, std::uint64_t initial,
                               std::uint32_t exptime) {
  binary::Store64(buf, delta);
  binary::Store64(buf + 8, initial);
  binary::Store32(buf + 16, exptime);
  return {buf, 20};
}

std::string_view TouchExtras(char* buf, std::uint32_t exptime) {
  binary::Store32(buf, exptime);
  return {buf, 4};
}

ReplyStatus ParseBinaryReply(std::string_view in, BinaryReply* out) {
  if (in.size() < binary::kHeaderSize) {
    // A first byte that is not the response magic is lost already.
    return !in.empty() && static_cast<std::uint8_t>(in[0]) != binary::kResponseMagic
               ? ReplyStatus::kError
               : ReplyStatus::kNeedMore;
  }
  const binary::Header h = binary::DecodeHeader(in.data());
  if (h.magic != binary::kResponseMagic ||
      std::size_t{h.extras_len} + h.key_len > h.body_len) {
    return ReplyStatus::kError;
  }
  if (in.size() - binary::kHeaderSize < h.body_len) return ReplyStatus::kNeedMore;
  *out = BinaryReply{};
  out->header = h;
  std::string_view body = in.substr(binary::kHeaderSize, h.body_len);
  out->extras = body.substr(0, h.extras_len);
  out->key = body.substr(h.extras_len, h.key_len);
  out->value = body.substr(std::size_t{h.extras_len} + h.key_len);
  out->consumed = binary::kHeaderSize + h.body_len;
  return ReplyStatus::kOk;
}

}  // namespace rc::proto::client
