#include "server/admin.h"

#include "libsql_sync/service.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "backup/restore.h"
#include "base/file.h"
#include "base/json_writer.h"
#include "hrana/errors.h"
#include "metrics/metrics.h"
#include "server/internal/reply.h"
#include "txlog/local_log.h"
#include "txlog/txlog.h"

namespace cairn::server {

AdminResponse FromStatus(const Status& st) {
  if (st.ok()) return {200, "{}"};
  return {HttpStatusOf(st), hrana::ErrorBody(st)};
}

AdminResponse AdminApi::Handle(std::string_view method, std::string_view path,
                               std::string_view body) {
  constexpr std::string_view kPrefix = "/v1/namespaces";
  if (path == "/health" && method == "GET") return {200, "{}"};
  if (path == kPrefix || path == "/v1/namespaces/") {
    if (method != "GET") return FromStatus(Status(Code::kInvalidRequest, "use GET to list"));
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("namespaces").BeginArray();
    for (const auto& name : registry_->List()) w.String(name);
    w.EndArray().EndObject();
    return {200, std::move(out)};
  }
  if (path.substr(0, kPrefix.size() + 1) == "/v1/namespaces/") {
    std::string_view rest = path.substr(kPrefix.size() + 1);
    auto slash = rest.find('/');
    std::string_view ns = rest.substr(0, slash);
    std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (action == "create" && method == "POST") return Create(ns, body);
    if (action == "config" && method == "GET") return GetConfig(ns);
    if (action == "config" && method == "POST") return SetConfig(ns, body);
    if (action.empty() && method == "DELETE") return Delete(ns);
    if (action.empty() && method == "GET") return Describe(ns);
    if (action == "stats" && method == "GET") return Stats(ns);
    if (action == "backup" && method == "POST") return BackupNow(ns);
    if (action == "verify" && method == "POST") {
      auto v = Verify(ns, registry_->data_dir() + "/tmp");
      if (!v.ok()) return FromStatus(v.status());
      std::string out;
      JsonWriter w(&out);
      w.BeginObject().Key("ok").Bool(v->ok).Key("generation").String(v->generation);
      w.Key("txid").Int(static_cast<int64_t>(v->txid));
      w.Key("live_checksum").String(fmt::format("{:016x}", v->live_checksum));
      w.Key("backup_checksum").String(fmt::format("{:016x}", v->backup_checksum));
      if (!v->ok) w.Key("problem").String(v->problem);
      w.EndObject();
      return {200, std::move(out)};
    }
    if (action.substr(0, 5) == "fork/" && method == "POST") return Fork(ns, action.substr(5), body);
  }
  if (path == "/v1/backup" && method == "GET") return BackupStatus();
  if (path == "/metrics" && method == "GET") return Metrics();
  Status st(Code::kNotFound,
            "no such admin endpoint: " + std::string(method) + " " + std::string(path));
  return {404, hrana::ErrorBody(st)};
}

AdminResponse AdminApi::Describe(std::string_view ns) {
  Status st = engine::Registry::ValidateName(ns);
  if (st.ok() && !registry_->Exists(ns))
    st = Status(Code::kNotFound, "database '" + std::string(ns) + "' does not exist");
  if (!st.ok()) return FromStatus(st);
  auto db = registry_->Get(ns);
  if (!db.ok()) return FromStatus(db.status());
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("name").String(ns);
  if (txlog::TxLog* log = (*db)->txlog()) {
    (void)log->Capture();  // commits are captured lazily; report them all
    const txlog::Position pos = log->captured();
    w.Key("generation").String(log->generation());
    w.Key("txid").Int(static_cast<int64_t>(pos.txid));
    w.Key("checksum").String(fmt::format("{:016x}", pos.checksum));
  }
  w.EndObject();
  return {200, std::move(out)};
}

AdminResponse AdminApi::Stats(std::string_view ns) {
  Status st = engine::Registry::ValidateName(ns);
  if (st.ok() && !registry_->Exists(ns))
    st = Status(Code::kNotFound, "database '" + std::string(ns) + "' does not exist");
  if (!st.ok()) return FromStatus(st);
  auto db = registry_->Get(ns);
  if (!db.ok()) return FromStatus(db.status());
  const engine::Database::Usage u = (*db)->usage();
  std::string out;
  JsonWriter w(&out);
  // sqld's field names.
  w.BeginObject();
  w.Key("rows_read_count").Int(static_cast<int64_t>(u.rows_read));
  w.Key("rows_written_count").Int(static_cast<int64_t>(u.rows_written));
  w.Key("storage_bytes_used").Int(static_cast<int64_t>((*db)->storage_bytes()));
  w.Key("query_count").Int(static_cast<int64_t>(u.statements));
  if (txlog::TxLog* log = (*db)->txlog()) {
    const txlog::TxLogStats ls = log->stats();
    w.Key("txlog_local_files").Int(static_cast<int64_t>(ls.local_files));
    w.Key("txlog_local_bytes").Int(static_cast<int64_t>(ls.local_bytes));
    w.Key("txlog_files_pruned").Int(static_cast<int64_t>(ls.files_pruned));
  }
  w.EndObject();
  return {200, std::move(out)};
}

AdminResponse AdminApi::Metrics() {
  using Type = metrics::TextWriter::Type;
  std::string out;
  metrics::TextWriter w(&out);
  if (metrics_.http) metrics_.http->Write(w);

  w.Family("cairn_hrana_errors_total", "Hrana errors sent to clients, by error code.",
           Type::kCounter);
  for (const auto& [code, n] : metrics::Process().hrana_errors.Values())
    w.Sample("cairn_hrana_errors_total", {{"code", code}}, static_cast<double>(n));

  w.Family("cairn_databases_open", "Database handles open now.", Type::kGauge)
      .Sample("cairn_databases_open", {}, static_cast<double>(registry_->open_count()));
  w.Family("cairn_databases_known", "Databases this server owns.", Type::kGauge)
      .Sample("cairn_databases_known", {}, static_cast<double>(registry_->List().size()));

  w.Family("cairn_backup_enabled", "1 when every database is backed up continuously.", Type::kGauge)
      .Sample("cairn_backup_enabled", {}, uploader_ ? 1 : 0);
  if (uploader_) {
    const backup::UploaderStats s = uploader_->stats();
    w.Family("cairn_backup_healthy", "0 after a failed upload, until one succeeds.", Type::kGauge)
        .Sample("cairn_backup_healthy", {}, s.store_healthy ? 1 : 0);
    w.Family("cairn_backup_backlog_bytes", "Local log bytes not yet in the object store.",
             Type::kGauge)
        .Sample("cairn_backup_backlog_bytes", {}, static_cast<double>(s.backlog_bytes));
    w.Family("cairn_backup_backlog_overflows_total",
             "Backlogs dropped for lack of local space (a gap in the store's history: alarm).",
             Type::kCounter)
        .Sample("cairn_backup_backlog_overflows_total", {},
                static_cast<double>(s.backlog_overflows));
    w.Family("cairn_backup_upload_errors_total", "Failed uploads to the object store.",
             Type::kCounter)
        .Sample("cairn_backup_upload_errors_total", {}, static_cast<double>(s.upload_errors));
    w.Family("cairn_backup_uploaded_bytes_total", "Bytes uploaded to the object store.",
             Type::kCounter)
        .Sample("cairn_backup_uploaded_bytes_total", {}, static_cast<double>(s.bytes_uploaded));
    w.Family("cairn_backup_lag_seconds",
             "Commit-to-store time over the last 100,000 uploaded transactions, by quantile.",
             Type::kGauge)
        .Sample("cairn_backup_lag_seconds", {{"quantile", "0.5"}},
                static_cast<double>(s.lag_p50_us) / 1e6)
        .Sample("cairn_backup_lag_seconds", {{"quantile", "0.99"}},
                static_cast<double>(s.lag_p99_us) / 1e6);
  }
  w.Family("cairn_backup_verify_total", "Backup verifications (restore and compare), by result.",
           Type::kCounter)
      .Sample("cairn_backup_verify_total", {{"result", "ok"}},
              static_cast<double>(verified_ok_.load()))
      .Sample("cairn_backup_verify_total", {{"result", "failed"}},
              static_cast<double>(verified_failed_.load()));

  // Per database, bounded: the busiest open databases, and the ones the operator named.
  struct DbRow {
    std::string name;
    engine::Database::Usage usage;
    uint64_t size = 0;
    txlog::LocalLogUsage log;  // the local transaction log's files
  };
  std::vector<DbRow> rows;
  uint64_t log_bytes_open = 0;
  engine::Database::ForEachLive([&](const std::shared_ptr<engine::Database>& db) {
    // Only this registry's databases (tests run several servers in one process).
    if (db->path().rfind(registry_->DirOf(db->name()) + "/", 0) != 0) return;
    txlog::LocalLogUsage log;
    if (txlog::TxLog* l = db->txlog()) {
      const txlog::TxLogStats ls = l->stats();
      log = {ls.local_files, ls.local_bytes};
      log_bytes_open += ls.local_bytes;
    }
    rows.push_back({db->name(), db->usage(), 0, log});
  });
  if (const libsql_sync::SyncStats* sync = metrics_.sync) {
    w.Family("cairn_libsql_sync_requests_total",
             "Requests of embedded replicas (libSQL's sync protocol: /info, /export, /sync).",
             Type::kCounter)
        .Sample("cairn_libsql_sync_requests_total", {}, static_cast<double>(sync->requests.load()));
    w.Family("cairn_libsql_sync_frames_total", "Frames (4 KiB pages) sent to embedded replicas.",
             Type::kCounter)
        .Sample("cairn_libsql_sync_frames_total", {}, static_cast<double>(sync->frames.load()));
    w.Family("cairn_libsql_sync_generations_total",
             "Generations started for embedded replicas (each sends the whole database to the "
             "replicas that sync next; docs/embedded-replicas.md).",
             Type::kCounter)
        .Sample("cairn_libsql_sync_generations_total", {},
                static_cast<double>(sync->generations.load()));
  }
  w.Family("cairn_txlog_local_open_bytes",
           "Bytes of the local transaction logs of every open database (docs/backup.md).",
           Type::kGauge)
      .Sample("cairn_txlog_local_open_bytes", {}, static_cast<double>(log_bytes_open));
  auto busier = [](const DbRow& a, const DbRow& b) {
    const uint64_t x = a.usage.rows_read + a.usage.rows_written;
    const uint64_t y = b.usage.rows_read + b.usage.rows_written;
    return x != y ? x > y : a.name < b.name;
  };
  std::sort(rows.begin(), rows.end(), busier);
  std::vector<DbRow> shown;
  for (size_t i = 0; i < rows.size() && i < metrics_.top_databases; ++i) shown.push_back(rows[i]);
  for (const std::string& name : metrics_.databases) {
    if (!registry_->Exists(name)) continue;
    if (std::any_of(shown.begin(), shown.end(), [&](const DbRow& r) { return r.name == name; }))
      continue;
    auto it =
        std::find_if(rows.begin(), rows.end(), [&](const DbRow& r) { return r.name == name; });
    if (it != rows.end()) {
      shown.push_back(*it);
    } else {
      // Closed: its log's files as they are on disk.
      DbRow row{name, {}, 0, {}};
      if (auto files = txlog::ListLocalFiles(registry_->LogDirOf(name)); files.ok())
        for (const txlog::LocalFile& f : *files)
          row.log = {row.log.files + 1, row.log.bytes + f.size};
      shown.push_back(std::move(row));
    }
  }
  for (DbRow& r : shown) {
    // From the files, so a named database that is closed stays closed.
    for (const std::string& p : {registry_->DirOf(r.name) + "/data.sqlite",
                                 registry_->DirOf(r.name) + "/data.sqlite-wal"}) {
      std::error_code ec;
      const auto n = std::filesystem::file_size(p, ec);
      if (!ec) r.size += static_cast<uint64_t>(n);
    }
  }
  std::sort(shown.begin(), shown.end(),
            [](const DbRow& a, const DbRow& b) { return a.name < b.name; });
  w.Family("cairn_database_rows_read_total",
           "Rows read by statements since the database's handle opened (top databases and "
           "--metrics-database ones).",
           Type::kCounter);
  for (const DbRow& r : shown)
    w.Sample("cairn_database_rows_read_total", {{"db", r.name}},
             static_cast<double>(r.usage.rows_read));
  w.Family("cairn_database_rows_written_total",
           "Rows written by statements since the database's handle opened.", Type::kCounter);
  for (const DbRow& r : shown)
    w.Sample("cairn_database_rows_written_total", {{"db", r.name}},
             static_cast<double>(r.usage.rows_written));
  w.Family("cairn_database_size_bytes", "The database file and its WAL on disk.", Type::kGauge);
  for (const DbRow& r : shown)
    w.Sample("cairn_database_size_bytes", {{"db", r.name}}, static_cast<double>(r.size));
  w.Family("cairn_txlog_local_bytes",
           "The database's transaction log on local disk: its window of history and any backlog.",
           Type::kGauge);
  for (const DbRow& r : shown)
    w.Sample("cairn_txlog_local_bytes", {{"db", r.name}}, static_cast<double>(r.log.bytes));
  w.Family("cairn_txlog_local_files", "Files of the database's transaction log on local disk.",
           Type::kGauge);
  for (const DbRow& r : shown)
    w.Sample("cairn_txlog_local_files", {{"db", r.name}}, static_cast<double>(r.log.files));
  return {200, std::move(out), "text/plain; version=0.0.4; charset=utf-8"};
}

AdminResponse AdminApi::BackupNow(std::string_view ns) {
  if (!uploader_) return FromStatus(Status(Code::kUnavailable, "backups are disabled"));
  Status st = engine::Registry::ValidateName(ns);
  if (!st.ok()) return FromStatus(st);
  auto db = registry_->Get(ns);
  if (!db.ok()) return FromStatus(db.status());
  st = (*db)->FlushLog();
  if (!st.ok()) return FromStatus(st);
  auto pos = uploader_->SyncNow(std::string(ns));
  if (!pos.ok()) return FromStatus(pos.status());
  std::string out;
  JsonWriter(&out)
      .BeginObject()
      .Key("generation")
      .String(pos->first)
      .Key("txid")
      .Int(static_cast<int64_t>(pos->second))
      .EndObject();
  return {200, std::move(out)};
}

AdminResponse AdminApi::Fork(std::string_view from, std::string_view to, std::string_view body) {
  for (std::string_view n : {from, to}) {
    Status st = engine::Registry::ValidateName(n);
    if (!st.ok()) return FromStatus(st);
  }
  if (!registry_->Exists(from))
    return FromStatus(
        Status(Code::kNotFound, "database '" + std::string(from) + "' does not exist"));
  if (registry_->Exists(to))
    return FromStatus(
        Status(Code::kAlreadyExists, "database '" + std::string(to) + "' already exists"));
  if (!uploader_)
    return FromStatus(Status(Code::kUnavailable, "forking needs backups (serve --backup)"));
  // The new database has the source's limits (blocks aside), then any the body sets.
  engine::DatabaseLimits limits;
  Status st = engine::ApplyLimitsJson(body, &limits, {"timestamp"});
  if (!st.ok()) return FromStatus(st);
  if (!limits.empty() && namespaces_.limits == nullptr)
    return FromStatus(Status(Code::kInvalidRequest, "this server keeps no per-database limits"));
  limits = InheritedLimits(from);
  st = engine::ApplyLimitsJson(body, &limits, {"timestamp"});
  if (!st.ok()) return FromStatus(st);
  backup::RestoreTarget target;
  simdjson::dom::parser parser;
  simdjson::dom::element doc, timestamp;
  if (body.find_first_not_of(" \t\r\n") != std::string_view::npos &&
      parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS &&
      doc["timestamp"].get(timestamp) == simdjson::SUCCESS && !timestamp.is_null()) {
    std::string_view ts;
    if (timestamp.get_string().get(ts) != simdjson::SUCCESS)
      return FromStatus(Status(Code::kInvalidRequest, "'timestamp' must be a string (RFC 3339)"));
    std::string text(ts);
    // sqld takes a time without a zone, in UTC.
    const bool zoned =
        text.back() == 'Z' || text.back() == 'z' ||
        (text.size() > 6 && (text[text.size() - 6] == '+' || text[text.size() - 6] == '-'));
    if (!zoned) text += 'Z';
    auto t = backup::ParseTimeRfc3339(text);
    if (!t)
      return FromStatus(Status(Code::kInvalidRequest, "bad timestamp '" + std::string(ts) + "'"));
    target.time_us = *t;
  }
  // What is committed now is in the store first, so "now" (or a time just past) is restorable.
  auto db = registry_->Get(from);
  if (!db.ok()) return FromStatus(db.status());
  st = (*db)->FlushLog();
  if (st.ok()) st = uploader_->SyncNow(std::string(from)).status();
  if (!st.ok()) return FromStatus(st);
  backup::RestoreResult result;
  bool limits_written = false;
  st = registry_->CreateFrom(to, [&](const std::string& path) -> Status {
    CAIRN_ASSIGN_OR_RETURN(backup::RestorePlan plan, backup::PlanRestore(store_, from, target));
    CAIRN_ASSIGN_OR_RETURN(result, backup::Restore(store_, plan, path));
    if (namespaces_.limits) {
      limits_written = true;
      CAIRN_RETURN_IF_ERROR(namespaces_.limits->Set(to, limits));
    }
    return Status::Ok();
  });
  if (!st.ok() && limits_written) namespaces_.limits->Forget(to);
  if (!st.ok()) return FromStatus(st);
  std::string out;
  JsonWriter(&out)
      .BeginObject()
      .Key("txid")
      .Int(static_cast<int64_t>(result.position.txid))
      .Key("time")
      .String(backup::FormatTimeRfc3339(result.time_us))
      .EndObject();
  return {200, std::move(out)};
}

Result<VerifyResult> AdminApi::Verify(std::string_view ns, const std::string& scratch_dir) {
  if (!uploader_) return Status(Code::kUnavailable, "backups are disabled");
  CAIRN_RETURN_IF_ERROR(engine::Registry::ValidateName(ns));
  std::lock_guard vl(verify_mu_);
  CAIRN_ASSIGN_OR_RETURN(auto db, registry_->Get(ns));
  if (!db->txlog()) return Status(Code::kUnavailable, "database has no transaction log");
  VerifyResult v;
  v.generation = db->txlog()->generation();
  CAIRN_ASSIGN_OR_RETURN(engine::Database::Image live, db->ReadImage());
  v.txid = live.position.txid;
  v.live_checksum = live.checksum;
  auto record = [&](VerifyResult r) {
    (r.ok ? verified_ok_ : verified_failed_)++;
    if (!r.ok) {
      std::lock_guard pl(problem_mu_);
      last_verify_problem_ = std::string(ns) + ": " + r.problem;
      spdlog::error("backup verification of {} failed: {}", ns, r.problem);
    }
    return r;
  };
  if (live.checksum != live.position.checksum) {
    v.problem = fmt::format("the live database's pages do not match its log at txid {}", v.txid);
    return record(v);
  }
  CAIRN_RETURN_IF_ERROR(db->FlushLog());
  CAIRN_RETURN_IF_ERROR(uploader_->SyncNow(std::string(ns)).status());
  backup::RestoreTarget target;
  target.txid = v.txid;
  target.generation = v.generation;
  CAIRN_RETURN_IF_ERROR(MakeDirs(scratch_dir));
  const std::string tmp = fmt::format("{}/verify-{}.sqlite", scratch_dir, ns);
  (void)RemoveFile(tmp);
  auto plan = backup::PlanRestore(store_, ns, target);
  Result<backup::RestoreResult> res =
      plan.ok() ? backup::Restore(store_, *plan, tmp) : plan.status();
  (void)RemoveFile(tmp);
  if (!res.ok()) {
    v.problem = "the backup cannot be restored: " + res.status().ToString();
    return record(v);
  }
  v.backup_checksum = res->position.checksum;
  v.ok = res->position.txid == v.txid && v.backup_checksum == v.live_checksum;
  if (!v.ok)
    v.problem = fmt::format("the backup at txid {} has checksum {:016x}, the live database {:016x}",
                            res->position.txid, v.backup_checksum, v.live_checksum);
  return record(v);
}

void AdminApi::VerifyAll(const std::string& scratch_dir) {
  for (const std::string& ns : registry_->List()) {
    auto v = Verify(ns, scratch_dir);
    if (!v.ok()) {
      verified_failed_++;
      std::lock_guard pl(problem_mu_);
      last_verify_problem_ = ns + ": " + v.status().ToString();
    }
  }
}

AdminResponse AdminApi::BackupStatus() {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("enabled").Bool(uploader_ != nullptr);
  if (uploader_) {
    const backup::UploaderStats s = uploader_->stats();
    w.Key("store").String(store_ ? store_->Describe() : "");
    w.Key("healthy").Bool(s.store_healthy);
    w.Key("backlog_bytes").Int(static_cast<int64_t>(s.backlog_bytes));
    w.Key("backlog_files").Int(static_cast<int64_t>(s.backlog_files));
    w.Key("backlog_overflows").Int(static_cast<int64_t>(s.backlog_overflows));
    w.Key("objects_uploaded").Int(static_cast<int64_t>(s.objects_uploaded));
    w.Key("bytes_uploaded").Int(static_cast<int64_t>(s.bytes_uploaded));
    w.Key("upload_errors").Int(static_cast<int64_t>(s.upload_errors));
    w.Key("compactions").Int(static_cast<int64_t>(s.compactions));
    w.Key("snapshots").Int(static_cast<int64_t>(s.snapshots));
    w.Key("last_success_us").Int(s.last_success_us);
    w.Key("last_error").String(s.last_error);
    w.Key("lag_p50_ms").Double(static_cast<double>(s.lag_p50_us) / 1000.0);
    w.Key("lag_p99_ms").Double(static_cast<double>(s.lag_p99_us) / 1000.0);
    w.Key("lag_max_ms").Double(static_cast<double>(s.lag_max_us) / 1000.0);
    w.Key("lag_transactions").Int(static_cast<int64_t>(s.lag_samples));
    w.Key("verified_ok").Int(static_cast<int64_t>(verified_ok_.load()));
    w.Key("verified_failed").Int(static_cast<int64_t>(verified_failed_.load()));
    std::lock_guard pl(problem_mu_);
    w.Key("last_verify_problem").String(last_verify_problem_);
  }
  w.EndObject();
  return {200, std::move(out)};
}

}  // namespace cairn::server
