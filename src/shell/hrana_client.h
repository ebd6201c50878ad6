// HranaClient: a SqlClient that speaks Hrana 3 JSON over HTTP (`POST {url}/v3/pipeline`) to Cairn
// or sqld, holding one stream for the whole shell session.
//
// The baton from each response is sent with the next request, so transactions span statements. The
// server closes idle streams (sqld after 10 s); when that happens outside a transaction the client
// silently opens a new stream and retries, since nothing was lost but connection settings; inside a
// transaction it reports the error and says the transaction was rolled back. One libcurl easy
// handle is reused, keeping the connection alive between statements.
//
// Thread-safety: none; one thread uses a client at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
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
  // Fails only if libcurl cannot be set up; nothing is sent until the first Execute.
  static Result<std::unique_ptr<HranaClient>> Create(const HranaClientOptions& options);
  ~HranaClient() override;

  ExecOutcome Execute(std::string_view sql) override;
  bool InTransaction() const override { return autocommit_ == false; }
  void Close() override;

 private:
  struct Http;  // the libcurl handle and header list
  struct Response {
    std::optional<ServerError> transport_error;  // the request did not complete
    long status = 0;
    std::string body;
  };

  HranaClient(const HranaClientOptions& options, std::unique_ptr<Http> http);
  Response Post(const std::string& body);
  void ForgetStream();

  const std::string base_url_;
  std::unique_ptr<Http> http_;
  std::optional<std::string> baton_;       // the stream, when one is open
  std::string stream_url_;                 // base URL for the open stream (the server may move it)
  std::optional<bool> autocommit_ = true;  // as last reported; empty when the server cannot say
};

}  // namespace cairn::shell
