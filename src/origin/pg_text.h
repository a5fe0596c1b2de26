// origin/pg_text.h -- PostgreSQL's text output of the columns a fetch reads: a bytea value in
// hex format ("\x4142" is "AB"), and the optional "flags" and "ttl" columns as integers.
//
// Pure functions (no libpq), so t/unit/origin tests them without a server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace rc::origin {

// "\x" followed by pairs of hex digits -> the bytes. False on anything else (PostgreSQL has
// written bytea in hex since 9.0; the old escape format is not read).
bool DecodeByteaHex(std::string_view text, std::string* out);
// A whole number in 0..4294967295 (memcached's client flags).
bool ParseFlags(std::string_view text, std::uint32_t* out);
// A whole number of seconds, with an optional minus sign; read as memcached reads an exptime.
bool ParseTtl(std::string_view text, std::int64_t* out);

}  // namespace rc::origin
