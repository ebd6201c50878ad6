#include "base/sha256.h"

#include <openssl/evp.h>

#include "base/hex.h"

namespace cairn {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) return {};
  return Hex(std::string_view(reinterpret_cast<const char*>(digest), len));
}

}  // namespace cairn
