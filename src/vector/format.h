// Vector values as libSQL stores them in blobs, and their text form.
//
// A vector is a blob whose last byte names its type, except f32, whose blob has no trailer (every
// even-length blob is f32). Layouts (D = dimensions, all numbers little-endian; docs/vector.md):
//
//   f32   4·D bytes                                   (an optional trailing type byte 01)
//   f64   8·D bytes, 02
//   f16   2·D bytes (IEEE half), 05
//   bf16  2·D bytes (upper half of the f32), 06
//   f8    ⌈D/4⌉·4 bytes q[i], f32 alpha, f32 shift, 00, ⌈D/4⌉·4−D, 04     x[i] ≈ alpha·q[i] + shift
//   1bit  ⌈D/8⌉ bytes (bit i = x[i] > 0, LSB first), [00 if ⌈D/8⌉ is even], 8·(bytes so far)−D, 03
//
// These constants are a file format shared with libSQL: they must never change.
//
// Everything here is pure computation on bytes: no SQLite, no allocation beyond the results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::vector {

enum class VectorType : uint8_t {
  kF32 = 1,
  kF64 = 2,
  k1Bit = 3,
  kF8 = 4,
  kF16 = 5,
  kBF16 = 6,
};

inline constexpr uint32_t kMaxDims = 65536;  // libSQL's limit

// A vector decoded to numbers. f64 vectors keep double precision; every other type is widened
// from its element type (so the values are exactly what the blob holds).
struct Vector {
  VectorType type = VectorType::kF32;
  std::vector<double> values;
  uint32_t dims() const { return static_cast<uint32_t>(values.size()); }
};

// The type and dimension count a blob encodes. False (and *error set, with libSQL's wording) when
// the blob is not a well-formed vector.
bool ParseBlobMeta(std::string_view blob, VectorType* type, uint32_t* dims, std::string* error);

// Decodes a blob (any type). False with *error when malformed.
bool DecodeBlob(std::string_view blob, Vector* out, std::string* error);

// Parses libSQL's text form "[1, 2.5, -3e4]" (whitespace allowed, "[]" is empty). Values are
// rounded to f32 unless `as_f64`. False with *error when malformed.
bool ParseText(std::string_view text, bool as_f64, Vector* out, std::string* error);

// Encodes values as `type` (converting: f8 quantises with min/max, 1bit keeps the sign).
std::string Encode(VectorType type, const std::vector<double>& values);

// libSQL's text form of a vector: "[v0,v1,...]" with each value printed as "%g" (f64 vectors in
// double precision, every other type through f32).
std::string ToText(const Vector& v);

// IEEE half precision <-> float, round to nearest even; NaN and infinities are kept.
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);
// bfloat16 as libSQL writes it: the upper 16 bits of the f32 (truncation).
uint16_t FloatToBF16(float f);
float BF16ToFloat(uint16_t h);

// The name libSQL's messages use for a type ("float32", ...).
const char* TypeName(VectorType t);

// Little-endian f32 access to possibly unaligned bytes.
float LoadF32(const unsigned char* p);
void StoreF32(unsigned char* p, float f);

}  // namespace cairn::vector
