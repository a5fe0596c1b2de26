// cluster/ring.h -- the Ketama continuum, computed exactly as memcached clients compute it, so that
// the cluster and every client that places keys itself agree on which node owns a key and which
// nodes come next (the replicas, DESIGN.md section 3).
//
// The spec is ../shared/KETAMA.md; t/unit/cluster/ring_test.cc checks every vector file in
// ../shared/testdata/ketama (rings, owners, owners after a removal or an addition, holder lists).
// The short version, for Profile A (libmemcached KETAMA_WEIGHTED):
//
//   name      = "host" when the port is 11211, else "host:port" (the client's string, unresolved)
//   points    = 4 * floor_f32(w/W * 160/4 * N + 1e-10) per member (160, but 156 at N = 25, 47...)
//   point set = for i in 0 .. points/4-1: the 4 little-endian words of MD5("<name>-<i>")
//   ring      = sorted by (value, member index): on equal values the earlier member wins
//   owner(k)  = member of the first point >= LE32(MD5(k)[0..3]), wrapping to point 0
//
// A Ring never changes after construction. The cluster builds a new one for each membership
// version and swaps it whole (a shared_ptr<const Ring>, STYLE.md snippet 6).
// Thread-safety: every const method may be called from any thread at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rc::cluster {

// The client family whose ring the cluster reproduces. Nothing on the wire says which one a
// client uses, so it is configuration, and it must match the clients.
enum class RingProfile : std::uint8_t {
  // A: libmemcached MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED. Also matches PHP OPT_LIBKETAMA_COMPATIBLE,
  // pylibmc {"ketama_weighted": True}, twemproxy `distribution: ketama` + `hash: md5`, and
  // spymemcached's LIBMEMCACHED node format with a weights map (KETAMA.md section 0).
  kLibmemcached,
  // B: twemproxy `distribution: ketama` with its default `hash: fnv1a_64`: Profile A's ring, but
  // keys hashed with libhashkit's 32-bit "fnv1a_64" (signed-char quirk, KETAMA.md appendix A).
  kTwemproxy,
  // C: spymemcached KetamaConnectionFactory (default SPYMEMCACHED node format): points named
  // "host:port-<i>" with the port always written, 160 per member unless weighted; on equal point
  // values the later member wins (TreeMap.put overwrites).
  kSpymemcached,
};

// "libmemcached" | "twemproxy" | "spymemcached" (exact, lower case); nullopt for anything else.
std::optional<RingProfile> ParseRingProfile(std::string_view name);
std::string_view RingProfileName(RingProfile profile);

// A ring member as the cluster knows it.
struct RingMember {
  std::string name;  // the ring name exactly as clients are configured: "host" or "host:port"
                     // (an IPv6 host in brackets: "[::1]:11212")
  std::uint32_t weight = 1;  // 0 counts as 1, as in libmemcached (server.cc)
};

// A ring name taken apart: "host:port", "host", "[v6]:port" or "[v6]". A suffix counts as a port
// only when it is 1-5 digits <= 65535; otherwise the whole name is the host. The views point into
// the name.
struct HostPort {
  std::string_view host;              // brackets of an IPv6 literal removed
  std::optional<std::uint32_t> port;  // nullopt: the name has no ":<port>" (clients use 11211)
};
HostPort SplitRingName(std::string_view ring_name);

struct RingPoint {
  std::uint32_t hash;
  std::uint32_t member;  // index into Ring::members()
};

// The building blocks a client family's ring is made of. Each RingProfile is one recipe
// (RingRecipe::For); the other combinations reproduce client settings that no profile targets
// but that the vectors record and an operator may meet: libmemcached's plain KETAMA (also PHP
// DISTRIBUTION_CONSISTENT and pylibmc "ketama"), libmemcached KETAMA_SPY, twemproxy with
// `hash: md5` (see ParseRingRecipe).
struct RingRecipe {
  // The string a member's points are hashed from, before "-<i>" (KETAMA.md sections 2.1, 4, 5.2).
  enum class Naming : std::uint8_t {
    kHostOrHostPort,  // "host" if the port is 11211 or absent, else "host:port": libmemcached,
                      // twemproxy
    kHostPort,        // "host:port", the port always written (":11211" too): spymemcached
    kSlashHostPort,   // "/host:port": libmemcached MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA_SPY
  };
  // How many points a member gets and what they are.
  enum class Points : std::uint8_t {
    // 4 per MD5 of "<name>-<i>", 4 * floor_f32(w/W * 40 * N + 1e-10) in all: libmemcached's
    // weighted ketama (hosts.cc update_continuum), twemproxy, weighted spymemcached.
    kWeightedMd5,
    // spymemcached: 160 per member (40 MD5s) without a weights map, kWeightedMd5 with one. We
    // take "some member's weight is not 1" to mean the client was given weights.
    kMd5x160UnlessWeighted,
    // libmemcached plain KETAMA: 100 points "<name>-0" .. "<name>-99", each the *key hash* of its
    // string; but once some member has weight > 1 libmemcached switches itself to kWeightedMd5.
    kKeyHash100UnlessWeighted,
  };
  enum class KeyHash : std::uint8_t {
    kMd5,         // LE32(MD5(key)[0..3])
    kOneAtATime,  // libhashkit's default (signed char)
    kFnv1a64,     // libhashkit/twemproxy "fnv1a_64" (32-bit, signed char)
  };
  // Which of two members with an equal point value a lookup lands on.
  enum class Ties : std::uint8_t {
    kEarlierMemberWins,  // libmemcached (continuum_item_cmp), twemproxy (glibc's qsort is stable)
    kLaterMemberWins,    // spymemcached (TreeMap.put keeps the last node written)
  };

  RingProfile profile = RingProfile::kLibmemcached;  // the family this belongs to (Ring::profile())
  Naming naming = Naming::kHostOrHostPort;
  Points points = Points::kWeightedMd5;
  KeyHash key_hash = KeyHash::kMd5;
  Ties ties = Ties::kEarlierMemberWins;

  static RingRecipe For(RingProfile profile);
  bool operator==(const RingRecipe&) const = default;
};

// A profile name (ParseRingProfile), or one of the variants:
//   "twemproxy-md5"                 twemproxy with `hash: md5` (Profile A's ring and key hash)
//   "libmemcached-ketama"           libmemcached MEMCACHED_BEHAVIOR_KETAMA: one_at_a_time keys,
//                                   100 one_at_a_time points per member unless weighted
//   "libmemcached-ketama-md5"       the same with MEMCACHED_BEHAVIOR_HASH = MD5
//   "libmemcached-ketama-spy"       KETAMA_WEIGHTED, then distribution CONSISTENT_KETAMA_SPY
// nullopt for anything else.
std::optional<RingRecipe> ParseRingRecipe(std::string_view name);

class Ring {
 public:
  Ring() = default;  // empty ring

  // Builds the continuum of `members`, in this order: a member's index is its position here, and
  // ties are broken by it (the client's server-list order). The caller decides the order; the
  // cluster's canonical order is by ring name. Names are not checked: clients accept duplicates
  // and odd strings too.
  // kOwnersAndHolders also indexes the holder lists (Holders() then costs one binary search
  // instead of a lower bound per member), which makes the build 10-30x longer (44 ms at 100
  // members): for the ring a node routes and replicates by, rebuilt only when the membership
  // changes. Tools and tests that look up a few keys do without.
  enum class Index : std::uint8_t { kOwners, kOwnersAndHolders };
  Ring(std::vector<RingMember> members, RingProfile profile, Index lookups = Index::kOwners);
  Ring(std::vector<RingMember> members, const RingRecipe& recipe,
       Index lookups = Index::kOwners);

  RingProfile profile() const { return recipe_.profile; }
  const RingRecipe& recipe() const { return recipe_; }
  const std::vector<RingMember>& members() const { return members_; }
  // Ascending by hash; equal hashes in the profile's tie order (RingRecipe::Ties).
  const std::vector<RingPoint>& points() const { return points_; }
  bool empty() const { return points_.empty(); }

  // The profile's key hash of `key` (the exact bytes; no namespace or prefix is stripped,
  // KETAMA.md section 2.4). Does not allocate.
  std::uint32_t KeyHash(std::string_view key) const;

  // Index into members() of the key's owner: the member of the first point whose hash is >= the
  // key hash, or of point 0 when there is none. Requires !empty(). O(log points), no allocation.
  std::uint32_t Owner(std::string_view key) const { return OwnerOfHash(KeyHash(key)); }
  std::uint32_t OwnerOfHash(std::uint32_t key_hash) const;

  // The first n DISTINCT members clockwise from the key's point, owner first (fewer when the ring
  // has fewer members with points). Empty when the ring is empty or n is 0. This is the
  // ringcached-ring tool's `holders`; where the profile's clients go after a failure is
  // Holders().
  std::vector<std::uint32_t> Successors(std::string_view key, std::size_t n) const {
    return SuccessorsOfHash(KeyHash(key), n);
  }
  std::vector<std::uint32_t> SuccessorsOfHash(std::uint32_t key_hash, std::size_t n) const;

  // The key's first n holders (REPLICATION.md section 2) into out[0..n), as indices into
  // members(); returns how many were written (fewer when fewer members can hold keys). Holder 1
  // is the owner. Holder i+1 is where the profile's clients send the key once holders 1..i have
  // failed:
  //   * libmemcached, twemproxy (and their variants): the owner on the ring rebuilt without
  //     holders 1..i, as REMOVE_FAILED_SERVERS and auto_eject_hosts rebuild it (with weights,
  //     every member's point count changes; so does it at N = 25, 47, ...);
  //   * spymemcached: the first member not yet listed that its failover sequence reaches
  //     (KetamaIterator: h0 = hash(key), h(t+1) = h(t) + hash("<t>" + key) mod 2^32, each looked
  //     up on the unchanged ring). Its clients try 7 of them; past 64 this takes the next
  //     distinct member clockwise instead.
  // No allocation (keys up to kMaxHolderKey bytes; a longer key costs one for spymemcached).
  // With Index::kOwnersAndHolders the first three come from a table (one binary search);
  // otherwise, and beyond three or 256 members, each costs a lower bound per member.
  static constexpr std::size_t kMaxHolderKey = 1024;
  std::size_t Holders(std::string_view key, std::size_t n, std::uint32_t* out) const;

 private:
  std::size_t PointIndex(std::uint32_t key_hash) const;
  // Holders beyond the owner, by the two rules above (out[0] is the owner; returns the count).
  // EjectedHolders: out[0..count) are known; adds the next ones, the slow way (a lower bound in
  // every member's points per holder).
  std::size_t EjectedHolders(std::uint32_t key_hash, std::size_t count, std::size_t want,
                             std::uint32_t* out) const;
  std::size_t FailoverHolders(std::string_view key, std::uint32_t key_hash, std::size_t want,
                              std::uint32_t* out) const;
  // The owner of `key_hash` on the ring rebuilt from the members not in removed[0..n_removed),
  // or UINT32_MAX when none of them has a point.
  std::uint32_t OwnerWithout(std::uint32_t key_hash, const std::uint32_t* removed,
                             std::size_t n_removed) const;
  // How many points `member` has on the ring rebuilt without `removed` members weighing
  // `removed_weight` in all.
  std::uint32_t PointCountWithout(std::uint32_t member, std::uint64_t removed_weight,
                                  std::uint32_t removed) const;
  void BuildMemberPoints();
  void BuildHolderTable();

  RingRecipe recipe_;
  std::vector<RingMember> members_;
  std::vector<RingPoint> points_;
  std::size_t members_with_points_ = 0;  // Successors never returns more than this

  // For EjectedHolders: each member's points with their place in the order it hashes them
  // (seq), sorted by value, as many as any ring rebuilt without some members could give it. A
  // rebuilt ring gives member m the first count(m) of that sequence: a client that ejects a
  // server recomputes every count but keeps the point rule its full list chose (libmemcached's
  // weighted flag is set when a server is added, and stays).
  struct SeqPoint {
    std::uint32_t hash;
    std::uint32_t seq;
  };
  std::vector<std::vector<SeqPoint>> member_points_;
  // The first kTableDepth holders of every key hash up to `upto` (and above the previous
  // entry's), by libmemcached's rule: Holders() then costs one binary search. UINT32_MAX where
  // fewer members can hold keys. Built with Index::kOwnersAndHolders for up to kMaxTableMembers
  // members (at 100, about 16,000 intervals, 256 KB); beyond that Holders takes the slow way.
  static constexpr std::size_t kTableDepth = 3;
  static constexpr std::size_t kMaxTableMembers = 256;
  struct HolderEntry {
    std::uint32_t upto;
    std::uint32_t holders[kTableDepth];
  };
  std::vector<HolderEntry> holder_table_;
  std::uint64_t total_weight_ = 0;
  std::uint8_t point_rule_ = 0;  // ring.cc's PointRule for the full member list
};

}  // namespace rc::cluster
