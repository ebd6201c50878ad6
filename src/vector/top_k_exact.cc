// vector_top_k_exact(table, column, query, k [, metric]): an eponymous table-valued function →
// (id, distance), nearest first, by brute force over every row of `table` with the SIMD distance
// kernels (distance.h); no index is needed.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "vector/distance.h"
#include "vector/internal.h"
#include "vector/vtab.h"

namespace cairn::vector {
namespace {

// The hidden columns, after kHitId and kHitDistance: the function's arguments.
enum ExactColumn { kExTable = 2, kExColumn = 3, kExQuery = 4, kExK = 5, kExMetric = 6 };

struct ExactVtab {
  sqlite3_vtab base;  // must be first
  sqlite3* db;
};

int ExactConnect(sqlite3* db, void*, int, const char* const*, sqlite3_vtab** out, char**) {
  int rc = sqlite3_declare_vtab(
      db,
      "CREATE TABLE x(id INTEGER, distance REAL, tbl HIDDEN, col HIDDEN, q HIDDEN, k HIDDEN, "
      "metric HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  auto* vt = new ExactVtab();
  std::memset(&vt->base, 0, sizeof vt->base);
  vt->db = db;
  *out = &vt->base;
  return SQLITE_OK;
}

int ExactDisconnect(sqlite3_vtab* vtab) {
  delete reinterpret_cast<ExactVtab*>(vtab);
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
  auto* c = reinterpret_cast<HitCursor*>(cur);
  auto* vt = reinterpret_cast<ExactVtab*>(cur->pVtab);
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

}  // namespace

int RegisterTopKExactModule(sqlite3* db) {
  static const sqlite3_module kModule = {
      .iVersion = 1,
      // No xCreate: eponymous only.
      .xConnect = ExactConnect,
      .xBestIndex = ExactBestIndex,
      .xDisconnect = ExactDisconnect,
      .xDestroy = ExactDisconnect,
      .xOpen = OpenCursor<HitCursor>,
      .xClose = CloseCursor<HitCursor>,
      .xFilter = ExactFilter,
      .xNext = HitCursorNext,
      .xEof = HitCursorEof,
      .xColumn = HitCursorColumn,
      .xRowid = HitCursorRowid,
  };
  return sqlite3_create_module_v2(db, "vector_top_k_exact", &kModule, nullptr, nullptr);
}

}  // namespace cairn::vector
