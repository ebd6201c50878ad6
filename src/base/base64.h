// Base64 (RFC 4648 §4 and §5): encoding in the standard and the URL-safe alphabet, and one decoder
// that accepts as much or as little as the format being read allows — leniently for what people
// type (keys, headers), strictly where every value must have exactly one spelling (JWS tokens).
//
// Thread-safety: plain functions without state; call them from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn {

// Appends the padded standard base64 form of `data` to `out`.
void Base64Encode(std::string_view data, std::string* out);
// Appends the unpadded URL-safe base64 form of `data` to `out`.
void Base64UrlEncode(std::string_view data, std::string* out);

// Which characters a decoder takes: '+' '/' (standard), '-' '_' (URL-safe), or both.
enum class Base64Alphabet { kStandard, kUrl, kEither };
// Whether the text must be padded with '=' to a multiple of four characters, may be, or must not.
enum class Base64Padding { kOptional, kRequired, kForbidden };

// What a decoder accepts. The defaults are lenient: either alphabet, padded or not.
struct Base64Rules {
  Base64Alphabet alphabet = Base64Alphabet::kEither;
  Base64Padding padding = Base64Padding::kOptional;
  // The bits of the last character that carry no byte must be zero, so that every byte string
  // has exactly one spelling.
  bool canonical = false;
};

// JWS's base64url (RFC 7515 §2): URL-safe, never padded, canonical.
inline constexpr Base64Rules kBase64UrlStrict{Base64Alphabet::kUrl, Base64Padding::kForbidden,
                                              true};

// Decodes `text` under `rules`. Returns nullopt on a character outside the alphabet (whitespace
// included), padding the rules refuse or of the wrong length (at most two '=', and only where
// they complete a group of four), a length no encoding has, or non-zero unused bits when the
// rules ask for canonical text.
std::optional<std::string> Base64Decode(std::string_view text, const Base64Rules& rules = {});

}  // namespace cairn
