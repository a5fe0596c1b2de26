// cluster/zk_lib.h -- the ZooKeeper C client (libzookeeper_mt), loaded at run time, and only when
// the node joins a cluster.
//
// Why not link it: a single node (memcached's drop-in, no --cluster) never talks to ZooKeeper,
// yet a linked library's pages are resident in every process: 140 KB of them, 0.2% of -m 64,
// where t/proto/memory_test.py and bench/memory_hit_ratio.py hold RSS within 10% of -m. So the
// server dlopen()s "libzookeeper_mt.so.2" (the soname of Debian's libzookeeper-mt2) when a
// ZkSession first opens, as origin/pg_lib.h does for libpq. <zookeeper/zookeeper.h> still
// supplies the declarations, so every call is type-checked; the client's exported constants
// (ZOO_EPHEMERAL and the like are variables, not macros) are read once at load.
//
// Thread-safety: LoadZkLib() may be called from any thread; the table it returns is immutable.
#pragma once

#include <zookeeper/zookeeper.h>

#include "ringcached/base/status.h"

namespace rc::cluster {

// The client functions zk_session.cc calls, and the constants it reads.
#define RC_ZK_FUNCTIONS(X)                                                                   \
  X(zoo_set_debug_level) X(zookeeper_init2) X(zookeeper_close) X(zoo_acreate) X(zoo_aget) \
  X(zoo_awget) X(zoo_adelete) X(zoo_awget_children2) X(zoo_amulti) X(zoo_set_op_init)     \
  X(zoo_client_id) X(zoo_recv_timeout)
#define RC_ZK_CONSTANTS(X)                                                           \
  X(ZOO_EPHEMERAL) X(ZOO_PERSISTENT) X(ZOO_SESSION_EVENT) X(ZOO_CONNECTED_STATE)  \
  X(ZOO_EXPIRED_SESSION_STATE) X(ZOO_AUTH_FAILED_STATE)

struct ZkLib {
#define RC_ZK_FUNCTION_MEMBER(name) decltype(&::name) name = nullptr;
  RC_ZK_FUNCTIONS(RC_ZK_FUNCTION_MEMBER)
#undef RC_ZK_FUNCTION_MEMBER
#define RC_ZK_CONSTANT_MEMBER(name) int name = 0;
  RC_ZK_CONSTANTS(RC_ZK_CONSTANT_MEMBER)
#undef RC_ZK_CONSTANT_MEMBER
  struct ACL_vector* open_acl_unsafe = nullptr;  // ZOO_OPEN_ACL_UNSAFE
};

// Loads the client (once; later calls return the same table) or says why it cannot.
base::Result<const ZkLib*> LoadZkLib();

}  // namespace rc::cluster
