// Hrana over WebSocket on the Hrana listener: the upgrade (refused with a JSON error, or accepted
// with 101) and then the session, served by hrana::WsConnection until either side closes.
// Messages run one after the other, each like an HTTP call: on the connection's network thread
// unless it must wait for the write lock (then on BlockingPools, while the connection goes on).
//
// Private to server (Asio appears in its signatures).
//
// Thread-safety: Serve runs on the connection's network thread, any number at once; what
// WebSocketDeps points to must outlive every session.
#pragma once

#include <atomic>
#include <memory>
#include <string>

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "auth/auth.h"
#include "engine/registry.h"
#include "hrana/service.h"
#include "http/http.h"
#include "server/http_metrics.h"
#include "server/internal/blocking_pools.h"
#include "server/internal/connection.h"

namespace cairn::server {

// What a session uses of the server.
struct WebSocketDeps {
  hrana::Service* service = nullptr;
  engine::Registry* registry = nullptr;
  const auth::Authenticator* authenticator = nullptr;  // null: no authentication
  BlockingPools* pools = nullptr;
  HttpMetrics* http_metrics = nullptr;
  ServingState* serving = nullptr;
  const std::atomic<bool>* is_replica = nullptr;  // a replica refuses WebSocket upgrades
  size_t max_message_bytes = 0;
  int blocking_threads = 0;
};

class WebSocketSessions {
 public:
  explicit WebSocketSessions(WebSocketDeps deps) : deps_(deps) {}

  // Serves the upgrade request `reader` holds (http::ws::IsUpgradeRequest) on c; returns when the
  // connection is done with.
  boost::asio::awaitable<void> Serve(std::shared_ptr<ConnState> c, http::RequestReader& reader,
                                     std::string request_id);

 private:
  const WebSocketDeps deps_;
};

}  // namespace cairn::server
