// The extension through SQL: functions against known bytes, the index kept in step by triggers,
// vector_top_k against brute force, errors, rollback and crash consistency, and a server-style
// connection (authorizer, defensive mode, trusted_schema off).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sqlite/connection.h"
#include "vector/graph.h"
#include "vector/vector.h"

namespace cairn::vector {
namespace {

class Db {
 public:
  explicit Db(const std::string& path = ":memory:") {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    EXPECT_EQ(Register(db_), SQLITE_OK);
    Exec("PRAGMA journal_mode=WAL");
  }
  ~Db() { sqlite3_close_v2(db_); }
  sqlite3* raw() { return db_; }

  // Runs SQL; returns "" or the error message.
  std::string Exec(const std::string& sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = rc == SQLITE_OK ? "" : (err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return msg;
  }
  // First column of every row as text ("NULL" for null), or "error: ...".
  std::vector<std::string> Column(const std::string& sql,
                                  const std::vector<std::string>& blobs = {}) {
    sqlite3_stmt* s = nullptr;
    std::vector<std::string> out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
      return {std::string("error: ") + sqlite3_errmsg(db_)};
    for (size_t i = 0; i < blobs.size(); ++i)
      sqlite3_bind_blob(s, static_cast<int>(i + 1), blobs[i].data(),
                        static_cast<int>(blobs[i].size()), SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      out.push_back(t ? t : "NULL");
    }
    if (rc != SQLITE_DONE) out = {std::string("error: ") + sqlite3_errmsg(db_)};
    sqlite3_finalize(s);
    return out;
  }
  std::string One(const std::string& sql) {
    auto c = Column(sql);
    return c.empty() ? "<no rows>" : c[0];
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string F32Blob(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

TEST(SqlFunctionsTest, ConstructorsProduceLibsqlBytes) {
  Db db;
  EXPECT_EQ(db.One("SELECT hex(vector('[1,2]'))"), "0000803F00000040");
  EXPECT_EQ(db.One("SELECT hex(vector32('[1,2]'))"), "0000803F00000040");
  EXPECT_EQ(db.One("SELECT hex(vector64('[1]'))"), "000000000000F03F02");
  EXPECT_EQ(db.One("SELECT hex(vector16('[1,-2]'))"), "003C00C005");
  EXPECT_EQ(db.One("SELECT hex(vectorb16('[1]'))"), "803F06");
  EXPECT_EQ(db.One("SELECT hex(vector8('[0,1,2,3]'))"), "0055AAFFC1C0403C00000000000004");
  EXPECT_EQ(db.One("SELECT hex(vector1bit('[1,-1,2]'))"), "050D03");
  EXPECT_EQ(db.One("SELECT length(vector('[]'))"), "0");
  // Conversions between layouts go through the values.
  EXPECT_EQ(db.One("SELECT hex(vector32(vector64('[1,2]')))"), "0000803F00000040");
  EXPECT_EQ(db.One("SELECT vector_extract(vector16(vector('[1.5,-2]')))"), "[1.5,-2]");
  EXPECT_EQ(db.One("SELECT vector_extract(vector1bit('[3,-1]'))"), "[1,-1]");
  EXPECT_EQ(db.One("SELECT vector_extract(vector('[1, 2.5, -3]'))"), "[1,2.5,-3]");
  EXPECT_EQ(db.One("SELECT vector_extract(vector64('[0.1]'))"), "[0.1]");
}

TEST(SqlFunctionsTest, DistancesAndTheirErrors) {
  Db db;
  EXPECT_EQ(db.One("SELECT vector_distance_cos(vector('[1,0]'), vector('[0,1]'))"), "1.0");
  EXPECT_EQ(db.One("SELECT vector_distance_cos('[1,1]', '[2,2]') < 1e-6"), "1");
  EXPECT_EQ(db.One("SELECT vector_distance_l2(vector('[0,0]'), vector('[3,4]'))"), "5.0");
  EXPECT_EQ(db.One("SELECT vector_distance_l2(vector64('[0,0]'), vector64('[3,4]'))"), "5.0");
  EXPECT_EQ(db.One("SELECT vector_distance_cos(vector1bit('[1,1,1]'), vector1bit('[1,-1,-1]'))"),
            "2.0");
  EXPECT_EQ(db.One("SELECT vector_distance_cos(vector('[1,2]'), vector64('[1,2]'))"),
            "error: vector_distance: vectors must have the same type: 1 != 2");
  EXPECT_EQ(db.One("SELECT vector_distance_l2(vector('[1,2]'), vector('[1,2,3]'))"),
            "error: vector_distance: vectors must have the same length: 2 != 3");
  EXPECT_EQ(db.One("SELECT vector_distance_l2(vector1bit('[1]'), vector1bit('[1]'))"),
            "error: vector_distance: l2 distance is not supported for float1bit vectors");
  EXPECT_EQ(db.One("SELECT vector(12)"),
            "error: vector: unexpected value type: got INTEGER, expected TEXT or BLOB");
  EXPECT_EQ(db.One("SELECT vector('[1,2')"), "error: vector: must end with ']'");
  EXPECT_EQ(db.One("SELECT vector_extract(x'0000000007')"),
            "error: vector: unexpected binary type: 7");
}

// A table with `n` random rows of `dims` and a vector index on it.
void Populate(Db& db, const std::string& opts, size_t n, uint32_t dims, uint32_t seed) {
  ASSERT_EQ(db.Exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT, emb F32_BLOB(" +
                    std::to_string(dims) + "))"),
            "");
  ASSERT_EQ(
      db.Exec("CREATE VIRTUAL TABLE docs_idx USING libsql_vector_index(docs, emb" + opts + ")"),
      "");
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db.raw(), "INSERT INTO docs(id, body, emb) VALUES (?1, 'x', ?2)", -1,
                               &s, nullptr),
            SQLITE_OK);
  db.Exec("BEGIN");
  for (size_t i = 1; i <= n; ++i) {
    std::vector<float> v(dims);
    for (float& x : v) x = g(rng);
    const std::string b = F32Blob(v);
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(i));
    sqlite3_bind_blob(s, 2, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(s), SQLITE_DONE) << sqlite3_errmsg(db.raw());
    sqlite3_reset(s);
  }
  db.Exec("COMMIT");
  sqlite3_finalize(s);
}

// Every edge in the shadow tables points to an indexed row, and the indexed rows are exactly the
// table's rows with a vector.
void ExpectConsistent(Db& db, const std::string& index = "docs_idx",
                      const std::string& table = "docs") {
  EXPECT_EQ(db.Column("SELECT id FROM " + index + "_vectors ORDER BY id"),
            db.Column("SELECT rowid FROM " + table + " WHERE emb IS NOT NULL ORDER BY rowid"));
  std::set<int64_t> ids;
  for (const auto& s : db.Column("SELECT id FROM " + index + "_vectors")) ids.insert(std::stoll(s));
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db.raw(), ("SELECT id, neighbors FROM " + index + "_edges").c_str(),
                               -1, &s, nullptr),
            SQLITE_OK);
  size_t rows = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    ++rows;
    std::vector<int64_t> nbrs;
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, 1));
    ASSERT_TRUE(
        Graph::DecodeEdges({p ? p : "", static_cast<size_t>(sqlite3_column_bytes(s, 1))}, &nbrs));
    EXPECT_TRUE(ids.count(sqlite3_column_int64(s, 0)));
    for (int64_t n : nbrs) ASSERT_TRUE(ids.count(n)) << "dangling edge to " << n;
  }
  sqlite3_finalize(s);
  EXPECT_EQ(rows, ids.size());
}

std::vector<std::string> TopK(Db& db, const std::string& q, int k,
                              const std::string& index = "docs_idx") {
  return db.Column("SELECT id FROM vector_top_k('" + index + "', vector('" + q + "'), " +
                   std::to_string(k) + ")");
}

std::vector<std::string> Exact(Db& db, const std::string& q, int k,
                               const char* fn = "vector_distance_cos") {
  return db.Column(std::string("SELECT id FROM docs WHERE emb IS NOT NULL ORDER BY ") + fn +
                   "(emb, vector('" + q + "')), id LIMIT " + std::to_string(k));
}

std::string RandomVectorText(std::mt19937& rng, uint32_t dims) {
  std::normal_distribution<float> g;
  std::string s = "[";
  for (uint32_t i = 0; i < dims; ++i) s += (i ? "," : "") + std::to_string(g(rng));
  return s + "]";
}

double Recall(Db& db, uint32_t dims, const char* fn, int queries, uint32_t seed) {
  std::mt19937 rng(seed);
  int hit = 0, total = 0;
  for (int i = 0; i < queries; ++i) {
    const std::string q = RandomVectorText(rng, dims);
    const auto truth = Exact(db, q, 10, fn);
    const auto got = TopK(db, q, 10);
    std::set<std::string> g(got.begin(), got.end());
    EXPECT_LE(got.size(), 10u);
    for (const auto& t : truth) hit += static_cast<int>(g.count(t));
    total += static_cast<int>(truth.size());
  }
  return static_cast<double>(hit) / total;
}

TEST(SqlIndexTest, TopKMatchesBruteForceForEveryStorage) {
  struct Case {
    const char* opts;
    const char* fn;
    double min_recall;
  };
  for (const Case& c :
       {Case{"", "vector_distance_cos", 0.9}, Case{", 'metric=l2'", "vector_distance_l2", 0.9},
        Case{", 'compress_neighbors=float8'", "vector_distance_cos", 0.9},
        Case{", 'metric=cosine', 'compress_neighbors=float1bit', 'search_l=200'",
             "vector_distance_cos", 0.5}}) {
    Db db;
    Populate(db, c.opts, 1500, 16, 5);
    EXPECT_GE(Recall(db, 16, c.fn, 40, 6), c.min_recall) << c.opts;
    ExpectConsistent(db);
    // Rows come back nearest first, with their distances.
    const auto d = db.Column("SELECT distance FROM vector_top_k('docs_idx', vector('" +
                             std::string("[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]") + "'), 5)");
    ASSERT_EQ(d.size(), 5u) << c.opts;
    for (size_t i = 1; i < d.size(); ++i) EXPECT_LE(std::stod(d[i - 1]), std::stod(d[i])) << c.opts;
  }
}

TEST(SqlExactTest, ExactTopKMatchesOrderByWithoutAnIndex) {
  Db db;
  ASSERT_EQ(db.Exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, emb F32_BLOB(8))"), "");
  std::mt19937 rng(21);
  for (int i = 0; i < 500; ++i)
    ASSERT_EQ(db.Exec("INSERT INTO docs(emb) VALUES (vector('" + RandomVectorText(rng, 8) + "'))"),
              "");
  ASSERT_EQ(db.Exec("INSERT INTO docs(emb) VALUES (NULL), (vector64('[1,2,3,4,5,6,7,8]'))"), "");
  for (int i = 0; i < 10; ++i) {
    const std::string q = RandomVectorText(rng, 8);
    auto oracle = [&](const char* fn, int k) {  // mixed layouts: compare as f32
      return db.Column(std::string("SELECT id FROM docs WHERE emb IS NOT NULL ORDER BY ") + fn +
                       "(vector32(emb), vector('" + q + "')), id LIMIT " + std::to_string(k));
    };
    EXPECT_EQ(db.Column("SELECT id FROM vector_top_k_exact('docs', 'emb', vector('" + q + "'), 7)"),
              oracle("vector_distance_cos", 7));
    EXPECT_EQ(
        db.Column("SELECT id FROM vector_top_k_exact('docs', 'emb', vector('" + q + "'), 5, 'l2')"),
        oracle("vector_distance_l2", 5));
  }
  EXPECT_EQ(db.One("SELECT id FROM vector_top_k_exact('docs', 'emb', vector('[1,2]'), 3)"),
            "error: vector_top_k_exact: row 1 does not hold a vector of 2 dimensions");
  EXPECT_EQ(
      db.One("SELECT id FROM vector_top_k_exact('docs', 'emb', vector('[1,2,3,4,5,6,7,8]'), 0)"),
      "error: vector_top_k_exact: k must be a positive integer");
  EXPECT_EQ(
      db.One("SELECT id FROM vector_top_k_exact('nope', 'emb', vector('[1,2,3,4,5,6,7,8]'), 3)"),
      "error: vector_top_k_exact: no such table: nope");
}

TEST(SqlIndexTest, UpdatesAndDeletesKeepTheIndexInStep) {
  Db db;
  Populate(db, "", 600, 8, 7);
  ASSERT_EQ(db.Exec("DELETE FROM docs WHERE id % 3 = 0"), "");
  ASSERT_EQ(db.Exec("UPDATE docs SET emb = vector('[1,1,1,1,1,1,1,1]') WHERE id = 1"), "");
  ASSERT_EQ(db.Exec("UPDATE docs SET emb = NULL WHERE id = 2"), "");
  ASSERT_EQ(db.Exec("UPDATE docs SET id = 10000 WHERE id = 4"), "");
  ASSERT_EQ(db.Exec("UPDATE docs SET body = 'only text' WHERE id = 5"), "");
  ASSERT_EQ(db.Exec("INSERT OR REPLACE INTO docs(id, emb) VALUES (7, vector('[2,2,2,2,2,2,2,2]'))"),
            "");
  ExpectConsistent(db);
  const auto top = TopK(db, "[1,1,1,1,1,1,1,1]", 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(std::set<std::string>(top.begin(), top.end()), (std::set<std::string>{"1", "7"}));
  for (const auto& id : TopK(db, "[0,1,0,1,0,1,0,1]", 50)) {
    EXPECT_NE(std::stoll(id) % 3, 0) << id;
    EXPECT_NE(id, "2");
    EXPECT_NE(id, "4");
  }
  EXPECT_GE(Recall(db, 8, "vector_distance_cos", 30, 8), 0.9);
}

TEST(SqlIndexTest, IndexingExistingRowsAndDropping) {
  Db db;
  ASSERT_EQ(db.Exec("CREATE TABLE t(v FLOAT32(2)); INSERT INTO t VALUES (vector('[1,0]')), "
                    "(vector('[0,1]')), (NULL), (vector('[1,1]'))"),
            "");
  ASSERT_EQ(db.Exec("CREATE VIRTUAL TABLE i USING libsql_vector_index(t, v, 'metric=cosine')"), "");
  EXPECT_EQ(TopK(db, "[1,0.1]", 3, "i"), (std::vector<std::string>{"1", "4", "2"}));
  EXPECT_EQ(db.One("SELECT count(*) FROM i_vectors"), "3");
  EXPECT_EQ(db.Column("SELECT id FROM i"),
            std::vector<std::string>{});  // the index itself reads empty
  ASSERT_EQ(db.Exec("DROP TABLE i"), "");
  EXPECT_EQ(db.One("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'i\\_%' ESCAPE '\\'"), "0");
  EXPECT_EQ(TopK(db, "[1,0]", 3, "i").at(0), "error: vector index(search): index not found: i");
  ASSERT_EQ(db.Exec("INSERT INTO t VALUES (vector('[5,5]'))"), "");  // no trigger left behind
}

// REPLACE conflict resolution on another unique column deletes the conflicting row without
// firing delete triggers (recursive_triggers is off, as in plain SQLite): its node stays in the
// graph, but searches never return it, and the next write to the index removes it.
TEST(SqlIndexTest, RowsReplacedOnAnotherUniqueColumnAreNeverReturned) {
  Db db;
  ASSERT_EQ(db.Exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, key TEXT UNIQUE, emb F32_BLOB(2))"),
            "");
  for (int i = 1; i < 20; ++i)  // far from [1,0], nearer the larger i
    ASSERT_EQ(db.Exec("INSERT INTO docs VALUES (" + std::to_string(i) + ", 'k" + std::to_string(i) +
                      "', vector('[-1," + std::to_string(i) + "]'))"),
              "");
  ASSERT_EQ(db.Exec("INSERT INTO docs VALUES (20, 'k20', vector('[1,0]'));"
                    "CREATE VIRTUAL TABLE docs_idx USING libsql_vector_index(docs, emb)"),
            "");
  ASSERT_EQ(db.Exec("INSERT OR REPLACE INTO docs VALUES (30, 'k20', vector('[1,1]'))"),
            "");                                                                  // drops 20
  ASSERT_EQ(db.One("SELECT count(*) FROM docs_idx_vectors WHERE id = 20"), "1");  // no trigger ran
  EXPECT_EQ(TopK(db, "[1,0]", 1), std::vector<std::string>{"30"});  // the search widens past it
  EXPECT_EQ(TopK(db, "[1,0]", 2), (std::vector<std::string>{"30", "19"}));
  ASSERT_EQ(db.Exec("UPDATE OR REPLACE docs SET key = 'k19' WHERE id = 30"), "");  // drops 19
  EXPECT_EQ(TopK(db, "[1,0]", 2), (std::vector<std::string>{"30", "18"}));
  ASSERT_EQ(db.One("SELECT count(*) FROM docs_idx_vectors WHERE id IN (19, 20)"), "2");
  // The next write to the index removes the nodes searches found stale.
  ASSERT_EQ(db.Exec("INSERT INTO docs VALUES (40, 'z', vector('[-1,0]'))"), "");
  ExpectConsistent(db);
  EXPECT_EQ(TopK(db, "[1,0]", 3), (std::vector<std::string>{"30", "18", "17"}));

  // A column declared ON CONFLICT REPLACE makes plain inserts replace; compressed codes re-rank.
  Db db2;
  ASSERT_EQ(
      db2.Exec("CREATE TABLE docs(id INTEGER PRIMARY KEY, key TEXT UNIQUE ON CONFLICT REPLACE,"
               " emb F32_BLOB(4));"
               "CREATE VIRTUAL TABLE docs_idx USING libsql_vector_index(docs, emb,"
               " 'compress_neighbors=float8')"),
      "");
  std::mt19937 rng(31);
  for (int i = 0; i < 400; ++i)  // 40 keys rewritten again and again: 360 rows replaced
    ASSERT_EQ(db2.Exec("INSERT INTO docs(key, emb) VALUES ('k" + std::to_string(i % 40) +
                       "', vector('" + RandomVectorText(rng, 4) + "'))"),
              "");
  ASSERT_EQ(db2.One("SELECT count(*) FROM docs"), "40");
  // No search has run: the writes' own sweep keeps the replaced rows' nodes few.
  EXPECT_LE(std::stoi(db2.One("SELECT count(*) FROM docs_idx_vectors")), 70);
  for (int i = 0; i < 20; ++i) {
    const std::string q = RandomVectorText(rng, 4);
    const auto got = TopK(db2, q, 10);
    EXPECT_EQ(got.size(), 10u);
    for (const auto& id : got)
      EXPECT_EQ(db2.One("SELECT count(*) FROM docs WHERE id = " + id), "1") << id;
  }
  for (int i = 0; i < 40; ++i)  // plain inserts: the sweep passes over the whole index
    ASSERT_EQ(db2.Exec("INSERT INTO docs(key, emb) VALUES ('new" + std::to_string(i) +
                       "', vector('" + RandomVectorText(rng, 4) + "'))"),
              "");
  ExpectConsistent(db2);
}

// SQLite keeps the index's triggers on the table through renames; the index follows them.
TEST(SqlIndexTest, RenamingTheTableOrItsColumnKeepsTheIndexWorking) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vector_rename_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "db.sqlite").string();
  for (const char* opts : {"", ", 'compress_neighbors=float8'"}) {
    std::filesystem::remove(path);
    Db db(path), other(path);
    ASSERT_EQ(db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v F32_BLOB(2));"
                      "CREATE VIRTUAL TABLE i USING libsql_vector_index(t, v" +
                      std::string(opts) +
                      ");"
                      "INSERT INTO t VALUES (1, vector('[1,0]')), (2, vector('[0,1]'))"),
              "");
    EXPECT_EQ(TopK(other, "[1,0.1]", 2, "i"), (std::vector<std::string>{"1", "2"}));
    ASSERT_EQ(db.Exec("ALTER TABLE t RENAME TO u"), "");
    ASSERT_EQ(db.Exec("INSERT INTO u VALUES (3, vector('[1,0.2]'))"), "");
    EXPECT_EQ(TopK(db, "[1,0.1]", 2, "i"), (std::vector<std::string>{"3", "1"})) << opts;
    ASSERT_EQ(other.Exec("DELETE FROM u WHERE id = 3"), "");  // another connection, same rename
    EXPECT_EQ(TopK(other, "[1,0.1]", 3, "i"), (std::vector<std::string>{"1", "2"})) << opts;
    ASSERT_EQ(db.Exec("ALTER TABLE u RENAME COLUMN v TO w"), "");
    ASSERT_EQ(db.Exec("INSERT INTO u(id, w) VALUES (4, vector('[0.1,1]'))"), "");
    ASSERT_EQ(other.Exec("UPDATE u SET w = vector('[-1,0]') WHERE id = 1"), "");
    EXPECT_EQ(TopK(db, "[0,1]", 3, "i"), (std::vector<std::string>{"2", "4", "1"})) << opts;
    EXPECT_EQ(TopK(other, "[0,1]", 3, "i"), (std::vector<std::string>{"2", "4", "1"})) << opts;
    EXPECT_EQ(db.Column("SELECT id FROM i_vectors ORDER BY id"),
              (std::vector<std::string>{"1", "2", "4"}));
  }
  std::filesystem::remove_all(dir);
}

// Plain SQLite's DROP TABLE leaves the index (a virtual table) without its triggers: searching it
// is a clear error, and dropping it works. A server drops it with the table
// (IndexDropsForDropTable).
TEST(SqlIndexTest, DroppingTheTableLeavesNoWorkingIndexBehind) {
  Db db;
  ASSERT_EQ(db.Exec("CREATE TABLE t(v F32_BLOB(2)); INSERT INTO t VALUES (vector('[1,0]'));"
                    "CREATE VIRTUAL TABLE i USING libsql_vector_index(t, v)"),
            "");
  ASSERT_EQ(db.Exec("DROP TABLE t"), "");
  const std::string gone =
      "error: vector index i no longer follows a table (table t was dropped): remove it with DROP "
      "INDEX i";
  EXPECT_EQ(TopK(db, "[1,0]", 1, "i").at(0), gone);
  // Created again, the table is not the one the index followed.
  ASSERT_EQ(db.Exec("CREATE TABLE t(v F32_BLOB(2)); INSERT INTO t VALUES (vector('[0,1]'))"), "");
  EXPECT_EQ(TopK(db, "[1,0]", 1, "i").at(0), gone);
  EXPECT_EQ(db.Exec("INSERT INTO i(rowid) VALUES (1)"), gone.substr(7));
  ASSERT_EQ(db.Exec("DROP TABLE i"), "");
  EXPECT_EQ(db.One("SELECT count(*) FROM sqlite_schema WHERE name LIKE 'i\\_%' ESCAPE '\\'"), "0");
  ASSERT_EQ(db.Exec("CREATE VIRTUAL TABLE i USING libsql_vector_index(t, v)"), "");
  EXPECT_EQ(TopK(db, "[1,0]", 1, "i"), std::vector<std::string>{"1"});

  // What a server runs before DROP TABLE: the drops of the table's vector indexes, whatever the
  // table is called now.
  ASSERT_EQ(db.Exec("CREATE VIRTUAL TABLE \"j k\" USING libsql_vector_index(t, v, 'metric=l2');"
                    "CREATE TABLE other(v F32_BLOB(2));"
                    "CREATE VIRTUAL TABLE oi USING libsql_vector_index(other, v);"
                    "ALTER TABLE t RENAME TO renamed"),
            "");
  EXPECT_EQ(IndexDropsForDropTable(db.raw(), "DROP TABLE renamed"),
            (std::vector<std::string>{"DROP TABLE \"i\"", "DROP TABLE \"j k\""}));
  EXPECT_EQ(IndexDropsForDropTable(db.raw(), " drop table if exists main.[RENAMED] ;"),
            (std::vector<std::string>{"DROP TABLE \"main\".\"i\"", "DROP TABLE \"main\".\"j k\""}));
  EXPECT_EQ(IndexDropsForDropTable(db.raw(), "DROP TABLE t"), std::vector<std::string>{});
  EXPECT_EQ(IndexDropsForDropTable(db.raw(), "DROP TABLE i"), std::vector<std::string>{});
  EXPECT_EQ(IndexDropsForDropTable(db.raw(), "DROP TABLE renamed; SELECT 1"),
            std::vector<std::string>{});
  ASSERT_EQ(db.Exec("DROP TABLE i; DROP TABLE \"j k\"; DROP TABLE renamed"), "");
  EXPECT_EQ(
      db.Column("SELECT name FROM sqlite_schema ORDER BY name"),
      (std::vector<std::string>{"oi", "oi_edges", "oi_meta", "oi_vector_delete", "oi_vector_insert",
                                "oi_vector_update", "oi_vectors", "other"}));
}

TEST(SqlDdlTest, FindsVectorDdlAtTheStartOfSeveralStatements) {
  Db db;
  ASSERT_EQ(db.Exec("CREATE TABLE t(v F32_BLOB(2)); CREATE TABLE u(x)"), "");
  const std::string create = "CREATE INDEX i ON t(libsql_vector_idx(v, 'metric=l2'));";
  EXPECT_EQ(VectorDdlLength(db.raw(), create + " INSERT INTO t VALUES (NULL)"), create.size());
  EXPECT_EQ(VectorDdlLength(db.raw(), "  -- note; here\n/* ; */ " + create), 24 + create.size());
  EXPECT_EQ(VectorDdlLength(db.raw(), "INSERT INTO u VALUES (';'); " + create), 0u);
  EXPECT_EQ(VectorDdlLength(db.raw(), "CREATE INDEX x ON u(x); " + create), 0u);
  EXPECT_EQ(VectorDdlLength(db.raw(), "CREATE INDEX i ON t(libsql_vector_idx(v, 'a;b'))"), 48u);
  EXPECT_EQ(VectorDdlLength(db.raw(), "DROP TABLE t"), 0u);
  ASSERT_EQ(db.Exec(*RewriteIndexDdl(db.raw(), create)), "");
  EXPECT_EQ(VectorDdlLength(db.raw(), "DROP INDEX i; DROP TABLE t;"), 13u);
  EXPECT_EQ(VectorDdlLength(db.raw(), "DROP TABLE t; DROP TABLE u"), 13u);
  EXPECT_EQ(VectorDdlLength(db.raw(), "DROP TABLE u; DROP TABLE t"), 0u);
}

TEST(SqlIndexTest, ClearErrorsNeverCrashes) {
  Db db;
  Populate(db, "", 50, 4, 9);
  auto err = [&](const std::string& sql) { return db.One(sql); };
  EXPECT_EQ(err("SELECT id FROM vector_top_k('docs_idx', vector('[1,2,3,4]'), 0)"),
            "error: vector index(search): third parameter (k) must be a positive integer");
  EXPECT_EQ(err("SELECT id FROM vector_top_k('docs_idx', vector('[1,2,3,4]'), -3)"),
            "error: vector index(search): third parameter (k) must be a positive integer");
  EXPECT_EQ(err("SELECT id FROM vector_top_k('docs_idx', vector('[1,2,3,4]'), 'x')"),
            "error: vector index(search): third parameter (k) must be an integer");
  EXPECT_EQ(err("SELECT id FROM vector_top_k('docs_idx', vector('[1,2,3]'), 3)"),
            "error: vector index(search): dimensions are different: 3 != 4");
  EXPECT_EQ(err("SELECT id FROM vector_top_k('nope', vector('[1,2,3,4]'), 3)"),
            "error: vector index(search): index not found: nope");
  EXPECT_EQ(err("SELECT id FROM vector_top_k('docs', vector('[1,2,3,4]'), 3)"),
            "error: vector index(search): docs is not a vector index");
  EXPECT_EQ(err("SELECT id FROM vector_top_k('docs_idx', x'0000c07f000000000000000000000000', 3)")
                .rfind("error: vector index(search): the query vector contains NaN", 0),
            0u);
  EXPECT_EQ(err("SELECT id FROM vector_top_k('docs_idx', vector('[1,2,3,4]'))"),
            "error: vector_top_k: expected 3 arguments: index name, query vector, k");
  EXPECT_EQ(db.Exec("INSERT INTO docs(emb) VALUES (vector('[1,2]'))"),
            "vector index(insert): dimensions are different: 2 != 4");
  EXPECT_EQ(db.Exec("CREATE VIRTUAL TABLE bad USING libsql_vector_index(docs, emb, 'metric=dot')"),
            "vector index: unsupported metric: dot");
  EXPECT_EQ(db.Exec("CREATE VIRTUAL TABLE bad USING libsql_vector_index(docs, emb, 'colour=red')"),
            "vector index: unexpected parameter key: colour");
  EXPECT_EQ(db.Exec("CREATE VIRTUAL TABLE bad USING libsql_vector_index(docs, body)")
                .rfind("vector index: column body must have a vector type", 0),
            0u);
  EXPECT_EQ(db.Exec("DELETE FROM docs_idx"), "");  // reads no rows, so deletes none
  EXPECT_EQ(db.Exec("INSERT INTO docs_idx(id) VALUES (5)"),
            "vector index docs_idx is kept in step with its table by triggers; change table docs "
            "instead");
  ExpectConsistent(db);
}

TEST(SqlIndexTest, RolledBackTransactionsLeaveTheIndexConsistent) {
  Db db;
  Populate(db, "", 300, 8, 10);
  const std::string q = "[3,3,3,3,3,3,3,3]";
  const auto before = TopK(db, q, 5);
  ASSERT_EQ(db.Exec("BEGIN; INSERT INTO docs(id, emb) VALUES (5000, vector('" + q +
                    "'));"
                    "DELETE FROM docs WHERE id <= 100;"),
            "");
  EXPECT_EQ(TopK(db, q, 1),
            std::vector<std::string>{"5000"});  // the transaction sees its own writes
  ASSERT_EQ(db.Exec("ROLLBACK"), "");
  EXPECT_EQ(TopK(db, q, 5), before);
  ExpectConsistent(db);
  // A savepoint rolled back in the middle of a transaction that then commits.
  ASSERT_EQ(
      db.Exec("BEGIN; INSERT INTO docs(id, emb) VALUES (6000, vector('" + q +
              "'));"
              "SAVEPOINT s; DELETE FROM docs WHERE id = 6000; INSERT INTO docs(id, emb) VALUES "
              "(6001, vector('[1,2,3,4,5,6,7,8]')); ROLLBACK TO s; RELEASE s; COMMIT"),
      "");
  EXPECT_EQ(TopK(db, q, 1), std::vector<std::string>{"6000"});
  ExpectConsistent(db);
  // A statement that fails half way (constraint error after some rows) changes nothing.
  ASSERT_NE(db.Exec("INSERT INTO docs(id, emb) VALUES (7000, vector('" + q + "')), (6000, NULL)"),
            "");
  EXPECT_EQ(db.One("SELECT count(*) FROM docs_idx_vectors WHERE id = 7000"), "0");
  EXPECT_EQ(TopK(db, q, 1), std::vector<std::string>{"6000"});
  ExpectConsistent(db);
}

TEST(SqlIndexTest, CrashMidTransactionLeavesTheIndexConsistent) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vector_crash_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "db.sqlite").string();
  {
    Db db(path);
    Populate(db, "", 200, 8, 11);
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // dies with an open transaction that changed many index pages
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    Register(db);
    sqlite3_exec(db,
                 "PRAGMA cache_size=2; BEGIN; DELETE FROM docs WHERE id % 2 = 0;"
                 "INSERT INTO docs(id, emb) SELECT id + 1000, emb FROM docs;",
                 nullptr, nullptr, nullptr);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  Db db(path);
  EXPECT_EQ(db.One("SELECT count(*) FROM docs"), "200");
  EXPECT_EQ(db.One("PRAGMA integrity_check"), "ok");
  ExpectConsistent(db);
  EXPECT_GE(Recall(db, 8, "vector_distance_cos", 20, 12), 0.9);
  std::filesystem::remove_all(dir);
}

TEST(SqlIndexTest, ResultsAreDeterministicAndTheSameAfterReloadingFromDisk) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("vector_det_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string a = (dir / "a.sqlite").string(), b = (dir / "b.sqlite").string();
  std::vector<std::vector<std::string>> first;
  std::mt19937 rng(13);
  std::vector<std::string> queries;
  for (int i = 0; i < 20; ++i) queries.push_back(RandomVectorText(rng, 8));
  {
    Db db(a);
    Populate(db, "", 800, 8, 14);
    ASSERT_EQ(db.Exec("DELETE FROM docs WHERE id % 5 = 0"), "");
    ASSERT_EQ(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"), "");
    for (const auto& q : queries) {
      first.push_back(TopK(db, q, 10));
      EXPECT_EQ(TopK(db, q, 10), first.back());
    }
  }
  std::filesystem::copy_file(a, b);  // a new file: nothing cached, the graph is read from disk
  Db db(b);
  for (size_t i = 0; i < queries.size(); ++i) EXPECT_EQ(TopK(db, queries[i], 10), first[i]);
  std::filesystem::remove_all(dir);
}

TEST(SqlDdlTest, RewritesLibsqlIndexStatements) {
  Db db;
  ASSERT_EQ(
      db.Exec(
          "CREATE TABLE movies(title TEXT, emb F32_BLOB(3)); CREATE INDEX plain ON movies(title)"),
      "");
  EXPECT_EQ(RewriteIndexDdl(db.raw(), "CREATE INDEX movies_idx ON movies (libsql_vector_idx(emb))"),
            "CREATE VIRTUAL TABLE \"movies_idx\" USING libsql_vector_index(\"movies\", \"emb\")");
  EXPECT_EQ(RewriteIndexDdl(db.raw(),
                            "  create index if not exists \"m i\" on [movies](\n"
                            "LIBSQL_VECTOR_IDX(emb, 'metric=l2', 'max_neighbors=8')) ;"),
            "CREATE VIRTUAL TABLE IF NOT EXISTS \"m i\" USING libsql_vector_index(\"movies\", "
            "\"emb\", 'metric=l2', 'max_neighbors=8')");
  EXPECT_EQ(RewriteIndexDdl(db.raw(),
                            "-- a comment; first\n/* and another */ CREATE INDEX movies_idx ON "
                            "movies (libsql_vector_idx(emb))"),
            "CREATE VIRTUAL TABLE \"movies_idx\" USING libsql_vector_index(\"movies\", \"emb\")");
  EXPECT_EQ(RewriteIndexDdl(db.raw(), "CREATE INDEX x ON movies(title)"), std::nullopt);
  EXPECT_EQ(RewriteIndexDdl(db.raw(), "SELECT 1"), std::nullopt);
  EXPECT_EQ(
      RewriteIndexDdl(db.raw(), "CREATE INDEX x ON movies(libsql_vector_idx(emb)); DROP TABLE y"),
      std::nullopt);
  const auto create =
      RewriteIndexDdl(db.raw(), "CREATE INDEX movies_idx ON movies(libsql_vector_idx(emb))");
  ASSERT_TRUE(create.has_value());
  ASSERT_EQ(db.Exec(*create), "");
  EXPECT_EQ(RewriteIndexDdl(db.raw(), "DROP INDEX movies_idx"), "DROP TABLE \"movies_idx\"");
  EXPECT_EQ(RewriteIndexDdl(db.raw(), "drop index if exists main.movies_idx;"),
            "DROP TABLE IF EXISTS \"main\".\"movies_idx\"");
  EXPECT_EQ(RewriteIndexDdl(db.raw(), "DROP INDEX plain"), std::nullopt);
  EXPECT_EQ(RewriteIndexDdl(db.raw(), "DROP INDEX nope"), std::nullopt);
}

// A connection set up like the server's: authorizer, defensive mode, trusted_schema off.
TEST(SqlServerConnectionTest, TriggersWorkAndShadowTablesAreReadOnlyToClients) {
  RegisterAutoExtension();
  const auto dir =
      std::filesystem::temp_directory_path() / ("vector_srv_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  sqlite::OpenOptions o;
  o.create = true;
  auto conn = sqlite::Connection::Open((dir / "db.sqlite").string(), o);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  sqlite::Connection& c = **conn;
  ASSERT_TRUE(c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v F32_BLOB(2))").ok());
  const auto ddl = RewriteIndexDdl(c.raw(), "CREATE INDEX ti ON t(libsql_vector_idx(v))");
  ASSERT_TRUE(ddl.has_value());
  ASSERT_TRUE(c.Exec(*ddl).ok());
  ASSERT_TRUE(c.Exec("INSERT INTO t(v) VALUES (vector('[1,0]')), (vector('[0,1]'))").ok());
  ASSERT_TRUE(c.Exec("UPDATE t SET v = vector('[1,1]') WHERE id = 2").ok());
  ASSERT_TRUE(c.Exec("DELETE FROM t WHERE id = 1").ok());
  // Clients may read the shadow tables but never write or drop them.
  EXPECT_TRUE(c.Exec("SELECT * FROM ti_edges").ok());
  EXPECT_FALSE(c.Exec("DELETE FROM ti_edges").ok());
  EXPECT_FALSE(c.Exec("UPDATE ti_meta SET value = 1 WHERE key = 'generation'").ok());
  EXPECT_FALSE(c.Exec("INSERT INTO ti_vectors VALUES (99, x'00')").ok());
  EXPECT_FALSE(c.Exec("DROP TABLE ti_vectors").ok());
  // A client's own sync of some rowid only makes the index match the table.
  EXPECT_TRUE(c.Exec("INSERT INTO ti(rowid) VALUES (12345)").ok());
  auto s = c.Prepare("SELECT id FROM vector_top_k('ti', vector('[1,1]'), 5)");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::vector<int64_t> ids;
  while (sqlite3_step(s->raw()) == SQLITE_ROW) ids.push_back(sqlite3_column_int64(s->raw(), 0));
  EXPECT_EQ(ids, std::vector<int64_t>{2});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cairn::vector
