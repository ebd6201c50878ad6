// Prepared statements that an object of the component owns and reuses across calls.
//
// A statement is prepared lazily, on first use, never when its owner is made: writes to shadow
// tables are only allowed from inside the module's own calls (SQLITE_DBCONFIG_DEFENSIVE), and the
// tables a statement names may not exist yet.
//
// Thread-safety: none; a Stmt belongs to one connection and is used by one thread at a time.
#pragma once

#include <string>

#include "vector/sqlite_api.h"

namespace cairn::vector {

class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { Finalize(); }
  void Finalize() {
    if (s_ != nullptr) sqlite3_finalize(s_);
    s_ = nullptr;
  }
  // Prepares on first use; resets afterwards. Returns nullptr (error in *err) on failure.
  sqlite3_stmt* Get(sqlite3* db, const std::string& sql, std::string* err) {
    if (s_ == nullptr) {
      if (sqlite3_prepare_v3(db, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) !=
          SQLITE_OK) {
        *err = sqlite3_errmsg(db);
        s_ = nullptr;
        return nullptr;
      }
    }
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
    return s_;
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Resets a statement when leaving scope (so it holds no read lock between calls).
struct ResetOnExit {
  sqlite3_stmt* s;
  ~ResetOnExit() {
    if (s != nullptr) sqlite3_reset(s);
  }
};

}  // namespace cairn::vector
