// base/file.h -- reading a whole (small) file: configuration, /proc and /sys entries. With stdio,
// not streams: a stream builds the C++ locale, which maps megabytes of library pages into the
// process (server/options.cc).
#pragma once

#include <string>

namespace rc::base {

// Appends the file's bytes to *text. False, with errno set, when it cannot be opened or read.
bool ReadFile(const std::string& path, std::string* text);

}  // namespace rc::base
