// proto/limits.h -- protocol limits shared by every parser (memcached 1.6.18 values).
#pragma once

#include <cstddef>

namespace rc::proto {

inline constexpr std::size_t kMaxKeyLength = 250;       // KEY_MAX_LENGTH
inline constexpr std::size_t kMaxTokens = 24;           // MAX_TOKENS in proto_text.c
// A text line this long with no '\n' yet closes the connection, except for get/gets, whose key
// lists are unbounded (proto_text.c try_read_command_ascii; PROTOCOL.md section 1).
inline constexpr std::size_t kMaxLineWithoutNewline = 2048;
// <bytes> in a storage command must stay below INT_MAX - 2 (t/issue_70.t).
inline constexpr long long kMaxValueLength = 2147483647LL - 2;

}  // namespace rc::proto
