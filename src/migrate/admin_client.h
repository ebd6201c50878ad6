// The one admin API call `cairn migrate` needs: the list of databases (GET /v1/namespaces on the
// admin listener, src/server/admin.h), over net's HTTP client.
//
// Thread-safety: free functions; safe to call from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cairn::migrate {

// Every database the server knows, sorted. `admin_url` is normalised like the shell's URLs;
// `admin_key`, when non-empty, is sent as Authorization: Bearer (serve --admin-auth-key).
// kUnavailable when the server cannot be reached, kUnauthenticated on 401/403, kInternal for
// other answers.
Result<std::vector<std::string>> ListDatabases(std::string_view admin_url,
                                               const std::string& admin_key);

// Decodes {"namespaces": ["a", "b", ...]}; kInvalidRequest for anything else. Sorted output.
Result<std::vector<std::string>> ParseNamespaceList(std::string_view body);

}  // namespace cairn::migrate
