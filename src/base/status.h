// Status and Result<T>: how Cairn reports expected failures.
//
// Expected failures (bad input, SQL errors, missing databases, limits) are values, never exceptions.
// A Status is cheap when ok (no allocation). The Code vocabulary is shared by every layer; exactly one
// place, hrana/errors.cc, maps it to protocol error codes and HTTP statuses.
//
// Thread-safety: Status and Result are values; distinct objects may be used from distinct threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cairn {

enum class Code : uint8_t {
  kOk = 0,
  // Client input.
  kInvalidRequest,              // malformed request: bad JSON, wrong types, unknown kinds
  kArgsInvalid,                 // arguments do not fit the statement
  kArgsBothPositionalAndNamed,  // a statement got positional and named arguments together
  kSqlNoStatement,              // the SQL text holds no statement
  kSqlManyStatements,           // the SQL text holds more than one statement where one is allowed
  kSqlUnknownId,                // a sql_id that was never stored (or was closed)
  kSqlParse,                    // the SQL text does not parse
  kSqlInput,                    // the SQL parses but refers to something wrong (no such table, ...)
  kSqlStoreLimit,               // too many or too large stored SQL texts on one stream
  kSql,                         // SQLite reported an error; Status::sqlite_code() has the extended code
  // Streams and transactions.
  kStreamInvalid,       // baton forged, malformed or already used
  kStreamExpired,       // the stream was idle too long and was closed by the server
  kTransactionTimeout,  // the transaction held the write lock too long and was rolled back
  kTransactionBusy,     // the write lock could not be taken in time
  kTimeout,             // a statement ran past its deadline and was interrupted
  // Limits, access, names.
  kResponseTooLarge,
  kBodyTooLarge,
  kBlocked,  // refused by policy (quota, forbidden SQL)
  kTooManyStreams,  // a database's max_concurrent_streams are all open
  kNotFound,
  kAlreadyExists,
  kInvalidName,
  kUnauthenticated,
  kPermissionDenied,
  kUnavailable,  // shutting down, or a component cannot serve now
  kWouldBlock,   // the operation must wait (for the write lock); retry where blocking is allowed
  // Internal.
  kIOError,
  kCorruption,
  kInternal,
};

// Stable upper-case name of a code, e.g. "SQL_MANY_STATEMENTS" style names are chosen by hrana;
// this one is for logs ("InvalidRequest").
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(Code code, std::string message, int sqlite_code = 0)
      : rep_(code == Code::kOk ? nullptr
                               : std::make_unique<Rep>(Rep{code, sqlite_code, std::move(message)})) {}
  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  // The SQLite extended result code when code() == kSql (or another code caused by SQLite), else 0.
  int sqlite_code() const { return rep_ ? rep_->sqlite_code : 0; }
  const std::string& message() const;
  std::string ToString() const;

 private:
  struct Rep {
    Code code;
    int sqlite_code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

// Either a T or a failed Status. Accessing value() of a failed Result is a programming error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}      // NOLINT: must not be ok
  Result(Code code, std::string message) : v_(Status(code, std::move(message))) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  Status TakeStatus() { return ok() ? Status() : std::move(std::get<Status>(v_)); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cairn

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define CAIRN_RETURN_IF_ERROR(expr)           \
  do {                                        \
    ::cairn::Status _st = (expr);             \
    if (!_st.ok()) return _st;                \
  } while (0)

#define CAIRN_CONCAT_INNER(a, b) a##b
#define CAIRN_CONCAT(a, b) CAIRN_CONCAT_INNER(a, b)
// Declares `lhs` from a Result expression or returns its Status.
#define CAIRN_ASSIGN_OR_RETURN(lhs, expr) \
  CAIRN_ASSIGN_OR_RETURN_IMPL(CAIRN_CONCAT(_res_, __LINE__), lhs, expr)
#define CAIRN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.TakeStatus();           \
  lhs = std::move(tmp).value()
