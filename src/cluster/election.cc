#include "cluster/election.h"

#include <spdlog/spdlog.h>

#include "cluster/etcd.h"

namespace cairn::cluster {

void Election::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Election::Stop(bool handoff) {
  handoff_ = handoff;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string Election::primary_url() const {
  std::lock_guard lk(mu_);
  return primary_url_;
}

void Election::StepDown(const std::string& why) {
  if (!primary_.exchange(false)) return;
  opts_.set_fence(opts_.clock->MonotonicMicros());  // no more writes, now
  spdlog::warn("cluster: stepping down as primary: {}", why);
  std::lock_guard lk(mu_);
  primary_url_.clear();
}

bool Election::PeerAhead(EtcdClient* etcd) {
  if (!opts_.peer_ahead) return false;
  auto nodes = etcd->List(opts_.cluster + "/nodes/");
  if (!nodes.ok()) return false;
  std::vector<std::string> peers;
  for (const auto& [key, url] : *nodes)
    if (url != opts_.node_url) peers.push_back(url);
  return !peers.empty() && opts_.peer_ahead(peers);
}

void Election::Loop() {
  EtcdClient etcd(opts_.etcd_url);
  const std::string primary_key = opts_.cluster + "/primary";
  const std::string node_key = opts_.cluster + "/nodes/" + opts_.node_url;
  const int64_t ttl_us = int64_t{opts_.lease_ttl_s} * 1'000'000;
  // Writes stop this long before the lease can expire (clock-rate drift between this node and
  // etcd over one TTL must stay below it).
  const int64_t fence_margin_us = std::min<int64_t>(1'000'000, ttl_us / 4);
  const auto period = std::chrono::milliseconds(std::min(500, opts_.lease_ttl_s * 1000 / 3));
  int64_t lease = 0;
  int64_t last_ok_send = 0;
  int64_t no_primary_since = 0;
  bool warned = false;
  std::string following;
  while (!stop_) {
    const int64_t now = opts_.clock->MonotonicMicros();
    if (lease == 0) {
      auto l = etcd.GrantLease(opts_.lease_ttl_s);
      if (!l.ok()) {
        if (!warned)
          spdlog::warn("cluster: etcd at {} does not answer: {}", opts_.etcd_url,
                       l.status().message());
        warned = true;
        if (primary_ && now >= last_ok_send + ttl_us - fence_margin_us)
          StepDown("etcd unreachable");
        std::this_thread::sleep_for(period);
        continue;
      }
      lease = *l;
      last_ok_send = now;
      (void)etcd.Put(node_key, opts_.node_url, lease);
    } else {
      auto ttl = etcd.KeepAlive(lease);
      if (!ttl.ok()) {
        if (ttl.status().code() == Code::kNotFound) {
          lease = 0;
          StepDown("its lease expired");
          continue;
        }
        if (!warned) spdlog::warn("cluster: cannot renew the lease: {}", ttl.status().message());
        warned = true;
        if (primary_ && now >= last_ok_send + ttl_us - fence_margin_us)
          StepDown("the lease could not be renewed");
        std::this_thread::sleep_for(period);
        continue;
      }
      last_ok_send = now;
    }
    warned = false;
    if (primary_) {
      opts_.set_fence(last_ok_send + ttl_us - fence_margin_us);
      std::this_thread::sleep_for(period);
      continue;
    }
    // Not the primary: follow the one there is, or campaign.
    auto cur = etcd.Get(primary_key);
    if (!cur.ok()) {
      std::this_thread::sleep_for(period);
      continue;
    }
    std::optional<KeyValue> holder = *cur;
    if (!holder || holder->value == opts_.node_url) {
      // No primary (or only this node's own key from before a restart, expiring with its lease).
      if (no_primary_since == 0) no_primary_since = now;
      const bool behind_too_long = now - no_primary_since > 2 * ttl_us;
      if (!holder && (behind_too_long || (opts_.caught_up() && !PeerAhead(&etcd)))) {
        std::optional<KeyValue> other;
        auto created = etcd.CreateIfAbsent(primary_key, opts_.node_url, lease, &other);
        if (created.ok() && *created) {
          opts_.set_fence(last_ok_send + ttl_us - fence_margin_us);
          primary_ = true;
          {
            std::lock_guard lk(mu_);
            primary_url_ = opts_.node_url;
          }
          following.clear();
          no_primary_since = 0;
          spdlog::info("cluster {}: this node ({}) is the primary", opts_.cluster, opts_.node_url);
          opts_.become_primary();
          continue;
        }
        if (created.ok() && other) holder = other;
      }
    }
    if (holder && holder->value != opts_.node_url) {
      no_primary_since = 0;
      {
        std::lock_guard lk(mu_);
        primary_url_ = holder->value;
      }
      if (following != holder->value) {
        following = holder->value;
        spdlog::info("cluster {}: following the primary {}", opts_.cluster, following);
        opts_.follow(following);
      }
    }
    std::this_thread::sleep_for(period);
  }
  if (handoff_ && lease != 0) {
    if (primary_) {
      opts_.set_fence(opts_.clock->MonotonicMicros());
      (void)etcd.DeleteIfLease(primary_key, lease);
      primary_ = false;
      spdlog::info("cluster {}: handed the primary role off", opts_.cluster);
    }
    (void)etcd.Revoke(lease);
  }
}

}  // namespace cairn::cluster
