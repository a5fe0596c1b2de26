// origin/pg_lib.cc -- see pg_lib.h.
#include "origin/pg_lib.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace rc::origin {

base::Result<const PgLib*> LoadPgLib() {
  static std::once_flag once;
  static PgLib lib;
  static std::string error;
  std::call_once(once, [] {
    // Never closed: the process keeps libpq until it exits.
    void* handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      error = std::string("cannot load libpq (install libpq5): ") + (why != nullptr ? why : "");
      return;
    }
#define RC_PQ_LOAD(name)                                                    \
  lib.name = reinterpret_cast<decltype(lib.name)>(dlsym(handle, #name));   \
  if (lib.name == nullptr && error.empty()) error = "libpq lacks " #name;
    RC_PQ_FUNCTIONS(RC_PQ_LOAD)
#undef RC_PQ_LOAD
  });
  if (!error.empty()) return base::Status::IoError(error);
  return static_cast<const PgLib*>(&lib);
}

}  // namespace rc::origin
