// EtcdClient: the few etcd v3 calls primary election needs, spoken through etcd's JSON gateway
// (POST /v3/...; keys and values base64 in JSON). One kept-alive HTTP connection.
//
// Thread-safety: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "net/http_client.h"

namespace cairn::cluster {

struct KeyValue {
  std::string value;
  int64_t lease = 0;
  int64_t create_revision = 0;
};

class EtcdClient {
 public:
  explicit EtcdClient(std::string url, std::chrono::milliseconds timeout = std::chrono::seconds(2));

  // A new lease of `ttl_s` seconds; its id.
  Result<int64_t> GrantLease(int ttl_s);
  // Renews the lease; its remaining TTL in seconds (0 or kNotFound: expired).
  Result<int64_t> KeepAlive(int64_t lease);
  Status Revoke(int64_t lease);
  // Creates `key` = `value` bound to `lease` only if the key does not exist. True when this call
  // created it; false (and *current set) when it exists.
  Result<bool> CreateIfAbsent(const std::string& key, const std::string& value, int64_t lease,
                              std::optional<KeyValue>* current);
  Result<std::optional<KeyValue>> Get(const std::string& key);
  // Every key under `prefix` (ordered by key): key → value.
  Result<std::vector<std::pair<std::string, std::string>>> List(const std::string& prefix);
  Status Put(const std::string& key, const std::string& value, int64_t lease);
  // Deletes `key` only if it is bound to `lease` (a graceful hand-off by its holder).
  Status DeleteIfLease(const std::string& key, int64_t lease);

 private:
  Result<std::string> Call(const std::string& path, const std::string& body);
  net::HttpClient http_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace cairn::cluster
