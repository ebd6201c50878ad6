// Migrate on create (serve --migrations-dir) is migrate's: migrate/in_process.h. The server calls
// it by these names.
//
// Thread-safety: that of migrate/in_process.h.
#pragma once

#include "migrate/in_process.h"

namespace cairn::server {

using migrate::CheckMigrationsDir;
using migrate::MigrateIfEmpty;
using migrate::MigrateNewDatabase;

}  // namespace cairn::server
