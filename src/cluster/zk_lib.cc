// cluster/zk_lib.cc -- see zk_lib.h.
#include "cluster/zk_lib.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace rc::cluster {

base::Result<const ZkLib*> LoadZkLib() {
  static std::once_flag once;
  static ZkLib lib;
  static std::string error;
  std::call_once(once, [] {
    // Never closed: the process keeps the client until it exits.
    void* handle = dlopen("libzookeeper_mt.so.2", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      error = std::string("cannot load the ZooKeeper client (install libzookeeper-mt2): ") +
              (why != nullptr ? why : "");
      return;
    }
    auto find = [handle](const char* name) {
      void* p = dlsym(handle, name);
      if (p == nullptr && error.empty()) error = std::string("the ZooKeeper client lacks ") + name;
      return p;
    };
#define RC_ZK_LOAD_FUNCTION(name) lib.name = reinterpret_cast<decltype(lib.name)>(find(#name));
    RC_ZK_FUNCTIONS(RC_ZK_LOAD_FUNCTION)
#undef RC_ZK_LOAD_FUNCTION
#define RC_ZK_LOAD_CONSTANT(name)                                             \
  if (const auto* p = static_cast<const int*>(find(#name))) lib.name = *p;
    RC_ZK_CONSTANTS(RC_ZK_LOAD_CONSTANT)
#undef RC_ZK_LOAD_CONSTANT
    lib.open_acl_unsafe = static_cast<struct ACL_vector*>(find("ZOO_OPEN_ACL_UNSAFE"));
  });
  if (!error.empty()) return base::Status::IoError(error);
  return static_cast<const ZkLib*>(&lib);
}

}  // namespace rc::cluster
