// SyncService: libSQL's HTTP sync protocol for every database of this server — what embedded
// replicas (`@libsql/client` with a `syncUrl`, the `libsql` package) pull their local copy from.
//
// Each database that a client syncs has one current generation (epoch.h), started on first use
// and again when the database's log starts a new lineage (a restore, a re-seeded replica, a file
// changed behind Cairn's back), when the log can no longer continue it, when its transactions
// outgrow max(its image, roll_min_frames) — so a client's WAL stays bounded: the client
// checkpoints as it moves to the next generation — or when a client shows a position this server
// never served (it synced elsewhere, or before a power loss). A client in an older generation is
// told to move on; one that arrives at a generation's first frame receives the whole database
// (the image) and then the transactions since: whatever its file held before, it ends up equal to
// the server's database. docs/embedded-replicas.md has the protocol and the mapping.
//
// Thread-safety: Handle may be called from any thread; requests for one database are
// serialized. It blocks (disk), so callers run it on threads that may block.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/registry.h"
#include "libsql_sync/epoch.h"
#include "libsql_sync/protocol.h"

namespace cairn::libsql_sync {

struct SyncOptions {
  // A generation ends once its transactions' frames exceed both its image's and this many.
  uint32_t roll_min_frames = 16384;  // 64 MiB of pages
  // A client ahead of this server starts a new generation at most this often per database.
  std::chrono::milliseconds ahead_interval{std::chrono::seconds(5)};
  // Generations kept open (files, index) at most; the least recently used close first.
  size_t max_open = 64;  // each keeps at most 8 MiB of its newest frames in memory
};

struct SyncAnswer {
  int status = 200;
  std::string content_type;
  std::string body;
};

struct SyncStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> frames{0};       // frames sent
  std::atomic<uint64_t> generations{0};  // generations started
};

class SyncService {
 public:
  explicit SyncService(engine::Registry* registry, SyncOptions opts = {})
      : registry_(registry), opts_(opts) {}

  // Answers one request for database `db`, whose credentials the caller checked.
  SyncAnswer Handle(const SyncRequest& req, const std::string& db);

  const SyncStats& stats() const { return stats_; }

 private:
  struct Slot {
    std::mutex mu;
    std::unique_ptr<Epoch> epoch;  // null until first used
    std::chrono::steady_clock::time_point last_ahead{};
    std::atomic<int64_t> last_used{0};
  };
  std::shared_ptr<Slot> SlotFor(const std::string& db);
  // Makes slot's epoch current for `db`: loaded or started, continued to the log's newest
  // transaction, rolled over when it must.
  Status Prepare(Slot& slot, engine::Database* db);
  Status Start(Slot& slot, engine::Database* db, uint32_t generation);
  SyncAnswer Pull(const SyncRequest& req, Slot& slot, engine::Database* db);

  engine::Registry* const registry_;
  const SyncOptions opts_;
  SyncStats stats_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots_;
};

}  // namespace cairn::libsql_sync
