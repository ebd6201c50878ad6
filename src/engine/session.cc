#include "engine/session.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include <cstring>
#include <string>
#include <vector>

#include "vector/vector.h"

namespace cairn::engine {

Status SqliteStatusOf(sqlite3_stmt* stmt, int rc);

namespace {

using sqlite::Keyword;
using sqlite::StatementKind;
using sqlite::Transaction;
using sqlite::VectorDdl;

// The length of the statement `sql` starts with when it is libSQL's vector-index DDL, which
// SQLite cannot prepare as written (a script's statements are cut off and run one by one); else
// 0. The text is classified here, before SQLite splits the script.
size_t VectorDdlLength(sqlite::Connection* conn, std::string_view sql) {
  if (sqlite::ClassifyStatement(sql).vector_ddl == VectorDdl::kNone) return 0;
  return vector::VectorDdlLength(conn->raw(), sql);
}

Status BindValue(sqlite3_stmt* stmt, int idx, const Value& v) {
  int rc = SQLITE_OK;
  switch (v.type) {
    case Value::Type::kNull:
      rc = sqlite3_bind_null(stmt, idx);
      break;
    case Value::Type::kInteger:
      rc = sqlite3_bind_int64(stmt, idx, v.integer);
      break;
    case Value::Type::kFloat:
      rc = sqlite3_bind_double(stmt, idx, v.real);
      break;
    case Value::Type::kText:
      rc = sqlite3_bind_text64(stmt, idx, v.bytes.data(), v.bytes.size(), SQLITE_STATIC,
                               SQLITE_UTF8);
      break;
    case Value::Type::kBlob:
      // A zero-length blob stays a blob (sqlite3_bind_blob with a null pointer would bind NULL).
      rc = v.bytes.empty()
               ? sqlite3_bind_zeroblob(stmt, idx, 0)
               : sqlite3_bind_blob64(stmt, idx, v.bytes.data(), v.bytes.size(), SQLITE_STATIC);
      break;
  }
  if (rc != SQLITE_OK) return SqliteStatusOf(stmt, rc);
  return Status::Ok();
}

// The statement timeout: the database's own limit, else the server's.
std::chrono::milliseconds TimeoutOf(const Database& db) {
  const DatabaseOptions& o = db.options();
  return o.limits ? o.limits->statement_timeout(o.statement_timeout) : o.statement_timeout;
}

Status ArgsMismatch(const std::string& what) {
  return Status(Code::kArgsInvalid, "Arguments do not match SQL parameters: " + what);
}

// Binds a Stmt's arguments as sqld does: positional arguments must match the parameter count
// exactly; with named arguments every parameter of the statement needs a value, found under its
// name with or without the prefix (":a", "@a", "$a" or "a").
Status Bind(sqlite3_stmt* stmt, const StmtSpec& spec) {
  if (!spec.args.empty() && !spec.named_args.empty())
    return Status(Code::kArgsBothPositionalAndNamed,
                  "Specifying both positional and named arguments is not supported");
  const int count = sqlite3_bind_parameter_count(stmt);
  if (spec.named_args.empty()) {
    if (spec.args.size() > static_cast<size_t>(count))
      return ArgsMismatch("too many parameters, expected " + std::to_string(count) + " found " +
                          std::to_string(spec.args.size()));
    if (spec.args.size() < static_cast<size_t>(count))
      return ArgsMismatch("value for parameter " + std::to_string(spec.args.size() + 1) +
                          " not found");
    for (size_t i = 0; i < spec.args.size(); ++i)
      CAIRN_RETURN_IF_ERROR(BindValue(stmt, static_cast<int>(i + 1), spec.args[i]));
    return Status::Ok();
  }
  for (int i = 1; i <= count; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    if (name == nullptr)
      return ArgsMismatch("value for parameter " + std::to_string(i) + " not found");
    std::string_view full(name), bare = full.substr(1);  // parameters start with ':', '@', '$', '?'
    const Value* found = nullptr;
    for (const auto& [arg_name, value] : spec.named_args) {
      if (arg_name == full || arg_name == bare) {
        found = &value;
        break;
      }
    }
    if (found == nullptr)
      return ArgsMismatch("value for parameter " + std::string(full) + " not found");
    CAIRN_RETURN_IF_ERROR(BindValue(stmt, i, *found));
  }
  return Status::Ok();
}

}  // namespace

Status SqliteStatusOf(sqlite3_stmt* stmt, int rc) {
  return sqlite::SqliteStatus(sqlite3_db_handle(stmt), rc);
}

Result<ExecStats> RunStatement(sqlite::Connection* conn, const StmtSpec& spec, RowSink* sink,
                               std::chrono::milliseconds timeout, Clock* clock) {
  const int64_t start = clock->MonotonicMicros();
  // libSQL's vector-index DDL runs as the statement SQLite can host (src/vector).
  const VectorDdl ddl = spec.kind.vector_ddl;
  const std::optional<std::string> vector_ddl =
      ddl == VectorDdl::kCreateIndex || ddl == VectorDdl::kDropIndex
          ? vector::RewriteIndexDdl(conn->raw(), spec.sql)
          : std::nullopt;
  // Dropping a table drops its vector indexes too, first, in one savepoint with the table.
  const std::vector<std::string> index_drops =
      ddl == VectorDdl::kDropTable ? vector::IndexDropsForDropTable(conn->raw(), spec.sql)
                                   : std::vector<std::string>();
  if (index_drops.empty()) {
    CAIRN_ASSIGN_OR_RETURN(sqlite::Statement prepared,
                           conn->Prepare(vector_ddl ? std::string_view(*vector_ddl) : spec.sql));
    return RunPrepared(conn, prepared, spec, sink, timeout, clock, start);
  }
  conn->SetDeadline(start + std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());
  CAIRN_RETURN_IF_ERROR(conn->Exec("SAVEPOINT cairn_drop_vector_indexes"));
  Result<ExecStats> result = [&]() -> Result<ExecStats> {
    for (const std::string& drop : index_drops) CAIRN_RETURN_IF_ERROR(conn->Exec(drop));
    CAIRN_ASSIGN_OR_RETURN(sqlite::Statement prepared, conn->Prepare(spec.sql));
    return RunPrepared(conn, prepared, spec, sink, timeout, clock, start);
  }();
  if (!result.ok()) (void)conn->Exec("ROLLBACK TO cairn_drop_vector_indexes");
  (void)conn->Exec("RELEASE cairn_drop_vector_indexes");
  return result;
}

Result<ExecStats> RunPrepared(sqlite::Connection* conn, sqlite::Statement& prepared,
                              const StmtSpec& spec, RowSink* sink,
                              std::chrono::milliseconds timeout, Clock* clock, int64_t start) {
  sqlite3_stmt* stmt = prepared.raw();
  CAIRN_RETURN_IF_ERROR(Bind(stmt, spec));
  sqlite3* db = conn->raw();

  const int ncols = sqlite3_column_count(stmt);
  if (sink != nullptr) {
    ColumnInfo stack_cols[16];
    std::vector<ColumnInfo> heap_cols;
    ColumnInfo* cols = stack_cols;
    if (ncols > 16) {
      heap_cols.resize(static_cast<size_t>(ncols));
      cols = heap_cols.data();
    }
    for (int i = 0; i < ncols; ++i) {
      const char* name = sqlite3_column_name(stmt, i);
      const char* decl = sqlite3_column_decltype(stmt, i);
      cols[i].name = name ? std::string_view(name) : std::string_view();
      cols[i].decltype_ = decl ? std::optional<std::string_view>(decl) : std::nullopt;
    }
    CAIRN_RETURN_IF_ERROR(sink->Columns({cols, static_cast<size_t>(ncols)}));
  }

  const bool readonly = sqlite3_stmt_readonly(stmt) != 0;
  const int64_t changes_before = sqlite3_total_changes64(db);
  const uint64_t written_before = conn->rows_written();
  conn->SetDeadline(start + std::chrono::duration_cast<std::chrono::microseconds>(timeout).count());

  ValueRef stack_vals[16];
  std::vector<ValueRef> heap_vals;
  ValueRef* vals = stack_vals;
  if (ncols > 16) {
    heap_vals.resize(static_cast<size_t>(ncols));
    vals = heap_vals.data();
  }
  uint64_t rows = 0;
  Status failure;
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      failure = SqliteStatusOf(stmt, rc);
      break;
    }
    ++rows;
    if (sink == nullptr || !spec.want_rows) continue;
    for (int i = 0; i < ncols; ++i) {
      ValueRef& v = vals[i];
      switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER:
          v.type = Value::Type::kInteger;
          v.integer = sqlite3_column_int64(stmt, i);
          break;
        case SQLITE_FLOAT:
          v.type = Value::Type::kFloat;
          v.real = sqlite3_column_double(stmt, i);
          break;
        case SQLITE_TEXT: {
          v.type = Value::Type::kText;
          const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
          v.bytes =
              std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
          break;
        }
        case SQLITE_BLOB: {
          v.type = Value::Type::kBlob;
          const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
          v.bytes =
              std::string_view(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, i)));
          break;
        }
        default:
          v.type = Value::Type::kNull;
      }
    }
    failure = sink->Row({vals, static_cast<size_t>(ncols)});
    if (!failure.ok()) break;
  }
  conn->SetDeadline(0);
  ExecStats stats;
  stats.rows_read = sqlite::RowsVisited(stmt);
  if (stats.rows_read == 0) stats.rows_read = rows;
  if (!failure.ok()) {
    sqlite3_reset(stmt);
    return failure;
  }
  // Rows written as D1 and Turso bill them: each row of a table plus each index entry the write
  // rewrote (sqlite/write_meter.h). Reads never move the counter.
  stats.rows_written = conn->rows_written() - written_before;
  const int64_t changed = sqlite3_total_changes64(db) - changes_before;
  if (!readonly && changed > 0) {
    stats.affected_row_count = sqlite3_changes64(db);
    const Keyword kw = spec.kind.keyword;
    if (kw == Keyword::kInsert || kw == Keyword::kReplace || kw == Keyword::kWith)
      stats.last_insert_rowid = sqlite3_last_insert_rowid(db);
  }
  stats.query_duration_ms = static_cast<double>(clock->MonotonicMicros() - start) / 1000.0;
  return stats;
}

Session::Session(std::shared_ptr<Database> db) : db_(std::move(db)), id_(Database::NewOwnerId()) {}

Session::~Session() { Close(); }

void Session::Close() {
  txn_reader_.Release();
  if (db_->HoldsWriter(id_)) {
    if (dirty_pragmas_) {
      (void)db_->WithWriter(id_, [](sqlite::Connection* c) { return c->ResetSessionState(); });
      dirty_pragmas_ = false;
    }
    db_->ReleaseWriter(id_);
  }
  mode_ = Mode::kAutocommit;
}

void Session::AfterWriterStatement(bool autocommit_now) {
  if (!autocommit_now) {
    mode_ = Mode::kWriteTxn;
    db_->KeepForTransaction(id_);
    return;
  }
  mode_ = Mode::kAutocommit;
  Close();
}

// Writes never run where blocking is not allowed: besides waiting for the write lock, a write may
// run long (a big UPDATE, a CREATE INDEX), and the network thread it would hold serves reads of
// other clients.
Status Session::WritesMayBlock() {
  return Status(Code::kWouldBlock, "writes run where blocking is allowed");
}

Status Session::TimedOut() { return Status(Code::kTransactionTimeout, "Transaction timed out"); }

Result<ExecStats> Session::AfterTimeout(const StatementKind& kind) {
  // The client still believes its transaction is open. Nothing it sends may run in autocommit
  // mode (that would commit half a transaction) until it ends the transaction itself.
  if (kind.transaction == Transaction::kRollback) {
    timed_out_ = false;
    return ExecStats{};
  }
  if (kind.transaction == Transaction::kCommit) timed_out_ = false;
  return TimedOut();
}

Result<ExecStats> Session::RunOnWriter(const StmtSpec& stmt, RowSink* sink, bool may_block) {
  if (!may_block) return WritesMayBlock();
  CAIRN_RETURN_IF_ERROR(db_->AcquireWriter(id_, may_block));
  Result<ExecStats> result = Status(Code::kInternal, "not run");
  const uint64_t before = db_->replication_index();
  CAIRN_RETURN_IF_ERROR(OnWriter([&](sqlite::Connection* conn) {
    result = RunStatement(conn, stmt, sink, TimeoutOf(*db_), db_->options().clock);
  }));
  // Synchronous replication: a commit (this statement's, or this COMMIT's) is acknowledged once
  // enough replicas have it. The write lock is free again while waiting.
  if (result.ok() && mode_ == Mode::kAutocommit) CAIRN_RETURN_IF_ERROR(WaitReplicated(before));
  return result;
}

Status Session::WaitReplicated(uint64_t before) {
  const LiveLimits* limits = db_->options().limits.get();
  ReplicaAcks* acks = db_->options().replica_acks.get();
  if (limits == nullptr || acks == nullptr || db_->txlog() == nullptr) return Status::Ok();
  const uint64_t n = limits->sync_replicas();
  const bool store = limits->sync_backup();
  const uint64_t txid = db_->replication_index();
  if ((n == 0 && !store) || txid <= before) return Status::Ok();
  if (acks->WaitFor(ReplicaAcks::Key(db_->name(), db_->txlog()->generation()), txid,
                    static_cast<int>(n), limits->sync_timeout(), store))
    return Status::Ok();
  const std::string wanted = n > 0 && store ? fmt::format("{} replica(s) and the backup", n)
                             : store        ? std::string("the backup")
                                            : fmt::format("{} replica(s)", n);
  return Status(Code::kUnavailable,
                fmt::format("the transaction committed on the primary (txid {}), but {} did not "
                            "confirm it within {} ms (sync_replicas, sync_backup)",
                            txid, wanted, limits->sync_timeout().count()));
}

Status Session::OnWriter(const std::function<void(sqlite::Connection*)>& fn) {
  bool autocommit_now = true;
  Status st = db_->WithWriter(id_, [&](sqlite::Connection* conn) {
    fn(conn);
    autocommit_now = conn->autocommit();
    return Status::Ok();
  });
  if (!st.ok()) {
    mode_ = Mode::kAutocommit;
    if (st.code() != Code::kTransactionTimeout) return st;
    // The write lock was taken from this session: its transaction is gone.
    timed_out_ = true;
    return TimedOut();
  }
  AfterWriterStatement(autocommit_now);
  return Status::Ok();
}

Status Session::BeginReadTransaction(std::string_view begin_sql) {
  CAIRN_ASSIGN_OR_RETURN(txn_reader_, db_->AcquireReader());
  Status st = txn_reader_.EndRead();
  if (st.ok()) st = txn_reader_.conn()->ExecCached(begin_sql);
  if (!st.ok()) {
    txn_reader_.Release();
    return st;
  }
  mode_ = Mode::kReadTxn;
  return Status::Ok();
}

Status Session::WriteDenied() const {
  // Not the client's token: the database's limits (block_writes) made this session read-only.
  if (!read_only_ && db_->options().limits)
    return db_->options().limits->Blocked(db_->name(), "writes");
  return Status(Code::kPermissionDenied, "the token only allows reading database '" + db_->name() +
                                             "'; this statement writes");
}

Result<ExecStats> Session::ExecuteReadOnly(const StmtSpec& stmt, RowSink* sink, bool may_block) {
  const StatementKind& kind = stmt.kind;
  auto allowed = [&](sqlite3_stmt* s) {
    return sqlite3_stmt_readonly(s) != 0 && !kind.pragma_assignment;
  };
  const auto timeout = TimeoutOf(*db_);
  Clock* clock = db_->options().clock;
  const int64_t start = clock->MonotonicMicros();

  if (mode_ == Mode::kReadTxn) {
    sqlite::Connection* conn = txn_reader_.conn();
    CAIRN_ASSIGN_OR_RETURN(sqlite::Statement s, conn->Prepare(stmt.sql));
    if (!allowed(s.raw())) return WriteDenied();
    auto r = RunPrepared(conn, s, stmt, sink, timeout, clock, start);
    if (conn->autocommit()) {
      txn_reader_.Release();
      mode_ = Mode::kAutocommit;
    }
    return r;
  }
  if (mode_ == Mode::kWriteTxn) {
    // A transaction an earlier read-write request opened: this request may only read in it.
    if (!db_->HoldsWriter(id_)) {
      mode_ = Mode::kAutocommit;
      timed_out_ = true;
      return TimedOut();
    }
    if (!may_block) return WritesMayBlock();
    Result<ExecStats> result = Status(Code::kInternal, "not run");
    CAIRN_RETURN_IF_ERROR(OnWriter([&](sqlite::Connection* conn) {
      auto s = conn->Prepare(stmt.sql);
      if (!s.ok()) {
        result = s.status();
      } else if (!allowed(s->raw())) {
        result = WriteDenied();
      } else {
        result = RunPrepared(conn, *s, stmt, sink, timeout, clock, start);
      }
    }));
    return result;
  }

  // Autocommit. Transactions are read transactions on a pinned reader, whatever BEGIN asked for.
  if (kind.transaction == Transaction::kBeginReadonly) {
    CAIRN_RETURN_IF_ERROR(BeginReadTransaction("BEGIN DEFERRED"));
    return ExecStats{};
  }
  if (kind.opens_write_transaction()) {
    {
      CAIRN_ASSIGN_OR_RETURN(ReaderLease probe, db_->AcquireReader());
      CAIRN_RETURN_IF_ERROR(probe.conn()->Prepare(stmt.sql).status());  // its syntax errors
    }
    CAIRN_RETURN_IF_ERROR(BeginReadTransaction(
        kind.transaction == Transaction::kBegin ? std::string_view("BEGIN DEFERRED") : stmt.sql));
    return ExecStats{};
  }
  if (kind.writes || kind.pragma_assignment) return WriteDenied();
  CAIRN_ASSIGN_OR_RETURN(ReaderLease reader, db_->AcquireReader());
  // No transaction is open: SQLite itself reports that, on a reader that keeps none either.
  CAIRN_RETURN_IF_ERROR(kind.ends_transaction() ? reader.EndRead() : reader.BeginFreshRead());
  CAIRN_ASSIGN_OR_RETURN(sqlite::Statement s, reader.conn()->Prepare(stmt.sql));
  if (!allowed(s.raw())) return WriteDenied();
  return RunPrepared(reader.conn(), s, stmt, sink, timeout, clock, start);
}

Status Session::ExecuteScriptReadOnly(std::string_view sql, bool may_block) {
  // Every statement is checked before any runs (as sqld checks a whole program). A read-only
  // session cannot change the schema, so preparing them all up front sees what running would.
  std::vector<std::pair<std::string, StatementKind>> stmts;
  {
    ReaderLease lease;
    sqlite::Connection* conn = mode_ == Mode::kReadTxn ? txn_reader_.conn() : nullptr;
    if (conn == nullptr) {
      CAIRN_ASSIGN_OR_RETURN(lease, db_->AcquireReader());
      CAIRN_RETURN_IF_ERROR(lease.BeginFreshRead());
      conn = lease.conn();
    }
    std::string_view rest = sql;
    while (!rest.empty()) {
      // libSQL's vector-index DDL (which SQLite cannot prepare as written) always writes.
      if (VectorDdlLength(conn, rest) > 0) return WriteDenied();
      std::string_view tail;
      CAIRN_ASSIGN_OR_RETURN(sqlite::Statement s, conn->PrepareFirst(rest, &tail));
      rest = tail;
      if (!s) continue;
      const StatementKind kind = sqlite::ClassifyStatement(s.sql());
      if (kind.transaction == Transaction::kNone &&
          (!sqlite3_stmt_readonly(s.raw()) || kind.pragma_assignment))
        return WriteDenied();
      stmts.push_back({s.sql(), kind});
    }
  }
  for (const auto& [text, kind] : stmts) {
    StmtSpec spec{text, {}, {}, false, kind};
    CAIRN_ASSIGN_OR_RETURN(ExecStats stats, ExecuteReadOnly(spec, nullptr, may_block));
    db_->CountStatement(stats.rows_read, stats.rows_written);  // metered as `execute` is
  }
  return Status::Ok();
}

Result<ExecStats> Session::Execute(const StmtSpec& stmt, RowSink* sink, bool may_block) {
  // Every statement that finishes is counted in its database's usage (metering), once: a write
  // first tried where it may not block returns kWouldBlock and is counted when it runs.
  Result<ExecStats> result = [&]() -> Result<ExecStats> {
    const StatementKind& kind = stmt.kind;
    if (timed_out_) return AfterTimeout(kind);
    if (const LiveLimits* limits = db_->options().limits.get()) {
      // block_reads refuses everything but ending a transaction; block_writes makes the session
      // read-only (its writes fail with BLOCKED).
      if (limits->reads_blocked() && !kind.ends_transaction())
        return limits->Blocked(db_->name(), "reads and writes");
      if (limits->writes_blocked()) return ExecuteReadOnly(stmt, sink, may_block);
    }
    if (read_only_) return ExecuteReadOnly(stmt, sink, may_block);
    if (mode_ == Mode::kReadTxn) {
      auto r = RunStatement(txn_reader_.conn(), stmt, sink, TimeoutOf(*db_), db_->options().clock);
      if (txn_reader_.conn()->autocommit()) {
        txn_reader_.Release();
        mode_ = Mode::kAutocommit;
      }
      return r;
    }
    if (mode_ == Mode::kWriteTxn) {
      if (!db_->HoldsWriter(id_)) {
        mode_ = Mode::kAutocommit;
        timed_out_ = true;
        return TimedOut();
      }
      return RunOnWriter(stmt, sink, may_block);
    }

    // Autocommit: pick the connection.
    if (kind.transaction == Transaction::kBeginReadonly) {
      CAIRN_RETURN_IF_ERROR(BeginReadTransaction("BEGIN DEFERRED"));
      return ExecStats{};
    }
    // Statements that certainly need the writer skip the trial prepare on a reader. Transaction
    // control outside a transaction goes to the writer too: pooled readers keep read
    // transactions of their own, which a client's COMMIT must never end.
    if (kind.writes || kind.transaction != Transaction::kNone)
      return RunOnWriter(stmt, sink, may_block);
    // A PRAGMA assignment may change connection state: it runs on the writer (never prepared on a
    // reader, where it would take effect at once), whose settings are restored when the session
    // lets the writer go.
    if (kind.pragma_assignment) {
      dirty_pragmas_ = true;
      return RunOnWriter(stmt, sink, may_block);
    }
    {
      const int64_t start = db_->options().clock->MonotonicMicros();
      CAIRN_ASSIGN_OR_RETURN(ReaderLease reader, db_->AcquireReader());
      CAIRN_RETURN_IF_ERROR(reader.BeginFreshRead());
      CAIRN_ASSIGN_OR_RETURN(sqlite::Statement probe, reader.conn()->Prepare(stmt.sql));
      if (sqlite3_stmt_readonly(probe.raw()))
        return RunPrepared(reader.conn(), probe, stmt, sink, TimeoutOf(*db_), db_->options().clock,
                           start);
    }
    return RunOnWriter(stmt, sink, may_block);
  }();
  if (result.ok()) {
    db_->CountStatement(result->rows_read, result->rows_written);
    result->replication_index = db_->replication_index();
  }
  return result;
}

Status Session::ExecuteScript(std::string_view sql, bool may_block) {
  if (timed_out_) return TimedOut();
  if (const LiveLimits* limits = db_->options().limits.get()) {
    if (limits->reads_blocked()) return limits->Blocked(db_->name(), "reads and writes");
    if (limits->writes_blocked()) return ExecuteScriptReadOnly(sql, may_block);
  }
  if (read_only_) return ExecuteScriptReadOnly(sql, may_block);
  if (mode_ == Mode::kWriteTxn && !db_->HoldsWriter(id_)) {
    mode_ = Mode::kAutocommit;
    timed_out_ = true;
    return TimedOut();
  }
  if (mode_ != Mode::kReadTxn) {
    if (!may_block) return WritesMayBlock();
    CAIRN_RETURN_IF_ERROR(db_->AcquireWriter(id_, may_block));
  }
  auto run = [&](sqlite::Connection* conn) -> Status {
    std::string_view rest = sql;
    for (;;) {
      // libSQL's vector-index DDL cannot be prepared as written: it runs as in Execute.
      if (const size_t n = VectorDdlLength(conn, rest); n > 0) {
        const StmtSpec spec{rest.substr(0, n), {}, {}, false};
        rest = rest.substr(n);
        CAIRN_ASSIGN_OR_RETURN(ExecStats stats, RunStatement(conn, spec, nullptr, TimeoutOf(*db_),
                                                             db_->options().clock));
        db_->CountStatement(stats.rows_read, stats.rows_written);  // metered like the others
        continue;
      }
      std::string_view tail;
      CAIRN_ASSIGN_OR_RETURN(sqlite::Statement s, conn->PrepareFirst(rest, &tail));
      rest = tail;
      if (!s) {
        if (rest.empty()) return Status::Ok();
        continue;
      }
      StmtSpec spec{s.sql(), {}, {}, false};
      if (spec.kind.transaction == Transaction::kBeginReadonly)
        return Status(Code::kBlocked, "BEGIN TRANSACTION READONLY is not allowed in a sequence");
      CAIRN_ASSIGN_OR_RETURN(ExecStats stats, RunPrepared(conn, s, spec, nullptr, TimeoutOf(*db_),
                                                          db_->options().clock,
                                                          db_->options().clock->MonotonicMicros()));
      // Each statement of a sequence is metered as an `execute` of it is (docs/metrics.md).
      db_->CountStatement(stats.rows_read, stats.rows_written);
    }
  };
  if (mode_ == Mode::kReadTxn) {
    Status st = run(txn_reader_.conn());
    if (txn_reader_.conn()->autocommit()) {
      txn_reader_.Release();
      mode_ = Mode::kAutocommit;
    }
    return st;
  }
  Status result;
  CAIRN_RETURN_IF_ERROR(OnWriter([&](sqlite::Connection* conn) { result = run(conn); }));
  return result;
}

Result<DescribeResult> Session::Describe(std::string_view sql) {
  if (const LiveLimits* limits = db_->options().limits.get(); limits && limits->reads_blocked())
    return limits->Blocked(db_->name(), "reads and writes");
  CAIRN_ASSIGN_OR_RETURN(ReaderLease reader, db_->AcquireReader());
  CAIRN_RETURN_IF_ERROR(reader.BeginFreshRead());  // the current schema
  CAIRN_ASSIGN_OR_RETURN(sqlite::Statement s, reader.conn()->Prepare(sql));
  sqlite3_stmt* stmt = s.raw();
  DescribeResult d;
  const int np = sqlite3_bind_parameter_count(stmt);
  for (int i = 1; i <= np; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    d.params.push_back({name ? std::optional<std::string>(name) : std::nullopt});
  }
  const int nc = sqlite3_column_count(stmt);
  for (int i = 0; i < nc; ++i) {
    const char* decl = sqlite3_column_decltype(stmt, i);
    d.cols.push_back(
        {sqlite3_column_name(stmt, i), decl ? std::optional<std::string>(decl) : std::nullopt});
  }
  d.is_explain = sqlite3_stmt_isexplain(stmt) != 0;
  d.is_readonly = sqlite3_stmt_readonly(stmt) != 0;
  return d;
}

}  // namespace cairn::engine
