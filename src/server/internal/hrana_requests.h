// HranaRequests: a Hrana request on the HTTP listener before and while it runs — its admission
// (the endpoint, the method, the credentials, the database: all settled once per request, without
// waiting for anything), the hrana::Call that runs it, and running that call on the network thread
// until it must wait for the write lock (then on BlockingPools).
//
// Private to server (Asio appears in its signatures).
//
// Thread-safety: every method may be called from any network thread; what the constructor takes
// must outlive this.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "auth/auth.h"
#include "engine/registry.h"
#include "hrana/service.h"
#include "http/http.h"
#include "server/internal/blocking_pools.h"
#include "server/internal/reply.h"

namespace cairn::server {

// What a Hrana request runs on, once admitted.
struct Admitted {
  hrana::Version version = hrana::Version::kV3;
  bool cursor = false;
  std::string db;
  bool read_only = false;
};

class HranaRequests {
 public:
  // `authenticator` null: no authentication.
  HranaRequests(hrana::Service* service, engine::Registry* registry,
                const auth::Authenticator* authenticator, BlockingPools* pools)
      : service_(service), registry_(registry), authenticator_(authenticator), pools_(pools) {}

  // An answer when admission settles the request (GET /health, an error), else nullopt with
  // *out filled in.
  std::optional<Reply> Admit(const http::Request& req, std::string_view method,
                             Admitted* out) const;

  // The credentials and the database of a request, as Hrana settles them (authentication, then
  // routing.h's choice among the databases the credentials allow): an error answer, else nullopt
  // with *db and *read_only (a read-only grant) set. Other endpoints that act for a database's
  // clients (libSQL's sync protocol) admit the same way.
  std::optional<Reply> Authorize(const http::Request& req, std::string* db, bool* read_only) const;

  // The call that runs a Hrana request on the database it was admitted for.
  std::unique_ptr<hrana::Call> NewCall(Admitted a, std::string body) const;

  // Runs one call: on the network thread until it must wait for the write lock, then on a thread
  // that may block. A call that does not wait completes within the first resumption of this
  // coroutine: no suspension, no thread switch.
  boost::asio::awaitable<Reply> Run(std::unique_ptr<hrana::Call> call,
                                    std::string_view request_id) const;

 private:
  hrana::Service* const service_;
  engine::Registry* const registry_;
  const auth::Authenticator* const authenticator_;
  BlockingPools* const pools_;
};

}  // namespace cairn::server
