// The backup subcommands of `cairn`, working offline against a backup store (objectstore::Open):
//
//   cairn restore NAME --from URL (-o PATH | --data-dir DIR) [--to-time T | --to-tx N]
//                 [--generation G] [--json] [--overwrite]
//   cairn restore --all --from URL --data-dir DIR [--to-time T] [--json] [--overwrite]
//   cairn verify NAME --from URL --db PATH [--json]
//
// Exit codes: 0 success; 1 failure (or, for verify, a database that differs from its backup);
// 2 bad arguments. With --json, stdout holds exactly one JSON object, also on failure
// ({"error": ...}). A progress bar is drawn on stderr only when stderr is a terminal.
#pragma once

#include <CLI/CLI.hpp>

namespace cairn::cli {

// Adds `restore` and `verify` to `app`. Their callbacks run the command when it is parsed and
// end a failed one by throwing CLI::RuntimeError(exit code), which CLI11_PARSE returns from main.
void AddBackupCommands(CLI::App& app);

}  // namespace cairn::cli
