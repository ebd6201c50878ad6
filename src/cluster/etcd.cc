#include "cluster/etcd.h"

#include <charconv>

#include <fmt/format.h>
#include <simdjson.h>

#include "base/base64.h"
#include "base/json_writer.h"

namespace cairn::cluster {

namespace {

std::string B64(std::string_view s) {
  std::string out;
  Base64Encode(s, &out);
  return out;
}

// etcd's JSON gateway prints 64-bit numbers as strings.
int64_t Num(simdjson::dom::element e) {
  std::string_view s;
  if (e.get(s) == simdjson::SUCCESS) {
    int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  int64_t v = 0;
  if (e.get(v) == simdjson::SUCCESS) return v;
  return 0;
}

Result<KeyValue> ParseKv(simdjson::dom::element kv) {
  KeyValue out;
  std::string_view v;
  if (kv["value"].get(v) == simdjson::SUCCESS) {
    auto d = Base64Decode(v);
    if (!d) return Status(Code::kIOError, "etcd sent a value that is not base64");
    out.value = *d;
  }
  simdjson::dom::element e;
  if (kv["lease"].get(e) == simdjson::SUCCESS) out.lease = Num(e);
  if (kv["create_revision"].get(e) == simdjson::SUCCESS) out.create_revision = Num(e);
  return out;
}

std::string RangeEnd(const std::string& prefix) {
  std::string end = prefix;
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

}  // namespace

EtcdClient::EtcdClient(std::string url, std::chrono::milliseconds timeout)
    : http_(std::move(url), "", {.accept_compressed = true}), timeout_(timeout) {}

Result<std::string> EtcdClient::Call(const std::string& path, const std::string& body) {
  static const std::vector<std::string> kFields = {"Content-Type: application/json"};
  CAIRN_ASSIGN_OR_RETURN(net::HttpAnswer a, http_.Post(path, body, kFields, timeout_));
  if (a.status != 200)
    return Status(Code::kUnavailable, fmt::format("etcd {}: HTTP {} {}", path, a.status, a.body));
  return std::move(a.body);
}

Result<int64_t> EtcdClient::GrantLease(int ttl_s) {
  CAIRN_ASSIGN_OR_RETURN(std::string body,
                         Call("/v3/lease/grant", fmt::format(R"({{"TTL":{}}})", ttl_s)));
  simdjson::dom::parser p;
  simdjson::dom::element doc, id;
  if (p.parse(body).get(doc) || doc["ID"].get(id))
    return Status(Code::kIOError, "etcd lease/grant: " + body);
  return Num(id);
}

Result<int64_t> EtcdClient::KeepAlive(int64_t lease) {
  CAIRN_ASSIGN_OR_RETURN(std::string body,
                         Call("/v3/lease/keepalive", fmt::format(R"({{"ID":"{}"}})", lease)));
  simdjson::dom::parser p;
  simdjson::dom::element doc, result, ttl;
  if (p.parse(body).get(doc) || doc["result"].get(result))
    return Status(Code::kIOError, "etcd lease/keepalive: " + body);
  if (result["TTL"].get(ttl) != simdjson::SUCCESS)
    return Status(Code::kNotFound, "the lease expired");
  const int64_t t = Num(ttl);
  if (t <= 0) return Status(Code::kNotFound, "the lease expired");
  return t;
}

Status EtcdClient::Revoke(int64_t lease) {
  auto r = Call("/v3/lease/revoke", fmt::format(R"({{"ID":"{}"}})", lease));
  return r.ok() ? Status::Ok() : r.TakeStatus();
}

Result<bool> EtcdClient::CreateIfAbsent(const std::string& key, const std::string& value,
                                        int64_t lease, std::optional<KeyValue>* current) {
  const std::string k = B64(key);
  const std::string body = fmt::format(
      R"({{"compare":[{{"key":"{}","result":"EQUAL","target":"CREATE","create_revision":"0"}}],)"
      R"("success":[{{"request_put":{{"key":"{}","value":"{}","lease":"{}"}}}}],)"
      R"("failure":[{{"request_range":{{"key":"{}"}}}}]}})",
      k, k, B64(value), lease, k);
  CAIRN_ASSIGN_OR_RETURN(std::string out, Call("/v3/kv/txn", body));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(out).get(doc)) return Status(Code::kIOError, "etcd kv/txn: " + out);
  bool ok = false;
  if (doc["succeeded"].get(ok) == simdjson::SUCCESS && ok) return true;
  current->reset();
  simdjson::dom::array kvs;
  if (doc.at_pointer("/responses/0/response_range/kvs").get(kvs) == simdjson::SUCCESS) {
    for (auto kv : kvs) {
      CAIRN_ASSIGN_OR_RETURN(KeyValue v, ParseKv(kv));
      *current = std::move(v);
      break;
    }
  }
  return false;
}

Result<std::optional<KeyValue>> EtcdClient::Get(const std::string& key) {
  CAIRN_ASSIGN_OR_RETURN(std::string out,
                         Call("/v3/kv/range", fmt::format(R"({{"key":"{}"}})", B64(key))));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(out).get(doc)) return Status(Code::kIOError, "etcd kv/range: " + out);
  simdjson::dom::array kvs;
  if (doc["kvs"].get(kvs) != simdjson::SUCCESS) return std::optional<KeyValue>();
  for (auto kv : kvs) {
    CAIRN_ASSIGN_OR_RETURN(KeyValue v, ParseKv(kv));
    return std::optional<KeyValue>(std::move(v));
  }
  return std::optional<KeyValue>();
}

Result<std::vector<std::pair<std::string, std::string>>> EtcdClient::List(
    const std::string& prefix) {
  CAIRN_ASSIGN_OR_RETURN(std::string out,
                         Call("/v3/kv/range", fmt::format(R"({{"key":"{}","range_end":"{}"}})",
                                                          B64(prefix), B64(RangeEnd(prefix)))));
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  if (p.parse(out).get(doc)) return Status(Code::kIOError, "etcd kv/range: " + out);
  std::vector<std::pair<std::string, std::string>> result;
  simdjson::dom::array kvs;
  if (doc["kvs"].get(kvs) != simdjson::SUCCESS) return result;
  for (auto kv : kvs) {
    std::string_view k;
    if (kv["key"].get(k) != simdjson::SUCCESS) continue;
    auto key = Base64Decode(k);
    CAIRN_ASSIGN_OR_RETURN(KeyValue v, ParseKv(kv));
    if (key) result.emplace_back(*key, v.value);
  }
  return result;
}

Status EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  auto r = Call("/v3/kv/put", fmt::format(R"({{"key":"{}","value":"{}","lease":"{}"}})", B64(key),
                                          B64(value), lease));
  return r.ok() ? Status::Ok() : r.TakeStatus();
}

Status EtcdClient::DeleteIfLease(const std::string& key, int64_t lease) {
  const std::string k = B64(key);
  const std::string body =
      fmt::format(R"({{"compare":[{{"key":"{}","result":"EQUAL","target":"LEASE","lease":"{}"}}],)"
                  R"("success":[{{"request_delete_range":{{"key":"{}"}}}}],"failure":[]}})",
                  k, lease, k);
  auto r = Call("/v3/kv/txn", body);
  return r.ok() ? Status::Ok() : r.TakeStatus();
}

}  // namespace cairn::cluster
