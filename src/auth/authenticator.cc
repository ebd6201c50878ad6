// JWT verification: strict parsing of the compact form, EdDSA signature check against every
// configured key, sqld's claims, and a cache of successful verifications.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <simdjson.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "auth/auth.h"
#include "auth/keys_internal.h"
#include "base/base64.h"

namespace cairn::auth {

// Builds Grants from claims; a friend of Grant.
struct GrantBuilder {
  static Status FromClaims(std::string_view json, Grant* out);
};

namespace {

constexpr int64_t kLeewaySeconds = 60;  // as sqld (jsonwebtoken's default validation)
constexpr size_t kMaxTokenBytes = 16 << 10;
constexpr size_t kCacheShards = 16;
constexpr size_t kCacheEntriesPerShard = 1024;

Status Invalid(std::string why) {
  return Status(Code::kUnauthenticated, "the token is invalid: " + why);
}

simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

Status CheckHeader(std::string_view json) {
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (Parser().parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS)
    return Invalid("its header is not a JSON object");
  bool alg_ok = false;
  for (auto field : obj) {
    if (field.key == "alg") {
      std::string_view alg;
      if (field.value.get_string().get(alg) != simdjson::SUCCESS || alg != "EdDSA")
        return Invalid("only EdDSA (Ed25519) signatures are accepted");
      alg_ok = true;
    } else if (field.key == "crit") {
      return Invalid("critical header extensions are not supported");
    }
  }
  if (!alg_ok) return Invalid("its header has no alg");
  return Status::Ok();
}

bool IntClaim(simdjson::dom::element v, std::optional<int64_t>* out) {
  if (v.is_null()) {
    out->reset();
    return true;
  }
  int64_t n = 0;
  if (v.get_int64().get(n) != simdjson::SUCCESS) return false;
  *out = n;
  return true;
}

// Appends the strings of {"ns": [...]} (null or absent: nothing) to `names`.
bool ScopeNames(simdjson::dom::element scope, std::vector<std::string>* names) {
  if (scope.is_null()) return true;
  simdjson::dom::object obj;
  if (scope.get_object().get(obj) != simdjson::SUCCESS) return false;
  for (auto field : obj) {
    if (field.key != "ns") continue;  // sqld also knows "tags" (group ids); Cairn has none
    if (field.value.is_null()) continue;
    simdjson::dom::array arr;
    if (field.value.get_array().get(arr) != simdjson::SUCCESS) return false;
    for (auto item : arr) {
      std::string_view name;
      if (item.get_string().get(name) != simdjson::SUCCESS) return false;
      names->emplace_back(name);
    }
  }
  return true;
}

void SortUnique(std::vector<std::string>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

bool Contains(const std::vector<std::string>& sorted, std::string_view name) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), name,
                             [](const std::string& a, std::string_view b) { return a < b; });
  return it != sorted.end() && *it == name;
}

using Digest = std::array<unsigned char, 32>;

struct DigestHash {
  size_t operator()(const Digest& d) const {
    size_t h;
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};

}  // namespace

Status GrantBuilder::FromClaims(std::string_view json, Grant* g) {
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (Parser().parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS)
    return Invalid("its claims are not a JSON object");
  std::optional<std::string> id;
  std::optional<Access> a;
  bool has_p = false;
  std::vector<std::string> seen;
  for (auto field : obj) {
    const std::string_view key = field.key;
    if (key == "exp" || key == "nbf" || key == "id" || key == "a" || key == "p") {
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        return Invalid("claim '" + std::string(key) + "' appears twice");
      seen.emplace_back(key);
    }
    if (key == "exp") {
      if (!IntClaim(field.value, &g->exp_)) return Invalid("'exp' is not an integer");
    } else if (key == "nbf") {
      if (!IntClaim(field.value, &g->nbf_)) return Invalid("'nbf' is not an integer");
    } else if (key == "id") {
      if (field.value.is_null()) continue;
      std::string_view s;
      if (field.value.get_string().get(s) != simdjson::SUCCESS || s.empty())
        return Invalid("'id' is not a database name");
      id = std::string(s);
    } else if (key == "a") {
      if (field.value.is_null()) continue;
      std::string_view s;
      if (field.value.get_string().get(s) != simdjson::SUCCESS)
        return Invalid("'a' is not a string");
      if (s == "rw") {
        a = Access::kWrite;
      } else if (s == "ro" || s == "roa") {
        a = Access::kRead;
      } else {
        return Invalid("'a' must be \"ro\" or \"rw\"");
      }
    } else if (key == "p") {
      if (field.value.is_null()) continue;
      simdjson::dom::object p;
      if (field.value.get_object().get(p) != simdjson::SUCCESS)
        return Invalid("'p' is not an object");
      has_p = true;
      for (auto scope : p) {
        std::vector<std::string>* names = nullptr;
        if (scope.key == "ro" || scope.key == "roa") {
          names = &g->read_;
        } else if (scope.key == "rw" || scope.key == "rwa" || scope.key == "ddl") {
          names = &g->write_;
        } else {
          continue;  // unknown permission kinds grant nothing
        }
        if (!ScopeNames(scope.value, names))
          return Invalid("'p." + std::string(scope.key) + "' is not {\"ns\": [names]}");
      }
    }
  }
  if (has_p) {
    // sqld: `p` alone decides; `id` and `a` are then ignored.
    SortUnique(&g->read_);
    SortUnique(&g->write_);
  } else if (id) {
    (a.value_or(Access::kWrite) == Access::kWrite ? g->write_ : g->read_).push_back(*id);
  } else {
    g->all_ = true;
    g->all_access_ = a.value_or(Access::kWrite);
  }
  return Status::Ok();
}

Grant Grant::Everything(Access access) {
  Grant g;
  g.all_ = true;
  g.all_access_ = access;
  return g;
}

Access Grant::To(std::string_view db) const {
  if (all_) return all_access_;
  if (Contains(write_, db)) return Access::kWrite;
  if (Contains(read_, db)) return Access::kRead;
  return Access::kNone;
}

class Authenticator::Impl {
 public:
  Impl(PublicKeys keys, Clock* clock) : keys_(std::move(keys)), clock_(clock) {
    sha256_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  }
  ~Impl() { EVP_MD_free(sha256_); }

  Result<std::shared_ptr<const Grant>> Verify(std::string_view jwt) const {
    if (jwt.size() > kMaxTokenBytes) return Invalid("it is longer than 16 KiB");
    const size_t dot1 = jwt.find('.');
    const size_t dot2 = dot1 == std::string_view::npos ? dot1 : jwt.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || jwt.find('.', dot2 + 1) != std::string_view::npos)
      return Invalid("it is not a JWT (header.payload.signature)");
    const std::string_view header_b64 = jwt.substr(0, dot1);
    const std::string_view payload_b64 = jwt.substr(dot1 + 1, dot2 - dot1 - 1);
    const std::string_view sig_b64 = jwt.substr(dot2 + 1);
    // JWS base64url: unpadded, and canonical so that every token has exactly one spelling.
    const std::optional<std::string> header =
        header_b64.empty() ? std::nullopt : Base64Decode(header_b64, kBase64UrlStrict);
    if (!header) return Invalid("its header is not base64url");
    CAIRN_RETURN_IF_ERROR(CheckHeader(*header));
    const std::optional<std::string> sig = Base64Decode(sig_b64, kBase64UrlStrict);
    if (!sig || sig->size() != 64) return Invalid("its signature is not 64 bytes of base64url");
    if (!SignatureMatches(jwt.substr(0, dot2), *sig))
      return Invalid("its signature does not match any configured key");
    const std::optional<std::string> payload = Base64Decode(payload_b64, kBase64UrlStrict);
    if (!payload) return Invalid("its claims are not base64url");
    auto grant = std::make_shared<Grant>();
    CAIRN_RETURN_IF_ERROR(GrantBuilder::FromClaims(*payload, grant.get()));
    CAIRN_RETURN_IF_ERROR(CheckTime(*grant));
    return std::shared_ptr<const Grant>(std::move(grant));
  }

  Result<std::shared_ptr<const Grant>> Authenticate(std::string_view header) const {
    while (!header.empty() && (header.front() == ' ' || header.front() == '\t'))
      header.remove_prefix(1);
    while (!header.empty() && (header.back() == ' ' || header.back() == '\t'))
      header.remove_suffix(1);
    if (header.empty())
      return Status(Code::kUnauthenticated,
                    "authentication is required: send Authorization: Bearer <token>");
    const size_t space = header.find(' ');
    std::string_view scheme = header.substr(0, space);
    if (space == std::string_view::npos || scheme.size() != 6 ||
        strncasecmp(scheme.data(), "bearer", 6) != 0)
      return Status(Code::kUnauthenticated, "the Authorization header must be 'Bearer <token>'");
    std::string_view token = header.substr(space + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    if (token.size() > kMaxTokenBytes) return Invalid("it is longer than 16 KiB");

    Digest d;
    unsigned int len = 0;
    if (EVP_Digest(token.data(), token.size(), d.data(), &len, sha256_, nullptr) != 1)
      return Status(Code::kInternal, "SHA-256 failed");
    Shard& shard = shards_[d[8] % kCacheShards];
    {
      std::lock_guard lk(shard.mu);
      auto it = shard.map.find(d);
      if (it != shard.map.end()) {
        std::shared_ptr<const Grant> g = it->second;
        Status st = CheckTime(*g);
        if (!st.ok()) {
          shard.map.erase(it);
          return st;
        }
        return g;
      }
    }
    CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<const Grant> g, Verify(token));
    std::lock_guard lk(shard.mu);
    if (shard.map.size() >= kCacheEntriesPerShard) shard.map.clear();
    shard.map.emplace(d, g);
    return g;
  }

  size_t cached() const {
    size_t n = 0;
    for (auto& s : shards_) {
      std::lock_guard lk(s.mu);
      n += s.map.size();
    }
    return n;
  }

 private:
  Status CheckTime(const Grant& g) const {
    const int64_t now = clock_->WallMicros() / 1'000'000;
    if (g.expires() && now > *g.expires() + kLeewaySeconds)
      return Status(Code::kUnauthenticated, "the token has expired");
    if (g.not_before() && now < *g.not_before() - kLeewaySeconds)
      return Status(Code::kUnauthenticated, "the token is not valid yet (nbf)");
    return Status::Ok();
  }

  bool SignatureMatches(std::string_view signed_part, const std::string& sig) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return false;
    bool ok = false;
    for (EVP_PKEY* key : KeysAccess::Keys(keys_)) {
      if (EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
          EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                           reinterpret_cast<const unsigned char*>(signed_part.data()),
                           signed_part.size()) == 1) {
        ok = true;
        break;
      }
      EVP_MD_CTX_reset(ctx);
    }
    EVP_MD_CTX_free(ctx);
    return ok;
  }

  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Digest, std::shared_ptr<const Grant>, DigestHash> map;
  };

  PublicKeys keys_;
  Clock* const clock_;
  EVP_MD* sha256_ = nullptr;
  mutable std::array<Shard, kCacheShards> shards_;
};

Authenticator::Authenticator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Authenticator::~Authenticator() = default;

Result<std::unique_ptr<Authenticator>> Authenticator::Create(PublicKeys keys, Clock* clock) {
  if (keys.size() == 0) return Status(Code::kInvalidRequest, "no public key to verify tokens with");
  auto impl = std::make_unique<Impl>(std::move(keys), clock);
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(impl)));
}

Result<std::shared_ptr<const Grant>> Authenticator::Authenticate(
    std::string_view authorization) const {
  return impl_->Authenticate(authorization);
}

Result<std::shared_ptr<const Grant>> Authenticator::Verify(std::string_view jwt) const {
  return impl_->Verify(jwt);
}

size_t Authenticator::cached() const { return impl_->cached(); }

}  // namespace cairn::auth
