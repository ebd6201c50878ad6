// Source: the primary's side of replication — what the replication endpoints answer
// (docs/replication.md). Plain request → response functions; the server routes to them and does
// the waiting of long polls on the ChangeFeed.
//
//   GET /v1/replication/changes?epoch=E&after=N   databases changed since N (all of them when E
//                                                 is not this process's epoch)
//   GET /v1/replication/log/<db>?generation=G&after=T&replica=R
//                                                 the transactions after T, as one log file (and
//                                                 replica R has applied T: synchronous replication)
//   GET /v1/replication/snapshot/<db>             the whole database, as one snapshot file
//
// Thread-safety: all methods are thread-safe. Log and Snapshot read files and may take a while:
// call them where blocking is allowed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/registry.h"
#include "replication/feed.h"

namespace cairn::replication {

// Response headers of the replication endpoints.
inline constexpr char kHeaderGeneration[] = "cairn-generation";
inline constexpr char kHeaderTxid[] = "cairn-txid";          // the primary's position now
inline constexpr char kHeaderChecksum[] = "cairn-checksum";  // (16 hex digits)
inline constexpr char kHeaderFresh[] = "cairn-fresh";        // snapshot: the database is empty
// Log and snapshot answers: the database's limits (engine/limits.h JSON), which replicas copy.
inline constexpr char kHeaderLimits[] = "cairn-limits";
inline constexpr char kLogContentType[] = "application/vnd.cairn.txlog";

struct SourceResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// One parsed request to the replication endpoints.
struct SourceRequest {
  enum class Kind { kChanges, kLog, kSnapshot, kInvalid } kind = Kind::kInvalid;
  std::string db;
  std::string epoch;
  std::string generation;
  std::string replica;  // log: the asking replica's id (its request acknowledges `after`)
  uint64_t after = 0;
  int wait_ms = 0;  // changes: how long the server may hold the request when nothing changed
  std::string error;
};
SourceRequest ParseSourceRequest(std::string_view path, std::string_view query);

class Source {
 public:
  Source(engine::Registry* registry, ChangeFeed* feed) : registry_(registry), feed_(feed) {}

  // Whether Changes would list something now (else the server may wait).
  bool HasChanges(const SourceRequest& req) const;
  SourceResponse Changes(const SourceRequest& req) const;
  SourceResponse Log(const SourceRequest& req, size_t max_bytes = size_t{8} << 20) const;
  SourceResponse Snapshot(const SourceRequest& req) const;
  // Log or snapshot, with the database's limits in a header (kHeaderLimits).
  SourceResponse Handle(const SourceRequest& req) const;

 private:
  SourceResponse WithLimits(const std::string& db, SourceResponse r) const;
  engine::Registry* const registry_;
  ChangeFeed* const feed_;
};

}  // namespace cairn::replication
