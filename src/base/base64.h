// Base64 (RFC 4648) encoding and decoding, standard and URL-safe alphabets.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn {

// Appends the padded standard base64 form of `data` to `out`.
void Base64Encode(std::string_view data, std::string* out);
// Appends the unpadded URL-safe base64 form of `data` to `out`.
void Base64UrlEncode(std::string_view data, std::string* out);
// Decodes standard or URL-safe base64, padded or not. Returns nullopt on any invalid character or
// impossible length; whitespace is not accepted.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace cairn
