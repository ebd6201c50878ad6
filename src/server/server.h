// Server: Cairn's HTTP front door. Owns the listeners (Hrana on the public port, the admin API on a
// separate port), the network threads and the pool of threads allowed to block, routing, database
// selection from the request, and orderly shutdown. Everything protocol-specific is in `hrana`;
// everything about databases in `engine`.
//
// Thread-safety: Start/Stop/Wait are called from one thread (main); the rest is internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "backup/uploader.h"
#include "engine/registry.h"
#include "hrana/service.h"
#include "replication/follower.h"

namespace cairn::server {

struct ServerOptions {
  std::string listen = "127.0.0.1:8080";        // Hrana over HTTP
  std::string admin_listen = "127.0.0.1:8081";  // admin API; empty disables it
  int network_threads = 0;                      // 0: one per core
  int blocking_threads = 16;                    // for requests that wait for the write lock
  size_t max_body_bytes = 8 << 20;
  std::chrono::seconds shutdown_grace{10};      // wait this long for in-flight requests
  engine::RegistryOptions registry;
  // Where every database's log is backed up: file:///dir, a path, or s3://bucket/prefix. Empty:
  // <data_dir>/backups. "off": no backups (the log is still kept locally).
  std::string backup_url;
  backup::UploaderOptions backup;
  // Every this often, each database's backup is restored and compared with the live database
  // (results in the admin API's /v1/backup). 0: never.
  std::chrono::seconds verify_interval{0};
  hrana::ServiceOptions hrana;
  // Ed25519 public keys that sign clients' JWTs (docs/auth.md): each text is PEM (one or more
  // PUBLIC KEY blocks) or a raw 32-byte key in URL-safe base64. A token verifies if any key
  // verifies it. Empty: no authentication, every client may read and write every database.
  std::vector<std::string> jwt_keys;
  // Files holding such keys (sqld's --auth-jwt-key-file), read at start.
  std::vector<std::string> jwt_key_files;
  // The admin API's shared secret (`Authorization: Bearer <key>`). Empty: the admin API is open.
  std::string admin_auth_key;
  // Every database created through the admin API gets the migrations of this directory (the
  // files `cairn migrate apply` takes) before it can be used. Empty: none.
  std::string migrations_dir;
  // /metrics publishes per-database series for the busiest metrics_top_databases open databases
  // and for every database named here (bounded cardinality; docs/metrics.md).
  size_t metrics_top_databases = 20;
  std::vector<std::string> metrics_databases;
  // Follow a primary as a read replica (docs/replication.md): the primary's admin listener,
  // http://host:port. Empty: this server is a primary and serves /v1/replication/* on its admin
  // listener.
  std::string replica_of;
  // The primary's admin key, sent by the replica.
  std::string replication_key;
  replication::FollowerOptions follower;
  // Cluster mode (docs/replication.md): etcd's client URL. Every node starts as a replica and the
  // nodes elect a primary among themselves; replica_of must then be empty.
  std::string cluster_etcd;
  std::string cluster_name = "cairn";
  // This node's admin listener as the other nodes reach it (default: http://<admin_listen>).
  std::string node_url;
  int lease_ttl_s = 5;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> Create(const ServerOptions& opts);
  ~Server();

  // Binds the listeners and starts serving; returns once they accept connections.
  Status Start();
  // The ports actually bound (useful with port 0).
  uint16_t port() const;
  uint16_t admin_port() const;
  // Blocks until SIGINT or SIGTERM, then shuts down: stops accepting, lets in-flight requests
  // finish (up to shutdown_grace), closes streams (rolling back), checkpoints and closes databases.
  void RunUntilSignal();
  void Stop();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::server
