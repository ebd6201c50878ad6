// For tests only: a SQLite database written through one connection whose WAL hook feeds a
// TxLog, exactly as engine::Database does, without the rest of the engine.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "base/status.h"
#include "txlog/txlog.h"

namespace cairn::txlog {

class TestCapture {
 public:
  explicit TestCapture(std::string dir, TxLogOptions opts = {})
      : dir_(std::move(dir)), db_path_(dir_ + "/data.sqlite"), opts_(std::move(opts)) {}
  ~TestCapture() {
    if (db_) sqlite3_close(db_);
  }

  // Opens the database (WAL mode, no checkpoint on close) and its log.
  Status Open() {
    if (sqlite3_open(db_path_.c_str(), &db_) != SQLITE_OK) return Status(Code::kIOError, "open failed");
    sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    CAIRN_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
    CAIRN_ASSIGN_OR_RETURN(log_, TxLog::Open(db_path_, dir_ + "/txlog", opts_));
    sqlite3_wal_hook(db_, &TestCapture::Hook, this);
    return Status::Ok();
  }
  Status Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    Status st = rc == SQLITE_OK ? Status::Ok() : Status(Code::kSql, err ? err : sqlite3_errstr(rc), rc);
    sqlite3_free(err);
    return st;
  }
  // Only once the log has flushed (as Database::Checkpoint does).
  Status Checkpoint() {
    CAIRN_RETURN_IF_ERROR(log_->Flush());
    return Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  TxLog* log() { return log_.get(); }
  sqlite3* db() { return db_; }
  const std::string& db_path() const { return db_path_; }
  std::string log_dir() const { return dir_ + "/txlog"; }

 private:
  static int Hook(void* self, sqlite3*, const char*, int frames) {
    static_cast<TestCapture*>(self)->log_->OnCommit(frames);
    return SQLITE_OK;
  }
  std::string dir_, db_path_;
  TxLogOptions opts_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<TxLog> log_;
};

}  // namespace cairn::txlog
