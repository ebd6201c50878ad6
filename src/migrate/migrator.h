// Migrator: brings databases up to a MigrationSet through the server's SQL API (a shell::SqlClient
// per database, one Hrana stream each), never touching database files.
//
// One database, in order:
//   1. read its tracking table (a missing table means nothing applied) and plan (PlanMigrations);
//      a history that contradicts the files fails the database here, before any write;
//   2. nothing pending: up to date, done (one read, no write lock);
//      a dry run or a status check stops here too, reporting the pending files;
//   3. BEGIN IMMEDIATE; create the tracking table if missing; read and plan again inside the
//      transaction (another migrator may have been faster); run every statement of every pending
//      file, each file followed by its tracking row; COMMIT. Any error: ROLLBACK, so the database
//      is exactly as before, and the error names the file, statement and line.
//
// Many databases: RunMigrations hands the names to `concurrency` worker threads; each database
// gets its own client (and stream), so one database's failure never affects another's.
//
// Thread-safety: MigrateDatabase uses its client from the calling thread only. RunMigrations calls
// the factory from its workers concurrently (it must be thread-safe) and `on_done` under a lock,
// one call at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "migrate/migration_set.h"
#include "shell/sql_client.h"

namespace cairn::migrate {

enum class Mode {
  kApply,   // apply pending files
  kDryRun,  // report pending files, change nothing
  kStatus,  // the same reads as kDryRun; differs only in how callers report it
};

enum class DatabaseState {
  kUpToDate,  // nothing pending
  kPending,   // files pending (dry run or status)
  kApplied,   // pending files applied and committed
  kFailed,    // nothing changed; `error` says why
};

std::string_view StateName(DatabaseState state);  // "up_to_date", "pending", "applied", "failed"

struct DatabaseOutcome {
  std::string database;
  DatabaseState state = DatabaseState::kFailed;
  int64_t version = 0;         // applied version before this run (0: none)
  std::string version_name;    // its file name
  int64_t target_version = 0;  // version after applying `files` (== version when none)
  std::vector<std::string> files;  // applied (kApplied) or pending (kPending) file names, in order
  std::string error;               // kFailed: the message
  // kFailed: the server's code for SQL and transport errors ("SQLITE_CONSTRAINT",
  // "CONNECTION_ERROR", ...), or "MIGRATION_HISTORY" when the history contradicts the files.
  std::string error_code;
  double seconds = 0;
};

// The SQL that creates the tracking table (docs/migrations.md).
std::string TrackingTableSql();

// Migrates one database over `client` (which must be fresh: outside any transaction) and closes
// the client's stream. `database` only labels the outcome.
DatabaseOutcome MigrateDatabase(shell::SqlClient& client, std::string_view database,
                                const MigrationSet& set, Mode mode);

using ClientFactory =
    std::function<Result<std::unique_ptr<shell::SqlClient>>(const std::string& database)>;

struct RunOptions {
  Mode mode = Mode::kApply;
  int concurrency = 4;  // worker threads, at least 1
};

// Migrates every database in `databases` and returns the outcomes in the same order. `on_done`
// (optional) sees each outcome as it completes, with the number completed so far.
std::vector<DatabaseOutcome> RunMigrations(
    const std::vector<std::string>& databases, const MigrationSet& set, const RunOptions& options,
    const ClientFactory& make_client,
    const std::function<void(const DatabaseOutcome&, size_t done)>& on_done = {});

}  // namespace cairn::migrate
