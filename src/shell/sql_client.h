// SqlClient: what the shell needs from a server — run one statement on a session that lives as long
// as the shell (so BEGIN ... COMMIT spans inputs) — and the values it gets back: typed values, a
// result set, or an error as the server worded it (message plus a code such as
// "SQLITE_CONSTRAINT").
//
// The values are plain and independent of the wire format. HranaClient (hrana_client.h) is the real
// implementation; tests substitute their own. Thread-safety: values may be used from any thread; a
// SqlClient is used by one thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::shell {

struct Value {
  enum class Type { kNull, kInteger, kFloat, kText, kBlob };

  Type type = Type::kNull;
  int64_t integer = 0;  // kInteger
  double real = 0;      // kFloat
  std::string bytes;    // kText (UTF-8) or kBlob (raw bytes)

  static Value Null() { return Value{}; }
  static Value Integer(int64_t v) { return Value{Type::kInteger, v, 0, {}}; }
  static Value Float(double v) { return Value{Type::kFloat, 0, v, {}}; }
  static Value Text(std::string s) { return Value{Type::kText, 0, 0, std::move(s)}; }
  static Value Blob(std::string b) { return Value{Type::kBlob, 0, 0, std::move(b)}; }

  bool operator==(const Value&) const = default;
};

struct Column {
  std::string name;
  std::string decltype_;  // empty when the server sent null
};

// The result of one statement. `columns` is empty for statements that return no result set.
struct StmtResult {
  std::vector<Column> columns;
  std::vector<std::vector<Value>> rows;
  int64_t affected_row_count = 0;
  std::optional<int64_t> last_insert_rowid;
};

// An error to show the user as "Error: <message> (<code>)". Transport failures use codes of our own
// ("CONNECTION_ERROR", "HTTP_<status>", "PROTOCOL_ERROR").
struct ServerError {
  std::string message;
  std::string code;
};

// Either a StmtResult or a ServerError.
struct ExecOutcome {
  std::optional<ServerError> error;
  StmtResult result;

  bool ok() const { return !error.has_value(); }
  static ExecOutcome Error(std::string message, std::string code) {
    ExecOutcome o;
    o.error = ServerError{std::move(message), std::move(code)};
    return o;
  }
};

class SqlClient {
 public:
  virtual ~SqlClient() = default;
  // Runs one SQL statement and returns its rows, or the error.
  virtual ExecOutcome Execute(std::string_view sql) = 0;
  // True when the server last reported an open transaction on the session (for the prompt).
  virtual bool InTransaction() const = 0;
  // Ends the session; an open transaction is rolled back by the server. Errors are ignored.
  virtual void Close() = 0;
};

}  // namespace cairn::shell
