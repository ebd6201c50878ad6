// ClusterRole: whether this server is a primary or a read replica, and the wiring that changes it
// — the replication::Follower of a replica (--replica-of), and in cluster mode (--cluster-etcd)
// the cluster::Election that makes this node the primary or a follower of another.
//
// Private to server.
//
// Thread-safety: every method may be called from any thread; is_replica() reads an atomic (every
// request asks), the rest take a mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "cluster/election.h"
#include "engine/registry.h"
#include "replication/feed.h"
#include "replication/follower.h"
#include "server/server.h"

namespace cairn::server {

class ClusterRole {
 public:
  // `registry` and `feed` must outlive this. A primary until Follow() or the election says
  // otherwise.
  ClusterRole(const ServerOptions& opts, engine::Registry* registry, replication::ChangeFeed* feed)
      : opts_(opts), registry_(registry), feed_(feed) {}

  bool is_replica() const { return is_replica_.load(std::memory_order_acquire); }
  // The flag is_replica() reads, for those who keep a pointer to it.
  const std::atomic<bool>& replica_flag() const { return is_replica_; }
  // Null on a primary. A primary answers from the atomic, without the lock.
  std::shared_ptr<replication::Follower> follower() const;
  // The primary's admin URL a replica follows; empty on a primary (or during an election).
  std::string PrimaryUrl() const;

  // Makes this server a replica of `primary` (a new follower, not started; the old one, if any,
  // stops).
  void Follow(const std::string& primary);
  // Cluster mode: campaigns on etcd and switches roles as the election decides. `admin_port`: the
  // admin listener's bound port (this node's URL unless node_url says otherwise).
  void StartElection(uint16_t admin_port);
  // Hands the primary role over (cluster mode) and stops following; once, at shutdown.
  void Stop();

 private:
  void BecomePrimary();

  const ServerOptions& opts_;
  engine::Registry* const registry_;
  replication::ChangeFeed* const feed_;
  std::unique_ptr<cluster::Election> election_;
  mutable std::mutex mu_;
  std::shared_ptr<replication::Follower> follower_;  // guarded by mu_
  std::string primary_url_;                          // guarded by mu_
  std::atomic<bool> is_replica_{false};              // follower_ != null
};

}  // namespace cairn::server
