#ifndef TRELLIS_CLIBPQ_SHIM_H
#define TRELLIS_CLIBPQ_SHIM_H

// libpq, PostgreSQL's client library, for the postgres-database driver. pkg-config's
// libpq supplies the include directory (/usr/include/postgresql on Debian).
#include <libpq-fe.h>

// The PG_DIAG_* field codes are character macros; these name the two fields the driver
// reads, so that Swift need not spell the codes.
static inline const char *trellis_pq_sqlstate(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_SQLSTATE);
}

static inline const char *trellis_pq_primary_message(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
}

#endif
