// The local log's files and how long they are kept: one rule for every mode.
//
// A database's log lives on local disk as files under <dir>/<generation>/ (docs/txlog.md). Two
// consumers may still need a file: the backups' uploader until the file is in the object store
// (the caller says how far that is with `released`: files up to that txid of a generation may
// go), and followers catching up (RecordsAfter), served from a bounded window of recent history.
// Everything else is removed, so local disk use is bounded however long the server runs and
// whether or not backups are on:
//
//   - the newest file of the newest generation is always kept (Open continues the log from it);
//   - a file not yet released is kept (the backlog: bounded by the uploader, docs/backup.md);
//   - the released files are kept newest first while they are younger than `max_age` and fit in
//     `max_bytes` and `max_files` (counting every kept file); the first one that does not fit
//     ends the window, and every older released file goes with it;
//   - a generation other than the newest goes as a whole once it holds no kept file.
//
// TxLog applies the rule after each flush (TxLog::Prune).
//
// Thread-safety: stateless functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "txlog/format.h"

namespace cairn::txlog {

// How much released history the local log keeps (for followers to catch up from).
struct LocalRetention {
  uint64_t max_bytes = uint64_t{16} << 20;
  std::chrono::seconds max_age{600};
  uint64_t max_files = 1000;
};

struct LocalFile {
  std::string generation;
  std::string name;
  ParsedName p;
  uint64_t size = 0;
};

struct LocalLogUsage {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// The log files of one generation directory, by txid (a snapshot before a log ending at its txid).
// Empty when the directory does not exist. Files ending at or before `sized_after` are listed with
// size 0 (no stat: a caller that does not need their sizes).
Result<std::vector<LocalFile>> ListGenerationFiles(const std::string& dir, const std::string& gen,
                                                   uint64_t sized_after = 0);
// Every log file under `dir`, oldest generation first, each by txid.
Result<std::vector<LocalFile>> ListLocalFiles(const std::string& dir);

// Removes what a crash left of files being written (WriteFileDurably's temporary files) in every
// generation directory under `dir`. Only before the log writes anything.
void RemoveTemporaryFiles(const std::string& dir);

// Which of `files` (as ListLocalFiles orders them) the rule above removes: their indexes,
// ascending. `released(gen)` is the last txid of `gen` no consumer still needs (unset: all).
std::vector<size_t> FilesToRemove(const std::vector<LocalFile>& files, const LocalRetention& keep,
                                  int64_t now_us,
                                  const std::function<uint64_t(const std::string&)>& released);

}  // namespace cairn::txlog
