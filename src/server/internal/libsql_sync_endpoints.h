// LibsqlSyncEndpoints: libSQL's HTTP sync protocol (`/info`, `/export/…`, `/sync/…`) on the Hrana
// listener, for embedded replicas. A request is admitted as a Hrana request is (credentials, then
// the database: HranaRequests::Authorize) and answered by libsql_sync::SyncService on
// BlockingPools (it reads and writes files). A read replica answers from its own copy.
//
// Private to server (Asio appears in its signatures).
//
// Thread-safety: Handle may be called from any network thread; what the constructor takes must
// outlive this.
#pragma once

#include <string_view>

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "http/http.h"
#include "libsql_sync/service.h"
#include "server/internal/blocking_pools.h"
#include "server/internal/hrana_requests.h"
#include "server/internal/reply.h"

namespace cairn::server {

class LibsqlSyncEndpoints {
 public:
  LibsqlSyncEndpoints(libsql_sync::SyncService* service, const HranaRequests* requests,
                      BlockingPools* pools)
      : service_(service), requests_(requests), pools_(pools) {}

  // `path` satisfies libsql_sync::IsSyncPath.
  boost::asio::awaitable<Reply> Handle(const http::Request& req, std::string_view method,
                                       std::string_view path);

 private:
  libsql_sync::SyncService* const service_;
  const HranaRequests* const requests_;
  BlockingPools* const pools_;
};

}  // namespace cairn::server
