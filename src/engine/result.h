// What running one statement produces: column descriptions, rows (pushed to a RowSink as they are
// stepped, so results are encoded without an intermediate copy) and statistics.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "sqlite/connection.h"
#include "sqlite/statement_kind.h"

namespace cairn::engine {

using sqlite::Value;
using sqlite::ValueRef;

struct ColumnInfo {
  std::string_view name;
  std::optional<std::string_view> decltype_;  // declared type, when the column is a table column
};

// Receives a statement's results while it runs. Returning an error stops the statement (e.g. the
// response would be too large); the error is returned by Session::Execute unchanged.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual Status Columns(std::span<const ColumnInfo> cols) = 0;
  virtual Status Row(std::span<const ValueRef> values) = 0;
};

struct ExecStats {
  int64_t affected_row_count = 0;
  std::optional<int64_t> last_insert_rowid;
  uint64_t rows_read = 0;
  uint64_t rows_written = 0;
  double query_duration_ms = 0;
  // The database's position after the statement (the primary's txid; on a replica, the txid it
  // has applied): libSQL's replication_index. 0: unknown (no log).
  uint64_t replication_index = 0;
};

// One statement to run, as a client sent it.
struct StmtSpec {
  std::string_view sql;
  std::span<const Value> args;
  std::span<const std::pair<std::string, Value>> named_args;
  bool want_rows = true;
  // What the statement is (sqlite/statement_kind.h): classified from `sql` unless the caller
  // already has it (Hrana's decoder classifies every statement it decodes). Everything the
  // session decides from the text before SQLite prepares it comes from here.
  sqlite::StatementKind kind = sqlite::ClassifyStatement(sql);
};

struct DescribeResult {
  struct Param {
    std::optional<std::string> name;
  };
  struct Col {
    std::string name;
    std::optional<std::string> decltype_;
  };
  std::vector<Param> params;
  std::vector<Col> cols;
  bool is_explain = false;
  bool is_readonly = false;
};

}  // namespace cairn::engine
