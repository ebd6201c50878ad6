// Migrate on create: a database created through the admin API while the server runs with
// --migrations-dir gets every migration of that directory before anyone can use it, applied by
// src/migrate's own MigrateDatabase (same ordering, same checks, same `_cairn_migrations` rows), so
// a later `cairn migrate apply` sees them as applied.
//
// Here the migrator talks to the new database through an engine::Session in this process instead
// of over HTTP: SessionSqlClient is the shell::SqlClient seam for that, reporting errors with the
// same codes and wording Hrana clients see (hrana/errors.h).
//
// Thread-safety: a SessionSqlClient is used by one thread at a time; MigrateNewDatabase may run
// on any thread (it owns everything it opens).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/session.h"
#include "shell/sql_client.h"

namespace cairn::server {

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

// Applies every pending migration of `migrations_dir` to the database file at `path` (a database
// being created: not yet registered, so nothing else uses it), in one transaction. The file is
// checkpointed and closed afterwards. Fails (and the creation with it) when the directory cannot
// be loaded or a migration fails, naming the file and statement.
Status MigrateNewDatabase(std::string_view name, const std::string& path,
                          const std::string& migrations_dir);

// Applies every migration of `migrations_dir` to `db`, a registered database, if it has no schema
// yet (sqlite_schema is empty): the `default` database the registry created at the first start,
// or one such a start left empty. Through a Session on the registered handle, so the writes are in
// its transaction log (backups, replicas) like any client's. Returns whether it migrated; a
// failing migration fails (naming the file and statement) and leaves the database empty.
Result<bool> MigrateIfEmpty(const std::shared_ptr<engine::Database>& db,
                            const std::string& migrations_dir);

// Loads the directory once, so a server with a bad --migrations-dir refuses to start.
Status CheckMigrationsDir(const std::string& migrations_dir);

}  // namespace cairn::server
