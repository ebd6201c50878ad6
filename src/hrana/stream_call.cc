#include "hrana/stream_call.h"

#include "hrana/errors.h"
#include "metrics/metrics.h"

namespace cairn::hrana {

using engine::ColumnInfo;
using engine::ExecStats;
using engine::StmtSpec;

StreamCall::StreamCall(Service* service, std::string db, std::string body, bool read_only)
    : service_(service), db_(std::move(db)), body_(std::move(body)), read_only_(read_only) {
  budget_.limit = service->options().max_response_bytes;
}

bool StreamCall::HoldsWriteLock() const {
  return stream_ && stream_->session && stream_->session->holds_write_lock();
}

bool StreamCall::Start(const HttpRequestHead* req) {
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
  ApplyLimits();
  return true;
}

Status StreamCall::OpenStream(const std::optional<std::string>& baton) {
  if (baton) {
    CAIRN_ASSIGN_OR_RETURN(stream_, service_->streams().Checkout(*baton, db_));
  } else {
    stream_ = std::make_unique<Stream>();
    stream_->db = db_;
  }
  return Attach(/*new_stream=*/!baton);
}

Status StreamCall::Attach(bool new_stream) {
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

void StreamCall::ApplyLimits() {
  stream_->session->set_read_only(read_only_);
  if (const auto& limits = stream_->session->database().options().limits) {
    if (const uint64_t max = limits->max_response_bytes()) budget_.limit = max;  // its own
  }
}

Status StreamCall::Resolve(const std::optional<std::string>& sql,
                           const std::optional<int32_t>& sql_id, std::string_view* out) const {
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

Status StreamCall::StreamAvailable() const {
  if (!stream_) return Status(Code::kStreamInvalid, "the stream was closed by an earlier request");
  return Status::Ok();
}

Result<ExecStats> StreamCall::RunStmt(const Stmt& stmt, engine::RowSink* sink, bool may_block) {
  CAIRN_RETURN_IF_ERROR(StreamAvailable());
  std::string_view sql;
  CAIRN_RETURN_IF_ERROR(Resolve(stmt.sql, stmt.sql_id, &sql));
  // Classified when decoded; SQL named by sql_id is classified here.
  const StmtSpec spec = stmt.kind
                            ? StmtSpec{sql, stmt.args, stmt.named_args, stmt.want_rows, *stmt.kind}
                            : StmtSpec{sql, stmt.args, stmt.named_args, stmt.want_rows};
  return stream_->session->Execute(spec, sink, may_block);
}

bool StreamCall::Eval(const Condition& c, const std::vector<int8_t>& outcome) const {
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

Status StreamCall::RunCursorSteps(const Batch& batch, std::vector<int8_t>* outcome,
                                  size_t* next_step, std::string* entries, bool may_block) {
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
      WriteCursorStepError(entries, i, stats.status());
      if (stats.status().code() == Code::kResponseTooLarge) break;
      continue;
    }
    sink.Finish(*stats);
    (*outcome)[i] = 1;
  }
  return Status::Ok();
}

void StreamCall::FinishStream(JsonWriter& w) {
  if (!stream_) {
    w.Null();
    return;
  }
  if (stream_->id == 0) stream_->id = service_->streams().NewId();
  auto baton = service_->streams().Return(std::move(stream_));
  if (baton.ok()) {
    w.String(*baton);
  } else {
    w.Null();
  }
}

void StreamCall::Fail(const Status& st) {
  metrics::Process().hrana_errors.Inc(ErrorCode(st));
  response_.status = HttpStatus(st);
  response_.content_type = "application/json";
  response_.body = ErrorBody(st);
}

void StreamCall::Deny(const Status& st) {
  stream_.reset();
  Fail(st);
}

Status RequestRunner::RunRequest(const Request& r, JsonWriter& w, bool may_block) {
  const size_t mark = out_.size();
  const JsonWriter writer_mark = w;
  const size_t budget_mark = budget_.used;
  Status st = RunRequestInner(r, w, may_block);
  if (!st.ok()) {
    out_.resize(mark);
    w = writer_mark;
    budget_.used = budget_mark;  // what a failed request wrote is not sent
    if (st.code() == Code::kWouldBlock || st.code() == Code::kPermissionDenied) return st;
    WriteErrorResult(w, ws_id_, st);
  }
  return Status::Ok();
}

Status RequestRunner::RunRequestInner(const Request& r, JsonWriter& w, bool may_block) {
  switch (r.kind) {
    case Request::Kind::kExecute: {
      BeginOk(w, ws_id_, "execute");
      w.RawPrefix(R"(,"result":)");
      StmtResultSink sink(&out_, &budget_);
      CAIRN_ASSIGN_OR_RETURN(ExecStats stats, RunStmt(r.stmt, &sink, may_block));
      sink.Finish(stats);
      w.EndObject().EndObject();
      return Status::Ok();
    }
    case Request::Kind::kBatch:
      return RunBatch(r.batch, w, may_block);
    case Request::Kind::kSequence: {
      CAIRN_RETURN_IF_ERROR(StreamAvailable());
      std::string_view sql;
      CAIRN_RETURN_IF_ERROR(Resolve(r.sql, r.sql_id, &sql));
      CAIRN_RETURN_IF_ERROR(stream_->session->ExecuteScript(sql, may_block));
      WriteOk(w, ws_id_, "sequence");
      return Status::Ok();
    }
    case Request::Kind::kDescribe: {
      CAIRN_RETURN_IF_ERROR(StreamAvailable());
      std::string_view sql;
      CAIRN_RETURN_IF_ERROR(Resolve(r.sql, r.sql_id, &sql));
      CAIRN_ASSIGN_OR_RETURN(engine::DescribeResult d, stream_->session->Describe(sql));
      BeginOk(w, ws_id_, "describe");
      w.Key("result").BeginObject().Key("params").BeginArray();
      for (const auto& p : d.params) {
        w.BeginObject().Key("name");
        if (p.name) {
          w.String(*p.name);
        } else {
          w.Null();
        }
        w.EndObject();
      }
      w.EndArray().Key("cols");
      std::vector<ColumnInfo> cols;
      cols.reserve(d.cols.size());
      for (const auto& c : d.cols)
        cols.push_back(
            {c.name, c.decltype_ ? std::optional<std::string_view>(*c.decltype_) : std::nullopt});
      WriteCols(w, cols);
      w.Key("is_explain").Bool(d.is_explain).Key("is_readonly").Bool(d.is_readonly);
      w.EndObject().EndObject().EndObject();
      return Status::Ok();
    }
    case Request::Kind::kStoreSql: {
      CAIRN_RETURN_IF_ERROR(StreamAvailable());
      auto& stored = stream_->stored_sql;
      if (stored.count(*r.sql_id))
        return Status(Code::kInvalidRequest,
                      "SQL text with id " + std::to_string(*r.sql_id) + " is already stored");
      if (stored.size() >= service_->options().max_stored_sql)
        return Status(Code::kSqlStoreLimit, "The server already stores " +
                                                std::to_string(service_->options().max_stored_sql) +
                                                " SQL texts, it cannot store more");
      if (r.sql->size() > service_->options().max_stored_sql_bytes)
        return Status(Code::kSqlStoreLimit, "The statement is too large to be stored: " +
                                                std::to_string(r.sql->size()) + " bytes");
      stored.emplace(*r.sql_id, *r.sql);
      WriteOk(w, ws_id_, "store_sql");
      return Status::Ok();
    }
    case Request::Kind::kCloseSql:
      CAIRN_RETURN_IF_ERROR(StreamAvailable());
      stream_->stored_sql.erase(*r.sql_id);
      WriteOk(w, ws_id_, "close_sql");
      return Status::Ok();
    case Request::Kind::kClose:
      stream_.reset();  // closes the session: an open transaction rolls back
      WriteOk(w, ws_id_, "close");
      return Status::Ok();
    case Request::Kind::kGetAutocommit:
      CAIRN_RETURN_IF_ERROR(StreamAvailable());
      BeginOk(w, ws_id_, "get_autocommit");
      w.Key("is_autocommit").Bool(stream_->session->autocommit());
      w.EndObject().EndObject();
      return Status::Ok();
  }
  return Status(Code::kInternal, "unhandled request kind");
}

Status RequestRunner::RunBatch(const Batch& b, JsonWriter& w, bool may_block) {
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
      JsonWriter error(&step_errors_[next_step_]);
      WriteCountedError(error, stats.status());
      continue;
    }
    sink.Finish(*stats);
    step_outcome_[next_step_] = 1;
  }
  BeginOk(w, ws_id_, "batch");
  w.RawPrefix(R"(,"result":{"step_results":[)");
  for (size_t i = 0; i < n; ++i) {
    if (step_outcome_[i] == 1) {
      w.Raw(step_results_[i]);
    } else {
      w.Null();
    }
  }
  w.EndArray().RawPrefix(R"(,"step_errors":[)");
  for (size_t i = 0; i < n; ++i) {
    if (step_outcome_[i] == 0) {
      w.Raw(step_errors_[i]);
    } else {
      w.Null();
    }
  }
  w.EndArray().EndObject().EndObject().EndObject();
  step_outcome_.clear();
  step_results_.clear();
  step_errors_.clear();
  return Status::Ok();
}

}  // namespace cairn::hrana
