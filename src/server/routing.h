// Which database a request is for.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "engine/registry.h"

namespace cairn::server {

// Chooses the database of a request, as sqld does:
//  1. the `x-namespace` header (or `x-namespace-bin`, base64): it must name an existing database
//     (kNotFound) with a valid name (kInvalidName);
//  2. else the first label of the Host header, when the host has at least two labels, is not an IP
//     address, and that label names an existing database (so `tenant1.db.example.com` works and
//     `localhost` or `127.0.0.1` do not count);
//  3. else `default`.
//
// `may_use`, when given, says whether the client's credentials allow a database at all: a database
// named in a header that the client may not use is kPermissionDenied whether or not it exists (so
// nothing leaks about other tenants' databases), a Host label is only considered when the client
// may use it, and so is the `default` fallback.
Result<std::string> SelectDatabase(std::string_view ns_header, std::string_view ns_bin_header,
                                   std::string_view host_header, const engine::Registry& registry,
                                   const std::function<bool(std::string_view)>& may_use = {});

}  // namespace cairn::server
