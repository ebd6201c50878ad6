// What the component's virtual-table modules share (index_module.cc, top_k.cc, top_k_exact.cc):
// a failing call's error message, xOpen/xClose for their cursor types, and the cursor over search
// results that both table-valued functions, vector_top_k and vector_top_k_exact, return.
//
// Thread-safety: nothing of its own; a virtual table and its cursors belong to one connection.
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "vector/graph.h"
#include "vector/sqlite_api.h"

namespace cairn::vector {

// Sets the error message SQLite reports for the failing call on `vtab`.
void SetError(sqlite3_vtab* vtab, const std::string& msg);

// xOpen/xClose for a cursor type whose first member is `sqlite3_vtab_cursor base`.
template <typename Cursor>
int OpenCursor(sqlite3_vtab*, sqlite3_vtab_cursor** out) {
  auto* c = new Cursor();
  std::memset(&c->base, 0, sizeof c->base);
  *out = &c->base;
  return SQLITE_OK;
}
template <typename Cursor>
int CloseCursor(sqlite3_vtab_cursor* c) {
  delete reinterpret_cast<Cursor*>(c);
  return SQLITE_OK;
}

// The rows of one search, (id, distance) nearest first, all found by xFilter: the cursor of both
// table-valued functions. Their first two columns are the hit's id and distance; the others are
// hidden (the function's arguments) and read as NULL.
enum HitColumn { kHitId = 0, kHitDistance = 1 };
struct HitCursor {
  sqlite3_vtab_cursor base;  // must be first
  std::vector<Hit> rows;
  size_t pos = 0;
};
int HitCursorNext(sqlite3_vtab_cursor* cur);
int HitCursorEof(sqlite3_vtab_cursor* cur);
int HitCursorColumn(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col);
int HitCursorRowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid);

}  // namespace cairn::vector
