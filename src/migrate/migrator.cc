#include "migrate/migrator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "shell/format.h"

namespace cairn::migrate {
namespace {

using shell::ExecOutcome;
using shell::ServerError;
using shell::SqlClient;
using shell::Value;

constexpr std::string_view kHistoryCode = "MIGRATION_HISTORY";

std::string SelectAppliedSql() {
  return "SELECT version, name, checksum, applied_at FROM " + std::string(kTrackingTable) +
         " ORDER BY version";
}

// Reads the tracking table into *rows; a database without one has an empty history.
std::optional<ServerError> ReadApplied(SqlClient& client, std::vector<AppliedMigration>* rows) {
  rows->clear();
  ExecOutcome out = client.Execute(SelectAppliedSql());
  if (!out.ok()) {
    // Most likely the table does not exist yet; make sure before calling the history empty.
    ExecOutcome probe = client.Execute(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = " +
        shell::SqlLiteral(Value::Text(std::string(kTrackingTable))));
    if (probe.ok() && probe.result.rows.size() == 1 && probe.result.rows[0].size() == 1 &&
        probe.result.rows[0][0] == Value::Integer(0)) {
      return std::nullopt;
    }
    return out.error;
  }
  for (const auto& row : out.result.rows) {
    if (row.size() != 4 || row[0].type != Value::Type::kInteger ||
        row[1].type != Value::Type::kText || row[2].type != Value::Type::kText) {
      return ServerError{std::string(kTrackingTable) +
                             " holds a row that is not (INTEGER version, TEXT name, TEXT "
                             "checksum, applied_at)",
                         std::string(kHistoryCode)};
    }
    AppliedMigration a;
    a.version = row[0].integer;
    a.name = row[1].bytes;
    a.checksum = row[2].bytes;
    if (row[3].type == Value::Type::kText) a.applied_at = row[3].bytes;
    rows->push_back(std::move(a));
  }
  return std::nullopt;
}

std::string InsertTrackingRowSql(const Migration& m) {
  return "INSERT INTO " + std::string(kTrackingTable) +
         " (version, name, checksum, applied_at) VALUES (" + std::to_string(m.version) + ", " +
         shell::SqlLiteral(Value::Text(m.name)) + ", " + shell::SqlLiteral(Value::Text(m.checksum)) +
         ", strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
}

void Fail(DatabaseOutcome* o, std::string message, std::string code) {
  o->state = DatabaseState::kFailed;
  o->files.clear();
  o->target_version = o->version;
  o->error = std::move(message);
  o->error_code = std::move(code);
}

void Fail(DatabaseOutcome* o, const ServerError& e, std::string_view context) {
  Fail(o, context.empty() ? e.message : std::string(context) + ": " + e.message, e.code);
}

// Fills in what the plan says the database needs.
void TakePlan(DatabaseOutcome* o, const MigrationSet& set, const Plan& plan) {
  o->version = plan.current_version;
  o->version_name = plan.current_name;
  o->target_version = plan.pending.empty() ? plan.current_version
                                           : set.migrations[plan.pending.back()].version;
  o->files.clear();
  for (size_t i : plan.pending) o->files.push_back(set.migrations[i].name);
  o->state = plan.pending.empty() ? DatabaseState::kUpToDate : DatabaseState::kPending;
}

// Reads and plans; false (with *o failed) when the database cannot be planned.
bool ReadAndPlan(SqlClient& client, const MigrationSet& set, DatabaseOutcome* o, Plan* plan) {
  std::vector<AppliedMigration> applied;
  if (auto err = ReadApplied(client, &applied)) {
    Fail(o, *err, "reading " + std::string(kTrackingTable));
    return false;
  }
  auto p = PlanMigrations(set, applied);
  if (!p.ok()) {
    Fail(o, p.status().message(), std::string(kHistoryCode));
    return false;
  }
  *plan = std::move(*p);
  TakePlan(o, set, *plan);
  return true;
}

// Runs the pending files inside an open transaction; the error (with its context) on failure.
std::optional<ServerError> ApplyPending(SqlClient& client, const MigrationSet& set,
                                        const Plan& plan) {
  for (size_t i : plan.pending) {
    const Migration& m = set.migrations[i];
    for (size_t k = 0; k < m.statements.size(); ++k) {
      const Statement& s = m.statements[k];
      ExecOutcome out = client.Execute(s.sql);
      if (!out.ok()) {
        return ServerError{m.name + ", statement " + std::to_string(k + 1) + " (line " +
                               std::to_string(s.line) + "): " + out.error->message,
                           out.error->code};
      }
    }
    ExecOutcome out = client.Execute(InsertTrackingRowSql(m));
    if (!out.ok()) {
      return ServerError{"recording " + m.name + ": " + out.error->message, out.error->code};
    }
  }
  return std::nullopt;
}

void Migrate(SqlClient& client, const MigrationSet& set, Mode mode, DatabaseOutcome* o) {
  Plan plan;
  if (!ReadAndPlan(client, set, o, &plan)) return;
  if (plan.pending.empty() || mode != Mode::kApply) return;

  ExecOutcome begin = client.Execute("BEGIN IMMEDIATE");
  if (!begin.ok()) return Fail(o, *begin.error, "BEGIN IMMEDIATE");
  auto abandon = [&](const ServerError& e, std::string_view context) {
    client.Execute("ROLLBACK");  // may fail if SQLite already rolled back; either way, nothing stays
    Fail(o, e, context);
  };
  ExecOutcome create = client.Execute(TrackingTableSql());
  if (!create.ok()) return abandon(*create.error, "creating " + std::string(kTrackingTable));
  // Plan again under the write lock: another migrator may have applied some files meanwhile.
  if (!ReadAndPlan(client, set, o, &plan)) {
    client.Execute("ROLLBACK");
    return;
  }
  if (plan.pending.empty()) {
    client.Execute("ROLLBACK");
    return;
  }
  if (auto err = ApplyPending(client, set, plan)) return abandon(*err, "");
  ExecOutcome commit = client.Execute("COMMIT");
  if (!commit.ok()) return abandon(*commit.error, "COMMIT");
  o->state = DatabaseState::kApplied;
}

}  // namespace

std::string_view StateName(DatabaseState state) {
  switch (state) {
    case DatabaseState::kUpToDate: return "up_to_date";
    case DatabaseState::kPending: return "pending";
    case DatabaseState::kApplied: return "applied";
    case DatabaseState::kFailed: return "failed";
  }
  return "failed";
}

std::string TrackingTableSql() {
  return "CREATE TABLE IF NOT EXISTS " + std::string(kTrackingTable) +
         " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, "
         "applied_at TEXT NOT NULL)";
}

DatabaseOutcome MigrateDatabase(SqlClient& client, std::string_view database,
                                const MigrationSet& set, Mode mode) {
  const auto start = std::chrono::steady_clock::now();
  DatabaseOutcome o;
  o.database = std::string(database);
  Migrate(client, set, mode, &o);
  client.Close();
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return o;
}

std::vector<DatabaseOutcome> RunMigrations(
    const std::vector<std::string>& databases, const MigrationSet& set, const RunOptions& options,
    const ClientFactory& make_client,
    const std::function<void(const DatabaseOutcome&, size_t done)>& on_done) {
  std::vector<DatabaseOutcome> outcomes(databases.size());
  std::atomic<size_t> next{0};
  std::mutex done_mu;
  size_t done = 0;
  auto work = [&] {
    for (size_t i = next++; i < databases.size(); i = next++) {
      DatabaseOutcome o;
      auto client = make_client(databases[i]);
      if (!client.ok()) {
        o.database = databases[i];
        Fail(&o, client.status().message(), "CLIENT_ERROR");
      } else {
        o = MigrateDatabase(**client, databases[i], set, options.mode);
      }
      std::lock_guard<std::mutex> lock(done_mu);
      outcomes[i] = std::move(o);
      ++done;
      if (on_done) on_done(outcomes[i], done);
    }
  };
  const size_t threads =
      std::min(databases.size(), static_cast<size_t>(std::max(1, options.concurrency)));
  if (threads <= 1) {
    work();
    return outcomes;
  }
  std::vector<std::jthread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(work);
  pool.clear();  // joins
  return outcomes;
}

}  // namespace cairn::migrate
