// TxLog: captures every commit of one database as a record and keeps the records in durable,
// compressed files on local disk — the source for backups (backup) and replicas.
//
// Capture. The database's single writer connection calls OnCommit() from its WAL hook after each
// commit; it only notes the WAL's new end and the time (a commit waits for nothing else).
// Capture() — run by Flush(), on the flushing thread — reads the noted commits' frames from the
// -wal file, keeps the last version of each page, updates the rolling checksum (checksum.h) and
// makes Records. Reading later is safe because WAL frames are only overwritten after a
// checkpoint has copied all of them, and checkpoints wait for Flush (below).
//
// Durability. Flush() writes queued records as one new file (format.h) in the current
// generation's directory and fsyncs it; durable() then covers them. The owner must not let SQLite
// checkpoint a WAL frame before Flush() has made it durable (engine::Database gates its
// checkpoints on this), so after a crash every commit not yet in a file is still in the WAL, and
// Open() captures it from there.
//
// Generations. A generation is one unbroken history: txids 1, 2, ... each continuing the previous
// checksum. Open() continues the newest generation when the database file and WAL are exactly
// where its last file ended (checksum verified); otherwise (first use, a file changed behind our
// back, a lost log) it starts a new generation whose first file is a snapshot of the database.
//
// Layout: <dir>/<generation>/<min>-<max>-<time>.clog and <txid>-<time>.csnap; see docs/txlog.md.
//
// Local files. The log knows its files (listed once at Open, then kept in memory) and removes
// those no consumer needs after each flush (at most once a second while nothing can go):
// local_log.h has the rule — a window of released history for followers, by age, bytes and
// files, plus whatever the owner has not released yet (the backups' uploader). Local disk use is
// therefore bounded in every mode.
//
// Thread-safety: OnCommit() is called only by the writer; Reseed() only while nothing writes;
// everything else may be called from any thread (capture and flushes are serialized inside).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "txlog/checksum.h"
#include "txlog/format.h"
#include "txlog/local_log.h"
#include "txlog/wal.h"

namespace cairn::txlog {

struct TxLogOptions {
  Clock* clock = Clock::Real();
  int zstd_level = 1;
  // Captured records waiting for Flush() beyond this many page bytes (the local disk failing) are
  // dropped; the log then needs a new generation (needs_reseed()).
  size_t max_pending_bytes = size_t{256} << 20;
  // Called (from the flushing thread) after a new file of `bytes` became durable.
  std::function<void(uint64_t bytes)> on_durable;
  // How much released history the local files keep (local_log.h).
  LocalRetention retention;
  // The last txid of a generation that the owner no longer needs in local files (the backups'
  // uploader: what is in the store). Unset: every file is released (no backups).
  std::function<uint64_t(const std::string& generation)> released;
  // Records kept in memory after they were flushed, for followers (RecordsAfter), at most.
  size_t recent_bytes = size_t{32} << 20;
  // Writes a whole file durably (WriteFileDurably); replaceable so tests can fail the disk.
  std::function<Status(const std::string& path, std::string_view data)> write_file;
};

struct TxLogStats {
  uint64_t records = 0;        // captured since open
  uint64_t pages = 0;          // captured page images since open
  uint64_t files = 0;          // files written since open
  uint64_t bytes_written = 0;  // bytes of files written since open
  uint64_t generations = 0;    // generations started since open
  uint64_t local_files = 0;    // log files on local disk now
  uint64_t local_bytes = 0;    // their bytes
  uint64_t files_pruned = 0;   // local files removed since open
};

class TxLog {
 public:
  // Opens the log kept in `dir` for the database at `db_path`. Call it before this process
  // writes the database; nothing else may write it.
  static Result<std::unique_ptr<TxLog>> Open(std::string db_path, std::string dir,
                                             TxLogOptions opts);
  ~TxLog();

  // The writer committed; the WAL now holds `wal_frames` frames.
  void OnCommit(int wal_frames);
  // Turns the commits noted so far into records (Flush does this first).
  Status Capture();
  // Makes every captured record durable (one new file). Ok and does nothing when none is queued.
  Status Flush();
  // After a clean close — the log flushed, the WAL checkpointed into the file and empty — keeps
  // the per-page checksums beside the log, so that the next Open need not read the whole file
  // (it uses them only if the file's size and modification time are unchanged).
  Status SaveChecksums();
  // For followers: the records after `txid` in generation `gen`, capturing what was committed
  // just now; from memory (recent and not yet flushed records) or else the local log files. At
  // least one record when any exists, then up to `max_bytes` of pages. kNotFound when the
  // generation is not the current one or the records are no longer kept locally (the follower
  // needs a snapshot); kInvalidRequest when `txid` is ahead of the log.
  Result<std::vector<Record>> RecordsAfter(const std::string& gen, uint64_t txid, size_t max_bytes);
  // Waits until a commit was noted or captured after `txid`, or `timeout` passed (long polls).
  bool WaitForCommitAfter(uint64_t txid, std::chrono::milliseconds timeout);
  // Starts a new generation from the database's current state (after a capture failure). The
  // caller guarantees that nothing writes the database meanwhile.
  Status Reseed();
  bool needs_reseed() const { return needs_reseed_.load(); }
  // Stops keeping records (they are dropped, nothing is written) until Reseed() starts a new
  // generation: what a database does when its backlog for an unreachable store overflowed. The
  // caller removes the local files (the log forgets them).
  void Suspend();
  // Removes the local files the retention rule (local_log.h) lets go; Flush does it too.
  Status Prune();
  bool suspended() const { return suspended_.load(); }

  Position captured() const;
  Position durable() const;
  // The txid of the last commit noted (captured or not): what a client's statement just made.
  uint64_t last_txid() const;
  std::string generation() const;
  const std::string& dir() const { return dir_; }
  TxLogStats stats() const;
  // Whether Open took the page checksums from SaveChecksums instead of reading the file.
  bool used_saved_checksums() const { return used_saved_checksums_; }

  // The checksum and size of the database at `db_path` as it stands: its file plus the committed
  // frames of its WAL. Nothing may write the database meanwhile.
  struct ImageInfo {
    uint64_t checksum = 0;
    uint32_t page_count = 0;
    uint32_t page_size = 0;
  };
  static Result<ImageInfo> ComputeImage(const std::string& db_path);

  // Generation directories under `dir`, oldest first.
  static Result<std::vector<std::string>> Generations(const std::string& dir);
  static std::string NewGenerationName(int64_t wall_micros);

 private:
  TxLog(std::string db_path, std::string dir, TxLogOptions opts);
  Status Recover();
  Status StartGeneration();
  // For a database that holds nothing but its header page (just created): starts `gen` at txid
  // 0 from the empty image, without a snapshot — its first transaction rewrites that page.
  // False (and nothing changed) when the database is not such a one.
  Result<bool> TryStartFresh(const std::string& gen, const WalHeader& wh, uint32_t valid);
  // Reads the database image (file + WAL frames 1..wal_frames) into table_, calling page_fn for
  // each page when given.
  Status LoadImage(uint32_t wal_frames,
                   const std::function<Status(uint32_t, std::string_view)>& page_fn);
  // Records for the transactions in WAL frames first..last; the k-th gets times[k] (the last one
  // when there are fewer times).
  Status CaptureFrames(uint32_t first, uint32_t last, const std::vector<int64_t>& times);
  Status CaptureLocked();  // flush_mu_ held
  // Loads the checksums SaveChecksums kept, if they describe the file as it is at `h`'s end.
  bool LoadSavedChecksums(const std::string& gen, const FileHeader& h);
  Status WritePath(const std::string& path, std::string_view data);
  // Notes a file just written durably in generation `gen` (mu_ held).
  void AddLocalLocked(const std::string& gen, const std::string& name, uint64_t size);
  // Prune with write_mu_ held; `force`: even if the last prune was less than a second ago.
  Status PruneLocked(bool force);

  const std::string db_path_;
  const std::string dir_;
  const TxLogOptions opts_;
  WalFile wal_;

  // Capture state: guarded by flush_mu_ (or used by Open before anyone else).
  PageChecksums table_;
  uint32_t page_size_ = 0;
  uint32_t salt1_ = 0, salt2_ = 0;  // of the WAL generation being read
  uint32_t next_frame_ = 1;         // first WAL frame not yet captured
  uint64_t next_txid_ = 1;
  int64_t last_time_us_ = 0;
  bool fresh_ = false;  // started from the empty image: the first record must hold every page
  std::string frame_buf_;
  std::vector<WalFrame> frames_;

  // Shared with Flush().
  mutable std::mutex mu_;
  std::string generation_;     // guarded by mu_
  std::deque<Record> pending_;  // guarded by mu_
  // Records Flush is writing to a file (between pending_ and recent_): changed only by Flush with
  // write_mu_ and mu_ held, read by followers with mu_.
  std::deque<Record> writing_;
  struct Noted {
    uint32_t wal_frames;
    int64_t time_us;
  };
  std::vector<Noted> noted_;  // commits not yet captured; guarded by mu_
  std::deque<Record> recent_;  // flushed records kept for followers; guarded by mu_
  size_t recent_bytes_ = 0;    // guarded by mu_
  std::condition_variable commit_cv_;  // OnCommit and captures notify it (with mu_)
  size_t pending_bytes_ = 0;    // guarded by mu_
  uint32_t pending_salt1_ = 0, pending_salt2_ = 0, pending_frame_ = 0;  // guarded by mu_
  uint32_t pending_page_size_ = 0;                                       // guarded by mu_
  Position captured_;          // guarded by mu_
  Position durable_;           // guarded by mu_
  TxLogStats stats_;           // guarded by mu_
  // Local files, oldest first (as ListLocalFiles orders them): guarded by mu_, changed only with
  // write_mu_ held too.
  std::vector<LocalFile> local_;
  int64_t last_prune_us_ = 0;   // monotonic; guarded by write_mu_
  bool last_prune_blocked_ = false;  // still beyond the bounds after it; guarded by write_mu_
  uint64_t logged_local_bytes_ = 0;  // the size last reported in the log; guarded by write_mu_
  bool used_saved_checksums_ = false;
  std::atomic<bool> needs_reseed_{false};
  std::atomic<bool> suspended_{false};
  std::mutex flush_mu_;  // one capture at a time (captures read the WAL and update table_)
  std::mutex write_mu_;  // one file write at a time; taken before flush_mu_
};

}  // namespace cairn::txlog
