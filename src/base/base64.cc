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

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& x : t) x = -1;
  for (int i = 0; i < 64; ++i) {
    t[static_cast<uint8_t>(kStd[i])] = static_cast<int8_t>(i);
    t[static_cast<uint8_t>(kUrl[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr auto kDecode = MakeDecodeTable();

}  // namespace

void Base64Encode(std::string_view data, std::string* out) { Encode(data, out, kStd, true); }
void Base64UrlEncode(std::string_view data, std::string* out) { Encode(data, out, kUrl, false); }

std::optional<std::string> Base64Decode(std::string_view text) {
  size_t n = text.size();
  while (n > 0 && text[n - 1] == '=') --n;
  if (text.size() - n > 2 || n % 4 == 1) return std::nullopt;
  if (text.size() % 4 != 0 && n != text.size()) return std::nullopt;  // padding but wrong length
  std::string out;
  out.reserve(n / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    int8_t v = kDecode[static_cast<uint8_t>(text[i])];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace cairn
