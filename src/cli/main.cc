// cairn: the one binary. Subcommands: serve, shell.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/log.h"
#include "cli/auth_commands.h"
#include "cli/cluster_commands.h"
#include "cli/backup_commands.h"
#include "cli/config_file.h"
#include "cli/migrate_commands.h"
#include "server/server.h"
#ifdef CAIRN_WITH_SHELL
#include "shell/shell.h"
#endif

namespace {

// Every serve flag may also come from the environment as CAIRN_<FLAG> (e.g. CAIRN_LISTEN).
template <typename T>
CLI::Option* Flag(CLI::App* app, const std::string& name, T& var, const std::string& help) {
  std::string env = "CAIRN_";
  for (char c : name) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return app->add_option("--" + name, var, help)->envname(env)->capture_default_str();
}

int Serve(const cairn::server::ServerOptions& opts, const std::string& log_level, bool log_json) {
  cairn::InitLogging(log_level, log_json);
  // Block the shutdown signals in every thread; RunUntilSignal waits for them synchronously.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto server = cairn::server::Server::Create(opts);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", server.status().ToString());
    return 1;
  }
  cairn::Status st = (*server)->Start();
  if (!st.ok()) {
    spdlog::error("cannot start: {}", st.ToString());
    return 1;
  }
  (*server)->RunUntilSignal();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Cairn: SQLite over HTTP, compatible with libSQL clients"};
  app.require_subcommand(1);

  // serve
  cairn::server::ServerOptions so;
  std::string log_level = "info";
  bool log_json = false;
  int statement_timeout_ms = 5000, txn_timeout_ms = 5000, stream_idle_timeout_ms = 10000;
  int max_readers = 8;
  size_t max_response_bytes = so.hrana.max_response_bytes;
  size_t max_open = so.registry.max_open;
  auto* serve = app.add_subcommand("serve", "Serve databases over HTTP (Hrana) and the admin API");
  // Every flag below may also be set in a TOML file (cli/config_file.h).
  std::string config_file;
  Flag(serve, "config", config_file,
       "Read serve flags from this TOML file: `flag-name = value` per line (e.g. listen = "
       "\"0.0.0.0:8080\"); the command line and CAIRN_* variables override it");
  Flag(serve, "listen", so.listen, "Address for Hrana over HTTP (HOST:PORT)");
  Flag(serve, "admin-listen", so.admin_listen, "Address for the admin API; empty disables it");
  Flag(serve, "data-dir", so.registry.data_dir, "Directory holding the databases");
  Flag(serve, "network-threads", so.network_threads, "Network threads (0: one per core)");
  Flag(serve, "blocking-threads", so.blocking_threads,
       "Threads for requests that wait for the write lock");
  Flag(serve, "max-body-bytes", so.max_body_bytes, "Largest request body accepted");
  Flag(serve, "max-response-bytes", max_response_bytes,
       "Largest response produced (a database's max_response_bytes overrides it: docs/limits.md)");
  Flag(serve, "statement-timeout-ms", statement_timeout_ms,
       "Interrupt a statement running longer than this (a database's statement_timeout_ms "
       "overrides it)");
  Flag(serve, "txn-timeout-ms", txn_timeout_ms,
       "A transaction holding the write lock longer than this loses it when another writer waits");
  Flag(serve, "stream-idle-timeout-ms", stream_idle_timeout_ms,
       "Close a stream (rolling back its transaction) after this much idleness");
  Flag(serve, "max-open-databases", max_open, "Open database handles kept at most");
  Flag(serve, "max-readers", max_readers, "Reader connections per database");
  Flag(serve, "backup", so.backup_url,
       "Back every database up continuously to file:///DIR, DIR or s3://BUCKET/PREFIX "
       "(default: DATA_DIR/backups; off: no backups)");
  Flag(serve, "txlog", so.registry.txlog,
       "Capture every commit in a transaction log (needed by backups; false only for comparisons)");
  int backup_interval_ms = static_cast<int>(so.backup.interval.count());
  Flag(serve, "backup-interval-ms", backup_interval_ms,
       "Upload a database's new transactions at most this long after they are made durable");
  int backup_retention_hours = 24, verify_interval_s = 0;
  uint64_t backup_max_backlog_mb = so.backup.max_backlog_bytes >> 20;
  Flag(serve, "backup-max-backlog-mb", backup_max_backlog_mb,
       "Local log kept for an unreachable store, at most; beyond it the log restarts from a snapshot");
  uint64_t txlog_local_mb = so.registry.log_retention.max_bytes >> 20;
  int64_t txlog_local_s = so.registry.log_retention.max_age.count();
  uint64_t txlog_local_files = so.registry.log_retention.max_files;
  Flag(serve, "txlog-local-mb", txlog_local_mb,
       "History each database's local log keeps for replicas to catch up from, at most (MiB; "
       "files the backups have not uploaded are kept apart, up to --backup-max-backlog-mb)");
  Flag(serve, "txlog-local-s", txlog_local_s,
       "... and no history older than this many seconds");
  Flag(serve, "txlog-local-files", txlog_local_files, "... and at most this many files");
  Flag(serve, "backup-retention-hours", backup_retention_hours,
       "Keep backups restorable to any moment of the last this many hours (at least one snapshot always)");
  Flag(serve, "verify-interval-s", verify_interval_s,
       "Restore every database's backup this often and compare it with the live database (0: never)");
  Flag(serve, "auth-jwt-key-file", so.jwt_key_files,
       "File with Ed25519 public key(s) (PEM, or raw base64url) that sign clients' JWTs; repeatable "
       "(a token verifies if any key does). No key: no authentication");
  Flag(serve, "auth-jwt-key", so.jwt_keys,
       "An Ed25519 public key given inline (raw 32 bytes in URL-safe base64, or PEM); repeatable");
  Flag(serve, "admin-auth-key", so.admin_auth_key,
       "Shared secret the admin API requires as Authorization: Bearer <key> (empty: open)");
  Flag(serve, "migrations-dir", so.migrations_dir,
       "Apply every migration of this directory (NNNN_name.sql, as `cairn migrate apply` takes) "
       "to each database created through the admin API, at creation");
  Flag(serve, "replica-of", so.replica_of,
       "Follow the primary whose admin API is at this URL (http://HOST:PORT) as a read replica");
  Flag(serve, "replication-key", so.replication_key,
       "The primary's admin key (for --replica-of, and between the nodes of a cluster)");
  Flag(serve, "replica-seed-store", so.follower.seed_store_url,
       "The primary's backups (file:///DIR, DIR or s3://BUCKET/PREFIX): a replica restores each new "
       "database from them and takes only the newer transactions from the primary");
  Flag(serve, "cluster-etcd", so.cluster_etcd,
       "Cluster mode: elect a primary among the nodes through etcd at this URL (http://HOST:PORT); "
       "every node starts as a replica");
  Flag(serve, "cluster-name", so.cluster_name, "Cluster mode: the cluster's name (its key prefix in etcd)");
  Flag(serve, "node-url", so.node_url,
       "Cluster mode: this node's admin API as the other nodes reach it (default http://ADMIN_LISTEN)");
  Flag(serve, "lease-ttl-s", so.lease_ttl_s,
       "Cluster mode: the primary's lease; a dead primary is replaced within about this long");
  Flag(serve, "metrics-database", so.metrics_databases,
       "Publish this database's per-database series at /metrics even when it is not among the "
       "busiest 20; repeatable");
  Flag(serve, "log-level", log_level, "trace, debug, info, warn, error or off");
  serve->add_flag("--log-json", log_json, "Log one JSON object per line (with request_id while a request runs)")
      ->envname("CAIRN_LOG_JSON");

#ifdef CAIRN_WITH_SHELL
  // shell
  cairn::shell::ShellOptions sh;
  auto* shell = app.add_subcommand("shell", "Interactive SQL shell against a Cairn (or sqld) URL");
  shell->add_option("url", sh.url, "Server URL")->capture_default_str();
  shell->add_option("sql", sh.commands, "SQL or dot-commands to run instead of an interactive session");
  shell->add_option("--auth-token", sh.auth_token, "Bearer token")->envname("CAIRN_AUTH_TOKEN");
  shell->add_option("--namespace", sh.ns, "Database to use (x-namespace header)");
  shell->add_flag("--json", sh.json, "Print rows as JSON objects, one per line");
#endif

  cairn::cli::AddBackupCommands(app);
  cairn::cli::AddAuthCommands(app);
  cairn::cli::AddMigrateCommands(app);
  cairn::cli::AddClusterCommands(app);

  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) {
    if (!config_file.empty()) {
      cairn::Status st = cairn::cli::ApplyConfigFile(serve, config_file);
      if (!st.ok()) {
        std::fprintf(stderr, "cairn serve: %s\n", st.message().c_str());
        return 2;
      }
    }
    so.hrana.max_response_bytes = max_response_bytes;
    so.hrana.stream_idle_timeout = std::chrono::milliseconds(stream_idle_timeout_ms);
    so.registry.max_open = max_open;
    so.registry.database.statement_timeout = std::chrono::milliseconds(statement_timeout_ms);
    so.registry.database.txn_timeout = std::chrono::milliseconds(txn_timeout_ms);
    so.registry.database.max_readers = max_readers;
    so.backup.interval = std::chrono::milliseconds(backup_interval_ms);
    so.backup.retention = std::chrono::hours(backup_retention_hours);
    so.backup.max_backlog_bytes = backup_max_backlog_mb << 20;
    so.registry.log_retention.max_bytes = txlog_local_mb << 20;
    so.registry.log_retention.max_age = std::chrono::seconds(txlog_local_s);
    so.registry.log_retention.max_files = txlog_local_files;
    so.verify_interval = std::chrono::seconds(verify_interval_s);
    return Serve(so, log_level, log_json);
  }
#ifdef CAIRN_WITH_SHELL
  if (shell->parsed()) return cairn::shell::RunShell(sh);
#endif
  return 0;
}
