// cluster/sha256.h -- SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), written here for the peer
// links' challenge-response (../shared/REPLICATION.md section 4): two nodes prove they hold the
// same --cluster-secret-file without sending it. A few hundred bytes per handshake, so a plain
// implementation is plenty, and the server links no crypto library (which, like the ZooKeeper
// client, would be resident in every single node's RSS; cluster/zk_lib.h).
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace rc::cluster {

using Sha256Digest = std::array<std::uint8_t, 32>;

// The digest of `data`.
Sha256Digest Sha256(std::string_view data);

// HMAC-SHA256 of `message` under `key`.
Sha256Digest HmacSha256(std::string_view key, std::string_view message);

// Whether two digests are equal, in time that does not depend on where they differ.
bool DigestsEqual(const Sha256Digest& a, const Sha256Digest& b);

}  // namespace rc::cluster
