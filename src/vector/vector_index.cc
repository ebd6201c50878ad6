#include "vector/vector_index.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "vector/graph_cache.h"
#include "vector/stale_rows.h"

namespace cairn::vector {
namespace {

constexpr int kFormatVersion = 1;

uint64_t NewGeneration() {
  uint64_t g = 0;
  for (int i = 0; i < 8 && g == 0; ++i) sqlite3_randomness(sizeof g, &g);
  return g == 0 ? 1 : g;
}

}  // namespace

VectorIndex::VectorIndex(sqlite3* db, std::string name, IndexOptions opts)
    : db_(db), name_(std::move(name)), opts_(std::move(opts)) {
  const char* file = sqlite3_db_filename(db, "main");
  if (file != nullptr && *file != '\0') {
    key_ = std::string(file) + '\n' + Lower(name_);
  } else {  // a private in-memory or temporary database: only this connection sees it
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", static_cast<void*>(db));
    key_ = std::string("private:") + buf + '\n' + Lower(name_);
  }
}

std::string VectorIndex::Shadow(const char* suffix) const { return QuoteId(name_ + "_" + suffix); }

int VectorIndex::Create(std::string* err) {
  VectorType type;
  uint32_t dims = 0;
  if (!InspectTable(&type, &dims, err)) return SQLITE_ERROR;
  opts_.graph.dims = dims;
  if (type == VectorType::k1Bit) opts_.graph.storage = Storage::k1Bit;
  column_type_ = type;
  const std::string t = QuoteId(opts_.table), c = QuoteId(opts_.column), me = QuoteId(name_);
  // clang-format off
  std::string sql =
      "CREATE TABLE " + Shadow("meta") + "(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
      "CREATE TABLE " + Shadow("vectors") + "(id INTEGER PRIMARY KEY, code BLOB NOT NULL);"
      "CREATE TABLE " + Shadow("edges") + "(id INTEGER PRIMARY KEY, neighbors BLOB NOT NULL);"
      "INSERT INTO " + Shadow("meta") + "(key, value) VALUES ('format', " +
      std::to_string(kFormatVersion) + "), ('dims', " + std::to_string(dims) +
      "), ('column_type', " + std::to_string(static_cast<int>(type)) +
      "), ('storage', " + std::to_string(static_cast<int>(opts_.graph.storage)) +
      "), ('entry', NULL), ('generation', 0);"
      "CREATE TRIGGER " + QuoteId(name_ + "_vector_insert") + " AFTER INSERT ON " + t +
      " BEGIN INSERT INTO " + me + "(rowid) VALUES (new.rowid); END;"
      "CREATE TRIGGER " + QuoteId(name_ + "_vector_update") + " AFTER UPDATE ON " + t +
      " WHEN old.rowid IS NOT new.rowid OR old." + c + " IS NOT new." + c +
      " BEGIN INSERT INTO " + me + "(rowid) VALUES (old.rowid); INSERT INTO " + me +
      "(rowid) VALUES (new.rowid); END;"
      "CREATE TRIGGER " + QuoteId(name_ + "_vector_delete") + " AFTER DELETE ON " + t +
      " BEGIN INSERT INTO " + me + "(rowid) VALUES (old.rowid); END;";
  // clang-format on
  if (!Exec(sql, err)) return SQLITE_ERROR;
  meta_loaded_ = true;
  // Index what is already there, in memory first, then write every row once.
  auto g = std::make_shared<CachedGraph>(opts_.graph);
  std::string scan = "SELECT rowid, " + c + " FROM " + t + " ORDER BY rowid";
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, scan.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    *err = sqlite3_errmsg(db_);
    return SQLITE_ERROR;
  }
  std::vector<int64_t> changed;
  std::string code;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    bool present = false;
    if (!CodeOf(sqlite3_column_value(s, 1), &present, &code, err)) {
      sqlite3_finalize(s);
      return SQLITE_ERROR;
    }
    if (present) g->graph.Insert(sqlite3_column_int64(s, 0), code, &changed);
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) {
    *err = sqlite3_errmsg(db_);
    return SQLITE_ERROR;
  }
  std::vector<int64_t> all = changed;
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  for (int64_t id : all) {
    if (!g->graph.Contains(id)) continue;
    if (!WriteVector(id, g->graph.Code(id), err) || !WriteEdges(g->graph, id, err))
      return SQLITE_ERROR;
  }
  const uint64_t gen = NewGeneration();
  if (!WriteEntry(g->graph, err) || !WriteGeneration(gen, err)) return SQLITE_ERROR;
  g->generation = gen;
  GraphCache::Instance().Put(key_, std::move(g));
  return SQLITE_OK;
}

int VectorIndex::Destroy(std::string* err) {
  FinalizeAll();
  GraphCache::Instance().Erase(key_);
  StaleRows::Instance().Take(key_);
  const std::string sql = "DROP TRIGGER IF EXISTS " + QuoteId(name_ + "_vector_insert") + ";" +
                          "DROP TRIGGER IF EXISTS " + QuoteId(name_ + "_vector_update") + ";" +
                          "DROP TRIGGER IF EXISTS " + QuoteId(name_ + "_vector_delete") + ";" +
                          "DROP TABLE IF EXISTS " + Shadow("edges") + ";" +
                          "DROP TABLE IF EXISTS " + Shadow("vectors") + ";" +
                          "DROP TABLE IF EXISTS " + Shadow("meta") + ";";
  return Exec(sql, err) ? SQLITE_OK : SQLITE_ERROR;
}

void VectorIndex::FinalizeAll() {
  for (Stmt* s :
       {&gen_read_, &gen_write_, &entry_write_, &base_read_, &vec_write_, &vec_delete_,
        &edge_write_, &edge_delete_, &resolve_, &schema_version_read_, &sweep_, &presence_read_})
    s->Finalize();
}

int VectorIndex::Sync(int64_t rowid, std::string* err) {
  if (!LoadMeta(err) || !Resolve(err)) return SQLITE_ERROR;
  if (SyncRow(rowid, err) != SQLITE_OK) return SQLITE_ERROR;
  std::vector<int64_t> stale = StaleRows::Instance().Take(key_);
  if (!Sweep(&stale, err)) return SQLITE_ERROR;
  for (int64_t id : stale)
    if (id != rowid && SyncRow(id, err) != SQLITE_OK) return SQLITE_ERROR;
  return SQLITE_OK;
}

bool VectorIndex::Sweep(std::vector<int64_t>* stale, std::string* err) {
  sqlite3_stmt* s = sweep_.Get(
      db_,
      "SELECT v.id, EXISTS (SELECT 1 FROM " + QuoteId(opts_.table) + " WHERE rowid = v.id AND " +
          QuoteId(opts_.column) + " IS NOT NULL) FROM (SELECT id FROM " + Shadow("vectors") +
          " WHERE id > ?1 ORDER BY id LIMIT " + std::to_string(kSweepPerWrite) + ") AS v",
      err);
  if (s == nullptr) return false;
  ResetOnExit reset{s};
  sqlite3_bind_int64(s, 1, sweep_after_);
  int rc, rows = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    ++rows;
    sweep_after_ = sqlite3_column_int64(s, 0);
    if (sqlite3_column_int(s, 1) == 0) stale->push_back(sweep_after_);
  }
  if (rc != SQLITE_DONE) {
    *err = sqlite3_errmsg(db_);
    return false;
  }
  if (rows < kSweepPerWrite) sweep_after_ = INT64_MIN;  // the end: start again
  return true;
}

bool VectorIndex::Resolve(std::string* err) {
  int64_t version = 0;
  {
    sqlite3_stmt* v = schema_version_read_.Get(db_, "PRAGMA schema_version", err);
    if (v == nullptr) return false;
    ResetOnExit reset{v};
    if (sqlite3_step(v) != SQLITE_ROW) {
      *err = sqlite3_errmsg(db_);
      return false;
    }
    version = sqlite3_column_int64(v, 0);
  }
  if (version == resolved_schema_) return true;
  const std::string insert_trigger = Lower(name_ + "_vector_insert");
  const std::string update_trigger = Lower(name_ + "_vector_update");
  sqlite3_stmt* s = resolve_.Get(
      db_,
      "SELECT lower(name), tbl_name, sql FROM sqlite_schema WHERE type = 'trigger' AND "
      "lower(name) IN (?1, ?2)",
      err);
  if (s == nullptr) return false;
  ResetOnExit reset{s};
  sqlite3_bind_text(s, 1, insert_trigger.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, update_trigger.c_str(), -1, SQLITE_TRANSIENT);
  std::string table, column;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const auto* n = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    const auto* q = reinterpret_cast<const char*>(sqlite3_column_text(s, 2));
    if (n != nullptr && insert_trigger == n && t != nullptr) table = t;
    if (n != nullptr && update_trigger == n && q != nullptr) column = UpdateTriggerColumn(q);
  }
  if (rc != SQLITE_DONE) {
    *err = sqlite3_errmsg(db_);
    return false;
  }
  if (table.empty() || column.empty()) {
    *err = "vector index " + name_ + " no longer follows a table (table " + opts_.table +
           " was dropped): remove it with DROP INDEX " + name_;
    return false;
  }
  if (table != opts_.table || column != opts_.column) {
    opts_.table = std::move(table);
    opts_.column = std::move(column);
    base_read_.Finalize();  // these name the old table and column
    sweep_.Finalize();
    presence_read_.Finalize();
  }
  resolved_schema_ = version;
  return true;
}

int VectorIndex::SyncRow(int64_t rowid, std::string* err) {
  sqlite3_stmt* s = base_read_.Get(
      db_,
      "SELECT " + QuoteId(opts_.column) + " FROM " + QuoteId(opts_.table) + " WHERE rowid = ?1",
      err);
  if (s == nullptr) return SQLITE_ERROR;
  ResetOnExit reset{s};
  sqlite3_bind_int64(s, 1, rowid);
  bool present = false;
  std::string code;
  const int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    if (!CodeOf(sqlite3_column_value(s, 0), &present, &code, err)) return SQLITE_ERROR;
  } else if (rc != SQLITE_DONE) {
    *err = sqlite3_errmsg(db_);
    return SQLITE_ERROR;
  }
  sqlite3_reset(s);
  uint64_t gen;
  if (!ReadGeneration(&gen, err)) return SQLITE_ERROR;
  std::shared_ptr<CachedGraph> g = GraphCache::Instance().Find(key_, gen);
  if (g == nullptr) {
    g = std::make_shared<CachedGraph>(opts_.graph);
    if (!Load(&g->graph, err)) return SQLITE_ERROR;
    g->generation = gen;
    GraphCache::Instance().Put(key_, g);
  }
  std::unique_lock lk(g->mu);
  if (g->generation != gen) {  // changed by someone else meanwhile: work on a private copy
    lk.unlock();
    g = std::make_shared<CachedGraph>(opts_.graph);
    if (!Load(&g->graph, err)) return SQLITE_ERROR;
    g->generation = gen;
    lk = std::unique_lock(g->mu);
  }
  Graph& graph = g->graph;
  const bool had = graph.Contains(rowid);
  if (had && present && graph.Code(rowid) == code) return SQLITE_OK;  // nothing changed
  if (!had && !present) return SQLITE_OK;
  const std::optional<int64_t> entry_before = graph.entry();
  std::vector<int64_t> changed;
  g->generation = 0;  // until every row is written
  if (had) graph.Remove(rowid, &changed);
  if (present) graph.Insert(rowid, code, &changed);
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  if (had && !present && !DeleteNode(rowid, err)) return SQLITE_ERROR;
  if (present && !WriteVector(rowid, code, err)) return SQLITE_ERROR;
  for (int64_t id : changed)
    if (graph.Contains(id) && !WriteEdges(graph, id, err)) return SQLITE_ERROR;
  if (graph.entry() != entry_before && !WriteEntry(graph, err)) return SQLITE_ERROR;
  const uint64_t next = NewGeneration();
  if (!WriteGeneration(next, err)) return SQLITE_ERROR;
  g->generation = next;
  return SQLITE_OK;
}

int VectorIndex::TopK(const Vector& query, size_t k, uint32_t search_l, std::vector<Hit>* out,
                      std::string* err) {
  if (!LoadMeta(err) || !Resolve(err)) return SQLITE_ERROR;
  GraphParams p = opts_.graph;
  if (search_l != 0) p.search_l = search_l;
  if (query.dims() != p.dims) {
    *err = "vector index(search): dimensions are different: " + std::to_string(query.dims()) +
           " != " + std::to_string(p.dims);
    return SQLITE_ERROR;
  }
  std::vector<float> q(query.values.begin(), query.values.end());
  Graph encoder(p);
  std::string code;
  if (!encoder.EncodeVector(q.data(), &code)) {
    *err = "vector index(search): the query vector contains NaN or infinite values";
    return SQLITE_ERROR;
  }
  uint64_t gen;
  if (!ReadGeneration(&gen, err)) return SQLITE_ERROR;
  // Every hit is checked against the table (CheckHits); while stale nodes crowd live rows out
  // of the k asked for, the search widens.
  const bool exact = p.storage == Storage::kF32;
  size_t pool = exact ? k : std::max(k, size_t{p.search_l});
  std::vector<Hit> live;
  for (;;) {
    std::vector<Hit> hits;
    size_t graph_size = 0;
    if (!SearchGraph(gen, code, pool, p.search_l, &hits, &graph_size, err)) return SQLITE_ERROR;
    std::vector<int64_t> stale;
    live.clear();
    if (!CheckHits(q, hits, !exact, &live, &stale, err)) return SQLITE_ERROR;
    if (!stale.empty()) StaleRows::Instance().Add(key_, stale);
    if (stale.empty() || live.size() >= k || pool >= graph_size) break;
    pool = std::min(graph_size, pool * 2 + stale.size());
  }
  if (exact && p.metric == Metric::kL2)
    for (Hit& h : live) h.distance = std::sqrt(h.distance);
  if (live.size() > k) live.resize(k);
  *out = std::move(live);
  return SQLITE_OK;
}

bool VectorIndex::SearchGraph(uint64_t gen, const std::string& code, size_t pool, uint32_t search_l,
                              std::vector<Hit>* hits, size_t* graph_size, std::string* err) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::shared_ptr<CachedGraph> g = GraphCache::Instance().Find(key_, gen);
    if (g == nullptr) {
      g = std::make_shared<CachedGraph>(opts_.graph);
      if (!Load(&g->graph, err)) return false;
      g->generation = gen;
      GraphCache::Instance().Put(key_, g);
    }
    std::shared_lock lk(g->mu);
    if (g->generation != gen) continue;
    *hits = g->graph.Search(code, pool, search_l);
    *graph_size = g->graph.size();
    return true;
  }
  // The cached graph kept moving under us: search a private copy.
  Graph private_graph(opts_.graph);
  if (!Load(&private_graph, err)) return false;
  *hits = private_graph.Search(code, pool, search_l);
  *graph_size = private_graph.size();
  return true;
}

bool VectorIndex::Exec(const std::string& sql, std::string* err) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
    *err = msg ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return false;
  }
  return true;
}

bool VectorIndex::InspectTable(VectorType* type, uint32_t* dims, std::string* err) {
  sqlite3_stmt* s = nullptr;
  const std::string sql = "SELECT name, type FROM pragma_table_xinfo(?1)";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    *err = sqlite3_errmsg(db_);
    return false;
  }
  sqlite3_bind_text(s, 1, opts_.table.c_str(), -1, SQLITE_TRANSIENT);
  bool table_found = false, found = false;
  std::string decl;
  while (sqlite3_step(s) == SQLITE_ROW) {
    table_found = true;
    const auto* n = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    if (n != nullptr && Lower(n) == Lower(opts_.column)) {
      found = true;
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
      decl = t ? t : "";
    }
  }
  sqlite3_finalize(s);
  if (!table_found) {
    *err = "vector index: no such table: " + opts_.table;
    return false;
  }
  if (!found) {
    *err = "vector index: no such column: " + opts_.table + "." + opts_.column;
    return false;
  }
  if (!ParseColumnType(decl, type, dims)) {
    *err = "vector index: column " + opts_.column +
           " must have a vector type with dimensions, e.g. F32_BLOB(768) (it is '" + decl + "')";
    return false;
  }
  // Rowid tables only: the index refers to rows by rowid.
  std::string probe = "SELECT rowid FROM " + QuoteId(opts_.table) + " LIMIT 0";
  if (sqlite3_prepare_v2(db_, probe.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    *err = "vector index: table " + opts_.table + " must be a rowid table (not WITHOUT ROWID)";
    return false;
  }
  sqlite3_finalize(s);
  return true;
}

bool VectorIndex::LoadMeta(std::string* err) {
  if (meta_loaded_) return true;
  sqlite3_stmt* s = nullptr;
  const std::string sql = "SELECT key, value FROM " + Shadow("meta");
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    *err = std::string("vector index ") + name_ + ": " + sqlite3_errmsg(db_);
    sqlite3_finalize(s);
    return false;
  }
  int64_t format = 0, dims = 0, type = 0, storage = -1;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const std::string key = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    if (key == "format") format = sqlite3_column_int64(s, 1);
    if (key == "dims") dims = sqlite3_column_int64(s, 1);
    if (key == "column_type") type = sqlite3_column_int64(s, 1);
    if (key == "storage") storage = sqlite3_column_int64(s, 1);
  }
  sqlite3_finalize(s);
  if (format != kFormatVersion || dims <= 0 || dims > kMaxDims || type < 1 || type > 6 ||
      storage < 0 || storage > 2) {
    *err = "vector index " + name_ + ": its metadata is missing or from an unknown format";
    return false;
  }
  opts_.graph.dims = static_cast<uint32_t>(dims);
  opts_.graph.storage = static_cast<Storage>(storage);
  column_type_ = static_cast<VectorType>(type);
  meta_loaded_ = true;
  return true;
}

bool VectorIndex::CodeOf(sqlite3_value* v, bool* present, std::string* code, std::string* err) {
  *present = false;
  if (sqlite3_value_type(v) == SQLITE_NULL) return true;
  Vector vec;
  if (!ValueToVector(v, false, &vec, err)) {
    *err = "vector index(insert): " + *err;
    return false;
  }
  if (vec.dims() != opts_.graph.dims) {
    *err = "vector index(insert): dimensions are different: " + std::to_string(vec.dims()) +
           " != " + std::to_string(opts_.graph.dims);
    return false;
  }
  std::vector<float> f(vec.values.begin(), vec.values.end());
  Graph encoder(opts_.graph);
  if (!encoder.EncodeVector(f.data(), code)) {
    *err = "vector index(insert): vectors with NaN or infinite values cannot be indexed";
    return false;
  }
  *present = true;
  return true;
}

bool VectorIndex::ReadGeneration(uint64_t* gen, std::string* err) {
  sqlite3_stmt* s =
      gen_read_.Get(db_, "SELECT value FROM " + Shadow("meta") + " WHERE key = 'generation'", err);
  if (s == nullptr) return false;
  ResetOnExit reset{s};
  if (sqlite3_step(s) != SQLITE_ROW) {
    *err = "vector index " + name_ + ": generation missing";
    return false;
  }
  *gen = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  return true;
}

bool VectorIndex::StepDone(sqlite3_stmt* s, std::string* err) {
  ResetOnExit reset{s};
  if (sqlite3_step(s) != SQLITE_DONE) {
    *err = sqlite3_errmsg(db_);
    return false;
  }
  return true;
}

bool VectorIndex::WriteGeneration(uint64_t gen, std::string* err) {
  sqlite3_stmt* s = gen_write_.Get(
      db_, "UPDATE " + Shadow("meta") + " SET value = ?1 WHERE key = 'generation'", err);
  if (s == nullptr) return false;
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(gen));
  return StepDone(s, err);
}

bool VectorIndex::WriteEntry(const Graph& g, std::string* err) {
  sqlite3_stmt* s = entry_write_.Get(
      db_, "UPDATE " + Shadow("meta") + " SET value = ?1 WHERE key = 'entry'", err);
  if (s == nullptr) return false;
  if (auto e = g.entry()) sqlite3_bind_int64(s, 1, *e);
  return StepDone(s, err);
}

bool VectorIndex::WriteVector(int64_t id, std::string_view code, std::string* err) {
  sqlite3_stmt* s = vec_write_.Get(
      db_,
      "INSERT INTO " + Shadow("vectors") +
          "(id, code) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET code = excluded.code",
      err);
  if (s == nullptr) return false;
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_blob(s, 2, code.data(), static_cast<int>(code.size()), SQLITE_STATIC);
  return StepDone(s, err);
}

bool VectorIndex::WriteEdges(const Graph& g, int64_t id, std::string* err) {
  sqlite3_stmt* s = edge_write_.Get(
      db_,
      "INSERT INTO " + Shadow("edges") +
          "(id, neighbors) VALUES (?1, ?2) ON CONFLICT(id) DO UPDATE SET neighbors = "
          "excluded.neighbors",
      err);
  if (s == nullptr) return false;
  const std::string e = g.EncodeEdges(id);
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_blob(s, 2, e.data(), static_cast<int>(e.size()), SQLITE_STATIC);
  return StepDone(s, err);
}

bool VectorIndex::DeleteNode(int64_t id, std::string* err) {
  sqlite3_stmt* s =
      vec_delete_.Get(db_, "DELETE FROM " + Shadow("vectors") + " WHERE id = ?1", err);
  if (s == nullptr) return false;
  sqlite3_bind_int64(s, 1, id);
  if (!StepDone(s, err)) return false;
  s = edge_delete_.Get(db_, "DELETE FROM " + Shadow("edges") + " WHERE id = ?1", err);
  if (s == nullptr) return false;
  sqlite3_bind_int64(s, 1, id);
  return StepDone(s, err);
}

bool VectorIndex::Load(Graph* g, std::string* err) {
  auto fail = [&](const std::string& why) {
    *err = "vector index " + name_ + ": " + why;
    return false;
  };
  sqlite3_stmt* s = nullptr;
  std::string sql = "SELECT id, code FROM " + Shadow("vectors");
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    return fail(sqlite3_errmsg(db_));
  }
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char* p = static_cast<const char*>(sqlite3_column_blob(s, 1));
    const int n = sqlite3_column_bytes(s, 1);
    if (!g->LoadNode(sqlite3_column_int64(s, 0), {p ? p : "", static_cast<size_t>(n)})) {
      sqlite3_finalize(s);
      return fail("malformed node row");
    }
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return fail(sqlite3_errmsg(db_));
  sql = "SELECT id, neighbors FROM " + Shadow("edges");
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    return fail(sqlite3_errmsg(db_));
  }
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char* p = static_cast<const char*>(sqlite3_column_blob(s, 1));
    const int n = sqlite3_column_bytes(s, 1);
    if (!g->LoadEdges(sqlite3_column_int64(s, 0), {p ? p : "", static_cast<size_t>(n)})) {
      sqlite3_finalize(s);
      return fail("malformed edge row");
    }
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return fail(sqlite3_errmsg(db_));
  sql = "SELECT value FROM " + Shadow("meta") + " WHERE key = 'entry'";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    return fail(sqlite3_errmsg(db_));
  }
  std::optional<int64_t> entry;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
    entry = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  if (!g->LoadEntry(entry)) return fail("malformed entry");
  return true;
}

bool VectorIndex::CheckHits(const std::vector<float>& q, const std::vector<Hit>& hits, bool rerank,
                            std::vector<Hit>* live, std::vector<int64_t>* stale, std::string* err) {
  // Without re-ranking only the row's presence is needed: that statement loads no blob
  // (SQLite only checks the column's type for IS NOT NULL).
  sqlite3_stmt* s = rerank ? base_read_.Get(db_,
                                            "SELECT " + QuoteId(opts_.column) + " FROM " +
                                                QuoteId(opts_.table) + " WHERE rowid = ?1",
                                            err)
                           : presence_read_.Get(db_,
                                                "SELECT 1 FROM " + QuoteId(opts_.table) +
                                                    " WHERE rowid = ?1 AND " +
                                                    QuoteId(opts_.column) + " IS NOT NULL",
                                                err);
  if (s == nullptr) return false;
  ResetOnExit reset{s};
  double qn = 0;
  for (float f : q) qn += double{f} * f;
  live->reserve(hits.size());
  for (const Hit& h : hits) {
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, h.id);
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      *err = sqlite3_errmsg(db_);
      return false;
    }
    if (rc == SQLITE_DONE || sqlite3_column_type(s, 0) == SQLITE_NULL) {
      stale->push_back(h.id);
      continue;
    }
    if (!rerank) {
      live->push_back(h);
      continue;
    }
    Vector v;
    std::string ignored;
    if (!ValueToVector(sqlite3_column_value(s, 0), false, &v, &ignored) || v.dims() != q.size()) {
      stale->push_back(h.id);
      continue;
    }
    double dot = 0, vn = 0, l2 = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      const double a = q[i], b = static_cast<float>(v.values[i]);
      dot += a * b;
      vn += b * b;
      l2 += (a - b) * (a - b);
    }
    const double d = opts_.graph.metric == Metric::kL2 ? std::sqrt(l2)
                     : (qn > 0 && vn > 0)              ? 1 - dot / std::sqrt(qn * vn)
                                                       : 1;
    live->push_back(Hit{static_cast<float>(d), h.id});
  }
  if (rerank) std::sort(live->begin(), live->end());
  return true;
}

}  // namespace cairn::vector
