// Vector search for SQLite, compatible with libSQL's SQL surface: the public entry points.
//
// Register() installs on one connection:
//   - scalar functions vector/vector32/vector64/vector16/vectorb16/vector8/vector1bit,
//     vector_extract, vector_distance_cos, vector_distance_l2 (libSQL's blob layouts, format.h);
//   - the virtual-table module `libsql_vector_index`, which is a vector index: its shadow tables
//     `<index>_meta`, `<index>_vectors`, `<index>_edges` hold the graph (graph.h), and triggers
//     on the indexed table keep it in step with inserts, updates and deletes;
//   - the table-valued function `vector_top_k(index, query, k)` → (id, distance), nearest first.
//
// libSQL's DDL `CREATE INDEX i ON t(libsql_vector_idx(col, 'metric=cosine', ...))` cannot be
// hosted by SQLite's core; RewriteIndexDdl() turns it into `CREATE VIRTUAL TABLE i USING
// libsql_vector_index(t, col, ...)` (and `DROP INDEX i` of such an index into `DROP TABLE i`) for
// a server that sees statement text first. docs/vector.md has the formats and the algorithm.
//
// Thread-safety: Register() and the DDL functions below may be called from any thread for different
// connections; everything registered follows the connection's own threading rules. Graphs are
// cached process-wide and shared between connections (see graph_cache.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace cairn::vector {

// Registers everything above on `db`. Returns an SQLite result code.
int Register(sqlite3* db);

// Registers Register() as an automatic extension: every connection opened afterwards in this
// process has vector search. Idempotent.
void RegisterAutoExtension();

// These parse all of `sql` (and read the schema): a server running every statement calls them
// only for the statements sqlite::ClassifyStatement marks as vector DDL (sqlite/statement_kind.h).

// If `sql` is exactly one libSQL vector-index statement, the statement to run instead; otherwise
// nullopt (the caller runs `sql` unchanged). `db` is read (sqlite_schema) to tell whether a
// DROP INDEX names a vector index.
std::optional<std::string> RewriteIndexDdl(sqlite3* db, std::string_view sql);

// If `sql` is exactly one `DROP TABLE [IF EXISTS] t` and t has vector indexes, the statements
// that drop those indexes (`DROP TABLE i`), in order; otherwise none. libSQL drops a table's
// vector indexes with the table, but SQLite's DROP TABLE only drops the triggers that keep them
// in step: a server runs these first, atomically with `sql` (in one savepoint).
std::vector<std::string> IndexDropsForDropTable(sqlite3* db, std::string_view sql);

// The length of the first statement of `sql` (through its ';') when RewriteIndexDdl() or
// IndexDropsForDropTable() has something for it; otherwise 0. For a caller running SQL text of
// several statements (a Hrana `sequence`): SQLite cannot prepare libSQL's vector-index DDL as
// written, so such a statement is cut off and run like a single one.
size_t VectorDdlLength(sqlite3* db, std::string_view sql);

}  // namespace cairn::vector
