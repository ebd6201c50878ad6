#include "shell/hrana_client.h"

#include <curl/curl.h>

#include <mutex>

#include "shell/hrana_wire.h"

namespace cairn::shell {
namespace {

constexpr std::string_view kRolledBack = "; the open transaction was rolled back";

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The server no longer knows the stream named by our baton.
bool IsStreamGone(const ServerError& e) {
  return e.code == "STREAM_EXPIRED" || e.code == "STREAM_INVALID";
}

}  // namespace

std::string NormalizeBaseUrl(std::string_view url) {
  std::string out;
  if (StartsWith(url, "libsql://")) {
    out = "https://" + std::string(url.substr(9));
  } else if (StartsWith(url, "wss://")) {
    out = "https://" + std::string(url.substr(6));
  } else if (StartsWith(url, "ws://")) {
    out = "http://" + std::string(url.substr(5));
  } else if (url.find("://") == std::string_view::npos) {
    out = "http://" + std::string(url);
  } else {
    out = url;
  }
  while (!out.empty() && out.back() == '/') out.pop_back();
  return out;
}

struct HranaClient::Http {
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  std::string response;
  char error[CURL_ERROR_SIZE] = {};

  ~Http() {
    if (curl) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
  }
};

Result<std::unique_ptr<HranaClient>> HranaClient::Create(const HranaClientOptions& options) {
  static std::once_flag global_init;
  static CURLcode global_status = CURLE_OK;
  std::call_once(global_init, [] { global_status = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global_status != CURLE_OK) return Status(Code::kInternal, "cannot initialise libcurl");

  auto http = std::make_unique<Http>();
  http->curl = curl_easy_init();
  if (!http->curl) return Status(Code::kInternal, "cannot initialise libcurl");
  auto add_header = [&](const std::string& h) {
    http->headers = curl_slist_append(http->headers, h.c_str());
  };
  add_header("Content-Type: application/json");
  add_header("Expect:");  // no 100-continue round trip for large statements
  if (!options.auth_token.empty()) add_header("Authorization: Bearer " + options.auth_token);
  if (!options.ns.empty()) add_header("x-namespace: " + options.ns);

  CURL* c = http->curl;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, http->headers);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &http->response);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, http->error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn-shell");
  return std::unique_ptr<HranaClient>(new HranaClient(options, std::move(http)));
}

HranaClient::HranaClient(const HranaClientOptions& options, std::unique_ptr<Http> http)
    : base_url_(NormalizeBaseUrl(options.url)), http_(std::move(http)), stream_url_(base_url_) {}

HranaClient::~HranaClient() = default;

HranaClient::Response HranaClient::Post(const std::string& body) {
  Response out;
  const std::string url = stream_url_ + "/v3/pipeline";
  CURL* c = http_->curl;
  http_->response.clear();
  http_->error[0] = '\0';
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    std::string detail = http_->error[0] ? http_->error : curl_easy_strerror(rc);
    out.transport_error = ServerError{"cannot reach " + url + ": " + detail, "CONNECTION_ERROR"};
    return out;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  out.body = std::move(http_->response);
  return out;
}

void HranaClient::ForgetStream() {
  baton_.reset();
  stream_url_ = base_url_;
  autocommit_ = true;
}

ExecOutcome HranaClient::Execute(std::string_view sql) {
  for (int attempt = 0;; ++attempt) {
    const bool had_stream = baton_.has_value();
    // Only a stream without an open transaction may be replaced behind the user's back.
    const bool may_lose_transaction = had_stream && autocommit_ != true;
    Response resp = Post(EncodeExecuteRequest(baton_, sql));

    if (resp.transport_error) {
      // Whether the server saw the request is unknown; the baton cannot be trusted any more.
      ExecOutcome out;
      out.error = std::move(resp.transport_error);
      if (may_lose_transaction) out.error->message += kRolledBack;
      ForgetStream();
      return out;
    }
    if (resp.status < 200 || resp.status >= 300) {
      ExecOutcome out;
      out.error = DecodeErrorBody(resp.status, resp.body);
      if (had_stream && IsStreamGone(*out.error)) {
        ForgetStream();
        if (!may_lose_transaction && attempt == 0) continue;  // retry on a fresh stream
        if (may_lose_transaction) out.error->message += kRolledBack;
      }
      // Other whole-request failures (auth, unknown namespace) leave the stream as it was.
      return out;
    }

    auto reply = DecodePipelineResponse(resp.body);
    if (!reply.ok()) {
      ForgetStream();
      return ExecOutcome::Error(reply.status().message(), "PROTOCOL_ERROR");
    }
    if (!reply->baton) {
      ForgetStream();
    } else {
      baton_ = std::move(reply->baton);
      if (reply->base_url) stream_url_ = NormalizeBaseUrl(*reply->base_url);
      autocommit_ = reply->autocommit;
    }
    return std::move(reply->execute);
  }
}

void HranaClient::Close() {
  if (baton_) Post(EncodeCloseRequest(*baton_));
  ForgetStream();
}

}  // namespace cairn::shell
