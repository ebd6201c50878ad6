#include "shell/format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "base/base64.h"
#include "base/hex.h"
#include "base/json_writer.h"

namespace cairn::shell {
namespace {

struct Range {
  char32_t lo, hi;
};

bool InRanges(char32_t cp, const Range* ranges, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (cp >= ranges[i].lo && cp <= ranges[i].hi) return true;
  }
  return false;
}

int CodePointWidth(char32_t cp) {
  static constexpr Range kZero[] = {
      {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A}, {0x064B, 0x065F},
      {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x2064},
      {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF},
  };
  static constexpr Range kWide[] = {
      {0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
      {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
      {0xFE30, 0xFE4F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
      {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
  };
  if (InRanges(cp, kZero, std::size(kZero))) return 0;
  if (InRanges(cp, kWide, std::size(kWide))) return 2;
  return 1;
}

bool IsNumber(const Value& v) {
  return v.type == Value::Type::kInteger || v.type == Value::Type::kFloat;
}

void AppendPadded(std::string_view text, size_t width, bool right, std::string* out) {
  size_t pad = width - std::min(width, DisplayWidth(text));
  if (right) out->append(pad, ' ');
  out->append(text);
  if (!right) out->append(pad, ' ');
}

}  // namespace

size_t DisplayWidth(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {  // not UTF-8: one column per byte
      ++width;
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? b : b & (0x7F >> len);
    bool valid = true;
    for (size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c >> 6) != 2) valid = false;
      cp = (cp << 6) | (c & 0x3F);
    }
    if (!valid) {
      ++width;
      ++i;
      continue;
    }
    width += CodePointWidth(cp);
    i += len;
  }
  return width;
}

std::string FormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that round-trips
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string DisplayValue(const Value& v) {
  switch (v.type) {
    case Value::Type::kNull:
      return "NULL";
    case Value::Type::kInteger:
      return std::to_string(v.integer);
    case Value::Type::kFloat:
      return FormatFloat(v.real);
    case Value::Type::kText: {
      std::string out;
      out.reserve(v.bytes.size());
      for (unsigned char c : v.bytes) {
        if (c == '\n') {
          out += "\\n";
        } else if (c == '\t') {
          out += "\\t";
        } else if (c == '\r') {
          out += "\\r";
        } else if (c < 0x20 || c == 0x7F) {
          out += "\\x";
          out.push_back(HexDigit(c >> 4, HexCase::kUpper));
          out.push_back(HexDigit(c, HexCase::kUpper));
        } else {
          out.push_back(static_cast<char>(c));
        }
      }
      return out;
    }
    case Value::Type::kBlob: {
      std::string out = "X'";
      bool truncated = v.bytes.size() > kBlobDisplayBytes;
      AppendHex(std::string_view(v.bytes).substr(0, kBlobDisplayBytes), &out, HexCase::kUpper);
      out += "'";
      if (truncated) out += "... (" + std::to_string(v.bytes.size()) + " bytes)";
      return out;
    }
  }
  return {};
}

void RenderTable(const StmtResult& result, std::string* out) {
  const size_t ncols = result.columns.size();
  if (ncols == 0) return;
  std::vector<std::vector<std::string>> cells;
  cells.reserve(result.rows.size());
  std::vector<size_t> width(ncols);
  for (size_t c = 0; c < ncols; ++c) width[c] = DisplayWidth(result.columns[c].name);
  for (const auto& row : result.rows) {
    auto& line = cells.emplace_back();
    for (size_t c = 0; c < ncols; ++c) {
      line.push_back(c < row.size() ? DisplayValue(row[c]) : std::string());
      width[c] = std::max(width[c], DisplayWidth(line.back()));
    }
  }
  std::string rule = "+";
  for (size_t w : width) rule.append(w + 2, '-').push_back('+');
  rule.push_back('\n');

  out->append(rule);
  out->push_back('|');
  for (size_t c = 0; c < ncols; ++c) {
    out->push_back(' ');
    AppendPadded(result.columns[c].name, width[c], false, out);
    out->append(" |");
  }
  out->push_back('\n');
  out->append(rule);
  for (size_t r = 0; r < cells.size(); ++r) {
    out->push_back('|');
    for (size_t c = 0; c < ncols; ++c) {
      bool right = c < result.rows[r].size() && IsNumber(result.rows[r][c]);
      out->push_back(' ');
      AppendPadded(cells[r][c], width[c], right, out);
      out->append(" |");
    }
    out->push_back('\n');
  }
  if (!cells.empty()) out->append(rule);
}

void RenderJsonRows(const StmtResult& result, std::string* out) {
  for (const auto& row : result.rows) {
    JsonWriter w(out);
    w.BeginObject();
    for (size_t c = 0; c < result.columns.size() && c < row.size(); ++c) {
      w.Key(result.columns[c].name);
      const Value& v = row[c];
      switch (v.type) {
        case Value::Type::kNull:
          w.Null();
          break;
        case Value::Type::kInteger:
          w.Int(v.integer);
          break;
        case Value::Type::kFloat:
          w.Double(v.real);
          break;
        case Value::Type::kText:
          w.String(v.bytes);
          break;
        case Value::Type::kBlob: {
          std::string b64;
          Base64Encode(v.bytes, &b64);
          w.String(b64);
          break;
        }
      }
    }
    w.EndObject();
    out->push_back('\n');
  }
}

void RenderNameGrid(const std::vector<std::string>& names, size_t line_width, std::string* out) {
  if (names.empty()) return;
  size_t widest = 0;
  for (const auto& n : names) widest = std::max(widest, DisplayWidth(n));
  const size_t cell = widest + 2;
  const size_t per_line = std::max<size_t>(1, (line_width + 2) / cell);
  for (size_t i = 0; i < names.size(); ++i) {
    bool last_in_line = (i + 1) % per_line == 0 || i + 1 == names.size();
    if (last_in_line) {
      out->append(names[i]).push_back('\n');
    } else {
      AppendPadded(names[i], cell, false, out);
    }
  }
}

std::string SqlLiteral(const Value& v) {
  switch (v.type) {
    case Value::Type::kNull:
      return "NULL";
    case Value::Type::kInteger:
      return std::to_string(v.integer);
    case Value::Type::kFloat:
      if (std::isnan(v.real)) return "NULL";
      if (std::isinf(v.real)) return v.real > 0 ? "1e999" : "-1e999";
      return FormatFloat(v.real);
    case Value::Type::kText: {
      std::string out;
      if (v.bytes.find('\0') != std::string::npos) {
        out = "CAST(X'";
        AppendHex(v.bytes, &out, HexCase::kUpper);
        out += "' AS TEXT)";
        return out;
      }
      out.reserve(v.bytes.size() + 2);
      out.push_back('\'');
      for (char c : v.bytes) {
        if (c == '\'') out.push_back('\'');
        out.push_back(c);
      }
      out.push_back('\'');
      return out;
    }
    case Value::Type::kBlob: {
      std::string out = "X'";
      AppendHex(v.bytes, &out, HexCase::kUpper);
      out.push_back('\'');
      return out;
    }
  }
  return "NULL";
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace cairn::shell
