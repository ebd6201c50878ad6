// HranaClient: a SqlClient that speaks Hrana 3 JSON over HTTP (`POST {url}/v3/pipeline`) to Cairn
// or sqld, holding one stream for the whole shell session.
//
// The baton from each response is sent with the next request, so transactions span statements. The
// server closes idle streams (sqld after 10 s); when that happens outside a transaction the client
// silently opens a new stream and retries, since nothing was lost but connection settings; inside a
// transaction it reports the error and says the transaction was rolled back. One net::HttpClient
// keeps the connection alive between statements.
//
// Thread-safety: none; one thread uses a client at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "net/http_client.h"
#include "shell/sql_client.h"

namespace cairn::shell {

struct HranaClientOptions {
  std::string url;         // base URL, normalised by NormalizeBaseUrl
  std::string auth_token;  // Authorization: Bearer, when non-empty
  std::string ns;          // x-namespace, when non-empty
};

// The HTTP base URL for what a user typed: "libsql://" and "wss://" become "https://", "ws://"
// becomes "http://", a missing scheme means "http://"; trailing slashes are dropped.
std::string NormalizeBaseUrl(std::string_view url);

class HranaClient final : public SqlClient {
 public:
  // Nothing is sent until the first Execute; a client that cannot set libcurl up says so there
  // (CONNECTION_ERROR).
  static Result<std::unique_ptr<HranaClient>> Create(const HranaClientOptions& options);
  ~HranaClient() override;

  ExecOutcome Execute(std::string_view sql) override;
  bool InTransaction() const override { return autocommit_ == false; }
  void Close() override;

 private:
  explicit HranaClient(const HranaClientOptions& options);
  Result<net::HttpAnswer> Post(const std::string& body);
  void ForgetStream();

  const std::string base_url_;
  net::HttpClient http_;                   // no base URL of its own: the stream's may move
  std::optional<std::string> baton_;       // the stream, when one is open
  std::string stream_url_;                 // base URL for the open stream (the server may move it)
  std::optional<bool> autocommit_ = true;  // as last reported; empty when the server cannot say
};

}  // namespace cairn::shell
