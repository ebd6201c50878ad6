// rows_written as D1 and Turso bill it: each row written plus each index entry the write rewrote
// (sqlite/write_meter.h, docs/metrics.md). Every expectation is computed by hand in its comment.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/registry.h"
#include "engine/session.h"

namespace cairn::engine {
namespace {

class MeteringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-metering-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    RegistryOptions o;
    o.data_dir = dir_.string();
    o.txlog = false;
    auto r = Registry::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reg_ = std::move(r).value();
    db_ = reg_->Get("default").value();
    session_ = std::make_unique<Session>(db_);
    // t0: no index. t1: one (t1_a). t2: two (the UNIQUE constraint's automatic index on a, and
    // t2_bc); d is in no index.
    for (const char* sql : {
             "CREATE TABLE t0(id INTEGER PRIMARY KEY, a, b)",
             "CREATE TABLE t1(id INTEGER PRIMARY KEY, a, b)",
             "CREATE INDEX t1_a ON t1(a)",
             "CREATE TABLE t2(id INTEGER PRIMARY KEY, a UNIQUE, b, c, d)",
             "CREATE INDEX t2_bc ON t2(b, c)",
         }) {
      ASSERT_TRUE(Run(sql).ok()) << sql;
    }
  }
  void TearDown() override {
    session_.reset();
    db_.reset();
    reg_.reset();
    std::filesystem::remove_all(dir_);
  }
  Result<ExecStats> Run(std::string_view sql) {
    StmtSpec spec{sql, {}, {}, false};
    return session_->Execute(spec, nullptr, true);
  }
  // rows_written of one statement that must succeed.
  uint64_t Written(std::string_view sql) {
    auto r = Run(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
    return r.ok() ? r->rows_written : ~uint64_t{0};
  }

  std::filesystem::path dir_;
  std::unique_ptr<Registry> reg_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Session> session_;
};

TEST_F(MeteringTest, InsertCountsEveryIndexOfTheTable) {
  EXPECT_EQ(Written("INSERT INTO t0(a, b) VALUES (1, 1), (2, 2)"), 2u);           // 2 × (1 + 0)
  EXPECT_EQ(Written("INSERT INTO t1(a, b) VALUES (1, 1), (2, 2)"), 4u);           // 2 × (1 + 1)
  EXPECT_EQ(Written("INSERT INTO t2(a, b, c) VALUES (1, 1, 1), (2, 2, 2)"), 6u);  // 2 × (1 + 2)
  // INSERT … SELECT: the two rows of t0 into t2.
  EXPECT_EQ(Written("INSERT INTO t2(a, b, c) SELECT a + 10, b, 0 FROM t0"), 6u);  // 2 × 3
  // A conflict ignored writes nothing.
  EXPECT_EQ(Written("INSERT OR IGNORE INTO t2(a) VALUES (1)"), 0u);
}

TEST_F(MeteringTest, UpdateCountsOnlyTheIndexesWhoseKeyChanged) {
  ASSERT_EQ(Written("INSERT INTO t2(a, b, c, d) VALUES (1, 1, 1, 'x'), (2, 2, 2, 'y')"), 6u);
  EXPECT_EQ(Written("UPDATE t2 SET d = 'z' WHERE id = 1"), 1u);       // d is in no index
  EXPECT_EQ(Written("UPDATE t2 SET d = 'w'"), 2u);                    // 2 rows, no index
  EXPECT_EQ(Written("UPDATE t2 SET c = 5 WHERE id = 1"), 2u);         // 1 + t2_bc
  EXPECT_EQ(Written("UPDATE t2 SET a = 7 WHERE id = 1"), 2u);         // 1 + a's UNIQUE index
  EXPECT_EQ(Written("UPDATE t2 SET a = 8, b = 8 WHERE id = 1"), 3u);  // 1 + both
  // Assigned, but to the value it had: no index entry changes.
  EXPECT_EQ(Written("UPDATE t2 SET a = a, b = b WHERE id = 1"), 1u);
  // A new rowid moves the row's entry in every index.
  EXPECT_EQ(Written("UPDATE t2 SET id = 100 WHERE id = 2"), 3u);
  // t0 has no index at all.
  ASSERT_EQ(Written("INSERT INTO t0(a) VALUES (1)"), 1u);
  EXPECT_EQ(Written("UPDATE t0 SET a = 2, b = 3"), 1u);
}

TEST_F(MeteringTest, DeleteCountsEveryIndex) {
  ASSERT_EQ(Written("INSERT INTO t1(a, b) VALUES (1, 1), (2, 2), (3, 3)"), 6u);
  EXPECT_EQ(Written("DELETE FROM t1 WHERE id = 1"), 2u);  // 1 + t1_a
  EXPECT_EQ(Written("DELETE FROM t1"), 4u);               // 2 × 2
  EXPECT_EQ(Written("DELETE FROM t1"), 0u);               // nothing left
}

TEST_F(MeteringTest, Upsert) {
  ASSERT_EQ(Written("INSERT INTO t2(id, a, b, c, d) VALUES (1, 1, 1, 1, 'x')"), 3u);
  // The conflict turns the insert into an update of b: 1 + t2_bc.
  EXPECT_EQ(Written("INSERT INTO t2(id, a, b) VALUES (1, 1, 9) "
                    "ON CONFLICT(id) DO UPDATE SET b = excluded.b"),
            2u);
  // An update of the unindexed d only.
  EXPECT_EQ(Written("INSERT INTO t2(id, a) VALUES (1, 1) ON CONFLICT(a) DO UPDATE SET d = 'y'"),
            1u);
  EXPECT_EQ(Written("INSERT INTO t2(id, a) VALUES (1, 1) ON CONFLICT DO NOTHING"), 0u);
  // No conflict: an insert.
  EXPECT_EQ(Written("INSERT INTO t2(id, a) VALUES (2, 2) ON CONFLICT DO NOTHING"), 3u);
}

TEST_F(MeteringTest, ReplaceCountsTheRowItDeletes) {
  ASSERT_EQ(Written("INSERT INTO t1(id, a) VALUES (1, 1)"), 2u);
  // REPLACE deletes the conflicting row (1 + t1_a), then inserts the new one (1 + t1_a).
  EXPECT_EQ(Written("REPLACE INTO t1(id, a) VALUES (1, 2)"), 4u);
  // Without an index: the old row (1) and the new one (1).
  ASSERT_EQ(Written("INSERT INTO t0(id, a) VALUES (1, 1)"), 1u);
  EXPECT_EQ(Written("REPLACE INTO t0(id, a) VALUES (1, 2)"), 2u);
  // A conflict on the UNIQUE index (not the rowid): row 1 is deleted (1 + 2), row 2 inserted
  // (1 + 2).
  ASSERT_EQ(Written("INSERT INTO t2(id, a) VALUES (1, 1)"), 3u);
  EXPECT_EQ(Written("REPLACE INTO t2(id, a) VALUES (2, 1)"), 6u);
}

TEST_F(MeteringTest, TriggerWritesCountWithTheirIndexes) {
  ASSERT_TRUE(Run("CREATE TABLE audit(id INTEGER PRIMARY KEY, what TEXT)").ok());
  ASSERT_TRUE(Run("CREATE INDEX audit_what ON audit(what)").ok());
  ASSERT_TRUE(Run("CREATE TRIGGER t0_ins AFTER INSERT ON t0 BEGIN "
                  "INSERT INTO audit(what) VALUES ('t0 ' || new.a); END")
                  .ok());
  // The row of t0 (1), the trigger's row of audit (1 + audit_what).
  EXPECT_EQ(Written("INSERT INTO t0(a) VALUES (1)"), 3u);
  EXPECT_EQ(Written("INSERT INTO t0(a) VALUES (2), (3)"), 6u);
}

TEST_F(MeteringTest, WithoutRowidPrimaryKeyIsTheTable) {
  ASSERT_TRUE(Run("CREATE TABLE w(k TEXT PRIMARY KEY, v, x) WITHOUT ROWID").ok());
  ASSERT_TRUE(Run("CREATE INDEX w_v ON w(v)").ok());
  EXPECT_EQ(Written("INSERT INTO w VALUES ('a', 1, 1)"), 2u);  // the row + w_v
  EXPECT_EQ(Written("UPDATE w SET x = 2"), 1u);                // x is in no index
  EXPECT_EQ(Written("UPDATE w SET v = 2"), 2u);                // + w_v
  EXPECT_EQ(Written("UPDATE w SET k = 'b'"), 2u);              // a new key: + w_v
  EXPECT_EQ(Written("DELETE FROM w"), 2u);
}

TEST_F(MeteringTest, ExpressionAndPartialIndexes) {
  ASSERT_TRUE(Run("CREATE TABLE e(id INTEGER PRIMARY KEY, a TEXT, b INT, c INT)").ok());
  ASSERT_TRUE(Run("CREATE INDEX e_lower ON e(lower(a))").ok());
  ASSERT_TRUE(Run("CREATE INDEX e_part ON e(c) WHERE b > 0").ok());
  EXPECT_EQ(Written("INSERT INTO e(a, b, c) VALUES ('A', 1, 1)"), 3u);  // a partial index counts
  EXPECT_EQ(Written("UPDATE e SET a = 'B'"), 2u);         // lower(a) uses a: + e_lower
  EXPECT_EQ(Written("UPDATE e SET b = 0"), 2u);           // the row may leave e_part: + e_part
  EXPECT_EQ(Written("UPDATE e SET c = 5"), 2u);           // e_part's key
  EXPECT_EQ(Written("UPDATE e SET a = 'B', b = 0"), 1u);  // nothing changed
}

TEST_F(MeteringTest, GeneratedColumns) {
  ASSERT_TRUE(Run("CREATE TABLE g(id INTEGER PRIMARY KEY, a INT, b INT, "
                  "v INT GENERATED ALWAYS AS (a * 2) VIRTUAL)")
                  .ok());
  ASSERT_TRUE(Run("CREATE INDEX g_v ON g(v)").ok());
  EXPECT_EQ(Written("INSERT INTO g(a, b) VALUES (1, 1)"), 2u);
  EXPECT_EQ(Written("UPDATE g SET b = 2"), 1u);  // v does not use b
  EXPECT_EQ(Written("UPDATE g SET a = 2"), 2u);  // v = a * 2 changed: + g_v
}

TEST_F(MeteringTest, FailedStatementsCountNothingAndLeakNothing) {
  ASSERT_EQ(Written("INSERT INTO t2(a) VALUES (1)"), 3u);
  const uint64_t before = db_->usage().rows_written;
  // The first row would go in (3), the second violates UNIQUE(a): the statement is rolled back.
  auto failed = Run("INSERT INTO t2(a) VALUES (2), (1)");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(db_->usage().rows_written, before);
  EXPECT_EQ(Written("SELECT count(*) FROM t2"), 0u);
  EXPECT_EQ(Written("INSERT INTO t0(a) VALUES (1)"), 1u);  // nothing of the failed one
  EXPECT_EQ(db_->usage().rows_written, before + 1);

  // Statements of a transaction rolled back later did run: each was counted when it ran.
  ASSERT_TRUE(Run("BEGIN").ok());
  EXPECT_EQ(Written("INSERT INTO t1(a) VALUES (1)"), 2u);
  ASSERT_TRUE(Run("ROLLBACK").ok());
  EXPECT_EQ(db_->usage().rows_written, before + 3);
}

TEST_F(MeteringTest, ReadsAndSchemaChangesWriteNoRows) {
  ASSERT_EQ(Written("INSERT INTO t1(a) VALUES (1), (2)"), 4u);
  EXPECT_EQ(Written("SELECT * FROM t1 WHERE a = 1"), 0u);
  EXPECT_EQ(Written("CREATE INDEX t1_b ON t1(b)"), 0u);
  // The new index counts from the next write on: the meter reads the live schema.
  EXPECT_EQ(Written("INSERT INTO t1(a) VALUES (3)"), 3u);
  EXPECT_EQ(Written("DROP INDEX t1_a"), 0u);
  EXPECT_EQ(Written("INSERT INTO t1(a) VALUES (4)"), 2u);
}

// A Hrana `sequence` (ExecuteScript) is metered statement by statement like `execute`.
TEST_F(MeteringTest, SequencesAreMeteredToo) {
  const Database::Usage before = db_->usage();
  ASSERT_TRUE(
      session_->ExecuteScript("INSERT INTO t1(a) VALUES (1); INSERT INTO t2(a) VALUES (1);", true)
          .ok());
  const Database::Usage after = db_->usage();
  EXPECT_EQ(after.rows_written - before.rows_written, 5u);  // (1 + 1) + (1 + 2)
  EXPECT_EQ(after.statements - before.statements, 2u);
  // Read-only sessions run sequences another way; they are metered too.
  session_->set_read_only(true);
  ASSERT_TRUE(session_->ExecuteScript("SELECT * FROM t1; SELECT * FROM t2;", true).ok());
  EXPECT_EQ(db_->usage().statements - after.statements, 2u);
  EXPECT_EQ(db_->usage().rows_read - after.rows_read, 2u);  // one row in each table
}

}  // namespace
}  // namespace cairn::engine
