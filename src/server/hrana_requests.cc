#include "server/internal/hrana_requests.h"

#include <functional>

#include "base/log.h"
#include "hrana/errors.h"
#include "metrics/metrics.h"
#include "server/routing.h"

namespace cairn::server {

namespace asio = boost::asio;

std::optional<Reply> HranaRequests::Admit(const http::Request& req, std::string_view method,
                                          Admitted* out) const {
  const std::string_view path = req.path();
  if (method == "GET") {
    if (path == "/health") return MakeReply(200, "text/plain", "");
    if (path == "/version") return MakeReply(200, "text/plain", "cairn " CAIRN_VERSION);
    if (path == "/v2" || path == "/v3")
      return MakeReply(200, "text/plain", "Hello, this is HTTP API v2 (Hrana over HTTP)");
  }
  if (path == "/v2/pipeline") {
    out->version = hrana::Version::kV2;
  } else if (path == "/v3/pipeline") {
    out->version = hrana::Version::kV3;
  } else if (path == "/v3/cursor") {
    out->version = hrana::Version::kV3;
    out->cursor = true;
  } else {
    Status st(Code::kNotFound,
              "no such endpoint: " + std::string(method) + " " + std::string(path));
    metrics::Process().hrana_errors.Inc("NOT_FOUND");
    return NoSuchEndpoint(st);
  }
  if (method != "POST") {
    Status st(Code::kInvalidRequest, std::string(path) + " accepts only POST");
    metrics::Process().hrana_errors.Inc(hrana::ErrorCode(st));
    return ErrorReply(st, Refusal::kWrongMethod);
  }
  return Authorize(req, &out->db, &out->read_only);
}

std::optional<Reply> HranaRequests::Authorize(const http::Request& req, std::string* db_out,
                                              bool* read_only) const {
  std::shared_ptr<const auth::Grant> grant;
  if (authenticator_) {
    auto g = authenticator_->Authenticate(req.Find("authorization"));
    if (!g.ok()) {
      metrics::Process().hrana_errors.Inc(hrana::ErrorCode(g.status()));
      return Unauthenticated(g.status());
    }
    grant = std::move(g).value();
  }
  std::function<bool(std::string_view)> may_use;
  if (grant)
    may_use = [&grant](std::string_view name) { return grant->To(name) != auth::Access::kNone; };
  Result<std::string> db = SelectDatabase(req.Find("x-namespace"), req.Find("x-namespace-bin"),
                                          req.Find("host"), *registry_, may_use);
  if (!db.ok()) {
    metrics::Process().hrana_errors.Inc(hrana::ErrorCode(db.status()));
    return ErrorReply(db.status());
  }
  *read_only = grant && grant->To(*db) == auth::Access::kRead;
  *db_out = std::move(db).value();
  return std::nullopt;
}

std::unique_ptr<hrana::Call> HranaRequests::NewCall(Admitted a, std::string body) const {
  if (a.cursor) return service_->Cursor(std::move(a.db), std::move(body), a.read_only);
  return service_->Pipeline(a.version, std::move(a.db), std::move(body), a.read_only);
}

asio::awaitable<Reply> HranaRequests::Run(std::unique_ptr<hrana::Call> call,
                                          std::string_view request_id) const {
  bool done = false;
  {
    RequestIdScope scope(request_id);
    done = call->Run(/*may_block=*/false);
  }
  if (!done) {
    // The call must wait for the write lock: finish it on a thread that may block, then resume
    // here on the network thread.
    co_await pools_->Finish(*call, std::string(request_id));
  }
  hrana::Response& r = call->response();
  co_return MakeReply(r.status, std::move(r.content_type), std::move(r.body));
}

}  // namespace cairn::server
