// The scalar SQL functions: constructors, vector_extract and the two distances.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "vector/distance.h"
#include "vector/format.h"
#include "vector/internal.h"
#include "vector/sqlite_api.h"

namespace cairn::vector {
namespace {

void ResultError(sqlite3_context* ctx, const std::string& msg) {
  sqlite3_result_error(ctx, msg.c_str(), static_cast<int>(msg.size()));
}

// Target type of a constructor, stored as the function's user data.
void* TypeTag(VectorType t) { return reinterpret_cast<void*>(static_cast<uintptr_t>(t)); }

void Constructor(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const auto target = static_cast<VectorType>(reinterpret_cast<uintptr_t>(sqlite3_user_data(ctx)));
  Vector v;
  std::string err;
  if (!ValueToVector(argv[0], target == VectorType::kF64, &v, &err)) return ResultError(ctx, err);
  const std::string blob = Encode(target, v.values);
  sqlite3_result_blob(ctx, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
}

void Extract(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  Vector v;
  std::string err;
  if (!ValueToVector(argv[0], false, &v, &err)) return ResultError(ctx, err);
  const std::string text = ToText(v);
  sqlite3_result_text(ctx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

enum class Fn { kCos, kL2 };

// Copies an f32 blob's values into `out` (blobs need not be aligned).
void F32Values(sqlite3_value* v, uint32_t dims, std::vector<float>* out) {
  out->resize(dims);
  if (dims > 0) std::memcpy(out->data(), sqlite3_value_blob(v), size_t{dims} * 4);
}

void Distance(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const Fn fn = sqlite3_user_data(ctx) == nullptr ? Fn::kCos : Fn::kL2;
  VectorType t[2];
  uint32_t d[2];
  std::string err;
  for (int i = 0; i < 2; ++i)
    if (!ValueMeta(argv[i], &t[i], &d[i], &err)) return ResultError(ctx, err);
  if (t[0] != t[1])
    return ResultError(ctx, "vector_distance: vectors must have the same type: " +
                                std::to_string(static_cast<int>(t[0])) +
                                " != " + std::to_string(static_cast<int>(t[1])));
  if (d[0] != d[1])
    return ResultError(ctx, "vector_distance: vectors must have the same length: " +
                                std::to_string(d[0]) + " != " + std::to_string(d[1]));
  if (fn == Fn::kL2 && t[0] == VectorType::k1Bit)
    return ResultError(ctx, "vector_distance: l2 distance is not supported for float1bit vectors");
  const uint32_t dims = d[0];
  // The hot path (exact search over f32 columns): SIMD kernels on the blobs themselves.
  if (t[0] == VectorType::kF32 && sqlite3_value_type(argv[0]) == SQLITE_BLOB &&
      sqlite3_value_type(argv[1]) == SQLITE_BLOB) {
    thread_local std::vector<float> a, b;
    F32Values(argv[0], dims, &a);
    F32Values(argv[1], dims, &b);
    if (fn == Fn::kL2) return sqlite3_result_double(ctx, std::sqrt(L2SquaredF32(a.data(), b.data(), dims)));
    const float dot = DotF32(a.data(), b.data(), dims);
    const float na = DotF32(a.data(), a.data(), dims), nb = DotF32(b.data(), b.data(), dims);
    return sqlite3_result_double(ctx, 1.0 - dot / std::sqrt(double{na} * nb));
  }
  Vector x, y;
  if (!ValueToVector(argv[0], false, &x, &err) || !ValueToVector(argv[1], false, &y, &err))
    return ResultError(ctx, err);
  if (t[0] == VectorType::k1Bit) {  // libSQL: "cosine" of sign vectors is their Hamming distance
    int diff = 0;
    for (uint32_t i = 0; i < dims; ++i) diff += (x.values[i] > 0) != (y.values[i] > 0);
    return sqlite3_result_double(ctx, diff);
  }
  double dot = 0, nx = 0, ny = 0, l2 = 0;
  for (uint32_t i = 0; i < dims; ++i) {
    const double a = x.values[i], b = y.values[i];
    dot += a * b;
    nx += a * a;
    ny += b * b;
    l2 += (a - b) * (a - b);
  }
  if (fn == Fn::kL2) return sqlite3_result_double(ctx, std::sqrt(l2));
  sqlite3_result_double(ctx, 1.0 - dot / std::sqrt(nx * ny));
}

}  // namespace

bool ValueMeta(sqlite3_value* v, VectorType* type, uint32_t* dims, std::string* error) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_BLOB: {
      const void* p = sqlite3_value_blob(v);
      const int n = sqlite3_value_bytes(v);
      return ParseBlobMeta({static_cast<const char*>(p), static_cast<size_t>(n)}, type, dims, error);
    }
    case SQLITE_TEXT: {
      Vector parsed;
      if (!ValueToVector(v, false, &parsed, error)) return false;
      *type = VectorType::kF32;
      *dims = parsed.dims();
      return true;
    }
    default:
      *error = std::string("vector: unexpected value type: got ") + ValueTypeName(v) +
               ", expected TEXT or BLOB";
      return false;
  }
}

bool ValueToVector(sqlite3_value* v, bool text_as_f64, Vector* out, std::string* error) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_BLOB: {
      const void* p = sqlite3_value_blob(v);
      const int n = sqlite3_value_bytes(v);
      return DecodeBlob({static_cast<const char*>(p), static_cast<size_t>(n)}, out, error);
    }
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(v));
      const int n = sqlite3_value_bytes(v);
      return ParseText({p ? p : "", static_cast<size_t>(n)}, text_as_f64, out, error);
    }
    default:
      *error = std::string("vector: unexpected value type: got ") + ValueTypeName(v) +
               ", expected TEXT or BLOB";
      return false;
  }
}

const char* ValueTypeName(sqlite3_value* v) {
  switch (sqlite3_value_type(v)) {
    case SQLITE_NULL: return "NULL";
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "FLOAT";
    case SQLITE_BLOB: return "BLOB";
    case SQLITE_TEXT: return "TEXT";
  }
  return "UNKNOWN";
}

int RegisterFunctions(sqlite3* db) {
  constexpr int kPure = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  struct Ctor {
    const char* name;
    VectorType type;
  };
  const Ctor ctors[] = {{"vector", VectorType::kF32},     {"vector32", VectorType::kF32},
                        {"vector64", VectorType::kF64},   {"vector16", VectorType::kF16},
                        {"vectorb16", VectorType::kBF16}, {"vector8", VectorType::kF8},
                        {"vector1bit", VectorType::k1Bit}};
  for (const Ctor& c : ctors) {
    int rc = sqlite3_create_function_v2(db, c.name, 1, kPure, TypeTag(c.type), Constructor, nullptr,
                                        nullptr, nullptr);
    if (rc != SQLITE_OK) return rc;
  }
  int rc = sqlite3_create_function_v2(db, "vector_extract", 1, kPure, nullptr, Extract, nullptr,
                                      nullptr, nullptr);
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2(db, "vector_distance_cos", 2, kPure, nullptr, Distance,
                                    nullptr, nullptr, nullptr);
  static int l2_tag;
  if (rc == SQLITE_OK)
    rc = sqlite3_create_function_v2(db, "vector_distance_l2", 2, kPure, &l2_tag, Distance, nullptr,
                                    nullptr, nullptr);
  return rc;
}

}  // namespace cairn::vector
