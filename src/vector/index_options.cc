// What a vector index is asked to be: the arguments of `libsql_vector_index(table, column,
// 'key=value', ...)` and the vector column types (F32_BLOB(3), ...) it can index.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "vector/internal.h"

namespace cairn::vector {

bool ParseColumnType(std::string_view decl, VectorType* type, uint32_t* dims) {
  std::string d = Lower(Trim(decl));
  std::string base;
  size_t i = 0;
  while (i < d.size() && (std::isalnum(static_cast<unsigned char>(d[i])) || d[i] == '_'))
    base.push_back(d[i++]);
  struct Name {
    const char* name;
    VectorType type;
  };
  static const Name kNames[] = {
      {"f32_blob", VectorType::kF32},    {"float32", VectorType::kF32},
      {"f64_blob", VectorType::kF64},    {"float64", VectorType::kF64},
      {"f16_blob", VectorType::kF16},    {"float16", VectorType::kF16},
      {"fb16_blob", VectorType::kBF16},  {"floatb16", VectorType::kBF16},
      {"f8_blob", VectorType::kF8},      {"float8", VectorType::kF8},
      {"f1bit_blob", VectorType::k1Bit}, {"float1bit", VectorType::k1Bit}};
  bool known = false;
  for (const Name& n : kNames)
    if (base == n.name) {
      *type = n.type;
      known = true;
    }
  if (!known) return false;
  while (i < d.size() && d[i] == ' ') ++i;
  if (i >= d.size() || d[i] != '(') return false;
  ++i;
  uint64_t n = 0;
  size_t digits = 0;
  while (i < d.size() && std::isdigit(static_cast<unsigned char>(d[i])) && digits < 10) {
    n = n * 10 + static_cast<uint64_t>(d[i++] - '0');
    ++digits;
  }
  while (i < d.size() && d[i] == ' ') ++i;
  if (digits == 0 || i >= d.size() || d[i] != ')' || n == 0 || n > kMaxDims) return false;
  *dims = static_cast<uint32_t>(n);
  return true;
}

bool ParseIndexOptions(const std::vector<std::string>& args, IndexOptions* out,
                       std::string* error) {
  if (args.size() < 2) {
    *error = "libsql_vector_index: expected (table, column, 'key=value', ...)";
    return false;
  }
  out->table = Dequote(args[0]);
  out->column = Dequote(args[1]);
  if (out->table.empty() || out->column.empty()) {
    *error = "libsql_vector_index: table and column must be named";
    return false;
  }
  GraphParams& g = out->graph;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string opt = Dequote(args[i]);
    const size_t eq = opt.find('=');
    if (eq == std::string::npos) {
      *error = "vector index: parameter must be 'key=value': " + opt;
      return false;
    }
    const std::string key = Lower(Trim(opt.substr(0, eq)));
    const std::string value = Lower(Trim(opt.substr(eq + 1)));
    auto number = [&](double lo, double hi, double* v) {
      char* end = nullptr;
      *v = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !(*v >= lo && *v <= hi)) {
        *error = "vector index: invalid value for " + key + ": " + value;
        return false;
      }
      return true;
    };
    double v = 0;
    if (key == "type") {
      if (value != "diskann") {
        *error = "vector index: unsupported type: " + value;
        return false;
      }
    } else if (key == "metric") {
      if (value == "cosine" || value == "cos")
        g.metric = Metric::kCosine;
      else if (value == "l2")
        g.metric = Metric::kL2;
      else {
        *error = "vector index: unsupported metric: " + value;
        return false;
      }
    } else if (key == "compress_neighbors") {
      // float16/floatb16 compress nothing worth a second format: stored as float32.
      if (value == "float32" || value == "float16" || value == "floatb16")
        g.storage = Storage::kF32;
      else if (value == "float8")
        g.storage = Storage::kI8;
      else if (value == "float1bit")
        g.storage = Storage::k1Bit;
      else {
        *error = "vector index: unsupported compress_neighbors: " + value;
        return false;
      }
    } else if (key == "max_neighbors") {
      if (!number(2, 256, &v) || std::floor(v) != v) return false;
      g.max_neighbors = static_cast<uint32_t>(v);
    } else if (key == "search_l") {
      if (!number(1, 10000, &v) || std::floor(v) != v) return false;
      g.search_l = static_cast<uint32_t>(v);
    } else if (key == "insert_l") {
      if (!number(1, 10000, &v) || std::floor(v) != v) return false;
      g.insert_l = static_cast<uint32_t>(v);
    } else if (key == "alpha") {
      if (!number(1, 4, &v)) return false;
      g.alpha = static_cast<float>(v);
    } else {
      *error = "vector index: unexpected parameter key: " + key;
      return false;
    }
  }
  return true;
}

}  // namespace cairn::vector
