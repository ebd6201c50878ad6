// Peers: how far other nodes of a cluster have followed the primary — so that when the primary is
// gone, a node does not take its place while another node has applied more of its transactions
// (with synchronous replication those may be acknowledged writes).
//
// Thread-safety: free functions; PeerAhead does blocking HTTP requests.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "replication/follower.h"

namespace cairn::replication {

// Whether the replication status a peer serves (GET /v1/replication, JSON) shows some database
// of the same generation as one of `mine` at a higher txid, or one `mine` lacks at txid > 0.
// Anything else — a primary's status, malformed JSON — is not ahead.
bool StatusAhead(std::string_view peer_status, const std::vector<FollowedDatabase>& mine);

// Asks each of `peer_urls` (admin listeners) for its status, at most `timeout` each; a peer that
// does not answer in time is not ahead (it is down, paused or cut off).
bool PeerAhead(const std::vector<FollowedDatabase>& mine, const std::vector<std::string>& peer_urls,
               const std::string& auth_key, std::chrono::milliseconds timeout);

}  // namespace cairn::replication
