#include "server/internal/replication_endpoints.h"

#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/json_writer.h"
#include "hrana/errors.h"

namespace cairn::server {

namespace asio = boost::asio;

asio::awaitable<Reply> ReplicationEndpoints::Handle(std::string_view method, std::string_view path,
                                                    std::string_view target) {
  if (method != "GET") {
    Status st(Code::kInvalidRequest, std::string(path) + " accepts only GET");
    co_return ErrorReply(st, Refusal::kWrongMethod);
  }
  if (path == "/v1/replication") co_return MakeReply(200, "application/json", StatusJson());
  if (!source_ || role_->follower()) {
    Status st(Code::kInvalidRequest,
              "this server is a read replica of " + role_->PrimaryUrl() + ": follow the primary");
    co_return ErrorReply(st, Refusal::kWrongRole);
  }
  const size_t q = target.find('?');
  replication::SourceRequest sreq = replication::ParseSourceRequest(
      path, q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
  replication::SourceResponse r;
  if (sreq.kind == replication::SourceRequest::Kind::kChanges) {
    if (sreq.wait_ms > 0 && !source_->HasChanges(sreq) && !serving_->stopping) {
      auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
      timer->expires_after(std::chrono::milliseconds(sreq.wait_ms));
      const uint64_t id = feed_->NotifyAfter(
          sreq.after, [timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); });
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (id != 0) feed_->Cancel(id);
    }
    r = source_->Changes(sreq);
  } else {
    co_await pools_->RunBlocking([&] { r = source_->Handle(sreq); });
  }
  Reply res = MakeReply(r.status, std::move(r.content_type), std::move(r.body));
  res.headers = std::move(r.headers);
  co_return res;
}

std::string ReplicationEndpoints::StatusJson() const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  if (auto f = role_->follower()) {
    const auto [p50, p99] = f->LagMillis();
    w.Key("role")
        .String("replica")
        .Key("primary")
        .String(role_->PrimaryUrl())
        .Key("connected")
        .Bool(f->connected());
    w.Key("lag_p50_ms").Double(p50).Key("lag_p99_ms").Double(p99).Key("databases").BeginArray();
    for (const auto& d : f->Databases()) {
      w.BeginObject()
          .Key("name")
          .String(d.name)
          .Key("generation")
          .String(d.generation)
          .Key("txid")
          .Uint(d.position.txid)
          .Key("checksum")
          .String(fmt::format("{:016x}", d.position.checksum))
          .Key("primary_txid")
          .Uint(d.primary_txid)
          .Key("transactions")
          .Uint(d.transactions)
          .Key("snapshots")
          .Uint(d.snapshots)
          .EndObject();
    }
    w.EndArray();
  } else {
    w.Key("role")
        .String("primary")
        .Key("epoch")
        .String(feed_->epoch())
        .Key("seq")
        .Uint(feed_->seq());
  }
  w.EndObject();
  return out;
}

}  // namespace cairn::server
