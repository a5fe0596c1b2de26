// base/check.h -- RC_CHECK: invariants that hold in every build. A failed check is a bug, never
// an input error, so it aborts with file and line instead of trying to recover.
#pragma once

#include <cstdio>
#include <cstdlib>

#define RC_CHECK(cond)                                                             \
  do {                                                                             \
    if (__builtin_expect(!(cond), 0)) {                                            \
      std::fprintf(stderr, "%s:%d: RC_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

#define RC_LIKELY(x) __builtin_expect(!!(x), 1)
#define RC_UNLIKELY(x) __builtin_expect(!!(x), 0)
