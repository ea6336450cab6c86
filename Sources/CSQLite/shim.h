#ifndef TRELLIS_CSQLITE_SHIM_H
#define TRELLIS_CSQLITE_SHIM_H
/* SQLite 3, with wrappers for what Swift cannot import. */
#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro: SQLite copies the bytes before the call returns, so
   Swift may pass a pointer that is valid only for the duration of the call. */
static inline int trellis_sqlite3_bind_text(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_TRANSIENT);
}
#endif
