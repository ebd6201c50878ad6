// The virtual-table modules: `libsql_vector_index` (one table per index; the index itself is
// vector_index.h), the `vector_top_k` table-valued function, and the `vector_top_k_exact`
// brute-force search.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "vector/distance.h"
#include "vector/graph_cache.h"
#include "vector/internal.h"
#include "vector/stale_rows.h"
#include "vector/vector_index.h"

namespace cairn::vector {
namespace {

// ---------------------------------------------------------------------------------------------
// The libsql_vector_index module: one virtual table per index. Reading it yields no rows; the
// only write it accepts is the sync `INSERT INTO i(rowid) VALUES (r)` its triggers perform.

struct IndexVtab {
  sqlite3_vtab base;  // must be first
  std::unique_ptr<VectorIndex> index;
};

void SetError(sqlite3_vtab* vtab, const std::string& msg) {
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_mprintf("%s", msg.c_str());
}

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

sqlite3_module MakeIndexModule() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof m);
  m.iVersion = 3;
  m.xCreate = IndexCreate;
  m.xConnect = IndexConnect;
  m.xBestIndex = IndexBestIndex;
  m.xDisconnect = IndexDisconnect;
  m.xDestroy = IndexDestroy;
  m.xOpen = OpenCursor<EmptyCursor>;
  m.xClose = CloseCursor<EmptyCursor>;
  m.xFilter = IndexFilter;
  m.xNext = IndexNext;
  m.xEof = IndexEof;
  m.xColumn = IndexColumn;
  m.xRowid = IndexRowid;
  m.xUpdate = IndexUpdate;
  m.xRename = IndexRename;
  m.xShadowName = IndexShadowName;
  return m;
}

// ---------------------------------------------------------------------------------------------
// vector_top_k(index, query, k): an eponymous table-valued function → (id, distance).

enum TopKColumn {
  kColId = 0,
  kColDistance = 1,
  kColIndex = 2,
  kColQuery = 3,
  kColK = 4,
  kColL = 5
};

struct TopKVtab {
  sqlite3_vtab base;
  sqlite3* db;
  // Index objects by lower-cased name, with the CREATE text they were made from.
  std::map<std::string, std::pair<std::string, std::unique_ptr<VectorIndex>>> indexes;
  Stmt schema_read;
};

struct TopKCursor {
  sqlite3_vtab_cursor base;
  std::vector<Hit> rows;
  size_t pos = 0;
};

int TopKConnect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(
      db, "CREATE TABLE x(id INTEGER, distance REAL, idx HIDDEN, q HIDDEN, k HIDDEN, l HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  auto* vt = new TopKVtab();
  std::memset(&vt->base, 0, sizeof vt->base);
  vt->db = db;
  *out = &vt->base;
  return SQLITE_OK;
}

int TopKDisconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<TopKVtab*>(vtab);
  return SQLITE_OK;
}

int TopKBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  int slot[4] = {-1, -1, -1, -1};
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.iColumn < kColIndex || c.iColumn > kColL) continue;
    if (!c.usable) return SQLITE_CONSTRAINT;  // wait for a plan where the arguments are known
    if (c.op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    slot[c.iColumn - kColIndex] = i;
  }
  int mask = 0, next = 1;
  for (int j = 0; j < 4; ++j) {
    if (slot[j] < 0) continue;
    info->aConstraintUsage[slot[j]].argvIndex = next++;
    info->aConstraintUsage[slot[j]].omit = 1;
    mask |= 1 << j;
  }
  info->idxNum = mask;
  info->estimatedCost = (mask & 7) == 7 ? 10 : 1e12;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

// The VectorIndex for `name` on this connection, made from its CREATE VIRTUAL TABLE text.
VectorIndex* FindIndex(TopKVtab* vt, const std::string& name, std::string* err) {
  sqlite3_stmt* s = vt->schema_read.Get(
      vt->db,
      "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND lower(name) = lower(?1)", err);
  if (s == nullptr) return nullptr;
  ResetOnExit reset{s};
  sqlite3_bind_text(s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(s) != SQLITE_ROW) {
    *err = "vector index(search): index not found: " + name;
    return nullptr;
  }
  const std::string real_name = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  const auto* sql_text = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
  const std::string sql = sql_text ? sql_text : "";
  sqlite3_reset(s);
  const std::string key = Lower(real_name);
  auto it = vt->indexes.find(key);
  if (it != vt->indexes.end() && it->second.first == sql) return it->second.second.get();
  // CREATE VIRTUAL TABLE name USING libsql_vector_index(args)
  const std::string lower = Lower(sql);
  const size_t using_pos = lower.find("using");
  const size_t mod =
      lower.find("libsql_vector_index", using_pos == std::string::npos ? 0 : using_pos);
  const size_t open = sql.find('(', mod == std::string::npos ? 0 : mod);
  if (lower.rfind("create virtual table", 0) != 0 || using_pos == std::string::npos ||
      mod == std::string::npos || open == std::string::npos || sql.back() != ')') {
    *err = "vector index(search): " + name + " is not a vector index";
    return nullptr;
  }
  IndexOptions opts;
  if (!ParseIndexOptions(SplitArgs(std::string_view(sql).substr(open + 1, sql.size() - open - 2)),
                         &opts, err))
    return nullptr;
  auto index = std::make_unique<VectorIndex>(vt->db, real_name, std::move(opts));
  VectorIndex* raw = index.get();
  vt->indexes[key] = {sql, std::move(index)};
  return raw;
}

int TopKFilter(sqlite3_vtab_cursor* cur, int idx_num, const char*, int argc, sqlite3_value** argv) {
  auto* c = reinterpret_cast<TopKCursor*>(cur);
  auto* vt = reinterpret_cast<TopKVtab*>(cur->pVtab);
  c->rows.clear();
  c->pos = 0;
  if ((idx_num & 7) != 7 || argc != ((idx_num & 8) ? 4 : 3)) {
    SetError(cur->pVtab, "vector_top_k: expected 3 arguments: index name, query vector, k");
    return SQLITE_ERROR;
  }
  uint32_t search_l = 0;  // an optional 4th argument (a Cairn extension): the beam width
  if (argc == 4) {
    const int64_t l = sqlite3_value_int64(argv[3]);
    if (sqlite3_value_type(argv[3]) != SQLITE_INTEGER || l < 1 || l > 10000) {
      SetError(cur->pVtab,
               "vector index(search): fourth parameter (search_l) must be an integer "
               "between 1 and 10000");
      return SQLITE_ERROR;
    }
    search_l = static_cast<uint32_t>(l);
  }
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    SetError(cur->pVtab, "vector index(search): first parameter (index) must be a string");
    return SQLITE_ERROR;
  }
  std::string name = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  if (Lower(name).rfind("main.", 0) == 0) name = name.substr(5);
  int64_t k = 0;
  switch (sqlite3_value_type(argv[2])) {
    case SQLITE_INTEGER:
      k = sqlite3_value_int64(argv[2]);
      break;
    case SQLITE_FLOAT: {
      const double d = sqlite3_value_double(argv[2]);
      if (std::floor(d) != d || std::isnan(d)) {
        SetError(cur->pVtab, "vector index(search): third parameter (k) must be an integer");
        return SQLITE_ERROR;
      }
      k = static_cast<int64_t>(std::clamp(d, -1.0, 1e9));
      break;
    }
    default:
      SetError(cur->pVtab, "vector index(search): third parameter (k) must be an integer");
      return SQLITE_ERROR;
  }
  if (k <= 0) {
    SetError(cur->pVtab, "vector index(search): third parameter (k) must be a positive integer");
    return SQLITE_ERROR;
  }
  k = std::min<int64_t>(k, 100000);
  std::string err;
  VectorIndex* index = FindIndex(vt, name, &err);
  if (index == nullptr) {
    SetError(cur->pVtab, err);
    return SQLITE_ERROR;
  }
  Vector q;
  if (!ValueToVector(argv[1], false, &q, &err)) {
    SetError(cur->pVtab, "vector index(search): " + err);
    return SQLITE_ERROR;
  }
  if (index->TopK(q, static_cast<size_t>(k), search_l, &c->rows, &err) != SQLITE_OK) {
    SetError(cur->pVtab, err);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

int TopKNext(sqlite3_vtab_cursor* cur) {
  ++reinterpret_cast<TopKCursor*>(cur)->pos;
  return SQLITE_OK;
}

int TopKEof(sqlite3_vtab_cursor* cur) {
  auto* c = reinterpret_cast<TopKCursor*>(cur);
  return c->pos >= c->rows.size();
}

int TopKColumnValue(sqlite3_vtab_cursor* cur, sqlite3_context* ctx, int col) {
  auto* c = reinterpret_cast<TopKCursor*>(cur);
  const Hit& h = c->rows[c->pos];
  if (col == kColId)
    sqlite3_result_int64(ctx, h.id);
  else if (col == kColDistance)
    sqlite3_result_double(ctx, h.distance);
  else
    sqlite3_result_null(ctx);
  return SQLITE_OK;
}

int TopKRowid(sqlite3_vtab_cursor* cur, sqlite3_int64* rowid) {
  *rowid = static_cast<sqlite3_int64>(reinterpret_cast<TopKCursor*>(cur)->pos);
  return SQLITE_OK;
}

sqlite3_module MakeTopKModule() {
  sqlite3_module m;
  std::memset(&m, 0, sizeof m);
  m.iVersion = 1;
  m.xCreate = nullptr;  // eponymous only
  m.xConnect = TopKConnect;
  m.xBestIndex = TopKBestIndex;
  m.xDisconnect = TopKDisconnect;
  m.xDestroy = TopKDisconnect;
  m.xOpen = OpenCursor<TopKCursor>;
  m.xClose = CloseCursor<TopKCursor>;
  m.xFilter = TopKFilter;
  m.xNext = TopKNext;
  m.xEof = TopKEof;
  m.xColumn = TopKColumnValue;
  m.xRowid = TopKRowid;
  return m;
}

// ---------------------------------------------------------------------------------------------
// vector_top_k_exact(table, column, query, k [, metric]): brute force over every row, no index.

enum ExactColumn {
  kExId = 0,
  kExDistance = 1,
  kExTable = 2,
  kExColumn = 3,
  kExQuery = 4,
  kExK = 5,
  kExMetric = 6
};

int ExactConnect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(
      db,
      "CREATE TABLE x(id INTEGER, distance REAL, tbl HIDDEN, col HIDDEN, q HIDDEN, k HIDDEN, "
      "metric HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  auto* vt = new TopKVtab();
  std::memset(&vt->base, 0, sizeof vt->base);
  vt->db = db;
  *out = &vt->base;
  return SQLITE_OK;
}

int ExactBestIndex(sqlite3_vtab*, sqlite3_index_info* info) {
  int slot[5] = {-1, -1, -1, -1, -1};
  for (int i = 0; i < info->nConstraint; ++i) {
    const auto& c = info->aConstraint[i];
    if (c.iColumn < kExTable || c.iColumn > kExMetric) continue;
    if (!c.usable) return SQLITE_CONSTRAINT;
    if (c.op == SQLITE_INDEX_CONSTRAINT_EQ) slot[c.iColumn - kExTable] = i;
  }
  int mask = 0, next = 1;
  for (int j = 0; j < 5; ++j) {
    if (slot[j] < 0) continue;
    info->aConstraintUsage[slot[j]].argvIndex = next++;
    info->aConstraintUsage[slot[j]].omit = 1;
    mask |= 1 << j;
  }
  info->idxNum = mask;
  info->estimatedCost = (mask & 15) == 15 ? 1e6 : 1e12;
  info->estimatedRows = 10;
  return SQLITE_OK;
}

int ExactFilter(sqlite3_vtab_cursor* cur, int idx_num, const char*, int argc,
                sqlite3_value** argv) {
  auto* c = reinterpret_cast<TopKCursor*>(cur);
  auto* vt = reinterpret_cast<TopKVtab*>(cur->pVtab);
  c->rows.clear();
  c->pos = 0;
  auto fail = [&](const std::string& m) {
    SetError(cur->pVtab, m);
    return SQLITE_ERROR;
  };
  if ((idx_num & 15) != 15 || argc < 4)
    return fail("vector_top_k_exact: expected (table, column, query vector, k [, metric])");
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || sqlite3_value_type(argv[1]) != SQLITE_TEXT)
    return fail("vector_top_k_exact: table and column must be strings");
  const std::string table = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const std::string column = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  if (sqlite3_value_type(argv[3]) != SQLITE_INTEGER || sqlite3_value_int64(argv[3]) <= 0)
    return fail("vector_top_k_exact: k must be a positive integer");
  const auto k = static_cast<size_t>(std::min<int64_t>(sqlite3_value_int64(argv[3]), 100000));
  bool l2 = false;
  if (argc == 5) {
    const auto* m = reinterpret_cast<const char*>(sqlite3_value_text(argv[4]));
    const std::string metric = Lower(m ? m : "");
    if (metric == "l2")
      l2 = true;
    else if (metric != "cosine" && metric != "cos")
      return fail("vector_top_k_exact: unsupported metric: " + metric);
  }
  Vector q;
  std::string err;
  if (!ValueToVector(argv[2], false, &q, &err)) return fail("vector_top_k_exact: " + err);
  const size_t dims = q.dims();
  std::vector<float> qf(q.values.begin(), q.values.end());
  for (float f : qf)
    if (!std::isfinite(f))
      return fail("vector_top_k_exact: the query vector contains NaN or infinite values");
  const float qn = std::sqrt(DotF32(qf.data(), qf.data(), dims));
  const std::string sql = "SELECT rowid, " + QuoteId(column) + " FROM " + QuoteId(table);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(vt->db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    std::string m = std::string("vector_top_k_exact: ") + sqlite3_errmsg(vt->db);
    sqlite3_finalize(s);
    return fail(m);
  }
  std::vector<Hit> heap;  // the k best so far, farthest on top
  std::vector<float> row(dims);
  Vector other;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    sqlite3_value* v = sqlite3_column_value(s, 1);
    const int type = sqlite3_value_type(v);
    if (type == SQLITE_NULL) continue;
    const int bytes = sqlite3_value_bytes(v);
    if (type == SQLITE_BLOB && static_cast<size_t>(bytes) == dims * 4) {
      std::memcpy(row.data(), sqlite3_value_blob(v), dims * 4);
    } else {
      if (!ValueToVector(v, false, &other, &err) || other.dims() != dims) {
        const int64_t bad = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
        return fail("vector_top_k_exact: row " + std::to_string(bad) +
                    " does not hold a vector of " + std::to_string(dims) + " dimensions");
      }
      for (size_t i = 0; i < dims; ++i) row[i] = static_cast<float>(other.values[i]);
    }
    float d;
    if (l2) {
      d = std::sqrt(L2SquaredF32(qf.data(), row.data(), dims));
    } else {
      const float rn = std::sqrt(DotF32(row.data(), row.data(), dims));
      d = 1.0f - DotF32(qf.data(), row.data(), dims) / (qn * rn);
    }
    const Hit h{d, sqlite3_column_int64(s, 0)};
    if (std::isnan(d)) continue;
    if (heap.size() < k) {
      heap.push_back(h);
      std::push_heap(heap.begin(), heap.end());
    } else if (h < heap.front()) {
      std::pop_heap(heap.begin(), heap.end());
      heap.back() = h;
      std::push_heap(heap.begin(), heap.end());
    }
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return fail(std::string("vector_top_k_exact: ") + sqlite3_errmsg(vt->db));
  std::sort_heap(heap.begin(), heap.end());
  c->rows = std::move(heap);
  return SQLITE_OK;
}

sqlite3_module MakeExactModule() {
  sqlite3_module m = MakeTopKModule();
  m.xConnect = ExactConnect;
  m.xBestIndex = ExactBestIndex;
  m.xFilter = ExactFilter;
  return m;
}

}  // namespace

int RegisterIndexModules(sqlite3* db) {
  static const sqlite3_module index_module = MakeIndexModule();
  static const sqlite3_module top_k_module = MakeTopKModule();
  int rc = sqlite3_create_module_v2(db, "libsql_vector_index", &index_module, nullptr, nullptr);
  static const sqlite3_module exact_module = MakeExactModule();
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module_v2(db, "vector_top_k", &top_k_module, nullptr, nullptr);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_module_v2(db, "vector_top_k_exact", &exact_module, nullptr, nullptr);
  return rc;
}

}  // namespace cairn::vector
