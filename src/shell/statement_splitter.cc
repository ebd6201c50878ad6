#include "shell/statement_splitter.h"

#include <strings.h>

#include <cassert>

namespace cairn::shell {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Bytes that continue an identifier or keyword; any byte of a multi-byte UTF-8 sequence counts.
bool IsWordByte(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' ||
         u == '$' || u >= 0x80;
}

bool Is(std::string_view word, const char* keyword) {
  return word.size() == std::char_traits<char>::length(keyword) &&
         strncasecmp(word.data(), keyword, word.size()) == 0;
}

std::string TrimmedRange(const std::string& buf, size_t begin, size_t end) {
  while (end > begin && IsSpace(buf[end - 1])) --end;
  return buf.substr(begin, end - begin);
}

}  // namespace

void StatementSplitter::Append(std::string_view text) {
  Compact();
  buf_.append(text);
}

bool StatementSplitter::Next(std::string* stmt) {
  if (!has_ready_) Scan();
  if (!has_ready_) return false;
  *stmt = std::move(ready_);
  ready_.clear();
  has_ready_ = false;
  return true;
}

bool StatementSplitter::Pending() const {
  return stmt_start_ != std::string::npos || mode_ == Mode::kBlockComment ||
         mode_ == Mode::kBlockStar || mode_ == Mode::kDash || mode_ == Mode::kSlash;
}

std::string StatementSplitter::TakeRest() {
  assert(!has_ready_ && scan_ == buf_.size());  // Next() has returned false
  std::string rest;
  if (mode_ == Mode::kWord) {
    Token(token_start_, std::string_view(buf_).substr(token_start_));
  } else if (mode_ == Mode::kDash || mode_ == Mode::kSlash) {
    Token(token_start_, {});
  }
  if (stmt_start_ != std::string::npos) rest += TrimmedRange(buf_, stmt_start_, buf_.size());
  buf_.clear();
  scan_ = consumed_ = 0;
  mode_ = Mode::kNormal;
  ResetStatement();
  return rest;
}

void StatementSplitter::Scan() {
  size_t i = scan_;
  while (i < buf_.size() && !has_ready_) {
    char c = buf_[i];
    switch (mode_) {
      case Mode::kNormal:
        if (IsSpace(c)) {
        } else if (c == ';') {
          Semicolon(i);
        } else if (c == '\'' || c == '"' || c == '`' || c == '[') {
          Token(i, {});
          mode_ = Mode::kQuoted;
          closer_ = c == '[' ? ']' : c;
        } else if (c == '-' || c == '/') {
          token_start_ = i;
          mode_ = c == '-' ? Mode::kDash : Mode::kSlash;
        } else if (IsWordByte(c)) {
          token_start_ = i;
          mode_ = Mode::kWord;
        } else {
          Token(i, {});
        }
        ++i;
        break;
      case Mode::kWord:
        if (IsWordByte(c)) {
          ++i;
        } else {
          Token(token_start_, std::string_view(buf_).substr(token_start_, i - token_start_));
          mode_ = Mode::kNormal;  // look at `c` again
        }
        break;
      case Mode::kQuoted:
        // A doubled closer ('it''s') reads as two adjacent literals, which splits the same way.
        if (c == closer_) mode_ = Mode::kNormal;
        ++i;
        break;
      case Mode::kDash:
      case Mode::kSlash:
        if ((mode_ == Mode::kDash && c == '-') || (mode_ == Mode::kSlash && c == '*')) {
          mode_ = mode_ == Mode::kDash ? Mode::kLineComment : Mode::kBlockComment;
          ++i;
        } else {
          Token(token_start_, {});  // an operator
          mode_ = Mode::kNormal;    // look at `c` again
        }
        break;
      case Mode::kLineComment:
        if (c == '\n') mode_ = Mode::kNormal;
        ++i;
        break;
      case Mode::kBlockComment:
        if (c == '*') mode_ = Mode::kBlockStar;
        ++i;
        break;
      case Mode::kBlockStar:
        if (c == '/')
          mode_ = Mode::kNormal;
        else if (c != '*')
          mode_ = Mode::kBlockComment;
        ++i;
        break;
    }
  }
  scan_ = i;
}

void StatementSplitter::Token(size_t pos, std::string_view word) {
  if (stmt_start_ == std::string::npos) stmt_start_ = pos;
  switch (head_) {
    case Head::kStart:
      head_ = Is(word, "EXPLAIN")  ? Head::kExplain
              : Is(word, "CREATE") ? Head::kCreate
                                   : Head::kOther;
      break;
    case Head::kExplain:
      if (Is(word, "CREATE"))
        head_ = Head::kCreate;
      else if (!Is(word, "QUERY") && !Is(word, "PLAN"))
        head_ = Head::kOther;
      break;
    case Head::kCreate:
      if (Is(word, "TRIGGER")) {
        head_ = Head::kTrigger;
        body_ = Body::kInside;
      } else if (!Is(word, "TEMP") && !Is(word, "TEMPORARY")) {
        head_ = Head::kOther;
      }
      break;
    case Head::kTrigger:
      body_ = body_ == Body::kAfterSemicolon && Is(word, "END") ? Body::kAfterEnd : Body::kInside;
      break;
    case Head::kOther:
      break;
  }
}

void StatementSplitter::Semicolon(size_t pos) {
  if (head_ == Head::kTrigger && body_ != Body::kAfterEnd) {
    body_ = Body::kAfterSemicolon;
    return;
  }
  if (stmt_start_ != std::string::npos) {
    ready_ = TrimmedRange(buf_, stmt_start_, pos);
    has_ready_ = true;
  }
  consumed_ = pos + 1;
  ResetStatement();
}

void StatementSplitter::ResetStatement() {
  stmt_start_ = std::string::npos;
  head_ = Head::kStart;
  body_ = Body::kInside;
}

// Drops returned text from the front of buf_ once it is at least half the buffer, so appending
// line after line stays linear.
void StatementSplitter::Compact() {
  if (consumed_ == 0 || consumed_ * 2 < buf_.size()) return;
  // Everything still needed (the current statement, a token being scanned) lies after consumed_.
  buf_.erase(0, consumed_);
  scan_ -= consumed_;
  if (stmt_start_ != std::string::npos) stmt_start_ -= consumed_;
  token_start_ = token_start_ >= consumed_ ? token_start_ - consumed_ : 0;
  consumed_ = 0;
}

}  // namespace cairn::shell
