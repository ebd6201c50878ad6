#include "base/base64.h"

#include <array>
#include <cstdint>

namespace cairn {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void Encode(std::string_view data, std::string* out, const char* alphabet, bool pad) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  size_t n = data.size();
  out->reserve(out->size() + (n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    char q[4] = {alphabet[v >> 18], alphabet[(v >> 12) & 63], alphabet[(v >> 6) & 63],
                 alphabet[v & 63]};
    out->append(q, 4);
  }
  if (n - i == 1) {
    uint32_t v = p[i] << 16;
    out->push_back(alphabet[v >> 18]);
    out->push_back(alphabet[(v >> 12) & 63]);
    if (pad) out->append("==");
  } else if (n - i == 2) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out->push_back(alphabet[v >> 18]);
    out->push_back(alphabet[(v >> 12) & 63]);
    out->push_back(alphabet[(v >> 6) & 63]);
    if (pad) out->push_back('=');
  }
}

// Each character's value, -1 for characters outside the alphabet.
using DecodeTable = std::array<int8_t, 256>;

constexpr DecodeTable MakeDecodeTable(bool standard, bool url) {
  DecodeTable t{};
  for (auto& x : t) x = -1;
  for (int i = 0; i < 64; ++i) {
    if (standard) t[static_cast<uint8_t>(kStd[i])] = static_cast<int8_t>(i);
    if (url) t[static_cast<uint8_t>(kUrl[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr DecodeTable kDecodeStd = MakeDecodeTable(true, false);
constexpr DecodeTable kDecodeUrl = MakeDecodeTable(false, true);
constexpr DecodeTable kDecodeEither = MakeDecodeTable(true, true);

const DecodeTable& TableFor(Base64Alphabet alphabet) {
  switch (alphabet) {
    case Base64Alphabet::kStandard:
      return kDecodeStd;
    case Base64Alphabet::kUrl:
      return kDecodeUrl;
    case Base64Alphabet::kEither:
      break;
  }
  return kDecodeEither;
}

}  // namespace

void Base64Encode(std::string_view data, std::string* out) { Encode(data, out, kStd, true); }
void Base64UrlEncode(std::string_view data, std::string* out) { Encode(data, out, kUrl, false); }

std::optional<std::string> Base64Decode(std::string_view text, const Base64Rules& rules) {
  size_t n = text.size();
  while (n > 0 && text[n - 1] == '=') --n;
  const size_t padding = text.size() - n;
  if (padding > 2 || n % 4 == 1) return std::nullopt;
  if (padding > 0 && text.size() % 4 != 0) return std::nullopt;  // padding but wrong length
  if (rules.padding == Base64Padding::kForbidden && padding > 0) return std::nullopt;
  if (rules.padding == Base64Padding::kRequired && text.size() % 4 != 0) return std::nullopt;
  const DecodeTable& table = TableFor(rules.alphabet);
  std::string out;
  out.reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    int8_t v = table[static_cast<uint8_t>(text[i])];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (rules.canonical && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace cairn
