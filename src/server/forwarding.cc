#include "server/forwarding.h"

#include <charconv>

#include <simdjson.h>

#include "sqlite/statement_kind.h"

namespace cairn::server {

namespace {

// Whether one statement may write (or starts a transaction that may). `local_stream`: the
// stream lives here (only read transactions can), so ending its transaction stays here.
bool MayWrite(std::string_view sql, bool local_stream) {
  const sqlite::StatementKind k = sqlite::ClassifyStatement(sql);
  return k.writes || k.opens_write_transaction() || k.pragma_assignment ||
         (k.ends_transaction() && !local_stream);
}

uint64_t IndexOf(simdjson::dom::element e) {
  std::string_view s;
  if (e["replication_index"].get(s) != simdjson::SUCCESS) return 0;
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

struct Scan {
  bool may_write = false;
  uint64_t index = 0;
};

void ScanStmt(simdjson::dom::element stmt, bool local, Scan* out) {
  std::string_view sql;
  if (stmt["sql"].get(sql) == simdjson::SUCCESS && MayWrite(sql, local)) out->may_write = true;
  out->index = std::max(out->index, IndexOf(stmt));
}

void ScanBatch(simdjson::dom::element batch, bool local, Scan* out) {
  out->index = std::max(out->index, IndexOf(batch));
  simdjson::dom::array steps;
  if (batch["steps"].get(steps) != simdjson::SUCCESS) return;
  for (auto step : steps) {
    simdjson::dom::element stmt;
    if (step["stmt"].get(stmt) == simdjson::SUCCESS) ScanStmt(stmt, local, out);
  }
}

// Replaces the first occurrence of `from` (a quoted JSON string: inside other strings its quotes
// would be escaped, so the first raw occurrence is the value itself) with `to`.
bool ReplaceFirst(std::string* s, std::string_view from, std::string_view to) {
  const size_t at = s->find(from);
  if (at == std::string::npos) return false;
  s->replace(at, from.size(), to);
  return true;
}

}  // namespace

ReplicaRoute RouteOnReplica(std::string_view body, bool cursor, std::string_view index_header) {
  ReplicaRoute route;
  {
    uint64_t v = 0;
    std::from_chars(index_header.data(), index_header.data() + index_header.size(), v);
    route.wait_for_index = v;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    route.error = "malformed JSON";
    return route;
  }
  std::string_view baton;
  const bool has_baton = doc["baton"].get(baton) == simdjson::SUCCESS;
  if (has_baton && baton.substr(0, kPrimaryBatonPrefix.size()) == kPrimaryBatonPrefix) {
    route.forward = true;
    route.forward_body = std::string(body);
    ReplaceFirst(&route.forward_body, "\"" + std::string(baton) + "\"",
                 "\"" + std::string(baton.substr(kPrimaryBatonPrefix.size())) + "\"");
    return route;
  }
  route.stream_here = has_baton;
  Scan scan;
  if (cursor) {
    simdjson::dom::element batch;
    if (doc["batch"].get(batch) == simdjson::SUCCESS) ScanBatch(batch, has_baton, &scan);
  } else {
    simdjson::dom::array requests;
    if (doc["requests"].get(requests) == simdjson::SUCCESS) {
      for (auto r : requests) {
        std::string_view type;
        if (r["type"].get(type) != simdjson::SUCCESS) continue;
        simdjson::dom::element x;
        if (type == "execute" && r["stmt"].get(x) == simdjson::SUCCESS) {
          ScanStmt(x, has_baton, &scan);
        } else if (type == "batch" && r["batch"].get(x) == simdjson::SUCCESS) {
          ScanBatch(x, has_baton, &scan);
        } else if (type == "sequence") {
          scan.may_write = true;  // a script: the primary runs it
        } else if (type == "store_sql") {
          std::string_view sql;
          if (r["sql"].get(sql) == simdjson::SUCCESS && MayWrite(sql, has_baton))
            scan.may_write = true;
        }
      }
    }
  }
  route.wait_for_index = std::max(route.wait_for_index, scan.index);
  if (!scan.may_write) return route;
  route.forward = true;
  route.forward_body = std::string(body);
  // A stream that lived here moves to the primary: the primary starts a new one.
  if (has_baton) ReplaceFirst(&route.forward_body, "\"" + std::string(baton) + "\"", "null");
  return route;
}

std::string WrapPrimaryBaton(std::string body) {
  constexpr std::string_view kKey = "\"baton\":\"";
  // Quotes inside JSON strings are escaped, so the only raw "baton":" is the response's own key.
  const size_t at = body.find(kKey);
  if (at == std::string::npos) return body;
  body.insert(at + kKey.size(), kPrimaryBatonPrefix);
  return body;
}

}  // namespace cairn::server
