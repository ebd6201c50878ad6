// Hrana requests as decoded from JSON: the shapes of HTTP_V2_SPEC / HRANA_3_SPEC, nothing more.
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

namespace cairn::hrana {

using engine::Value;

enum class Version : uint8_t { kV2 = 2, kV3 = 3 };

struct Stmt {
  std::optional<std::string> sql;
  std::optional<int32_t> sql_id;
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> named_args;
  bool want_rows = true;
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
  Stmt stmt;                      // kExecute
  Batch batch;                    // kBatch
  std::optional<std::string> sql;  // kSequence, kDescribe, kStoreSql
  std::optional<int32_t> sql_id;   // kSequence, kDescribe, kStoreSql, kCloseSql
};

struct PipelineRequest {
  std::optional<std::string> baton;
  std::vector<Request> requests;
};

struct CursorRequest {
  std::optional<std::string> baton;
  Batch batch;
};

// The name Hrana gives a request kind ("execute", "store_sql", ...).
std::string_view RequestKindName(Request::Kind kind);

// Decoding never throws; malformed input is Code::kInvalidRequest with a message naming the field.
Result<PipelineRequest> DecodePipeline(std::string_view body, Version version);
Result<CursorRequest> DecodeCursor(std::string_view body);

}  // namespace cairn::hrana
