#include "migrate/in_process.h"

#include <vector>

#include <spdlog/spdlog.h>

#include "engine/session.h"
#include "hrana/errors.h"
#include "migrate/migration_set.h"
#include "migrate/migrator.h"
#include "shell/sql_client.h"

namespace cairn::migrate {
namespace {

// Copies a statement's rows into shell values.
class CollectRows final : public engine::RowSink {
 public:
  explicit CollectRows(shell::StmtResult* out) : out_(out) {}
  Status Columns(std::span<const engine::ColumnInfo> cols) override {
    for (const auto& c : cols)
      out_->columns.push_back({std::string(c.name), std::string(c.decltype_.value_or(""))});
    return Status::Ok();
  }
  Status Row(std::span<const engine::ValueRef> values) override {
    std::vector<shell::Value> row;
    row.reserve(values.size());
    for (const engine::ValueRef& v : values) {
      switch (v.type) {
        case engine::Value::Type::kNull:
          row.push_back(shell::Value::Null());
          break;
        case engine::Value::Type::kInteger:
          row.push_back(shell::Value::Integer(v.integer));
          break;
        case engine::Value::Type::kFloat:
          row.push_back(shell::Value::Float(v.real));
          break;
        case engine::Value::Type::kText:
          row.push_back(shell::Value::Text(std::string(v.bytes)));
          break;
        case engine::Value::Type::kBlob:
          row.push_back(shell::Value::Blob(std::string(v.bytes)));
          break;
      }
    }
    out_->rows.push_back(std::move(row));
    return Status::Ok();
  }

 private:
  shell::StmtResult* out_;
};

// The SqlClient the migrator needs, over a Session of this process; one thread at a time.
class SessionSqlClient final : public shell::SqlClient {
 public:
  explicit SessionSqlClient(std::unique_ptr<engine::Session> session)
      : session_(std::move(session)) {}
  shell::ExecOutcome Execute(std::string_view sql) override;
  bool InTransaction() const override { return !session_->autocommit(); }
  void Close() override { session_->Close(); }

 private:
  std::unique_ptr<engine::Session> session_;
};

shell::ExecOutcome SessionSqlClient::Execute(std::string_view sql) {
  shell::ExecOutcome out;
  CollectRows sink(&out.result);
  engine::StmtSpec spec{sql, {}, {}, true};
  auto stats = session_->Execute(spec, &sink, /*may_block=*/true);
  if (!stats.ok()) {
    return shell::ExecOutcome::Error(hrana::ErrorMessage(stats.status()),
                                     std::string(hrana::ErrorCode(stats.status())));
  }
  out.result.affected_row_count = stats->affected_row_count;
  out.result.last_insert_rowid = stats->last_insert_rowid;
  return out;
}

}  // namespace

Status CheckMigrationsDir(const std::string& migrations_dir) {
  auto set = LoadMigrationSet(migrations_dir);
  if (!set.ok())
    return Status(Code::kInvalidRequest, "--migrations-dir: " + set.status().message());
  spdlog::info("new databases get the {} migration{} of {}", set->migrations.size(),
               set->migrations.size() == 1 ? "" : "s", migrations_dir);
  return Status::Ok();
}

Status MigrateNewDatabase(std::string_view name, const std::string& path,
                          const std::string& migrations_dir) {
  auto set = LoadMigrationSet(migrations_dir);
  if (!set.ok()) return Status(Code::kInternal, "--migrations-dir: " + set.status().message());
  if (set->migrations.empty()) return Status::Ok();
  // A handle of its own on the new file: no log (the registry starts the database's log from the
  // migrated file), no checkpointer thread, no limits.
  CAIRN_ASSIGN_OR_RETURN(
      auto db, engine::Database::Open(std::string(name), path, engine::DatabaseOptions{}, false));
  SessionSqlClient client(std::make_unique<engine::Session>(db));
  const DatabaseOutcome outcome = MigrateDatabase(client, name, *set, Mode::kApply);
  db->Close();
  if (outcome.state == DatabaseState::kFailed)
    return Status(Code::kInternal, "migrating the new database failed (" + outcome.error_code +
                                       "): " + outcome.error);
  return Status::Ok();
}

Result<bool> MigrateIfEmpty(const std::shared_ptr<engine::Database>& db,
                            const std::string& migrations_dir) {
  auto set = LoadMigrationSet(migrations_dir);
  if (!set.ok()) return Status(Code::kInternal, "--migrations-dir: " + set.status().message());
  if (set->migrations.empty()) return false;
  SessionSqlClient client(std::make_unique<engine::Session>(db));
  const shell::ExecOutcome schema = client.Execute("SELECT count(*) FROM sqlite_schema");
  if (!schema.ok())
    return Status(Code::kInternal,
                  "reading the schema of '" + db->name() + "': " + schema.error->message);
  const auto& rows = schema.result.rows;
  if (rows.size() != 1 || rows[0].size() != 1 || rows[0][0].integer != 0) return false;
  const DatabaseOutcome outcome = MigrateDatabase(client, db->name(), *set, Mode::kApply);
  client.Close();
  if (outcome.state == DatabaseState::kFailed)
    return Status(Code::kInternal, "migrating database '" + db->name() + "' failed (" +
                                       outcome.error_code + "): " + outcome.error);
  return true;
}

}  // namespace cairn::migrate
