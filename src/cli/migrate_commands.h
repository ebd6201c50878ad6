// The migration subcommands of `cairn`, working through a running server (docs/migrations.md):
//
//   cairn migrate apply DIR (--all | --db NAME...) [--url URL] [--admin-url URL]
//                 [--auth-token T] [--admin-auth-key K] [--dry-run] [--json] [--concurrency N]
//   cairn migrate status DIR (--all | --db NAME...) [--url URL] [--admin-url URL]
//                 [--auth-token T] [--admin-auth-key K] [--json] [--concurrency N]
//
// --all lists the databases with the admin API (GET /v1/namespaces); the SQL goes through the
// Hrana API, one stream and one transaction per database (src/migrate/migrator.h).
//
// Exit codes: 0 when no database failed; 1 when one did (or the database list could not be had);
// 2 bad arguments or a bad migration directory. With --json, stdout holds exactly one JSON object,
// also on failure ({"error": ...}). A progress bar is drawn on stderr only when it is a terminal.
#pragma once

#include <CLI/CLI.hpp>

namespace cairn::cli {

// Adds `migrate` (with `apply` and `status`) to `app`. A failed command ends by throwing
// CLI::RuntimeError(exit code), which CLI11_PARSE returns from main.
void AddMigrateCommands(CLI::App& app);

}  // namespace cairn::cli
