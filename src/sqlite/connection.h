// A thin RAII layer over one SQLite connection, with the set-up every Cairn connection shares.
//
// A Connection owns one sqlite3 handle opened on one database file, configured by Open(): WAL mode,
// the security authorizer (no ATTACH, no reaching other files, no writable_schema, no sqlite_dbpage
// from clients), a progress handler that interrupts statements past their deadline, and a small LRU
// cache of prepared statements keyed by SQL text.
//
// Thread-safety: a Connection is used by one thread at a time (SQLite is built with
// SQLITE_THREADSAFE=2); callers serialize access. Interrupt() alone may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cairn::sqlite {

// An owned SQL value (arguments).
struct Value {
  enum class Type : uint8_t { kNull, kInteger, kFloat, kText, kBlob };
  Type type = Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string bytes;  // text (UTF-8) or blob

  static Value Null() { return {}; }
  static Value Integer(int64_t v) { return {Type::kInteger, v, 0, {}}; }
  static Value Float(double v) { return {Type::kFloat, 0, v, {}}; }
  static Value Text(std::string s) { return {Type::kText, 0, 0, std::move(s)}; }
  static Value Blob(std::string b) { return {Type::kBlob, 0, 0, std::move(b)}; }
};

// A borrowed view of one result column value; valid until the statement steps again.
struct ValueRef {
  Value::Type type = Value::Type::kNull;
  int64_t integer = 0;
  double real = 0;
  std::string_view bytes;
};

struct OpenOptions {
  bool create = false;      // create the file if missing
  bool query_only = false;  // refuse every write (reader connections)
  int busy_timeout_ms = 5000;
  size_t statement_cache_capacity = 64;
  int64_t mmap_size = int64_t{1} << 30;  // bytes of the file read through a memory map
};

// Result of an error from SQLite as a Status (Code::kSql with the extended code, or kTimeout when
// the statement was interrupted by its deadline).
Status SqliteStatus(sqlite3* db, int rc);

// Rows the statement visited in every loop of its plan since the last call (scan status: what
// rows_read meters), and resets the counts.
uint64_t RowsVisited(sqlite3_stmt* stmt);

class Connection;

// A prepared statement. Obtained from Connection::Prepare; when it came from the cache it goes back
// there (reset, bindings cleared) on destruction.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& o) noexcept { *this = std::move(o); }
  Statement& operator=(Statement&& o) noexcept;
  ~Statement();

  sqlite3_stmt* raw() const { return stmt_; }
  explicit operator bool() const { return stmt_ != nullptr; }
  const std::string& sql() const { return *sql_; }

 private:
  friend class Connection;
  Connection* conn_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  std::shared_ptr<const std::string> sql_;
  bool cached_ = false;
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::string& path, const OpenOptions& opts);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* raw() const { return db_; }

  // Runs SQL text with any number of statements and no results; for set-up and control statements.
  Status Exec(std::string_view sql);
  // Runs one statement without results through the statement cache (BEGIN, COMMIT, ...).
  Status ExecCached(std::string_view sql);
  // Exec for Cairn's own maintenance (checkpoints, resets): not subject to the client authorizer.
  Status ExecTrusted(std::string_view sql);

  // Prepares exactly one statement. Errors: kSqlNoStatement for empty/comment-only text,
  // kSqlManyStatements when more than one statement follows, kSql for SQLite errors. Statements are
  // served from (and returned to) the cache.
  Result<Statement> Prepare(std::string_view sql);
  // Prepares the first statement of `sql` without caching; *tail receives the rest. A null
  // statement with ok status means only whitespace/comments were left.
  Result<Statement> PrepareFirst(std::string_view sql, std::string_view* tail);
  // Prepares one statement of Cairn's own (e.g. reading sqlite_dbpage), bypassing the client
  // authorizer. Never for client SQL.
  Result<Statement> PrepareTrusted(std::string_view sql);
  // While alive, everything on this connection bypasses the client authorizer (statements are
  // re-authorized when SQLite re-prepares them, e.g. after a schema change). Cairn's own work only.
  class TrustScope {
   public:
    explicit TrustScope(Connection* c) : c_(c), was_(c->trusted_) { c_->trusted_ = true; }
    ~TrustScope() { c_->trusted_ = was_; }
    TrustScope(const TrustScope&) = delete;
    TrustScope& operator=(const TrustScope&) = delete;

   private:
    Connection* c_;
    bool was_;
  };

  // Statements running on this connection are interrupted (SQLITE_INTERRUPT, reported as kTimeout)
  // once the monotonic clock passes `deadline_micros`; 0 disables the deadline.
  void SetDeadline(int64_t deadline_micros) { deadline_.store(deadline_micros); }
  // Interrupts whatever runs on this connection now (any thread).
  void Interrupt();

  bool autocommit() const;
  bool query_only() const { return query_only_; }
  // Rows this connection has written since it opened, each index entry an INSERT, UPDATE or
  // DELETE rewrote counted as one more row (write_meter.h; statements that failed included:
  // callers take the difference around one statement). Always 0 on a query_only connection.
  uint64_t rows_written() const { return rows_written_; }
  // Restores the per-connection settings a client may have changed with PRAGMA.
  Status ResetSessionState();

 private:
  friend class Statement;
  explicit Connection(sqlite3* db, const OpenOptions& opts);
  void ReturnToCache(std::shared_ptr<const std::string> sql, sqlite3_stmt* stmt);
  static int ProgressHandler(void* self);

  sqlite3* db_;
  bool query_only_;
  bool trusted_ = false;  // the authorizer lets everything through while Cairn runs its own set-up
  std::atomic<int64_t> deadline_{0};
  uint64_t rows_written_ = 0;  // fed by the write meter's pre-update hook

  // Statement cache: most recently used at the front. A statement checked out by a Statement is not
  // in the cache; an SQL text has at most one cached statement.
  struct CacheEntry {
    std::shared_ptr<const std::string> sql;
    sqlite3_stmt* stmt;
  };
  size_t cache_capacity_;
  std::list<CacheEntry> lru_;
  std::unordered_map<std::string_view, std::list<CacheEntry>::iterator> cache_;
};

// Holds a SHARED lock on a database file for as long as it lives, through a file handle of its own.
//
// In WAL mode every read transaction takes a SHARED lock on the database file and drops it at the
// end: two fcntl() calls per statement. SQLite's unix VFS counts locks per process, so while one
// handle in the process holds SHARED, the others' SHARED locks are only counter updates. A SHARED
// lock blocks nothing in WAL mode except switching journal mode (refused anyway) and deleting the
// WAL on last close; it is released before the database's final checkpoint and close.
class SharedLockAnchor {
 public:
  static Result<std::unique_ptr<SharedLockAnchor>> Acquire(const std::string& path);
  ~SharedLockAnchor();
  SharedLockAnchor(const SharedLockAnchor&) = delete;
  SharedLockAnchor& operator=(const SharedLockAnchor&) = delete;

 private:
  SharedLockAnchor() = default;
  void* file_ = nullptr;  // sqlite3_file of the default VFS
};

}  // namespace cairn::sqlite
