#include "base/hex.h"

namespace cairn {

void AppendHex(std::string_view bytes, std::string* out, HexCase letters) {
  out->reserve(out->size() + bytes.size() * 2);
  for (const char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out->push_back(HexDigit(b >> 4, letters));
    out->push_back(HexDigit(b, letters));
  }
}

std::string Hex(std::string_view bytes, HexCase letters) {
  std::string out;
  AppendHex(bytes, &out, letters);
  return out;
}

}  // namespace cairn
