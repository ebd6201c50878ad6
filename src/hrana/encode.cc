#include "hrana/encode.h"

#include <cmath>

#include "hrana/errors.h"
#include "metrics/metrics.h"

namespace cairn::hrana {

using engine::ColumnInfo;
using engine::ExecStats;
using engine::ValueRef;

// Literal keys and object heads go in as one RawPrefix each: this is on the path of every value,
// and one append is several times cheaper than a writer call per token.
void WriteValue(JsonWriter& w, const ValueRef& v) {
  switch (v.type) {
    case engine::Value::Type::kNull:
      w.Raw(R"({"type":"null"})");
      return;
    case engine::Value::Type::kInteger:
      w.RawPrefix(R"({"type":"integer","value":)").IntAsString(v.integer);
      break;
    case engine::Value::Type::kFloat:
      w.RawPrefix(R"({"type":"float","value":)");
      // JSON has no infinities; 1e999 is valid JSON that JavaScript's JSON.parse reads back as
      // Infinity (SQLite cannot store NaN: it becomes NULL, and the writer would write null).
      if (std::isinf(v.real)) {
        w.Raw(v.real > 0 ? "1e999" : "-1e999");
      } else {
        w.Double(v.real);
      }
      break;
    case engine::Value::Type::kText:
      w.RawPrefix(R"({"type":"text","value":)").String(v.bytes);
      break;
    case engine::Value::Type::kBlob:
      w.RawPrefix(R"({"type":"blob","base64":)").Base64(v.bytes);
      break;
  }
  w.EndObject();
}

void WriteCols(JsonWriter& w, std::span<const ColumnInfo> cols) {
  w.BeginArray();
  for (const ColumnInfo& c : cols) {
    w.RawPrefix(R"({"name":)").String(c.name).RawPrefix(R"(,"decltype":)");
    if (c.decltype_) {
      w.String(*c.decltype_);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
}

void WriteRow(JsonWriter& w, std::span<const ValueRef> vals) {
  w.BeginArray();
  for (const ValueRef& v : vals) WriteValue(w, v);
  w.EndArray();
}

void WriteStats(JsonWriter& w, const ExecStats& s) {
  w.RawPrefix(R"(,"affected_row_count":)").Int(s.affected_row_count);
  w.RawPrefix(R"(,"last_insert_rowid":)");
  if (s.last_insert_rowid) {
    w.IntAsString(*s.last_insert_rowid);
  } else {
    w.Null();
  }
  w.RawPrefix(R"(,"rows_read":)").Int(static_cast<int64_t>(s.rows_read));
  w.RawPrefix(R"(,"rows_written":)").Int(static_cast<int64_t>(s.rows_written));
  w.RawPrefix(R"(,"query_duration_ms":)").Double(s.query_duration_ms);
}

void WriteCountedError(JsonWriter& w, const Status& st) {
  metrics::Process().hrana_errors.Inc(ErrorCode(st));
  WriteError(w, st);
}

void BeginOk(JsonWriter& w, WsRequestId id, std::string_view type) {
  if (id) {
    w.RawPrefix(R"({"type":"response_ok","request_id":)").Int(*id);
    w.RawPrefix(R"(,"response":{"type":)");
  } else {
    w.RawPrefix(R"({"type":"ok","response":{"type":)");
  }
  w.String(type);
}

void WriteOk(JsonWriter& w, WsRequestId id, std::string_view type) {
  BeginOk(w, id, type);
  w.EndObject().EndObject();
}

void WriteErrorResult(JsonWriter& w, WsRequestId id, const Status& st) {
  if (id) {
    w.RawPrefix(R"({"type":"response_error","request_id":)").Int(*id).RawPrefix(R"(,"error":)");
  } else {
    w.RawPrefix(R"({"type":"error","error":)");
  }
  WriteCountedError(w, st);
  w.EndObject();
}

Status Budget::Charge(size_t bytes) {
  used += bytes;
  if (used > limit)
    return Status(Code::kResponseTooLarge, "the response is larger than the limit of " +
                                               std::to_string(limit) +
                                               " bytes; select fewer rows or columns");
  return Status::Ok();
}

Status StmtResultSink::Columns(std::span<const ColumnInfo> cols) {
  started_ = true;
  const size_t before = out_->size();
  w_.RawPrefix(R"({"cols":)");
  WriteCols(w_, cols);
  w_.RawPrefix(R"(,"rows":[)");
  return budget_->Charge(out_->size() - before);
}

Status StmtResultSink::Row(std::span<const ValueRef> vals) {
  const size_t before = out_->size();
  WriteRow(w_, vals);
  return budget_->Charge(out_->size() - before);
}

void StmtResultSink::Finish(const ExecStats& s) {
  if (!started_) (void)Columns({});
  const size_t before = out_->size();
  w_.EndArray();
  WriteStats(w_, s);
  w_.RawPrefix(R"(,"replication_index":)");
  if (s.replication_index != 0) {
    w_.IntAsString(static_cast<int64_t>(s.replication_index));
  } else {
    w_.Null();
  }
  w_.EndObject();
  budget_->used += out_->size() - before;
}

// Each entry is a JSON text of its own: a fresh writer (no comma before it), then a newline.
Status CursorSink::Columns(std::span<const ColumnInfo> cols) {
  started_ = true;
  const size_t before = out_->size();
  JsonWriter w(out_);
  w.RawPrefix(R"({"type":"step_begin","step":)").Int(step_).RawPrefix(R"(,"cols":)");
  WriteCols(w, cols);
  w.EndObject();
  out_->push_back('\n');
  return budget_->Charge(out_->size() - before);
}

Status CursorSink::Row(std::span<const ValueRef> vals) {
  const size_t before = out_->size();
  JsonWriter w(out_);
  w.RawPrefix(R"({"type":"row","row":)");
  WriteRow(w, vals);
  w.EndObject();
  out_->push_back('\n');
  return budget_->Charge(out_->size() - before);
}

void CursorSink::Finish(const ExecStats& s) {
  if (!started_) (void)Columns({});
  JsonWriter w(out_);
  w.RawPrefix(R"({"type":)").Raw(R"("step_end")");
  WriteStats(w, s);
  w.EndObject();
  out_->push_back('\n');
}

void WriteCursorStepError(std::string* out, size_t step, const Status& st) {
  JsonWriter w(out);
  w.BeginObject().Key("type").String("step_error").Key("step").Int(static_cast<int64_t>(step));
  w.Key("error");
  WriteCountedError(w, st);
  w.EndObject();
  out->push_back('\n');
}

}  // namespace cairn::hrana
