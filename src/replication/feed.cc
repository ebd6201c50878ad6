#include "replication/feed.h"

#include <random>

#include <fmt/format.h>

namespace cairn::replication {

namespace {
std::string NewEpoch() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}
}  // namespace

ChangeFeed::ChangeFeed() : epoch_(NewEpoch()) {}

void ChangeFeed::Changed(const std::string& db) {
  std::unordered_map<uint64_t, std::function<void()>> wake;
  {
    std::lock_guard lk(mu_);
    const uint64_t s = ++seq_;
    auto [it, inserted] = last_.try_emplace(db, s);
    if (inserted) {
      order_.emplace(s, db);
    } else {
      // Every commit of a database moves its entry: reuse the node (no allocation, no copy).
      auto node = order_.extract(it->second);
      node.key() = s;
      order_.insert(std::move(node));
      it->second = s;
    }
    if (!waiters_.empty()) wake.swap(waiters_);
  }
  for (auto& [id, fn] : wake) fn();
}

uint64_t ChangeFeed::seq() const {
  std::lock_guard lk(mu_);
  return seq_;
}

std::vector<std::string> ChangeFeed::Since(uint64_t after, size_t max, uint64_t* next) const {
  std::vector<std::string> out;
  std::lock_guard lk(mu_);
  *next = seq_;
  for (auto it = order_.upper_bound(after); it != order_.end(); ++it) {
    if (out.size() == max) {
      *next = std::prev(it)->first;
      break;
    }
    out.push_back(it->second);
  }
  return out;
}

uint64_t ChangeFeed::NotifyAfter(uint64_t after, std::function<void()> wake) {
  {
    std::lock_guard lk(mu_);
    if (seq_ <= after) {
      const uint64_t id = next_waiter_++;
      waiters_.emplace(id, std::move(wake));
      return id;
    }
  }
  wake();
  return 0;
}

void ChangeFeed::Cancel(uint64_t id) {
  std::lock_guard lk(mu_);
  waiters_.erase(id);
}

}  // namespace cairn::replication
