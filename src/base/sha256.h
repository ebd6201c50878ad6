// SHA-256 (FIPS 180-4) of a byte string, in lower-case hex: migration checksums, S3's
// x-amz-content-sha256. Computed by OpenSSL's libcrypto, which only sha256.cc includes.
//
// Thread-safety: a plain function without state; call it from any thread.
#pragma once

#include <string>
#include <string_view>

namespace cairn {

// The 64 lower-case hex digits of the SHA-256 of `data`; empty only when libcrypto cannot run
// (out of memory).
std::string Sha256Hex(std::string_view data);

}  // namespace cairn
