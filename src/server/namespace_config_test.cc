#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "base/file.h"
#include "engine/session.h"
#include "migrate/in_process.h"
#include "server/admin.h"

namespace cairn::server {
namespace {

class NamespaceConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-nsconfig-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    migrations_ = (dir_ / "migrations").string();
    ASSERT_TRUE(MakeDirs(migrations_).ok());
    store_ = std::make_unique<engine::LimitsStore>([d = dir_.string()](std::string_view n) {
      return d + "/data/databases/" + std::string(n);
    });
    engine::RegistryOptions o;
    o.data_dir = (dir_ / "data").string();
    o.limits = store_.get();
    reg_ = engine::Registry::Open(o).value();
  }
  void TearDown() override {
    reg_.reset();
    std::filesystem::remove_all(dir_);
  }
  // The rows of a query on a database, as "a|b" strings.
  std::vector<std::string> Rows(std::string_view db, std::string_view sql) {
    struct Sink : engine::RowSink {
      Status Columns(std::span<const engine::ColumnInfo>) override { return Status::Ok(); }
      Status Row(std::span<const engine::ValueRef> v) override {
        std::string r;
        for (size_t i = 0; i < v.size(); ++i) {
          if (i) r += "|";
          r += v[i].type == engine::Value::Type::kInteger ? std::to_string(v[i].integer)
                                                          : std::string(v[i].bytes);
        }
        rows.push_back(r);
        return Status::Ok();
      }
      std::vector<std::string> rows;
    } sink;
    engine::Session s(reg_->Get(db).value());
    engine::StmtSpec spec{sql, {}, {}, true};
    auto r = s.Execute(spec, &sink, true);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return sink.rows;
  }
  std::filesystem::path dir_;
  std::string migrations_;
  std::unique_ptr<engine::LimitsStore> store_;
  std::unique_ptr<engine::Registry> reg_;
};

TEST_F(NamespaceConfigTest, CreateWithLimitsThenReadAndChangeThem) {
  AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), ""});
  ASSERT_EQ(api.Handle("POST", "/v1/namespaces/a/create",
                       R"({"max_db_size": "1mib", "max_concurrent_streams": 4})")
                .status,
            200);
  auto got = api.Handle("GET", "/v1/namespaces/a/config", "");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body,
            R"({"max_db_size":1048576,"block_reads":false,"block_writes":false,)"
            R"("block_reason":null,)"
            R"("statement_timeout_ms":null,"max_response_bytes":null,"max_concurrent_streams":4,)"
            R"("sync_replicas":null,"sync_timeout_ms":null,"sync_backup":false})");
  auto changed = api.Handle("POST", "/v1/namespaces/a/config",
                            R"({"block_writes": true, "max_concurrent_streams": null})");
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.body.find(R"("block_writes":true)"), std::string::npos);
  EXPECT_NE(changed.body.find(R"("max_concurrent_streams":null)"), std::string::npos);
  EXPECT_NE(changed.body.find(R"("max_db_size":1048576)"), std::string::npos);  // kept
  // Bad input: 400 and nothing changes.
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/a/config", R"({"max_db_size": "lots"})").status,
            400);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/a/config", R"({"jwt_key": "x"})").status, 400);
  EXPECT_EQ(api.Handle("GET", "/v1/namespaces/a/config", "").body, changed.body);
  // The file says the same, and goes with the database.
  EXPECT_EQ(ReadWholeFile((dir_ / "data/databases/a/limits.json").string()).value(),
            changed.body + "\n");
  EXPECT_EQ(api.Handle("GET", "/v1/namespaces/nope/config", "").status, 404);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/nope/config", "{}").status, 404);
  EXPECT_EQ(api.Handle("DELETE", "/v1/namespaces/a", "").status, 200);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/a/create", "").status, 200);
  EXPECT_NE(api.Handle("GET", "/v1/namespaces/a/config", "").body.find(R"("max_db_size":null)"),
            std::string::npos);  // a new database starts without the old one's limits
}

TEST_F(NamespaceConfigTest, BadCreateBodiesCreateNothing) {
  AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), ""});
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/b/create", R"({"max_db_size": -5})").status, 400);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/b/create", R"({"template": 3})").status, 400);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/b/create", R"({"template": "Bad/"})").status, 400);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/b/create", R"({"template": "missing"})").status,
            404);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/b/create", "[]").status, 400);
  EXPECT_FALSE(reg_->Exists("b"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data/databases/b"));
}

TEST_F(NamespaceConfigTest, CreateFromATemplateThenMigrate) {
  ASSERT_TRUE(WriteFileDurably(migrations_ + "/0001_users.sql",
                               "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);")
                  .ok());
  ASSERT_TRUE(
      WriteFileDurably(migrations_ + "/0002_seed.sql", "INSERT INTO users(name) VALUES ('root');")
          .ok());
  AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), migrations_});
  ASSERT_EQ(api.Handle("POST", "/v1/namespaces/tpl/create", "").status, 200);
  EXPECT_EQ(Rows("tpl", "SELECT name FROM users"), std::vector<std::string>{"root"});
  EXPECT_EQ(Rows("tpl", "SELECT version, name FROM _cairn_migrations ORDER BY version"),
            (std::vector<std::string>{"1|0001_users.sql", "2|0002_seed.sql"}));
  // A third file; a database made from the template gets only what the template lacks.
  ASSERT_TRUE(
      WriteFileDurably(migrations_ + "/0003_more.sql", "INSERT INTO users(name) VALUES ('admin');")
          .ok());
  auto made = api.Handle("POST", "/v1/namespaces/copy/create", R"({"template": "tpl"})");
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(Rows("copy", "SELECT name FROM users ORDER BY id"),
            (std::vector<std::string>{"root", "admin"}));
  EXPECT_EQ(Rows("copy", "SELECT count(*) FROM _cairn_migrations"), std::vector<std::string>{"3"});
  EXPECT_EQ(Rows("tpl", "SELECT count(*) FROM users"), std::vector<std::string>{"1"});
  // A migration that fails: the database is not created at all.
  ASSERT_TRUE(
      WriteFileDurably(migrations_ + "/0004_bad.sql", "INSERT INTO nowhere VALUES (1);").ok());
  auto failed = api.Handle("POST", "/v1/namespaces/broken/create", "");
  EXPECT_EQ(failed.status, 500);
  EXPECT_NE(failed.body.find("0004_bad.sql"), std::string::npos) << failed.body;
  EXPECT_FALSE(reg_->Exists("broken"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data/databases/broken"));
  EXPECT_EQ(migrate::CheckMigrationsDir((dir_ / "nothing-here").string()).code(),
            Code::kInvalidRequest);
}

TEST_F(NamespaceConfigTest, ATemplatesLimitsFollowItExceptItsBlocks) {
  AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), ""});
  ASSERT_EQ(api.Handle("POST", "/v1/namespaces/tpl/create",
                       R"({"max_db_size": "1mib", "max_concurrent_streams": 4,)"
                       R"( "statement_timeout_ms": 2000, "block_writes": true,)"
                       R"( "block_reason": "the golden copy"})")
                .status,
            200);
  // Everything but the blocks is inherited.
  ASSERT_EQ(api.Handle("POST", "/v1/namespaces/c1/create", R"({"template": "tpl"})").status, 200);
  EXPECT_EQ(api.Handle("GET", "/v1/namespaces/c1/config", "").body,
            R"({"max_db_size":1048576,"block_reads":false,"block_writes":false,)"
            R"("block_reason":null,"statement_timeout_ms":2000,"max_response_bytes":null,)"
            R"("max_concurrent_streams":4,"sync_replicas":null,"sync_timeout_ms":null,"sync_backup":false})");
  // The body's fields win: a value replaces, null unsets, a block may be asked for.
  ASSERT_EQ(api.Handle("POST", "/v1/namespaces/c2/create",
                       R"({"template": "tpl", "max_db_size": "2mib",)"
                       R"( "max_concurrent_streams": null, "block_reads": true})")
                .status,
            200);
  EXPECT_EQ(api.Handle("GET", "/v1/namespaces/c2/config", "").body,
            R"({"max_db_size":2097152,"block_reads":true,"block_writes":false,)"
            R"("block_reason":null,"statement_timeout_ms":2000,"max_response_bytes":null,)"
            R"("max_concurrent_streams":null,"sync_replicas":null,"sync_timeout_ms":null,"sync_backup":false})");
  // Kept in the new database's own limits.json.
  EXPECT_NE(ReadWholeFile((dir_ / "data/databases/c1/limits.json").string())
                .value()
                .find(R"("max_db_size":1048576)"),
            std::string::npos);
  // Without a template: no limits but the body's. The template itself is unchanged.
  ASSERT_EQ(api.Handle("POST", "/v1/namespaces/plain/create", "").status, 200);
  EXPECT_TRUE(store_->Get("plain").empty());
  EXPECT_TRUE(store_->Get("tpl").block_writes);
  // A bad field with a template creates nothing.
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/c3/create",
                       R"({"template": "tpl", "max_db_size": "lots"})")
                .status,
            400);
  EXPECT_FALSE(reg_->Exists("c3"));
}

TEST_F(NamespaceConfigTest, TheDefaultDatabaseIsMigratedWhileItIsEmpty) {
  ASSERT_TRUE(WriteFileDurably(migrations_ + "/0001_users.sql",
                               "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);")
                  .ok());
  ASSERT_TRUE(
      WriteFileDurably(migrations_ + "/0002_seed.sql", "INSERT INTO users(name) VALUES ('root');")
          .ok());
  // The registry made `default` (empty); the admin API, built as the server starts, migrates it.
  { AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), migrations_}); }
  EXPECT_EQ(Rows("default", "SELECT name FROM users"), std::vector<std::string>{"root"});
  EXPECT_EQ(Rows("default", "SELECT version, name FROM _cairn_migrations ORDER BY version"),
            (std::vector<std::string>{"1|0001_users.sql", "2|0002_seed.sql"}));
  // A later start finds it has a schema: a new file is for `cairn migrate apply`, not for it.
  ASSERT_TRUE(
      WriteFileDurably(migrations_ + "/0003_more.sql", "INSERT INTO users(name) VALUES ('admin');")
          .ok());
  { AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), migrations_}); }
  EXPECT_EQ(Rows("default", "SELECT count(*) FROM users"), std::vector<std::string>{"1"});
}

TEST_F(NamespaceConfigTest, AUsedOrFailingDefaultDatabaseIsLeftAsItIs) {
  ASSERT_TRUE(WriteFileDurably(migrations_ + "/0001_users.sql",
                               "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);")
                  .ok());
  // Without --migrations-dir nothing happens.
  { AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), ""}); }
  EXPECT_EQ(Rows("default", "SELECT count(*) FROM sqlite_schema"), std::vector<std::string>{"0"});
  // A migration that fails leaves it empty (and the server running; the error is logged).
  ASSERT_TRUE(
      WriteFileDurably(migrations_ + "/0002_bad.sql", "INSERT INTO nowhere VALUES (1);").ok());
  { AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), migrations_}); }
  EXPECT_EQ(Rows("default", "SELECT count(*) FROM sqlite_schema"), std::vector<std::string>{"0"});
  // A default someone already used is not touched.
  ASSERT_TRUE(std::filesystem::remove(migrations_ + "/0002_bad.sql"));
  Rows("default", "CREATE TABLE mine(x)");
  { AdminApi api(reg_.get(), nullptr, nullptr, {}, NamespaceOptions{store_.get(), migrations_}); }
  EXPECT_EQ(Rows("default", "SELECT name FROM sqlite_schema ORDER BY name"),
            std::vector<std::string>{"mine"});
}

// Per-database series are bounded (docs/metrics.md): the N busiest open databases by rows read +
// written, plus the ones named, whatever the number of databases.
TEST_F(NamespaceConfigTest, MetricsPublishTheBusiestDatabasesAndTheNamedOnesOnly) {
  MetricsOptions mo;
  mo.top_databases = 3;
  mo.databases = {"quiet"};
  AdminApi api(reg_.get(), nullptr, nullptr, mo, NamespaceOptions{store_.get(), ""});
  // db0 … db7, each writing i + 1 rows (db7 the busiest); "quiet" is never used.
  for (int i = 0; i < 8; ++i) {
    const std::string name = "db" + std::to_string(i);
    ASSERT_EQ(api.Handle("POST", "/v1/namespaces/" + name + "/create", "").status, 200);
    Rows(name, "CREATE TABLE t(x)");
    Rows(name, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                   std::to_string(i + 1) + ") INSERT INTO t SELECT i FROM n");
  }
  ASSERT_EQ(api.Handle("POST", "/v1/namespaces/quiet/create", "").status, 200);
  const std::string text = api.Handle("GET", "/metrics", "").body;
  std::vector<std::string> labeled;
  for (size_t at = 0;
       (at = text.find("\ncairn_database_rows_written_total{db=\"", at)) != std::string::npos;) {
    at += std::string_view("\ncairn_database_rows_written_total{db=\"").size();
    labeled.push_back(text.substr(at, text.find('"', at) - at));
  }
  std::sort(labeled.begin(), labeled.end());
  EXPECT_EQ(labeled, (std::vector<std::string>{"db5", "db6", "db7", "quiet"})) << text;
  EXPECT_NE(text.find("cairn_database_rows_written_total{db=\"db7\"} 8"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace cairn::server
