#include "sqlite/statement_kind.h"

#include <gtest/gtest.h>

namespace cairn::sqlite {
namespace {

TEST(StatementKindTest, FirstKeywordPastCommentsWhitespaceAndCase) {
  EXPECT_EQ(ClassifyStatement("SELECT 1").keyword, Keyword::kSelect);
  EXPECT_EQ(ClassifyStatement("  -- c\n  insert into t VALUES (1)").keyword, Keyword::kInsert);
  EXPECT_EQ(ClassifyStatement("/* a */ /* b\n */\tUpDaTe t SET x = 1").keyword, Keyword::kUpdate);
  EXPECT_EQ(ClassifyStatement("\n\r\f\vdelete from t").keyword, Keyword::kDelete);
  EXPECT_EQ(ClassifyStatement(";; ; VALUES (1)").keyword, Keyword::kValues);  // empty statements
  EXPECT_EQ(ClassifyStatement("").keyword, Keyword::kNone);
  EXPECT_EQ(ClassifyStatement(" -- only a comment").keyword, Keyword::kNone);
  EXPECT_EQ(ClassifyStatement("/* unterminated").keyword, Keyword::kNone);
  EXPECT_EQ(ClassifyStatement(" ; ; ").keyword, Keyword::kNone);
  EXPECT_EQ(ClassifyStatement("SELECTED").keyword, Keyword::kOther);
  EXPECT_EQ(ClassifyStatement("(SELECT 1)").keyword, Keyword::kOther);
  EXPECT_EQ(ClassifyStatement("'INSERT'").keyword, Keyword::kOther);
  // A comment glued to the keyword ends it.
  EXPECT_EQ(ClassifyStatement("DELETE/**/FROM t").keyword, Keyword::kDelete);
  EXPECT_EQ(ClassifyStatement("attach 'x' AS y").keyword, Keyword::kAttach);
}

TEST(StatementKindTest, WhatWrites) {
  for (const char* sql :
       {"INSERT INTO t VALUES (1)", "replace into t values (1)", "UPDATE t SET x = 1",
        "DELETE FROM t", "CREATE TABLE t(x)", "create temp view v AS SELECT 1", "DROP TABLE t",
        "ALTER TABLE t ADD y", "VACUUM", "REINDEX", "ANALYZE"}) {
    EXPECT_TRUE(ClassifyStatement(sql).writes) << sql;
  }
  for (const char* sql : {"SELECT * FROM t", "VALUES (1)", "PRAGMA user_version", "BEGIN", "COMMIT",
                          "SAVEPOINT a", "EXPLAIN INSERT INTO t VALUES (1)",
                          "EXPLAIN QUERY PLAN DELETE FROM t", "ATTACH 'f' AS g", ""}) {
    EXPECT_FALSE(ClassifyStatement(sql).writes) << sql;
  }
}

TEST(StatementKindTest, WithIsWhatItsStatementIs) {
  StatementKind k = ClassifyStatement("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x");
  EXPECT_EQ(k.keyword, Keyword::kWith);
  EXPECT_TRUE(k.writes);
  EXPECT_TRUE(ClassifyStatement("with recursive c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c "
                                "WHERE n < 9), d AS NOT MATERIALIZED (SELECT (1)) "
                                "DELETE FROM t WHERE x IN c")
                  .writes);
  EXPECT_TRUE(ClassifyStatement("WITH a AS (SELECT 1) UPDATE t SET x = 2").writes);
  EXPECT_TRUE(ClassifyStatement("WITH a(x) AS (VALUES (1)) REPLACE INTO t SELECT x FROM a").writes);
  // Words inside the expressions, strings and quoted names do not count.
  EXPECT_FALSE(
      ClassifyStatement("WITH x AS (SELECT replace(a, 'b', 'c') FROM t) SELECT * FROM x").writes);
  EXPECT_FALSE(
      ClassifyStatement("WITH \"insert\" AS (SELECT 'delete') SELECT * FROM \"insert\"").writes);
  EXPECT_FALSE(
      ClassifyStatement("WITH x AS (SELECT 1), y AS (SELECT 2) SELECT * FROM x, y").writes);
  EXPECT_FALSE(ClassifyStatement("WITH x AS (SELECT 1) VALUES ((SELECT * FROM x))").writes);
  // Only the first statement counts.
  EXPECT_FALSE(ClassifyStatement("WITH x AS (SELECT 1) SELECT * FROM x; DELETE FROM t").writes);
}

TEST(StatementKindTest, TransactionControl) {
  EXPECT_EQ(ClassifyStatement("BEGIN").transaction, Transaction::kBegin);
  EXPECT_EQ(ClassifyStatement("begin immediate transaction").transaction, Transaction::kBegin);
  EXPECT_EQ(ClassifyStatement("SAVEPOINT a").transaction, Transaction::kSavepoint);
  EXPECT_EQ(ClassifyStatement("COMMIT").transaction, Transaction::kCommit);
  EXPECT_EQ(ClassifyStatement("END TRANSACTION").transaction, Transaction::kCommit);
  EXPECT_EQ(ClassifyStatement("ROLLBACK TO a").transaction, Transaction::kRollback);
  EXPECT_EQ(ClassifyStatement("RELEASE a").transaction, Transaction::kRelease);
  EXPECT_EQ(ClassifyStatement("SELECT 1").transaction, Transaction::kNone);
  EXPECT_TRUE(ClassifyStatement("BEGIN").opens_write_transaction());
  EXPECT_TRUE(ClassifyStatement("savepoint x").opens_write_transaction());
  EXPECT_FALSE(ClassifyStatement("BEGIN TRANSACTION READONLY").opens_write_transaction());
  for (const char* sql : {"COMMIT", "END", "ROLLBACK", "RELEASE x"})
    EXPECT_TRUE(ClassifyStatement(sql).ends_transaction()) << sql;
  EXPECT_FALSE(ClassifyStatement("BEGIN").ends_transaction());
}

TEST(StatementKindTest, BeginReadonlyAloneInTheText) {
  for (const char* sql : {"BEGIN TRANSACTION READONLY", "  begin readonly ; ",
                          "/* c */ BEGIN -- x\n TRANSACTION READONLY",
                          "BEGIN READONLY TRANSACTION;", "BEGIN READONLY;;  -- done"}) {
    EXPECT_EQ(ClassifyStatement(sql).transaction, Transaction::kBeginReadonly) << sql;
  }
  for (const char* sql :
       {"BEGIN READONLY TRANSACTION x", "BEGIN IMMEDIATE", "BEGIN IMMEDIATE READONLY",
        "BEGIN TRANSACTION READONLY; INSERT INTO t VALUES(1)", "BEGIN TRANSACTION \"READONLY\""}) {
    EXPECT_EQ(ClassifyStatement(sql).transaction, Transaction::kBegin) << sql;
  }
}

TEST(StatementKindTest, PragmaAssignments) {
  for (const char* sql : {"PRAGMA foreign_keys=ON", "PRAGMA foreign_keys(ON)",
                          "pragma cache_size = -2000", "PRAGMA main.foreign_keys = 1",
                          "PRAGMA \"main\".\"foreign_keys\"(1)", "PRAGMA schema.user_version=3",
                          "  /* x */ PRAGMA recursive_triggers (1)", "PRAGMA optimize(0x10002)"}) {
    EXPECT_TRUE(ClassifyStatement(sql).pragma_assignment) << sql;
    EXPECT_FALSE(ClassifyStatement(sql).writes) << sql;
  }
  for (const char* sql :
       {"PRAGMA foreign_keys", "PRAGMA main.user_version", "PRAGMA table_info(t)",
        "PRAGMA main.TABLE_INFO('t')", "PRAGMA index_list = t", "PRAGMA integrity_check(10)",
        "PRAGMA \"table_xinfo\"(t)", "PRAGMA foreign_keys -- = ON",
        "PRAGMA foreign_keys; SELECT 1=1", "SELECT 1 = 1"}) {
    EXPECT_FALSE(ClassifyStatement(sql).pragma_assignment) << sql;
  }
}

TEST(StatementKindTest, VectorDdl) {
  EXPECT_EQ(
      ClassifyStatement("CREATE INDEX i ON t(libsql_vector_idx(v, 'metric=cosine'))").vector_ddl,
      VectorDdl::kCreateIndex);
  EXPECT_EQ(
      ClassifyStatement(" create index if not exists main.i on t ( LIBSQL_VECTOR_IDX ( v ) ) ;")
          .vector_ddl,
      VectorDdl::kCreateIndex);
  EXPECT_EQ(ClassifyStatement("CREATE INDEX i ON t(x)").vector_ddl, VectorDdl::kNone);
  EXPECT_EQ(ClassifyStatement("CREATE INDEX i ON t(x); SELECT libsql_vector_idx(v)").vector_ddl,
            VectorDdl::kNone);
  EXPECT_EQ(ClassifyStatement("CREATE TABLE libsql_vector_idx(x)").vector_ddl, VectorDdl::kNone);
  EXPECT_EQ(ClassifyStatement("CREATE INDEX i ON t('libsql_vector_idx')").vector_ddl,
            VectorDdl::kNone);
  EXPECT_EQ(ClassifyStatement("DROP INDEX i").vector_ddl, VectorDdl::kDropIndex);
  EXPECT_EQ(ClassifyStatement("drop index if exists main.i").vector_ddl, VectorDdl::kDropIndex);
  EXPECT_EQ(ClassifyStatement("DROP TABLE t").vector_ddl, VectorDdl::kDropTable);
  EXPECT_EQ(ClassifyStatement("DROP VIEW v").vector_ddl, VectorDdl::kNone);
  EXPECT_EQ(ClassifyStatement("SELECT 1").vector_ddl, VectorDdl::kNone);
}

TEST(StatementKindTest, QuotesAndCommentsHideSemicolons) {
  EXPECT_TRUE(ClassifyStatement("WITH x AS (SELECT ';', \"a;\", `b;`, [c;], 'it''s;') "
                                "/* ; */ -- ;\n INSERT INTO t SELECT 1")
                  .writes);
  EXPECT_TRUE(ClassifyStatement("PRAGMA /* ; */ foreign_keys = 1").pragma_assignment);
}

TEST(StatementKindTest, HoldsNoStatement) {
  EXPECT_TRUE(HoldsNoStatement(""));
  EXPECT_TRUE(HoldsNoStatement(" ;\n; -- c\n /* d */ ;"));
  EXPECT_TRUE(HoldsNoStatement("/* unterminated"));
  EXPECT_FALSE(HoldsNoStatement("; SELECT 1"));
  EXPECT_FALSE(HoldsNoStatement("-- c\nx"));
}

}  // namespace
}  // namespace cairn::sqlite
