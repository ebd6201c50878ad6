#include "replication/http_client.h"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cairn::replication {

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  std::string_view line(data, size * n);
  auto* answer = static_cast<HttpAnswer*>(user);
  auto* headers = &answer->headers;
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
      size_t n = 0;
      std::from_chars(value.data(), value.data() + value.size(), n);
      if (n > 0 && n <= (size_t{16} << 30)) answer->body.reserve(n);
    }
    (*headers)[name] = std::string(value);
  }
  return size * n;
}

struct Slist {
  curl_slist* p = nullptr;
  ~Slist() { curl_slist_free_all(p); }
  void Add(const std::string& s) { p = curl_slist_append(p, s.c_str()); }
};

}  // namespace

HttpClient::HttpClient(std::string base_url, std::string bearer)
    : base_url_(std::move(base_url)), bearer_(std::move(bearer)) {
  while (!base_url_.empty() && base_url_.back() == '/')
    const_cast<std::string&>(base_url_).pop_back();
  curl_ = curl_easy_init();
}

curl_socket_t HttpClient::OpenSocket(void* self, curlsocktype, struct curl_sockaddr* addr) {
  auto* c = static_cast<HttpClient*>(self);
  std::lock_guard lk(c->sockets_mu_);
  if (c->aborted_) return CURL_SOCKET_BAD;
  const curl_socket_t fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd != CURL_SOCKET_BAD) c->sockets_.insert(fd);
  return fd;
}

int HttpClient::CloseSocket(void* self, curl_socket_t fd) {
  auto* c = static_cast<HttpClient*>(self);
  std::lock_guard lk(c->sockets_mu_);
  c->sockets_.erase(fd);
  return ::close(fd);
}

void HttpClient::Abort() {
  std::lock_guard lk(sockets_mu_);
  aborted_ = true;
  // Shut down, not closed: the descriptor stays curl's (so it cannot be reused under it) until
  // curl closes it through CloseSocket.
  for (curl_socket_t fd : sockets_) ::shutdown(fd, SHUT_RDWR);
}

HttpClient::~HttpClient() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<HttpAnswer> HttpClient::Get(std::string_view path_and_query,
                                   std::chrono::milliseconds timeout) {
  return Perform("GET", path_and_query, {}, {}, timeout);
}

Result<HttpAnswer> HttpClient::Post(std::string_view path_and_query, std::string_view body,
                                    const std::vector<std::string>& headers,
                                    std::chrono::milliseconds timeout) {
  return Perform("POST", path_and_query, body, headers, timeout);
}

Result<HttpAnswer> HttpClient::Perform(const char* method, std::string_view path_and_query,
                                       std::string_view body,
                                       const std::vector<std::string>& headers,
                                       std::chrono::milliseconds timeout) {
  CURL* h = static_cast<CURL*>(curl_);
  if (h == nullptr) return Status(Code::kInternal, "libcurl could not be initialised");
  if (aborted_) return Status(Code::kUnavailable, "the connection to " + base_url_ + " was closed");
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &HttpClient::OpenSocket);
  curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, &HttpClient::CloseSocket);
  curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, this);
  HttpAnswer a;
  char errbuf[CURL_ERROR_SIZE] = {0};
  const std::string url = base_url_ + std::string(path_and_query);
  Slist list;
  if (!bearer_.empty()) list.Add("Authorization: Bearer " + bearer_);
  for (const std::string& hd : headers) list.Add(hd);
  list.Add("Expect:");  // no 100-continue round trip for bodies
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "cairn-replica");
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");  // whatever the server can compress
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.p);
  if (std::string_view(method) == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  if (rc != CURLE_OK)
    return Status(Code::kUnavailable, std::string(method) + " " + url + ": " +
                                          (errbuf[0] != 0 ? errbuf : curl_easy_strerror(rc)));
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
  a.content_type = a.Header("content-type");
  return a;
}

}  // namespace cairn::replication
