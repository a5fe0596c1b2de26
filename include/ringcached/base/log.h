// base/log.h -- minimal logging to stderr with a verbosity level, as memcached's -v/-vv/-vvv.
//
// Level 0 messages (start-up errors, warnings operators must see) always print; higher levels
// print only when the verbosity (set from -v and the `verbosity` command) reaches them.
// Thread-safety: any thread; each message is written with one fprintf, so lines do not interleave.
#pragma once

#include <atomic>

namespace rc::base {

void SetLogVerbosity(int level);
int LogVerbosity();

// printf-style; a newline is added.
void Log(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace rc::base
