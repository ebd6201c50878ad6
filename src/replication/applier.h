// Applier: makes a replica database follow a primary's transaction log, one transaction at a time.
//
// Each record (txlog/format.h) is applied as one write transaction on the replica's writer
// connection through SQLite's sqlite_dbpage table: every page of the record, then — when the
// database shrank — the truncation as the last write (the technique in docs/replication.md).
// Readers of the replica go through the normal WAL path, so they never see half a transaction.
// The applier keeps the replica's per-page checksums and checks every record before applying it:
// it must continue the position exactly (txid + 1, pre-checksum = current checksum) and its
// post-checksum must be what applying it yields. Anything else (a gap, a diverged replica, a
// damaged record) is refused with kCorruption and nothing is applied; the caller re-seeds the
// replica from a snapshot (ApplySnapshot).
//
// The applier's connection is for applying only: it keeps parsed b-tree pages that page-level
// writes do not refresh, so reads of the replica go through other connections (as in the server).
//
// Thread-safety: one thread at a time; the caller serializes it with other uses of the connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "base/status.h"
#include "sqlite/connection.h"
#include "txlog/checksum.h"
#include "txlog/format.h"

namespace cairn::replication {

class Applier {
 public:
  // `conn` is the replica's writer. Reads every page to build the checksum table and checks it
  // against `pos` (kCorruption when the database is not at that position).
  static Result<std::unique_ptr<Applier>> Open(sqlite::Connection* conn, txlog::Position pos);
  // For a replica whose position is unknown, ahead or diverged: only ApplySnapshot is accepted
  // until it has re-seeded the database.
  static Result<std::unique_ptr<Applier>> OpenForReseed(sqlite::Connection* conn);

  // Applies one transaction; a record at or before the position is skipped (ok).
  Status Apply(const txlog::Record& r);
  // Applies every record of a log file that follows the position.
  Status ApplyFile(txlog::FileReader* reader);
  // Replaces the whole database with a snapshot file's image (bootstrap, or re-seeding after a
  // divergence), in one transaction.
  Status ApplySnapshot(txlog::FileReader* reader);

  // After OpenForReseed: takes `pos` as the position if the database's checksum is pos.checksum
  // (a replica that applied transactions it had not yet recorded finds where it is this way).
  // kCorruption, and nothing changes, otherwise.
  Status Resume(txlog::Position pos);
  // The checksum of the database as the applier sees it.
  uint64_t checksum() const { return sums_.checksum(); }

  txlog::Position position() const { return pos_; }
  uint32_t page_count() const { return sums_.page_count(); }

 private:
  explicit Applier(sqlite::Connection* conn) : conn_(conn) {}
  Status LoadTable();
  // Runs `write` in one write transaction with writable_schema on; rolls back on failure.
  Status InTransaction(const std::function<Status(sqlite::Statement&)>& write);
  Status PutPage(sqlite::Statement& stmt, uint32_t pgno, const void* data, size_t size);

  sqlite::Connection* const conn_;
  txlog::PageChecksums sums_;
  uint32_t page_size_ = 0;
  txlog::Position pos_;
  bool needs_snapshot_ = false;
  bool fresh_ = false;  // LoadTable saw only a header page with an empty schema
};

}  // namespace cairn::replication
