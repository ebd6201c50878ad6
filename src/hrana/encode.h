// Encoding of Hrana results as JSON, on base/json_writer.h: values, column lists, rows, statement
// results and cursor entries (written straight into the response as a statement runs, through
// the RowSinks below), errors, and the envelope of one request's result over HTTP and WebSocket.
// Internal to hrana; the calls (service.cc, websocket.cc) decide what to write, this file how.
//
// Every function appends to the string of the JsonWriter it is given, with no allocation beyond
// that string's growth: it is on the path of every row.
//
// Thread-safety: plain functions; a sink is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/json_writer.h"
#include "base/status.h"
#include "engine/result.h"

namespace cairn::hrana {

// A Hrana Value: {"type":"integer","value":"42"} (integers as strings: JavaScript's numbers stop
// at 2^53), {"type":"float","value":1.5} (infinities as 1e999 / -1e999, which JavaScript's
// JSON.parse reads back as Infinity), {"type":"text","value":"..."},
// {"type":"blob","base64":"..."} or {"type":"null"}.
void WriteValue(JsonWriter& w, const engine::ValueRef& v);
// [{"name":...,"decltype":... or null}, ...]
void WriteCols(JsonWriter& w, std::span<const engine::ColumnInfo> cols);
// [value, ...]
void WriteRow(JsonWriter& w, std::span<const engine::ValueRef> vals);
// The statistics fields shared by StmtResult and the cursor's step_end entry, into the object
// `w` has open: "affected_row_count", "last_insert_rowid", "rows_read", "rows_written",
// "query_duration_ms".
void WriteStats(JsonWriter& w, const engine::ExecStats& s);
// The error object of a failed request, step or hello ({"message":...,"code":...}), counted in
// the process's hrana_errors metric by its code.
void WriteCountedError(JsonWriter& w, const Status& st);

// Which envelope a request's result goes in: over HTTP {"type":"ok","response":...} or
// {"type":"error","error":...}; over WebSocket (a request id set) {"type":"response_ok",
// "request_id":N,"response":...} or {"type":"response_error","request_id":N,"error":...}.
using WsRequestId = std::optional<int32_t>;
// Opens a successful result up to its response's type: {"type":"ok","response":{"type":"<type>".
// The caller writes the response's other fields, then closes both objects (EndObject twice).
void BeginOk(JsonWriter& w, WsRequestId id, std::string_view type);
// A successful result with no other fields: BeginOk and both objects closed.
void WriteOk(JsonWriter& w, WsRequestId id, std::string_view type);
// A failed result, the error counted (WriteCountedError).
void WriteErrorResult(JsonWriter& w, WsRequestId id, const Status& st);

// The size of one response across every sink that writes into it.
struct Budget {
  size_t used = 0;
  size_t limit = 0;
  // Adds `bytes`; kResponseTooLarge once the total passes the limit.
  Status Charge(size_t bytes);
};

// Writes a StmtResult ({"cols":...,"rows":[...], stats, "replication_index":...}) into *out as
// the statement runs, charging `budget` for every piece.
class StmtResultSink final : public engine::RowSink {
 public:
  StmtResultSink(std::string* out, Budget* budget) : out_(out), w_(out), budget_(budget) {}
  Status Columns(std::span<const engine::ColumnInfo> cols) override;
  Status Row(std::span<const engine::ValueRef> vals) override;
  // Completes the object (a statement that ran no SQL, like libSQL's BEGIN READONLY, never
  // reported columns: they are written empty).
  void Finish(const engine::ExecStats& s);

 private:
  std::string* const out_;
  JsonWriter w_;
  Budget* const budget_;
  bool started_ = false;
};

// Writes one batch step's cursor entries into *out, one JSON object per line: step_begin, a row
// entry per row, and step_end (Finish), charging `budget` for all but step_end.
class CursorSink final : public engine::RowSink {
 public:
  CursorSink(std::string* out, Budget* budget, uint32_t step)
      : out_(out), budget_(budget), step_(step) {}
  Status Columns(std::span<const engine::ColumnInfo> cols) override;
  Status Row(std::span<const engine::ValueRef> vals) override;
  void Finish(const engine::ExecStats& s);

 private:
  std::string* const out_;
  Budget* const budget_;
  const uint32_t step_;
  bool started_ = false;
};

// The step_error cursor entry (one line) of a step that failed, the error counted.
void WriteCursorStepError(std::string* out, size_t step, const Status& st);

}  // namespace cairn::hrana
