#include "shell/hrana_client.h"

#include <chrono>

#include "shell/hrana_wire.h"

namespace cairn::shell {
namespace {

constexpr std::string_view kRolledBack = "; the open transaction was rolled back";

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The server no longer knows the stream named by our baton.
bool IsStreamGone(const ServerError& e) {
  return e.code == "STREAM_EXPIRED" || e.code == "STREAM_INVALID";
}

// Every request is JSON for the same namespace; statements may run long, so no time limit.
net::HttpClientOptions HttpOptions(const HranaClientOptions& options) {
  net::HttpClientOptions http{.user_agent = "cairn-shell",
                              .connect_timeout = std::chrono::seconds(10)};
  http.headers.push_back("Content-Type: application/json");
  if (!options.ns.empty()) http.headers.push_back("x-namespace: " + options.ns);
  return http;
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

Result<std::unique_ptr<HranaClient>> HranaClient::Create(const HranaClientOptions& options) {
  return std::unique_ptr<HranaClient>(new HranaClient(options));
}

HranaClient::HranaClient(const HranaClientOptions& options)
    : base_url_(NormalizeBaseUrl(options.url)),
      http_("", options.auth_token, HttpOptions(options)),
      stream_url_(base_url_) {}

HranaClient::~HranaClient() = default;

Result<net::HttpAnswer> HranaClient::Post(const std::string& body) {
  return http_.Post(stream_url_ + "/v3/pipeline", body, {}, std::chrono::milliseconds(0));
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
    Result<net::HttpAnswer> resp = Post(EncodeExecuteRequest(baton_, sql));

    if (!resp.ok()) {
      // Whether the server saw the request is unknown; the baton cannot be trusted any more.
      ExecOutcome out = ExecOutcome::Error("cannot reach the server: " + resp.status().message(),
                                           "CONNECTION_ERROR");
      if (may_lose_transaction) out.error->message += kRolledBack;
      ForgetStream();
      return out;
    }
    if (resp->status < 200 || resp->status >= 300) {
      ExecOutcome out;
      out.error = DecodeErrorBody(resp->status, resp->body);
      if (had_stream && IsStreamGone(*out.error)) {
        ForgetStream();
        if (!may_lose_transaction && attempt == 0) continue;  // retry on a fresh stream
        if (may_lose_transaction) out.error->message += kRolledBack;
      }
      // Other whole-request failures (auth, unknown namespace) leave the stream as it was.
      return out;
    }

    auto reply = DecodePipelineResponse(resp->body);
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
  if (baton_) (void)Post(EncodeCloseRequest(*baton_));  // errors are ignored (sql_client.h)
  ForgetStream();
}

}  // namespace cairn::shell
