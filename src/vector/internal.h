// Declarations shared by the vector component's sources (not part of its public API): turning SQL
// values into vectors, registering each part on a connection, the SQL-text helpers, and the
// parsing of an index's options. Larger pieces have their own private headers (vector_index.h,
// graph_cache.h, stale_rows.h, statement.h, vtab.h). README.md says which file owns what.
//
// Thread-safety: every function here is safe to call from any thread; those taking a connection
// follow that connection's threading rules.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vector/format.h"
#include "vector/graph.h"
#include "vector/sqlite_api.h"

namespace cairn::vector {

// SQL values → vectors (functions.cc): blobs in any layout, text "[1,2,3]" (as f32, or f64 when
// asked).
bool ValueMeta(sqlite3_value* v, VectorType* type, uint32_t* dims, std::string* error);
bool ValueToVector(sqlite3_value* v, bool text_as_f64, Vector* out, std::string* error);
const char* ValueTypeName(sqlite3_value* v);

// Registration on one connection; each returns an SQLite result code.
int RegisterFunctions(sqlite3* db);        // the scalar functions (functions.cc)
int RegisterIndexModule(sqlite3* db);      // libsql_vector_index (index_module.cc)
int RegisterTopKModule(sqlite3* db);       // vector_top_k (top_k.cc)
int RegisterTopKExactModule(sqlite3* db);  // vector_top_k_exact (top_k_exact.cc)

// SQL text (sql_text.cc).
// ASCII lower case, as SQLite folds identifiers and keywords.
std::string Lower(std::string_view s);
// Without leading and trailing white space.
std::string Trim(std::string_view s);
// "name" quoted as an SQL identifier.
std::string QuoteId(std::string_view name);
// An identifier or string token without its quotes ('x', "x", [x], `x`); other text unchanged.
std::string Dequote(std::string_view token);
// Splits a module argument list "a, 'b,c', d(e,f)" at top-level commas, each part trimmed.
std::vector<std::string> SplitArgs(std::string_view text);

// An index's triggers (ddl.cc): the indexed column its update trigger names (`... WHEN old.rowid
// IS NOT new.rowid OR old."c" IS NOT new."c" ...`, kept up to date by SQLite through RENAME
// COLUMN); "" if absent.
std::string UpdateTriggerColumn(std::string_view trigger_sql);

// What an index is asked to be (index_options.cc).
// The vector type and dimensions of a declared column type: F32_BLOB(3), FLOAT32(3), F64_BLOB,
// FLOAT64, F16_BLOB, FLOAT16, FB16_BLOB, FLOATB16, F8_BLOB, FLOAT8, F1BIT_BLOB, FLOAT1BIT.
bool ParseColumnType(std::string_view decl, VectorType* type, uint32_t* dims);

// What `libsql_vector_index(table, column, 'key=value', ...)` says.
struct IndexOptions {
  std::string table;
  std::string column;
  GraphParams graph;  // dims are filled in from the column's type when the index is created
};
bool ParseIndexOptions(const std::vector<std::string>& args, IndexOptions* out, std::string* error);

}  // namespace cairn::vector
