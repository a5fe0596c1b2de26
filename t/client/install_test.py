#!/usr/bin/python3
# t/client/install_test.py -- the installed client library as a user meets it: `make install
# DESTDIR=<tmp>` from the build tree, then a tiny program compiled and linked with nothing but
# `pkg-config --cflags --libs ringcached-client` (PKG_CONFIG_PATH at the staged .pc file,
# PKG_CONFIG_SYSROOT_DIR at DESTDIR so its -I and -L point into the staging tree), run against
# a real node: set, get, multi-get, delete. Proves the .pc file, the installed headers (the
# client's and those it includes) and that the static library carries every object it needs.
# Skips (77) without pkg-config or a C++ compiler.
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.environ.get("RC_TESTLIB") or
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "proto"))
import rctest  # noqa: E402
from rctest import check, check_eq  # noqa: E402

PROGRAM = r'''
#include <ringcached/client/client.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  rc::client::Options options;
  options.servers.push_back(argv[1]);
  options.profile = rc::cluster::RingProfile::kLibmemcached;
  auto client = rc::client::Client::Open(options);
  if (!client.ok()) return std::fprintf(stderr, "%s\n", client.status().message().c_str()), 1;
  rc::client::Client& c = *client.value();
  if (!c.Set("pc:key", "pc-value", 7, 0).ok()) return 2;
  auto got = c.Get("pc:key");
  if (!got.ok() || !got.value() || got.value()->value != "pc-value" || got.value()->flags != 7)
    return 3;
  auto many = c.GetMulti({"pc:key", "pc:absent"});
  if (!many.ok() || many.value().size() != 1) return 4;
  auto deleted = c.Delete("pc:key");
  if (!deleted.ok() || !deleted.value()) return 5;
  std::printf("ok %s\n", std::string(rc::cluster::RingProfileName(c.profile())).c_str());
  return 0;
}
'''


def case_install_and_build_with_pkg_config(builddir, tmp):
    stage = os.path.join(tmp, "stage")
    subprocess.run(["make", "-C", builddir, "install", f"DESTDIR={stage}"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pcs = [os.path.join(d, f) for d, _, fs in os.walk(stage) for f in fs
           if f == "ringcached-client.pc"]
    check_eq(len(pcs), 1, "installed ringcached-client.pc files")
    env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]),
               PKG_CONFIG_SYSROOT_DIR=stage, PKG_CONFIG_LIBDIR="")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ringcached-client"], env=env,
                           check=True, capture_output=True, text=True).stdout.split()
    check(any(f.startswith("-I" + stage) for f in flags), f"no -I into the stage: {flags}")
    source = os.path.join(tmp, "prog.cc")
    with open(source, "w") as f:
        f.write(PROGRAM)
    exe = os.path.join(tmp, "prog")
    # Only pkg-config's flags: no -I into the source tree, no library from the build tree.
    build = subprocess.run([os.environ.get("CXX", "g++"), source, "-o", exe] + flags,
                           capture_output=True, text=True)
    check(build.returncode == 0, f"compiling against the installed library failed:\n"
          f"{build.stderr[-3000:]}")
    with rctest.ServerProcess() as server:
        run = subprocess.run([exe, f"127.0.0.1:{server.port}"], capture_output=True, text=True,
                             timeout=30)
        check_eq((run.returncode, run.stdout.strip()), (0, "ok libmemcached"),
                 f"the program's result (stderr: {run.stderr.strip()})")


def main():
    if shutil.which("pkg-config") is None:
        raise rctest.Skip("pkg-config is not installed")
    if shutil.which(os.environ.get("CXX", "g++")) is None:
        raise rctest.Skip("no C++ compiler")
    builddir = os.path.dirname(rctest.binary())
    r = rctest.Runner("client library: make install + pkg-config", time_limit=170)
    tmp = tempfile.mkdtemp(prefix="rc-client-install-")
    try:
        r.case("make install DESTDIR=...; a program built with pkg-config's flags alone runs "
               "set/get/mget/delete against a node", case_install_and_build_with_pkg_config,
               builddir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    r.finish()


if __name__ == "__main__":
    rctest.main(main)
