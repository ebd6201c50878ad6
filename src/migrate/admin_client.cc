#include "migrate/admin_client.h"

#include <curl/curl.h>
#include <simdjson.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "shell/hrana_client.h"

namespace cairn::migrate {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

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
  static std::once_flag global_init;
  static CURLcode global_status = CURLE_OK;
  std::call_once(global_init, [] { global_status = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global_status != CURLE_OK) return Status(Code::kInternal, "cannot initialise libcurl");

  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Status(Code::kInternal, "cannot initialise libcurl");
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  if (!admin_key.empty()) {
    const std::string h = "Authorization: Bearer " + admin_key;
    headers.reset(curl_slist_append(nullptr, h.c_str()));
  }
  const std::string url = shell::NormalizeBaseUrl(admin_url) + "/v1/namespaces";
  std::string body;
  char error[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  if (headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn-migrate");
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return Status(Code::kUnavailable, "cannot reach the admin API at " + url + ": " +
                                          (error[0] ? std::string(error) : curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status == 401 || status == 403) {
    return Status(Code::kUnauthenticated,
                  "the admin API at " + url + " refused the request (HTTP " +
                      std::to_string(status) + "): give its key with --admin-auth-key");
  }
  if (status != 200) {
    return Status(Code::kInternal, "the admin API at " + url + " answered HTTP " +
                                       std::to_string(status) + ": " + body.substr(0, 200));
  }
  return ParseNamespaceList(body);
}

}  // namespace cairn::migrate
