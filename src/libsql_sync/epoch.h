// Epoch: one generation of one database as embedded replicas see it — a frame space numbered
// from 1 that the server can answer for any position, the same way every time.
//
// A generation starts with the database's image at a transaction S of its log: frames 1..I are
// every page (the lock page excepted) in page order, the last one committing the database's size
// then. Each later transaction of the log follows with its changed pages, in page order, its last
// frame committing. The frames are kept in a file of their own (`frames-<g>`: frame headers and
// pages exactly as served, commit sizes 0) with an index of transaction ends (`index-<g>`: txid,
// last frame, database size, checksum after, hash of its frames; 32 bytes each, little-endian).
// The image is synced when the generation starts; later frames are not (that would double the cost
// of a sync), but their index entries are, before any client sees them, and Load checks every
// transaction's frames against its hash: frames a crash lost end the generation. `state` names the
// generation, the log generation it follows (its lineage) and S. So positions survive restarts,
// checkpoints, pruning of the local log and backups; they change only with a new generation
// (docs/embedded-replicas.md).
//
// Thread-safety: none; the owner (SyncService) serializes every use of one Epoch.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/database.h"
#include "txlog/txlog.h"

namespace cairn::libsql_sync {

// What `state` holds.
struct EpochState {
  uint32_t generation = 0;
  std::string lineage;      // the log generation the frames come from
  uint64_t start_txid = 0;  // the image's transaction
};

// Reads `<dir>/state`; nullopt when there is none (or it cannot be read).
std::optional<EpochState> ReadEpochState(const std::string& dir);

class Epoch {
 public:
  // One transaction's place in the frame space.
  struct End {
    uint64_t txid = 0;
    uint32_t last_frame = 0;   // its last frame
    uint32_t page_count = 0;   // the database's size after it
    uint64_t checksum = 0;     // the log's rolling checksum after it
    uint64_t frames_hash = 0;  // XXH3-64 of its frames as stored (0 for the image, synced whole)
  };

  ~Epoch();
  Epoch(const Epoch&) = delete;
  Epoch& operator=(const Epoch&) = delete;

  // Starts generation `generation` in `dir` from the database's image now, replacing whatever
  // generation the directory held. kInvalidRequest when the database's pages are not 4 KiB.
  static Result<std::unique_ptr<Epoch>> Create(const std::string& dir, uint32_t generation,
                                               engine::Database* db);
  // Opens the generation kept in `dir` and checks it still continues `log` (same lineage, its
  // last transaction still the log's, checksum equal). kNotFound when there is none or it no
  // longer matches: a new generation must start.
  static Result<std::unique_ptr<Epoch>> Load(const std::string& dir, txlog::TxLog* log);

  // Appends the transactions the log committed since the last one here. kNotFound when the log
  // cannot give them any more (another lineage, pruned): a new generation must start.
  Status Extend(txlog::TxLog* log);

  // Frames [start, start + max_frames) that exist, as one answer: cut after the last transaction
  // that ends inside (its last frame then carries the commit), or, when none ends inside (an image
  // or a transaction larger than the answer), all of them uncommitted — the client keeps its WAL
  // transaction open and continues with the next answer. start must be <= last_frame().
  Result<std::string> Read(uint32_t start, uint32_t max_frames) const;

  uint32_t generation() const { return state_.generation; }
  const std::string& lineage() const { return state_.lineage; }
  uint64_t last_txid() const { return ends_.back().txid; }
  uint32_t last_frame() const { return ends_.back().last_frame; }
  uint32_t image_frames() const { return ends_.front().last_frame; }
  uint32_t delta_frames() const { return last_frame() - image_frames(); }
  size_t transactions() const { return ends_.size() - 1; }

 private:
  explicit Epoch(std::string dir) : dir_(std::move(dir)) {}
  Status OpenFiles(bool create);
  Status Append(const std::vector<txlog::Record>& records);

  std::string dir_;
  EpochState state_;
  int frames_fd_ = -1;
  int index_fd_ = -1;
  std::vector<End> ends_;  // [0]: the image
  // The frames appended last, as written (most answers are for them): frames
  // [tail_first_, last_frame()], at most kTailBytes.
  std::string tail_;
  uint32_t tail_first_ = 0;
};

}  // namespace cairn::libsql_sync
