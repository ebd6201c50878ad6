/* Metering of rows written, index maintenance included (docs/metrics.md, "What rows_written
 * counts").
 *
 * A connection given to cairn_meter_row_writes() adds to a counter, for every row of a table that
 * an INSERT, UPDATE or DELETE writes (statements run by triggers, foreign-key actions and rows a
 * REPLACE conflict deletes included):
 *
 *   1 (the table's row) + the index entries the change rewrites:
 *     INSERT, DELETE: every index of the table;
 *     UPDATE: the indexes whose key uses a column whose value changed (an index on an expression:
 *             a column the expression uses), whose partial-index condition uses one, and every
 *             index when the row's key changes (its rowid, or a WITHOUT ROWID table's PRIMARY KEY).
 *
 * "Every index" means those of CREATE INDEX and the ones SQLite makes for UNIQUE and non-integer
 * PRIMARY KEY constraints; the PRIMARY KEY of a WITHOUT ROWID table is the table itself and is not
 * counted again. A partial index counts as if it held every row. Virtual tables do not count
 * themselves, only the rows of real tables they write through SQL.
 *
 * The count is made by a pre-update hook (SQLite built with SQLITE_ENABLE_PREUPDATE_HOOK) that
 * reads the live schema objects of the table being changed (write_meter.c is compiled together
 * with the amalgamation): no SQL runs, nothing is cached, so no schema change can leave it stale.
 * Reading never calls it.
 *
 * Thread-safety: the counter belongs to the connection's thread (like the connection itself).
 */
#ifndef CAIRN_SQLITE_WRITE_METER_H_
#define CAIRN_SQLITE_WRITE_METER_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;

/* From now on, row writes on `db` add to *rows_written (NULL: stop counting). Replaces any
 * pre-update hook `db` had. *rows_written must outlive the connection or the next call. */
void cairn_meter_row_writes(struct sqlite3* db, uint64_t* rows_written);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_SQLITE_WRITE_METER_H_ */
