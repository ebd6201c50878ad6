// vector_top_k(index, query, k [, search_l]): an eponymous table-valued function → (id,
// distance), nearest first, searching the vector index `index` (vector_index.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vector/internal.h"
#include "vector/statement.h"
#include "vector/vector_index.h"
#include "vector/vtab.h"

namespace cairn::vector {
namespace {

// The hidden columns, after kHitId and kHitDistance: the function's arguments.
enum TopKColumn { kColIndex = 2, kColQuery = 3, kColK = 4, kColL = 5 };

struct TopKVtab {
  sqlite3_vtab base;  // must be first
  sqlite3* db;
  // Index objects by lower-cased name, with the CREATE text they were made from.
  std::map<std::string, std::pair<std::string, std::unique_ptr<VectorIndex>>> indexes;
  Stmt schema_read;
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
  auto* c = reinterpret_cast<HitCursor*>(cur);
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

}  // namespace

int RegisterTopKModule(sqlite3* db) {
  static const sqlite3_module kModule = {
      .iVersion = 1,
      // No xCreate: eponymous only.
      .xConnect = TopKConnect,
      .xBestIndex = TopKBestIndex,
      .xDisconnect = TopKDisconnect,
      .xDestroy = TopKDisconnect,
      .xOpen = OpenCursor<HitCursor>,
      .xClose = CloseCursor<HitCursor>,
      .xFilter = TopKFilter,
      .xNext = HitCursorNext,
      .xEof = HitCursorEof,
      .xColumn = HitCursorColumn,
      .xRowid = HitCursorRowid,
  };
  return sqlite3_create_module_v2(db, "vector_top_k", &kModule, nullptr, nullptr);
}

}  // namespace cairn::vector
