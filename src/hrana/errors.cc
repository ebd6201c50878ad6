#include "hrana/errors.h"

#include <sqlite3.h>

#include <string>

namespace cairn::hrana {
namespace {

// SQLite primary result code names, as sqld reports them.
std::string_view SqliteCodeName(int code) {
  switch (code & 0xff) {
    case SQLITE_ERROR: return "SQLITE_ERROR";
    case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
    case SQLITE_PERM: return "SQLITE_PERM";
    case SQLITE_ABORT: return "SQLITE_ABORT";
    case SQLITE_BUSY: return "SQLITE_BUSY";
    case SQLITE_LOCKED: return "SQLITE_LOCKED";
    case SQLITE_NOMEM: return "SQLITE_NOMEM";
    case SQLITE_READONLY: return "SQLITE_READONLY";
    case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
    case SQLITE_IOERR: return "SQLITE_IOERR";
    case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
    case SQLITE_NOTFOUND: return "SQLITE_NOTFOUND";
    case SQLITE_FULL: return "SQLITE_FULL";
    case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
    case SQLITE_EMPTY: return "SQLITE_EMPTY";
    case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
    case SQLITE_MISUSE: return "SQLITE_MISUSE";
    case SQLITE_NOLFS: return "SQLITE_NOLFS";
    case SQLITE_AUTH: return "SQLITE_AUTH";
    case SQLITE_FORMAT: return "SQLITE_FORMAT";
    case SQLITE_RANGE: return "SQLITE_RANGE";
    case SQLITE_NOTADB: return "SQLITE_NOTADB";
    case SQLITE_NOTICE: return "SQLITE_NOTICE";
    case SQLITE_WARNING: return "SQLITE_WARNING";
    default: return "SQLITE_UNKNOWN";
  }
}

}  // namespace

std::string_view ErrorCode(const Status& st) {
  switch (st.code()) {
    case Code::kOk: return "";
    case Code::kInvalidRequest: return "HRANA_PROTO_ERROR";
    case Code::kArgsInvalid: return "ARGS_INVALID";
    case Code::kArgsBothPositionalAndNamed: return "ARGS_BOTH_POSITIONAL_AND_NAMED";
    case Code::kSqlNoStatement: return "SQL_NO_STATEMENT";
    case Code::kSqlManyStatements: return "SQL_MANY_STATEMENTS";
    case Code::kSqlUnknownId: return "SQL_NOT_FOUND";
    case Code::kSqlParse: return "SQL_PARSE_ERROR";
    case Code::kSqlInput: return "SQL_INPUT_ERROR";
    case Code::kSqlStoreLimit: return "SQL_STORE_TOO_MANY";
    case Code::kSql:
      // A write past the database's max_db_size (the writer's max_page_count) fails with
      // SQLITE_FULL: writes are blocked until the limit is raised or space is freed.
      if ((st.sqlite_code() & 0xff) == SQLITE_FULL) return "BLOCKED";
      // Authorization refusals (ATTACH, forbidden PRAGMAs) surface as SQLITE_AUTH.
      return SqliteCodeName(st.sqlite_code());
    case Code::kStreamInvalid: return "BATON_INVALID";
    case Code::kStreamExpired: return "STREAM_EXPIRED";
    case Code::kTransactionTimeout: return "TRANSACTION_TIMEOUT";
    case Code::kTransactionBusy: return "TRANSACTION_BUSY";
    case Code::kTimeout: return "QUERY_TIMEOUT";
    case Code::kResponseTooLarge: return "RESPONSE_TOO_LARGE";
    case Code::kBodyTooLarge: return "REQUEST_TOO_LARGE";
    case Code::kBlocked: return "BLOCKED";
    case Code::kTooManyStreams: return "TOO_MANY_STREAMS";
    case Code::kNotFound: return "NAMESPACE_DOESNT_EXIST";
    case Code::kAlreadyExists: return "NAMESPACE_ALREADY_EXISTS";
    case Code::kInvalidName: return "INVALID_NAMESPACE";
    // 401: token missing, malformed, unknown or expired; 403: the token does not allow the
    // database, or a write (docs/auth.md).
    case Code::kUnauthenticated: return "AUTH_FAILED";
    case Code::kPermissionDenied: return "FORBIDDEN";
    case Code::kUnavailable: return "UNAVAILABLE";
    case Code::kWouldBlock: return "INTERNAL";
    case Code::kIOError: return "IO_ERROR";
    case Code::kCorruption: return "CORRUPTION";
    case Code::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

std::string ErrorMessage(const Status& st) {
  switch (st.code()) {
    case Code::kSql:
      if ((st.sqlite_code() & 0xff) == SQLITE_FULL)
        return "the database is full: it reached its size limit (max_db_size) or the disk has no "
               "space left; the statement changed nothing and reads still work (SQLite error: " +
               st.message() + ")";
      return "SQLite error: " + st.message();
    case Code::kSqlParse: return "SQL string could not be parsed: " + st.message();
    case Code::kSqlInput: return "SQL input error: " + st.message();
    default: return st.message();
  }
}

int HttpStatus(const Status& st) {
  switch (st.code()) {
    case Code::kOk: return 200;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kBodyTooLarge: return 413;
    case Code::kTransactionBusy:
    case Code::kTooManyStreams: return 429;
    case Code::kUnavailable: return 503;
    case Code::kIOError:
    case Code::kCorruption:
    case Code::kInternal:
    case Code::kWouldBlock: return 500;
    default: return 400;
  }
}

void WriteError(JsonWriter& w, const Status& st) {
  w.BeginObject().Key("message").String(ErrorMessage(st)).Key("code").String(ErrorCode(st));
  w.EndObject();
}

std::string ErrorBody(const Status& st) {
  std::string out;
  JsonWriter w(&out);
  WriteError(w, st);
  return out;
}

}  // namespace cairn::hrana
