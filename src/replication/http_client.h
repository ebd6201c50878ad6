// HttpClient: how a replica talks to its primary and to its peers — net::HttpClient with the
// replica's user agent and compressed answers (snapshots and log files travel well compressed).
// The follower's loop, PeerAhead and the server's forwarding of writes each use one.
//
// Thread-safety: net::HttpClient's — one thread at a time, Abort from any thread.
#pragma once

#include <string>

#include "net/http_client.h"

namespace cairn::replication {

using HttpAnswer = net::HttpAnswer;

class HttpClient : public net::HttpClient {
 public:
  // `primary_url` like http://host:port; `key`, when set, goes out as Authorization: Bearer.
  HttpClient(std::string primary_url, std::string key)
      : net::HttpClient(std::move(primary_url), std::move(key),
                        {.user_agent = "cairn-replica", .accept_compressed = true}) {}
};

}  // namespace cairn::replication
