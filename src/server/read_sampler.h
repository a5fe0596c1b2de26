// server/read_sampler.h -- ReadSampler: the reads a worker's sessions serve, offered to whoever
// wants to know what clients read (issue 15's read-sampling hook). Today: the replicator's access
// hints (replicator.h), so that the key's other holders keep what clients read here; the hot-key
// detector is to take samples the same way (../shared/REPLICATION.md section 7).
//
// A session calls OnRead for every hit it answers (text, meta and binary gets, gat), on its
// worker; the sampler decides what to keep, and must cost next to nothing when it keeps nothing.
//
// Thread-safety: one sampler per worker, called on that worker only.
#pragma once

#include <cstddef>
#include <string_view>

namespace rc::server {

class ReadSampler {
 public:
  virtual ~ReadSampler() = default;
  // A client read `key`, whose value is `value_bytes` long.
  virtual void OnRead(std::string_view key, std::size_t value_bytes) = 0;
};

}  // namespace rc::server
