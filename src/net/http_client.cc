#include "net/http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstring>
#include <mutex>
#include <set>

namespace cairn::net {

namespace {

std::string WithoutTrailingSlashes(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

bool InitializeCurl() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ok;
}

// Failures that another attempt may not meet: the peer was unreachable, slow or cut off.
bool MayPassOnRetry(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
      return true;
    default:
      return false;
  }
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  auto* answer = static_cast<HttpAnswer*>(user);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    if (name == "content-length") {
      // Room for the whole body at once (snapshots are large): no growing and copying.
      size_t len = 0;
      std::from_chars(value.data(), value.data() + value.size(), len);
      if (len > 0 && len <= (size_t{16} << 30)) answer->body.reserve(len);
    }
    answer->headers[name] = std::string(value);
  }
  return size * n;
}

// A PUT's body, fed to libcurl and rewound for its own resends.
struct Upload {
  std::string_view data;
  size_t pos = 0;
};

size_t ReadUpload(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t len = std::min(size * n, up->data.size() - up->pos);
  std::memcpy(buf, up->data.data() + up->pos, len);
  up->pos += len;
  return len;
}

int SeekUpload(void* user, curl_off_t offset, int origin) {
  auto* up = static_cast<Upload*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > up->data.size())
    return CURL_SEEKFUNC_CANTSEEK;
  up->pos = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

struct Slist {
  curl_slist* p = nullptr;
  ~Slist() { curl_slist_free_all(p); }
  void Add(const std::string& s) { p = curl_slist_append(p, s.c_str()); }
};

}  // namespace

struct HttpClient::Connection {
  CURL* curl = nullptr;
  std::atomic<bool> aborted{false};
  std::mutex sockets_mu;
  std::set<curl_socket_t> sockets;  // guarded by sockets_mu: the connections curl has open

  ~Connection() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  static curl_socket_t OpenSocket(void* self, curlsocktype, struct curl_sockaddr* addr) {
    auto* c = static_cast<Connection*>(self);
    std::lock_guard lk(c->sockets_mu);
    if (c->aborted) return CURL_SOCKET_BAD;
    const curl_socket_t fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd != CURL_SOCKET_BAD) c->sockets.insert(fd);
    return fd;
  }

  static int CloseSocket(void* self, curl_socket_t fd) {
    auto* c = static_cast<Connection*>(self);
    std::lock_guard lk(c->sockets_mu);
    c->sockets.erase(fd);
    return ::close(fd);
  }
};

HttpClient::HttpClient(std::string base_url, std::string bearer, HttpClientOptions options)
    : base_url_(WithoutTrailingSlashes(std::move(base_url))),
      bearer_(std::move(bearer)),
      options_(std::move(options)),
      connection_(std::make_unique<Connection>()) {
  if (InitializeCurl()) connection_->curl = curl_easy_init();
}

HttpClient::~HttpClient() = default;

void HttpClient::Abort() {
  Connection& c = *connection_;
  std::lock_guard lk(c.sockets_mu);
  c.aborted = true;
  // Shut down, not closed: the descriptor stays curl's (so it cannot be reused under it) until
  // curl closes it through CloseSocket.
  for (curl_socket_t fd : c.sockets) ::shutdown(fd, SHUT_RDWR);
}

Result<HttpAnswer> HttpClient::Get(std::string_view target, std::chrono::milliseconds timeout) {
  return Send({.method = "GET", .target = target, .timeout = timeout});
}

Result<HttpAnswer> HttpClient::Post(std::string_view target, std::string_view body,
                                    std::span<const std::string> headers,
                                    std::chrono::milliseconds timeout) {
  return Send(
      {.method = "POST", .target = target, .body = body, .headers = headers, .timeout = timeout});
}

Result<HttpAnswer> HttpClient::Send(const HttpRequest& req) {
  Connection& c = *connection_;
  CURL* h = c.curl;
  const std::string method(req.method);
  const std::string url = base_url_ + std::string(req.target);
  if (h == nullptr) return Status(Code::kInternal, "libcurl could not be initialised");
  if (c.aborted) return Status(Code::kUnavailable, method + " " + url + ": the client was closed");
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &Connection::OpenSocket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &c);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, &Connection::CloseSocket);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, &c);

  Slist fields;
  if (!bearer_.empty()) fields.Add("Authorization: Bearer " + bearer_);
  for (const std::string& f : options_.headers) fields.Add(f);
  for (const std::string& f : req.headers) fields.Add(f);
  if (!options_.expect_continue) fields.Add("Expect:");  // the body follows the head at once

  HttpAnswer a;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (req.timeout.count() > 0)
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  if (options_.accept_compressed) curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  if (options_.path_as_is) curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  if (!options_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (!options_.aws_sigv4.key_id.empty()) {
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, options_.aws_sigv4.provider.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, options_.aws_sigv4.key_id.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, options_.aws_sigv4.secret.c_str());
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, fields.p);

  Upload upload{req.body, 0};
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    // Never null: libcurl would read the body from a callback instead.
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.empty() ? "" : req.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, ReadUpload);
    curl_easy_setopt(h, CURLOPT_READDATA, &upload);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, SeekUpload);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &upload);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  const CURLcode rc = curl_easy_perform(h);
  // Our buffers go out of scope; the handle (and its connection) stays for the next request.
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK) {
    const Code code = MayPassOnRetry(rc) || c.aborted ? Code::kUnavailable : Code::kIOError;
    return Status(code,
                  method + " " + url + ": " + (errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc)));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
  a.content_type = a.Header("content-type");
  return a;
}

}  // namespace cairn::net
