// Token verification with real Ed25519 keys: tokens are signed here with OpenSSL directly (not
// with auth::SignToken) so the verifier is checked against an independent signer.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "auth/auth.h"
#include "base/base64.h"

namespace cairn::auth {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey NewEd25519() { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }

std::string PublicPem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string PrivatePem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string RawPublic(EVP_PKEY* k) {
  unsigned char raw[32];
  size_t n = sizeof raw;
  EVP_PKEY_get_raw_public_key(k, raw, &n);
  std::string out;
  Base64UrlEncode(std::string_view(reinterpret_cast<char*>(raw), n), &out);
  return out;
}

std::string B64(std::string_view s) {
  std::string out;
  Base64UrlEncode(s, &out);
  return out;
}

std::string Ed25519Sign(EVP_PKEY* k, std::string_view data) {
  unsigned char sig[64];
  size_t n = sizeof sig;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, k), 1);
  EXPECT_EQ(EVP_DigestSign(ctx, sig, &n, reinterpret_cast<const unsigned char*>(data.data()),
                           data.size()),
            1);
  EVP_MD_CTX_free(ctx);
  return std::string(reinterpret_cast<char*>(sig), n);
}

// header.payload signed with `k`.
std::string Jwt(EVP_PKEY* k, std::string_view payload,
                std::string_view header = R"({"alg":"EdDSA","typ":"JWT"})") {
  std::string signed_part = B64(header) + "." + B64(payload);
  return signed_part + "." + B64(Ed25519Sign(k, signed_part));
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = NewEd25519();
    ASSERT_TRUE(key_);
    auth_ = Make({PublicPem(key_.get())});
  }

  std::unique_ptr<Authenticator> Make(const std::vector<std::string>& texts) {
    PublicKeys keys;
    for (const auto& t : texts) {
      Status st = keys.Add(t);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    auto a = Authenticator::Create(std::move(keys), &clock_);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return std::move(a).value();
  }

  int64_t Now() const { return clock_.WallMicros() / 1'000'000; }

  // The grant of `jwt`, or null when it is refused (then `code` says why).
  std::shared_ptr<const Grant> Check(const std::string& jwt, Authenticator* a = nullptr) {
    auto g = (a ? a : auth_.get())->Verify(jwt);
    if (!g.ok()) {
      EXPECT_EQ(g.status().code(), Code::kUnauthenticated) << g.status().ToString();
      last_error_ = g.status().message();
      return nullptr;
    }
    return *g;
  }

  ManualClock clock_;
  Pkey key_;
  std::unique_ptr<Authenticator> auth_;
  std::string last_error_;
};

TEST_F(AuthTest, TokenWithoutClaimsGivesFullAccess) {
  auto g = Check(Jwt(key_.get(), "{}"));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->To("default"), Access::kWrite);
  EXPECT_EQ(g->To("anything"), Access::kWrite);
}

TEST_F(AuthTest, ReadOnlyAndReadWriteTokens) {
  auto ro = Check(Jwt(key_.get(), R"({"a":"ro"})"));
  ASSERT_TRUE(ro);
  EXPECT_EQ(ro->To("x"), Access::kRead);
  auto rw = Check(Jwt(key_.get(), R"({"a":"rw"})"));
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->To("x"), Access::kWrite);
  auto roa = Check(Jwt(key_.get(), R"({"a":"roa"})"));
  ASSERT_TRUE(roa);
  EXPECT_EQ(roa->To("x"), Access::kRead);
}

TEST_F(AuthTest, IdLimitsTheTokenToOneDatabase) {
  auto rw = Check(Jwt(key_.get(), R"({"id":"tenant1"})"));
  ASSERT_TRUE(rw);
  EXPECT_EQ(rw->To("tenant1"), Access::kWrite);
  EXPECT_EQ(rw->To("tenant2"), Access::kNone);
  EXPECT_EQ(rw->To("default"), Access::kNone);
  EXPECT_EQ(rw->To("tenant"), Access::kNone);
  EXPECT_EQ(rw->To("tenant11"), Access::kNone);
  auto ro = Check(Jwt(key_.get(), R"({"id":"tenant1","a":"ro"})"));
  ASSERT_TRUE(ro);
  EXPECT_EQ(ro->To("tenant1"), Access::kRead);
  EXPECT_EQ(ro->To("tenant2"), Access::kNone);
  auto null_id = Check(Jwt(key_.get(), R"({"id":null,"a":"ro"})"));
  ASSERT_TRUE(null_id);
  EXPECT_EQ(null_id->To("any"), Access::kRead);
}

TEST_F(AuthTest, PermissionsClaimDecidesAlone) {
  auto g = Check(
      Jwt(key_.get(),
          R"({"id":"c","a":"rw","p":{"ro":{"ns":["a","b"]},"rw":{"ns":["b","w"]},)"
          R"("roa":{"ns":["r2"]},"rwa":{"ns":["w2"]},"ddl":{"ns":["w3"]},"xyz":{"ns":["q"]}}})"));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->To("a"), Access::kRead);
  EXPECT_EQ(g->To("b"), Access::kWrite);  // in both: writing wins
  EXPECT_EQ(g->To("w"), Access::kWrite);
  EXPECT_EQ(g->To("r2"), Access::kRead);
  EXPECT_EQ(g->To("w2"), Access::kWrite);
  EXPECT_EQ(g->To("w3"), Access::kWrite);
  EXPECT_EQ(g->To("c"), Access::kNone);  // id and a are ignored once p is present (sqld)
  EXPECT_EQ(g->To("q"), Access::kNone);
  EXPECT_EQ(g->To("default"), Access::kNone);

  auto empty = Check(Jwt(key_.get(), R"({"p":{}})"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->To("a"), Access::kNone);
  auto null_ns = Check(Jwt(key_.get(), R"({"p":{"rw":{"ns":null},"ro":null}})"));
  ASSERT_TRUE(null_ns);
  EXPECT_EQ(null_ns->To("a"), Access::kNone);
  auto null_p = Check(Jwt(key_.get(), R"({"p":null,"a":"ro"})"));
  ASSERT_TRUE(null_p);
  EXPECT_EQ(null_p->To("a"), Access::kRead);
}

TEST_F(AuthTest, ExpiryWithSqldsLeeway) {
  EXPECT_TRUE(Check(Jwt(key_.get(), "{\"exp\":" + std::to_string(Now() + 3600) + "}")));
  EXPECT_TRUE(Check(Jwt(key_.get(), "{\"exp\":" + std::to_string(Now() - 30) + "}")));
  EXPECT_FALSE(Check(Jwt(key_.get(), "{\"exp\":" + std::to_string(Now() - 61) + "}")));
  EXPECT_NE(last_error_.find("expired"), std::string::npos) << last_error_;
  EXPECT_FALSE(Check(Jwt(key_.get(), R"({"exp":0})")));
  EXPECT_FALSE(Check(Jwt(key_.get(), "{\"nbf\":" + std::to_string(Now() + 3600) + "}")));
  EXPECT_TRUE(Check(Jwt(key_.get(), "{\"nbf\":" + std::to_string(Now() - 10) + "}")));
  EXPECT_TRUE(Check(Jwt(key_.get(), R"({"exp":null})")));
}

TEST_F(AuthTest, WrongKeyIsRefused) {
  Pkey other = NewEd25519();
  EXPECT_FALSE(Check(Jwt(other.get(), "{}")));
  EXPECT_NE(last_error_.find("signature"), std::string::npos) << last_error_;
}

TEST_F(AuthTest, OnlyEdDsaIsAccepted) {
  // alg none: no signature at all, or an empty one.
  const std::string none_header = B64(R"({"alg":"none","typ":"JWT"})");
  EXPECT_FALSE(Check(none_header + "." + B64("{}") + "."));
  EXPECT_FALSE(Check(none_header + "." + B64("{}")));
  // none with a valid Ed25519 signature over the same bytes is still refused.
  EXPECT_FALSE(Check(Jwt(key_.get(), "{}", R"({"alg":"none"})")));
  EXPECT_FALSE(Check(Jwt(key_.get(), "{}", R"({"alg":"eddsa"})")));
  EXPECT_FALSE(Check(Jwt(key_.get(), "{}", R"({"typ":"JWT"})")));
  EXPECT_FALSE(Check(Jwt(key_.get(), "{}", R"({"alg":"EdDSA","crit":["exp"]})")));
  EXPECT_FALSE(Check(Jwt(key_.get(), "{}", R"({"alg":["EdDSA"]})")));

  // HS256 keyed with the public key's PEM (the classic key-confusion attack) and with its raw
  // bytes.
  for (const std::string& secret : {PublicPem(key_.get()), RawPublic(key_.get())}) {
    const std::string signed_part = B64(R"({"alg":"HS256","typ":"JWT"})") + "." + B64("{}");
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), mac, &n);
    EXPECT_FALSE(Check(signed_part + "." + B64(std::string_view(reinterpret_cast<char*>(mac), n))));
  }
}

TEST_F(AuthTest, TamperedTokensAreRefused) {
  const std::string good = Jwt(key_.get(), R"({"a":"ro","id":"tenant1"})");
  ASSERT_TRUE(Check(good));
  const size_t dot1 = good.find('.'), dot2 = good.rfind('.');
  // The payload swapped for a more generous one, signature kept.
  std::string forged =
      good.substr(0, dot1) + "." + B64(R"({"a":"rw","id":"tenant1"})") + good.substr(dot2);
  EXPECT_FALSE(Check(forged));
  // One bit of the payload, one character of the signature.
  std::string bad_payload = good;
  bad_payload[dot1 + 3] = bad_payload[dot1 + 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Check(bad_payload));
  std::string bad_sig = good;
  bad_sig[dot2 + 5] = bad_sig[dot2 + 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Check(bad_sig));
  // Signature truncated, extended, or with non-zero trailing bits (a second spelling).
  EXPECT_FALSE(Check(good.substr(0, good.size() - 2)));
  EXPECT_FALSE(Check(good + "A"));
  std::string spelled = good;
  char& last = spelled.back();  // 64 bytes → 86 chars: the last one carries 4 spare bits
  last = static_cast<char>(last + 1);
  EXPECT_FALSE(Check(spelled));
}

TEST_F(AuthTest, MalformedTokensAreRefused) {
  for (const std::string& t :
       {std::string(""), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
        std::string(".."), std::string("!!!.e30.sig")}) {
    EXPECT_FALSE(Check(t)) << t;
  }
  const std::string good = Jwt(key_.get(), "{}");
  EXPECT_FALSE(Check(good + ".extra"));
  EXPECT_FALSE(Check(good + "="));  // padding is not JWS base64url
  std::string std_alphabet = good;
  for (char& c : std_alphabet) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  if (std_alphabet != good) {
    EXPECT_FALSE(Check(std_alphabet));
  }
  // Bad JSON (correctly signed, so only the parsing refuses them).
  for (const std::string& payload :
       {std::string("not json"), std::string("[1,2]"), std::string("\"x\""),
        std::string(R"({"exp":"tomorrow"})"), std::string(R"({"exp":1.5e9})"),
        std::string(R"({"a":"admin"})"), std::string(R"({"a":1})"), std::string(R"({"id":""})"),
        std::string(R"({"id":7})"), std::string(R"({"p":"all"})"),
        std::string(R"({"p":{"rw":"x"}})"), std::string(R"({"p":{"rw":{"ns":"x"}}})"),
        std::string(R"({"p":{"rw":{"ns":[1]}}})"), std::string(R"({"a":"ro","a":"rw"})"),
        std::string(R"({"exp":1,"exp":99999999999})")}) {
    EXPECT_FALSE(Check(Jwt(key_.get(), payload))) << payload;
  }
  EXPECT_FALSE(Check(Jwt(key_.get(), "{}", "not json")));
  EXPECT_FALSE(Check(std::string(20000, 'a') + "." + B64("{}") + ".x"));
}

TEST_F(AuthTest, SeveralKeysForRotation) {
  Pkey second = NewEd25519(), third = NewEd25519();
  auto both = Make({PublicPem(key_.get()), RawPublic(second.get())});
  EXPECT_TRUE(Check(Jwt(key_.get(), "{}"), both.get()));
  EXPECT_TRUE(Check(Jwt(second.get(), "{}"), both.get()));
  EXPECT_FALSE(Check(Jwt(third.get(), "{}"), both.get()));
  // sqld's key file may hold several PEM blocks.
  auto file = Make({PublicPem(second.get()) + "\n" + PublicPem(third.get())});
  EXPECT_TRUE(Check(Jwt(second.get(), "{}"), file.get()));
  EXPECT_TRUE(Check(Jwt(third.get(), "{}"), file.get()));
  EXPECT_FALSE(Check(Jwt(key_.get(), "{}"), file.get()));
  // An expired token signed by the second key is expired, not "unknown key".
  EXPECT_FALSE(Check(Jwt(second.get(), R"({"exp":1})"), both.get()));
  EXPECT_NE(last_error_.find("expired"), std::string::npos) << last_error_;
}

TEST_F(AuthTest, KeyFormats) {
  PublicKeys keys;
  EXPECT_TRUE(keys.Add(PublicPem(key_.get())).ok());
  EXPECT_TRUE(keys.Add("  " + RawPublic(key_.get()) + "\n").ok());
  EXPECT_TRUE(keys.Add(RawPublic(key_.get()) + "=").ok());  // padded: accepted too
  EXPECT_EQ(keys.size(), 3u);

  Status st = keys.Add(PrivatePem(key_.get()));
  EXPECT_EQ(st.code(), Code::kInvalidRequest);
  EXPECT_NE(st.message().find("private key"), std::string::npos) << st.message();
  st = keys.Add(PublicPem(key_.get()) + PrivatePem(key_.get()));
  EXPECT_NE(st.message().find("private key"), std::string::npos) << st.message();
  EXPECT_FALSE(keys.Add("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").ok());
  EXPECT_FALSE(keys.Add("").ok());
  EXPECT_FALSE(keys.Add("not a key!").ok());
  EXPECT_FALSE(keys.Add(B64(std::string(31, 'x'))).ok());
  Pkey ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_TRUE(ec);
  st = keys.Add(PublicPem(ec.get()));
  EXPECT_NE(st.message().find("Ed25519"), std::string::npos) << st.message();
  EXPECT_EQ(keys.size(), 3u);  // failed additions add nothing

  EXPECT_FALSE(Authenticator::Create(PublicKeys(), &clock_).ok());
}

TEST_F(AuthTest, AuthorizationHeaderAndCache) {
  const std::string jwt =
      Jwt(key_.get(), "{\"a\":\"ro\",\"exp\":" + std::to_string(Now() + 120) + "}");
  for (std::string_view h :
       {"", "   ", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token x", "Bearerx y"}) {
    auto r = auth_->Authenticate(h);
    ASSERT_FALSE(r.ok()) << h;
    EXPECT_EQ(r.status().code(), Code::kUnauthenticated);
  }
  EXPECT_EQ(auth_->cached(), 0u);  // failures are not cached
  auto g = auth_->Authenticate("Bearer " + jwt);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ((*g)->To("x"), Access::kRead);
  EXPECT_EQ(auth_->cached(), 1u);
  auto again = auth_->Authenticate("bearer  " + jwt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), g->get());  // the cached grant
  EXPECT_EQ(auth_->cached(), 1u);
  // A cached token still expires.
  clock_.Advance(std::chrono::seconds(200));
  auto late = auth_->Authenticate("Bearer " + jwt);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(auth_->cached(), 0u);
  // A near-copy of a cached token is verified afresh, not matched.
  ASSERT_TRUE(auth_->Authenticate("Bearer " + Jwt(key_.get(), "{}")).ok());
  std::string near = Jwt(key_.get(), "{}");
  near.back() = near.back() == 'A' ? 'Q' : 'A';
  EXPECT_FALSE(auth_->Authenticate("Bearer " + near).ok());
}

TEST(AdminKeyTest, ConstantTimeMatch) {
  EXPECT_TRUE(AdminKeyMatches("Bearer s3cret", "s3cret"));
  EXPECT_TRUE(AdminKeyMatches("bearer s3cret", "s3cret"));
  EXPECT_TRUE(AdminKeyMatches("Basic s3cret", "s3cret"));  // sqld's admin API scheme
  EXPECT_FALSE(AdminKeyMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(AdminKeyMatches("Bearer s3cret2", "s3cret"));
  EXPECT_FALSE(AdminKeyMatches("s3cret", "s3cret"));
  EXPECT_FALSE(AdminKeyMatches("Token s3cret", "s3cret"));
  EXPECT_FALSE(AdminKeyMatches("", "s3cret"));
  EXPECT_FALSE(AdminKeyMatches("Bearer ", ""));
}

TEST(MintTest, GeneratedKeysSignVerifiableTokens) {
  auto kp = GenerateKeyPair();
  ASSERT_TRUE(kp.ok()) << kp.status().ToString();
  EXPECT_EQ(kp->private_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  EXPECT_EQ(kp->public_pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u);
  EXPECT_EQ(kp->public_raw.size(), 43u);
  for (const std::string& form : {kp->public_pem, kp->public_raw}) {
    PublicKeys keys;
    ASSERT_TRUE(keys.Add(form).ok());
    auto a = Authenticator::Create(std::move(keys));
    ASSERT_TRUE(a.ok());
    TokenClaims c;
    c.databases = {"tenant1"};
    c.read_only = true;
    auto t = SignToken(kp->private_pem, ClaimsJson(c));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    auto g = (*a)->Verify(*t);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    EXPECT_EQ((*g)->To("tenant1"), Access::kRead);
    EXPECT_EQ((*g)->To("tenant2"), Access::kNone);
  }
  EXPECT_FALSE(SignToken(kp->public_pem, "{}").ok());
}

TEST(MintTest, ClaimsAsSqldReadsThem) {
  TokenClaims c;
  EXPECT_EQ(ClaimsJson(c), R"({"a":"rw"})");
  c.read_only = true;
  c.databases = {"a"};
  c.expires = 1700000000;
  EXPECT_EQ(ClaimsJson(c), R"({"exp":1700000000,"id":"a","a":"ro"})");
  c.databases = {"a", "b"};
  c.read_only = false;
  c.expires.reset();
  EXPECT_EQ(ClaimsJson(c), R"({"p":{"rw":{"ns":["a","b"]}}})");
}

}  // namespace
}  // namespace cairn::auth
