// HttpClient: Cairn's one HTTP client — requests to one server (or, without a base URL, to any)
// over a kept-alive libcurl connection, each answer read whole into memory. A replica talks to
// its primary with it, the cluster to etcd's JSON gateway, `cairn shell` and `cairn migrate` to a
// server's Hrana and admin APIs, and the S3 object store to its bucket.
//
// A request that gets an HTTP answer returns it, whatever its status. One that gets none fails
// with a Status whose message names the method, the URL and libcurl's reason:
//   kUnavailable — trying again may help: the connection was refused, reset or cut, the name did
//                  not resolve, the time ran out, or the client was aborted;
//   kIOError     — it will not: a malformed URL, a TLS certificate refused, ...;
//   kInternal    — libcurl could not be set up.
//
// Thread-safety: a client is used by one thread at a time, except Abort, which any thread may call
// at any time. Clients are independent of each other (the S3 store keeps a pool of them).
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace cairn::net {

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

// How a client behaves on every request; the defaults suit a Cairn server.
struct HttpClientOptions {
  std::string user_agent = "cairn";
  std::chrono::milliseconds connect_timeout{5000};
  // "Name: value" fields sent with every request, before the request's own.
  std::vector<std::string> headers;
  // Asks for a compressed answer (Accept-Encoding: whatever libcurl can decode) and decodes it.
  bool accept_compressed = false;
  // Lets libcurl ask for "100 Continue" before sending a large body (over 1 MiB), so a server
  // that refuses the request does not receive it; otherwise the body follows the head at once.
  bool expect_continue = false;
  // A CA bundle to verify TLS servers with instead of the system's.
  std::string ca_file;
  // Sends the target's path exactly as given, "/./" and "/../" included (S3 signs it so).
  bool path_as_is = false;
  // When key_id is set, every request is signed with AWS Signature V4 (by libcurl) for
  // `provider`, e.g. "aws:amz:us-east-1:s3".
  struct AwsSigV4 {
    std::string provider;
    std::string key_id;
    std::string secret;
  } aws_sigv4;
};

struct HttpRequest {
  std::string_view method = "GET";  // GET, POST, PUT, DELETE, ...
  // Appended to the client's base URL: "/path?query" (sent as given), or the whole URL when the
  // client has none.
  std::string_view target;
  std::string_view body;                 // sent by POST and PUT (the latter rewindable for resends)
  std::span<const std::string> headers;  // "Name: value", after the client's
  std::chrono::milliseconds timeout{0};  // for the whole exchange; 0: no limit
};

class HttpClient {
 public:
  // `base_url` like http://host:port (trailing slashes are dropped), or empty when every request
  // names its whole URL; `bearer`, when set, goes out as Authorization: Bearer. Does no I/O.
  HttpClient(std::string base_url, std::string bearer, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpAnswer> Send(const HttpRequest& request);
  Result<HttpAnswer> Get(std::string_view target, std::chrono::milliseconds timeout);
  Result<HttpAnswer> Post(std::string_view target, std::string_view body,
                          std::span<const std::string> headers, std::chrono::milliseconds timeout);

  const std::string& base_url() const { return base_url_; }

  // Ends the request in progress at once (its connection is shut down) and makes every later one
  // fail with kUnavailable: a replica that stops must not wait for a primary that does not answer
  // (paused, or cut off) until the request times out.
  void Abort();

 private:
  struct Connection;  // the libcurl handle and the sockets it has open
  const std::string base_url_;
  const std::string bearer_;
  const HttpClientOptions options_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace cairn::net
