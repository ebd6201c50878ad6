#include "engine/replica_acks.h"

namespace cairn::engine {

void ReplicaAcks::Ack(const std::string& db, const std::string& replica, uint64_t txid) {
  {
    std::lock_guard lk(mu_);
    Position& p = acks_[db][replica];
    p.txid = std::max(p.txid, txid);
    p.seen_us = clock_->MonotonicMicros();
  }
  cv_.notify_all();
}

int ReplicaAcks::CountLocked(const std::string& db, uint64_t txid) const {
  auto it = acks_.find(db);
  if (it == acks_.end()) return 0;
  const int64_t horizon = clock_->MonotonicMicros() -
                          std::chrono::duration_cast<std::chrono::microseconds>(kForget).count();
  int n = 0;
  for (const auto& [replica, p] : it->second)
    if (p.txid >= txid && p.seen_us >= horizon && replica != kObjectStore) ++n;
  return n;
}

int ReplicaAcks::Count(const std::string& db, uint64_t txid) const {
  std::lock_guard lk(mu_);
  return CountLocked(db, txid);
}

bool ReplicaAcks::WaitFor(const std::string& db, uint64_t txid, int n,
                          std::chrono::milliseconds timeout, bool store) {
  std::unique_lock lk(mu_);
  auto stored = [&] {
    auto it = acks_.find(db);
    if (it == acks_.end()) return false;
    auto s = it->second.find(kObjectStore);
    return s != it->second.end() && s->second.txid >= txid;
  };
  return cv_.wait_for(lk, timeout,
                      [&] { return CountLocked(db, txid) >= n && (!store || stored()); });
}

}  // namespace cairn::engine
