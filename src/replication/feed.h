// ChangeFeed: which databases of a primary changed, in order, for replicas to follow.
//
// The registry reports every commit, create and delete of a database (Changed); each report gives
// the database the feed's next sequence number, replacing its previous one. A replica long-polls
// with the last sequence number it saw and gets the names changed since — the cost of a poll is
// the number of databases that changed, never the number that exist. Sequence numbers start
// again when the process restarts; `epoch` (random per process) tells a replica that it must
// start over from the full list.
//
// Thread-safety: all methods are thread-safe. Changed() is called by writers after each commit
// and only takes a short lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace cairn::replication {

class ChangeFeed {
 public:
  ChangeFeed();

  void Changed(const std::string& db);

  const std::string& epoch() const { return epoch_; }
  uint64_t seq() const;

  // Names changed after `after`, oldest change first, at most `max` of them; `*next` is the
  // sequence number to ask from next time (the last one returned, or seq() when all were).
  std::vector<std::string> Since(uint64_t after, size_t max, uint64_t* next) const;

  // Calls `wake` once, from the thread of the next Changed() (or at once when something changed
  // after `after`). Returns an id for Cancel; 0 when `wake` was already called.
  uint64_t NotifyAfter(uint64_t after, std::function<void()> wake);
  void Cancel(uint64_t id);

 private:
  const std::string epoch_;
  mutable std::mutex mu_;
  uint64_t seq_ = 0;                                // guarded by mu_
  std::unordered_map<std::string, uint64_t> last_;  // guarded by mu_: name → its last change
  std::map<uint64_t, std::string> order_;           // guarded by mu_: change → name
  uint64_t next_waiter_ = 1;                        // guarded by mu_
  std::unordered_map<uint64_t, std::function<void()>> waiters_;  // guarded by mu_
};

}  // namespace cairn::replication
