// Forwarding on a read replica: which Hrana requests a replica answers itself and which go to
// the primary, and the rewriting of batons between the two (docs/replication.md).
//
// A replica answers a request itself when every statement in it only reads, after waiting (if
// the request carries a replication_index) until it has applied that position. Anything that may
// write — a write statement, BEGIN (other than libSQL's BEGIN TRANSACTION READONLY), SAVEPOINT,
// a PRAGMA assignment, a sequence (script) — sends the whole request to the primary, and the
// stream stays on the primary from then on: the replica hands the client the primary's baton
// with a prefix, and every request that carries such a baton is forwarded. The client sees the
// primary's results unchanged and needs no knowledge of the topology. Misjudging a write as a
// read cannot corrupt anything: replica databases refuse every client write.
//
// What a request is comes from hrana's decoder (hrana::HttpRequestHead: the baton, whether it may
// write, the replication_index asked), which decodes each body once: nothing here parses JSON or
// reads SQL.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hrana/protocol.h"

namespace cairn::server {

// Batons of streams that live on the primary start with this (not a base64url character).
inline constexpr std::string_view kPrimaryBatonPrefix = "~p~";
// The header any HTTP client may send instead of replication_index in the body.
inline constexpr std::string_view kReplicationIndexHeader = "x-replication-index";

struct ReplicaRoute {
  bool forward = false;
  // The request body to send to the primary (batons rewritten) when forward.
  std::string forward_body;
  // Answer locally only once this position is applied (the largest replication_index asked).
  uint64_t wait_for_index = 0;
  // The request continues a stream this replica keeps: when wait_for_index is not applied in
  // time it is still answered here (the stream cannot move); any other request then goes to the
  // primary, as it is.
  bool stream_here = false;
};

// Decides where a /v2|v3/pipeline or /v3/cursor request runs: `body` as received, `head` as hrana
// decoded it (a body that does not decode is answered here, with the protocol's error).
ReplicaRoute RouteOnReplica(std::string_view body, const hrana::HttpRequestHead& head,
                            std::string_view index_header);

// The primary's answer (a pipeline response, or a cursor response whose first line holds the
// baton), with its baton prefixed so that the stream's next requests come back here to be
// forwarded.
std::string WrapPrimaryBaton(std::string body);

}  // namespace cairn::server
