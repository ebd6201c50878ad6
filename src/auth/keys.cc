// Ed25519 keys (parsing, generation), token signing, and the admin key check.
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <strings.h>

#include <memory>

#include "auth/auth.h"
#include "auth/keys_internal.h"
#include "base/base64.h"
#include "base/json_writer.h"

namespace cairn::auth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

Status Bad(std::string why) { return Status(Code::kInvalidRequest, std::move(why)); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<PkeyPtr> ParsePublicPem(std::string_view block) {
  BioPtr bio(BIO_new_mem_buf(block.data(), static_cast<int>(block.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Bad("a PUBLIC KEY block is not a valid SPKI public key");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    return Bad("a public key is not an Ed25519 key (only EdDSA tokens are supported)");
  return key;
}

}  // namespace

PublicKeys::PublicKeys() : rep_(std::make_unique<Rep>()) {}
PublicKeys::~PublicKeys() = default;
PublicKeys::PublicKeys(PublicKeys&&) noexcept = default;
PublicKeys& PublicKeys::operator=(PublicKeys&&) noexcept = default;
size_t PublicKeys::size() const { return rep_->keys.size(); }

Status PublicKeys::Add(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return Bad("the key is empty");
  std::vector<PkeyPtr> found;
  if (text.substr(0, 10) == "-----BEGIN") {
    // One or more PEM blocks; each must be a public key.
    constexpr std::string_view kBegin = "-----BEGIN ", kEnd = "-----END ";
    size_t pos = 0;
    while ((pos = text.find(kBegin, pos)) != std::string_view::npos) {
      const size_t label_end = text.find("-----", pos + kBegin.size());
      if (label_end == std::string_view::npos) return Bad("a PEM block has no closing dashes");
      const std::string_view label =
          text.substr(pos + kBegin.size(), label_end - pos - kBegin.size());
      const size_t end = text.find(kEnd, label_end);
      const size_t end_close =
          end == std::string_view::npos ? end : text.find("-----", end + kEnd.size());
      if (end_close == std::string_view::npos)
        return Bad("the PEM block '" + std::string(label) + "' has no END line");
      const std::string_view block = text.substr(pos, end_close + 5 - pos);
      if (label == "PUBLIC KEY") {
        CAIRN_ASSIGN_OR_RETURN(PkeyPtr key, ParsePublicPem(block));
        found.push_back(std::move(key));
      } else if (label.find("PRIVATE KEY") != std::string_view::npos) {
        return Bad("received a private key, but a public key is expected");
      } else {
        return Bad("the PEM block '" + std::string(label) +
                   "' is not supported (expected PUBLIC KEY)");
      }
      pos = end_close + 5;
    }
    if (found.empty()) return Bad("no PEM block found");
  } else {
    // The raw key: sqld reads it as URL-safe base64 without padding; padding and the standard
    // alphabet are accepted too.
    auto raw = Base64Decode(text);
    if (!raw) return Bad("the key is neither PEM nor base64");
    if (raw->size() != 32)
      return Bad("a raw Ed25519 public key is 32 bytes; this one is " +
                 std::to_string(raw->size()));
    PkeyPtr key(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw->data()), 32));
    if (!key) return Bad("the raw key is not a valid Ed25519 public key");
    found.push_back(std::move(key));
  }
  for (auto& k : found) rep_->keys.push_back(k.release());
  return Status::Ok();
}

bool AdminKeyMatches(std::string_view authorization, std::string_view key) {
  if (key.empty()) return false;
  authorization = Trim(authorization);
  const size_t space = authorization.find(' ');
  if (space == std::string_view::npos) return false;
  const std::string_view scheme = authorization.substr(0, space);
  const bool known = (scheme.size() == 6 && strncasecmp(scheme.data(), "bearer", 6) == 0) ||
                     (scheme.size() == 5 && strncasecmp(scheme.data(), "basic", 5) == 0);
  if (!known) return false;
  const std::string_view given = Trim(authorization.substr(space + 1));
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  unsigned int na = 0, nb = 0;
  if (EVP_Digest(given.data(), given.size(), a, &na, EVP_sha256(), nullptr) != 1 ||
      EVP_Digest(key.data(), key.size(), b, &nb, EVP_sha256(), nullptr) != 1 || na != nb)
    return false;
  return CRYPTO_memcmp(a, b, na) == 0;
}

Result<KeyPair> GenerateKeyPair() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) return Status(Code::kInternal, "Ed25519 key generation failed");
  KeyPair kp;
  BioPtr priv(BIO_new(BIO_s_mem())), pub(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1)
    return Status(Code::kInternal, "cannot encode the key as PEM");
  kp.private_pem = BioText(priv.get());
  kp.public_pem = BioText(pub.get());
  unsigned char raw[32];
  size_t n = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key.get(), raw, &n) != 1 || n != 32)
    return Status(Code::kInternal, "cannot read the raw public key");
  Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), n), &kp.public_raw);
  return kp;
}

std::string ClaimsJson(const TokenClaims& c) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  if (c.issued_at) w.Key("iat").Int(*c.issued_at);
  if (c.expires) w.Key("exp").Int(*c.expires);
  const char* a = c.read_only ? "ro" : "rw";
  if (c.databases.size() <= 1) {
    if (c.databases.size() == 1) w.Key("id").String(c.databases[0]);
    w.Key("a").String(a);
  } else {
    w.Key("p").BeginObject().Key(a).BeginObject().Key("ns").BeginArray();
    for (const auto& db : c.databases) w.String(db);
    w.EndArray().EndObject().EndObject();
  }
  w.EndObject();
  return out;
}

Result<std::string> SignToken(std::string_view private_pem, std::string_view claims_json) {
  BioPtr bio(BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Bad("not a PEM private key (expected -----BEGIN PRIVATE KEY-----)");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    return Bad("the private key is not an Ed25519 key");
  std::string token;
  Base64UrlEncode(R"({"alg":"EdDSA","typ":"JWT"})", &token);
  token.push_back('.');
  Base64UrlEncode(claims_json, &token);
  unsigned char sig[64];
  size_t sig_len = sizeof sig;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || sig_len != 64) return Status(Code::kInternal, "signing failed");
  token.push_back('.');
  Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(sig), sig_len), &token);
  return token;
}

}  // namespace cairn::auth
