// Election: primary election for a cluster of Cairn nodes on etcd (cairn serve --cluster-etcd).
//
// Every node holds a lease of lease_ttl seconds, renewed every ~TTL/3 (at most every 500 ms), and
// registers itself under <cluster>/nodes/. The primary is whoever created the key
// <cluster>/primary (value: its admin URL) bound to its lease; the others follow it. When the
// primary dies its lease — and the key — expire within the TTL, and the first node that is fully
// caught up with it, and sees no reachable peer that applied more, creates the key again (a node
// that is behind waits two TTLs before trying, so that the most advanced node wins if it is up).
//
// Fencing: a primary may acknowledge writes only until (send time of its last successful lease
// renewal + TTL − min(1 s, TTL/4)); that deadline is handed to the engine (Registry::SetWriteFence)
// after every renewal, so a primary that cannot renew — partitioned, or paused with SIGSTOP — stops
// taking writes before its lease can expire and anyone else can be elected. When a renewal
// fails outright the node steps down and follows whoever holds the key.
//
// Thread-safety: Start/Stop from one thread; primary()/primary_url() from any thread. The
// callbacks run on the election thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace cairn::cluster {

class EtcdClient;

struct ElectionOptions {
  std::string etcd_url;           // http://host:port of etcd's client API
  std::string cluster = "cairn";  // key prefix: several clusters may share one etcd
  std::string node_url;           // this node's admin listener as the others reach it
  int lease_ttl_s = 5;
  Clock* clock = Clock::Real();
  // This node is now the primary (after fencing is set).
  std::function<void()> become_primary;
  // This node follows `primary_url` (called whenever it changes, also right after a step-down).
  std::function<void(const std::string& primary_url)> follow;
  // Whether this node has applied everything the last primary it followed had.
  std::function<bool()> caught_up;
  // Whether one of these peers (admin URLs of the other registered nodes) has applied more than
  // this node; such a node waits as one that is behind. Unset: never.
  std::function<bool(const std::vector<std::string>& peers)> peer_ahead;
  // The engine's write fence (CLOCK_MONOTONIC µs; see Registry::SetWriteFence).
  std::function<void(int64_t)> set_fence;
};

class Election {
 public:
  explicit Election(ElectionOptions opts) : opts_(std::move(opts)) {}
  ~Election() { Stop(false); }

  void Start();
  // Stops campaigning. With handoff, a primary first gives the key up (and revokes its lease) so
  // that another node takes over at once instead of after the TTL.
  void Stop(bool handoff);

  bool primary() const { return primary_.load(); }
  std::string primary_url() const;
  std::string key_prefix() const { return opts_.cluster + "/"; }

 private:
  void Loop();
  void StepDown(const std::string& why);
  bool PeerAhead(EtcdClient* etcd);

  const ElectionOptions opts_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> handoff_{false};
  std::atomic<bool> primary_{false};
  mutable std::mutex mu_;
  std::string primary_url_;  // guarded by mu_
};

}  // namespace cairn::cluster
