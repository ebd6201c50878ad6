#include "vector/graph_cache.h"

#include <algorithm>
#include <cstddef>

namespace cairn::vector {
namespace {

constexpr size_t kCacheBudgetBytes = size_t{2} << 30;
constexpr size_t kCopiesPerIndex = 2;

}  // namespace

GraphCache& GraphCache::Instance() {
  static GraphCache* c = new GraphCache();  // never destroyed: used until process exit
  return *c;
}

std::shared_ptr<CachedGraph> GraphCache::Find(const std::string& key, uint64_t generation) {
  std::lock_guard lk(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  for (auto& g : it->second) {
    if (g->generation.load() == generation) {
      g->last_use = ++clock_;
      return g;
    }
  }
  return nullptr;
}

void GraphCache::Put(const std::string& key, std::shared_ptr<CachedGraph> g) {
  std::lock_guard lk(mu_);
  g->last_use = ++clock_;
  auto& copies = map_[key];
  copies.push_back(std::move(g));
  while (copies.size() > kCopiesPerIndex) {
    auto oldest = std::min_element(copies.begin(), copies.end(), [](const auto& a, const auto& b) {
      return a->last_use < b->last_use;
    });
    copies.erase(oldest);
  }
  // The byte budget: drop least recently used graphs of other indexes first.
  for (int guard = 0; guard < 1024 && Bytes() > kCacheBudgetBytes; ++guard) {
    std::string victim_key;
    size_t victim_pos = 0;
    uint64_t oldest = UINT64_MAX;
    for (auto& [k, v] : map_)
      for (size_t i = 0; i < v.size(); ++i)
        if (v[i]->last_use < oldest && !(k == key && v.size() == 1)) {
          oldest = v[i]->last_use;
          victim_key = k;
          victim_pos = i;
        }
    if (oldest == UINT64_MAX) break;
    auto& v = map_[victim_key];
    v.erase(v.begin() + static_cast<std::ptrdiff_t>(victim_pos));
    if (v.empty()) map_.erase(victim_key);
  }
}

void GraphCache::Erase(const std::string& key) {
  std::lock_guard lk(mu_);
  map_.erase(key);
}

size_t GraphCache::Bytes() const {
  size_t n = 0;
  for (const auto& [k, v] : map_)
    for (const auto& g : v) n += g->graph.MemoryBytes();
  return n;
}

}  // namespace cairn::vector
