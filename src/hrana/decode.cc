// JSON → protocol structs, with simdjson's DOM API (chosen by measurement: docs/benchmarks.md).
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "base/base64.h"
#include "hrana/protocol.h"

namespace cairn::hrana {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

Status Bad(std::string msg) { return Status(Code::kInvalidRequest, std::move(msg)); }

// One parser per thread: it keeps its buffers between requests.
simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

Result<object> AsObject(element e, std::string_view what) {
  object o;
  if (e.get_object().get(o)) return Bad(std::string(what) + " must be an object");
  return o;
}

Result<std::string_view> AsString(element e, std::string_view what) {
  std::string_view s;
  if (e.get_string().get(s)) return Bad(std::string(what) + " must be a string");
  return s;
}

// Reads an optional field; a JSON null counts as absent.
bool Field(object o, std::string_view key, element* out) {
  element e;
  if (o.at_key(key).get(e)) return false;
  if (e.is_null()) return false;
  *out = e;
  return true;
}

Result<int32_t> AsInt32(element e, std::string_view what) {
  int64_t v;
  if (e.get_int64().get(v) || v < INT32_MIN || v > INT32_MAX)
    return Bad(std::string(what) + " must be a 32-bit integer");
  return static_cast<int32_t>(v);
}

// libSQL sends replication_index as a decimal string. Anything else reads as 0 (no position asked):
// only a replica uses it, and it never refuses a request for it.
uint64_t ReplicationIndex(object o) {
  element f;
  std::string_view s;
  uint64_t v = 0;
  if (Field(o, "replication_index", &f) && f.get_string().get(s) == simdjson::SUCCESS)
    std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Result<Value> DecodeValue(element e) {
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(e, "value"));
  element type_el;
  if (!Field(o, "type", &type_el)) return Bad("value must have a type");
  CAIRN_ASSIGN_OR_RETURN(std::string_view type, AsString(type_el, "value type"));
  element v;
  if (type == "null") return Value::Null();
  if (type == "integer") {
    if (!Field(o, "value", &v)) return Bad("integer value must have a value");
    int64_t i;
    if (v.is_string()) {
      std::string_view s = v.get_string().value_unsafe();
      auto r = std::from_chars(s.data(), s.data() + s.size(), i);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty())
        return Bad("integer value must be a decimal string of a 64-bit integer");
      return Value::Integer(i);
    }
    if (!v.get_int64().get(i)) return Value::Integer(i);
    return Bad("integer value must be a decimal string of a 64-bit integer");
  }
  if (type == "float") {
    if (!Field(o, "value", &v)) return Bad("float value must have a value");
    double d;
    if (v.get_double().get(d)) {
      int64_t i;
      uint64_t u;
      if (!v.get_int64().get(i)) return Value::Float(static_cast<double>(i));
      if (!v.get_uint64().get(u)) return Value::Float(static_cast<double>(u));
      return Bad("float value must be a number");
    }
    return Value::Float(d);
  }
  if (type == "text") {
    if (!Field(o, "value", &v)) return Bad("text value must have a value");
    CAIRN_ASSIGN_OR_RETURN(std::string_view s, AsString(v, "text value"));
    return Value::Text(std::string(s));
  }
  if (type == "blob") {
    if (!Field(o, "base64", &v)) return Value::Blob({});
    CAIRN_ASSIGN_OR_RETURN(std::string_view s, AsString(v, "blob base64"));
    auto bytes = Base64Decode(s);
    if (!bytes) return Bad("blob base64 is not valid base64");
    return Value::Blob(std::move(*bytes));
  }
  return Bad("unknown value type '" + std::string(type) + "'");
}

Result<Stmt> DecodeStmt(element e) {
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(e, "stmt"));
  Stmt s;
  element f;
  if (Field(o, "sql", &f)) {
    CAIRN_ASSIGN_OR_RETURN(std::string_view sql, AsString(f, "stmt.sql"));
    s.sql = std::string(sql);
    s.kind = sqlite::ClassifyStatement(sql);
  }
  if (Field(o, "sql_id", &f)) {
    CAIRN_ASSIGN_OR_RETURN(s.sql_id, AsInt32(f, "stmt.sql_id"));
  }
  if (s.sql.has_value() == s.sql_id.has_value())
    return Bad("stmt must have exactly one of sql and sql_id");
  if (Field(o, "args", &f)) {
    simdjson::dom::array arr;
    if (f.get_array().get(arr)) return Bad("stmt.args must be an array");
    s.args.reserve(arr.size());
    for (element a : arr) {
      CAIRN_ASSIGN_OR_RETURN(Value v, DecodeValue(a));
      s.args.push_back(std::move(v));
    }
  }
  if (Field(o, "named_args", &f)) {
    simdjson::dom::array arr;
    if (f.get_array().get(arr)) return Bad("stmt.named_args must be an array");
    for (element a : arr) {
      CAIRN_ASSIGN_OR_RETURN(object na, AsObject(a, "named arg"));
      element name_el, value_el;
      if (!Field(na, "name", &name_el) || !Field(na, "value", &value_el))
        return Bad("named arg must have a name and a value");
      CAIRN_ASSIGN_OR_RETURN(std::string_view name, AsString(name_el, "named arg name"));
      CAIRN_ASSIGN_OR_RETURN(Value v, DecodeValue(value_el));
      s.named_args.emplace_back(std::string(name), std::move(v));
    }
  }
  if (Field(o, "want_rows", &f)) {
    bool b;
    if (f.get_bool().get(b)) return Bad("stmt.want_rows must be a boolean");
    s.want_rows = b;
  }
  s.replication_index = ReplicationIndex(o);
  return s;
}

Result<Condition> DecodeCondition(element e, uint32_t step_index, Version version, int depth) {
  if (depth > 64) return Bad("batch condition is nested too deeply");
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(e, "condition"));
  element f;
  if (!Field(o, "type", &f)) return Bad("condition must have a type");
  CAIRN_ASSIGN_OR_RETURN(std::string_view type, AsString(f, "condition type"));
  Condition c;
  if (type == "ok" || type == "error") {
    c.kind = type == "ok" ? Condition::Kind::kOk : Condition::Kind::kError;
    if (!Field(o, "step", &f)) return Bad("condition must have a step");
    int64_t step;
    if (f.get_int64().get(step) || step < 0) return Bad("condition step must be an integer");
    if (step >= step_index) return Bad("a condition may refer only to earlier steps");
    c.step = static_cast<uint32_t>(step);
    return c;
  }
  if (type == "not") {
    c.kind = Condition::Kind::kNot;
    if (!Field(o, "cond", &f)) return Bad("not condition must have a cond");
    CAIRN_ASSIGN_OR_RETURN(Condition inner, DecodeCondition(f, step_index, version, depth + 1));
    c.conds.push_back(std::move(inner));
    return c;
  }
  if (type == "and" || type == "or") {
    c.kind = type == "and" ? Condition::Kind::kAnd : Condition::Kind::kOr;
    if (!Field(o, "conds", &f)) return Bad("condition must have conds");
    simdjson::dom::array arr;
    if (f.get_array().get(arr)) return Bad("condition conds must be an array");
    for (element x : arr) {
      CAIRN_ASSIGN_OR_RETURN(Condition inner, DecodeCondition(x, step_index, version, depth + 1));
      c.conds.push_back(std::move(inner));
    }
    return c;
  }
  if (type == "is_autocommit" && version == Version::kV3) {
    c.kind = Condition::Kind::kIsAutocommit;
    return c;
  }
  return Bad("unknown condition type '" + std::string(type) + "'");
}

Result<Batch> DecodeBatch(element e, Version version) {
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(e, "batch"));
  element f;
  if (!Field(o, "steps", &f)) return Bad("batch must have steps");
  simdjson::dom::array arr;
  if (f.get_array().get(arr)) return Bad("batch steps must be an array");
  Batch b;
  b.replication_index = ReplicationIndex(o);
  b.steps.reserve(arr.size());
  uint32_t index = 0;
  for (element s : arr) {
    CAIRN_ASSIGN_OR_RETURN(object so, AsObject(s, "batch step"));
    BatchStep step;
    element x;
    if (Field(so, "condition", &x)) {
      CAIRN_ASSIGN_OR_RETURN(Condition c, DecodeCondition(x, index, version, 0));
      step.condition = std::move(c);
    }
    if (!Field(so, "stmt", &x)) return Bad("batch step must have a stmt");
    CAIRN_ASSIGN_OR_RETURN(step.stmt, DecodeStmt(x));
    b.steps.push_back(std::move(step));
    ++index;
  }
  return b;
}

// sql / sql_id pair of sequence and describe: exactly one.
Status DecodeSqlOrId(object o, Request* r, std::string_view kind) {
  element f;
  if (Field(o, "sql", &f)) {
    CAIRN_ASSIGN_OR_RETURN(std::string_view sql, AsString(f, "sql"));
    r->sql = std::string(sql);
  }
  if (Field(o, "sql_id", &f)) {
    CAIRN_ASSIGN_OR_RETURN(r->sql_id, AsInt32(f, "sql_id"));
  }
  if (r->sql.has_value() == r->sql_id.has_value())
    return Bad(std::string(kind) + " request must have exactly one of sql and sql_id");
  return Status::Ok();
}

Result<Request> DecodeRequest(element e, Version version) {
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(e, "request"));
  element f;
  if (!Field(o, "type", &f)) return Bad("request must have a type");
  CAIRN_ASSIGN_OR_RETURN(std::string_view type, AsString(f, "request type"));
  Request r;
  if (type == "execute") {
    r.kind = Request::Kind::kExecute;
    if (!Field(o, "stmt", &f)) return Bad("execute request must have a stmt");
    CAIRN_ASSIGN_OR_RETURN(r.stmt, DecodeStmt(f));
  } else if (type == "batch") {
    r.kind = Request::Kind::kBatch;
    if (!Field(o, "batch", &f)) return Bad("batch request must have a batch");
    CAIRN_ASSIGN_OR_RETURN(r.batch, DecodeBatch(f, version));
  } else if (type == "sequence") {
    r.kind = Request::Kind::kSequence;
    CAIRN_RETURN_IF_ERROR(DecodeSqlOrId(o, &r, type));
  } else if (type == "describe") {
    r.kind = Request::Kind::kDescribe;
    CAIRN_RETURN_IF_ERROR(DecodeSqlOrId(o, &r, type));
  } else if (type == "store_sql") {
    r.kind = Request::Kind::kStoreSql;
    if (!Field(o, "sql_id", &f)) return Bad("store_sql request must have a sql_id");
    CAIRN_ASSIGN_OR_RETURN(r.sql_id, AsInt32(f, "sql_id"));
    if (!Field(o, "sql", &f)) return Bad("store_sql request must have a sql");
    CAIRN_ASSIGN_OR_RETURN(std::string_view sql, AsString(f, "sql"));
    r.sql = std::string(sql);
  } else if (type == "close_sql") {
    r.kind = Request::Kind::kCloseSql;
    if (!Field(o, "sql_id", &f)) return Bad("close_sql request must have a sql_id");
    CAIRN_ASSIGN_OR_RETURN(r.sql_id, AsInt32(f, "sql_id"));
  } else if (type == "close") {
    r.kind = Request::Kind::kClose;
  } else if (type == "get_autocommit" && version == Version::kV3) {
    r.kind = Request::Kind::kGetAutocommit;
  } else {
    return Bad("unknown request type '" + std::string(type) + "'");
  }
  return r;
}

Result<element> ParseRoot(std::string_view body) {
  element root;
  auto err = Parser().parse(body.data(), body.size()).get(root);
  if (err)
    return Bad(std::string("request body is not valid JSON: ") + simdjson::error_message(err));
  return root;
}

Status DecodeBaton(object o, std::optional<std::string>* baton) {
  element f;
  if (Field(o, "baton", &f)) {
    CAIRN_ASSIGN_OR_RETURN(std::string_view b, AsString(f, "baton"));
    *baton = std::string(b);
  }
  return Status::Ok();
}

// Whether one statement counts for HttpRequestHead::may_write.
bool MayWrite(const sqlite::StatementKind& k, const HttpRequestHead& head) {
  return k.writes || k.opens_write_transaction() || k.pragma_assignment ||
         (k.ends_transaction() && !head.baton);
}

void Note(const Stmt& s, HttpRequestHead* head) {
  if (s.kind && MayWrite(*s.kind, *head)) head->may_write = true;
  head->replication_index = std::max(head->replication_index, s.replication_index);
}

void Note(const Batch& b, HttpRequestHead* head) {
  head->replication_index = std::max(head->replication_index, b.replication_index);
  for (const BatchStep& step : b.steps) Note(step.stmt, head);
}

}  // namespace

std::string_view RequestKindName(Request::Kind kind) {
  switch (kind) {
    case Request::Kind::kExecute:
      return "execute";
    case Request::Kind::kBatch:
      return "batch";
    case Request::Kind::kSequence:
      return "sequence";
    case Request::Kind::kDescribe:
      return "describe";
    case Request::Kind::kStoreSql:
      return "store_sql";
    case Request::Kind::kCloseSql:
      return "close_sql";
    case Request::Kind::kClose:
      return "close";
    case Request::Kind::kGetAutocommit:
      return "get_autocommit";
  }
  return "unknown";
}

Result<PipelineRequest> DecodePipeline(std::string_view body, Version version) {
  CAIRN_ASSIGN_OR_RETURN(element root, ParseRoot(body));
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(root, "pipeline request"));
  PipelineRequest p;
  CAIRN_RETURN_IF_ERROR(DecodeBaton(o, &p.baton));
  element f;
  if (!Field(o, "requests", &f)) return Bad("pipeline request must have requests");
  simdjson::dom::array arr;
  if (f.get_array().get(arr)) return Bad("requests must be an array");
  p.requests.reserve(arr.size());
  for (element r : arr) {
    CAIRN_ASSIGN_OR_RETURN(Request req, DecodeRequest(r, version));
    p.requests.push_back(std::move(req));
  }
  for (const Request& r : p.requests) {
    switch (r.kind) {
      case Request::Kind::kExecute:
        Note(r.stmt, &p);
        break;
      case Request::Kind::kBatch:
        Note(r.batch, &p);
        break;
      case Request::Kind::kSequence:
        p.may_write = true;  // a script: the primary runs it
        break;
      case Request::Kind::kStoreSql:
        if (MayWrite(sqlite::ClassifyStatement(*r.sql), p)) p.may_write = true;
        break;
      default:
        break;
    }
  }
  return p;
}

Result<CursorRequest> DecodeCursor(std::string_view body) {
  CAIRN_ASSIGN_OR_RETURN(element root, ParseRoot(body));
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(root, "cursor request"));
  CursorRequest c;
  CAIRN_RETURN_IF_ERROR(DecodeBaton(o, &c.baton));
  element f;
  if (!Field(o, "batch", &f)) return Bad("cursor request must have a batch");
  CAIRN_ASSIGN_OR_RETURN(c.batch, DecodeBatch(f, Version::kV3));
  Note(c.batch, &c);
  return c;
}

Result<WsMessage> DecodeWsMessage(std::string_view text, int version) {
  CAIRN_ASSIGN_OR_RETURN(element root, ParseRoot(text));
  CAIRN_ASSIGN_OR_RETURN(object o, AsObject(root, "message"));
  element f;
  if (!Field(o, "type", &f)) return Bad("message must have a type");
  CAIRN_ASSIGN_OR_RETURN(std::string_view type, AsString(f, "message type"));
  WsMessage m;
  if (type == "hello") {
    m.kind = WsMessage::Kind::kHello;
    if (Field(o, "jwt", &f)) {
      CAIRN_ASSIGN_OR_RETURN(std::string_view jwt, AsString(f, "jwt"));
      m.jwt = std::string(jwt);
    }
    return m;
  }
  if (type != "request") return Bad("unknown message type '" + std::string(type) + "'");
  m.kind = WsMessage::Kind::kRequest;
  if (!Field(o, "request_id", &f)) return Bad("request message must have a request_id");
  CAIRN_ASSIGN_OR_RETURN(m.request_id, AsInt32(f, "request_id"));
  element req;
  if (!Field(o, "request", &req)) return Bad("request message must have a request");
  CAIRN_ASSIGN_OR_RETURN(object r, AsObject(req, "request"));
  if (!Field(r, "type", &f)) return Bad("request must have a type");
  CAIRN_ASSIGN_OR_RETURN(std::string_view kind, AsString(f, "request type"));
  const Version v = version >= 3 ? Version::kV3 : Version::kV2;
  auto stream_id = [&]() -> Status {
    if (!Field(r, "stream_id", &f))
      return Bad(std::string(kind) + " request must have a stream_id");
    CAIRN_ASSIGN_OR_RETURN(m.stream_id, AsInt32(f, "stream_id"));
    return Status::Ok();
  };
  auto cursor_id = [&]() -> Status {
    if (!Field(r, "cursor_id", &f))
      return Bad(std::string(kind) + " request must have a cursor_id");
    CAIRN_ASSIGN_OR_RETURN(m.cursor_id, AsInt32(f, "cursor_id"));
    return Status::Ok();
  };
  if (kind == "open_stream" || kind == "close_stream") {
    m.op = kind == "open_stream" ? WsMessage::Op::kOpenStream : WsMessage::Op::kCloseStream;
    CAIRN_RETURN_IF_ERROR(stream_id());
    return m;
  }
  if (version >= 3 && kind == "open_cursor") {
    m.op = WsMessage::Op::kOpenCursor;
    CAIRN_RETURN_IF_ERROR(stream_id());
    CAIRN_RETURN_IF_ERROR(cursor_id());
    if (!Field(r, "batch", &f)) return Bad("open_cursor request must have a batch");
    CAIRN_ASSIGN_OR_RETURN(m.request.batch, DecodeBatch(f, v));
    return m;
  }
  if (version >= 3 && (kind == "close_cursor" || kind == "fetch_cursor")) {
    m.op = kind == "close_cursor" ? WsMessage::Op::kCloseCursor : WsMessage::Op::kFetchCursor;
    CAIRN_RETURN_IF_ERROR(cursor_id());
    if (m.op == WsMessage::Op::kFetchCursor) {
      int64_t n;
      if (!Field(r, "max_count", &f) || f.get_int64().get(n) || n < 0 || n > UINT32_MAX)
        return Bad("fetch_cursor request must have a max_count (a 32-bit unsigned integer)");
      m.max_count = static_cast<uint32_t>(n);
    }
    return m;
  }
  // The kinds Hrana over HTTP also has; "close" is HTTP's own (streams close with close_stream).
  if (kind == "close" || (version < 2 && kind != "execute" && kind != "batch"))
    return Bad("unknown request type '" + std::string(kind) + "'");
  CAIRN_ASSIGN_OR_RETURN(m.request, DecodeRequest(req, v));
  if (m.request.kind == Request::Kind::kStoreSql) {
    m.op = WsMessage::Op::kStoreSql;
  } else if (m.request.kind == Request::Kind::kCloseSql) {
    m.op = WsMessage::Op::kCloseSql;
  } else {
    m.op = WsMessage::Op::kStream;
    CAIRN_RETURN_IF_ERROR(stream_id());
  }
  return m;
}

}  // namespace cairn::hrana
