#include "vector/stale_rows.h"

namespace cairn::vector {

StaleRows& StaleRows::Instance() {
  static StaleRows* r = new StaleRows();  // never destroyed: used until process exit
  return *r;
}

void StaleRows::Add(const std::string& key, const std::vector<int64_t>& ids) {
  std::lock_guard lk(mu_);
  auto& set = map_[key];
  for (int64_t id : ids)
    if (set.size() < kMaxPerIndex) set.insert(id);
}

std::vector<int64_t> StaleRows::Take(const std::string& key) {
  std::lock_guard lk(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return {};
  std::vector<int64_t> ids(it->second.begin(), it->second.end());
  map_.erase(it);
  return ids;
}

}  // namespace cairn::vector
