// Authentication and authorization with libSQL-compatible tokens (docs/auth.md).
//
// A client sends `Authorization: Bearer <JWT>`. The JWT is signed with Ed25519 (`"alg":"EdDSA"`;
// every other algorithm, `none` included, is refused) by the private half of one of the public
// keys the server was given; several keys may be configured so keys can be rotated. Its claims
// say which databases it may read or write:
//
//   {"a": "ro"|"rw", "id": "db", "exp": 1700000000, "p": {"ro": {"ns": [...]}, "rw": {"ns":
//   [...]}}}
//
// exactly as sqld reads them: when `p` is present it alone decides (`ro`/`roa` read, `rw`/`rwa`/
// `ddl` read and write, every other database nothing); otherwise `id` (absent: every database)
// with the access of `a` (absent: `rw`). `exp`/`nbf` are checked with 60 s of leeway.
//
// Verification is done once per distinct token: a successful result is cached under the
// token's SHA-256 (the exact bytes, never a prefix or a decoded form), and every later use only
// rechecks the token's time limits. Failures are never cached.
//
// Thread-safety: Authenticator and Grant are immutable after creation (the cache is internally
// synchronized); share them freely between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace cairn::auth {

enum class Access : uint8_t { kNone, kRead, kWrite };

// What one verified token allows.
class Grant {
 public:
  // Access to every database.
  static Grant Everything(Access access);
  // The access this grant gives to database `db`.
  Access To(std::string_view db) const;
  // When the token stops being valid (Unix seconds), if it expires.
  std::optional<int64_t> expires() const { return exp_; }
  // When it starts being valid (Unix seconds), if it says.
  std::optional<int64_t> not_before() const { return nbf_; }

 private:
  friend struct GrantBuilder;
  bool all_ = false;  // legacy token without `id`
  Access all_access_ = Access::kNone;
  std::vector<std::string> read_;   // sorted
  std::vector<std::string> write_;  // sorted; writing implies reading
  std::optional<int64_t> exp_;
  std::optional<int64_t> nbf_;
};

// Ed25519 public keys, as sqld's --auth-jwt-key-file accepts them: PEM text holding one or more
// `-----BEGIN PUBLIC KEY-----` blocks (SPKI), or the raw 32-byte key in URL-safe base64 (no
// padding; surrounding whitespace ignored). A private key, another PEM type, another key type, or
// bad base64 is kInvalidRequest with a message naming the problem.
class PublicKeys {
 public:
  PublicKeys();
  ~PublicKeys();
  PublicKeys(PublicKeys&&) noexcept;
  PublicKeys& operator=(PublicKeys&&) noexcept;

  // Adds the keys in `text` (see above).
  Status Add(std::string_view text);
  size_t size() const;

 private:
  friend struct KeysAccess;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

class Authenticator {
 public:
  // `keys` must not be empty. Time limits are checked against clock->WallMicros().
  static Result<std::unique_ptr<Authenticator>> Create(PublicKeys keys,
                                                       Clock* clock = Clock::Real());
  ~Authenticator();

  // Checks an `Authorization` header value: "Bearer <JWT>" (scheme case-insensitive). Every
  // failure — header missing or empty, another scheme, malformed token, unknown key, wrong
  // signature, alg other than EdDSA, bad claims, expired or not yet valid — is kUnauthenticated
  // with a message saying which.
  Result<std::shared_ptr<const Grant>> Authenticate(std::string_view authorization) const;
  // The same for a bare JWT, bypassing the cache (used by tests and benchmarks).
  Result<std::shared_ptr<const Grant>> Verify(std::string_view jwt) const;

  // Number of cached verifications (for tests).
  size_t cached() const;

 private:
  class Impl;
  explicit Authenticator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when `authorization` is "Bearer <key>" or "Basic <key>" (sqld's admin API uses the latter)
// for exactly `key`, compared in constant time (of the key's SHA-256, so not even the length
// leaks).
bool AdminKeyMatches(std::string_view authorization, std::string_view key);

// --- Making keys and tokens (cairn keygen / cairn token create, and tests) ---

struct KeyPair {
  std::string private_pem;  // PKCS#8 "-----BEGIN PRIVATE KEY-----"
  std::string public_pem;   // SPKI "-----BEGIN PUBLIC KEY-----"
  std::string public_raw;   // the 32-byte public key, URL-safe base64 without padding
};
Result<KeyPair> GenerateKeyPair();

struct TokenClaims {
  std::vector<std::string> databases;  // empty: every database (no `id`)
  bool read_only = false;
  std::optional<int64_t> expires;    // Unix seconds
  std::optional<int64_t> issued_at;  // Unix seconds
};
// The claims as sqld reads them: no database → {"a"}; one → {"id","a"}; several → {"p"}.
std::string ClaimsJson(const TokenClaims& claims);
// Signs `claims_json` (the payload, verbatim) with the Ed25519 private key in `private_pem`.
Result<std::string> SignToken(std::string_view private_pem, std::string_view claims_json);

}  // namespace cairn::auth
