// ReplicationEndpoints: /v1/replication on the admin listener — the replication status of either
// role, and on a primary the endpoints replicas follow (replication::Source; docs/replication.md).
// A change-feed poll with nothing new waits on the feed (never on a thread); snapshots are read
// on BlockingPools.
//
// Private to server (Asio appears in its signatures).
//
// Thread-safety: Handle may be called from any network thread; what the constructor takes must
// outlive this.
#pragma once

#include <string>
#include <string_view>

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "replication/feed.h"
#include "replication/source.h"
#include "server/internal/blocking_pools.h"
#include "server/internal/cluster_role.h"
#include "server/internal/connection.h"
#include "server/internal/reply.h"

namespace cairn::server {

class ReplicationEndpoints {
 public:
  // `source` null: this server started as a replica (it serves only the status).
  ReplicationEndpoints(replication::Source* source, replication::ChangeFeed* feed,
                       const ClusterRole* role, BlockingPools* pools, const ServingState* serving)
      : source_(source), feed_(feed), role_(role), pools_(pools), serving_(serving) {}

  // `path` is /v1/replication or under /v1/replication/; `target` has the query.
  boost::asio::awaitable<Reply> Handle(std::string_view method, std::string_view path,
                                       std::string_view target);

 private:
  std::string StatusJson() const;

  replication::Source* const source_;
  replication::ChangeFeed* const feed_;
  const ClusterRole* const role_;
  BlockingPools* const pools_;
  const ServingState* const serving_;
};

}  // namespace cairn::server
