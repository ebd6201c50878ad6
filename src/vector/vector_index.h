// One vector index as one connection uses it: the index's shadow tables, kept in step with its
// table one row at a time (Sync), and searched through the process-wide graph cache (TopK).
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
// Writes and searches work on the cached graph of the generation they read in their own snapshot
// (graph_cache.h says why that is safe), loading it from the shadow tables when it is not cached.
// Rows a search finds gone from T are left to the next write (stale_rows.h).
//
// Thread-safety: a VectorIndex belongs to one connection and is used under that connection's
// threading rules; what it shares with other connections (GraphCache, StaleRows) is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vector/format.h"
#include "vector/graph.h"
#include "vector/internal.h"
#include "vector/sqlite_api.h"
#include "vector/statement.h"

namespace cairn::vector {

class VectorIndex {
 public:
  // The index `name` of connection `db`; nothing is read or written until a call below.
  VectorIndex(sqlite3* db, std::string name, IndexOptions opts);

  const std::string& name() const { return name_; }
  // The table and column are those the index follows now (after renames, see Resolve).
  const IndexOptions& options() const { return opts_; }

  // Creates the shadow tables and triggers and indexes the rows already in the table.
  // These return an SQLite result code, with the message in *err on failure.
  int Create(std::string* err);
  // Drops the triggers and shadow tables and forgets the cached graph.
  int Destroy(std::string* err);
  // Makes the index hold exactly the table's current vector for `rowid`, and for the rows
  // searches found stale (StaleRows).
  int Sync(int64_t rowid, std::string* err);
  // The k nearest rows to `query`, nearest first, with their distances.
  // `search_l` overrides the index's beam width when non-zero.
  int TopK(const Vector& query, size_t k, uint32_t search_l, std::vector<Hit>* out,
           std::string* err);

 private:
  // The quoted name of shadow table I_<suffix>.
  std::string Shadow(const char* suffix) const;
  void FinalizeAll();

  // Every write also checks the next kSweepPerWrite nodes (by id, round robin over the index, from
  // this connection's position) against the table and adds those whose row is gone to *stale:
  // the nodes of rows REPLACE deleted are removed within about n / kSweepPerWrite writes even
  // where no search meets them. Costs a few B-tree lookups per write.
  bool Sweep(std::vector<int64_t>* stale, std::string* err);

  // Finds the table and column the index follows from its triggers: SQLite keeps their table
  // (tbl_name) and their references to the column up to date through ALTER TABLE ... RENAME TO /
  // RENAME COLUMN, while the CREATE VIRTUAL TABLE arguments keep the names the index was created
  // with. Without its triggers the index follows nothing: its table was dropped (and perhaps
  // created again), which is an error naming the way out. Cheap while the schema is unchanged.
  bool Resolve(std::string* err);

  // Makes the index hold exactly the table's current vector for `rowid`.
  int SyncRow(int64_t rowid, std::string* err);

  // The `pool` nearest nodes of the graph in the caller's snapshot (generation `gen`).
  bool SearchGraph(uint64_t gen, const std::string& code, size_t pool, uint32_t search_l,
                   std::vector<Hit>* hits, size_t* graph_size, std::string* err);

  bool Exec(const std::string& sql, std::string* err);
  // The indexed column's vector type and dimensions, from its declared type.
  bool InspectTable(VectorType* type, uint32_t* dims, std::string* err);
  // Reads dims, column type and storage written at creation.
  bool LoadMeta(std::string* err);
  // The code to index for a column value; *present = false for NULL.
  bool CodeOf(sqlite3_value* v, bool* present, std::string* code, std::string* err);

  // Reads and writes of single shadow-table rows.
  bool ReadGeneration(uint64_t* gen, std::string* err);
  bool StepDone(sqlite3_stmt* s, std::string* err);
  bool WriteGeneration(uint64_t gen, std::string* err);
  bool WriteEntry(const Graph& g, std::string* err);
  bool WriteVector(int64_t id, std::string_view code, std::string* err);
  bool WriteEdges(const Graph& g, int64_t id, std::string* err);
  bool DeleteNode(int64_t id, std::string* err);

  // Reads the whole graph (in the caller's snapshot).
  bool Load(Graph* g, std::string* err);

  // Checks hits against the table in the caller's snapshot: a row that is gone (or whose vector
  // is NULL) is stale — its node outlived the row (StaleRows) — and goes to *stale; the others go
  // to *live. With `rerank` (compressed codes give approximate distances) live hits get exact
  // distances from the table's own vectors and are sorted again.
  bool CheckHits(const std::vector<float>& q, const std::vector<Hit>& hits, bool rerank,
                 std::vector<Hit>* live, std::vector<int64_t>* stale, std::string* err);

  sqlite3* db_;
  std::string name_;
  IndexOptions opts_;
  std::string key_;  // the graph cache's key: database file (or connection) and index name
  bool meta_loaded_ = false;
  int64_t resolved_schema_ = -1;  // the schema version opts_.table and .column are current in
  static constexpr int kSweepPerWrite = 4;
  int64_t sweep_after_ = INT64_MIN;  // where Sweep() continues
  VectorType column_type_ = VectorType::kF32;
  Stmt gen_read_, gen_write_, entry_write_, base_read_, vec_write_, vec_delete_, edge_write_,
      edge_delete_, resolve_, schema_version_read_, sweep_, presence_read_;
};

}  // namespace cairn::vector
