#include "sqlite/connection.h"

#include <sqlite3.h>
#include <strings.h>

#include <chrono>
#include <cstring>

#include "sqlite/statement_kind.h"
#include "sqlite/write_meter.h"

namespace cairn::sqlite {
namespace {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool EqualsNoCase(const char* a, const char* b) { return a && b && strcasecmp(a, b) == 0; }

// PRAGMAs a client may read but never set: they change durability, locking, checkpointing, the
// file layout, or would lift the read-only guard of reader connections.
constexpr const char* kPragmasNotSettable[] = {
    "journal_mode",    "locking_mode",         "synchronous",
    "mmap_size",       "wal_autocheckpoint",   "journal_size_limit",
    "query_only",      "trusted_schema",       "page_size",
    "busy_timeout",    "temp_store_directory", "data_store_directory",
    "cell_size_check", "max_page_count",       "schema_version",
    "cache_spill",     "hard_heap_limit",      "soft_heap_limit",
    "threads"};
// PRAGMAs a client may not run at all.
constexpr const char* kPragmasForbidden[] = {"writable_schema", "wal_checkpoint"};

// The security authorizer shared by every connection. Its user-data is the Connection's
// "trusted" flag, set only while Cairn itself runs set-up statements.
int Authorize(void* trusted_flag, int action, const char* a1, const char* a2, const char* db,
              const char* /*trigger*/) {
  if (*static_cast<bool*>(trusted_flag)) return SQLITE_OK;
  switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      return SQLITE_DENY;
    case SQLITE_PRAGMA:
      for (const char* p : kPragmasForbidden)
        if (EqualsNoCase(a1, p)) return SQLITE_DENY;
      if (a2 != nullptr)
        for (const char* p : kPragmasNotSettable)
          if (EqualsNoCase(a1, p)) return SQLITE_DENY;
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      if (EqualsNoCase(a2, "load_extension")) return SQLITE_DENY;
      return SQLITE_OK;
    case SQLITE_READ:
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      // Page-level access to the file is Cairn's (replication), never a client's.
      if (EqualsNoCase(a1, "sqlite_dbpage") || EqualsNoCase(a2, "sqlite_dbpage"))
        return SQLITE_DENY;
      return SQLITE_OK;
    default:
      return SQLITE_OK;
  }
  (void)db;
}

// A failure to prepare: syntax errors and references to unknown objects are the client's input
// errors (SQL_PARSE_ERROR / SQL_INPUT_ERROR, as sqld reports them); anything else is a SQLite
// error.
Status PrepareStatus(sqlite3* db, int rc) {
  if ((rc & 0xff) != SQLITE_ERROR) return SqliteStatus(db, rc);
  std::string msg = sqlite3_errmsg(db);
  const int offset = sqlite3_error_offset(db);
  if (msg.find("syntax error") != std::string::npos ||
      msg.find("unrecognized token") != std::string::npos ||
      msg.find("incomplete input") != std::string::npos)
    return Status(Code::kSqlParse, msg, rc);
  if (offset >= 0) msg += " (at offset " + std::to_string(offset) + ")";
  return Status(Code::kSqlInput, msg, rc);
}

}  // namespace

Status SqliteStatus(sqlite3* db, int rc) {
  if ((rc & 0xff) == SQLITE_INTERRUPT)
    return Status(Code::kTimeout, "statement interrupted: it ran past its time limit", rc);
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int code = db ? sqlite3_extended_errcode(db) : rc;
  if ((code & 0xff) != (rc & 0xff)) code = rc;
  return Status(Code::kSql, msg ? msg : "unknown SQLite error", code);
}

// ---------------------------------------------------------------------------------------------
// Statement

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    this->~Statement();
    conn_ = o.conn_;
    stmt_ = o.stmt_;
    sql_ = std::move(o.sql_);
    cached_ = o.cached_;
    o.stmt_ = nullptr;
    o.conn_ = nullptr;
  }
  return *this;
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  if (cached_ && conn_ != nullptr) {
    conn_->ReturnToCache(std::move(sql_), stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
  stmt_ = nullptr;
}

// ---------------------------------------------------------------------------------------------
// Connection

Connection::Connection(sqlite3* db, const OpenOptions& opts)
    : db_(db), query_only_(opts.query_only), cache_capacity_(opts.statement_cache_capacity) {}

Connection::~Connection() {
  for (auto& e : lru_) sqlite3_finalize(e.stmt);
  lru_.clear();
  cache_.clear();
  sqlite3_close_v2(db_);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path,
                                                     const OpenOptions& opts) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE |
              SQLITE_OPEN_EXRESCODE;
  if (opts.create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteStatus(db, rc);
    sqlite3_close_v2(db);
    if ((rc & 0xff) == SQLITE_CANTOPEN) return Status(Code::kNotFound, "cannot open " + path);
    return st;
  }
  std::unique_ptr<Connection> conn(new Connection(db, opts));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, opts.busy_timeout_ms);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  // Cairn alone decides when WAL frames reach the database file (after the log has them).
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_STMT_SCANSTATUS, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
  sqlite3_progress_handler(db, 1000, &Connection::ProgressHandler, conn.get());
  // Writes are metered (rows_written); readers never write, so they do not carry the hook.
  if (!opts.query_only) cairn_meter_row_writes(db, &conn->rows_written_);

  // Reads go through a memory map: no pread() per page, and one copy of hot pages shared by every
  // connection through the OS page cache.
  std::string setup = "PRAGMA mmap_size=" + std::to_string(opts.mmap_size) + ";";
  if (opts.query_only) {
    setup += "PRAGMA query_only=1;";
  } else if (opts.create) {
    // A new file switches to WAL through a rollback journal: unsynced (the caller syncs the file
    // once), then the normal durability for everything after.
    setup += "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
  } else {
    setup += "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
  }
  CAIRN_RETURN_IF_ERROR(conn->Exec(setup));
  // Installed last so that set-up above is not subject to it.
  sqlite3_set_authorizer(db, &Authorize, &conn->trusted_);
  return conn;
}

int Connection::ProgressHandler(void* self) {
  auto* c = static_cast<Connection*>(self);
  int64_t deadline = c->deadline_.load(std::memory_order_relaxed);
  return deadline != 0 && NowMicros() > deadline ? 1 : 0;
}

void Connection::Interrupt() { sqlite3_interrupt(db_); }

bool Connection::autocommit() const { return sqlite3_get_autocommit(db_) != 0; }

Status Connection::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    Status st = (rc & 0xff) == SQLITE_INTERRUPT
                    ? SqliteStatus(db_, rc)
                    : Status(Code::kSql, err ? err : sqlite3_errstr(rc), rc);
    sqlite3_free(err);
    return st;
  }
  return Status::Ok();
}

Status Connection::ExecCached(std::string_view sql) {
  CAIRN_ASSIGN_OR_RETURN(Statement s, Prepare(sql));
  int rc;
  while ((rc = sqlite3_step(s.raw())) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return SqliteStatus(db_, rc);
  return Status::Ok();
}

Status Connection::ExecTrusted(std::string_view sql) {
  TrustScope trust(this);
  return Exec(sql);
}

Result<Statement> Connection::PrepareTrusted(std::string_view sql) {
  TrustScope trust(this);
  std::string_view tail;
  return PrepareFirst(sql, &tail);
}

Status Connection::ResetSessionState() {
  return ExecTrusted(
      "PRAGMA foreign_keys=OFF; PRAGMA recursive_triggers=OFF; PRAGMA defer_foreign_keys=OFF;"
      "PRAGMA case_sensitive_like=OFF; PRAGMA ignore_check_constraints=OFF;"
      "PRAGMA legacy_alter_table=OFF; PRAGMA reverse_unordered_selects=OFF;");
}

Result<Statement> Connection::PrepareFirst(std::string_view sql, std::string_view* tail) {
  sqlite3_stmt* stmt = nullptr;
  const char* end = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &stmt, &end);
  if (rc != SQLITE_OK) return PrepareStatus(db_, rc);
  *tail = sql.substr(static_cast<size_t>(end - sql.data()));
  Statement s;
  s.conn_ = this;
  s.stmt_ = stmt;
  s.sql_ = std::make_shared<const std::string>(sql.substr(0, sql.size() - tail->size()));
  return s;
}

Result<Statement> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) {
    Statement s;
    s.conn_ = this;
    s.stmt_ = it->second->stmt;
    s.sql_ = std::move(it->second->sql);
    s.cached_ = true;
    lru_.erase(it->second);
    cache_.erase(it);
    return s;
  }
  sqlite3_stmt* stmt = nullptr;
  const char* end = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &end);
  if (rc != SQLITE_OK) return PrepareStatus(db_, rc);
  if (stmt == nullptr)
    return Status(Code::kSqlNoStatement, "SQL string does not contain any statement");
  // A lone trailing ';' (or several) is not another statement.
  if (!HoldsNoStatement(sql.substr(static_cast<size_t>(end - sql.data())))) {
    sqlite3_finalize(stmt);
    return Status(Code::kSqlManyStatements, "SQL string contains more than one statement");
  }
  Statement s;
  s.conn_ = this;
  s.stmt_ = stmt;
  s.sql_ = std::make_shared<const std::string>(sql);
  s.cached_ = cache_capacity_ > 0;
  return s;
}

void Connection::ReturnToCache(std::shared_ptr<const std::string> sql, sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (cache_.count(*sql) != 0) {  // another copy was prepared meanwhile
    sqlite3_finalize(stmt);
    return;
  }
  lru_.push_front(CacheEntry{std::move(sql), stmt});
  cache_.emplace(*lru_.front().sql, lru_.begin());
  while (lru_.size() > cache_capacity_) {
    auto& victim = lru_.back();
    cache_.erase(*victim.sql);
    sqlite3_finalize(victim.stmt);
    lru_.pop_back();
  }
}

Result<std::unique_ptr<SharedLockAnchor>> SharedLockAnchor::Acquire(const std::string& path) {
  sqlite3_vfs* vfs = sqlite3_vfs_find(nullptr);
  std::unique_ptr<SharedLockAnchor> a(new SharedLockAnchor());
  auto* file = static_cast<sqlite3_file*>(sqlite3_malloc(vfs->szOsFile));
  if (file == nullptr) return Status(Code::kInternal, "out of memory");
  std::memset(file, 0, static_cast<size_t>(vfs->szOsFile));
  int out_flags = 0;
  int rc =
      vfs->xOpen(vfs, path.c_str(), file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MAIN_DB, &out_flags);
  if (rc != SQLITE_OK) {
    if (file->pMethods) file->pMethods->xClose(file);
    sqlite3_free(file);
    return Status(Code::kIOError, "cannot open " + path + " for its lock anchor", rc);
  }
  a->file_ = file;
  rc = file->pMethods->xLock(file, SQLITE_LOCK_SHARED);
  if (rc != SQLITE_OK) return Status(Code::kIOError, "cannot take a shared lock on " + path, rc);
  return a;
}

SharedLockAnchor::~SharedLockAnchor() {
  auto* file = static_cast<sqlite3_file*>(file_);
  if (file == nullptr) return;
  if (file->pMethods) {
    file->pMethods->xUnlock(file, SQLITE_LOCK_NONE);
    file->pMethods->xClose(file);
  }
  sqlite3_free(file);
}

uint64_t RowsVisited(sqlite3_stmt* stmt) {
  uint64_t total = 0;
  for (int i = 0;; ++i) {
    sqlite3_int64 n = 0;
    if (sqlite3_stmt_scanstatus_v2(stmt, i, SQLITE_SCANSTAT_NVISIT, 0, &n) != 0) break;
    if (n > 0) total += static_cast<uint64_t>(n);
  }
  sqlite3_stmt_scanstatus_reset(stmt);
  return total;
}

}  // namespace cairn::sqlite
