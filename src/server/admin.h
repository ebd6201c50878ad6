// AdminApi: the operator's HTTP API on its own listener (never on the public port).
//
//   POST   /v1/namespaces/:ns/create   create a database        200 {} | 400 | 404 | 409
//          body (optional, docs/limits.md) {"template": "other-db", and any config field}: a copy
//          of the template (else empty), then every migration of --migrations-dir, with the
//          template's limits (except blocks) and those of the body
//   GET    /v1/namespaces/:ns/config   its limits                200 {"max_db_size",...} | 404
//   POST   /v1/namespaces/:ns/config   change them (fields given) 200 {the new config} | 400 | 404
//   DELETE /v1/namespaces/:ns          delete it and its files  200 {} | 404
//   GET    /v1/namespaces              list                     200 {"namespaces":[...]}
//   GET    /v1/namespaces/:ns          its log position         200
//   {"name","generation","txid","checksum"} POST   /v1/namespaces/:ns/backup   flush and upload now
//   200 {"generation","txid"} | 503 GET    /v1/backup                  backup status            200
//   {"enabled","store","healthy",...} POST   /v1/namespaces/:ns/verify   restore the backup,
//   compare 200 {"ok","txid","live_checksum","backup_checksum"} POST   /v1/namespaces/:ns/fork/:to
//   fork from the backup     200 {"txid","time"} | 400 | 404 | 409
//          body (optional) {"timestamp": RFC 3339, or sqld's "YYYY-MM-DDTHH:MM:SS[.f]" in UTC,
//          and any config field}: the new database is :ns as it was then (without a timestamp,
//          as it is now), with :ns's limits (except blocks) and those of the body
//   GET    /v1/namespaces/:ns/stats    usage since the handle opened 200
//   {"rows_read_count","rows_written_count","storage_bytes_used","query_count"} GET    /metrics
//   Prometheus text format (docs/metrics.md) GET    /health                     200
//
// Thread-safety: safe to call from any thread.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "backup/uploader.h"
#include "engine/limits.h"
#include "engine/registry.h"
#include "server/http_metrics.h"

namespace cairn::libsql_sync {
struct SyncStats;
}  // namespace cairn::libsql_sync

namespace cairn::server {

struct AdminResponse {
  int status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
};

// 200 {} for ok, else the error's HTTP status and Hrana error body.
AdminResponse FromStatus(const Status& st);

// What /metrics publishes besides the admin API's own numbers.
struct MetricsOptions {
  const HttpMetrics* http = nullptr;             // the Hrana listener's request metrics; null: none
  const libsql_sync::SyncStats* sync = nullptr;  // embedded replicas' syncs; null: none
  // Per-database series: the top_databases open databases by rows read + written, plus these
  // (whether open or not).
  size_t top_databases = 20;
  std::vector<std::string> databases;
};

// How databases are created and limited.
struct NamespaceOptions {
  engine::LimitsStore* limits = nullptr;  // null: databases have no limits of their own
  std::string migrations_dir;             // empty: new databases are not migrated
};

struct VerifyResult {
  bool ok = false;
  std::string generation;
  uint64_t txid = 0;
  uint64_t live_checksum = 0;    // computed from the live database's pages
  uint64_t backup_checksum = 0;  // of the database restored from the store
  std::string problem;           // why not ok
};

class AdminApi {
 public:
  // `uploader` and `store` may be null (backups disabled).
  AdminApi(engine::Registry* registry, backup::Uploader* uploader, objectstore::ObjectStore* store,
           MetricsOptions metrics = {}, NamespaceOptions namespaces = {})
      : registry_(registry),
        uploader_(uploader),
        store_(store),
        metrics_(std::move(metrics)),
        namespaces_(std::move(namespaces)) {
    MigrateDefaultAtStart();
  }
  AdminResponse Handle(std::string_view method, std::string_view path, std::string_view body);

  // Reads the live database at a log position, makes sure the store has that position, restores
  // it into `scratch_dir` and compares the checksums. Counted in /v1/backup.
  Result<VerifyResult> Verify(std::string_view ns, const std::string& scratch_dir);
  // Verifies every database (the periodic check).
  void VerifyAll(const std::string& scratch_dir);

 private:
  AdminResponse BackupStatus();
  AdminResponse BackupNow(std::string_view ns);
  AdminResponse Describe(std::string_view ns);
  AdminResponse Stats(std::string_view ns);
  AdminResponse Metrics();
  AdminResponse Fork(std::string_view from, std::string_view to, std::string_view body);
  // namespace_config.cc
  AdminResponse Create(std::string_view ns, std::string_view body);
  AdminResponse GetConfig(std::string_view ns);
  AdminResponse SetConfig(std::string_view ns, std::string_view body);
  AdminResponse Delete(std::string_view ns);
  // The limits a database made from `source` (a template or a fork) starts with, before the
  // fields of its create body: the source's own, except its blocks (docs/limits.md).
  engine::DatabaseLimits InheritedLimits(std::string_view source);
  // With --migrations-dir on a primary, the `default` database the registry created gets every
  // migration, as a database created through the API would (MigrateIfEmpty: only while it has no
  // schema). Runs while the server starts, before it listens; a failure is logged at error level
  // and leaves `default` empty.
  void MigrateDefaultAtStart();

  engine::Registry* const registry_;
  std::atomic<uint64_t> verified_ok_{0}, verified_failed_{0};
  std::mutex verify_mu_;   // one verification at a time
  std::mutex config_mu_;   // one change of a database's limits at a time (read, modify, write)
  std::mutex problem_mu_;  // guards last_verify_problem_
  std::string last_verify_problem_;
  backup::Uploader* const uploader_;
  objectstore::ObjectStore* const store_;
  const MetricsOptions metrics_;
  const NamespaceOptions namespaces_;
};

}  // namespace cairn::server
