// libSQL's vector-index DDL, rewritten for a stock SQLite that has the libsql_vector_index module.
#include <cctype>
#include <string>
#include <vector>

#include "vector/internal.h"
#include "vector/vector.h"

namespace cairn::vector {
namespace {

struct Token {
  enum Kind { kWord, kQuotedId, kString, kPunct } kind;
  std::string text;  // raw text
};

// Splits SQL into tokens, skipping whitespace and comments. False on unterminated quotes.
bool Tokenize(std::string_view s, std::vector<Token>* out) {
  size_t i = 0;
  while (i < s.size()) {  // bounded: every branch consumes at least one character
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      const size_t end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else if (c == '\'' || c == '"' || c == '`' || c == '[') {
      const char close = c == '[' ? ']' : c;
      size_t j = i + 1;
      for (;;) {
        if (j >= s.size()) return false;
        if (s[j] == close) {
          if (close != ']' && j + 1 < s.size() && s[j + 1] == close) {
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      out->push_back(
          {c == '\'' ? Token::kString : Token::kQuotedId, std::string(s.substr(i, j + 1 - i))});
      i = j + 1;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
               static_cast<unsigned char>(c) >= 0x80) {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_' ||
                              static_cast<unsigned char>(s[j]) >= 0x80 || s[j] == '$'))
        ++j;
      out->push_back({Token::kWord, std::string(s.substr(i, j - i))});
      i = j;
    } else {
      out->push_back({Token::kPunct, std::string(1, c)});
      ++i;
    }
  }
  return true;
}

bool IsWord(const Token& t, const char* w) {
  if (t.kind != Token::kWord || t.text.size() != std::char_traits<char>::length(w)) return false;
  for (size_t i = 0; i < t.text.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(t.text[i])) != w[i]) return false;
  return true;
}

bool IsName(const Token& t) { return t.kind == Token::kWord || t.kind == Token::kQuotedId; }

class Cursor {
 public:
  explicit Cursor(const std::vector<Token>& t) : t_(t) {}
  bool Word(const char* w) {
    if (i_ < t_.size() && IsWord(t_[i_], w)) return ++i_, true;
    return false;
  }
  bool Punct(char c) {
    if (i_ < t_.size() && t_[i_].kind == Token::kPunct && t_[i_].text[0] == c) return ++i_, true;
    return false;
  }
  const Token* Name() { return i_ < t_.size() && IsName(t_[i_]) ? &t_[i_++] : nullptr; }
  const Token* String() {
    return i_ < t_.size() && t_[i_].kind == Token::kString ? &t_[i_++] : nullptr;
  }
  bool AtEnd() {
    while (Punct(';')) {
    }
    return i_ == t_.size();
  }

 private:
  const std::vector<Token>& t_;
  size_t i_ = 0;
};

// [schema.]name → (schema or "", name), both dequoted.
bool QualifiedName(Cursor* c, std::string* schema, std::string* name) {
  const Token* a = c->Name();
  if (a == nullptr) return false;
  if (c->Punct('.')) {
    const Token* b = c->Name();
    if (b == nullptr) return false;
    *schema = Dequote(a->text);
    *name = Dequote(b->text);
  } else {
    schema->clear();
    *name = Dequote(a->text);
  }
  return true;
}

bool IsVectorIndex(sqlite3* db, const std::string& schema, const std::string& name) {
  const std::string table = schema.empty() ? "sqlite_schema" : QuoteId(schema) + ".sqlite_schema";
  const std::string sql = "SELECT 1 FROM " + table +
                          " WHERE type = 'table' AND lower(name) = lower(?1) AND "
                          "lower(sql) LIKE 'create virtual table%using libsql_vector_index%'";
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    return false;
  }
  sqlite3_bind_text(s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  const bool found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return found;
}

// Where the first statement of `sql` ends: after its first ';' outside quotes and comments, or at
// the end. (The statements a caller looks for here hold no ';' of their own; a CREATE TRIGGER
// that does is cut short, which only makes it look like no vector DDL.)
size_t FirstStatementEnd(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ';') return i + 1;
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      const size_t end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 2;
    } else if (c == '\'' || c == '"' || c == '`' || c == '[') {
      const size_t end = s.find(c == '[' ? ']' : c, i + 1);  // a doubled quote reopens at once
      i = end == std::string_view::npos ? s.size() : end + 1;
    } else {
      ++i;
    }
  }
  return s.size();
}

}  // namespace

std::string UpdateTriggerColumn(std::string_view trigger_sql) {
  std::vector<Token> toks;
  if (!Tokenize(trigger_sql, &toks)) return "";
  // ... WHEN old.rowid IS NOT new.rowid OR old."c" IS NOT new."c" BEGIN ...
  for (size_t i = 0; i + 3 < toks.size(); ++i)
    if (IsWord(toks[i], "or") && IsWord(toks[i + 1], "old") && toks[i + 2].text == "." &&
        IsName(toks[i + 3]))
      return Dequote(toks[i + 3].text);
  return "";
}

std::vector<std::string> IndexDropsForDropTable(sqlite3* db, std::string_view sql) {
  std::vector<Token> toks;
  if (!Tokenize(sql, &toks)) return {};
  Cursor c(toks);
  std::string schema, table;
  if (!c.Word("drop") || !c.Word("table")) return {};
  if (c.Word("if") && !c.Word("exists")) return {};
  if (!QualifiedName(&c, &schema, &table) || !c.AtEnd()) return {};
  // An index's triggers name it (I_vector_insert) and are on the table it follows, whatever the
  // table is called now.
  const std::string prefix = schema.empty() ? "" : QuoteId(schema) + ".";
  const std::string q = "SELECT substr(name, 1, length(name) - 14) FROM " + prefix +
                        "sqlite_schema WHERE type = 'trigger' AND lower(tbl_name) = lower(?1) AND "
                        "lower(name) LIKE '%\\_vector\\_insert' ESCAPE '\\' ORDER BY name";
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, q.c_str(), -1, &s, nullptr) != SQLITE_OK) {
    sqlite3_finalize(s);
    return {};
  }
  sqlite3_bind_text(s, 1, table.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> names;
  while (sqlite3_step(s) == SQLITE_ROW)
    names.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  sqlite3_finalize(s);
  std::vector<std::string> drops;
  for (const std::string& n : names)
    if (IsVectorIndex(db, schema, n)) drops.push_back("DROP TABLE " + prefix + QuoteId(n));
  return drops;
}

size_t VectorDdlLength(sqlite3* db, std::string_view sql) {
  const size_t end = FirstStatementEnd(sql);
  const std::string_view first = sql.substr(0, end);
  if (RewriteIndexDdl(db, first) || !IndexDropsForDropTable(db, first).empty()) return end;
  return 0;
}

std::optional<std::string> RewriteIndexDdl(sqlite3* db, std::string_view sql) {
  std::vector<Token> toks;
  if (!Tokenize(sql, &toks)) return std::nullopt;
  Cursor c(toks);
  std::string schema, name;
  if (c.Word("create")) {
    if (!c.Word("index")) return std::nullopt;
    bool if_not_exists = false;
    if (c.Word("if")) {
      if (!c.Word("not") || !c.Word("exists")) return std::nullopt;
      if_not_exists = true;
    }
    std::string table_schema, table;
    if (!QualifiedName(&c, &schema, &name) || !c.Word("on")) return std::nullopt;
    const Token* t = c.Name();
    if (t == nullptr || !c.Punct('(') || !c.Word("libsql_vector_idx") || !c.Punct('('))
      return std::nullopt;
    const Token* col = c.Name();
    if (col == nullptr) return std::nullopt;
    std::vector<std::string> opts;
    while (c.Punct(',')) {
      const Token* o = c.String();
      if (o == nullptr) return std::nullopt;
      opts.push_back(o->text);
    }
    if (!c.Punct(')') || !c.Punct(')') || !c.AtEnd()) return std::nullopt;
    std::string out = "CREATE VIRTUAL TABLE ";
    if (if_not_exists) out += "IF NOT EXISTS ";
    if (!schema.empty()) out += QuoteId(schema) + ".";
    out += QuoteId(name) + " USING libsql_vector_index(" + QuoteId(Dequote(t->text)) + ", " +
           QuoteId(Dequote(col->text));
    for (const std::string& o : opts) out += ", " + o;
    out += ")";
    return out;
  }
  if (!c.Word("drop") || !c.Word("index")) return std::nullopt;
  bool if_exists = false;
  if (c.Word("if")) {
    if (!c.Word("exists")) return std::nullopt;
    if_exists = true;
  }
  if (!QualifiedName(&c, &schema, &name) || !c.AtEnd()) return std::nullopt;
  if (!IsVectorIndex(db, schema, name)) return std::nullopt;
  std::string out = "DROP TABLE ";
  if (if_exists) out += "IF EXISTS ";
  if (!schema.empty()) out += QuoteId(schema) + ".";
  return out + QuoteId(name);
}

}  // namespace cairn::vector
