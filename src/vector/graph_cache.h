// The process-wide cache of vector-index graphs, which makes searches run in memory: every
// connection of the process that uses the same index (same database file, same index name) shares
// its cached graph.
//
// Generations. Every change of an index's graph stores a fresh random 64-bit `generation` in its
// _meta table, in the same transaction. A cached graph is tagged with the generation it reflects,
// so a connection uses it only if the generation it reads (in its own snapshot) matches:
// rolled-back changes, other processes and replicas applying pages can never make it use a stale
// graph. The writer updates the cached graph in place as it writes the rows; a reader whose
// snapshot is older loads its own copy. At most two copies per index are kept, and the least
// recently used graphs of other indexes are dropped when all of them together pass a byte budget.
//
// Thread-safety: GraphCache's methods may be called from any thread. A CachedGraph is shared
// between connections: read its graph with `mu` held shared, change it with `mu` held exclusively.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "vector/graph.h"

namespace cairn::vector {

struct CachedGraph {
  explicit CachedGraph(const GraphParams& p) : graph(p) {}
  std::shared_mutex mu;  // exclusive while the graph changes
  // The generation the graph reflects; 0 while it changes or when unusable. Written with mu held
  // exclusively; read without it to find a candidate, then re-checked under the lock.
  std::atomic<uint64_t> generation{0};
  Graph graph;
  uint64_t last_use = 0;  // guarded by the cache's mutex
};

class GraphCache {
 public:
  // The one cache of the process.
  static GraphCache& Instance();

  // The cached graph of index `key` that reflects `generation`, or nullptr.
  std::shared_ptr<CachedGraph> Find(const std::string& key, uint64_t generation);
  // Adds a graph of index `key`, dropping its least recently used copy beyond two, then the least
  // recently used graphs of the process while they pass the byte budget (never `key`'s last one).
  void Put(const std::string& key, std::shared_ptr<CachedGraph> g);
  // Forgets every graph of index `key` (the index was dropped).
  void Erase(const std::string& key);

 private:
  size_t Bytes() const;  // with mu_ held

  std::mutex mu_;
  uint64_t clock_ = 0;
  std::map<std::string, std::vector<std::shared_ptr<CachedGraph>>> map_;
};

}  // namespace cairn::vector
