// `cairn serve --config FILE`: serve's flags from a TOML file.
//
// The file holds `flag-name = value` lines, one per flag, named as on the command line without the
// leading -- (an underscore may stand for a dash), optionally under a `[serve]` table; repeatable
// flags take arrays, switches true/false. Precedence: the command line, then CAIRN_* environment
// variables, then the file, then the built-in defaults. An unknown name, a bad value or a file that
// cannot be read is an error naming it.
#pragma once

#include <string>

#include "base/status.h"

namespace CLI {
class App;
}

namespace cairn::cli {

// Sets every option of `app` (already parsed) that neither the command line nor the environment
// set, from the TOML file at `path`.
Status ApplyConfigFile(CLI::App* app, const std::string& path);

}  // namespace cairn::cli
