// ReplicaAcks: which transactions each replica has applied, per database, as the primary learns
// it from the replicas' own requests (a replica asking for the records after txid T has applied
// T). Synchronous replication waits here (Session, after a commit) until enough replicas have.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/clock.h"

namespace cairn::engine {

class ReplicaAcks {
 public:
  explicit ReplicaAcks(Clock* clock = Clock::Real()) : clock_(clock) {}

  // `db` names a database's log generation (txids start again in a new one): use Key(). `replica`
  // has applied every transaction of it up to `txid`. Positions only move forward; a replica
  // silent for kForget is no longer counted.
  void Ack(const std::string& db, const std::string& replica, uint64_t txid);
  // How many replicas have applied `txid` of `db` (the object store not counted).
  int Count(const std::string& db, uint64_t txid) const;
  // Waits until at least `n` replicas have applied `txid` of `db` — and, with `store`, the object
  // store of the backups has it too — at most `timeout`.
  bool WaitFor(const std::string& db, uint64_t txid, int n, std::chrono::milliseconds timeout,
               bool store = false);
  // The backups' uploader acknowledges as this "replica": every transaction of `db` up to txid is
  // in the object store (never forgotten for silence).
  static constexpr char kObjectStore[] = "~object-store";
  static std::string Key(const std::string& db, const std::string& generation) {
    return db + "/" + generation;
  }

  static constexpr std::chrono::seconds kForget{60};

 private:
  int CountLocked(const std::string& db, uint64_t txid) const;
  Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Position {
    uint64_t txid = 0;
    int64_t seen_us = 0;  // monotonic
  };
  // db → replica → position; guarded by mu_
  std::unordered_map<std::string, std::unordered_map<std::string, Position>> acks_;
};

}  // namespace cairn::engine
