#include "vector/vtab.h"

namespace cairn::vector {

void SetError(sqlite3_vtab* vtab, const std::string& msg) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("%s", msg.c_str());
}

int HitCursorNext(sqlite3_vtab_cursor* cur) {
  ++reinterpret_cast<HitCursor*>(cur)->pos;
  return SQLITE_OK;
}

int HitCursorEof(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<HitCursor*>(cur);
  return c->pos >= c->rows.size();
}

int HitCursorColumn(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
  auto* c = reinterpret_cast<HitCursor*>(cur);
  const Hit& h = c->rows[c->pos];
  if (col == kHitId)
    sqlite3_result_int64(ctx, h.id);
  else if (col == kHitDistance)
    sqlite3_result_double(ctx, h.distance);
  else
    sqlite3_result_null(ctx);
  return SQLITE_OK;
}

int HitCursorRowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(reinterpret_cast<HitCursor*>(cur)->pos);
  return SQLITE_OK;
}

}  // namespace cairn::vector
