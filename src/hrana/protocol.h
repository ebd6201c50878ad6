// Hrana requests as decoded from JSON: the shapes of HTTP_V2_SPEC / HRANA_3_SPEC, and what is
// learnt from them once, while decoding: each statement's kind (sqlite/statement_kind.h) and what
// a replica routes a request by (HttpRequestHead).
//
// Decoding validates shape and types once, here; everything downstream may rely on it (e.g. a Stmt
// has exactly one of sql / sql_id, batch conditions refer only to earlier steps).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/result.h"
#include "sqlite/statement_kind.h"

namespace cairn::hrana {

using engine::Value;

enum class Version : uint8_t { kV2 = 2, kV3 = 3 };

struct Stmt {
  std::optional<std::string> sql;
  std::optional<int32_t> sql_id;
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> named_args;
  bool want_rows = true;
  // What `sql` is, classified once when decoded; none for SQL named by sql_id (its text is
  // classified where it is looked up).
  std::optional<sqlite::StatementKind> kind;
  // libSQL's replication_index: a replica answers only once it has applied this position (0: any).
  uint64_t replication_index = 0;
};

struct Condition {
  enum class Kind : uint8_t { kOk, kError, kNot, kAnd, kOr, kIsAutocommit };
  Kind kind = Kind::kOk;
  uint32_t step = 0;             // kOk, kError
  std::vector<Condition> conds;  // kNot (exactly one), kAnd, kOr
};

struct BatchStep {
  std::optional<Condition> condition;
  Stmt stmt;
};

struct Batch {
  std::vector<BatchStep> steps;
  uint64_t replication_index = 0;  // as a Stmt's
};

struct Request {
  enum class Kind : uint8_t {
    kExecute,
    kBatch,
    kSequence,
    kDescribe,
    kStoreSql,
    kCloseSql,
    kClose,
    kGetAutocommit
  };
  Kind kind = Kind::kClose;
  Stmt stmt;                       // kExecute
  Batch batch;                     // kBatch
  std::optional<std::string> sql;  // kSequence, kDescribe, kStoreSql
  std::optional<int32_t> sql_id;   // kSequence, kDescribe, kStoreSql, kCloseSql
};

// What every Hrana-over-HTTP request carries besides its work: the stream it continues, and what
// a replica routes it by (server/forwarding.h), gathered while decoding.
struct HttpRequestHead {
  std::optional<std::string> baton;
  // Some statement may write: it writes, opens a transaction that may (BEGIN, but not libSQL's
  // BEGIN TRANSACTION READONLY; SAVEPOINT) or assigns a PRAGMA; or the request has a `sequence`
  // (a script); or it ends a transaction (COMMIT, END, ROLLBACK, RELEASE) without a baton — a
  // stream a replica keeps only ever has a read transaction, which it ends itself. SQL stored by
  // store_sql counts when stored, not where a statement names it by sql_id.
  bool may_write = false;
  // The largest replication_index of the request's statements and batches (0: none).
  uint64_t replication_index = 0;
};

struct PipelineRequest : HttpRequestHead {
  std::vector<Request> requests;
};

struct CursorRequest : HttpRequestHead {
  Batch batch;
};

// A client message of Hrana over WebSocket (HRANA_3_SPEC, "Hrana over WebSocket"): `hello`, or a
// `request` with its id. Stream requests (execute, batch, sequence, describe, get_autocommit) carry
// their Request in `request`; store_sql / close_sql too (their sql_id and sql); open_cursor its
// batch in `request.batch`.
struct WsMessage {
  enum class Kind : uint8_t { kHello, kRequest };
  enum class Op : uint8_t {
    kOpenStream,
    kCloseStream,
    kStream,  // `request` runs on stream `stream_id`
    kStoreSql,
    kCloseSql,
    kOpenCursor,
    kCloseCursor,
    kFetchCursor
  };
  Kind kind = Kind::kHello;
  std::optional<std::string> jwt;  // kHello
  int32_t request_id = 0;
  Op op = Op::kOpenStream;
  int32_t stream_id = 0;
  int32_t cursor_id = 0;
  uint32_t max_count = 0;  // kFetchCursor
  Request request;
};

// The name Hrana gives a request kind ("execute", "store_sql", ...).
std::string_view RequestKindName(Request::Kind kind);

// Decoding never throws; malformed input is Code::kInvalidRequest with a message naming the field.
Result<PipelineRequest> DecodePipeline(std::string_view body, Version version);
Result<CursorRequest> DecodeCursor(std::string_view body);
// One text message of a WebSocket client speaking Hrana `version` (1, 2 or 3; cursors and
// get_autocommit are version 3's). kInvalidRequest is a protocol error: the connection closes.
Result<WsMessage> DecodeWsMessage(std::string_view text, int version);

}  // namespace cairn::hrana
