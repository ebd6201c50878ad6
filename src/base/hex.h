// Hexadecimal: bytes written as two digits each (checksums, blob literals, percent-escapes, names
// made of random bits), and the value of a digit read back.
//
// Thread-safety: plain functions without state; call them from any thread.
#pragma once

#include <string>
#include <string_view>

namespace cairn {

// The letters a-f or A-F.
enum class HexCase { kLower, kUpper };

// The digit for the low four bits of `v`.
constexpr char HexDigit(unsigned v, HexCase letters = HexCase::kLower) {
  return (letters == HexCase::kLower ? "0123456789abcdef" : "0123456789ABCDEF")[v & 15];
}

// The value of the hex digit `c` (either case), or -1 when it is not one.
constexpr int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends two digits per byte of `bytes` to `out`, the high four bits first.
void AppendHex(std::string_view bytes, std::string* out, HexCase letters = HexCase::kLower);

// `bytes` in hex, two digits per byte, the high four bits first.
std::string Hex(std::string_view bytes, HexCase letters = HexCase::kLower);

}  // namespace cairn
