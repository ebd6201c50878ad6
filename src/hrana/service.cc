#include "hrana/service.h"

#include <charconv>
#include <cmath>
#include <deque>
#include <unordered_map>
#include <vector>

#include "base/base64.h"
#include "base/json_writer.h"
#include "hrana/errors.h"
#include "hrana/websocket.h"
#include "metrics/metrics.h"

namespace cairn::hrana {
namespace {

using engine::ColumnInfo;
using engine::ExecStats;
using engine::RowSink;
using engine::StmtSpec;
using engine::ValueRef;

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, r.ptr);
}

void AppendString(std::string* out, std::string_view s) {
  out->push_back('"');
  JsonWriter::AppendEscaped(out, s);
  out->push_back('"');
}

void AppendValue(std::string* out, const ValueRef& v) {
  switch (v.type) {
    case engine::Value::Type::kNull:
      out->append(R"({"type":"null"})");
      break;
    case engine::Value::Type::kInteger:
      out->append(R"({"type":"integer","value":")");
      AppendInt(out, v.integer);
      out->append("\"}");
      break;
    case engine::Value::Type::kFloat: {
      out->append(R"({"type":"float","value":)");
      // JSON has no infinities; 1e999 is valid JSON that JavaScript's JSON.parse reads back as
      // Infinity (SQLite cannot store NaN: it becomes NULL).
      if (std::isinf(v.real)) {
        out->append(v.real > 0 ? "1e999" : "-1e999");
      } else {
        JsonWriter(out).Double(v.real);
      }
      out->push_back('}');
      break;
    }
    case engine::Value::Type::kText:
      out->append(R"({"type":"text","value":)");
      AppendString(out, v.bytes);
      out->push_back('}');
      break;
    case engine::Value::Type::kBlob:
      out->append(R"({"type":"blob","base64":")");
      Base64Encode(v.bytes, out);
      out->append("\"}");
      break;
  }
}

template <typename T>
void AppendStringOrNull(std::string* out, const std::optional<T>& s) {
  if (s) {
    AppendString(out, *s);
  } else {
    out->append("null");
  }
}

void AppendCols(std::string* out, std::span<const ColumnInfo> cols) {
  out->push_back('[');
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i) out->push_back(',');
    out->append(R"({"name":)");
    AppendString(out, cols[i].name);
    out->append(R"(,"decltype":)");
    AppendStringOrNull(out, cols[i].decltype_);
    out->push_back('}');
  }
  out->push_back(']');
}

void AppendRow(std::string* out, std::span<const ValueRef> vals) {
  out->push_back('[');
  for (size_t i = 0; i < vals.size(); ++i) {
    if (i) out->push_back(',');
    AppendValue(out, vals[i]);
  }
  out->push_back(']');
}

// The statistics fields shared by StmtResult and the cursor's step_end entry (no braces).
void AppendStats(std::string* out, const ExecStats& s) {
  out->append(R"("affected_row_count":)");
  AppendInt(out, s.affected_row_count);
  out->append(R"(,"last_insert_rowid":)");
  if (s.last_insert_rowid) {
    out->push_back('"');
    AppendInt(out, *s.last_insert_rowid);
    out->push_back('"');
  } else {
    out->append("null");
  }
  out->append(R"(,"rows_read":)");
  AppendInt(out, static_cast<int64_t>(s.rows_read));
  out->append(R"(,"rows_written":)");
  AppendInt(out, static_cast<int64_t>(s.rows_written));
  out->append(R"(,"query_duration_ms":)");
  JsonWriter(out).Double(s.query_duration_ms);
}

void AppendErrorObject(std::string* out, const Status& st) {
  metrics::Process().hrana_errors.Inc(ErrorCode(st));
  JsonWriter w(out);
  WriteError(w, st);
}

// Tracks the size of one HTTP response across every sink that writes into it.
struct Budget {
  size_t used = 0;
  size_t limit = 0;
  Status Charge(size_t bytes) {
    used += bytes;
    if (used > limit)
      return Status(Code::kResponseTooLarge, "the response is larger than the limit of " +
                                                 std::to_string(limit) +
                                                 " bytes; select fewer rows or columns");
    return Status::Ok();
  }
};

// Writes a StmtResult's "cols" and "rows" straight into the response.
class StmtResultSink final : public RowSink {
 public:
  StmtResultSink(std::string* out, Budget* budget) : out_(out), budget_(budget) {}
  Status Columns(std::span<const ColumnInfo> cols) override {
    started_ = true;
    size_t before = out_->size();
    out_->append(R"({"cols":)");
    AppendCols(out_, cols);
    out_->append(R"(,"rows":[)");
    return budget_->Charge(out_->size() - before);
  }
  Status Row(std::span<const ValueRef> vals) override {
    size_t before = out_->size();
    if (rows_++) out_->push_back(',');
    AppendRow(out_, vals);
    return budget_->Charge(out_->size() - before);
  }
  // Completes the StmtResult object (statements that ran no SQL, like libSQL's BEGIN READONLY,
  // never reported columns).
  void Finish(const ExecStats& s) {
    if (!started_) (void)Columns({});
    size_t before = out_->size();
    out_->append("],");
    AppendStats(out_, s);
    if (s.replication_index != 0) {
      out_->append(R"(,"replication_index":")");
      AppendInt(out_, static_cast<int64_t>(s.replication_index));
      out_->append(R"("})");
    } else {
      out_->append(R"(,"replication_index":null})");
    }
    budget_->used += out_->size() - before;
  }

 private:
  std::string* out_;
  Budget* budget_;
  size_t rows_ = 0;
  bool started_ = false;
};

// Writes cursor entries (one JSON object per line) for one step.
class CursorSink final : public RowSink {
 public:
  CursorSink(std::string* out, Budget* budget, uint32_t step)
      : out_(out), budget_(budget), step_(step) {}
  Status Columns(std::span<const ColumnInfo> cols) override {
    started_ = true;
    size_t before = out_->size();
    out_->append(R"({"type":"step_begin","step":)");
    AppendInt(out_, step_);
    out_->append(R"(,"cols":)");
    AppendCols(out_, cols);
    out_->append("}\n");
    return budget_->Charge(out_->size() - before);
  }
  Status Row(std::span<const ValueRef> vals) override {
    size_t before = out_->size();
    out_->append(R"({"type":"row","row":)");
    AppendRow(out_, vals);
    out_->append("}\n");
    return budget_->Charge(out_->size() - before);
  }
  void Finish(const ExecStats& s) {
    if (!started_) (void)Columns({});
    out_->append(R"({"type":"step_end",)");
    AppendStats(out_, s);
    out_->append("}\n");
  }

 private:
  std::string* out_;
  Budget* budget_;
  uint32_t step_;
  bool started_ = false;
};

// State shared by pipeline and cursor calls: the stream and how statements find their SQL.
class StreamCall : public Call {
 protected:
  StreamCall(Service* service, std::string db, std::string body, bool read_only)
      : service_(service), db_(std::move(db)), body_(std::move(body)), read_only_(read_only) {
    budget_.limit = service->options().max_response_bytes;
  }

  // Decodes the body into *req, once (see Call::Decode()).
  template <typename Req>
  const HttpRequestHead* DecodeOnce(Result<Req> (*decode)(std::string_view), Req* req) {
    if (!decoded_) {
      decoded_ = true;
      auto decoded = decode(body_);
      body_ = std::string();
      if (decoded.ok()) {
        *req = std::move(decoded).value();
      } else {
        decode_error_ = decoded.TakeStatus();
      }
    }
    return decode_error_.ok() ? req : nullptr;
  }

  // Opens the stream of the decoded request (null: it did not decode); on failure the response
  // is already set.
  bool Start(const HttpRequestHead* req) {
    started_ = true;
    if (req == nullptr) {
      Fail(decode_error_);
      return false;
    }
    Status st = OpenStream(req->baton);
    if (!st.ok()) {
      Fail(st);
      return false;
    }
    stream_->session->set_read_only(read_only_);
    if (const auto& limits = stream_->session->database().options().limits) {
      if (const uint64_t max = limits->max_response_bytes()) budget_.limit = max;  // its own
    }
    return true;
  }
  ~StreamCall() override = default;

  // Opens the stream named by the baton, or a new one. On failure the whole call fails.
  Status OpenStream(const std::optional<std::string>& baton) {
    if (baton) {
      CAIRN_ASSIGN_OR_RETURN(stream_, service_->streams().Checkout(*baton, db_));
    } else {
      stream_ = std::make_unique<Stream>();
      stream_->db = db_;
    }
    return Attach(/*new_stream=*/!baton);
  }

  // Gives stream_ a session on a database that stays open while the call runs: the call holds a
  // use of it. A stream waiting between requests does not keep its database open: if the handle
  // was closed (idle, LRU), a session without a transaction simply moves to a fresh one. A new
  // stream takes a slot of its database's max_concurrent_streams.
  Status Attach(bool new_stream) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (stream_->session) {
        use_ = stream_->session->database().TryUse();
        if (use_) return Status::Ok();
        if (!stream_->session->autocommit())
          return Status(Code::kUnavailable, "the database was closed under an open transaction");
      }
      CAIRN_ASSIGN_OR_RETURN(auto db, service_->registry().Get(db_));
      if (new_stream && !stream_->slot && db->options().limits) {
        CAIRN_ASSIGN_OR_RETURN(stream_->slot,
                               engine::LiveLimits::TakeStreamSlot(db->options().limits, db_));
      }
      stream_->session = std::make_unique<engine::Session>(std::move(db));
    }
    return Status(Code::kUnavailable, "database '" + db_ + "' keeps closing; try again");
  }

  Status Resolve(const std::optional<std::string>& sql, const std::optional<int32_t>& sql_id,
                 std::string_view* out) const {
    if (sql) {
      *out = *sql;
      return Status::Ok();
    }
    auto it = stream_->stored_sql.find(*sql_id);
    if (it == stream_->stored_sql.end())
      return Status(Code::kSqlUnknownId,
                    "SQL text with id " + std::to_string(*sql_id) + " was not stored");
    *out = it->second;
    return Status::Ok();
  }

  Status StreamAvailable() const {
    if (!stream_)
      return Status(Code::kStreamInvalid, "the stream was closed by an earlier request");
    return Status::Ok();
  }

  // Runs one statement through `sink`. kWouldBlock means nothing happened.
  template <typename Sink>
  Result<ExecStats> RunStmt(const Stmt& stmt, Sink* sink, bool may_block) {
    CAIRN_RETURN_IF_ERROR(StreamAvailable());
    std::string_view sql;
    CAIRN_RETURN_IF_ERROR(Resolve(stmt.sql, stmt.sql_id, &sql));
    // Classified when decoded; SQL named by sql_id is classified here.
    const StmtSpec spec =
        stmt.kind ? StmtSpec{sql, stmt.args, stmt.named_args, stmt.want_rows, *stmt.kind}
                  : StmtSpec{sql, stmt.args, stmt.named_args, stmt.want_rows};
    return stream_->session->Execute(spec, sink, may_block);
  }

  bool Eval(const Condition& c, const std::vector<int8_t>& outcome) const {
    switch (c.kind) {
      case Condition::Kind::kOk:
        return outcome[c.step] == 1;
      case Condition::Kind::kError:
        return outcome[c.step] == 0;
      case Condition::Kind::kNot:
        return !Eval(c.conds[0], outcome);
      case Condition::Kind::kAnd:
        for (const auto& x : c.conds)
          if (!Eval(x, outcome)) return false;
        return true;
      case Condition::Kind::kOr:
        for (const auto& x : c.conds)
          if (Eval(x, outcome)) return true;
        return false;
      case Condition::Kind::kIsAutocommit:
        return !stream_ || stream_->session->autocommit();
    }
    return false;
  }

  // Runs a batch's steps from *next_step on, writing cursor entries (one JSON object per line) to
  // *entries. kWouldBlock: nothing of the blocked step was written, call again from *next_step;
  // kPermissionDenied: the call fails as a whole.
  Status RunCursorSteps(const Batch& batch, std::vector<int8_t>* outcome, size_t* next_step,
                        std::string* entries, bool may_block) {
    const auto& steps = batch.steps;
    for (; *next_step < steps.size(); ++*next_step) {
      const size_t i = *next_step;
      const BatchStep& step = steps[i];
      if (step.condition && !Eval(*step.condition, *outcome)) continue;
      const size_t mark = entries->size();
      const size_t budget_mark = budget_.used;
      CursorSink sink(entries, &budget_, static_cast<uint32_t>(i));
      auto stats = RunStmt(step.stmt, &sink, may_block);
      if (!stats.ok()) {
        entries->resize(mark);
        budget_.used = budget_mark;
        if (stats.status().code() == Code::kWouldBlock ||
            stats.status().code() == Code::kPermissionDenied)
          return stats.TakeStatus();
        (*outcome)[i] = 0;
        entries->append(R"({"type":"step_error","step":)");
        AppendInt(entries, static_cast<int64_t>(i));
        entries->append(R"(,"error":)");
        AppendErrorObject(entries, stats.status());
        entries->append("}\n");
        if (stats.status().code() == Code::kResponseTooLarge) break;
        continue;
      }
      sink.Finish(*stats);
      (*outcome)[i] = 1;
    }
    return Status::Ok();
  }

  std::string_view database() const override { return db_; }

  bool HoldsWriteLock() const override {
    return stream_ && stream_->session && stream_->session->holds_write_lock();
  }

  // Hands the stream back to the table (or closes it) and returns the baton JSON value.
  std::string FinishStream() {
    if (!stream_) return "null";
    if (stream_->id == 0) stream_->id = service_->streams().NewId();
    auto baton = service_->streams().Return(std::move(stream_));
    if (!baton.ok()) return "null";
    std::string out;
    AppendString(&out, *baton);
    return out;
  }

  void Fail(const Status& st) {
    metrics::Process().hrana_errors.Inc(ErrorCode(st));
    response_.status = HttpStatus(st);
    response_.content_type = "application/json";
    response_.body = ErrorBody(st);
  }

  // A read-only client tried to write: the whole request fails and its stream is closed.
  void Deny(const Status& st) {
    stream_.reset();
    Fail(st);
  }

  Service* const service_;
  const std::string db_;
  std::string body_;  // the request body, until decoded
  bool decoded_ = false;
  Status decode_error_;  // why the body is not a valid request
  const bool read_only_;
  std::unique_ptr<Stream> stream_;
  engine::Database::Use use_;  // while the call runs (see OpenStream)
  Budget budget_;
  bool started_ = false;
};

// Runs Hrana requests on the call's stream, appending to out_ each one's result:
// ok_open_ + the response's type and fields + "}}", or error_open_ + the error object + "}".
class RequestRunner : public StreamCall {
 protected:
  using StreamCall::StreamCall;

  void OkHeader(std::string_view type) {
    out_.append(ok_open_);
    out_.append(type);
    out_.push_back('"');
  }
  void ErrorResult(const Status& st) {
    out_.append(error_open_);
    AppendErrorObject(&out_, st);
    out_.push_back('}');
  }

  // Appends the result of one request; kWouldBlock (with nothing appended) to be retried;
  // kPermissionDenied fails the whole call.
  Status RunRequest(const Request& r, bool may_block) {
    const size_t mark = out_.size();
    const size_t budget_mark = budget_.used;
    Status st = RunRequestInner(r, may_block);
    if (!st.ok()) {
      out_.resize(mark);
      budget_.used = budget_mark;  // what a failed request wrote is not sent
      if (st.code() == Code::kWouldBlock || st.code() == Code::kPermissionDenied) return st;
      ErrorResult(st);
    }
    return Status::Ok();
  }

  Status RunRequestInner(const Request& r, bool may_block) {
    switch (r.kind) {
      case Request::Kind::kExecute: {
        OkHeader("execute");
        out_.append(R"(,"result":)");
        StmtResultSink sink(&out_, &budget_);
        CAIRN_ASSIGN_OR_RETURN(ExecStats stats, RunStmt(r.stmt, &sink, may_block));
        sink.Finish(stats);
        out_.append("}}");
        return Status::Ok();
      }
      case Request::Kind::kBatch:
        return RunBatch(r.batch, may_block);
      case Request::Kind::kSequence: {
        CAIRN_RETURN_IF_ERROR(StreamAvailable());
        std::string_view sql;
        CAIRN_RETURN_IF_ERROR(Resolve(r.sql, r.sql_id, &sql));
        CAIRN_RETURN_IF_ERROR(stream_->session->ExecuteScript(sql, may_block));
        OkHeader("sequence");
        out_.append("}}");
        return Status::Ok();
      }
      case Request::Kind::kDescribe: {
        CAIRN_RETURN_IF_ERROR(StreamAvailable());
        std::string_view sql;
        CAIRN_RETURN_IF_ERROR(Resolve(r.sql, r.sql_id, &sql));
        CAIRN_ASSIGN_OR_RETURN(engine::DescribeResult d, stream_->session->Describe(sql));
        OkHeader("describe");
        out_.append(R"(,"result":{"params":[)");
        for (size_t i = 0; i < d.params.size(); ++i) {
          if (i) out_.push_back(',');
          out_.append(R"({"name":)");
          AppendStringOrNull(&out_, d.params[i].name);
          out_.push_back('}');
        }
        out_.append(R"(],"cols":)");
        std::vector<ColumnInfo> cols;
        cols.reserve(d.cols.size());
        for (const auto& c : d.cols)
          cols.push_back(
              {c.name, c.decltype_ ? std::optional<std::string_view>(*c.decltype_) : std::nullopt});
        AppendCols(&out_, cols);
        out_.append(R"(,"is_explain":)");
        out_.append(d.is_explain ? "true" : "false");
        out_.append(R"(,"is_readonly":)");
        out_.append(d.is_readonly ? "true" : "false");
        out_.append("}}}");
        return Status::Ok();
      }
      case Request::Kind::kStoreSql: {
        CAIRN_RETURN_IF_ERROR(StreamAvailable());
        auto& stored = stream_->stored_sql;
        if (stored.count(*r.sql_id))
          return Status(Code::kInvalidRequest,
                        "SQL text with id " + std::to_string(*r.sql_id) + " is already stored");
        if (stored.size() >= service_->options().max_stored_sql)
          return Status(Code::kSqlStoreLimit,
                        "The server already stores " +
                            std::to_string(service_->options().max_stored_sql) +
                            " SQL texts, it cannot store more");
        if (r.sql->size() > service_->options().max_stored_sql_bytes)
          return Status(Code::kSqlStoreLimit, "The statement is too large to be stored: " +
                                                  std::to_string(r.sql->size()) + " bytes");
        stored.emplace(*r.sql_id, *r.sql);
        OkHeader("store_sql");
        out_.append("}}");
        return Status::Ok();
      }
      case Request::Kind::kCloseSql:
        CAIRN_RETURN_IF_ERROR(StreamAvailable());
        stream_->stored_sql.erase(*r.sql_id);
        OkHeader("close_sql");
        out_.append("}}");
        return Status::Ok();
      case Request::Kind::kClose:
        stream_.reset();  // closes the session: an open transaction rolls back
        OkHeader("close");
        out_.append("}}");
        return Status::Ok();
      case Request::Kind::kGetAutocommit:
        CAIRN_RETURN_IF_ERROR(StreamAvailable());
        OkHeader("get_autocommit");
        out_.append(R"(,"is_autocommit":)");
        out_.append(stream_->session->autocommit() ? "true" : "false");
        out_.append("}}");
        return Status::Ok();
    }
    return Status(Code::kInternal, "unhandled request kind");
  }

  // A batch is resumable step by step: a step that would block leaves earlier steps' results.
  Status RunBatch(const Batch& b, bool may_block) {
    const size_t n = b.steps.size();
    if (step_outcome_.size() != n) {
      step_outcome_.assign(n, -1);
      step_results_.assign(n, std::string());
      step_errors_.assign(n, std::string());
      next_step_ = 0;
    }
    for (; next_step_ < n; ++next_step_) {
      const BatchStep& step = b.steps[next_step_];
      if (step.condition && !Eval(*step.condition, step_outcome_)) continue;
      std::string& res = step_results_[next_step_];
      res.clear();
      const size_t budget_mark = budget_.used;
      StmtResultSink sink(&res, &budget_);
      auto stats = RunStmt(step.stmt, &sink, may_block);
      if (!stats.ok()) {
        budget_.used = budget_mark;
        if (stats.status().code() == Code::kWouldBlock ||
            stats.status().code() == Code::kPermissionDenied)
          return stats.TakeStatus();
        res.clear();
        step_outcome_[next_step_] = 0;
        AppendErrorObject(&step_errors_[next_step_], stats.status());
        continue;
      }
      sink.Finish(*stats);
      step_outcome_[next_step_] = 1;
    }
    OkHeader("batch");
    out_.append(R"(,"result":{"step_results":[)");
    for (size_t i = 0; i < n; ++i) {
      if (i) out_.push_back(',');
      out_.append(step_outcome_[i] == 1 ? step_results_[i] : std::string("null"));
    }
    out_.append(R"(],"step_errors":[)");
    for (size_t i = 0; i < n; ++i) {
      if (i) out_.push_back(',');
      out_.append(step_outcome_[i] == 0 ? step_errors_[i] : std::string("null"));
    }
    out_.append("]}}}");
    step_outcome_.clear();
    step_results_.clear();
    step_errors_.clear();
    return Status::Ok();
  }

  // Over HTTP the literals; a WebSocket call points them at its own texts (with its request id).
  std::string_view ok_open_ = R"({"type":"ok","response":{"type":")";
  std::string_view error_open_ = R"({"type":"error","error":)";
  std::string out_;
  // In-progress batch.
  size_t next_step_ = 0;
  std::vector<int8_t> step_outcome_;  // -1 not run, 0 error, 1 ok
  std::vector<std::string> step_results_;
  std::vector<std::string> step_errors_;
};

class PipelineCall final : public RequestRunner {
 public:
  PipelineCall(Service* service, Version version, std::string db, std::string body, bool read_only)
      : RequestRunner(service, std::move(db), std::move(body), read_only), version_(version) {}

  bool Run(bool may_block) override {
    if (!started_) {
      if (!Start(Decode())) return true;
      out_.reserve(512);
      out_ = R"({"results":[)";
    }
    while (next_ < req_.requests.size()) {
      size_t mark = out_.size();
      if (next_ > 0) out_.push_back(',');
      Status st = RunRequest(req_.requests[next_], may_block);
      if (st.code() == Code::kWouldBlock) {
        out_.resize(mark);
        return false;
      }
      if (st.code() == Code::kPermissionDenied) {
        Deny(st);
        return true;
      }
      ++next_;
    }
    out_.append(R"(],"baton":)");
    out_.append(FinishStream());
    out_.append(R"(,"base_url":null})");
    response_.body = std::move(out_);
    return true;
  }

  const HttpRequestHead* Decode() override {
    return DecodeOnce(version_ == Version::kV3 ? &DecodeV3 : &DecodeV2, &req_);
  }

 private:
  static Result<PipelineRequest> DecodeV2(std::string_view b) {
    return DecodePipeline(b, Version::kV2);
  }
  static Result<PipelineRequest> DecodeV3(std::string_view b) {
    return DecodePipeline(b, Version::kV3);
  }

  const Version version_;
  PipelineRequest req_;
  size_t next_ = 0;
};

class CursorCall final : public StreamCall {
 public:
  CursorCall(Service* service, std::string db, std::string body, bool read_only)
      : StreamCall(service, std::move(db), std::move(body), read_only) {}

  bool Run(bool may_block) override {
    if (!started_) {
      if (!Start(Decode())) return true;
      outcome_.assign(req_.batch.steps.size(), -1);
    }
    Status st = RunCursorSteps(req_.batch, &outcome_, &next_step_, &entries_, may_block);
    if (st.code() == Code::kWouldBlock) return false;
    if (st.code() == Code::kPermissionDenied) {
      Deny(st);
      return true;
    }
    std::string body = R"({"baton":)";
    body.append(FinishStream());
    body.append(",\"base_url\":null}\n");
    body.append(entries_);
    response_.body = std::move(body);
    response_.content_type = "text/plain";
    return true;
  }

  const HttpRequestHead* Decode() override { return DecodeOnce(&DecodeCursor, &req_); }

 private:
  CursorRequest req_;
  size_t next_step_ = 0;
  std::vector<int8_t> outcome_;
  std::string entries_;
};

// ---------------------------------------------------------------------------------------------
// Hrana over WebSocket (websocket.h)
// ---------------------------------------------------------------------------------------------

// A call whose message is known at once (hello, store_sql, protocol errors, ...). `stream`: the
// stream whose queue it came from (its successors wait for it), or none.
class ReadyCall final : public Call {
 public:
  explicit ReadyCall(std::string message) { response_.body = std::move(message); }
  bool Run(bool) override { return true; }
  std::optional<int32_t> stream;
};

std::string WsOkOpen(int32_t request_id) {
  std::string s = R"({"type":"response_ok","request_id":)";
  AppendInt(&s, request_id);
  s.append(R"(,"response":{"type":")");
  return s;
}

std::string WsErrorOpen(int32_t request_id) {
  std::string s = R"({"type":"response_error","request_id":)";
  AppendInt(&s, request_id);
  s.append(R"(,"error":)");
  return s;
}

std::string WsOk(int32_t request_id, std::string_view type) {
  std::string s = WsOkOpen(request_id);
  s.append(type);
  s.append(R"("}})");
  return s;
}

std::string WsError(int32_t request_id, const Status& st) {
  std::string s = WsErrorOpen(request_id);
  AppendErrorObject(&s, st);
  s.push_back('}');
  return s;
}

std::unique_ptr<Call> Ready(std::string message) {
  return std::make_unique<ReadyCall>(std::move(message));
}

// Cursors one WebSocket connection may hold open (each keeps its batch's entries in memory, up to
// the response size limit).
constexpr size_t kMaxWsCursors = 16;

}  // namespace

struct WsConnection::Impl {
  struct Slot {
    std::unique_ptr<Stream> stream;  // null while a call has it, or when failed
    bool busy = false;               // a call runs on the stream
    bool failed = false;             // its open_stream failed, or an error closed it
    std::deque<WsMessage> waiting;   // requests on the stream behind the running one
  };
  struct Cursor {
    int32_t stream_id = 0;
    bool pending = false;  // its open_cursor runs
    bool failed = false;
    std::deque<std::string> entries;  // JSON objects
  };

  Service* service = nullptr;
  int version = 3;
  std::string db;
  Authenticate authenticate;
  bool hello = false;  // a hello was accepted
  bool read_only = false;
  std::optional<int64_t> expires;  // the token's, Unix seconds
  std::unordered_map<int32_t, Slot> streams;
  // Requests that were queued on a stream closed by a queued close_stream: handled next.
  std::deque<WsMessage> orphans;
  size_t queued = 0;                             // requests in Slot::waiting and orphans
  std::unordered_map<int32_t, std::string> sql;  // store_sql, for every stream
  std::unordered_map<int32_t, Cursor> cursors;
  uint16_t close_code = 0;
  std::string close_reason;

  std::unique_ptr<Call> ProtocolError(std::string reason) {
    metrics::Process().hrana_errors.Inc("PROTOCOL_ERROR");
    if (close_code == 0) {
      close_code = 1002;
      close_reason = std::move(reason);
    }
    return Ready(std::string());
  }
  // The SQL texts a request names by sql_id, put in place (the call may run on another thread
  // while the connection stores or closes texts). False when one is not stored.
  bool Resolve(std::optional<std::string>* text, std::optional<int32_t>* id, int32_t* missing) {
    if (!id->has_value()) return true;
    auto it = sql.find(**id);
    if (it == sql.end()) {
      *missing = **id;
      return false;
    }
    *text = it->second;
    id->reset();
    return true;
  }
  bool ResolveAll(Request* r, int32_t* missing) {
    if (!Resolve(&r->stmt.sql, &r->stmt.sql_id, missing)) return false;
    for (BatchStep& step : r->batch.steps)
      if (!Resolve(&step.stmt.sql, &step.stmt.sql_id, missing)) return false;
    if (r->kind == Request::Kind::kSequence || r->kind == Request::Kind::kDescribe)
      return Resolve(&r->sql, &r->sql_id, missing);
    return true;
  }

  std::unique_ptr<Call> Handle(WsMessage m);
  std::unique_ptr<Call> Next(int32_t stream_id);
  void Queue(Slot& slot, WsMessage m) {
    slot.waiting.push_back(std::move(m));
    ++queued;
  }
};

namespace {

// Runs one request of a WebSocket connection on one of its streams (open_stream and open_cursor
// included). The stream is the call's while it runs — on the network thread, or on a thread that
// may block — and goes back to the connection in WsConnection::Complete, on the network thread.
class WsStreamCall final : public RequestRunner {
 public:
  WsStreamCall(Service* service, WsConnection::Impl* conn, WsMessage m)
      : RequestRunner(service, conn->db, std::string(), conn->read_only), m_(std::move(m)) {
    ws_ok_open_ = WsOkOpen(m_.request_id);
    ws_error_open_ = WsErrorOpen(m_.request_id);
    ok_open_ = ws_ok_open_;
    error_open_ = ws_error_open_;
    WsConnection::Impl::Slot& slot = conn->streams[m_.stream_id];
    slot.busy = true;
    if (m_.op == WsMessage::Op::kOpenStream) {
      stream_ = std::make_unique<Stream>();
      stream_->db = db_;
    } else {
      stream_ = std::move(slot.stream);
    }
  }

  bool Run(bool may_block) override {
    if (!started_) {
      started_ = true;
      const bool opening = m_.op == WsMessage::Op::kOpenStream;
      Status st = Attach(/*new_stream=*/opening);
      if (!st.ok()) {
        stream_.reset();  // the id stays in use; its requests fail until close_stream
        return Finish(st);
      }
      stream_->session->set_read_only(read_only_);
      if (const auto& limits = stream_->session->database().options().limits) {
        if (const uint64_t max = limits->max_response_bytes()) budget_.limit = max;
      }
      if (opening) {
        OkHeader("open_stream");
        out_.append("}}");
        return Finish(Status::Ok());
      }
      if (m_.op == WsMessage::Op::kOpenCursor) outcome_.assign(m_.request.batch.steps.size(), -1);
    }
    if (m_.op == WsMessage::Op::kOpenCursor) {
      Status st = RunCursorSteps(m_.request.batch, &outcome_, &next_step_, &entries_, may_block);
      if (st.code() == Code::kWouldBlock) return false;
      if (!st.ok()) {
        stream_.reset();  // a read-only client wrote: its stream closes, as over HTTP
        return Finish(st);
      }
      OkHeader("open_cursor");
      out_.append("}}");
      return Finish(Status::Ok());
    }
    Status st = RunRequest(m_.request, may_block);
    if (st.code() == Code::kWouldBlock) return false;
    if (!st.ok()) {  // kPermissionDenied: the stream closes, as over HTTP
      stream_.reset();
      return Finish(st);
    }
    return Finish(Status::Ok());
  }

  // On the network thread, once Run() returned true: the stream (or its failure) and a cursor's
  // entries go back to the connection. Returns the stream's id.
  int32_t PutBack(WsConnection::Impl* conn) {
    use_ = engine::Database::Use();
    WsConnection::Impl::Slot& slot = conn->streams[m_.stream_id];
    slot.busy = false;
    slot.failed = stream_ == nullptr;
    slot.stream = std::move(stream_);
    if (m_.op == WsMessage::Op::kOpenCursor) {
      WsConnection::Impl::Cursor& c = conn->cursors[m_.cursor_id];
      c.pending = false;
      c.failed = failed_;
      for (size_t at = 0; !failed_ && at < entries_.size();) {
        const size_t nl = entries_.find('\n', at);
        c.entries.emplace_back(entries_, at, nl - at);
        at = nl + 1;
      }
    }
    return m_.stream_id;
  }

 private:
  bool Finish(const Status& st) {
    if (!st.ok()) {
      failed_ = true;
      out_.clear();
      ErrorResult(st);
    }
    response_.body = std::move(out_);
    return true;
  }

  WsMessage m_;
  std::string ws_ok_open_, ws_error_open_;
  bool failed_ = false;
  std::vector<int8_t> outcome_;  // open_cursor
  std::string entries_;
};

}  // namespace

std::unique_ptr<Call> WsConnection::Impl::Handle(WsMessage m) {
  if (m.kind == WsMessage::Kind::kHello) {
    auto access = authenticate ? authenticate(m.jwt) : Result<WsAccess>(WsAccess{});
    if (!access.ok()) {
      close_code = 1008;
      close_reason = "hello refused";
      std::string msg = R"({"type":"hello_error","error":)";
      AppendErrorObject(&msg, access.status());
      msg.push_back('}');
      return Ready(std::move(msg));
    }
    hello = true;
    read_only = access->read_only;
    expires = access->expires;
    return Ready(R"({"type":"hello_ok"})");
  }
  if (!hello) return ProtocolError("the first message must be hello");
  if (expires && service->options().clock->WallMicros() / 1'000'000 >= *expires) {
    close_code = 1008;
    close_reason = "the token expired: send hello with a new one";
    return Ready(std::string());
  }
  const int32_t id = m.request_id;
  const std::string sid = std::to_string(m.stream_id);
  switch (m.op) {
    case WsMessage::Op::kOpenStream:
      if (streams.count(m.stream_id)) return ProtocolError("stream " + sid + " is already open");
      if (streams.size() >= service->options().max_streams) {
        if (streams.size() >= 2 * service->options().max_streams)
          return ProtocolError("too many streams, even failed ones, are open");
        streams[m.stream_id].failed = true;  // the id is in use until close_stream
        return Ready(WsError(
            id, Status(Code::kTooManyStreams, "this connection has too many open streams")));
      }
      return std::make_unique<WsStreamCall>(service, this, std::move(m));
    case WsMessage::Op::kCloseStream: {
      auto it = streams.find(m.stream_id);
      if (it != streams.end() && it->second.busy) {
        Queue(it->second, std::move(m));
        return nullptr;
      }
      if (it != streams.end()) {
        // An open transaction rolls back with the session; the stream's cursors go with it.
        // What still waited on it (sent after close_stream: cursor closes, or mistakes) is
        // answered next.
        for (WsMessage& w : it->second.waiting) orphans.push_back(std::move(w));
        streams.erase(it);
        std::erase_if(cursors, [&](const auto& c) { return c.second.stream_id == m.stream_id; });
      }
      return Ready(WsOk(id, "close_stream"));
    }
    case WsMessage::Op::kStream:
    case WsMessage::Op::kOpenCursor: {
      auto it = streams.find(m.stream_id);
      if (it == streams.end()) return ProtocolError("stream " + sid + " is not open");
      const bool cursor = m.op == WsMessage::Op::kOpenCursor;
      if (cursor && cursors.count(m.cursor_id))
        return ProtocolError("cursor " + std::to_string(m.cursor_id) + " is already open");
      // Stored texts are looked up now, as the request arrives: a close_sql / store_sql sent
      // after it must not change what it runs, even if it waits behind another request.
      int32_t missing = 0;
      if (!ResolveAll(&m.request, &missing)) {
        if (cursor) cursors[m.cursor_id] = Cursor{m.stream_id, false, /*failed=*/true};
        return Ready(
            WsError(id, Status(Code::kSqlUnknownId,
                               "SQL text with id " + std::to_string(missing) + " was not stored")));
      }
      if (cursor && cursors.size() >= kMaxWsCursors) {
        cursors[m.cursor_id] = Cursor{m.stream_id, false, /*failed=*/true};
        return Ready(WsError(id, Status(Code::kInvalidRequest,
                                        "this connection has " + std::to_string(kMaxWsCursors) +
                                            " open cursors: close one first")));
      }
      if (cursor) cursors[m.cursor_id] = Cursor{m.stream_id, /*pending=*/true};
      if (it->second.busy) {
        Queue(it->second, std::move(m));
        return nullptr;
      }
      if (it->second.failed) {
        if (cursor) cursors[m.cursor_id] = Cursor{m.stream_id, false, /*failed=*/true};
        return Ready(
            WsError(id, Status(Code::kStreamInvalid,
                               "stream " + sid + " failed to open or was closed by an error")));
      }
      return std::make_unique<WsStreamCall>(service, this, std::move(m));
    }
    case WsMessage::Op::kStoreSql: {
      const int32_t sql_id = *m.request.sql_id;
      if (sql.count(sql_id))
        return ProtocolError("SQL text " + std::to_string(sql_id) + " is already stored");
      const ServiceOptions& o = service->options();
      if (sql.size() >= o.max_stored_sql)
        return Ready(
            WsError(id, Status(Code::kSqlStoreLimit, "The server already stores " +
                                                         std::to_string(o.max_stored_sql) +
                                                         " SQL texts, it cannot store more")));
      if (m.request.sql->size() > o.max_stored_sql_bytes)
        return Ready(WsError(id, Status(Code::kSqlStoreLimit,
                                        "The statement is too large to be stored: " +
                                            std::to_string(m.request.sql->size()) + " bytes")));
      sql.emplace(sql_id, std::move(*m.request.sql));
      return Ready(WsOk(id, "store_sql"));
    }
    case WsMessage::Op::kCloseSql:
      sql.erase(*m.request.sql_id);
      return Ready(WsOk(id, "close_sql"));
    case WsMessage::Op::kCloseCursor:
    case WsMessage::Op::kFetchCursor: {
      auto it = cursors.find(m.cursor_id);
      const bool fetch = m.op == WsMessage::Op::kFetchCursor;
      if (it == cursors.end()) {
        if (!fetch) return Ready(WsOk(id, "close_cursor"));
        return ProtocolError("cursor " + std::to_string(m.cursor_id) + " is not open");
      }
      if (it->second.pending) {  // behind its open_cursor, on its stream
        Queue(streams[it->second.stream_id], std::move(m));
        return nullptr;
      }
      if (!fetch) {
        cursors.erase(it);
        return Ready(WsOk(id, "close_cursor"));
      }
      if (it->second.failed)
        return Ready(
            WsError(id, Status(Code::kInvalidRequest,
                               "cursor " + std::to_string(m.cursor_id) + " failed to open")));
      std::string msg = WsOkOpen(id);
      msg.append(R"(fetch_cursor","entries":[)");
      auto& entries = it->second.entries;
      for (uint32_t n = 0; n < m.max_count && !entries.empty(); ++n) {
        if (n) msg.push_back(',');
        msg.append(entries.front());
        entries.pop_front();
      }
      msg.append(R"(],"done":)");
      msg.append(entries.empty() ? "true" : "false");
      msg.append("}}");
      return Ready(std::move(msg));
    }
  }
  return ProtocolError("unhandled request");
}

// The next request that waited: one whose stream was closed under it, else the next on
// `stream_id`, now that nothing runs there.
std::unique_ptr<Call> WsConnection::Impl::Next(int32_t stream_id) {
  for (;;) {
    WsMessage m;
    if (!orphans.empty()) {
      m = std::move(orphans.front());
      orphans.pop_front();
    } else {
      auto it = streams.find(stream_id);
      if (it == streams.end() || it->second.busy || it->second.waiting.empty()) return nullptr;
      m = std::move(it->second.waiting.front());
      it->second.waiting.pop_front();
    }
    --queued;
    if (m.op == WsMessage::Op::kOpenCursor) cursors.erase(m.cursor_id);  // Handle registers it
    std::unique_ptr<Call> call = Handle(std::move(m));
    if (call == nullptr) continue;  // queued again (behind a cursor still opening)
    // Its completion goes on with what waits on this stream.
    if (auto* ready = dynamic_cast<ReadyCall*>(call.get())) ready->stream = stream_id;
    return call;
  }
}

WsConnection::WsConnection(Service* service, int version, std::string db, Authenticate authenticate)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = service;
  impl_->version = version;
  impl_->db = std::move(db);
  impl_->authenticate = std::move(authenticate);
}

WsConnection::~WsConnection() = default;

std::unique_ptr<Call> WsConnection::Message(std::string text) {
  if (impl_->close_code != 0) return Ready(std::string());
  auto m = DecodeWsMessage(text, impl_->version);
  if (!m.ok()) return impl_->ProtocolError(m.status().message());
  return impl_->Handle(std::move(m).value());
}

size_t WsConnection::queued() const { return impl_->queued; }

std::unique_ptr<Call> WsConnection::Complete(Call* call) {
  std::optional<int32_t> stream;
  if (auto* s = dynamic_cast<WsStreamCall*>(call)) {
    stream = s->PutBack(impl_.get());
  } else if (auto* r = dynamic_cast<ReadyCall*>(call)) {
    stream = r->stream;
  }
  if (!stream || impl_->close_code != 0) return nullptr;
  return impl_->Next(*stream);
}

uint16_t WsConnection::close_code() const { return impl_->close_code; }
const std::string& WsConnection::close_reason() const { return impl_->close_reason; }

Service::Service(engine::Registry* registry, const ServiceOptions& opts)
    : registry_(registry),
      opts_(opts),
      streams_(opts.clock, opts.stream_idle_timeout, opts.max_streams) {}

std::unique_ptr<Call> Service::Pipeline(Version version, std::string db, std::string body,
                                        bool read_only) {
  return std::make_unique<PipelineCall>(this, version, std::move(db), std::move(body), read_only);
}

std::unique_ptr<Call> Service::Cursor(std::string db, std::string body, bool read_only) {
  return std::make_unique<CursorCall>(this, std::move(db), std::move(body), read_only);
}

}  // namespace cairn::hrana
