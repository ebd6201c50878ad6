#include "sqlite/statement_kind.h"

#include <strings.h>

#include <cctype>

namespace cairn::sqlite {
namespace {

struct Token {
  enum class Type : uint8_t {
    kEnd,     // the end of the statement: its ';', or the end of the text
    kWord,    // a keyword, an identifier or a number
    kQuoted,  // '…', "…", `…` or […], quotes included
    kPunct,   // any other byte
  };
  Type type = Type::kEnd;
  std::string_view text;

  bool Is(std::string_view word) const {
    return type == Type::kWord && text.size() == word.size() &&
           strncasecmp(text.data(), word.data(), word.size()) == 0;
  }
  bool Is(char punct) const { return type == Type::kPunct && text[0] == punct; }
};

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

// The tokens of the first statement of a text, one at a time.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  // Skips whitespace, comments and (when `semicolons`) empty statements.
  void SkipBlank(bool semicolons) {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (std::isspace(static_cast<unsigned char>(c)) || (semicolons && c == ';')) {
        ++i_;
      } else if (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] == '-') {
        const size_t nl = s_.find('\n', i_ + 2);
        i_ = nl == std::string_view::npos ? s_.size() : nl + 1;
      } else if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
        const size_t end = s_.find("*/", i_ + 2);
        i_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else {
        return;
      }
    }
  }

  // The next token; kEnd at the statement's ';' (not consumed) or the end of the text.
  Token Next() {
    SkipBlank(/*semicolons=*/false);
    if (i_ == s_.size() || s_[i_] == ';') return {};
    const size_t start = i_;
    const char c = s_[i_];
    Token::Type type = Token::Type::kPunct;
    if (c == '\'' || c == '"' || c == '`' || c == '[') {
      type = Token::Type::kQuoted;
      const char close = c == '[' ? ']' : c;
      for (++i_; i_ < s_.size(); ++i_) {
        if (s_[i_] != close) continue;
        if (close != ']' && i_ + 1 < s_.size() && s_[i_ + 1] == close) {
          ++i_;  // a doubled quote: still inside
          continue;
        }
        ++i_;
        break;
      }
    } else if (IsWordByte(static_cast<unsigned char>(c))) {
      type = Token::Type::kWord;
      while (i_ < s_.size() && IsWordByte(static_cast<unsigned char>(s_[i_]))) ++i_;
    } else {
      ++i_;
    }
    return {type, s_.substr(start, i_ - start)};
  }

  // After Next() returned kEnd: whether the text holds nothing more than blanks.
  bool AtEndOfText() {
    SkipBlank(/*semicolons=*/true);
    return i_ == s_.size();
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

Keyword KeywordOf(const Token& t) {
  if (t.type == Token::Type::kEnd) return Keyword::kNone;
  if (t.type != Token::Type::kWord) return Keyword::kOther;
  static constexpr std::pair<std::string_view, Keyword> kKeywords[] = {
      {"SELECT", Keyword::kSelect},
      {"INSERT", Keyword::kInsert},
      {"UPDATE", Keyword::kUpdate},
      {"DELETE", Keyword::kDelete},
      {"WITH", Keyword::kWith},
      {"BEGIN", Keyword::kBegin},
      {"COMMIT", Keyword::kCommit},
      {"ROLLBACK", Keyword::kRollback},
      {"END", Keyword::kEnd},
      {"PRAGMA", Keyword::kPragma},
      {"REPLACE", Keyword::kReplace},
      {"CREATE", Keyword::kCreate},
      {"DROP", Keyword::kDrop},
      {"ALTER", Keyword::kAlter},
      {"SAVEPOINT", Keyword::kSavepoint},
      {"RELEASE", Keyword::kRelease},
      {"VALUES", Keyword::kValues},
      {"EXPLAIN", Keyword::kExplain},
      {"VACUUM", Keyword::kVacuum},
      {"REINDEX", Keyword::kReindex},
      {"ANALYZE", Keyword::kAnalyze},
      {"ATTACH", Keyword::kAttach},
      {"DETACH", Keyword::kDetach},
  };
  for (const auto& [word, keyword] : kKeywords)
    if (t.Is(word)) return keyword;
  return Keyword::kOther;
}

bool Writes(Keyword k) {
  switch (k) {
    case Keyword::kInsert:
    case Keyword::kReplace:
    case Keyword::kUpdate:
    case Keyword::kDelete:
    case Keyword::kCreate:
    case Keyword::kDrop:
    case Keyword::kAlter:
    case Keyword::kVacuum:
    case Keyword::kReindex:
    case Keyword::kAnalyze:
      return true;
    default:
      return false;
  }
}

// After WITH: the keyword of the statement the common table expressions are for. Each one is
// `name [(columns)] AS [[NOT] MATERIALIZED] (select)`, separated by commas: the statement's
// keyword is the first word after a closing parenthesis at depth 0 that is neither AS nor
// followed by a comma.
Keyword StatementAfterWith(Lexer* lx) {
  int depth = 0;
  bool after_close = false;
  for (Token t = lx->Next(); t.type != Token::Type::kEnd; t = lx->Next()) {
    if (t.Is('(')) {
      ++depth;
    } else if (t.Is(')')) {
      if (depth > 0 && --depth == 0) after_close = true;
    } else if (depth == 0 && after_close) {
      if (!t.Is(',') && !t.Is("AS")) return KeywordOf(t);
      after_close = false;
    }
  }
  return Keyword::kNone;
}

// After BEGIN: a write transaction, or libSQL's read-only one.
Transaction BeginKind(Lexer* lx) {
  Token t = lx->Next();
  if (t.Is("TRANSACTION")) t = lx->Next();
  if (!t.Is("READONLY")) return Transaction::kBegin;
  t = lx->Next();
  if (t.Is("TRANSACTION")) t = lx->Next();  // libSQL's order
  return t.type == Token::Type::kEnd && lx->AtEndOfText() ? Transaction::kBeginReadonly
                                                          : Transaction::kBegin;
}

// The pragmas SQLite runs as a query when given one argument (aPragmaName's PragFlg_Result1,
// but for `optimize`, which does work): with an argument they still only read.
bool ReadsWithArgument(std::string_view name) {
  static constexpr std::string_view kQueries[] = {
      "table_info", "table_xinfo",      "table_list",        "index_info",      "index_xinfo",
      "index_list", "foreign_key_list", "foreign_key_check", "integrity_check", "quick_check"};
  for (std::string_view q : kQueries)
    if (name.size() == q.size() && strncasecmp(name.data(), q.data(), q.size()) == 0) return true;
  return false;
}

// After PRAGMA: [schema.]name followed by `=` or `(`.
bool PragmaAssignment(Lexer* lx) {
  Token name = lx->Next();
  Token t = lx->Next();
  if (t.Is('.')) {
    name = lx->Next();
    t = lx->Next();
  }
  if (!t.Is('=') && !t.Is('(')) return false;
  std::string_view bare = name.text;
  if (name.type == Token::Type::kQuoted && bare.size() >= 2) bare = bare.substr(1, bare.size() - 2);
  return !ReadsWithArgument(bare);
}

// After CREATE INDEX: whether the statement names libsql_vector_idx.
bool NamesVectorIndexFunction(Lexer* lx) {
  for (Token t = lx->Next(); t.type != Token::Type::kEnd; t = lx->Next())
    if (t.Is("libsql_vector_idx")) return true;
  return false;
}

}  // namespace

StatementKind ClassifyStatement(std::string_view sql) {
  Lexer lx(sql);
  lx.SkipBlank(/*semicolons=*/true);
  StatementKind kind;
  kind.keyword = KeywordOf(lx.Next());
  kind.writes = Writes(kind.keyword);
  switch (kind.keyword) {
    case Keyword::kWith:
      kind.writes = Writes(StatementAfterWith(&lx));
      break;
    case Keyword::kBegin:
      kind.transaction = BeginKind(&lx);
      break;
    case Keyword::kSavepoint:
      kind.transaction = Transaction::kSavepoint;
      break;
    case Keyword::kCommit:
    case Keyword::kEnd:
      kind.transaction = Transaction::kCommit;
      break;
    case Keyword::kRollback:
      kind.transaction = Transaction::kRollback;
      break;
    case Keyword::kRelease:
      kind.transaction = Transaction::kRelease;
      break;
    case Keyword::kPragma:
      kind.pragma_assignment = PragmaAssignment(&lx);
      break;
    case Keyword::kCreate:
      if (lx.Next().Is("INDEX") && NamesVectorIndexFunction(&lx))
        kind.vector_ddl = VectorDdl::kCreateIndex;
      break;
    case Keyword::kDrop: {
      const Token what = lx.Next();
      if (what.Is("INDEX")) kind.vector_ddl = VectorDdl::kDropIndex;
      if (what.Is("TABLE")) kind.vector_ddl = VectorDdl::kDropTable;
      break;
    }
    default:
      break;
  }
  return kind;
}

bool HoldsNoStatement(std::string_view sql) {
  Lexer lx(sql);
  return lx.AtEndOfText();
}

}  // namespace cairn::sqlite
