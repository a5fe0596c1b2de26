#!/bin/sh
# scripts/install-deps.sh -- installs every Debian package ringcached needs to build, test and
# benchmark, on a fresh Debian 12 machine. Idempotent: packages already present are skipped, so the
# README's quick-start commands and .ci/run call it every time. Runs as root, or through sudo.
set -eu

PACKAGES="
  build-essential g++ clang libclang-rt-14-dev llvm
  autoconf automake libtool pkg-config make
  libevent-dev libjemalloc-dev liburing-dev
  libzookeeper-mt-dev zookeeper zookeeperd
  libpq-dev postgresql
  libmemcached-dev libmemcached-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  memcached python3 python3-pymemcache python3-pylibmc
  procps iproute2 netcat-openbsd
"

# Node.js runs t/proto/memjs_test.js (a binary-protocol client). Debian's nodejs and npm are
# installed only when no `node` is on PATH already (a NodeSource or nvm install is used as is).
if ! command -v node >/dev/null 2>&1; then
  PACKAGES="$PACKAGES nodejs npm"
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -n "$missing" ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root (missing:$missing)" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "install-deps: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # --no-install-recommends keeps the machine small; nothing here relies on a recommendation.
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# memjs for t/proto/memjs_test.js, at the version pinned in t/proto/node/package-lock.json, from
# the npm registry; skipped once installed. Runs as the invoking user (no root needed).
top=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$top/t/proto/node/node_modules/memjs/package.json" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "install-deps: npm ci --prefix t/proto/node" >&2
    npm ci --prefix "$top/t/proto/node" --no-audit --no-fund ||
      echo "install-deps: npm ci failed; t/proto/memjs_test.sh will be skipped" >&2
  else
    echo "install-deps: npm not found; t/proto/memjs_test.sh will be skipped" >&2
  fi
fi
[ -z "$missing" ] && exit 0
# The zookeeperd package starts a system-wide ZooKeeper on port 2181; the tests start their own
# private servers on free ports and must not depend on (or collide with) that one.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q zookeeper 2>/dev/null; then
  $SUDO systemctl stop zookeeper || true
fi
# Likewise Debian's PostgreSQL cluster: t/origin starts a private server (initdb in a temp dir).
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q postgresql 2>/dev/null; then
  $SUDO systemctl stop postgresql || true
fi
# Likewise Debian's memcached service: the benchmarks start their own memcached.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q memcached 2>/dev/null; then
  $SUDO systemctl stop memcached || true
fi
