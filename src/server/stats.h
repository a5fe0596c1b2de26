// server/stats.h -- the text of `stats` and its sub-commands, gathered from every module.
//
// Field names, order and formats follow memcached 1.6.18 (PROTOCOL.md section 6 and the reference
// transcript) so that exporters, memcstat and dashboards read ringcached unchanged. Counters are
// summed over the workers at the moment of the request; the result is a consistent-enough
// snapshot, as memcached's is.
#pragma once

#include <string_view>

#include <string>

#include "ringcached/store/store.h"
#include "server/out_queue.h"

namespace rc::server {

class Server;

// The largest class id a command may name (class ids fit in a byte; store/size_classes.h).
inline constexpr unsigned kMaxReportedClass = 255;

// `stats` (sub empty), `stats settings|items|slabs|sizes|sizes_enable|sizes_disable|conns`.
// Returns false for an unknown sub-command (the caller answers ERROR).
bool AppendStats(Server& server, std::string_view sub, OutQueue* out);
// `stats cachedump <class> <limit>`: "ITEM <key> [<bytes> b; <exptime> s]" lines, most recently
// written first, then END.
void AppendCachedump(Server& server, unsigned class_id, long long limit, OutQueue* out);
// `lru_crawler metadump <all|hash|ids>`: one "key=... exp=... la=... cas=... fetch=... cls=...
// size=..." line per item ("\n" only, as memcached), then "END\r\n".
void AppendMetadump(Server& server, std::string_view which, OutQueue* out);
// `stats reset`.
void ResetAllStats(Server& server);

// memcached's uri_encode (metadump, watch): all but unreserved characters become %XX.
void UriEncode(std::string_view in, std::string* out);

}  // namespace rc::server
