// MigrationSet: the ordered SQL migration files of one directory, and the plan that says which of
// them a database still needs given the rows of its tracking table. Pure logic, no network.
//
// A migration file is named `<version>_<description>.sql`: version is one or more decimal digits
// (>= 1, leading zeros allowed), description is letters, digits, '_', '-' and '.'. Files are
// ordered by version; two files with the same version are an error, and so is any `*.sql` file or
// any file starting with a digit whose name does not fit the pattern. Other files (README.md,
// hidden files) and subdirectories are ignored.
//
// A file's checksum is the SHA-256 of its exact bytes, in lower-case hex. A file is split into
// statements the way `cairn shell` splits its input; statements that begin or end a transaction
// (BEGIN, COMMIT, END, ROLLBACK without TO) are refused, because each database is migrated inside
// one transaction of the migrator's own.
//
// Thread-safety: values; a MigrationSet is immutable once loaded and may be shared by threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cairn::migrate {

// The table each database keeps its history in (docs/migrations.md). Frozen: renaming it would
// make every migrated database look new.
inline constexpr std::string_view kTrackingTable = "_cairn_migrations";

struct Statement {
  std::string sql;  // without the terminating semicolon
  int line = 1;     // where it starts in its file, 1-based
};

struct Migration {
  int64_t version = 0;
  std::string name;      // the file name, e.g. "0001_create_users.sql"
  std::string checksum;  // SHA-256 of the file's bytes, lower-case hex
  std::vector<Statement> statements;
};

struct MigrationSet {
  std::string directory;
  std::vector<Migration> migrations;  // ascending version, no duplicates

  int64_t latest_version() const {
    return migrations.empty() ? 0 : migrations.back().version;
  }
};

// Lower-case hex SHA-256 of `bytes`.
std::string Checksum(std::string_view bytes);

// Parses a file name: true and *version set when `name` is a migration file name.
bool ParseMigrationName(std::string_view name, int64_t* version);

// Splits a file's SQL into statements with their line numbers. kInvalidRequest for a statement
// that controls the transaction, naming it and its line.
Result<std::vector<Statement>> SplitMigration(std::string_view file_name, std::string_view sql);

// Builds the set from (file name, contents) pairs in any order. Names that are not migration
// files are ignored or rejected as the header says; every error is kInvalidRequest and lists all
// offending names at once.
Result<MigrationSet> BuildMigrationSet(std::string directory,
                                       std::vector<std::pair<std::string, std::string>> files);

// Reads `directory` (not recursively) and builds the set. kNotFound when it does not exist.
Result<MigrationSet> LoadMigrationSet(const std::string& directory);

// One row of a database's tracking table.
struct AppliedMigration {
  int64_t version = 0;
  std::string name;
  std::string checksum;
  std::string applied_at;
};

// What a database needs.
struct Plan {
  int64_t current_version = 0;  // newest applied version, 0 when none
  std::string current_name;     // its file name, empty when none
  std::vector<size_t> pending;  // indices into MigrationSet::migrations, ascending
};

// Compares a database's history (`applied`, any order) with the set. The database's history must
// be a prefix of the set: every applied version has a file with the same name and checksum, and
// no file older than the newest applied version is missing from the history. Otherwise
// kInvalidRequest, explaining the first contradiction (a changed checksum, a file removed or
// renamed, a file added below the applied version); nothing may then be applied to the database.
Result<Plan> PlanMigrations(const MigrationSet& set, const std::vector<AppliedMigration>& applied);

}  // namespace cairn::migrate
