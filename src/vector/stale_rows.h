// Rows a search found gone from their table (or NULL there) while the index still held them, per
// index (its cache key), process-wide: the next write to that index on any connection of the
// process syncs them, which removes their nodes.
//
// How a row can leave its table without its delete trigger: REPLACE conflict resolution deletes
// the conflicting row of *another* unique column without firing delete triggers (unless
// recursive_triggers is on). Searches never return such rows (they check every hit against the
// table), so this only bounds the garbage a workload of REPLACEs leaves.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace cairn::vector {

class StaleRows {
 public:
  // The one set of the process.
  static StaleRows& Instance();

  // Remembers `ids` for index `key` (at most kMaxPerIndex rows per index).
  void Add(const std::string& key, const std::vector<int64_t>& ids);
  // The rows remembered for index `key`, ascending, forgetting them.
  std::vector<int64_t> Take(const std::string& key);

 private:
  static constexpr size_t kMaxPerIndex = 4096;
  std::mutex mu_;
  std::map<std::string, std::set<int64_t>> map_;
};

}  // namespace cairn::vector
