#include "migrate/admin_client.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>

#include "net/http_client.h"
#include "shell/hrana_client.h"

namespace cairn::migrate {

Result<std::vector<std::string>> ParseNamespaceList(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  simdjson::dom::array list;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS ||
      doc["namespaces"].get(list) != simdjson::SUCCESS) {
    return Status(Code::kInvalidRequest,
                  "the admin API answered without a \"namespaces\" list: " +
                      std::string(body.substr(0, 200)));
  }
  std::vector<std::string> names;
  for (simdjson::dom::element e : list) {
    std::string_view name;
    if (e.get(name) != simdjson::SUCCESS)
      return Status(Code::kInvalidRequest, "the admin API listed a database name that is not a string");
    names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<std::vector<std::string>> ListDatabases(std::string_view admin_url,
                                               const std::string& admin_key) {
  net::HttpClient http(
      shell::NormalizeBaseUrl(admin_url), admin_key,
      {.user_agent = "cairn-migrate", .connect_timeout = std::chrono::seconds(10)});
  const std::string url = http.base_url() + "/v1/namespaces";
  const Result<net::HttpAnswer> answer = http.Get("/v1/namespaces", std::chrono::seconds(120));
  if (!answer.ok())
    return Status(Code::kUnavailable, "cannot reach the admin API: " + answer.status().message());
  if (answer->status == 401 || answer->status == 403) {
    return Status(Code::kUnauthenticated,
                  "the admin API at " + url + " refused the request (HTTP " +
                      std::to_string(answer->status) + "): give its key with --admin-auth-key");
  }
  if (answer->status != 200) {
    return Status(Code::kInternal, "the admin API at " + url + " answered HTTP " +
                                       std::to_string(answer->status) + ": " +
                                       answer->body.substr(0, 200));
  }
  return ParseNamespaceList(answer->body);
}

}  // namespace cairn::migrate
