// The vector index as SQLite sees it: the `libsql_vector_index` virtual-table module (one table
// per index, with shadow tables holding the graph), the `vector_top_k` table-valued function, and
// the `vector_top_k_exact` brute-force search.
//
// Storage (docs/vector.md). For an index named I on table T, column C:
//   I_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID  format, dims, column type, entry, generation
//   I_vectors(id INTEGER PRIMARY KEY, code BLOB)        one row per indexed row of T (id = rowid)
//   I_edges(id INTEGER PRIMARY KEY, neighbors BLOB)     that node's out-edges (Graph::EncodeEdges)
//   triggers I_vector_insert / _update / _delete on T run `INSERT INTO I(rowid) VALUES (r)`,
//   which "syncs" row r: the index is made to hold exactly T's current vector for r (or nothing).
// T and C are found from the triggers (Resolve), which SQLite keeps up to date through renames.
// An insert writes its own two rows, the edge rows of the neighbours whose lists changed and one
// meta row: a few pages, where libSQL rewrites whole neighbour blocks.
//
// Searches use the process-wide cache of graphs (graph_cache.h).
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

namespace cairn::vector {
namespace {

constexpr int kFormatVersion = 1;

// ---------------------------------------------------------------------------------------------
// Prepared statements owned by an index object, prepared lazily (never at the top level: writes to
// shadow tables are only allowed from inside the module, see SQLITE_DBCONFIG_DEFENSIVE).

class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { Finalize(); }
  void Finalize() {
    if (s_ != nullptr) sqlite3_finalize(s_);
    s_ = nullptr;
  }
  // Prepares on first use; resets afterwards. Returns nullptr (error in *err) on failure.
  sqlite3_stmt* Get(sqlite3* db, const std::string& sql, std::string* err) {
    if (s_ == nullptr) {
      if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) !=
          SQLITE_OK) {
        *err = sqlite3_errmsg(db);
        s_ = nullptr;
        return nullptr;
      }
    }
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return s_;
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement when leaving scope (so it holds no read lock between calls).
struct ResetOnExit {
  sqlite3_stmt* s;
  ~ResetOnExit() {
    if (s != nullptr) sqlite3_reset(s);
  }
};

uint64_t NewGeneration() {
  uint64_t g = 0;
  for (int i = 0; i < 8 && g == 0; ++i) sqlite3_randomness(sizeof g, &g);
  return g == 0 ? 1 : g;
}

// ---------------------------------------------------------------------------------------------
// One vector index as used by one connection.

class VectorIndex {
 public:
  VectorIndex(sqlite3* db, std::string name, IndexOptions opts)
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

  const std::string& name() const { return name_; }
  const IndexOptions& options() const { return opts_; }
  const std::string& cache_key() const { return key_; }

  std::string Shadow(const char* suffix) const { return QuoteId(name_ + "_" + suffix); }

  // Creates the shadow tables and triggers and indexes the rows already in the table.
  int Create(std::string* err) {
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

  int Destroy(std::string* err) {
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

  void FinalizeAll() {
    for (Stmt* s :
         {&gen_read_, &gen_write_, &entry_write_, &base_read_, &vec_write_, &vec_delete_,
          &edge_write_, &edge_delete_, &resolve_, &schema_version_read_, &sweep_, &presence_read_})
      s->Finalize();
  }

  // Makes the index hold exactly the table's current vector for `rowid`, and for the rows
  // searches found stale (StaleRows).
  int Sync(int64_t rowid, std::string* err) {
    if (!LoadMeta(err) || !Resolve(err)) return SQLITE_ERROR;
    if (SyncRow(rowid, err) != SQLITE_OK) return SQLITE_ERROR;
    std::vector<int64_t> stale = StaleRows::Instance().Take(key_);
    if (!Sweep(&stale, err)) return SQLITE_ERROR;
    for (int64_t id : stale)
      if (id != rowid && SyncRow(id, err) != SQLITE_OK) return SQLITE_ERROR;
    return SQLITE_OK;
  }

  // Every write also checks the next kSweepPerWrite nodes (by id, round robin over the index, from
  // this connection's position) against the table and adds those whose row is gone to *stale:
  // the nodes of rows REPLACE deleted are removed within about n / kSweepPerWrite writes even
  // where no search meets them. Costs a few B-tree lookups per write.
  bool Sweep(std::vector<int64_t>* stale, std::string* err) {
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

  // Finds the table and column the index follows from its triggers: SQLite keeps their table
  // (tbl_name) and their references to the column up to date through ALTER TABLE ... RENAME TO /
  // RENAME COLUMN, while the CREATE VIRTUAL TABLE arguments keep the names the index was created
  // with. Without its triggers the index follows nothing: its table was dropped (and perhaps
  // created again), which is an error naming the way out. Cheap while the schema is unchanged.
  bool Resolve(std::string* err) {
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

 private:
  // Makes the index hold exactly the table's current vector for `rowid`.
  int SyncRow(int64_t rowid, std::string* err) {
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

 public:
  // The k nearest rows to `query`, nearest first, with their distances.
  // `search_l` overrides the index's beam width when non-zero.
  int TopK(const Vector& query, size_t k, uint32_t search_l, std::vector<Hit>* out,
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

 private:
  // The `pool` nearest nodes of the graph in the caller's snapshot (generation `gen`).
  bool SearchGraph(uint64_t gen, const std::string& code, size_t pool, uint32_t search_l,
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

 private:
  bool Exec(const std::string& sql, std::string* err) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
      *err = msg ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return false;
    }
    return true;
  }

  // The indexed column's vector type and dimensions, from its declared type.
  bool InspectTable(VectorType* type, uint32_t* dims, std::string* err) {
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

  // Reads dims, column type and storage written at creation.
  bool LoadMeta(std::string* err) {
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

  // The code to index for a column value; *present = false for NULL.
  bool CodeOf(sqlite3_value* v, bool* present, std::string* code, std::string* err) {
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

  bool ReadGeneration(uint64_t* gen, std::string* err) {
    sqlite3_stmt* s = gen_read_.Get(
        db_, "SELECT value FROM " + Shadow("meta") + " WHERE key = 'generation'", err);
    if (s == nullptr) return false;
    ResetOnExit reset{s};
    if (sqlite3_step(s) != SQLITE_ROW) {
      *err = "vector index " + name_ + ": generation missing";
      return false;
    }
    *gen = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    return true;
  }

  bool StepDone(sqlite3_stmt* s, std::string* err) {
    ResetOnExit reset{s};
    if (sqlite3_step(s) != SQLITE_DONE) {
      *err = sqlite3_errmsg(db_);
      return false;
    }
    return true;
  }

  bool WriteGeneration(uint64_t gen, std::string* err) {
    sqlite3_stmt* s = gen_write_.Get(
        db_, "UPDATE " + Shadow("meta") + " SET value = ?1 WHERE key = 'generation'", err);
    if (s == nullptr) return false;
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(gen));
    return StepDone(s, err);
  }

  bool WriteEntry(const Graph& g, std::string* err) {
    sqlite3_stmt* s = entry_write_.Get(
        db_, "UPDATE " + Shadow("meta") + " SET value = ?1 WHERE key = 'entry'", err);
    if (s == nullptr) return false;
    if (auto e = g.entry()) sqlite3_bind_int64(s, 1, *e);
    return StepDone(s, err);
  }

  bool WriteVector(int64_t id, std::string_view code, std::string* err) {
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

  bool WriteEdges(const Graph& g, int64_t id, std::string* err) {
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

  bool DeleteNode(int64_t id, std::string* err) {
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

  // Reads the whole graph (in the caller's snapshot).
  bool Load(Graph* g, std::string* err) {
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

  // Checks hits against the table in the caller's snapshot: a row that is gone (or whose vector
  // is NULL) is stale — its node outlived the row (StaleRows) — and goes to *stale; the others go
  // to *live. With `rerank` (compressed codes give approximate distances) live hits get exact
  // distances from the table's own vectors and are sorted again.
  bool CheckHits(const std::vector<float>& q, const std::vector<Hit>& hits, bool rerank,
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

  sqlite3* db_;
  std::string name_;
  IndexOptions opts_;
  std::string key_;
  bool meta_loaded_ = false;
  int64_t resolved_schema_ = -1;  // the schema version opts_.table and .column are current in
  static constexpr int kSweepPerWrite = 4;
  int64_t sweep_after_ = INT64_MIN;  // where Sweep() continues
  VectorType column_type_ = VectorType::kF32;
  Stmt gen_read_, gen_write_, entry_write_, base_read_, vec_write_, vec_delete_, edge_write_,
      edge_delete_, resolve_, schema_version_read_, sweep_, presence_read_;
};

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
