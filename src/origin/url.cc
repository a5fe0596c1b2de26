// origin/url.cc -- see url.h.
#include "origin/url.h"

#include <algorithm>
#include <charconv>

#include "ringcached/origin/read_through.h"

namespace rc::origin {
namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

Scheme SchemeOf(std::string_view url) {
  if (StartsWithNoCase(url, "http://")) return Scheme::kHttp;
  if (StartsWithNoCase(url, "https://")) return Scheme::kHttps;
  if (StartsWithNoCase(url, "postgresql://") || StartsWithNoCase(url, "postgres://")) {
    return Scheme::kPostgres;
  }
  return Scheme::kUnknown;
}

base::Result<HttpTarget> ParseHttpUrl(std::string_view url) {
  if (SchemeOf(url) != Scheme::kHttp) {
    return base::Status::InvalidArgument("not an http:// URL: " + std::string(url));
  }
  std::string_view rest = url.substr(7);
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpTarget t;
  t.path_prefix = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (t.path_prefix.find_first_of("?#") != std::string::npos) {
    return base::Status::InvalidArgument("the origin URL cannot have a query or fragment (the "
                                         "key is appended to its path): " + std::string(url));
  }
  if (authority.find('@') != std::string_view::npos) {
    return base::Status::InvalidArgument("user names in http origin URLs are not supported: " +
                                         RedactUrl(url));
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return base::Status::InvalidArgument("unterminated [IPv6 address] in " + std::string(url));
    }
    t.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return base::Status::InvalidArgument("junk after ] in " + std::string(url));
      }
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty()) return base::Status::InvalidArgument("no host in " + std::string(url));
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return base::Status::InvalidArgument("bad port in " + std::string(url));
    }
    t.port = static_cast<std::uint16_t>(port);
  }
  return t;
}

std::string RedactUrl(std::string_view url) {
  std::string out(url);
  // scheme://user:password@host... -> scheme://user:***@host...
  const std::size_t scheme_end = out.find("://");
  if (scheme_end != std::string::npos) {
    const std::size_t start = scheme_end + 3;
    const std::size_t authority_end = std::min(out.find_first_of("/?#", start), out.size());
    const std::size_t at = out.rfind('@', authority_end);
    const std::size_t colon = out.find(':', start);
    if (at != std::string::npos && at >= start && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // libpq also takes ?password=... (and &password=...) in the query string.
  for (std::size_t p = out.find("password="); p != std::string::npos;
       p = out.find("password=", p + 1)) {
    if (p > 0 && out[p - 1] != '?' && out[p - 1] != '&') continue;
    const std::size_t value = p + 9;
    const std::size_t end = std::min(out.find('&', value), out.size());
    out.replace(value, end - value, "***");
  }
  return out;
}

}  // namespace rc::origin
