// server/prefix_stats.h -- `stats detail`: per key-prefix counts of gets, hits, sets and deletes
// (memcached stats_prefix.c). A key's prefix is what precedes the delimiter (-D, default ':');
// keys without one are not counted. Counting is off until `stats detail on` or -D.
//
// Thread-safety: any thread; one mutex, taken only while detail is on (it is a debugging aid).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "ringcached/base/mutex.h"

namespace rc::server {

class PrefixStats {
 public:
  enum class Op { kGet, kSet, kDelete };
  void Record(std::string_view key, char delimiter, Op op, bool hit);
  // "PREFIX <p> get <n> hit <n> set <n> del <n>\r\n" lines then "END\r\n".
  std::string Dump() const;
  void Clear();

 private:
  struct Counts {
    std::uint64_t gets = 0, hits = 0, sets = 0, deletes = 0;
  };
  mutable base::Mutex mu_;
  std::map<std::string, Counts, std::less<>> prefixes_ RC_GUARDED_BY(mu_);
};

}  // namespace rc::server
