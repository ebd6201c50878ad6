// HttpClient: the replica's connection to its primary — plain HTTP GET/POST over one kept-alive
// libcurl handle, answers read whole into memory.
//
// Thread-safety: one thread at a time (one client per following thread), except Abort, which any
// thread may call at any time.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <mutex>
#include <set>

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

  // Ends the request in progress at once (its connection is shut down) and makes every later one
  // fail with kUnavailable: a follower that stops must not wait for a primary that does not
  // answer (paused, or cut off) until the request times out.
  void Abort();

 private:
  static curl_socket_t OpenSocket(void* self, curlsocktype purpose, struct curl_sockaddr* addr);
  static int CloseSocket(void* self, curl_socket_t fd);
  Result<HttpAnswer> Perform(const char* method, std::string_view path_and_query,
                             std::string_view body, const std::vector<std::string>& headers,
                             std::chrono::milliseconds timeout);
  const std::string base_url_;
  const std::string bearer_;
  void* curl_ = nullptr;  // CURL*
  std::atomic<bool> aborted_{false};
  std::mutex sockets_mu_;
  std::set<curl_socket_t> sockets_;  // guarded by sockets_mu_: the connections curl has open
};

}  // namespace cairn::replication
