// HttpClient: the replica's connection to its primary — plain HTTP GET/POST over one kept-alive
// libcurl handle, answers read whole into memory.
//
// Thread-safety: one thread at a time (one client per following thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace cairn::replication {

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::string content_type;
  std::unordered_map<std::string, std::string> headers;  // lower-case names
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  // `base_url` like http://host:port (no trailing slash); `bearer` sent as Authorization when set.
  HttpClient(std::string base_url, std::string bearer);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // kUnavailable when the primary cannot be reached or timed out (retry later); any HTTP status
  // is an answer.
  Result<HttpAnswer> Get(std::string_view path_and_query, std::chrono::milliseconds timeout);
  Result<HttpAnswer> Post(std::string_view path_and_query, std::string_view body,
                          const std::vector<std::string>& headers,
                          std::chrono::milliseconds timeout);

  const std::string& base_url() const { return base_url_; }

 private:
  Result<HttpAnswer> Perform(const char* method, std::string_view path_and_query,
                             std::string_view body, const std::vector<std::string>& headers,
                             std::chrono::milliseconds timeout);
  const std::string base_url_;
  const std::string bearer_;
  void* curl_ = nullptr;  // CURL*
};

}  // namespace cairn::replication
