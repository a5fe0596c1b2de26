// cluster/peer_hello.cc -- see peer_hello.h: the handshake lines, the configuration check, the
// proofs and the secret file.
#include "ringcached/cluster/peer_hello.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <charconv>

#include "cluster/sha256.h"

namespace rc::cluster {
namespace {

constexpr std::size_t kNonceBytes = 16;
constexpr std::size_t kMaxSecret = 4096;
constexpr std::size_t kMaxSecrets = 2;

std::string Hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

bool IsHex(std::string_view s, std::size_t digits) {
  if (s.size() != digits) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// The fields every hello carries, in the order they are written.
std::string Fields(const PeerHello& h) {
  std::string out;
  out += "proto=" + std::to_string(h.protocol);
  out += " cluster=" + h.cluster;
  out += " name=" + h.name;
  out += " incarnation=" + std::to_string(h.incarnation);
  out += " ring=" + std::to_string(h.ring_version);
  out += " clock=" + std::to_string(h.clock);
  out += " profile=" + h.profile;
  out += " replicas=" + std::to_string(h.replicas);
  out += " item_max=" + std::to_string(h.item_size_max);
  out += " mode=" + h.mode;
  out += " nonce=" + h.nonce;
  return out;
}

// A value that a field may hold: printable, no spaces (ring names and cluster paths are).
bool IsToken(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    if (c <= ' ' || c >= 0x7f) return false;
  }
  return true;
}

std::string ProofMessage(PeerRole role, const PeerHello& opener, const PeerHello& acceptor) {
  return std::string(role == PeerRole::kOpener ? "ringcached-peer opener " :
                                                 "ringcached-peer acceptor ") +
         std::to_string(kPeerProtocol) + " " + opener.nonce + " " + acceptor.nonce + " " +
         opener.name + " " + acceptor.name;
}

}  // namespace

std::string EncodeHello(const PeerHello& hello) { return "rc_hello " + Fields(hello) + "\r\n"; }

std::string EncodeHelloReply(const PeerHello& hello, std::string_view proof) {
  return "RC_HELLO " + Fields(hello) + " proof=" + std::string(proof) + "\r\n";
}

base::Result<PeerHello> ParseHelloFields(std::string_view fields, std::string* proof) {
  PeerHello h;
  proof->clear();
  unsigned seen = 0;  // one bit per required field
  enum : unsigned {
    kProto = 1, kCluster = 2, kName = 4, kIncarnation = 8, kRing = 16, kClock = 32,
    kProfile = 64, kReplicas = 128, kItemMax = 256, kMode = 512, kNonce = 1024, kAll = 2047
  };
  auto bad = [](std::string_view key) {
    return base::Status::InvalidArgument("peer hello: bad " + std::string(key));
  };
  while (!fields.empty()) {
    const std::size_t sp = fields.find(' ');
    const std::string_view field = fields.substr(0, sp);
    fields = sp == std::string_view::npos ? std::string_view() : fields.substr(sp + 1);
    if (field.empty()) continue;
    const std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) return bad(field);
    const std::string_view key = field.substr(0, eq);
    const std::string_view v = field.substr(eq + 1);
    bool ok = IsToken(v);
    if (key == "proto") {
      ok = ok && ParseNumber(v, &h.protocol) && h.protocol > 0;
      seen |= kProto;
    } else if (key == "cluster") {
      h.cluster = std::string(v);
      seen |= kCluster;
    } else if (key == "name") {
      h.name = std::string(v);
      ok = ok && v.size() <= 255;
      seen |= kName;
    } else if (key == "incarnation") {
      ok = ok && ParseNumber(v, &h.incarnation) && h.incarnation >= 0;
      seen |= kIncarnation;
    } else if (key == "ring") {
      ok = ok && ParseNumber(v, &h.ring_version);
      seen |= kRing;
    } else if (key == "clock") {
      ok = ok && ParseNumber(v, &h.clock);
      seen |= kClock;
    } else if (key == "profile") {
      h.profile = std::string(v);
      seen |= kProfile;
    } else if (key == "replicas") {
      ok = ok && ParseNumber(v, &h.replicas) && h.replicas > 0;
      seen |= kReplicas;
    } else if (key == "item_max") {
      ok = ok && ParseNumber(v, &h.item_size_max);
      seen |= kItemMax;
    } else if (key == "mode") {
      h.mode = std::string(v);
      ok = ok && (v == "async" || v == "sync");
      seen |= kMode;
    } else if (key == "nonce") {
      h.nonce = std::string(v);
      ok = IsHex(v, 2 * kNonceBytes);
      seen |= kNonce;
    } else if (key == "proof") {
      *proof = std::string(v);
      ok = IsHex(v, 64);
    }
    // Any other key: a later protocol's; ignored.
    if (!ok) return bad(key);
  }
  if (seen != kAll) {
    static constexpr const char* kNames[] = {"proto", "cluster", "name", "incarnation", "ring",
                                             "clock", "profile", "replicas", "item_max", "mode",
                                             "nonce"};
    for (unsigned i = 0; i < 11; ++i) {
      if ((seen & (1u << i)) == 0) {
        return base::Status::InvalidArgument(std::string("peer hello: no ") + kNames[i]);
      }
    }
  }
  return h;
}

std::string ConfigMismatch(const PeerHello& mine, const PeerHello& theirs) {
  auto differ = [&](const char* what, const std::string& a, const std::string& b) {
    return std::string(what) + " " + a + " here, " + b + " at " + theirs.name;
  };
  if (mine.protocol != theirs.protocol) {
    return differ("peer protocol", std::to_string(mine.protocol), std::to_string(theirs.protocol));
  }
  if (mine.cluster != theirs.cluster) return differ("cluster", mine.cluster, theirs.cluster);
  if (mine.profile != theirs.profile) return differ("ring profile", mine.profile, theirs.profile);
  if (mine.replicas != theirs.replicas) {
    return differ("replicas", std::to_string(mine.replicas), std::to_string(theirs.replicas));
  }
  if (mine.item_size_max != theirs.item_size_max) {
    return differ("item size limit (-I)", std::to_string(mine.item_size_max),
                  std::to_string(theirs.item_size_max));
  }
  if (mine.mode != theirs.mode) return differ("replication mode", mine.mode, theirs.mode);
  return {};
}

std::string PeerProof(std::string_view secret, PeerRole role, const PeerHello& opener,
                      const PeerHello& acceptor) {
  const Sha256Digest d = HmacSha256(secret, ProofMessage(role, opener, acceptor));
  return Hex(d.data(), d.size());
}

bool CheckPeerProof(const std::vector<std::string>& secrets, PeerRole role,
                    const PeerHello& opener, const PeerHello& acceptor, std::string_view proof) {
  if (!IsHex(proof, 64)) return false;
  Sha256Digest given;
  for (std::size_t i = 0; i < given.size(); ++i) {
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    given[i] = static_cast<std::uint8_t>(nibble(proof[2 * i]) << 4 | nibble(proof[2 * i + 1]));
  }
  const std::string message = ProofMessage(role, opener, acceptor);
  bool match = false;
  for (const std::string& secret : secrets) {
    match |= DigestsEqual(HmacSha256(secret, message), given);  // every secret, every time
  }
  return match;
}

std::string NewNonce() {
  std::uint8_t bytes[kNonceBytes];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  return Hex(bytes, sizeof bytes);
}

base::Result<std::vector<std::string>> ReadClusterSecrets(const std::string& path) {
  const std::string where = "--cluster-secret-file " + path;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::Status::IoError(where + ": cannot open it");
  struct stat st {};
  const bool stat_ok = fstat(fd, &st) == 0;
  std::string text;
  if (stat_ok && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0 && st.st_size <= 16384) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    return base::Status::InvalidArgument(where + ": not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return base::Status::InvalidArgument(where + ": group or others may read or write it "
                                         "(chmod 600)");
  }
  if (st.st_size > 16384) return base::Status::InvalidArgument(where + ": too large");
  std::vector<std::string> secrets;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.pop_back();
    }
    if (line.empty()) continue;
    if (line.size() > kMaxSecret) {
      return base::Status::InvalidArgument(where + ": a secret is over 4096 bytes");
    }
    secrets.push_back(std::move(line));
  }
  if (secrets.empty()) return base::Status::InvalidArgument(where + ": no secret in it");
  if (secrets.size() > kMaxSecrets) {
    return base::Status::InvalidArgument(where + ": more than two secrets (one, or two while "
                                         "rotating)");
  }
  return secrets;
}

}  // namespace rc::cluster
