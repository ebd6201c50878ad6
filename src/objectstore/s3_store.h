// S3Store: an ObjectStore in an S3-compatible bucket (AWS S3, MinIO, s3rver, ...), over net's
// HTTP client (libcurl).
//
// The key "a/b" is the object <prefix>a/b of the bucket. Every request is signed with AWS
// Signature V4 (libcurl's CURLOPT_AWS_SIGV4) unless no credentials are configured, and always
// carries x-amz-content-sha256 (the SHA-256 of the body, which libcurl 7.88 does not add itself).
// Paths and query strings are written in SigV4's canonical form, because libcurl 7.88 signs them
// exactly as given.
//
//   path style:     <endpoint>/<bucket>/<prefix><key>     (implied when the host is an IP address)
//   virtual host:   <scheme>://<bucket>.<endpoint host>/<prefix><key>
//
// Failures: connection errors, timeouts, 5xx and 429 are retried (StoreOptions::max_attempts in
// all, exponential backoff with jitter from initial_backoff, capped at 10 s); when the last attempt
// fails so, the call returns kUnavailable. Other answers are final: 404 → kNotFound, 403 →
// kPermissionDenied, anything else → kIOError, with S3's error Code and Message in the text.
//
// Put sends the object in one request, so objects are limited to S3's 5 GiB single-PUT size.
//
// Thread-safety: all methods may be called concurrently; HTTP clients are pooled (up to 8 idle)
// so connections are reused between calls.
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "objectstore/object_store.h"

namespace cairn::objectstore {

// Where an s3:// URL points.
struct S3Location {
  std::string bucket;
  std::string prefix;  // "" or ending with '/': prepended to every key
};

// Parses "s3://bucket[/prefix][?endpoint=URL&region=R&path_style=true|false]". Query parameters
// (percent-escapes decoded) override the matching fields of *options. kInvalidRequest for a
// missing or malformed bucket, a prefix that breaks the key rules, or an unknown parameter.
Result<S3Location> ParseS3Url(std::string_view url, StoreOptions* options);

// Fills the empty fields of *options from the environment: endpoint from AWS_ENDPOINT_URL_S3 or
// AWS_ENDPOINT_URL, region from AWS_REGION or AWS_DEFAULT_REGION (else "us-east-1"), and, when
// neither key is set in *options, the credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN; ca_file from AWS_CA_BUNDLE. `getenv` is replaceable for tests.
void FillS3OptionsFromEnvironment(
    StoreOptions* options, const std::function<const char*(const char*)>& getenv =
                               [](const char* n) { return std::getenv(n); });

class S3Store final : public ObjectStore {
 public:
  // `options` are used as they are (see ParseS3Url and FillS3OptionsFromEnvironment; an empty
  // region means us-east-1). kInvalidRequest for a malformed endpoint. Does no I/O.
  static Result<std::unique_ptr<S3Store>> Create(S3Location location, StoreOptions options);
  ~S3Store() override;

  Status Put(std::string_view key, std::string_view data) override;
  Result<std::string> Get(std::string_view key) override;
  Result<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  Status Delete(std::string_view key) override;
  // "s3://bucket/prefix (endpoint)"; never credentials.
  std::string Describe() const override;

  // The URL a request for `key` goes to (encoded as it is signed). For tests and messages.
  std::string ObjectUrl(std::string_view key) const;

 private:
  struct Impl;
  explicit S3Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Pieces of the request encoding, exposed for unit tests.
namespace s3_internal {

// SigV4 URI encoding: every byte except A-Z a-z 0-9 '-' '.' '_' '~' becomes %XX (upper-case
// hex); '/' is kept as is when keep_slash (object paths), encoded otherwise (query values).
std::string UriEncode(std::string_view s, bool keep_slash);

// The x-amz-content-sha256 value of a request without a body (GET, DELETE, LIST).
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// "name=value&..." sorted by name, names and values UriEncode'd: SigV4's canonical query string,
// sent exactly so.
std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params);

}  // namespace s3_internal

}  // namespace cairn::objectstore
