#include "sqlite/connection.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

namespace cairn::sqlite {
namespace {

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-conn-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    OpenOptions o;
    o.create = true;
    auto c = Connection::Open((dir_ / "t.db").string(), o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    conn_ = std::move(c).value();
  }
  void TearDown() override {
    conn_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(ConnectionTest, OpensInWalMode) {
  auto s = conn_->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(sqlite3_step(s->raw()), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s->raw(), 0)), "wal");
}

TEST_F(ConnectionTest, PrepareRejectsEmptyAndMany) {
  EXPECT_EQ(conn_->Prepare("").status().code(), Code::kSqlNoStatement);
  EXPECT_EQ(conn_->Prepare("  -- only a comment\n").status().code(), Code::kSqlNoStatement);
  EXPECT_EQ(conn_->Prepare("SELECT 1; SELECT 2").status().code(), Code::kSqlManyStatements);
  EXPECT_TRUE(conn_->Prepare("SELECT 1;  -- trailing\n ;").ok());
  auto bad = conn_->Prepare("SELEC 1");
  EXPECT_EQ(bad.status().code(), Code::kSqlParse);
  EXPECT_EQ(bad.status().sqlite_code() & 0xff, SQLITE_ERROR);
  auto missing = conn_->Prepare("SELECT * FROM nope");
  EXPECT_EQ(missing.status().code(), Code::kSqlInput);
  EXPECT_EQ(missing.status().message().rfind("no such table: nope", 0), 0u);
}

TEST_F(ConnectionTest, CachedStatementIsReused) {
  sqlite3_stmt* first = nullptr;
  {
    auto s = conn_->Prepare("SELECT 42");
    ASSERT_TRUE(s.ok());
    first = s->raw();
  }
  auto again = conn_->Prepare("SELECT 42");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->raw(), first);
}

TEST_F(ConnectionTest, RefusesWaysOutOfTheFile) {
  auto other = (dir_ / "other.db").string();
  EXPECT_FALSE(conn_->Exec("ATTACH '" + other + "' AS o").ok());
  EXPECT_FALSE(std::filesystem::exists(other));
  EXPECT_FALSE(conn_->Exec("VACUUM INTO '" + other + "'").ok());
  EXPECT_FALSE(std::filesystem::exists(other));
  EXPECT_FALSE(conn_->Exec("SELECT load_extension('x')").ok());
  EXPECT_FALSE(conn_->Exec("SELECT * FROM sqlite_dbpage").ok());
  EXPECT_FALSE(conn_->Exec("PRAGMA writable_schema=ON").ok());
  EXPECT_FALSE(conn_->Exec("PRAGMA journal_mode=DELETE").ok());
  EXPECT_FALSE(conn_->Exec("PRAGMA query_only=0").ok());
  EXPECT_TRUE(conn_->Exec("PRAGMA foreign_keys=ON").ok());
}

TEST_F(ConnectionTest, QueryOnlyConnectionRefusesWrites) {
  ASSERT_TRUE(conn_->Exec("CREATE TABLE t(x)").ok());
  OpenOptions o;
  o.query_only = true;
  auto r = Connection::Open((dir_ / "t.db").string(), o);
  ASSERT_TRUE(r.ok());
  Status st = (*r)->Exec("INSERT INTO t VALUES (1)");
  EXPECT_EQ(st.code(), Code::kSql);
  EXPECT_TRUE((*r)->Exec("SELECT * FROM t").ok());
}

TEST_F(ConnectionTest, DeadlineInterruptsLongStatement) {
  conn_->SetDeadline(1);  // long past
  Status st = conn_->Exec(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c");
  EXPECT_EQ(st.code(), Code::kTimeout);
  conn_->SetDeadline(0);
  EXPECT_TRUE(conn_->Exec("SELECT 1").ok());
}

}  // namespace
}  // namespace cairn::sqlite
