// Reply: an answer of the server's listeners before its head is rendered, and the one place where
// an answer built from a Status gets its HTTP status and body: hrana/errors.h maps the Status
// (hrana::HttpStatus, hrana::ErrorBody); HttpStatusOf adds the two statuses that are HTTP's own
// and that no Status code names (405 wrong method, 409 wrong role), keeping the Status's Hrana
// error code in the body.
//
// Private to server.
//
// Thread-safety: values and pure functions.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace cairn::server {

// Every answer also carries Server, x-request-id, Access-Control-Allow-Origin, Content-Length and,
// when the connection closes, Connection.
struct Reply {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more fields (rare)
};

inline Reply MakeReply(int status, std::string content_type, std::string body) {
  Reply r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

// Why a request is refused, beyond what its Status says.
enum class Refusal {
  kByStatus,     // the Status decides: hrana::HttpStatus
  kWrongMethod,  // 405: the endpoint exists, not with this method
  kWrongRole,    // 409: only the other role serves it (a replica asked what a primary does)
};

// The HTTP status of an answer that fails with `st` (not ok).
int HttpStatusOf(const Status& st, Refusal why = Refusal::kByStatus);

// That status, with the Hrana error body of `st`.
Reply ErrorReply(const Status& st, Refusal why = Refusal::kByStatus);

// An ErrorReply with the challenge RFC 6750 asks for (401 for a kUnauthenticated `st`).
Reply Unauthenticated(const Status& st);

// A request for an endpoint that does not exist (a kNotFound `st`): its body is
// {"message", "code": "NOT_FOUND"}, not the Hrana code of a missing database.
Reply NoSuchEndpoint(const Status& st);

}  // namespace cairn::server
