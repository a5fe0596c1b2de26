// proto/key_hint.h -- the key of the first request in a buffer, found cheaply, for a cache hint.
//
// A worker reads every ready connection before it runs any of their requests, and asks the
// store to prefetch each first key's table slot and item meanwhile (server/worker.cc), so the
// lookups' cache misses overlap. That needs the key before the request is parsed. This is not a
// parser: it takes the second word of a text or meta line (the third for gat/gats) or the key
// field of a binary header, and a wrong or missing answer only wastes one prefetch.
#pragma once

#include <string_view>

namespace rc::proto {

// The first request's key in `in` (`binary`: a binary-protocol request), or an empty view when
// it cannot be told from the first bytes.
std::string_view FirstKeyHint(std::string_view in, bool binary);

}  // namespace rc::proto
