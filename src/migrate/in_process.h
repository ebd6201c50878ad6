// Migrations applied inside the server process (serve --migrations-dir): a database created
// through the admin API gets every migration of that directory before anyone can use it, and the
// `default` database gets them while it is still empty. They are applied by MigrateDatabase
// (migrator.h: same ordering, same checks, same `_cairn_migrations` rows), so a later
// `cairn migrate apply` sees them as applied.
//
// Here the migrator talks to the database through an engine::Session in this process instead of
// over HTTP, and reports errors with the codes and wording Hrana clients see (hrana/errors.h).
//
// Thread-safety: each function may run on any thread; it owns the sessions it opens.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/database.h"

namespace cairn::migrate {

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

}  // namespace cairn::migrate
