// ObjectStore: where backups live. One small interface, two real backends:
//
//   file:///abs/dir  or a plain path   a local directory (the embedded default: <data-dir>/backups)
//   s3://bucket/prefix                 S3-compatible storage, SigV4-signed (see StoreOptions)
//
// Keys are relative to the store's root ("db/log/L0/0000...-0000....clog"), '/'-separated, never
// starting with '/', never containing "..". Objects are immutable once written: Put replaces a
// whole object atomically (a reader sees the old object, the new one, or nothing, never a part).
// The full key rules are ValidateKey's (below) and docs/objectstore.md's.
//
// Expected failures are Status values: kNotFound for a missing object, kUnavailable for a store
// that cannot be reached (after the backend's own retries), kInvalidRequest for a bad URL or key,
// kPermissionDenied when the store refuses our credentials, kIOError for anything else.
//
// Thread-safety: every method may be called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cairn::objectstore {

struct ObjectInfo {
  std::string key;  // relative to the store's root
  uint64_t size = 0;
};

// The bytes of one object, held however the backend likes (a string, a memory-mapped file).
class Blob {
 public:
  virtual ~Blob() = default;
  virtual std::string_view data() const = 0;
  static std::shared_ptr<const Blob> FromString(std::string s);
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Writes (or replaces) the whole object.
  virtual Status Put(std::string_view key, std::string_view data) = 0;
  // The whole object; kNotFound if it does not exist.
  virtual Result<std::string> Get(std::string_view key) = 0;
  // The whole object without copying it when the backend can (the local directory maps the
  // file); by default, Get's string.
  virtual Result<std::shared_ptr<const Blob>> GetBlob(std::string_view key);
  // Every object whose key starts with `prefix`, sorted by key (byte order). `prefix` is a plain
  // string prefix ("db/log/L0/00" is fine), not only a directory; "" lists everything.
  virtual Result<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
  // Removes the object; ok when it did not exist.
  virtual Status Delete(std::string_view key) = 0;
  // The store's URL without secrets, for logs and messages.
  virtual std::string Describe() const = 0;
};

struct StoreOptions {
  // S3 only. Empty endpoint means AWS (https://s3.<region>.amazonaws.com).
  std::string endpoint;  // e.g. http://127.0.0.1:4568 ; env AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL
  std::string region;    // env AWS_REGION / AWS_DEFAULT_REGION, else us-east-1
  bool path_style = false;  // bucket in the path instead of the host name (needed by most non-AWS;
                            // implied when the endpoint's host is an IP address)
  std::string access_key_id;      // env AWS_ACCESS_KEY_ID; none at all means unsigned requests
  std::string secret_access_key;  // env AWS_SECRET_ACCESS_KEY
  std::string session_token;      // env AWS_SESSION_TOKEN
  std::string ca_file;            // PEM bundle to verify TLS peers with; env AWS_CA_BUNDLE
  // Per attempt; a request is retried with exponential backoff (and jitter) on connection errors,
  // timeouts, 5xx and 429, up to max_attempts in all.
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
  int max_attempts = 5;
  std::chrono::milliseconds initial_backoff{100};
  // Keys per ListObjectsV2 page (S3 caps it at 1000). Lower it only to exercise pagination in
  // tests.
  int list_page_size = 1000;
};

// Opens the store named by `url`. Query parameters on s3:// URLs override options:
// ?endpoint=URL&region=R&path_style=true|false . Options left empty are read from the usual AWS
// environment variables. Does no I/O: a store that cannot be reached fails on its first call.
// Unknown schemes, s3:// URLs without a bucket and unknown query parameters are kInvalidRequest.
Result<std::unique_ptr<ObjectStore>> Open(std::string_view url, StoreOptions options = {});

// Ok when `key` follows the key rules every backend enforces (so that any store can be copied to
// any other): 1 to 1024 bytes of UTF-8; '/'-separated segments of 1 to 255 bytes, none empty, "."
// or ".."; no leading or trailing '/'; no control characters; no segment starting with
// kReservedSegmentPrefix. Otherwise kInvalidRequest naming the rule.
Status ValidateKey(std::string_view key);

// Segments starting with this are never keys: the local backend names its temporary files so.
inline constexpr std::string_view kReservedSegmentPrefix = ".cairn-tmp.";

}  // namespace cairn::objectstore
