#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "migrate/admin_client.h"
#include "migrate/migration_set.h"
#include "migrate/migrator.h"

namespace cairn::migrate {
namespace {

using shell::ExecOutcome;
using shell::SqlClient;
using shell::Value;

// ---- file names, ordering, checksums -------------------------------------------------------

TEST(MigrationNameTest, AcceptsVersionUnderscoreDescriptionDotSql) {
  int64_t v = 0;
  EXPECT_TRUE(ParseMigrationName("0001_create_users.sql", &v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(ParseMigrationName("20240501120000_add-index.v2.sql", &v));
  EXPECT_EQ(v, 20240501120000);
  EXPECT_TRUE(ParseMigrationName("7_x.sql", &v));
  EXPECT_EQ(v, 7);
}

TEST(MigrationNameTest, RejectsOtherNames) {
  int64_t v = 0;
  for (const char* name :
       {"create_users.sql", "0001-create.sql", "0001_.sql", "0001_create.SQL", "0001_create.sql.bak",
        "0000_zero.sql", "0001_white space.sql", "0001create.sql", "_0001_x.sql", "0001_x.sqlite",
        "99999999999999999999_too_big.sql"}) {
    EXPECT_FALSE(ParseMigrationName(name, &v)) << name;
  }
}

std::vector<std::pair<std::string, std::string>> Files(
    std::initializer_list<std::pair<const char*, const char*>> files) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [n, c] : files) out.emplace_back(n, c);
  return out;
}

std::vector<std::string> Names(const MigrationSet& set) {
  std::vector<std::string> out;
  for (const Migration& m : set.migrations) out.push_back(m.name);
  return out;
}

TEST(MigrationSetTest, OrdersByNumericVersionAndIgnoresOtherFiles) {
  auto set = BuildMigrationSet("dir", Files({{"10_ten.sql", "SELECT 10;"},
                                            {"README.md", "# notes"},
                                            {"0002_two.sql", "SELECT 2;"},
                                            {".0003_hidden.sql", "junk"},
                                            {"1_one.sql", "SELECT 1;"},
                                            {"notes.txt", ""}}));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(Names(*set), (std::vector<std::string>{"1_one.sql", "0002_two.sql", "10_ten.sql"}));
  EXPECT_EQ(set->latest_version(), 10);
  EXPECT_EQ(set->migrations[0].checksum, Checksum("SELECT 1;"));
}

TEST(MigrationSetTest, RejectsNamesThatLookLikeMigrationsButDoNotFit) {
  auto set = BuildMigrationSet("dir", Files({{"0001_ok.sql", "SELECT 1;"},
                                            {"create_users.sql", ""},
                                            {"0002-dash.sql", ""},
                                            {"0003_typo.sq", ""}}));
  ASSERT_FALSE(set.ok());
  const std::string& msg = set.status().message();
  EXPECT_NE(msg.find("create_users.sql"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0002-dash.sql"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0003_typo.sq"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("0001_ok.sql"), std::string::npos) << msg;
}

TEST(MigrationSetTest, RejectsDuplicateVersions) {
  auto set = BuildMigrationSet("dir", Files({{"0001_a.sql", ""},
                                            {"0002_b.sql", ""},
                                            {"2_c.sql", ""},
                                            {"0003_d.sql", ""}}));
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("version 2: 0002_b.sql 2_c.sql"), std::string::npos)
      << set.status().message();
}

TEST(MigrationSetTest, EmptySetIsValid) {
  auto set = BuildMigrationSet("dir", {});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->latest_version(), 0);
}

TEST(MigrationSetTest, LoadsFromDirectory) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("cairn-migrate-test-" + std::to_string(::getpid()));
  fs::create_directories(dir / "0009_subdir.sql");  // directories are ignored
  std::ofstream(dir / "0002_b.sql") << "CREATE TABLE b(x);\n";
  std::ofstream(dir / "0001_a.sql") << "CREATE TABLE a(x);\n";
  auto set = LoadMigrationSet(dir.string());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(Names(*set), (std::vector<std::string>{"0001_a.sql", "0002_b.sql"}));
  EXPECT_EQ(set->migrations[1].checksum, Checksum("CREATE TABLE b(x);\n"));
  fs::remove_all(dir);
  auto missing = LoadMigrationSet(dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST(ChecksumTest, IsSha256Hex) {
  EXPECT_EQ(Checksum("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Checksum(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_NE(Checksum("SELECT 1;"), Checksum("SELECT 1; "));  // exact bytes
}

// ---- statements ------------------------------------------------------------------------------

TEST(SplitMigrationTest, StatementsWithLines) {
  auto s = SplitMigration("f.sql",
                          "-- users\nCREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);\n\n"
                          "INSERT INTO users(email) VALUES ('a;b');\n"
                          "CREATE TRIGGER t AFTER INSERT ON users BEGIN\n  SELECT 1;\nEND;\n"
                          "SELECT 'no semicolon at the end'");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 4u);
  EXPECT_EQ((*s)[0].line, 2);
  EXPECT_EQ((*s)[0].sql, "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT)");
  EXPECT_EQ((*s)[1].line, 4);
  EXPECT_EQ((*s)[1].sql, "INSERT INTO users(email) VALUES ('a;b')");
  EXPECT_EQ((*s)[2].line, 5);
  EXPECT_EQ((*s)[3].line, 8);
}

TEST(SplitMigrationTest, RefusesTransactionControl) {
  for (const char* sql : {"BEGIN;", "begin transaction;", "COMMIT;", "END TRANSACTION;",
                          "ROLLBACK;", "rollback transaction;"}) {
    auto s = SplitMigration("0001_x.sql", std::string("SELECT 1;\n") + sql);
    ASSERT_FALSE(s.ok()) << sql;
    EXPECT_NE(s.status().message().find("0001_x.sql, line 2"), std::string::npos)
        << s.status().message();
  }
  for (const char* sql : {"SAVEPOINT a; ROLLBACK TO a; RELEASE a;",
                          "SAVEPOINT a; ROLLBACK TRANSACTION TO SAVEPOINT a;", "SELECT 1;", ""}) {
    EXPECT_TRUE(SplitMigration("f.sql", sql).ok()) << sql;
  }
}

// ---- plans ---------------------------------------------------------------------------------------

MigrationSet ThreeFiles() {
  auto set = BuildMigrationSet("dir", Files({{"0001_a.sql", "CREATE TABLE a(x);"},
                                            {"0002_b.sql", "CREATE TABLE b(x);"},
                                            {"0003_c.sql", "CREATE TABLE c(x);"}}));
  EXPECT_TRUE(set.ok());
  return std::move(*set);
}

AppliedMigration Row(const MigrationSet& set, size_t i) {
  const Migration& m = set.migrations[i];
  return AppliedMigration{m.version, m.name, m.checksum, "2024-05-01T00:00:00.000Z"};
}

TEST(PlanTest, FreshDatabaseNeedsEverything) {
  MigrationSet set = ThreeFiles();
  auto plan = PlanMigrations(set, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->current_version, 0);
  EXPECT_EQ(plan->pending, (std::vector<size_t>{0, 1, 2}));
}

TEST(PlanTest, PartlyMigratedNeedsTheRest) {
  MigrationSet set = ThreeFiles();
  auto plan = PlanMigrations(set, {Row(set, 1), Row(set, 0)});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->current_version, 2);
  EXPECT_EQ(plan->current_name, "0002_b.sql");
  EXPECT_EQ(plan->pending, (std::vector<size_t>{2}));
}

TEST(PlanTest, UpToDate) {
  MigrationSet set = ThreeFiles();
  auto plan = PlanMigrations(set, {Row(set, 0), Row(set, 1), Row(set, 2)});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->current_version, 3);
  EXPECT_TRUE(plan->pending.empty());
}

TEST(PlanTest, ChangedChecksumIsAnError) {
  MigrationSet set = ThreeFiles();
  AppliedMigration changed = Row(set, 1);
  changed.checksum = Checksum("CREATE TABLE b(x, y);");
  auto plan = PlanMigrations(set, {Row(set, 0), changed});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("0002_b.sql changed after it was applied"),
            std::string::npos)
      << plan.status().message();
}

TEST(PlanTest, RemovedOrRenamedFileIsAnError) {
  MigrationSet set = ThreeFiles();
  AppliedMigration unknown{4, "0004_d.sql", Checksum("x"), ""};
  auto plan = PlanMigrations(set, {Row(set, 0), Row(set, 1), Row(set, 2), unknown});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("version 4 (0004_d.sql) is applied"), std::string::npos);

  AppliedMigration renamed = Row(set, 0);
  renamed.name = "0001_old_name.sql";
  plan = PlanMigrations(set, {renamed});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("applied as 0001_old_name.sql"), std::string::npos);
}

TEST(PlanTest, FileAddedBelowTheAppliedVersionIsAnError) {
  MigrationSet set = ThreeFiles();
  auto plan = PlanMigrations(set, {Row(set, 0), Row(set, 2)});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("0002_b.sql is not applied but is older"),
            std::string::npos)
      << plan.status().message();
}

// ---- one database, through a SqlClient on an in-process SQLite -------------------------------------

// A SqlClient running statements on a SQLite handle it does not own, so several clients (one per
// run) see the same database. `fail_on`, when it returns an error for a statement, replaces it.
class LocalClient : public SqlClient {
 public:
  explicit LocalClient(sqlite3* db) : db_(db) {}

  std::function<std::optional<shell::ServerError>(std::string_view)> fail_on;
  std::function<void(std::string_view)> before;
  std::vector<std::string> log;
  bool closed = false;

  ExecOutcome Execute(std::string_view sql) override {
    log.emplace_back(sql);
    if (before) before(sql);
    if (fail_on) {
      if (auto e = fail_on(sql)) {
        ExecOutcome o;
        o.error = *e;
        return o;
      }
    }
    ExecOutcome out;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
        SQLITE_OK) {
      return Error();
    }
    for (int i = 0; stmt && i < sqlite3_column_count(stmt); ++i)
      out.result.columns.push_back({sqlite3_column_name(stmt, i), ""});
    int rc = SQLITE_DONE;
    while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<Value> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        switch (sqlite3_column_type(stmt, i)) {
          case SQLITE_INTEGER: row.push_back(Value::Integer(sqlite3_column_int64(stmt, i))); break;
          case SQLITE_FLOAT: row.push_back(Value::Float(sqlite3_column_double(stmt, i))); break;
          case SQLITE_TEXT:
            row.push_back(Value::Text(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i))));
            break;
          default: row.push_back(Value::Null());
        }
      }
      out.result.rows.push_back(std::move(row));
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return Error();
    return out;
  }
  bool InTransaction() const override { return !sqlite3_get_autocommit(db_); }
  void Close() override { closed = true; }

 private:
  ExecOutcome Error() {
    return ExecOutcome::Error(sqlite3_errmsg(db_),
                              "SQLITE_" + std::to_string(sqlite3_extended_errcode(db_)));
  }
  sqlite3* db_;
};

class MigrateDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK); }
  void TearDown() override { sqlite3_close(db_); }

  MigrationSet Set(std::vector<std::pair<std::string, std::string>> files) {
    auto set = BuildMigrationSet("dir", std::move(files));
    EXPECT_TRUE(set.ok()) << set.status().ToString();
    return std::move(*set);
  }

  DatabaseOutcome Run(const MigrationSet& set, Mode mode = Mode::kApply) {
    LocalClient c(db_);
    DatabaseOutcome o = MigrateDatabase(c, "db1", set, mode);
    EXPECT_TRUE(c.closed);
    EXPECT_FALSE(c.InTransaction()) << "a transaction was left open";
    return o;
  }

  std::string Query(const std::string& sql) {
    LocalClient c(db_);
    ExecOutcome o = c.Execute(sql);
    if (!o.ok()) return "error: " + o.error->message;
    std::string out;
    for (const auto& row : o.result.rows) {
      for (const Value& v : row) {
        if (!out.empty()) out += ",";
        out += v.type == Value::Type::kInteger ? std::to_string(v.integer)
               : v.type == Value::Type::kNull  ? "NULL"
                                               : v.bytes;
      }
    }
    return out;
  }

  std::string Tables() {
    return Query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
  }

  std::vector<std::pair<std::string, std::string>> three_ = {
      {"0001_users.sql", "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT);"},
      {"0002_posts.sql", "CREATE TABLE posts(id INTEGER PRIMARY KEY, user_id INT);\n"
                         "CREATE INDEX posts_user ON posts(user_id);"},
      {"0003_seed.sql", "INSERT INTO users(email) VALUES ('a@x'), ('b@x');"}};
  sqlite3* db_ = nullptr;
};

TEST_F(MigrateDatabaseTest, AppliesAllFilesAndRecordsThem) {
  MigrationSet set = Set(three_);
  DatabaseOutcome o = Run(set);
  EXPECT_EQ(o.state, DatabaseState::kApplied) << o.error;
  EXPECT_EQ(o.version, 0);
  EXPECT_EQ(o.target_version, 3);
  EXPECT_EQ(o.files, (std::vector<std::string>{"0001_users.sql", "0002_posts.sql", "0003_seed.sql"}));
  EXPECT_EQ(Tables(), "_cairn_migrations,posts,users");
  EXPECT_EQ(Query("SELECT count(*) FROM users"), "2");
  EXPECT_EQ(Query("SELECT group_concat(version || ':' || name || ':' || (checksum = '" +
                  set.migrations[1].checksum + "') || ':' || (applied_at LIKE '____-__-__T%Z'), ' ') "
                  "FROM _cairn_migrations"),
            "1:0001_users.sql:0:1 2:0002_posts.sql:1:1 3:0003_seed.sql:0:1");
}

TEST_F(MigrateDatabaseTest, RerunIsUpToDateWithOneRead) {
  MigrationSet set = Set(three_);
  ASSERT_EQ(Run(set).state, DatabaseState::kApplied);
  LocalClient c(db_);
  DatabaseOutcome o = MigrateDatabase(c, "db1", set, Mode::kApply);
  EXPECT_EQ(o.state, DatabaseState::kUpToDate);
  EXPECT_EQ(o.version, 3);
  EXPECT_EQ(o.version_name, "0003_seed.sql");
  EXPECT_EQ(c.log.size(), 1u) << "an up-to-date database costs one read";
}

TEST_F(MigrateDatabaseTest, ResumesWithOnlyNewFiles) {
  ASSERT_EQ(Run(Set(three_)).state, DatabaseState::kApplied);
  auto four = three_;
  four.emplace_back("0004_unique_email.sql", "CREATE UNIQUE INDEX users_email ON users(email);");
  DatabaseOutcome o = Run(Set(four));
  EXPECT_EQ(o.state, DatabaseState::kApplied) << o.error;
  EXPECT_EQ(o.version, 3);
  EXPECT_EQ(o.target_version, 4);
  EXPECT_EQ(o.files, (std::vector<std::string>{"0004_unique_email.sql"}));
  EXPECT_EQ(Query("SELECT max(version), count(*) FROM _cairn_migrations"), "4,4");
}

TEST_F(MigrateDatabaseTest, FailureLeavesTheDatabaseUntouched) {
  ASSERT_EQ(Run(Set(three_)).state, DatabaseState::kApplied);
  ASSERT_EQ(Query("INSERT INTO users(email) VALUES ('a@x')"), "");  // a duplicate email
  auto more = three_;
  more.emplace_back("0004_audit.sql", "CREATE TABLE audit(x);\nALTER TABLE users ADD COLUMN n INT;");
  more.emplace_back("0005_unique_email.sql",
                    "CREATE TABLE t5(x);\n\nCREATE UNIQUE INDEX users_email ON users(email);");
  DatabaseOutcome o = Run(Set(more));
  EXPECT_EQ(o.state, DatabaseState::kFailed);
  EXPECT_EQ(o.version, 3);
  EXPECT_EQ(o.target_version, 3);
  EXPECT_TRUE(o.files.empty());
  EXPECT_NE(o.error.find("0005_unique_email.sql, statement 2 (line 3): UNIQUE constraint failed"),
            std::string::npos)
      << o.error;
  EXPECT_EQ(Tables(), "_cairn_migrations,posts,users");  // no audit, no t5
  EXPECT_EQ(Query("SELECT count(*) FROM pragma_table_info('users')"), "2");
  EXPECT_EQ(Query("SELECT max(version) FROM _cairn_migrations"), "3");

  // Fix the data and rerun: both files now go in.
  ASSERT_EQ(Query("DELETE FROM users WHERE id = 3"), "");
  o = Run(Set(more));
  EXPECT_EQ(o.state, DatabaseState::kApplied) << o.error;
  EXPECT_EQ(o.files, (std::vector<std::string>{"0004_audit.sql", "0005_unique_email.sql"}));
  EXPECT_EQ(Query("SELECT max(version) FROM _cairn_migrations"), "5");
}

TEST_F(MigrateDatabaseTest, FailedCommitRollsBack) {
  MigrationSet set = Set(three_);
  LocalClient c(db_);
  c.fail_on = [](std::string_view sql) -> std::optional<shell::ServerError> {
    if (sql == "COMMIT") return shell::ServerError{"took too long", "TRANSACTION_TIMEOUT"};
    return std::nullopt;
  };
  DatabaseOutcome o = MigrateDatabase(c, "db1", set, Mode::kApply);
  EXPECT_EQ(o.state, DatabaseState::kFailed);
  EXPECT_EQ(o.error, "COMMIT: took too long");
  EXPECT_EQ(o.error_code, "TRANSACTION_TIMEOUT");
  EXPECT_EQ(c.log.back(), "ROLLBACK");
  EXPECT_FALSE(c.InTransaction());
  EXPECT_EQ(Tables(), "");
}

TEST_F(MigrateDatabaseTest, ChangedChecksumFailsBeforeAnyWrite) {
  ASSERT_EQ(Run(Set(three_)).state, DatabaseState::kApplied);
  auto changed = three_;
  changed[1].second += "\n-- edited";
  changed.emplace_back("0004_more.sql", "CREATE TABLE more(x);");
  LocalClient c(db_);
  DatabaseOutcome o = MigrateDatabase(c, "db1", Set(changed), Mode::kApply);
  EXPECT_EQ(o.state, DatabaseState::kFailed);
  EXPECT_EQ(o.error_code, "MIGRATION_HISTORY");
  EXPECT_NE(o.error.find("0002_posts.sql changed after it was applied"), std::string::npos) << o.error;
  EXPECT_EQ(c.log.size(), 1u);  // only the read
  EXPECT_EQ(Query("SELECT max(version) FROM _cairn_migrations"), "3");
}

TEST_F(MigrateDatabaseTest, DryRunAndStatusChangeNothing) {
  ASSERT_EQ(Query("CREATE TABLE app(x)"), "");
  MigrationSet set = Set(three_);
  for (Mode mode : {Mode::kDryRun, Mode::kStatus}) {
    DatabaseOutcome o = Run(set, mode);
    EXPECT_EQ(o.state, DatabaseState::kPending) << o.error;
    EXPECT_EQ(o.version, 0);
    EXPECT_EQ(o.target_version, 3);
    EXPECT_EQ(o.files.size(), 3u);
  }
  EXPECT_EQ(Tables(), "app");  // not even the tracking table
}

TEST_F(MigrateDatabaseTest, AnotherMigratorWinningTheRaceIsUpToDate) {
  MigrationSet set = Set(three_);
  LocalClient c(db_);
  bool raced = false;
  // Just before our BEGIN IMMEDIATE, another migrator applies everything.
  c.before = [&](std::string_view sql) {
    if (sql != "BEGIN IMMEDIATE" || raced) return;
    raced = true;
    LocalClient other(db_);
    ASSERT_EQ(MigrateDatabase(other, "db1", set, Mode::kApply).state, DatabaseState::kApplied);
  };
  DatabaseOutcome o = MigrateDatabase(c, "db1", set, Mode::kApply);
  EXPECT_TRUE(raced);
  EXPECT_EQ(o.state, DatabaseState::kUpToDate) << o.error;
  EXPECT_EQ(o.version, 3);
  EXPECT_FALSE(c.InTransaction());
  EXPECT_EQ(Query("SELECT count(*) FROM users"), "2");  // the seed ran once
}

TEST_F(MigrateDatabaseTest, StrangeTrackingRowsFail) {
  // A table of that name made by someone else, without the column types.
  ASSERT_EQ(Query("CREATE TABLE _cairn_migrations(version, name, checksum, applied_at)"), "");
  ASSERT_EQ(Query("INSERT INTO _cairn_migrations VALUES ('one', 'x', 'y', 'z')"), "");
  DatabaseOutcome o = Run(Set(three_));
  EXPECT_EQ(o.state, DatabaseState::kFailed);
  EXPECT_EQ(o.error_code, "MIGRATION_HISTORY");
}

// ---- many databases ----------------------------------------------------------------------------------

TEST(RunMigrationsTest, EachDatabaseOnItsOwnWithOutcomesInOrder) {
  constexpr int kDatabases = 12;
  std::vector<sqlite3*> dbs(kDatabases);
  std::vector<std::string> names;
  std::map<std::string, sqlite3*> by_name;
  for (int i = 0; i < kDatabases; ++i) {
    ASSERT_EQ(sqlite3_open(":memory:", &dbs[i]), SQLITE_OK);
    names.push_back("db" + std::to_string(i));
    by_name[names.back()] = dbs[i];
  }
  // db5 has a table the first migration wants to create.
  sqlite3_exec(dbs[5], "CREATE TABLE users(x)", nullptr, nullptr, nullptr);
  names.push_back("missing");
  auto set = BuildMigrationSet("dir", Files({{"1_users.sql", "CREATE TABLE users(id);"},
                                            {"2_more.sql", "CREATE TABLE more(id);"}}));
  ASSERT_TRUE(set.ok());

  ClientFactory factory = [&](const std::string& name) -> Result<std::unique_ptr<SqlClient>> {
    auto it = by_name.find(name);
    if (it == by_name.end()) return Status(Code::kNotFound, "no database " + name);
    return std::unique_ptr<SqlClient>(std::make_unique<LocalClient>(it->second));
  };
  std::atomic<int> calls{0};
  size_t last_done = 0;
  auto outcomes = RunMigrations(names, *set, RunOptions{Mode::kApply, 3}, factory,
                                [&](const DatabaseOutcome&, size_t done) {
                                  ++calls;
                                  EXPECT_EQ(done, last_done + 1);
                                  last_done = done;
                                });
  EXPECT_EQ(calls.load(), kDatabases + 1);
  ASSERT_EQ(outcomes.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(outcomes[i].database, names[i]);
    const bool should_fail = names[i] == "db5" || names[i] == "missing";
    EXPECT_EQ(outcomes[i].state, should_fail ? DatabaseState::kFailed : DatabaseState::kApplied)
        << names[i] << ": " << outcomes[i].error;
  }
  EXPECT_NE(outcomes[5].error.find("1_users.sql, statement 1 (line 1): table users already exists"),
            std::string::npos)
      << outcomes[5].error;
  EXPECT_EQ(outcomes.back().error_code, "CLIENT_ERROR");
  for (sqlite3* db : dbs) sqlite3_close(db);
}

// ---- admin API answer ------------------------------------------------------------------------------

TEST(NamespaceListTest, ParsesSortsAndRejects) {
  auto names = ParseNamespaceList(R"({"namespaces":["b","default","a"]})");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "default"}));
  EXPECT_FALSE(ParseNamespaceList(R"({"databases":[]})").ok());
  EXPECT_FALSE(ParseNamespaceList(R"({"namespaces":[1]})").ok());
  EXPECT_FALSE(ParseNamespaceList("not json").ok());
}

}  // namespace
}  // namespace cairn::migrate
