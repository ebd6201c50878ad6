#include "replication/applier.h"

#include <sqlite3.h>

#include <fmt/format.h>

namespace cairn::replication {
namespace {
Status Corrupt(const std::string& what) { return Status(Code::kCorruption, what); }
}  // namespace

Result<std::unique_ptr<Applier>> Applier::Open(sqlite::Connection* conn, txlog::Position pos) {
  std::unique_ptr<Applier> a(new Applier(conn));
  CAIRN_RETURN_IF_ERROR(a->LoadTable());
  // A new database file holds only its header page with an empty schema: that is the empty
  // image (the primary's first transaction rewrites page 1 whole).
  if (pos.txid == 0 && pos.checksum == 0 && a->fresh_) a->sums_.Clear();
  if (a->sums_.checksum() != pos.checksum)
    return Corrupt(fmt::format("the replica is not at txid {} (checksum {:016x}, expected {:016x})",
                               pos.txid, a->sums_.checksum(), pos.checksum));
  a->pos_ = pos;
  return a;
}

Result<std::unique_ptr<Applier>> Applier::OpenForReseed(sqlite::Connection* conn) {
  std::unique_ptr<Applier> a(new Applier(conn));
  CAIRN_RETURN_IF_ERROR(a->LoadTable());
  a->needs_snapshot_ = true;
  return a;
}

Status Applier::Resume(txlog::Position pos) {
  if (sums_.checksum() != pos.checksum)
    return Corrupt(fmt::format("the replica is not at txid {} (checksum {:016x}, expected {:016x})",
                               pos.txid, sums_.checksum(), pos.checksum));
  pos_ = pos;
  needs_snapshot_ = false;
  return Status::Ok();
}

Status Applier::LoadTable() {
  sums_.Clear();
  CAIRN_ASSIGN_OR_RETURN(sqlite::Statement stmt,
                         conn_->PrepareTrusted("SELECT pgno, data FROM sqlite_dbpage"));
  uint32_t last = 0;
  for (;;) {
    int rc = sqlite3_step(stmt.raw());
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return sqlite::SqliteStatus(conn_->raw(), rc);
    const auto pgno = static_cast<uint32_t>(sqlite3_column_int64(stmt.raw(), 0));
    const void* data = sqlite3_column_blob(stmt.raw(), 1);
    const auto size = static_cast<uint32_t>(sqlite3_column_bytes(stmt.raw(), 1));
    if (data != nullptr && size > 0) {
      page_size_ = size;
      sums_.SetPage(pgno, data, size);
      if (pgno == 1) {
        const auto* p = static_cast<const uint8_t*>(data);
        fresh_ = size >= 108 && p[100] == 0x0d && p[103] == 0 && p[104] == 0;
      }
    }
    last = pgno;
  }
  sums_.Resize(last);
  if (last != 1) fresh_ = false;
  return Status::Ok();
}

Status Applier::PutPage(sqlite::Statement& stmt, uint32_t pgno, const void* data, size_t size) {
  sqlite3_stmt* s = stmt.raw();
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, pgno);
  if (data != nullptr) {
    sqlite3_bind_blob(s, 2, data, static_cast<int>(size), SQLITE_STATIC);
  } else {
    sqlite3_bind_null(s, 2);
  }
  int rc = sqlite3_step(s);
  if (rc != SQLITE_DONE) return sqlite::SqliteStatus(conn_->raw(), rc);
  return Status::Ok();
}

Status Applier::InTransaction(const std::function<Status(sqlite::Statement&)>& write) {
  // Defensive mode (on for every Cairn connection) makes sqlite_dbpage read-only: lift it for
  // this transaction only. Clients never reach sqlite_dbpage anyway (the authorizer).
  sqlite3_db_config(conn_->raw(), SQLITE_DBCONFIG_DEFENSIVE, 0, nullptr);
  struct Restore {
    sqlite3* db;
    ~Restore() { sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr); }
  } restore{conn_->raw()};
  sqlite::Connection::TrustScope trust(conn_);
  CAIRN_RETURN_IF_ERROR(conn_->ExecTrusted("PRAGMA writable_schema=ON"));
  Status st = conn_->ExecTrusted("BEGIN IMMEDIATE");
  if (st.ok()) {
    auto stmt = conn_->PrepareTrusted("INSERT INTO sqlite_dbpage(pgno, data) VALUES (?, ?)");
    st = stmt.ok() ? write(*stmt) : stmt.status();
    if (st.ok()) st = conn_->ExecTrusted("COMMIT");
    if (!st.ok() && !conn_->autocommit()) (void)conn_->ExecTrusted("ROLLBACK");
  }
  Status off = conn_->ExecTrusted("PRAGMA writable_schema=OFF");
  return st.ok() ? off : st;
}

Status Applier::Apply(const txlog::Record& r) {
  if (needs_snapshot_) return Corrupt("the replica must be re-seeded from a snapshot first");
  if (r.h.txid <= pos_.txid) return Status::Ok();
  if (r.h.txid != pos_.txid + 1)
    return Corrupt(
        fmt::format("gap: the replica is at txid {}, the record is txid {}", pos_.txid, r.h.txid));
  if (r.h.pre_checksum != pos_.checksum)
    return Corrupt(
        fmt::format("txid {} does not continue the replica's state (diverged)", r.h.txid));
  const size_t ps = r.h.n_pages ? r.pages.size() / r.h.n_pages : page_size_;
  if (r.h.n_pages != 0 && (ps == 0 || r.pages.size() != ps * r.h.n_pages))
    return Corrupt(fmt::format("txid {}: malformed record", r.h.txid));
  if (page_size_ == 0) page_size_ = static_cast<uint32_t>(ps);
  if (r.h.n_pages != 0 && ps != page_size_)
    return Corrupt(fmt::format("txid {}: page size {} differs from the replica's {}", r.h.txid, ps,
                               page_size_));
  // Check the result before touching the database.
  txlog::PageChecksums next = sums_;
  next.Resize(r.h.page_count);
  for (size_t i = 0; i < r.pgnos.size(); ++i)
    next.SetPage(r.pgnos[i], r.pages.data() + i * ps, page_size_);
  if (next.checksum() != r.h.post_checksum)
    return Corrupt(
        fmt::format("txid {}: applying it would not give its checksum (damaged record)", r.h.txid));
  const uint32_t before = sums_.page_count();
  CAIRN_RETURN_IF_ERROR(InTransaction([&](sqlite::Statement& stmt) -> Status {
    for (size_t i = 0; i < r.pgnos.size(); ++i)
      CAIRN_RETURN_IF_ERROR(PutPage(stmt, r.pgnos[i], r.pages.data() + i * ps, ps));
    // Shrinking is the last write of the transaction (a later page write would cancel it).
    if (r.h.page_count < before)
      CAIRN_RETURN_IF_ERROR(PutPage(stmt, r.h.page_count + 1, nullptr, 0));
    return Status::Ok();
  }));
  sums_ = std::move(next);
  pos_ = {r.h.txid, r.h.post_checksum};
  return Status::Ok();
}

Status Applier::ApplyFile(txlog::FileReader* reader) {
  if (reader->header().snapshot()) return ApplySnapshot(reader);
  txlog::Record r;
  for (;;) {
    CAIRN_ASSIGN_OR_RETURN(bool more, reader->ReadRecord(&r));
    if (!more) return Status::Ok();
    CAIRN_RETURN_IF_ERROR(Apply(r));
  }
}

Status Applier::ApplySnapshot(txlog::FileReader* reader) {
  if (!reader->header().snapshot()) return Status(Code::kInvalidRequest, "not a snapshot");
  txlog::RecordHeader h;
  CAIRN_ASSIGN_OR_RETURN(bool has, reader->NextRecord(&h));
  if (!has) return Corrupt("empty snapshot");
  const uint32_t ps = reader->header().page_size;
  const uint32_t before = sums_.page_count();
  txlog::PageChecksums next;
  CAIRN_RETURN_IF_ERROR(InTransaction([&](sqlite::Statement& stmt) -> Status {
    for (uint32_t i = 0; i < h.n_pages; ++i) {
      uint32_t pgno;
      std::string_view data;
      CAIRN_RETURN_IF_ERROR(reader->NextPage(&pgno, &data));
      next.SetPage(pgno, data.data(), ps);
      CAIRN_RETURN_IF_ERROR(PutPage(stmt, pgno, data.data(), data.size()));
    }
    next.Resize(h.page_count);
    if (next.checksum() != h.post_checksum)
      return Corrupt("the snapshot does not match its checksum");
    if (h.page_count < before) CAIRN_RETURN_IF_ERROR(PutPage(stmt, h.page_count + 1, nullptr, 0));
    return Status::Ok();
  }));
  sums_ = std::move(next);
  page_size_ = ps;
  pos_ = {h.txid, h.post_checksum};
  needs_snapshot_ = false;
  return Status::Ok();
}

}  // namespace cairn::replication
