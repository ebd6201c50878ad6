#include "server/internal/cluster_role.h"

#include <chrono>
#include <utility>
#include <vector>

#include "replication/peers.h"

namespace cairn::server {

std::shared_ptr<replication::Follower> ClusterRole::follower() const {
  if (!is_replica()) return nullptr;
  std::lock_guard lk(mu_);
  return follower_;
}

std::string ClusterRole::PrimaryUrl() const {
  std::lock_guard lk(mu_);
  return primary_url_;
}

void ClusterRole::Follow(const std::string& primary) {
  replication::FollowerOptions fo = opts_.follower;
  fo.primary_url = primary;
  fo.auth_key = opts_.replication_key;
  auto next = std::make_shared<replication::Follower>(registry_, std::move(fo));
  std::shared_ptr<replication::Follower> old;
  {
    std::lock_guard lk(mu_);
    old = std::move(follower_);
    follower_ = next;
    primary_url_ = primary;
    is_replica_ = true;
  }
  if (old) old->Stop();
}

void ClusterRole::BecomePrimary() {
  // Until the databases have switched, requests are still routed as on a replica (writes
  // forwarded to the old primary fail): nothing reaches a database in the wrong role.
  if (auto f = follower()) f->Stop();
  registry_->SetReplica(false);  // databases reopen with their log (a new generation each)
  {
    std::lock_guard lk(mu_);
    follower_.reset();
    primary_url_.clear();
    is_replica_ = false;
  }
  for (const std::string& db : registry_->List()) feed_->Changed(db);
}

void ClusterRole::StartElection(uint16_t admin_port) {
  cluster::ElectionOptions eo;
  eo.etcd_url = opts_.cluster_etcd;
  eo.cluster = opts_.cluster_name;
  eo.node_url = opts_.node_url.empty()
                    ? "http://" + opts_.admin_listen.substr(0, opts_.admin_listen.rfind(':')) +
                          ":" + std::to_string(admin_port)
                    : opts_.node_url;
  eo.lease_ttl_s = opts_.lease_ttl_s;
  eo.set_fence = [this](int64_t until) { registry_->SetWriteFence(until); };
  eo.caught_up = [this] {
    auto f = follower();
    if (!f) return true;  // never followed anyone: a new cluster
    for (const auto& d : f->Databases())
      if (d.position.txid < d.primary_txid) return false;
    return true;
  };
  eo.peer_ahead = [this](const std::vector<std::string>& peers) {
    auto f = follower();
    return f && replication::PeerAhead(f->Databases(), peers, opts_.replication_key,
                                       std::chrono::milliseconds(300));
  };
  eo.become_primary = [this] { BecomePrimary(); };
  eo.follow = [this](const std::string& primary) {
    const bool was_primary = !registry_->replica();
    if (was_primary) registry_->SetReplica(true);
    Follow(primary);
    if (auto f = follower()) f->Start();
  };
  election_ = std::make_unique<cluster::Election>(std::move(eo));
  election_->Start();
}

void ClusterRole::Stop() {
  if (election_) election_->Stop(/*handoff=*/true);
  if (auto f = follower()) f->Stop();
}

}  // namespace cairn::server
