#include "shell/statement_splitter.h"

#include <sqlite3.h>

#include <cassert>

namespace cairn::shell {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
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
  if (mode_ == Mode::kDash || mode_ == Mode::kSlash) Significant(token_start_);  // an operator
  if (stmt_start_ != std::string::npos) rest += TrimmedRange(buf_, stmt_start_, buf_.size());
  buf_.clear();
  scan_ = consumed_ = 0;
  mode_ = Mode::kNormal;
  stmt_start_ = std::string::npos;
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
          Significant(i);
          mode_ = Mode::kQuoted;
          closer_ = c == '[' ? ']' : c;
        } else if (c == '-' || c == '/') {
          token_start_ = i;
          mode_ = c == '-' ? Mode::kDash : Mode::kSlash;
        } else {
          Significant(i);
        }
        ++i;
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
          Significant(token_start_);  // an operator
          mode_ = Mode::kNormal;      // look at `c` again
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

void StatementSplitter::Significant(size_t pos) {
  if (stmt_start_ == std::string::npos) stmt_start_ = pos;
}

void StatementSplitter::Semicolon(size_t pos) {
  if (stmt_start_ != std::string::npos) {
    // Inside CREATE TRIGGER ... BEGIN ... END a semicolon ends a statement of the body only.
    // (SQLite reads text up to a NUL byte; a statement holding one, never valid SQL, ends at its
    // first semicolon rather than swallowing what follows.)
    const std::string text = buf_.substr(stmt_start_, pos + 1 - stmt_start_);
    if (text.find('\0') == std::string::npos && sqlite3_complete(text.c_str()) == 0) return;
    ready_ = TrimmedRange(buf_, stmt_start_, pos);
    has_ready_ = true;
  }
  consumed_ = pos + 1;
  stmt_start_ = std::string::npos;
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
