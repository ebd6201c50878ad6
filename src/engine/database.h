// Database: one SQLite file in WAL mode, owned by the server.
//
// It has exactly one writer connection and a pool of reader connections (query_only). Readers never
// wait for the writer: WAL gives each reader a snapshot. Since every write goes through this
// process's writer, the database counts commits (commit_seq); a pooled reader keeps its read
// transaction open between statements for as long as nothing was committed, so back-to-back reads
// skip SQLite's per-transaction locking entirely. Idle readers drop stale snapshots (Release,
// DropStaleSnapshots) so the WAL can be checkpointed. The write lock is an ownership token: a
// Session that starts a transaction keeps it across requests until COMMIT/ROLLBACK/close. An owner
// that keeps it in an open transaction longer than `txn_timeout` loses it to the next writer that
// waits: its transaction is rolled back and its next statement fails with kTransactionTimeout.
//
// Thread-safety: all methods are thread-safe. The writer connection is used only inside WithWriter,
// which serializes access; a ReaderLease gives one thread exclusive use of one reader.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "engine/limits.h"
#include "engine/replica_acks.h"
#include "sqlite/connection.h"
#include "txlog/txlog.h"

namespace cairn::engine {

class Checkpointer;

struct DatabaseOptions {
  int max_readers = 8;
  std::chrono::milliseconds txn_timeout{5000};  // write lock held by an open transaction
  // How long a writer waits for the lock before TRANSACTION_BUSY. Longer than txn_timeout, so a
  // waiter always outlives an abandoned transaction and takes the lock from it.
  std::chrono::milliseconds write_lock_wait{10000};
  std::chrono::milliseconds statement_timeout{5000};  // interrupt statements running longer
  // This database's limits (engine/limits.h), shared with the store that changes them; null: none.
  std::shared_ptr<LiveLimits> limits;
  size_t statement_cache = 64;
  Clock* clock = Clock::Real();
  // When set, checkpoints run there once the WAL holds checkpoint_frames frames; otherwise SQLite
  // checkpoints inside the committing statement (its default).
  Checkpointer* checkpointer = nullptr;
  int checkpoint_frames = 1000;
  // When set, every commit is captured in a transaction log kept in this directory
  // (txlog::TxLog), flushed by the checkpointer, and checkpoints wait for the log.
  std::string txlog_dir;
  txlog::TxLogOptions txlog;
  // Called by the writer after each commit (keep it cheap).
  std::function<void()> on_commit;
  // A read replica: clients never get the writer (their writes fail with SQLITE_READONLY); only
  // the replication follower writes, through WithReplicaWriter.
  bool replica = false;
  // No client may take the write lock at or after this CLOCK_MONOTONIC time in µs (0: no fence;
  // Registry::SetWriteFence).
  std::shared_ptr<const std::atomic<int64_t>> write_fence;
  // What replicas have applied (synchronous replication waits on it; see LiveLimits).
  std::shared_ptr<ReplicaAcks> replica_acks;
};

class Database;

// A pooled reader connection and the snapshot it keeps between statements (see Database).
struct Reader {
  std::unique_ptr<sqlite::Connection> conn;
  uint64_t snapshot_seq = 0;  // the database's commit_seq when the open read transaction began
};

// Exclusive use of one reader connection; returns it to the pool on destruction.
class ReaderLease {
 public:
  ReaderLease() = default;
  ReaderLease(ReaderLease&& o) noexcept : db_(o.db_), reader_(std::move(o.reader_)) {
    o.db_ = nullptr;
  }
  ReaderLease& operator=(ReaderLease&& o) noexcept;
  ~ReaderLease() { Release(); }
  sqlite::Connection* conn() const { return reader_.conn.get(); }
  explicit operator bool() const { return reader_.conn != nullptr; }
  void Release();

  // Makes the connection ready for an autocommit-style read that sees every commit acknowledged so
  // far: keeps its open read transaction when nothing was committed since it began, else starts a
  // new one.
  Status BeginFreshRead();
  // Ends any read transaction the connection keeps (before a client's own BEGIN on it).
  Status EndRead();

 private:
  friend class Database;
  Database* db_ = nullptr;
  Reader reader_;
};

class Database : public std::enable_shared_from_this<Database> {
 public:
  using OwnerId = uint64_t;

  // Opens (or with create=true creates) the database file at `path`.
  static Result<std::shared_ptr<Database>> Open(std::string name, std::string path,
                                                const DatabaseOptions& opts, bool create);
  ~Database();

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  const DatabaseOptions& options() const { return opts_; }

  // A reader connection; waits only for other readers when all max_readers are in use.
  Result<ReaderLease> AcquireReader();

  // Makes `owner` the holder of the write lock. Returns at once if it already is. When the lock is
  // held by another owner: with may_block=false returns kWouldBlock; otherwise waits up to
  // write_lock_wait (stealing from an owner whose transaction outlived txn_timeout) and then fails
  // with kTransactionBusy.
  Status AcquireWriter(OwnerId owner, bool may_block);
  // Runs fn on the writer connection if `owner` holds the write lock, else kTransactionTimeout
  // (its lock was taken away). Serialized with every other use of the writer.
  Status WithWriter(OwnerId owner, const std::function<Status(sqlite::Connection*)>& fn);
  // On a replica: runs fn on the writer connection, serialized with every other use of it (the
  // follower applying the primary's transactions). kInvalidRequest on a database not a replica.
  Status WithReplicaWriter(const std::function<Status(sqlite::Connection*)>& fn);
  // Tells the database that `owner` keeps the lock for an open transaction (starts txn_timeout).
  void KeepForTransaction(OwnerId owner);
  // Gives the write lock back, rolling back any transaction still open on the writer.
  void ReleaseWriter(OwnerId owner);
  bool HoldsWriter(OwnerId owner) const;

  // A new owner id, unique within this process.
  static OwnerId NewOwnerId();

  // Checkpoints the WAL into the database file (TRUNCATE when nothing reads).
  Status Checkpoint();
  // A PASSIVE checkpoint on a connection of its own: never blocks the writer or readers.
  Status CheckpointPassive();
  // Closes every connection after a final checkpoint. Further use fails with kUnavailable.
  void Close();

  // True when nothing holds the writer, a reader or a use (the registry may close it).
  bool Idle() const;
  // Closes the database only if it is idle; atomic with TryUse. True when it closed it.
  bool CloseIfIdle();
  bool closed() const { return closed_.load(); }

  // Marks a request at work on this database: while a use is held the registry does not close
  // it. Empty (false) when the database is already closed — get a fresh handle from the registry.
  class Use {
   public:
    Use() = default;
    Use(Use&& o) noexcept : db_(std::move(o.db_)) {}
    Use& operator=(Use&& o) noexcept {
      if (this != &o) {
        Release();
        db_ = std::move(o.db_);
      }
      return *this;
    }
    ~Use() { Release(); }
    explicit operator bool() const { return db_ != nullptr; }

   private:
    friend class Database;
    explicit Use(std::shared_ptr<Database> db) : db_(std::move(db)) {}
    void Release();
    std::shared_ptr<Database> db_;  // keeps the object alive while used
  };
  Use TryUse();

  // Makes the transactions captured so far durable in the log (no-op without a log).
  Status FlushLog();
  // Starts a new log generation from the database as it is (after the old one lost files).
  Status RestartLog();
  // Stops keeping the log until RestartLog (its backlog could not be kept).
  void SuspendLog() {
    if (txlog_) txlog_->Suspend();
  }
  // The checksum of the database as it is, computed from every page read in one read
  // transaction, and the log position it corresponds to (for verifying backups).
  struct Image {
    txlog::Position position;  // the log's position at that moment
    std::string generation;    // the log's generation then
    uint64_t checksum = 0;     // computed from the pages themselves
    uint32_t page_count = 0;
    uint32_t page_size = 0;
  };
  // Sees the pages while ReadImage reads them: first Begin (the image's size), then every page
  // in ascending order (the lock page included, as SQLite keeps it).
  class ImageVisitor {
   public:
    virtual ~ImageVisitor() = default;
    virtual Status Begin(const Image& img) = 0;  // position, generation, page_count, page_size
    virtual Status Page(uint32_t pgno, std::string_view data) = 0;
  };
  Result<Image> ReadImage(ImageVisitor* visitor = nullptr);

  // The transaction log, or null when the database has none.
  txlog::TxLog* txlog() const { return txlog_.get(); }

  // libSQL's replication_index: the txid of the last commit (a primary) or of the last
  // transaction applied (a replica, set by the follower). 0 when unknown.
  uint64_t replication_index() const { return repl_index_.load(std::memory_order_acquire); }
  void SetReplicationIndex(uint64_t txid) { repl_index_.store(txid, std::memory_order_release); }

  // Commits acknowledged so far by the writer (monotonic).
  uint64_t commit_seq() const { return commit_seq_.load(std::memory_order_acquire); }
  // Ends the read transactions of pooled readers whose snapshot is older than the last commit.
  void DropStaleSnapshots();

  // Metering: what clients' statements did to this database, cumulative over its life. Kept in
  // the file `usage` beside the database: loaded on open, saved when the handle closes and by
  // SaveUsage (the registry's janitor, every second while it changes) — a crash loses at most the
  // counts since the last save. Fed by Session when a statement finishes successfully.
  struct Usage {
    uint64_t rows_read = 0;
    uint64_t rows_written = 0;
    uint64_t statements = 0;
  };
  void CountStatement(uint64_t rows_read, uint64_t rows_written) {
    usage_.rows_read.fetch_add(rows_read, std::memory_order_relaxed);
    usage_.rows_written.fetch_add(rows_written, std::memory_order_relaxed);
    usage_.statements.fetch_add(1, std::memory_order_relaxed);
  }
  Usage usage() const;
  // Writes the counters to the `usage` file if they changed since the last save.
  void SaveUsage();
  // Bytes the database takes on disk now: its file and its WAL (not the transaction log).
  uint64_t storage_bytes() const;
  // Calls fn for every Database of this process that is alive (not yet destroyed), keeping each
  // alive while fn runs (so one closed meanwhile may be passed, and is destroyed afterwards).
  static void ForEachLive(const std::function<void(const std::shared_ptr<Database>&)>& fn);

 private:
  friend class ReaderLease;
  Database(std::string name, std::string path, const DatabaseOptions& opts);
  void ReturnReader(Reader reader);
  static int WalHook(void* self, struct sqlite3* db, const char* name, int frames);
  void CloseNow();  // Close after closed_ was set
  sqlite::OpenOptions ReaderOpenOptions() const;

  const std::string name_;
  const std::string path_;
  const DatabaseOptions opts_;

  // Write lock ownership.
  mutable std::mutex state_mu_;
  std::condition_variable writer_cv_;
  OwnerId owner_ = 0;               // guarded by state_mu_
  int64_t owner_txn_deadline_ = 0;  // guarded by state_mu_; 0 while not in an open transaction
  std::atomic<bool> closed_{false};
  int uses_ = 0;  // guarded by state_mu_
  std::atomic<uint64_t> commit_seq_{1};
  std::atomic<uint64_t> repl_index_{0};

  // The writer connection itself; used only with exec_mu_ held.
  std::mutex exec_mu_;
  std::unique_ptr<sqlite::Connection> writer_;
  std::unique_ptr<sqlite::SharedLockAnchor> anchor_;  // see SharedLockAnchor

  // Background checkpoints.
  std::mutex ckpt_mu_;
  std::unique_ptr<sqlite::Connection> ckpt_conn_;  // guarded by ckpt_mu_
  std::atomic<bool> ckpt_pending_{false};
  // A read transaction on gate_conn_ pins the WAL position up to which the log is durable while a
  // checkpoint runs, so that the checkpoint cannot copy frames committed after it.
  std::unique_ptr<sqlite::Connection> gate_conn_;  // guarded by ckpt_mu_

  // Transaction log (txlog_dir set): fed by the writer's WAL hook.
  std::unique_ptr<txlog::TxLog> txlog_;
  std::atomic<bool> flush_pending_{false};
  uint64_t limits_version_ = 0;  // of opts_.limits applied to the writer; guarded by exec_mu_

  // Usage counters, on a cache line of their own (updated by every statement).
  struct alignas(64) UsageCounters {
    std::atomic<uint64_t> rows_read{0}, rows_written{0}, statements{0};
  };
  UsageCounters usage_;
  std::mutex usage_save_mu_;
  uint64_t usage_saved_statements_ = 0;  // guarded by usage_save_mu_
  std::string UsagePath() const;
  void LoadUsage();

  // Reader pool.
  mutable std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<Reader> free_readers_;  // guarded by readers_mu_
  int open_readers_ = 0;              // guarded by readers_mu_
};

}  // namespace cairn::engine
