// The `libsql_vector_index` virtual-table module: one virtual table per vector index
// (vector_index.h), whose shadow tables I_meta, I_vectors and I_edges hold the graph. Reading the
// table yields no rows; the only write it accepts is the sync `INSERT INTO i(rowid) VALUES (r)`
// its triggers perform.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "vector/internal.h"
#include "vector/vector_index.h"
#include "vector/vtab.h"

namespace cairn::vector {
namespace {

struct IndexVtab {
  sqlite3_vtab base;  // must be first
  std::unique_ptr<VectorIndex> index;
};

int IndexConnectOrCreate(sqlite3* db, int argc, const char* const* argv, sqlite3_vtab** out,
                         char** pzErr, bool create) {
  std::vector<std::string> args;
  for (int i = 3; i < argc; ++i) args.emplace_back(argv[i]);
  IndexOptions opts;
  std::string err;
  if (!ParseIndexOptions(args, &opts, &err)) {
    *pzErr = sqlite3_mprintf("%s", err.c_str());
    return SQLITE_ERROR;
  }
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(id INTEGER)");
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);  // its triggers run under trusted_schema=OFF
  auto vt = std::make_unique<IndexVtab>();
  std::memset(&vt->base, 0, sizeof vt->base);
  vt->index = std::make_unique<VectorIndex>(db, argv[2], std::move(opts));
  if (create && vt->index->Create(&err) != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("%s", err.c_str());
    return SQLITE_ERROR;
  }
  *out = &vt.release()->base;
  return SQLITE_OK;
}

int IndexCreate(sqlite3* db, void*, int argc, const char* const* argv, sqlite3_vtab** out,
                char** err) {
  return IndexConnectOrCreate(db, argc, argv, out, err, true);
}
int IndexConnect(sqlite3* db, void*, int argc, const char* const* argv, sqlite3_vtab** out,
                 char** err) {
  return IndexConnectOrCreate(db, argc, argv, out, err, false);
}

int IndexBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  info->estimatedCost = 1;
  info->estimatedRows = 1;
  return SQLITE_OK;
}

int IndexDisconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<IndexVtab*>(vtab);
  return SQLITE_OK;
}

int IndexDestroy(sqlite3_vtab* vtab) {
  auto* vt = reinterpret_cast<IndexVtab*>(vtab);
  std::string err;
  if (vt->index->Destroy(&err) != SQLITE_OK) {
    SetError(vtab, err);
    return SQLITE_ERROR;
  }
  delete vt;
  return SQLITE_OK;
}

struct EmptyCursor {
  sqlite3_vtab_cursor base;
};
int IndexFilter(sqlite3_vtab_cursor*, int, const char*, int, sqlite3_value**) { return SQLITE_OK; }
int IndexNext(sqlite3_vtab_cursor*) { return SQLITE_OK; }
int IndexEof(sqlite3_vtab_cursor*) { return 1; }
int IndexColumn(sqlite3_vtab_cursor*, sqlite3_context* ctx, int) {
  sqlite3_result_null(ctx);
  return SQLITE_OK;
}
int IndexRowid(sqlite3_vtab_cursor*, sqlite3_int64* r) {
  *r = 0;
  return SQLITE_OK;
}

int IndexUpdate(sqlite3_vtab* vtab, int argc, sqlite3_value** argv, sqlite3_int64*) {
  auto* vt = reinterpret_cast<IndexVtab*>(vtab);
  if (argc == 1 || sqlite3_value_type(argv[0]) != SQLITE_NULL ||
      sqlite3_value_type(argv[1]) != SQLITE_INTEGER) {
    SetError(vtab, "vector index " + vt->index->name() +
                       " is kept in step with its table by triggers; change table " +
                       vt->index->options().table + " instead");
    return SQLITE_ERROR;
  }
  std::string err;
  if (vt->index->Sync(sqlite3_value_int64(argv[1]), &err) != SQLITE_OK) {
    SetError(vtab, err);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

int IndexRename(sqlite3_vtab* vtab, const char*) {
  SetError(vtab, "vector indexes cannot be renamed: drop and create it again");
  return SQLITE_ERROR;
}

int IndexShadowName(const char* suffix) {
  return std::strcmp(suffix, "meta") == 0 || std::strcmp(suffix, "vectors") == 0 ||
         std::strcmp(suffix, "edges") == 0;
}

}  // namespace

int RegisterIndexModule(sqlite3* db) {
  static const sqlite3_module kModule = {
      .iVersion = 3,  // for xShadowName
      .xCreate = IndexCreate,
      .xConnect = IndexConnect,
      .xBestIndex = IndexBestIndex,
      .xDisconnect = IndexDisconnect,
      .xDestroy = IndexDestroy,
      .xOpen = OpenCursor<EmptyCursor>,
      .xClose = CloseCursor<EmptyCursor>,
      .xFilter = IndexFilter,
      .xNext = IndexNext,
      .xEof = IndexEof,
      .xColumn = IndexColumn,
      .xRowid = IndexRowid,
      .xUpdate = IndexUpdate,
      .xRename = IndexRename,
      .xShadowName = IndexShadowName,
  };
  return sqlite3_create_module_v2(db, "libsql_vector_index", &kModule, nullptr, nullptr);
}

}  // namespace cairn::vector
