#!/bin/sh
# scripts/run.sh -- the README's first command: sets up, builds, and runs a single-node ringcached
# on port 11211 in the foreground (Ctrl-C stops it). Extra arguments go to ringcached.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/build.sh"
# Like memcached, ringcached refuses to run as root without -u; say which user to stay.
user_flag=""
if [ "$(id -u)" = 0 ]; then user_flag="-u root"; fi
echo "ringcached listening on port 11211 (Ctrl-C to stop)" >&2
exec "${BUILD_DIR:-$top/build}/ringcached" -p 11211 $user_flag "$@"
