#include "engine/database.h"

#include <spdlog/spdlog.h>

#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <unordered_set>

#include <fmt/format.h>

#include "base/file.h"
#include "engine/checkpointer.h"
#include "vector/vector.h"

namespace cairn::engine {

ReaderLease& ReaderLease::operator=(ReaderLease&& o) noexcept {
  if (this != &o) {
    Release();
    db_ = o.db_;
    reader_ = std::move(o.reader_);
    o.db_ = nullptr;
  }
  return *this;
}

void ReaderLease::Release() {
  if (reader_.conn && db_) db_->ReturnReader(std::move(reader_));
  reader_.conn.reset();
  db_ = nullptr;
}

Status ReaderLease::BeginFreshRead() {
  sqlite::Connection* c = reader_.conn.get();
  const uint64_t seq = db_->commit_seq();
  if (!c->autocommit()) {
    if (reader_.snapshot_seq == seq) return Status::Ok();
    CAIRN_RETURN_IF_ERROR(c->ExecCached("COMMIT"));
  }
  // Recorded before BEGIN: the snapshot taken by the first read is at least this new.
  reader_.snapshot_seq = seq;
  return c->ExecCached("BEGIN DEFERRED");
}

Status ReaderLease::EndRead() {
  if (reader_.conn->autocommit()) return Status::Ok();
  return reader_.conn->ExecCached("COMMIT");
}

namespace {

// Every live Database of the process, for metrics (Database::ForEachLive).
std::mutex& LiveMu() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::unordered_set<Database*>& Live() {
  static auto* live = new std::unordered_set<Database*>();
  return *live;
}

}  // namespace

Database::Database(std::string name, std::string path, const DatabaseOptions& opts)
    : name_(std::move(name)), path_(std::move(path)), opts_(opts) {
  std::lock_guard lk(LiveMu());
  Live().insert(this);
}

Database::~Database() {
  {
    std::lock_guard lk(LiveMu());
    Live().erase(this);
  }
  Close();
}

void Database::ForEachLive(const std::function<void(const std::shared_ptr<Database>&)>& fn) {
  std::vector<std::shared_ptr<Database>> live;
  {
    std::lock_guard lk(LiveMu());
    for (Database* db : Live()) {
      // Null when the last reference is gone and the destructor waits for LiveMu.
      std::shared_ptr<Database> self = db->weak_from_this().lock();
      if (self) live.push_back(std::move(self));
    }
  }
  // Outside the lock: the last reference to a database may be one of these, and its destructor
  // takes LiveMu.
  for (const auto& db : live) fn(db);
}

Database::Usage Database::usage() const {
  Usage u;
  u.rows_read = usage_.rows_read.load(std::memory_order_relaxed);
  u.rows_written = usage_.rows_written.load(std::memory_order_relaxed);
  u.statements = usage_.statements.load(std::memory_order_relaxed);
  return u;
}

std::string Database::UsagePath() const {
  const size_t slash = path_.rfind('/');
  return (slash == std::string::npos ? std::string(".") : path_.substr(0, slash)) + "/usage";
}

void Database::LoadUsage() {
  auto text = ReadWholeFile(UsagePath());
  if (!text.ok()) return;  // none yet
  unsigned long long r = 0, w = 0, s = 0;
  if (std::sscanf(text->c_str(), "%llu %llu %llu", &r, &w, &s) != 3) {
    spdlog::warn("db {}: {} is not usage counters; counting from zero", name_, UsagePath());
    return;
  }
  usage_.rows_read = r;
  usage_.rows_written = w;
  usage_.statements = s;
  usage_saved_statements_ = s;
}

void Database::SaveUsage() {
  std::lock_guard lk(usage_save_mu_);
  const Usage u = usage();
  if (u.statements == usage_saved_statements_) return;
  Status st = WriteFileAtomic(UsagePath(),
                              fmt::format("{} {} {}\n", u.rows_read, u.rows_written, u.statements));
  if (!st.ok()) {
    spdlog::warn("db {}: cannot save its usage counters: {}", name_, st.message());
    return;
  }
  usage_saved_statements_ = u.statements;
}

uint64_t Database::storage_bytes() const {
  uint64_t total = 0;
  for (const std::string& p : {path_, path_ + "-wal"}) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(p, ec);
    if (!ec) total += static_cast<uint64_t>(n);
  }
  return total;
}

Database::OwnerId Database::NewOwnerId() {
  static std::atomic<OwnerId> next{1};
  return next.fetch_add(1);
}

sqlite::OpenOptions Database::ReaderOpenOptions() const {
  sqlite::OpenOptions o;
  o.query_only = true;
  o.statement_cache_capacity = opts_.statement_cache;
  return o;
}

Result<std::shared_ptr<Database>> Database::Open(std::string name, std::string path,
                                                 const DatabaseOptions& opts, bool create) {
  vector::RegisterAutoExtension();  // every connection opened from here on has vector search
  std::shared_ptr<Database> db(new Database(std::move(name), std::move(path), opts));
  db->LoadUsage();
  sqlite::OpenOptions wo;
  wo.create = create;
  wo.statement_cache_capacity = opts.statement_cache;
  CAIRN_ASSIGN_OR_RETURN(db->writer_, sqlite::Connection::Open(db->path_, wo));
  CAIRN_ASSIGN_OR_RETURN(db->anchor_, sqlite::SharedLockAnchor::Acquire(db->path_));
  // Before any client write: the log continues from exactly the state on disk (or starts anew).
  if (!opts.txlog_dir.empty()) {
    CAIRN_ASSIGN_OR_RETURN(db->txlog_, txlog::TxLog::Open(db->path_, opts.txlog_dir, opts.txlog));
    // A replica's own log counts its own txids; its replication index is the primary's, which
    // the follower sets.
    if (!opts.replica) db->repl_index_.store(db->txlog_->last_txid());
  }
  // Our hook replaces SQLite's automatic checkpoint (which would run inside a client's commit).
  if (opts.checkpointer != nullptr || db->txlog_)
    sqlite3_wal_hook(db->writer_->raw(), &Database::WalHook, db.get());
  return db;
}

Result<ReaderLease> Database::AcquireReader() {
  std::unique_lock lk(readers_mu_);
  for (;;) {
    if (closed_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
    if (!free_readers_.empty()) {
      ReaderLease lease;
      lease.db_ = this;
      lease.reader_ = std::move(free_readers_.back());
      free_readers_.pop_back();
      return lease;
    }
    if (open_readers_ < opts_.max_readers) {
      ++open_readers_;
      lk.unlock();
      auto conn = sqlite::Connection::Open(path_, ReaderOpenOptions());
      if (!conn.ok()) {
        lk.lock();
        --open_readers_;
        readers_cv_.notify_one();
        return conn.TakeStatus();
      }
      ReaderLease lease;
      lease.db_ = this;
      lease.reader_.conn = std::move(conn).value();
      return lease;
    }
    readers_cv_.wait(lk);
  }
}

void Database::ReturnReader(Reader reader) {
  // A pooled reader keeps its snapshot only while it is current.
  if (!reader.conn->autocommit() && reader.snapshot_seq != commit_seq())
    (void)reader.conn->ExecCached("ROLLBACK");
  if (closed_) return;  // dropped: the connection closes here
  std::lock_guard lk(readers_mu_);
  free_readers_.push_back(std::move(reader));
  readers_cv_.notify_one();
}

void Database::DropStaleSnapshots() {
  std::lock_guard lk(readers_mu_);
  const uint64_t seq = commit_seq();
  for (Reader& r : free_readers_)
    if (!r.conn->autocommit() && r.snapshot_seq != seq) (void)r.conn->ExecCached("ROLLBACK");
}

Status Database::AcquireWriter(OwnerId owner, bool may_block) {
  if (opts_.replica)
    return Status(Code::kSql,
                  "database " + name_ + " is a read replica here: writes go to the primary",
                  SQLITE_READONLY);
  if (opts_.write_fence) {
    const int64_t fence = opts_.write_fence->load(std::memory_order_acquire);
    if (fence != 0 && opts_.clock->MonotonicMicros() >= fence)
      return Status(
          Code::kUnavailable,
          "this node may no longer be the primary (its lease could not be renewed); retry");
  }
  std::unique_lock lk(state_mu_);
  if (closed_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
  if (owner_ == owner) return Status::Ok();
  if (owner_ == 0) {
    owner_ = owner;
    owner_txn_deadline_ = 0;
    return Status::Ok();
  }
  if (!may_block) return Status(Code::kWouldBlock, "write lock busy");
  const int64_t wait_deadline =
      opts_.clock->MonotonicMicros() +
      std::chrono::duration_cast<std::chrono::microseconds>(opts_.write_lock_wait).count();
  for (;;) {
    if (closed_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
    if (owner_ == 0) break;
    int64_t now = opts_.clock->MonotonicMicros();
    if (owner_txn_deadline_ != 0 && now >= owner_txn_deadline_) {
      // The holder kept a transaction open too long: take the lock. Its transaction is rolled back
      // below, once no statement of its runs on the writer.
      spdlog::warn("db {}: transaction of owner {} exceeded {} ms; rolling it back", name_, owner_,
                   opts_.txn_timeout.count());
      break;
    }
    if (now >= wait_deadline)
      return Status(Code::kTransactionBusy,
                    "the database is locked by another transaction; try again later");
    int64_t until = wait_deadline;
    if (owner_txn_deadline_ != 0 && owner_txn_deadline_ < until) until = owner_txn_deadline_;
    writer_cv_.wait_for(lk, std::chrono::microseconds(until - now + 100));
  }
  const bool stolen = owner_ != 0;
  owner_ = owner;
  owner_txn_deadline_ = 0;
  lk.unlock();
  if (stolen) {
    std::lock_guard ex(exec_mu_);
    if (writer_ && !writer_->autocommit()) (void)writer_->Exec("ROLLBACK");
    if (writer_) (void)writer_->ResetSessionState();
  }
  return Status::Ok();
}

Status Database::WithWriter(OwnerId owner, const std::function<Status(sqlite::Connection*)>& fn) {
  std::lock_guard ex(exec_mu_);
  {
    std::lock_guard lk(state_mu_);
    if (closed_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
    if (owner_ != owner)
      return Status(Code::kTransactionTimeout,
                    "the transaction was rolled back because it held the write lock for too long");
  }
  if (opts_.limits && opts_.limits->version() != limits_version_) {
    const uint64_t version = opts_.limits->version();  // a change meanwhile is applied next time
    CAIRN_RETURN_IF_ERROR(ApplySizeLimit(writer_.get(), opts_.limits->Get().max_db_size));
    limits_version_ = version;
  }
  Status st = fn(writer_.get());
  // Whatever the statement did is now committed (or nothing changed): readers must look again.
  if (writer_->autocommit()) commit_seq_.fetch_add(1, std::memory_order_acq_rel);
  return st;
}

Status Database::WithReplicaWriter(const std::function<Status(sqlite::Connection*)>& fn) {
  if (!opts_.replica)
    return Status(Code::kInvalidRequest, "database " + name_ + " is not a replica");
  std::lock_guard ex(exec_mu_);
  if (closed_ || !writer_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
  Status st = fn(writer_.get());
  if (writer_->autocommit()) commit_seq_.fetch_add(1, std::memory_order_acq_rel);
  return st;
}

void Database::KeepForTransaction(OwnerId owner) {
  std::lock_guard lk(state_mu_);
  if (owner_ == owner && owner_txn_deadline_ == 0)
    owner_txn_deadline_ =
        opts_.clock->MonotonicMicros() +
        std::chrono::duration_cast<std::chrono::microseconds>(opts_.txn_timeout).count();
}

void Database::ReleaseWriter(OwnerId owner) {
  {
    std::lock_guard ex(exec_mu_);
    std::lock_guard lk(state_mu_);
    if (owner_ != owner) return;
    if (writer_ && !writer_->autocommit()) (void)writer_->Exec("ROLLBACK");
    owner_ = 0;
    owner_txn_deadline_ = 0;
  }
  writer_cv_.notify_one();
}

bool Database::HoldsWriter(OwnerId owner) const {
  std::lock_guard lk(state_mu_);
  return owner_ == owner;
}

Status Database::Checkpoint() {
  std::lock_guard ex(exec_mu_);
  if (!writer_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
  // Under exec_mu_ nothing commits: once the log is durable, every frame may be checkpointed.
  if (txlog_) CAIRN_RETURN_IF_ERROR(txlog_->Flush());
  return writer_->ExecTrusted("PRAGMA wal_checkpoint(TRUNCATE)");
}

Status Database::FlushLog() {
  flush_pending_ = false;
  if (!txlog_ || closed_) return Status::Ok();
  Status st = txlog_->Flush();
  if (txlog_->needs_reseed()) {
    std::lock_guard ex(exec_mu_);  // a new generation from the database as it is
    if (writer_) return txlog_->Reseed();
  }
  return st;
}

Status Database::RestartLog() {
  std::lock_guard ex(exec_mu_);  // nothing commits while the snapshot is taken
  if (!txlog_ || !writer_)
    return Status(Code::kUnavailable, "database " + name_ + " has no open log");
  return txlog_->Reseed();
}

int Database::WalHook(void* self, sqlite3* /*db*/, const char* /*name*/, int frames) {
  auto* d = static_cast<Database*>(self);
  if (d->txlog_) {
    d->txlog_->OnCommit(frames);
    d->repl_index_.store(d->txlog_->last_txid(), std::memory_order_release);
    if (d->opts_.checkpointer != nullptr && !d->flush_pending_.exchange(true))
      d->opts_.checkpointer->RequestFlush(d->weak_from_this());
  }
  if (d->opts_.on_commit) d->opts_.on_commit();
  if (d->opts_.checkpointer != nullptr && frames >= d->opts_.checkpoint_frames &&
      !d->ckpt_pending_.exchange(true))
    d->opts_.checkpointer->Request(d->weak_from_this());
  return SQLITE_OK;
}

Status Database::CheckpointPassive() {
  ckpt_pending_ = false;
  DropStaleSnapshots();  // idle readers must not hold the checkpoint back
  std::lock_guard lk(ckpt_mu_);
  if (closed_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
  if (!ckpt_conn_) {
    sqlite::OpenOptions o;
    o.statement_cache_capacity = 4;
    CAIRN_ASSIGN_OR_RETURN(ckpt_conn_, sqlite::Connection::Open(path_, o));
  }
  bool gated = false;
  if (txlog_) {
    if (!gate_conn_) {
      CAIRN_ASSIGN_OR_RETURN(gate_conn_, sqlite::Connection::Open(path_, ReaderOpenOptions()));
    }
    {
      std::lock_guard ex(exec_mu_);  // nothing commits: the log has captured the whole WAL
      if (!writer_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
      if (txlog_->needs_reseed()) CAIRN_RETURN_IF_ERROR(txlog_->Reseed());
      CAIRN_RETURN_IF_ERROR(gate_conn_->ExecCached("BEGIN"));
      Status st = gate_conn_->ExecCached("SELECT 1 FROM sqlite_schema LIMIT 1");
      if (!st.ok()) {
        (void)gate_conn_->ExecCached("ROLLBACK");
        return st;
      }
      gated = true;
    }
    Status st = txlog_->Flush();
    if (!st.ok()) {
      (void)gate_conn_->ExecCached("ROLLBACK");
      return st;  // no checkpoint: the WAL keeps what the log could not store yet
    }
  }
  Status ckpt = ckpt_conn_->ExecTrusted("PRAGMA wal_checkpoint(PASSIVE)");
  if (gated) (void)gate_conn_->ExecCached("COMMIT");
  CAIRN_RETURN_IF_ERROR(ckpt);
  // Readers refresh their snapshots: a read transaction begun after a complete checkpoint reads
  // the database file through the memory map instead of WAL frames through pread().
  commit_seq_.fetch_add(1, std::memory_order_acq_rel);
  return Status::Ok();
}

Result<Database::Image> Database::ReadImage(ImageVisitor* visitor) {
  if (!txlog_) return Status(Code::kUnavailable, "database " + name_ + " has no transaction log");
  std::lock_guard lk(ckpt_mu_);
  if (closed_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
  if (!gate_conn_) {
    CAIRN_ASSIGN_OR_RETURN(gate_conn_, sqlite::Connection::Open(path_, ReaderOpenOptions()));
  }
  Image img;
  {
    std::lock_guard ex(exec_mu_);  // nothing commits: the snapshot is exactly the log's position
    if (!writer_) return Status(Code::kUnavailable, "database " + name_ + " is closed");
    CAIRN_RETURN_IF_ERROR(gate_conn_->ExecCached("BEGIN"));
    Status st = gate_conn_->ExecCached("SELECT 1 FROM sqlite_schema LIMIT 1");
    if (!st.ok()) {
      (void)gate_conn_->ExecCached("ROLLBACK");
      return st;
    }
    st = txlog_->Capture();
    if (!st.ok()) {
      (void)gate_conn_->ExecCached("ROLLBACK");
      return st;
    }
    img.position = txlog_->captured();
    img.generation = txlog_->generation();
  }
  Status st = [&]() -> Status {
    {
      CAIRN_ASSIGN_OR_RETURN(sqlite::Statement q, gate_conn_->PrepareTrusted("PRAGMA page_count"));
      if (sqlite3_step(q.raw()) == SQLITE_ROW)
        img.page_count = static_cast<uint32_t>(sqlite3_column_int64(q.raw(), 0));
      CAIRN_ASSIGN_OR_RETURN(sqlite::Statement q2, gate_conn_->PrepareTrusted("PRAGMA page_size"));
      if (sqlite3_step(q2.raw()) == SQLITE_ROW)
        img.page_size = static_cast<uint32_t>(sqlite3_column_int64(q2.raw(), 0));
    }
    if (visitor != nullptr) CAIRN_RETURN_IF_ERROR(visitor->Begin(img));
    const uint32_t expected_pages = img.page_count;
    CAIRN_ASSIGN_OR_RETURN(sqlite::Statement stmt,
                           gate_conn_->PrepareTrusted("SELECT pgno, data FROM sqlite_dbpage"));
    txlog::PageChecksums sums;
    for (;;) {
      int rc = sqlite3_step(stmt.raw());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return sqlite::SqliteStatus(gate_conn_->raw(), rc);
      const auto pgno = static_cast<uint32_t>(sqlite3_column_int64(stmt.raw(), 0));
      const void* data = sqlite3_column_blob(stmt.raw(), 1);
      const auto size = static_cast<uint32_t>(sqlite3_column_bytes(stmt.raw(), 1));
      if (data != nullptr) sums.SetPage(pgno, data, size);
      if (visitor != nullptr && data != nullptr)
        CAIRN_RETURN_IF_ERROR(
            visitor->Page(pgno, std::string_view(static_cast<const char*>(data), size)));
      img.page_count = pgno;
    }
    if (img.page_count != expected_pages)
      return Status(Code::kIOError, fmt::format("database {} has {} pages, not {}", name_,
                                                img.page_count, expected_pages));
    sums.Resize(img.page_count);
    img.checksum = sums.checksum();
    return Status::Ok();
  }();
  (void)gate_conn_->ExecCached("COMMIT");
  CAIRN_RETURN_IF_ERROR(st);
  return img;
}

bool Database::Idle() const {
  {
    std::lock_guard lk(state_mu_);
    if (owner_ != 0 || uses_ != 0) return false;
  }
  std::lock_guard r(readers_mu_);
  return static_cast<int>(free_readers_.size()) == open_readers_;
}

Database::Use Database::TryUse() {
  std::lock_guard lk(state_mu_);
  if (closed_) return Use();
  ++uses_;
  return Use(shared_from_this());
}

void Database::Use::Release() {
  if (db_ == nullptr) return;
  {
    std::lock_guard lk(db_->state_mu_);
    --db_->uses_;
  }
  db_.reset();
}

bool Database::CloseIfIdle() {
  {
    std::lock_guard lk(state_mu_);
    if (closed_ || owner_ != 0 || uses_ != 0) return false;
    std::lock_guard r(readers_mu_);
    if (static_cast<int>(free_readers_.size()) != open_readers_) return false;
    closed_ = true;  // from here TryUse fails: whoever comes next opens a fresh handle
  }
  CloseNow();
  return true;
}

void Database::Close() {
  {
    std::lock_guard lk(state_mu_);
    if (closed_) return;
    closed_ = true;
  }
  CloseNow();
}

void Database::CloseNow() {
  writer_cv_.notify_all();
  {
    std::lock_guard lk(ckpt_mu_);
    ckpt_conn_.reset();
    gate_conn_.reset();
  }
  anchor_.reset();
  {
    std::lock_guard r(readers_mu_);
    free_readers_.clear();
    readers_cv_.notify_all();
  }
  std::lock_guard ex(exec_mu_);
  if (writer_) {
    if (!writer_->autocommit()) (void)writer_->Exec("ROLLBACK");
    // The final checkpoint only once the log holds everything; else the WAL keeps it for the
    // next open, which captures it.
    Status st = txlog_ ? txlog_->Flush() : Status::Ok();
    if (st.ok()) st = writer_->ExecTrusted("PRAGMA wal_checkpoint(TRUNCATE)");
    if (!st.ok()) spdlog::warn("db {}: final checkpoint failed: {}", name_, st.ToString());
    // Closed cleanly: the next open reuses the page checksums instead of reading the file.
    if (st.ok() && txlog_) {
      Status ss = txlog_->SaveChecksums();
      if (!ss.ok()) spdlog::warn("db {}: {}", name_, ss.ToString());
    }
    writer_.reset();
  }
  SaveUsage();
}

}  // namespace cairn::engine
