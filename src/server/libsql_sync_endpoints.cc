#include "server/internal/libsql_sync_endpoints.h"

#include <string>

#include "libsql_sync/protocol.h"

namespace cairn::server {

namespace asio = boost::asio;

asio::awaitable<Reply> LibsqlSyncEndpoints::Handle(const http::Request& req,
                                                   std::string_view method, std::string_view path) {
  libsql_sync::SyncRequest sreq = libsql_sync::ParseSyncRequest(method, path);
  if (!req.Find("x-turso-encryption-key").empty()) {
    sreq.kind = libsql_sync::SyncRequest::Kind::kInvalid;
    sreq.error = "Cairn does not encrypt databases with a client's key (x-turso-encryption-key)";
  }
  std::string db;
  bool read_only = false;
  if (std::optional<Reply> refused = requests_->Authorize(req, &db, &read_only)) {
    // libSQL's client takes any answer to /info but 2xx and 401 to mean "speak the older
    // protocol", and would then fail with a handshake timeout: credentials that are refused are
    // a 401 here, so the client reports them.
    if (sreq.kind == libsql_sync::SyncRequest::Kind::kInfo &&
        (refused->status == 403 || refused->status == 401))
      refused->status = 401;
    co_return std::move(*refused);
  }
  libsql_sync::SyncAnswer answer;
  co_await pools_->RunBlocking([&] { answer = service_->Handle(sreq, db); });
  co_return MakeReply(answer.status, std::move(answer.content_type), std::move(answer.body));
}

}  // namespace cairn::server
