// cluster/ring_build.h -- the two client-specific inputs of a ring build: the string a member's
// points are hashed from, and how many points a weighted member gets. Module-private; the unit
// tests check both against KETAMA.md directly (names section 2.1, counts section 2.2).
// SplitRingName, which the names build on, is public (ring.h): other modules need it too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ringcached/cluster/ring.h"

namespace rc::cluster {

// The point-name prefix for `ring_name` (points hash "<prefix>-<i>"). The port is re-printed as a
// plain decimal, as the clients' snprintf("%u") does.
std::string PointNamePrefix(std::string_view ring_name, RingRecipe::Naming naming);

// Points of a member of weight `weight` (0 counts as 1) in a ring of `members` members whose
// weights sum to `total_weight`, by libmemcached's float32 formula. A multiple of 4.
std::uint32_t WeightedPointCount(std::uint32_t weight, std::uint64_t total_weight,
                                 std::uint32_t members);

}  // namespace rc::cluster
