// Copying a database: the file behind "create from a template" (admin API), written through
// Registry::CreateFrom like a fork.
//
// Thread-safety: CopyDatabase may run while clients use the source; it reads one snapshot.
#pragma once

#include <string>

#include "base/status.h"
#include "engine/database.h"

namespace cairn::engine {

// Writes the database as it is now (one read transaction on a reader of `source`, so concurrent
// writers neither wait nor show up half-done) to a new file at `path`, in WAL mode. The copy has
// the source's pages: schema, rows and the migration history table alike.
Status CopyDatabase(Database& source, const std::string& path);

}  // namespace cairn::engine
