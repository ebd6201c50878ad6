// Text renderings of query results for people (aligned tables), for programs (JSON lines) and for
// SQLite itself (.dump literals and identifiers).
//
// Pure functions over sql_client.h values, with no I/O. Thread-safety: stateless; safe anywhere.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "shell/sql_client.h"

namespace cairn::shell {

// Blobs longer than this many bytes are shown truncated in tables.
inline constexpr size_t kBlobDisplayBytes = 16;

// Terminal columns taken by UTF-8 text: combining marks and zero-width characters take none,
// East Asian wide characters and emoji take two, everything else one. Invalid bytes count one each.
size_t DisplayWidth(std::string_view utf8);

// The shortest text that reads back as the same double, always with a '.' or exponent so SQLite
// reads it as REAL ("1.0", "0.1", "1e+300").
std::string FormatFloat(double v);

// A value as shown in a table cell: NULL, numbers, text with control characters escaped (\n, \t,
// \xHH) so rows stay on one line, blobs as X'hex' (longer ones truncated with their size).
std::string DisplayValue(const Value& v);

// Appends an ASCII table: a header row and one line per row, columns padded to the widest cell,
// numbers right-aligned. Appends nothing for a result without columns.
void RenderTable(const StmtResult& result, std::string* out);

// Appends one JSON object per row, one per line: column names as keys, integers and floats as JSON
// numbers, text as strings, blobs as base64 strings, NULL as null.
void RenderJsonRows(const StmtResult& result, std::string* out);

// Appends `names` laid out in columns, left to right then down, within `line_width` columns.
void RenderNameGrid(const std::vector<std::string>& names, size_t line_width, std::string* out);

// A value as an SQL literal that reads back as the same value and type: NULL, integers, floats
// via FormatFloat (infinities as 1e999/-1e999, NaN as NULL), 'text' with quotes doubled (text
// holding NUL bytes as CAST(X'..' AS TEXT)), blobs as X'HEX'.
std::string SqlLiteral(const Value& v);

// An identifier in double quotes, inner quotes doubled: always safe, whatever the name.
std::string QuoteIdentifier(std::string_view name);

}  // namespace cairn::shell
