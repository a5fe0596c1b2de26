// origin/url.h -- the origin URL: which backend it names, an HTTP origin's parts, keys made safe
// for a URL path, and passwords kept out of logs (RedactUrl, in read_through.h).
//
// Pure functions on strings; t/unit/origin tests them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringcached/base/status.h"

namespace rc::origin {

enum class Scheme : std::uint8_t { kUnknown, kHttp, kHttps, kPostgres };

// "http://..." -> kHttp, "https://..." -> kHttps, "postgresql://..." or "postgres://..." ->
// kPostgres (case-insensitive scheme), anything else kUnknown.
Scheme SchemeOf(std::string_view url);

// http://host[:port][/prefix]. The key, URL-encoded, is appended to `path_prefix` (which always
// starts with '/'; "http://h:1" has prefix "/").
struct HttpTarget {
  std::string host;         // as written (a name, an IPv4 address, or an IPv6 address without [])
  std::uint16_t port = 80;
  std::string path_prefix;  // e.g. "/kv/"
};
base::Result<HttpTarget> ParseHttpUrl(std::string_view url);

}  // namespace rc::origin
