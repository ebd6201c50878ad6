// Private to src/auth: the OpenSSL keys behind PublicKeys.
#pragma once

#include <openssl/evp.h>

#include <vector>

#include "auth/auth.h"

namespace cairn::auth {

struct PublicKeys::Rep {
  std::vector<EVP_PKEY*> keys;  // owned; Ed25519 public keys
  ~Rep() {
    for (EVP_PKEY* k : keys) EVP_PKEY_free(k);
  }
};

struct KeysAccess {
  static const std::vector<EVP_PKEY*>& Keys(const PublicKeys& k) { return k.rep_->keys; }
};

}  // namespace cairn::auth
