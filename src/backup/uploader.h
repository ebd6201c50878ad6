// Uploader: streams every database's transaction log to the object store, continuously.
//
// When a database's log makes new files durable (TxLog's on_durable), the registry tells the
// uploader (Notify); after `interval` — so that the flushes of a busy database share one object —
// a worker uploads all of that database's new local files as one L0 object (snapshots as they
// are) and records the uploaded position next to the files; the log then releases them
// (UploadedThrough) and removes them locally once they leave its window (txlog/local_log.h). Quiet
// databases cost nothing: only notified databases are visited. A store that fails is retried with
// backoff; meanwhile files stay on local disk (the backlog, reported in stats()) and the server
// keeps serving; uploads resume from the first missing txid, so the store never has a gap.
// Compaction (L0→L1→L2→L3) runs in the store after uploads; see docs/backup.md.
//
// Thread-safety: all public methods are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "objectstore/object_store.h"

namespace cairn::backup {

struct UploaderOptions {
  std::chrono::milliseconds interval{250};  // batching delay after a database's first new file
  int workers = 4;                          // databases uploaded in parallel
  int compact_fanout = 8;                   // files per level before they merge into one
  std::chrono::seconds retention{24 * 3600};
  std::chrono::milliseconds max_backoff{5000};
  // A new snapshot is built in the store (from the previous one and the log) when the newest is
  // older than this and transactions followed it, or when compact_fanout L3 files follow it.
  std::chrono::seconds snapshot_interval{24 * 3600};
  // How often every database in the store is visited for retention and snapshots.
  std::chrono::seconds maintenance_interval{600};
  // Where snapshots are assembled (a temporary file per snapshot).
  std::string scratch_dir = "/tmp";
  // Local log bytes waiting for the store, at most — an unreachable store, or one too slow to keep
  // up (checked after every new log file, without waiting for an upload attempt in flight).
  // Beyond it, the database whose file crossed the bound drops its waiting files
  // and stops keeping a log (suspend_log), so the disk cannot fill up; once the store answers
  // again, the log restarts as a new generation from a snapshot (restart_log) and uploads resume.
  // The store keeps everything up to the drop (counted in backlog_overflows: the alarm).
  uint64_t max_backlog_bytes = uint64_t{1} << 30;
  std::function<Status(const std::string& db)> suspend_log;
  std::function<Status(const std::string& db)> restart_log;
  // Called (from a worker) once every transaction of `db`'s log generation `generation` up to
  // `txid` is in the store: what synchronous backups wait for.
  std::function<void(const std::string& db, const std::string& generation, uint64_t txid)>
      on_uploaded;
  // Whether `db`'s commits wait for the store (sync_backup): its new files are then uploaded at
  // once, without the batching delay. Unset: never.
  std::function<bool(const std::string& db)> urgent;
  Clock* clock = Clock::Real();
};

struct UploaderStats {
  uint64_t objects_uploaded = 0;
  uint64_t bytes_uploaded = 0;
  uint64_t upload_errors = 0;
  uint64_t compactions = 0;
  uint64_t snapshots = 0;          // built in the store
  uint64_t backlog_overflows = 0;  // times a backlog was dropped (a gap in the store's history)
  uint64_t objects_deleted = 0;
  uint64_t backlog_bytes = 0;  // local log bytes not yet in the store
  uint64_t backlog_files = 0;
  bool store_healthy = true;    // false after a failed upload, until one succeeds
  int64_t last_success_us = 0;  // wall clock
  std::string last_error;
  // Time from commit to durable in the store, per transaction, over the last 100,000 uploaded
  // transactions (each counted at the oldest commit of its object: an upper bound), in µs.
  int64_t lag_p50_us = 0;
  int64_t lag_p99_us = 0;
  int64_t lag_max_us = 0;
  uint64_t lag_samples = 0;
};

class Uploader {
 public:
  // `log_dir_of` maps a database name to its local log directory.
  Uploader(objectstore::ObjectStore* store,
           std::function<std::string(const std::string&)> log_dir_of, UploaderOptions opts = {});
  ~Uploader();  // Stop()

  // Scans `names`' local logs for files not yet uploaded, then starts the workers.
  void Start(const std::vector<std::string>& names);
  // Uploads what is durable now (best effort, bounded by `grace`), then stops the workers.
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

  // The database's log has a new durable file of `bytes`.
  void Notify(const std::string& db, uint64_t bytes = 0);
  // The last txid of `db`'s log generation `gen` that is in the store (0: none): what its local
  // files may release.
  uint64_t UploadedThrough(const std::string& db, const std::string& gen);
  // Uploads the database's durable files now, in the calling thread; returns the last txid now in
  // the store for its newest generation (and that generation).
  Result<std::pair<std::string, uint64_t>> SyncNow(const std::string& db);
  // The database was deleted: forget it (its backups stay in the store).
  void Forget(const std::string& db);

  UploaderStats stats() const;

  // Retention and snapshots for one database (normally run by the maintenance sweep).
  Status Maintain(const std::string& db);
  // Builds a snapshot of `db`'s generation `gen` at `txid` from what the store holds.
  Status BuildSnapshot(const std::string& db, const std::string& gen, uint64_t txid);

 private:
  struct DbState;
  void Worker();
  void MaintenanceLoop();
  Status UploadDb(const std::string& db, DbState* st);
  Status CompactDb(const std::string& db, const std::string& gen, DbState* st);
  // A backlog beyond max_backlog_bytes: suspends the log and removes the database's local files
  // (DropLocalBacklog), then forgets what was uploaded (FinishDropLocked, mu_ held, once no worker
  // uploads the database). The overflow counts as soon as the files are gone.
  Status DropLocalBacklog(const std::string& db);
  void FinishDropLocked(const std::string& db, DbState* st);
  Status MergeLevel(const std::string& db, const std::string& gen, int level,
                    const std::vector<objectstore::ObjectInfo>& files);

  objectstore::ObjectStore* const store_;
  const std::function<std::string(const std::string&)> log_dir_of_;
  const UploaderOptions opts_;

  mutable std::mutex mu_;
  std::condition_variable cv_;        // workers and waiters for a database
  std::condition_variable maint_cv_;  // the maintenance thread
  struct DbState {
    int64_t due_us = 0;  // when the next upload may start (monotonic); 0 = not pending
    bool busy = false;   // a worker has it
    int failures = 0;    // consecutive, for backoff
    std::map<std::string, uint64_t> uploaded;  // generation -> last txid in the store
    std::map<std::string, int> level_files;    // "<gen>/L<n>" -> files known in the store
    bool renotified = false;                   // notified while busy: upload again after this one
    bool suspended = false;  // its backlog was dropped; restart the log once the store answers
    bool drop_requested = false;  // the backlog passed its bound: drop it at once (Notify)
    bool dropping = false;        // a worker is dropping it while another one uploads
    bool drop_finished = false;   // dropped while busy: the uploading worker finishes the drop
    uint64_t backlog_bytes = 0;
    uint64_t backlog_files = 0;
  };
  void ScheduleLocked(const std::string& db, DbState* st, int64_t due);
  // Whether the local backlog of all databases passed its bound (`st` not dropped already).
  bool OverBacklogLocked(const DbState& st) const;
  int64_t Backoff(const DbState& st) const;  // before the next attempt after a failure
  // db -> generation -> last txid in the store (UploadedThrough); guarded by mu_.
  std::map<std::string, std::map<std::string, uint64_t>> released_;
  int64_t DelayMicros() const;          // the batching delay (opts_.interval)
  std::map<std::string, DbState> dbs_;  // guarded by mu_ (DbState fields too, except while busy)
  UploaderStats stats_;                 // guarded by mu_
  // (lag µs, transactions) of recent uploads, a ring; guarded by mu_.
  std::deque<std::pair<int64_t, uint32_t>> lags_;
  uint64_t lag_txns_ = 0;
  void RecordLag(int64_t lag_us, uint32_t txns);
  std::set<std::pair<int64_t, std::string>> queue_;  // (due, db), guarded by mu_
  bool stop_ = false;                                // guarded by mu_
  bool draining_ = false;                            // guarded by mu_: upload everything now
  std::vector<std::thread> threads_;
  std::thread maintenance_;
};

}  // namespace cairn::backup
