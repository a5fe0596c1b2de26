// origin/pg_lib.h -- libpq, loaded at run time, and only when a PostgreSQL origin is configured.
//
// Why not link it: libpq brings libssl, libcrypto, Kerberos, LDAP and GnuTLS with it, about 5 MB
// of resident pages in every ringcached process, which a node without an origin (memcached's
// drop-in) must not pay: t/proto/memory_test.py holds RSS to within 10% of -m 64. So the server
// dlopen()s "libpq.so.5" (its soname since PostgreSQL 8.0) the first time a postgresql:// origin
// is opened. <libpq-fe.h> still supplies the declarations, so every call is type-checked.
//
// Thread-safety: LoadPgLib() may be called from any thread; the table it returns is immutable.
#pragma once

#include <libpq-fe.h>

#include "ringcached/base/status.h"

namespace rc::origin {

// The libpq functions pg_backend.cc calls, each a pointer of the declared function's type.
#define RC_PQ_FUNCTIONS(X)                                                                   \
  X(PQclear) X(PQconnectPoll) X(PQconnectStartParams) X(PQconnectdbParams) X(PQconsumeInput) \
  X(PQdescribePrepared) X(PQerrorMessage) X(PQfinish) X(PQflush) X(PQfnumber) X(PQftype)    \
  X(PQgetResult) X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQisBusy) X(PQnfields)       \
  X(PQnparams) X(PQntuples) X(PQprepare) X(PQresultErrorField) X(PQresultErrorMessage)     \
  X(PQresultStatus)                                                                          \
  X(PQsendPrepare) X(PQsendQueryPrepared) X(PQsetnonblocking) X(PQsocket) X(PQstatus)

struct PgLib {
#define RC_PQ_MEMBER(name) decltype(&::name) name = nullptr;
  RC_PQ_FUNCTIONS(RC_PQ_MEMBER)
#undef RC_PQ_MEMBER
};

// Loads libpq (once; later calls return the same table) or says why it cannot.
base::Result<const PgLib*> LoadPgLib();

}  // namespace rc::origin
