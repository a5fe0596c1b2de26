// base/uri.h -- percent-encoding (RFC 3986): the one encoder for keys that leave the server
// inside a URI-like text -- the HTTP origin's request path (origin/) and memcached's `watch`
// and metadump lines (server/), which both escape everything but unreserved characters.
#pragma once

#include <string>
#include <string_view>

namespace rc::base {

// Appends `in` to *out with every byte outside A-Z a-z 0-9 - . _ ~ written as %XX (upper case).
void AppendUriEncoded(std::string_view in, std::string* out);

}  // namespace rc::base
