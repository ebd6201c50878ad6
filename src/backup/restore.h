// Restore: rebuilds a database file from its backup in an object store, at the newest backed-up
// transaction or at a chosen point (a txid, or a wall-clock time).
//
// The store layout and the algorithm are docs/backup.md's; the files are docs/txlog.md's:
//
//   <db>/<generation>/snapshots/<txid>-<time_us>.csnap
//   <db>/<generation>/log/L<0..3>/<min_txid>-<max_txid>-<max_time_us>.clog
//
//   PlanRestore:  generation ──► newest usable snapshot (or the empty database) ──► chain of log
//                 files, any level, each step taking the file that reaches furthest
//   Restore:      stream every planned object through a FileReader, writing pages in place into
//                 <out>.tmp and checking each record's checksums, stop at the target, truncate,
//                 fsync, PRAGMA integrity_check, rename over <out>
//
// Planning reads only the listing (and, to restore a generation from empty, the header of its
// first log file). A missing transaction anywhere between the snapshot and the target is an error
// naming the gap (kCorruption), never a silent early stop; a damaged object is refused as a whole
// before any of it is applied (kCorruption naming its key). Keys the layout does not describe are
// ignored.
//
// Thread-safety: the functions share no state; a plan is a value. The store must be safe to call
// from two threads (Restore downloads the next object while it applies the current one), as every
// ObjectStore is.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "objectstore/object_store.h"
#include "txlog/format.h"

namespace cairn::backup {

// One snapshot or log file in the store.
struct BackupFile {
  std::string key;         // the object's key
  txlog::ParsedName name;  // what its name says (txid range, time)
  int level = -1;          // 0..3 for log files; -1 for snapshots
  uint64_t size = 0;       // object bytes
};

// One generation of one database as listed in the store.
struct GenerationInfo {
  std::string name;                   // "<start µs, 16 hex>-<4 hex>"
  int64_t start_time_us = 0;          // from the name
  std::vector<BackupFile> snapshots;  // ascending txid
  std::vector<BackupFile> logs;       // ascending min_txid, then descending max_txid
  uint64_t max_txid = 0;              // the newest txid any file reaches (0: none)
  int64_t max_time_us = 0;            // the newest time any file name carries
};

// Names of the databases with at least one snapshot or log file in the store, sorted.
Result<std::vector<std::string>> ListDatabases(objectstore::ObjectStore* store);

// The generations of `db`, oldest first (empty when the store holds nothing for it).
Result<std::vector<GenerationInfo>> ListGenerations(objectstore::ObjectStore* store,
                                                    std::string_view db);

// Where to stop. Both unset: the newest backed-up transaction. With both set, the restore stops
// at whichever comes first.
struct RestoreTarget {
  std::optional<uint64_t> txid;    // the last transaction to apply
  std::optional<int64_t> time_us;  // apply every transaction committed at or before this
  std::string generation;          // empty: chosen by PlanRestore
};

struct RestorePlan {
  std::string db;
  std::string generation;
  uint32_t page_size = 0;               // 0 until the first file is read
  std::optional<BackupFile> snapshot;   // none: replay from the empty database (txid 0)
  std::vector<BackupFile> logs;         // in replay order; consecutive files may overlap
  uint64_t stop_txid = 0;               // apply no transaction above this
  std::optional<int64_t> stop_time_us;  // nor any committed after this
  uint64_t total_bytes = 0;             // bytes of every planned object
  // Objects already downloaded while planning (key and bytes), reused by Restore.
  std::vector<std::pair<std::string, std::shared_ptr<const objectstore::Blob>>> fetched;
};

// Chooses what to download for `target` (see the file comment and docs/backup.md).
// kNotFound when the store holds no backup of `db` (or none at or before the target: every
// snapshot is newer, or the generation given does not exist); kCorruption for a gap in the log,
// naming the database, the generation and the missing txids; kInvalidRequest for a txid beyond
// the newest one backed up.
Result<RestorePlan> PlanRestore(objectstore::ObjectStore* store, std::string_view db,
                                const RestoreTarget& target);

struct RestoreOptions {
  // Called now and then with the object bytes applied so far and the plan's total_bytes.
  std::function<void(uint64_t bytes_done, uint64_t bytes_total)> progress;
  // Open the result with SQLite and require PRAGMA integrity_check to say "ok".
  bool integrity_check = true;
  // Replace an existing file at out_path (and remove its -wal/-shm, which belong to the old
  // database). Without it an existing out_path is kAlreadyExists and nothing is touched.
  bool overwrite = false;
};

struct RestoreResult {
  txlog::Position position;  // the last transaction applied and the checksum after it
  int64_t time_us = 0;       // its commit time (0 for the empty database)
  uint32_t page_count = 0;
  uint32_t page_size = 0;  // 0 for the empty database
  uint64_t bytes = 0;      // size of the restored file (page_count * page_size)
  uint64_t downloaded_bytes = 0;
};

// Carries out `plan`, writing the database to `out_path` (through `out_path + ".tmp"`, renamed
// over it only once complete, synced and checked). On failure the temporary file is removed and
// out_path is untouched.
Result<RestoreResult> Restore(objectstore::ObjectStore* store, const RestorePlan& plan,
                              const std::string& out_path, const RestoreOptions& options = {});

// The start time (µs) a generation's name carries, or nullopt for a name that is not one.
std::optional<int64_t> GenerationStartTime(std::string_view generation);

// Times as restore takes and reports them: RFC 3339, e.g. "2024-05-01T12:34:56.123456Z".
// Formatting writes UTC with microseconds (a time beyond the years -32767..32767, which only a
// corrupt name could carry, as "<n> microseconds after 1970-01-01T00:00:00Z"). Parsing accepts 'T',
// 't' or ' ' between date and time, fractional seconds (digits past the sixth are dropped), and
// 'Z', 'z' or ±hh:mm; nullopt for anything else (including dates that do not exist).
std::string FormatTimeRfc3339(int64_t time_us);
std::optional<int64_t> ParseTimeRfc3339(std::string_view text);

}  // namespace cairn::backup
