// cluster/peer_hello.h -- how two nodes open a peer link (../shared/REPLICATION.md section 4): the
// handshake lines, the configuration they must agree on, and the proofs that both hold the
// cluster's secret, which never travels.
//
// The node that opens the link (the opener) and the one that accepted it (the acceptor) speak
// three lines before any replicated write, each "\r\n"-terminated, fields as key=value:
//
//   opener:   rc_hello proto=1 cluster=<path> name=<ring name> incarnation=<n> ring=<version>
//               clock=<version> profile=<name> replicas=<R> item_max=<-I> mode=async|sync
//               nonce=<32 hex digits>
//   acceptor: RC_HELLO <the same fields, its own> proof=<64 hex digits>
//             or RC_REFUSED <why>, and closes
//   opener:   rc_auth proof=<64 hex digits>
//   acceptor: RC_OK, or RC_REFUSED <why> and closes
//
// A proof is HMAC-SHA256 under the shared secret over a label naming the prover's role, both
// nonces and both names: fresh nonces on both sides make a recorded handshake worthless, and the
// role label keeps one side's proof from being replayed as the other's. Each side checks the
// other's proof before it trusts anything the link says. Unknown keys are ignored, so a later
// protocol can add fields; `proto` says which protocol the sender speaks.
//
// Thread-safety: pure functions, except NewNonce (any thread) and ReadClusterSecrets (reads a
// file).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ringcached/base/status.h"

namespace rc::cluster {

inline constexpr int kPeerProtocol = 1;

// What a node says of itself when a peer link opens.
struct PeerHello {
  int protocol = kPeerProtocol;
  std::string cluster;              // the --cluster path: two clusters never link
  std::string name;                 // the sender's ring name
  std::int64_t incarnation = 0;     // its ZooKeeper registration (membership.h)
  std::int32_t ring_version = 0;    // its view version
  std::uint64_t clock = 0;          // its version clock (base/hybrid_clock.h), for the receiver
                                    // to move past before it accepts writes
  std::string profile;              // --ring-profile
  int replicas = 0;                 // --replicas
  std::uint64_t item_size_max = 0;  // -I
  std::string mode;                 // --replication: "async" or "sync"
  std::string nonce;                // 32 hex digits, fresh for every handshake

  bool operator==(const PeerHello&) const = default;
};

// The opener's line, and the acceptor's answer with its proof, "\r\n" included.
std::string EncodeHello(const PeerHello& hello);
std::string EncodeHelloReply(const PeerHello& hello, std::string_view proof);
// The fields of an rc_hello or RC_HELLO line (what follows the verb, without "\r\n"). Every
// field above is required; a missing or malformed one is an error naming it. `proof` receives
// the proof field when there is one (RC_HELLO), else is left empty.
base::Result<PeerHello> ParseHelloFields(std::string_view fields, std::string* proof);

// Empty when two nodes may link: same protocol, cluster, profile, replicas, -I and mode.
// Otherwise the first difference, naming both values, for the refusal line and the log.
std::string ConfigMismatch(const PeerHello& mine, const PeerHello& theirs);

enum class PeerRole : unsigned char { kOpener, kAcceptor };
// The proof `role` gives in the handshake between `opener` and `acceptor`: 64 hex digits.
std::string PeerProof(std::string_view secret, PeerRole role, const PeerHello& opener,
                      const PeerHello& acceptor);
// Whether `proof` is that proof under one of `secrets` (two during a rotation), compared in
// constant time.
bool CheckPeerProof(const std::vector<std::string>& secrets, PeerRole role,
                    const PeerHello& opener, const PeerHello& acceptor, std::string_view proof);

// 16 random bytes (getrandom) as 32 hex digits.
std::string NewNonce();

// --cluster-secret-file: one secret per line (a second line during a rotation: both are
// accepted, the first is used), trailing whitespace ignored. Refused: a file that group or others
// may read or write (the mode must be 0600 or stricter), an empty secret, more than two, or one
// over 4096 bytes. The messages never quote the secret.
base::Result<std::vector<std::string>> ReadClusterSecrets(const std::string& path);

}  // namespace rc::cluster
