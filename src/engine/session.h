// Session: what one client connection (a Hrana stream) has open on one database.
//
// Outside a transaction every statement runs in autocommit mode on the connection that fits it:
// statements SQLite reports read-only run on a pooled reader; everything else (writes, DDL, BEGIN,
// SAVEPOINT, PRAGMA assignments) takes the database's write lock for the statement. A statement
// that opens a transaction pins the connection it ran on to the session until the transaction ends:
// BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE] pins the writer, libSQL's BEGIN TRANSACTION READONLY pins a
// query_only reader (so every write inside it fails).
//
// Execute() may be called with may_block=false (on a network thread): reads run there, but a
// statement that needs the writer returns kWouldBlock before doing anything, and the caller retries
// the same call where blocking is fine (waiting for the write lock, or a long write, must never
// hold up the reads a network thread serves).
//
// A transaction that loses the write lock (txn_timeout) leaves the session refusing every statement
// with kTransactionTimeout until the client ends it: ROLLBACK succeeds, COMMIT fails.
//
// A read-only session (set_read_only: the client's token may only read this database) never uses
// the writer: BEGIN and SAVEPOINT open a read transaction on a query-only reader, and a statement
// that would write (SQLite says it is not read-only, or it assigns a PRAGMA) fails with
// kPermissionDenied before it runs; a `sequence` is checked as a whole before any of it runs.
//
// Thread-safety: a Session is used by one thread at a time.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "engine/database.h"
#include "engine/result.h"

namespace cairn::engine {

class Session {
 public:
  explicit Session(std::shared_ptr<Database> db);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Database& database() const { return *db_; }

  // Runs one statement; rows go to `sink` (when want_rows) as they are produced.
  Result<ExecStats> Execute(const StmtSpec& stmt, RowSink* sink, bool may_block);
  // Runs SQL text holding any number of statements, discarding rows (Hrana `sequence`).
  Status ExecuteScript(std::string_view sql, bool may_block);
  // Describes one statement without running it.
  Result<DescribeResult> Describe(std::string_view sql);

  // True when no transaction is open on this session.
  bool autocommit() const { return mode_ == Mode::kAutocommit; }
  // The session's transaction holds the database's write lock: its statements never wait for
  // another session.
  bool holds_write_lock() const { return mode_ == Mode::kWriteTxn; }
  // Whether the next statements may only read (see the file comment). May change between
  // requests of one stream: each request carries its own credentials.
  void set_read_only(bool read_only) { read_only_ = read_only; }
  // Rolls back any open transaction and releases every connection.
  void Close();

 private:
  enum class Mode { kAutocommit, kWriteTxn, kReadTxn };
  Result<ExecStats> RunOnWriter(const StmtSpec& stmt, RowSink* sink, bool may_block);
  // Runs fn on the writer (the lock already held), then keeps or releases the lock; fails with
  // kTransactionTimeout when the lock was taken away.
  Status OnWriter(const std::function<void(sqlite::Connection*)>& fn);
  // Called after a statement ran on the writer: keeps or releases the write lock.
  void AfterWriterStatement(bool autocommit_now);

  std::shared_ptr<Database> db_;
  const Database::OwnerId id_;
  Mode mode_ = Mode::kAutocommit;
  ReaderLease txn_reader_;      // pinned reader while in kReadTxn
  bool dirty_pragmas_ = false;  // a PRAGMA assignment ran on the writer under this session
  // The open transaction was taken away (txn_timeout). Until the client sends ROLLBACK (ok) or
  // COMMIT (fails), or closes the stream, every statement fails with kTransactionTimeout.
  bool timed_out_ = false;
  Status TimedOut();
  static Status WritesMayBlock();
  Result<ExecStats> AfterTimeout(const sqlite::StatementKind& kind);

  bool read_only_ = false;
  Result<ExecStats> ExecuteReadOnly(const StmtSpec& stmt, RowSink* sink, bool may_block);
  Status ExecuteScriptReadOnly(std::string_view sql, bool may_block);
  // Pins a query-only reader in a read transaction opened by `begin_sql` (kReadTxn).
  Status BeginReadTransaction(std::string_view begin_sql);
  Status WriteDenied() const;
  // Synchronous replication: waits for the replicas the database's limits ask for, when the
  // database's log moved past `before`.
  Status WaitReplicated(uint64_t before);
};

// Prepares (through the statement cache) and runs one statement on `conn`: binding, stepping under
// a deadline of `timeout`, statistics.
Result<ExecStats> RunStatement(sqlite::Connection* conn, const StmtSpec& stmt, RowSink* sink,
                               std::chrono::milliseconds timeout, Clock* clock);
// Runs an already prepared statement; `start` is when the work began (for query_duration_ms).
Result<ExecStats> RunPrepared(sqlite::Connection* conn, sqlite::Statement& prepared,
                              const StmtSpec& stmt, RowSink* sink,
                              std::chrono::milliseconds timeout, Clock* clock, int64_t start);

}  // namespace cairn::engine
