// Small SQL-text helpers the component shares: case folding, trimming, identifier quoting and
// dequoting, and splitting a module's argument list.
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "vector/internal.h"

namespace cairn::vector {

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string Trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

std::string QuoteId(std::string_view name) {
  std::string r = "\"";
  for (char c : name) {
    if (c == '"') r.push_back('"');
    r.push_back(c);
  }
  r.push_back('"');
  return r;
}

std::string Dequote(std::string_view token) {
  std::string t = Trim(token);
  if (t.size() < 2) return t;
  const char open = t.front();
  const char close = open == '[' ? ']' : open;
  if ((open != '\'' && open != '"' && open != '`' && open != '[') || t.back() != close) return t;
  std::string r;
  for (size_t i = 1; i + 1 < t.size(); ++i) {
    r.push_back(t[i]);
    if (open != '[' && t[i] == close && i + 2 < t.size() && t[i + 1] == close) ++i;
  }
  return r;
}

std::vector<std::string> SplitArgs(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      cur.push_back(c);
      if (c == quote) quote = 0;  // a doubled quote reopens on the next character
      continue;
    }
    if (c == '\'' || c == '"' || c == '`') quote = c;
    if (c == '[') quote = ']';
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(Trim(cur));
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  if (!Trim(cur).empty() || !out.empty()) out.push_back(Trim(cur));
  return out;
}

}  // namespace cairn::vector
