#include "server/internal/replica_routing.h"

#include <chrono>
#include <memory>
#include <vector>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "hrana/errors.h"
#include "metrics/metrics.h"
#include "replication/http_client.h"
#include "server/forwarding.h"

namespace cairn::server {

namespace asio = boost::asio;

namespace {

// How long a replica waits to have applied a request's replication_index before the primary
// answers instead.
constexpr std::chrono::seconds kReplicaWait{2};
// On a replica's answer to a forwarded request: the primary (admin URL) that ran it.
constexpr const char* kForwardedToHeader = "x-cairn-forwarded-to";

}  // namespace

// A replica: reads here (once the asked position is applied), anything else at the primary.
// The body is decoded once, by the call that runs it here: routing reads what it decoded.
asio::awaitable<Reply> ReplicaRouting::OnReplica(const http::Request& req, Admitted a,
                                                 std::string_view request_id) {
  const std::string db = a.db;
  const bool read_only = a.read_only;
  std::unique_ptr<hrana::Call> call = requests_->NewCall(std::move(a), std::string(req.body));
  const hrana::HttpRequestHead* head = call->Decode();  // null: answered here, with its error
  if (auto f = role_->follower(); f && head != nullptr) {
    ReplicaRoute route = RouteOnReplica(req.body, *head, req.Find(kReplicationIndexHeader));
    if (!route.forward && route.wait_for_index > 0 &&
        !co_await WaitForIndex(*f, db, route.wait_for_index)) {
      // Not there in time: the primary answers (a stream kept here cannot move).
      if (!route.stream_here) {
        route.forward = true;
        route.forward_body = std::string(req.body);
      }
    }
    if (route.forward) {
      auto res =
          co_await Forward(req.path(), db, std::move(route.forward_body), read_only, request_id);
      co_return res;
    }
  }
  auto res = co_await requests_->Run(std::move(call), request_id);
  co_return res;
}

// A replica: waits (on a timer, never a thread) until `db` has applied `index`, at most
// kReplicaWait. True when it has.
asio::awaitable<bool> ReplicaRouting::WaitForIndex(const replication::Follower& f,
                                                   const std::string& db, uint64_t index) {
  const auto deadline = std::chrono::steady_clock::now() + kReplicaWait;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (f.Position(db).position.txid < index) {
    if (std::chrono::steady_clock::now() >= deadline || serving_->stopping) co_return false;
    timer.expires_after(std::chrono::milliseconds(1));
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return true;
}

// A replica: sends a Hrana request to the primary's admin listener (/v1/forward/...) and
// returns its answer unchanged but for the baton (forwarding.h).
asio::awaitable<Reply> ReplicaRouting::Forward(std::string_view path, std::string db,
                                               std::string body, bool read_only,
                                               std::string_view request_id) {
  Result<replication::HttpAnswer> answer = Status(Code::kInternal, "not sent");
  const std::string primary = role_->PrimaryUrl();
  if (primary.empty()) {
    Status st(Code::kUnavailable,
              "this replica knows no primary right now (an election is under way); retry");
    co_return ErrorReply(st);
  }
  const std::string target = "/v1/forward" + std::string(path);
  std::vector<std::string> headers = {"Content-Type: application/json", "x-namespace: " + db};
  if (read_only) headers.push_back("x-cairn-read-only: 1");
  if (!request_id.empty())
    headers.push_back(std::string(kRequestIdHeader) + ": " + std::string(request_id));
  co_await pools_->RunBlocking([&] {
    thread_local std::unique_ptr<replication::HttpClient> client;
    if (!client || client->base_url() != primary)
      client = std::make_unique<replication::HttpClient>(primary, replication_key_);
    answer = client->Post(target, body, headers, std::chrono::seconds(60));
  });
  if (!answer.ok()) {
    Status st(Code::kUnavailable,
              "this replica cannot reach its primary to run a write: " + answer.status().message());
    metrics::Process().hrana_errors.Inc(hrana::ErrorCode(st));
    co_return ErrorReply(st);
  }
  std::string out =
      answer->status == 200 ? WrapPrimaryBaton(std::move(answer->body)) : std::move(answer->body);
  Reply res = MakeReply(static_cast<int>(answer->status),
                        answer->content_type.empty() ? "application/json" : answer->content_type,
                        std::move(out));
  res.headers.emplace_back(kForwardedToHeader,
                           primary);  // which primary answered (operators, and the fault tests)
  co_return res;
}

// A primary: a Hrana request a replica forwarded (its client is already authenticated there;
// x-cairn-read-only carries what its token allows).
asio::awaitable<Reply> ReplicaRouting::Forwarded(const http::Request& req, std::string_view method,
                                                 std::string_view path,
                                                 std::string_view request_id) {
  const std::string_view hrana_path = path.substr(std::string_view("/v1/forward").size());
  Admitted a;
  if (hrana_path == "/v2/pipeline") {
    a.version = hrana::Version::kV2;
  } else if (hrana_path == "/v3/cursor") {
    a.cursor = true;
  } else if (hrana_path != "/v3/pipeline" || method != "POST") {
    Status st(Code::kNotFound, "no such endpoint: " + std::string(path));
    co_return NoSuchEndpoint(st);
  }
  if (role_->follower()) {
    Status st(Code::kUnavailable, "this server is itself a replica of " + role_->PrimaryUrl());
    co_return ErrorReply(st);
  }
  a.db = std::string(req.Find("x-namespace"));
  Status st = engine::Registry::ValidateName(a.db);
  if (st.ok() && !registry_->Exists(a.db))
    st = Status(Code::kNotFound, "database '" + a.db + "' does not exist");
  if (!st.ok()) co_return ErrorReply(st);
  a.read_only = req.Find("x-cairn-read-only") == "1";
  auto res =
      co_await requests_->Run(requests_->NewCall(std::move(a), std::string(req.body)), request_id);
  co_return res;
}

}  // namespace cairn::server
