// AdminApi: the operator's HTTP API on its own listener (never on the public port).
//
//   POST   /v1/namespaces/:ns/create   create a database        200 {} | 400 | 409
//   DELETE /v1/namespaces/:ns          delete it and its files  200 {} | 404
//   GET    /v1/namespaces              list                     200 {"namespaces":[...]}
//   GET    /health                     200
//
// Thread-safety: safe to call from any thread.
#pragma once

#include <string>
#include <string_view>

#include "engine/registry.h"

namespace cairn::server {

struct AdminResponse {
  int status = 200;
  std::string body;  // JSON
};

class AdminApi {
 public:
  explicit AdminApi(engine::Registry* registry) : registry_(registry) {}
  AdminResponse Handle(std::string_view method, std::string_view path, std::string_view body);

 private:
  engine::Registry* const registry_;
};

}  // namespace cairn::server
