#include "vector/format.h"

#include <bit>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace cairn::vector {
namespace {

size_t AlignUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

std::string Format(const char* fmt, long long a, long long b = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, a, b);
  return buf;
}

}  // namespace

float LoadF32(const unsigned char* p) {
  uint32_t u = uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
  return std::bit_cast<float>(u);
}

void StoreF32(unsigned char* p, float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  p[0] = static_cast<unsigned char>(u);
  p[1] = static_cast<unsigned char>(u >> 8);
  p[2] = static_cast<unsigned char>(u >> 16);
  p[3] = static_cast<unsigned char>(u >> 24);
}

namespace {

double LoadF64(const unsigned char* p) {
  uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = u << 8 | p[i];
  return std::bit_cast<double>(u);
}

void StoreF64(unsigned char* p, double d) {
  uint64_t u = std::bit_cast<uint64_t>(d);
  for (int i = 0; i < 8; ++i, u >>= 8) p[i] = static_cast<unsigned char>(u);
}

uint16_t LoadU16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

}  // namespace

uint16_t FloatToHalf(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const int exp = static_cast<int>((x >> 23) & 0xff);
  uint32_t man = x & 0x7fffff;
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00 | (man != 0 ? 0x200 : 0));
  int e = exp - 127 + 15;  // rebias
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00);  // overflow: infinity
  if (e <= 0) {
    if (e < -10) return sign;  // below the smallest subnormal: zero
    man |= 0x800000;           // the implicit bit becomes explicit in a subnormal
    const int shift = 14 - e;  // 13 for the mantissa width plus 1 - e for the subnormal scale
    uint32_t half = man >> shift;
    const uint32_t rest = man & ((1u << shift) - 1);
    const uint32_t mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = static_cast<uint32_t>(e) << 10 | man >> 13;
  const uint32_t rest = man & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;  // may carry into the exponent
  return static_cast<uint16_t>(sign | half);
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const int exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000 | man << 13);
  if (exp == 0) {
    if (man == 0) return std::bit_cast<float>(sign);
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign != 0 ? -v : v;
  }
  return std::bit_cast<float>(sign | static_cast<uint32_t>(exp - 15 + 127) << 23 | man << 13);
}

uint16_t FloatToBF16(float f) { return static_cast<uint16_t>(std::bit_cast<uint32_t>(f) >> 16); }
float BF16ToFloat(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

const char* TypeName(VectorType t) {
  switch (t) {
    case VectorType::kF32: return "float32";
    case VectorType::kF64: return "float64";
    case VectorType::k1Bit: return "float1bit";
    case VectorType::kF8: return "float8";
    case VectorType::kF16: return "float16";
    case VectorType::kBF16: return "floatb16";
  }
  return "unknown";
}

bool ParseBlobMeta(std::string_view blob, VectorType* type, uint32_t* dims, std::string* error) {
  size_t n = blob.size();
  const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
  if (n % 2 == 0) {
    *type = VectorType::kF32;
    if (n % 4 != 0) {
      *error = Format("vector: float32 vector blob length must be divisible by 4: length=%lld",
                      static_cast<long long>(n));
      return false;
    }
    *dims = static_cast<uint32_t>(n / 4);
  } else {
    const unsigned char t = b[n - 1];
    --n;
    switch (t) {
      case 1:
        if (n % 4 != 0) {
          *error = Format("vector: float32 vector blob length must be divisible by 4 (excluding "
                          "optional 'type'-byte): length=%lld", static_cast<long long>(n));
          return false;
        }
        *type = VectorType::kF32;
        *dims = static_cast<uint32_t>(n / 4);
        break;
      case 2:
        if (n % 8 != 0) {
          *error = Format("vector: float64 vector blob length must be divisible by 8 (excluding "
                          "'type'-byte): length=%lld", static_cast<long long>(n));
          return false;
        }
        *type = VectorType::kF64;
        *dims = static_cast<uint32_t>(n / 8);
        break;
      case 3: {
        if (n == 0 || n % 2 != 0) {
          *error = Format("vector: float1bit vector blob length must be divisible by 2 and not be "
                          "empty (excluding 'type'-byte): length=%lld", static_cast<long long>(n));
          return false;
        }
        const size_t trailing = b[n - 1];
        if (trailing > n * 8) {
          *error = "vector: float1bit vector blob has a malformed trailer";
          return false;
        }
        *type = VectorType::k1Bit;
        *dims = static_cast<uint32_t>(n * 8 - trailing);
        // The data must fit before the trailer (and its optional pad byte).
        if ((*dims + 7) / 8 > n - 1) {
          *error = "vector: float1bit vector blob has a malformed trailer";
          return false;
        }
        break;
      }
      case 4: {
        if (n < 2 || n % 2 != 0) {
          *error = Format("vector: float8 vector blob length must be divisible by 2 and has at "
                          "least 2 bytes (excluding 'type'-byte): length=%lld",
                          static_cast<long long>(n));
          return false;
        }
        const size_t trailing = b[n - 1];
        if (n - 2 < 8 + trailing || (n - 2 - 8) % 4 != 0) {
          *error = "vector: float8 vector blob has a malformed trailer";
          return false;
        }
        *type = VectorType::kF8;
        *dims = static_cast<uint32_t>(n - 2 - 8 - trailing);
        break;
      }
      case 5:
      case 6:
        if (n % 2 != 0) {
          *error = std::string("vector: ") + (t == 5 ? "float16" : "floatb16") +
                   " vector blob length must be divisible by 2 (excluding 'type'-byte): length=" +
                   std::to_string(n);
          return false;
        }
        *type = t == 5 ? VectorType::kF16 : VectorType::kBF16;
        *dims = static_cast<uint32_t>(n / 2);
        break;
      default:
        *error = Format("vector: unexpected binary type: %lld", t);
        return false;
    }
  }
  if (*dims > kMaxDims) {
    *error = Format("vector: max size exceeded: %lld > %lld", *dims, kMaxDims);
    return false;
  }
  return true;
}

bool DecodeBlob(std::string_view blob, Vector* out, std::string* error) {
  uint32_t dims = 0;
  VectorType type;
  if (!ParseBlobMeta(blob, &type, &dims, error)) return false;
  const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
  out->type = type;
  out->values.resize(dims);
  double* v = out->values.data();
  switch (type) {
    case VectorType::kF32:
      for (uint32_t i = 0; i < dims; ++i) v[i] = LoadF32(b + 4 * i);
      break;
    case VectorType::kF64:
      for (uint32_t i = 0; i < dims; ++i) v[i] = LoadF64(b + 8 * i);
      break;
    case VectorType::kF16:
      for (uint32_t i = 0; i < dims; ++i) v[i] = HalfToFloat(LoadU16(b + 2 * i));
      break;
    case VectorType::kBF16:
      for (uint32_t i = 0; i < dims; ++i) v[i] = BF16ToFloat(LoadU16(b + 2 * i));
      break;
    case VectorType::k1Bit:
      for (uint32_t i = 0; i < dims; ++i) v[i] = (b[i / 8] >> (i & 7) & 1) ? 1.0 : -1.0;
      break;
    case VectorType::kF8: {
      const size_t off = AlignUp(dims, 4);
      const float alpha = LoadF32(b + off), shift = LoadF32(b + off + 4);
      for (uint32_t i = 0; i < dims; ++i) v[i] = static_cast<float>(alpha * b[i] + shift);
      break;
    }
  }
  return true;
}

bool ParseText(std::string_view text, bool as_f64, Vector* out, std::string* error) {
  out->type = as_f64 ? VectorType::kF64 : VectorType::kF32;
  out->values.clear();
  size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  };
  skip();
  if (i >= text.size() || text[i] != '[') {
    *error = "vector: must start with '['";
    return false;
  }
  ++i;
  skip();
  if (i < text.size() && text[i] == ']') {
    ++i;
  } else {
    for (size_t n = 0;; ++n) {  // bounded: every pass consumes at least one character
      skip();
      const size_t start = i;
      while (i < text.size() && text[i] != ',' && text[i] != ']' &&
             !std::isspace(static_cast<unsigned char>(text[i])))
        ++i;
      std::string token(text.substr(start, i - start));
      skip();
      char* end = nullptr;
      const double d = token.empty() ? 0 : std::strtod(token.c_str(), &end);
      if (token.empty() || end != token.c_str() + token.size() ||
          (i < text.size() && text[i] != ',' && text[i] != ']')) {
        *error = "vector: invalid float at position " + std::to_string(n) + ": '" + token + "'";
        return false;
      }
      if (out->values.size() >= kMaxDims) {
        *error = "vector: max size exceeded " + std::to_string(kMaxDims);
        return false;
      }
      out->values.push_back(as_f64 ? d : static_cast<double>(static_cast<float>(d)));
      if (i >= text.size()) {
        *error = "vector: must end with ']'";
        return false;
      }
      if (text[i++] == ']') break;
    }
  }
  skip();
  if (i != text.size()) {
    *error = "vector: non-space symbols after closing ']' are forbidden";
    return false;
  }
  return true;
}

std::string Encode(VectorType type, const std::vector<double>& values) {
  const size_t d = values.size();
  std::string out;
  switch (type) {
    case VectorType::kF32:
      out.resize(4 * d);
      for (size_t i = 0; i < d; ++i)
        StoreF32(reinterpret_cast<unsigned char*>(&out[4 * i]), static_cast<float>(values[i]));
      break;
    case VectorType::kF64:
      out.resize(8 * d + 1);
      for (size_t i = 0; i < d; ++i)
        StoreF64(reinterpret_cast<unsigned char*>(&out[8 * i]), values[i]);
      out[8 * d] = 2;
      break;
    case VectorType::kF16:
    case VectorType::kBF16:
      out.resize(2 * d + 1);
      for (size_t i = 0; i < d; ++i) {
        const float f = static_cast<float>(values[i]);
        const uint16_t h = type == VectorType::kF16 ? FloatToHalf(f) : FloatToBF16(f);
        out[2 * i] = static_cast<char>(h & 0xff);
        out[2 * i + 1] = static_cast<char>(h >> 8);
      }
      out[2 * d] = static_cast<char>(type);
      break;
    case VectorType::k1Bit: {
      const size_t data = (d + 7) / 8;
      const size_t pad = data % 2 == 0 ? 1 : 0;
      out.assign(data + pad + 2, '\0');
      for (size_t i = 0; i < d; ++i)
        if (values[i] > 0) out[i / 8] = static_cast<char>(out[i / 8] | (1 << (i & 7)));
      out[data + pad] = static_cast<char>(8 * (data + pad + 1) - d);
      out[data + pad + 1] = 3;
      break;
    }
    case VectorType::kF8: {
      const size_t data = AlignUp(d, 4);
      out.assign(data + 8 + 3, '\0');
      float lo = 0, hi = 0;
      for (size_t i = 0; i < d; ++i) {
        const float f = static_cast<float>(values[i]);
        if (i == 0 || f < lo) lo = f;
        if (i == 0 || f > hi) hi = f;
      }
      const float alpha = (hi - lo) / 255;
      for (size_t i = 0; i < d; ++i) {
        float q = alpha > 0 ? (static_cast<float>(values[i]) - lo) / alpha : 0;
        int qi = q < 0 ? 0 : q > 255 ? 255 : static_cast<int>(q + 0.5f);
        out[i] = static_cast<char>(qi);
      }
      StoreF32(reinterpret_cast<unsigned char*>(&out[data]), alpha);
      StoreF32(reinterpret_cast<unsigned char*>(&out[data + 4]), lo);
      out[data + 8] = 0;
      out[data + 9] = static_cast<char>(data - d);
      out[data + 10] = 4;
      break;
    }
  }
  return out;
}

std::string ToText(const Vector& v) {
  std::string out = "[";
  char buf[64];
  for (size_t i = 0; i < v.values.size(); ++i) {
    if (i > 0) out.push_back(',');
    const double x = v.type == VectorType::kF64 ? v.values[i]
                                                : static_cast<double>(static_cast<float>(v.values[i]));
    std::snprintf(buf, sizeof buf, "%g", x);
    out += buf;
  }
  out.push_back(']');
  return out;
}

}  // namespace cairn::vector
