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
#include "ringcached/net/out_queue.h"

namespace rc::server {

class Server;

// The largest class id a command may name (class ids fit in a byte; store/size_classes.h).
inline constexpr unsigned kMaxReportedClass = 255;

// Where stats go: "STAT <name> <value>" lines for the text protocol, one packet per stat for the
// binary protocol.
class StatSink {
 public:
  virtual ~StatSink() = default;
  virtual void Add(std::string_view name, std::string_view value) = 0;
  void Add(std::string_view name, std::uint64_t v) { Add(name, std::to_string(v)); }
  void Add(std::string_view name, std::int64_t v) { Add(name, std::to_string(v)); }
  void Add(std::string_view name, int v) { Add(name, std::to_string(v)); }
};

// "STAT <name> <value>\r\n" lines into a connection's replies.
class TextStatSink final : public StatSink {
 public:
  explicit TextStatSink(net::OutQueue* out) : out_(out) {}
  using StatSink::Add;
  void Add(std::string_view name, std::string_view value) override;

 private:
  net::OutQueue* out_;
};

enum class StatsResult : unsigned char {
  kList,        // the stats were added; the caller ends the list (END, or an empty packet)
  kSingleLine,  // `stats sizes_enable|sizes_disable`: memcached sends no END after its line
  kUnknown,     // not a stats sub-command (the caller answers ERROR)
};

// `stats` (sub empty), `stats settings|items|slabs|sizes|sizes_enable|sizes_disable|conns`, and
// `stats cluster` with --cluster (ClusterNode::AddStats).
StatsResult AddStats(Server& server, std::string_view sub, StatSink* sink);
// `stats cachedump <class> <limit>`: "ITEM <key> [<bytes> b; <exptime> s]" lines, most recently
// written first, then END.
void AppendCachedump(Server& server, unsigned class_id, long long limit, net::OutQueue* out);
// `lru_crawler metadump <all|hash|ids>`: one "key=... exp=... la=... cas=... fetch=... cls=...
// size=..." line per item ("\n" only, as memcached), then "END\r\n".
void AppendMetadump(Server& server, std::string_view which, net::OutQueue* out);
// `stats reset`.
void ResetAllStats(Server& server);

}  // namespace rc::server
