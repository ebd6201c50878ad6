// Registry: every database this server owns, by name.
//
// Databases live in <data_dir>/databases/<name>/data.sqlite (plus its -wal and -shm, its log in
// txlog/ and its usage counters); <data_dir>/tmp is scratch space, emptied at open with what an
// interrupted deletion left. Handles are
// opened lazily on first use and closed again when idle, keeping at most max_open open (least
// recently used first). Names are validated here, once: lower-case letters, digits, '-' and '_',
// starting with a letter or digit, at most 63 characters — so a name can never address a path.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "engine/checkpointer.h"
#include "engine/database.h"

namespace cairn::engine {

struct RegistryOptions {
  std::string data_dir = "cairn-data";
  size_t max_open = 256;                 // open database handles kept at most
  std::chrono::seconds idle_close{300};  // close a handle unused this long
  DatabaseOptions database;
  // Capture every commit of every database in a transaction log (<dir>/txlog, see txlog::TxLog).
  bool txlog = true;
  // Called with a database's name whenever a new log file of `bytes` became durable (any thread).
  std::function<void(const std::string& db, uint64_t bytes)> on_log_durable;
  // How much released history each database's local log keeps (txlog/local_log.h), and how far
  // each generation is released (the backups' uploader; unset: all of it, no backups).
  txlog::LocalRetention log_retention;
  std::function<uint64_t(const std::string& db, const std::string& generation)> log_released;
  // Where each database's limits come from (engine/limits.h); owned by the caller. Null: none.
  LimitsStore* limits = nullptr;
  // Called with a database's name after each of its commits (from the writer, keep it cheap), and
  // after it was created, deleted or its limits changed: what replicas follow
  // (replication::ChangeFeed).
  std::function<void(const std::string&)> on_change;
  // Where synchronous replication learns what replicas and the backups have; null: the registry
  // makes its own.
  std::shared_ptr<ReplicaAcks> replica_acks;
};

class Registry {
 public:
  // Opens the data directory (creating it and the `default` database when missing).
  static Result<std::unique_ptr<Registry>> Open(const RegistryOptions& opts);
  ~Registry();

  static Status ValidateName(std::string_view name);

  // The database called `name`, opened if needed. kNotFound when there is none.
  Result<std::shared_ptr<Database>> Get(std::string_view name);
  bool Exists(std::string_view name) const;
  Status Create(std::string_view name);
  // Creates database `name` from a file that `fill` writes at the path it is given (a restore).
  // Nothing is registered unless `fill` succeeds and the file opens.
  Status CreateFrom(std::string_view name,
                    const std::function<Status(const std::string& path)>& fill);
  // Closes the database (its sessions fail from now on) and removes its files.
  Status Delete(std::string_view name);
  std::vector<std::string> List() const;
  // Where the database's files and transaction log live.
  std::string DirOf(std::string_view name) const;
  std::string LogDirOf(std::string_view name) const { return DirOf(name) + "/txlog"; }
  const std::string& data_dir() const { return opts_.data_dir; }
  size_t open_count() const;

  // Closes handles idle past idle_close, and the least recently used beyond max_open; drops stale
  // reader snapshots of the others. Called periodically by the server's janitor.
  void CloseIdle();
  // Checkpoints and closes every open database (shutdown).
  void CloseAll();

  // Cluster role changes: as a replica, databases open with DatabaseOptions::replica and no
  // log; as a primary, with the log (if configured). Closes every open handle (their sessions
  // fail and clients retry); handles opened from then on have the new role.
  void SetReplica(bool replica);
  bool replica() const { return replica_mode_.load(); }
  // The store of every database's limits (RegistryOptions::limits; may be null).
  LimitsStore* limits() const { return opts_.limits; }
  // A primary's fence: no client may take the write lock after this CLOCK_MONOTONIC time (µs;
  // 0: no fence) — set from the primary's lease, so that a primary that lost it (or was paused
  // past it) stops acknowledging writes before another can be elected.
  void SetWriteFence(int64_t until_monotonic_us) { write_fence_->store(until_monotonic_us); }
  // What each replica has applied of each database (fed by the replication endpoints).
  ReplicaAcks* replica_acks() const { return acks_.get(); }

 private:
  explicit Registry(const RegistryOptions& opts);
  std::string FileOf(std::string_view name) const;
  DatabaseOptions OptionsFor(const std::string& name) const;
  void CloseIdleSoon();
  std::atomic<bool> close_pending_{false};
  std::atomic<bool> replica_mode_{false};
  std::atomic<uint64_t> mode_epoch_{0};  // bumped by SetReplica
  std::shared_ptr<std::atomic<int64_t>> write_fence_ = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<ReplicaAcks> acks_;

  RegistryOptions opts_;  // opts_.database.checkpointer points at checkpointer_
  std::unique_ptr<Checkpointer> checkpointer_;
  mutable std::mutex mu_;
  std::unordered_set<std::string> known_;     // guarded by mu_
  std::unordered_set<std::string> creating_;  // guarded by mu_: CreateFrom in progress
  std::unordered_set<std::string> closing_;   // guarded by mu_: handles being closed
  std::unordered_set<std::string> opening_;   // guarded by mu_: handles being opened (by Get)
  std::condition_variable closed_cv_;         // closing_ or opening_ shrank
  struct OpenDb {
    std::shared_ptr<Database> db;
    int64_t last_used;
  };
  std::unordered_map<std::string, OpenDb> open_;  // guarded by mu_
};

}  // namespace cairn::engine
