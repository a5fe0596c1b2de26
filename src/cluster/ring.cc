// cluster/ring.cc -- profiles and recipes, the continuum build, and the lookups.
//
// The build follows libmemcached's update_continuum (hosts.cc) step for step: it is the reference
// the other families were verified against (KETAMA.md section 8). Lookups are a lower bound over
// one flat sorted array, which is what every client does (libmemcached dispatch_host, twemproxy
// ketama_dispatch, spymemcached tailMap(hash).firstKey()).
#include "ringcached/cluster/ring.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "cluster/key_hash.h"
#include "cluster/md5.h"
#include "cluster/ring_build.h"
#include "ringcached/base/check.h"

namespace rc::cluster {
namespace {

// libmemcached defaults.h: MEMCACHED_POINTS_PER_SERVER (plain KETAMA) and
// MEMCACHED_POINTS_PER_SERVER_KETAMA (4 points per MD5, so 40 digests).
constexpr std::uint32_t kPlainKetamaPoints = 100;
constexpr std::uint32_t kKetamaPoints = 160;

std::uint32_t EffectiveWeight(const RingMember& m) { return m.weight == 0 ? 1 : m.weight; }

std::uint32_t HashKeyWith(RingRecipe::KeyHash hash, std::string_view key) {
  switch (hash) {
    case RingRecipe::KeyHash::kMd5:
      return Md5KeyHash(key);
    case RingRecipe::KeyHash::kOneAtATime:
      return OneAtATimeKeyHash(key);
    case RingRecipe::KeyHash::kFnv1a64:
      return Fnv1a64KeyHash(key);
  }
  return 0;
}

// The point-count rule a recipe resolves to for this member list.
enum class PointRule : std::uint8_t { kWeightedMd5, kFixedMd5, kKeyHashPerString };

PointRule ResolvePointRule(RingRecipe::Points points, const std::vector<RingMember>& members) {
  switch (points) {
    case RingRecipe::Points::kWeightedMd5:
      return PointRule::kWeightedMd5;
    case RingRecipe::Points::kMd5x160UnlessWeighted:
      // spymemcached takes the weighted path iff it was given a weights map; a member list
      // carries no such flag, so weights other than 1 stand for "a map was given".
      return std::any_of(members.begin(), members.end(),
                         [](const RingMember& m) { return EffectiveWeight(m) != 1; })
                 ? PointRule::kWeightedMd5
                 : PointRule::kFixedMd5;
    case RingRecipe::Points::kKeyHash100UnlessWeighted:
      // libmemcached server_add: `if (weight > 1 && consistent) memcached_set_weighted_ketama()`.
      return std::any_of(members.begin(), members.end(),
                         [](const RingMember& m) { return m.weight > 1; })
                 ? PointRule::kWeightedMd5
                 : PointRule::kKeyHashPerString;
  }
  return PointRule::kWeightedMd5;
}

// Writes "<prefix>-<i>" into `buf` (which starts with the prefix) and returns a view of it.
std::string_view PointString(std::string& buf, std::size_t prefix_len, std::uint32_t i) {
  buf.resize(prefix_len);
  char digits[12];
  const auto end = std::to_chars(digits, digits + sizeof(digits), i).ptr;
  buf.push_back('-');
  buf.append(digits, end);
  return buf;
}

}  // namespace

std::optional<RingProfile> ParseRingProfile(std::string_view name) {
  if (name == "libmemcached") return RingProfile::kLibmemcached;
  if (name == "twemproxy") return RingProfile::kTwemproxy;
  if (name == "spymemcached") return RingProfile::kSpymemcached;
  return std::nullopt;
}

std::string_view RingProfileName(RingProfile profile) {
  switch (profile) {
    case RingProfile::kLibmemcached:
      return "libmemcached";
    case RingProfile::kTwemproxy:
      return "twemproxy";
    case RingProfile::kSpymemcached:
      return "spymemcached";
  }
  return "unknown";
}

RingRecipe RingRecipe::For(RingProfile profile) {
  using R = RingRecipe;
  switch (profile) {
    case RingProfile::kLibmemcached:
      return {profile, R::Naming::kHostOrHostPort, R::Points::kWeightedMd5, R::KeyHash::kMd5,
              R::Ties::kEarlierMemberWins};
    case RingProfile::kTwemproxy:
      return {profile, R::Naming::kHostOrHostPort, R::Points::kWeightedMd5, R::KeyHash::kFnv1a64,
              R::Ties::kEarlierMemberWins};
    case RingProfile::kSpymemcached:
      return {profile, R::Naming::kHostPort, R::Points::kMd5x160UnlessWeighted, R::KeyHash::kMd5,
              R::Ties::kLaterMemberWins};
  }
  return {};
}

std::optional<RingRecipe> ParseRingRecipe(std::string_view name) {
  if (auto profile = ParseRingProfile(name)) return RingRecipe::For(*profile);
  using R = RingRecipe;
  if (name == "twemproxy-md5") {
    R r = R::For(RingProfile::kTwemproxy);
    r.key_hash = R::KeyHash::kMd5;
    return r;
  }
  R plain = R::For(RingProfile::kLibmemcached);
  plain.points = R::Points::kKeyHash100UnlessWeighted;
  if (name == "libmemcached-ketama") {
    plain.key_hash = R::KeyHash::kOneAtATime;
    return plain;
  }
  if (name == "libmemcached-ketama-md5") return plain;
  if (name == "libmemcached-ketama-spy") {
    R spy = R::For(RingProfile::kLibmemcached);
    spy.naming = R::Naming::kSlashHostPort;
    return spy;
  }
  return std::nullopt;
}

Ring::Ring(std::vector<RingMember> members, RingProfile profile, Index lookups)
    : Ring(std::move(members), RingRecipe::For(profile), lookups) {}

Ring::Ring(std::vector<RingMember> members, const RingRecipe& recipe, Index lookups)
    : recipe_(recipe), members_(std::move(members)) {
  if (members_.empty()) return;
  RC_CHECK(members_.size() <= UINT32_MAX);
  const auto count = static_cast<std::uint32_t>(members_.size());
  const PointRule rule = ResolvePointRule(recipe_.points, members_);
  point_rule_ = static_cast<std::uint8_t>(rule);

  std::uint64_t total_weight = 0;
  for (const RingMember& m : members_) total_weight += EffectiveWeight(m);
  total_weight_ = total_weight;

  std::string buf;
  for (std::uint32_t index = 0; index < count; ++index) {
    buf = PointNamePrefix(members_[index].name, recipe_.naming);
    const std::size_t prefix_len = buf.size();
    const std::size_t points_before = points_.size();
    if (rule == PointRule::kKeyHashPerString) {
      // libmemcached's unweighted branch: one point per string, valued by the key hash
      // (hashkit_digest), strings "<name>-0" .. "<name>-99".
      for (std::uint32_t i = 0; i < kPlainKetamaPoints; ++i) {
        points_.push_back({HashKeyWith(recipe_.key_hash, PointString(buf, prefix_len, i)), index});
      }
    } else {
      const std::uint32_t n_points =
          rule == PointRule::kFixedMd5
              ? kKetamaPoints
              : WeightedPointCount(EffectiveWeight(members_[index]), total_weight, count);
      for (std::uint32_t i = 0; i < n_points / 4; ++i) {
        const Md5Digest digest = Md5(PointString(buf, prefix_len, i));
        for (int word = 0; word < 4; ++word) points_.push_back({Md5Word(digest, word), index});
      }
    }
    // A member can get no point at all: a tiny weight beside large ones floors to 0.
    if (points_.size() > points_before) ++members_with_points_;
  }

  if (recipe_.ties == RingRecipe::Ties::kEarlierMemberWins) {
    std::sort(points_.begin(), points_.end(), [](const RingPoint& a, const RingPoint& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.member < b.member;
    });
  } else {
    std::sort(points_.begin(), points_.end(), [](const RingPoint& a, const RingPoint& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.member > b.member;
    });
  }
  points_.shrink_to_fit();  // rings live long; the growth slack would too
  // spymemcached's holders come from its failover re-hash on this ring: it never rebuilds.
  if (recipe_.profile != RingProfile::kSpymemcached) BuildMemberPoints();
  if (lookups == Index::kOwnersAndHolders) BuildHolderTable();
}

std::uint32_t Ring::PointCountWithout(std::uint32_t member, std::uint64_t removed_weight,
                                      std::uint32_t removed) const {
  switch (static_cast<PointRule>(point_rule_)) {
    case PointRule::kKeyHashPerString:
      return kPlainKetamaPoints;
    case PointRule::kFixedMd5:
      return kKetamaPoints;
    case PointRule::kWeightedMd5:
      break;
  }
  return WeightedPointCount(EffectiveWeight(members_[member]), total_weight_ - removed_weight,
                            static_cast<std::uint32_t>(members_.size()) - removed);
}

void Ring::BuildMemberPoints() {
  const auto count = static_cast<std::uint32_t>(members_.size());
  const auto rule = static_cast<PointRule>(point_rule_);
  // The weights in ascending order: a member's largest count over all rebuilt rings is on one
  // where only the lightest others remain (its share w/W' times N' is then largest for each N').
  std::vector<std::uint32_t> weights(count);
  for (std::uint32_t i = 0; i < count; ++i) weights[i] = EffectiveWeight(members_[i]);
  std::sort(weights.begin(), weights.end());
  member_points_.resize(count);
  std::string buf;
  for (std::uint32_t index = 0; index < count; ++index) {
    std::uint32_t most = 0;
    if (rule == PointRule::kWeightedMd5) {
      const std::uint32_t w = EffectiveWeight(members_[index]);
      std::uint64_t lightest = 0;  // the k lightest others' weights
      bool skipped_self = false;
      std::uint32_t k = 0;
      for (std::uint32_t i = 0; i <= count; ++i) {
        most = std::max(most, WeightedPointCount(w, w + lightest, k + 1));
        if (i == count) break;
        if (!skipped_self && weights[i] == w) {
          skipped_self = true;  // the member itself, once
          continue;
        }
        lightest += weights[i];
        ++k;
      }
    } else {
      most = rule == PointRule::kFixedMd5 ? kKetamaPoints : kPlainKetamaPoints;
    }
    buf = PointNamePrefix(members_[index].name, recipe_.naming);
    const std::size_t prefix_len = buf.size();
    std::vector<SeqPoint>& pts = member_points_[index];
    pts.reserve(most);
    if (rule == PointRule::kKeyHashPerString) {
      for (std::uint32_t i = 0; i < most; ++i) {
        pts.push_back({HashKeyWith(recipe_.key_hash, PointString(buf, prefix_len, i)), i});
      }
    } else {
      for (std::uint32_t i = 0; i < most / 4; ++i) {
        const Md5Digest digest = Md5(PointString(buf, prefix_len, i));
        for (int word = 0; word < 4; ++word) {
          pts.push_back({Md5Word(digest, word), 4 * i + static_cast<std::uint32_t>(word)});
        }
      }
    }
    std::sort(pts.begin(), pts.end(), [](const SeqPoint& a, const SeqPoint& b) {
      return a.hash != b.hash ? a.hash < b.hash : a.seq < b.seq;
    });
  }
}

std::uint32_t Ring::KeyHash(std::string_view key) const {
  return HashKeyWith(recipe_.key_hash, key);
}

std::size_t Ring::PointIndex(std::uint32_t key_hash) const {
  // std::lower_bound without its data-dependent branch: the halving step is a conditional move,
  // so a random key costs no mispredictions (16 ns instead of 72 on 16000 points, ring_bench).
  // The answer is always in [base, base + n]. Callers ensure !points_.empty().
  const RingPoint* base = points_.data();
  std::size_t n = points_.size();
  while (n > 1) {
    const std::size_t half = n / 2;
    base = base[half].hash < key_hash ? base + half : base;
    n -= half;
  }
  const std::size_t index =
      static_cast<std::size_t>(base - points_.data()) + (base->hash < key_hash);
  return index == points_.size() ? 0 : index;  // past the last point: wrap to the first
}

std::uint32_t Ring::OwnerOfHash(std::uint32_t key_hash) const {
  RC_CHECK(!points_.empty());
  return points_[PointIndex(key_hash)].member;
}

std::vector<std::uint32_t> Ring::SuccessorsOfHash(std::uint32_t key_hash, std::size_t n) const {
  std::vector<std::uint32_t> holders;
  const std::size_t want = std::min(n, members_with_points_);
  if (want == 0) return holders;
  holders.reserve(want);
  // A replica list is short (2-3), where a linear scan of `holders` beats any set; a long one
  // (every member, for a hand-off plan) gets a bitmap instead.
  constexpr std::size_t kLinearScanLimit = 16;
  std::vector<bool> seen(want > kLinearScanLimit ? members_.size() : 0, false);
  std::size_t i = PointIndex(key_hash);
  // `want` members are always found within one full turn of the ring.
  while (holders.size() < want) {
    const std::uint32_t member = points_[i].member;
    bool is_new;
    if (seen.empty()) {
      is_new = std::find(holders.begin(), holders.end(), member) == holders.end();
    } else {
      is_new = !seen[member];
      seen[member] = true;
    }
    if (is_new) holders.push_back(member);
    if (++i == points_.size()) i = 0;
  }
  return holders;
}

std::size_t Ring::Holders(std::string_view key, std::size_t n, std::uint32_t* out) const {
  const std::size_t want = std::min(n, members_.size());
  if (want == 0 || points_.empty()) return 0;
  const std::uint32_t key_hash = KeyHash(key);
  out[0] = OwnerOfHash(key_hash);
  if (want == 1) return 1;
  if (recipe_.profile == RingProfile::kSpymemcached) {
    return FailoverHolders(key, key_hash, want, out);
  }
  std::size_t count = 1;
  if (!holder_table_.empty()) {
    // The table's interval for this hash; past the last breakpoint the lookup wraps, as every
    // ring's does, to the first.
    auto it = std::lower_bound(
        holder_table_.begin(), holder_table_.end(), key_hash,
        [](const HolderEntry& e, std::uint32_t h) { return e.upto < h; });
    if (it == holder_table_.end()) it = holder_table_.begin();
    for (; count < want && count < kTableDepth && it->holders[count] != UINT32_MAX; ++count) {
      out[count] = it->holders[count];
    }
    if (count < want && count < kTableDepth) return count;  // nobody left with a point
  }
  return EjectedHolders(key_hash, count, want, out);
}

void Ring::BuildHolderTable() {
  // Every ring rebuilt without some members is made of prefixes of the members' point
  // sequences (member_points_), so the holder lists, as a function of the key hash, can only
  // change at one of those points: between two consecutive ones they are constant. One entry
  // per interval (merged with its neighbour when equal), computed the slow way at its end.
  if (recipe_.profile == RingProfile::kSpymemcached || members_.size() < 2 ||
      members_.size() > kMaxTableMembers) {
    return;
  }
  std::vector<std::uint32_t> breaks;
  for (const auto& pts : member_points_) {
    for (const SeqPoint& p : pts) breaks.push_back(p.hash);
  }
  std::sort(breaks.begin(), breaks.end());
  breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());
  const std::size_t depth = std::min<std::size_t>(kTableDepth, members_.size());
  for (const std::uint32_t b : breaks) {
    HolderEntry e{b, {}};
    std::fill(std::begin(e.holders), std::end(e.holders), UINT32_MAX);
    e.holders[0] = OwnerOfHash(b);
    EjectedHolders(b, 1, depth, e.holders);
    if (!holder_table_.empty() &&
        std::equal(std::begin(e.holders), std::end(e.holders),
                   std::begin(holder_table_.back().holders))) {
      holder_table_.back().upto = b;  // the same lists: one interval
    } else {
      holder_table_.push_back(e);
    }
  }
  holder_table_.shrink_to_fit();
}

std::size_t Ring::EjectedHolders(std::uint32_t key_hash, std::size_t count, std::size_t want,
                                 std::uint32_t* out) const {
  while (count < want) {
    const std::uint32_t next = OwnerWithout(key_hash, out, count);
    if (next == UINT32_MAX) break;  // nobody left with a point
    out[count++] = next;
  }
  return count;
}

std::uint32_t Ring::OwnerWithout(std::uint32_t key_hash, const std::uint32_t* removed,
                                 std::size_t n_removed) const {
  std::uint64_t removed_weight = 0;
  for (std::size_t i = 0; i < n_removed; ++i) {
    removed_weight += EffectiveWeight(members_[removed[i]]);
  }
  const auto n_gone = static_cast<std::uint32_t>(n_removed);
  // The rebuilt ring's lookup is the lower bound of key_hash with wrap: the point at the least
  // clockwise distance (key_hash - point mod 2^32 read the other way), the earlier member of two
  // at one value for libmemcached's ties (scanning members in order, only a strictly nearer
  // point replaces), the later one for spymemcached's.
  const bool later_wins = recipe_.ties == RingRecipe::Ties::kLaterMemberWins;
  std::uint32_t best = UINT32_MAX;
  std::uint32_t best_distance = 0;
  for (std::uint32_t m = 0; m < members_.size(); ++m) {
    if (std::find(removed, removed + n_removed, m) != removed + n_removed) continue;
    const std::uint32_t points = PointCountWithout(m, removed_weight, n_gone);
    if (points == 0) continue;
    const std::vector<SeqPoint>& pts = member_points_[m];
    // Its nearest point at or after key_hash among the first `points` of its sequence; else
    // (wrapping) its lowest such point.
    auto it = std::lower_bound(pts.begin(), pts.end(), key_hash,
                               [](const SeqPoint& p, std::uint32_t h) { return p.hash < h; });
    auto usable = [points](const SeqPoint& p) { return p.seq < points; };
    auto found = std::find_if(it, pts.end(), usable);
    if (found == pts.end()) {
      found = std::find_if(pts.begin(), it, usable);
      if (found == it) continue;  // none usable: cannot happen while points > 0
    }
    const std::uint32_t distance = found->hash - key_hash;  // mod 2^32
    if (best == UINT32_MAX || distance < best_distance ||
        (later_wins && distance == best_distance)) {
      best = m;
      best_distance = distance;
    }
  }
  return best;
}

std::size_t Ring::FailoverHolders(std::string_view key, std::uint32_t key_hash, std::size_t want,
                                  std::uint32_t* out) const {
  // spymemcached KetamaIterator.nextHash: the Java string "<tries>" + key, hashed as the key is.
  constexpr int kMaxTries = 64;
  char stack_buf[kMaxHolderKey + 8];
  std::string heap_buf;
  char* buf = stack_buf;
  if (key.size() > kMaxHolderKey) {
    heap_buf.resize(key.size() + 8);
    buf = heap_buf.data();
  }
  std::size_t count = 1;
  std::uint32_t h = key_hash;
  for (int tries = 0; tries < kMaxTries && count < want; ++tries) {
    const auto [end, ec] = std::to_chars(buf, buf + 8, tries);
    const std::size_t digits = static_cast<std::size_t>(end - buf);
    std::memcpy(buf + digits, key.data(), key.size());
    h += KeyHash(std::string_view(buf, digits + key.size()));  // mod 2^32, as hashVal &= 0xffffffff
    const std::uint32_t m = OwnerOfHash(h);
    if (std::find(out, out + count, m) == out + count) out[count++] = m;
  }
  // Past what any client tries: the next distinct members clockwise from the owner's point.
  for (std::size_t i = PointIndex(key_hash), steps = 0; count < want && steps < points_.size();
       ++steps) {
    const std::uint32_t m = points_[i].member;
    if (std::find(out, out + count, m) == out + count) out[count++] = m;
    if (++i == points_.size()) i = 0;
  }
  return count;
}

}  // namespace rc::cluster
