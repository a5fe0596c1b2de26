// base/version.h -- version strings.
//
// ringcached answers `version` with the memcached release whose protocol it implements: clients
// (memccapable among them) decide which behaviours to expect from that number, so it must read
// 1.6.x. The product's own version is reported by -V and `stats` "ringcached_version" alongside.
#pragma once

#define RC_MEMCACHED_VERSION "1.6.18"
#define RC_PRODUCT_VERSION "0.1.0"
