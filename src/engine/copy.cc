#include "engine/copy.h"

#include <sqlite3.h>

namespace cairn::engine {

Status CopyDatabase(Database& source, const std::string& path) {
  CAIRN_ASSIGN_OR_RETURN(ReaderLease reader, source.AcquireReader());
  CAIRN_RETURN_IF_ERROR(reader.BeginFreshRead());  // the snapshot the copy is made from
  sqlite3* dest = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &dest,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_EXRESCODE,
                           nullptr);
  auto fail = [&](const std::string& what) {
    Status st(Code::kIOError, "copying database '" + source.name() + "': " + what + ": " +
                                  (dest ? sqlite3_errmsg(dest) : sqlite3_errstr(rc)),
              rc);
    sqlite3_close_v2(dest);
    return st;
  };
  if (rc != SQLITE_OK) return fail("cannot create the copy");
  sqlite3_backup* backup = sqlite3_backup_init(dest, "main", reader.conn()->raw(), "main");
  if (backup == nullptr) return fail("cannot start");
  rc = sqlite3_backup_step(backup, -1);  // every page, in the reader's snapshot
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return fail("cannot copy the pages");
  rc = sqlite3_exec(dest, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail("cannot switch the copy to WAL");
  rc = sqlite3_close_v2(dest);
  dest = nullptr;
  if (rc != SQLITE_OK)
    return Status(Code::kIOError,
                  "copying database '" + source.name() + "': " + sqlite3_errstr(rc));
  return Status::Ok();
}

}  // namespace cairn::engine
