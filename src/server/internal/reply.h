// Reply: an answer of the server's listeners before its head is rendered, and the one place where
// an answer built from a Status gets its HTTP status (hrana::HttpStatus, hrana/errors.h) and body.
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

// 401 with the challenge RFC 6750 asks for.
Reply Unauthenticated(const Status& st);

// The body of a request for an endpoint that does not exist: {"message", "code": "NOT_FOUND"}
// (not the Hrana code of a missing database).
std::string NotFoundBody(const Status& st);

}  // namespace cairn::server
