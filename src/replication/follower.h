// Follower: makes this server a read replica of a primary (cairn serve --replica-of URL).
//
// It long-polls the primary's change feed (Source, docs/replication.md) and, for every database
// that changed, fetches the transactions after its own position and applies them with an
// Applier, one primary transaction per local transaction, each checked against the rolling
// checksum. A database it does not have yet is bootstrapped from the primary's snapshot (or
// created empty when the primary's history starts at txid 0); one whose position is unknown,
// ahead or diverged is re-seeded from a snapshot; one the primary deleted is deleted. Its position
// (generation, txid, checksum) is kept beside the database file, and verified against the file
// when the server starts again. The database's limits (engine/limits.h) are copied with it, so a
// replica promoted to primary enforces them.
//
// Clients read the replica's databases through the registry as usual; the databases are opened
// with DatabaseOptions::replica, so only the follower writes them.
//
// Thread-safety: Start/Stop from one thread; the rest from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "engine/registry.h"
#include "objectstore/object_store.h"
#include "replication/applier.h"
#include "replication/http_client.h"

namespace cairn::replication {

struct FollowerOptions {
  std::string primary_url;                     // the primary's admin listener: http://host:port
  std::string auth_key;                        // the primary's admin key (empty: none)
  std::chrono::milliseconds poll_wait{10000};  // long poll of the change feed
  std::chrono::milliseconds retry{300};        // after a failure to reach the primary
  // Databases not changed for this long are no longer kept open for applying.
  std::chrono::seconds untrack_after{60};
  Clock* clock = Clock::Real();
  // The primary's backups (an object store URL, as `serve --backup` takes; empty: none). A
  // database the replica does not have is then restored from them — at the primary's current
  // generation, checked transaction by transaction — and only the transactions after the backup
  // come from the primary: a large database costs the primary no snapshot. When the store has no
  // usable backup, the primary's snapshot is used.
  std::string seed_store_url;
};

struct FollowedDatabase {
  std::string name;
  std::string generation;
  txlog::Position position;    // applied here
  uint64_t primary_txid = 0;   // the primary's position when last asked
  int64_t last_commit_us = 0;  // the primary's commit time of the last applied transaction
  int64_t applied_at_us = 0;   // when it was applied here
  uint64_t snapshots = 0;      // snapshots applied since start
  uint64_t transactions = 0;   // transactions applied since start
};

class Follower {
 public:
  Follower(engine::Registry* registry, FollowerOptions opts);
  ~Follower();

  void Start();
  void Stop();

  // Brings `db` up to the primary's current position (or deletes it when the primary has none).
  Status Sync(const std::string& db);
  // Waits until `db` applied at least `txid` of the primary's generation (read-your-writes).
  bool WaitFor(const std::string& db, uint64_t txid, std::chrono::milliseconds timeout);
  // The local position of `db` (empty generation when it is not followed yet).
  FollowedDatabase Position(const std::string& db) const;
  std::vector<FollowedDatabase> Databases() const;
  bool connected() const { return connected_.load(); }
  const std::string& primary_url() const { return opts_.primary_url; }
  // Replication lag of the transactions applied so far (commit on the primary → applied here):
  // p50 and p99 in milliseconds over the last 4096 transactions.
  std::pair<double, double> LagMillis() const;

 private:
  struct Tracked;
  void Loop();
  Status SyncWith(HttpClient* client, const std::string& db);
  Result<Tracked*> Track(const std::string& db);
  // `primary_generation`: the primary's current one (empty: unknown; then the store is not used).
  Status Bootstrap(HttpClient* client, const std::string& db,
                   const std::string& primary_generation = {});
  // Writes a database file at the path it is given.
  using Filler = std::function<Status(const std::string& path)>;
  // Replaces the local copy of `db` with a new file `fill` writes (null: an empty database) at
  // `*pos` of `generation` (`fill` may set *pos), and tracks it; kCorruption when the file does
  // not match the position.
  Result<Tracked*> Replace(const std::string& db, const Filler& fill, const std::string& generation,
                           txlog::Position* pos);
  // Restores `db` from the seed store at `generation`; kNotFound when it holds no such backup.
  Status SeedFromStore(const std::string& db, const std::string& generation);
  Status ApplyLog(Tracked* t, const std::string& file);
  Status SavePosition(const Tracked& t);
  // Makes the primary's limits of `db` (kHeaderLimits JSON) this replica's, if they differ.
  void CopyLimits(const std::string& db, const std::string& json);
  void Untrack(const std::string& db);
  void UntrackIdle();
  void Publish(const Tracked& t, uint64_t primary_txid);

  engine::Registry* const registry_;
  const FollowerOptions opts_;
  const std::string id_;  // this follower, to the primary (its acknowledgements)
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::unique_ptr<HttpClient> client_;                    // the loop's own connection
  std::unique_ptr<objectstore::ObjectStore> seed_store_;  // set by Start

  std::mutex sync_mu_;  // one Sync at a time (the loop and callers)
  std::unordered_map<std::string, std::unique_ptr<Tracked>> tracked_;  // guarded by sync_mu_

  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  std::unordered_map<std::string, FollowedDatabase> status_;  // guarded by mu_
  std::vector<float> lags_ms_;                                // guarded by mu_: ring of recent lags
  size_t lag_next_ = 0;                                       // guarded by mu_
};

}  // namespace cairn::replication
