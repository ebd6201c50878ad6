#include "shell/hrana_wire.h"

#include <simdjson.h>

#include <charconv>

#include "base/base64.h"
#include "base/json_writer.h"

namespace cairn::shell {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

Status Malformed(std::string what) {
  return Status(Code::kInvalidRequest, "malformed response from server: " + std::move(what));
}

bool ParseInt64(std::string_view s, int64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// A string field, or nullopt when it is absent or null.
Result<std::optional<std::string>> OptionalString(object obj, const char* key) {
  element e;
  if (obj[key].get(e) != simdjson::SUCCESS || e.is_null()) return std::optional<std::string>();
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) return Malformed(std::string(key) + " is not a string");
  return std::optional<std::string>(std::string(s));
}

Result<Value> DecodeValue(element e) {
  object obj;
  std::string_view type;
  if (e.get(obj) != simdjson::SUCCESS || obj["type"].get(type) != simdjson::SUCCESS) {
    return Malformed("value without a type");
  }
  if (type == "null") return Value::Null();
  if (type == "integer") {
    // Integers travel as decimal strings; accept a JSON integer too.
    std::string_view s;
    int64_t v = 0;
    if (obj["value"].get(s) == simdjson::SUCCESS) {
      if (!ParseInt64(s, &v)) return Malformed("integer value \"" + std::string(s) + "\"");
    } else if (obj["value"].get(v) != simdjson::SUCCESS) {
      return Malformed("integer value is not a string");
    }
    return Value::Integer(v);
  }
  if (type == "float") {
    double d = 0;
    if (obj["value"].get(d) != simdjson::SUCCESS) return Malformed("float value is not a number");
    return Value::Float(d);
  }
  if (type == "text") {
    std::string_view s;
    if (obj["value"].get(s) != simdjson::SUCCESS) return Malformed("text value is not a string");
    return Value::Text(std::string(s));
  }
  if (type == "blob") {
    std::string_view s;
    if (obj["base64"].get(s) != simdjson::SUCCESS) return Malformed("blob without base64");
    auto bytes = Base64Decode(s);
    if (!bytes) return Malformed("blob with invalid base64");
    return Value::Blob(std::move(*bytes));
  }
  return Malformed("value type \"" + std::string(type) + "\"");
}

Result<StmtResult> DecodeStmtResult(object obj) {
  StmtResult out;
  array cols;
  if (obj["cols"].get(cols) == simdjson::SUCCESS) {
    for (element c : cols) {
      object col;
      if (c.get(col) != simdjson::SUCCESS) return Malformed("column is not an object");
      CAIRN_ASSIGN_OR_RETURN(auto name, OptionalString(col, "name"));
      CAIRN_ASSIGN_OR_RETURN(auto decl, OptionalString(col, "decltype"));
      out.columns.push_back(Column{name.value_or(""), decl.value_or("")});
    }
  }
  array rows;
  if (obj["rows"].get(rows) == simdjson::SUCCESS) {
    for (element r : rows) {
      array cells;
      if (r.get(cells) != simdjson::SUCCESS) return Malformed("row is not an array");
      auto& row = out.rows.emplace_back();
      row.reserve(out.columns.size());
      for (element cell : cells) {
        CAIRN_ASSIGN_OR_RETURN(Value v, DecodeValue(cell));
        row.push_back(std::move(v));
      }
    }
  }
  int64_t affected = 0;
  if (obj["affected_row_count"].get(affected) == simdjson::SUCCESS)
    out.affected_row_count = affected;
  element rowid;
  if (obj["last_insert_rowid"].get(rowid) == simdjson::SUCCESS && !rowid.is_null()) {
    std::string_view s;
    int64_t v = 0;
    if ((rowid.get(s) == simdjson::SUCCESS && ParseInt64(s, &v)) ||
        rowid.get(v) == simdjson::SUCCESS) {
      out.last_insert_rowid = v;
    }
  }
  return out;
}

ServerError DecodeError(element e) {
  ServerError err{"", "UNKNOWN"};
  object obj;
  if (e.get(obj) != simdjson::SUCCESS) return ServerError{"unknown error", "UNKNOWN"};
  std::string_view s;
  if (obj["message"].get(s) == simdjson::SUCCESS) err.message = s;
  if (obj["code"].get(s) == simdjson::SUCCESS && !s.empty()) err.code = s;
  return err;
}

simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

std::string EncodeExecuteRequest(const std::optional<std::string>& baton, std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 128);
  JsonWriter w(&out);
  w.BeginObject();
  if (baton) w.Key("baton").String(*baton);
  w.Key("requests").BeginArray();
  w.BeginObject().Key("type").String("execute").Key("stmt").BeginObject();
  w.Key("sql").String(sql).Key("want_rows").Bool(true);
  w.EndObject().EndObject();
  w.BeginObject().Key("type").String("get_autocommit").EndObject();
  w.EndArray().EndObject();
  return out;
}

std::string EncodeCloseRequest(std::string_view baton) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("baton").String(baton).Key("requests").BeginArray();
  w.BeginObject().Key("type").String("close").EndObject();
  w.EndArray().EndObject();
  return out;
}

Result<PipelineReply> DecodePipelineResponse(std::string_view body) {
  element root;
  if (Parser().parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) {
    return Malformed("not JSON");
  }
  object obj;
  if (root.get(obj) != simdjson::SUCCESS) return Malformed("not an object");
  PipelineReply reply;
  CAIRN_ASSIGN_OR_RETURN(reply.baton, OptionalString(obj, "baton"));
  CAIRN_ASSIGN_OR_RETURN(reply.base_url, OptionalString(obj, "base_url"));
  array results;
  if (obj["results"].get(results) != simdjson::SUCCESS || results.size() < 1) {
    return Malformed("no results");
  }
  size_t index = 0;
  for (element r : results) {
    object result;
    std::string_view type;
    if (r.get(result) != simdjson::SUCCESS || result["type"].get(type) != simdjson::SUCCESS) {
      return Malformed("result without a type");
    }
    if (type == "error") {
      element error;
      if (result["error"].get(error) != simdjson::SUCCESS) return Malformed("error without error");
      if (index == 0) reply.execute.error = DecodeError(error);
      // An error answer to get_autocommit (an older server) leaves autocommit unknown.
    } else if (type == "ok") {
      object response;
      if (result["response"].get(response) != simdjson::SUCCESS)
        return Malformed("ok without response");
      if (index == 0) {
        object stmt_result;
        if (response["result"].get(stmt_result) != simdjson::SUCCESS) {
          return Malformed("execute response without result");
        }
        CAIRN_ASSIGN_OR_RETURN(reply.execute.result, DecodeStmtResult(stmt_result));
      } else if (index == 1) {
        bool autocommit = true;
        if (response["is_autocommit"].get(autocommit) == simdjson::SUCCESS) {
          reply.autocommit = autocommit;
        }
      }
    } else {
      return Malformed("result type \"" + std::string(type) + "\"");
    }
    ++index;
  }
  return reply;
}

ServerError DecodeErrorBody(long http_status, std::string_view body) {
  element root;
  object obj;
  if (Parser().parse(body.data(), body.size()).get(root) == simdjson::SUCCESS &&
      root.get(obj) == simdjson::SUCCESS) {
    std::string_view s;
    if (obj["message"].get(s) == simdjson::SUCCESS) return DecodeError(root);
    if (obj["error"].get(s) == simdjson::SUCCESS) {
      return ServerError{std::string(s), "HTTP_" + std::to_string(http_status)};
    }
  }
  std::string text(body.substr(0, 200));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  std::string message = "HTTP " + std::to_string(http_status);
  if (!text.empty()) message += ": " + text;
  return ServerError{std::move(message), "HTTP_" + std::to_string(http_status)};
}

}  // namespace cairn::shell
