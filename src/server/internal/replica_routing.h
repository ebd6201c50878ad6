// ReplicaRouting: the two ends of a replica's forwarding (forwarding.h decides what goes where).
// On a replica, OnReplica answers a Hrana request here — once the replication_index it asks is
// applied, waited for on a timer, never a thread — or sends it to the primary's admin listener
// (/v1/forward/...) and returns the primary's answer. On the primary, Forwarded runs a request a
// replica forwarded.
//
// Private to server (Asio appears in its signatures).
//
// Thread-safety: every method may be called from any network thread; what the constructor takes
// must outlive this.
#pragma once

#include <string>
#include <string_view>

// GCC 12 with -std=c++20 needs <utility> before Asio's awaitable header.
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "engine/registry.h"
#include "http/http.h"
#include "replication/follower.h"
#include "server/internal/blocking_pools.h"
#include "server/internal/cluster_role.h"
#include "server/internal/connection.h"
#include "server/internal/hrana_requests.h"
#include "server/internal/reply.h"

namespace cairn::server {

class ReplicaRouting {
 public:
  // `replication_key`: the primary's admin key, sent with forwarded requests.
  ReplicaRouting(HranaRequests* requests, ClusterRole* role, engine::Registry* registry,
                 BlockingPools* pools, const ServingState* serving, std::string replication_key)
      : requests_(requests),
        role_(role),
        registry_(registry),
        pools_(pools),
        serving_(serving),
        replication_key_(std::move(replication_key)) {}

  // A replica: an admitted request, run here or at the primary. The body is decoded once, by the
  // call that runs it here: routing reads what it decoded.
  boost::asio::awaitable<Reply> OnReplica(const http::Request& req, Admitted a,
                                          std::string_view request_id);

  // A primary: a Hrana request a replica forwarded (its client is already authenticated there;
  // x-cairn-read-only carries what its token allows). `path` starts with /v1/forward/.
  boost::asio::awaitable<Reply> Forwarded(const http::Request& req, std::string_view method,
                                          std::string_view path, std::string_view request_id);

 private:
  boost::asio::awaitable<bool> WaitForIndex(const replication::Follower& f, const std::string& db,
                                            uint64_t index);
  boost::asio::awaitable<Reply> Forward(std::string_view path, std::string db, std::string body,
                                        bool read_only, std::string_view request_id);

  HranaRequests* const requests_;
  ClusterRole* const role_;
  engine::Registry* const registry_;
  BlockingPools* const pools_;
  const ServingState* const serving_;
  const std::string replication_key_;
};

}  // namespace cairn::server
