// StatementSplitter: cuts a stream of SQL text into complete statements, the way SQLite's own
// shell decides that a statement is finished.
//
// Text is appended piece by piece (usually one input line at a time) and complete statements are
// taken out as soon as their terminating semicolon arrives. A semicolon ends a statement unless it
// is inside a string literal, a quoted identifier ("x", `x`, [x]), a comment (-- and /* */), or the
// body of CREATE [TEMP] TRIGGER ... BEGIN ... END, which only ends at "; END ;". Statements are
// returned without leading comments, the terminating semicolon or trailing whitespace; empty
// statements (";" alone, comment-only text) are dropped.
//
// The splitter finds the semicolons outside literals and comments; whether one ends its statement
// is SQLite's own answer, sqlite3_complete() (the function its shell asks), so trigger bodies and
// whatever SQLite adds later are judged as SQLite judges them.
//
// Scanning is incremental: each appended byte is looked at once, and sqlite3_complete() reads a
// statement once per semicolon in it, so a long multi-line statement costs linear time (a trigger
// body, per semicolon in it). Thread-safety: none; one splitter belongs to one input source.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cairn::shell {

class StatementSplitter {
 public:
  // Appends text; it may end anywhere, even inside a token.
  void Append(std::string_view text);

  // Moves the next complete statement into *stmt and returns true, or returns false if the text
  // seen so far holds no complete statement.
  bool Next(std::string* stmt);

  // True when a statement (or an unterminated comment) has been started and not finished: the
  // interactive shell shows its continuation prompt, and a line starting with '.' is SQL, not a
  // dot-command.
  bool Pending() const;

  // End of input: returns the unterminated remainder as one statement (empty when only
  // whitespace and comments remain) and resets the splitter. Call only after Next() returned false
  // with nothing appended since.
  std::string TakeRest();

 private:
  enum class Mode {
    kNormal,
    kQuoted,  // inside '...', "...", `...` or [...]; closer_ holds the closing byte
    kDash,    // saw '-': a line comment or an operator
    kSlash,   // saw '/': a block comment or an operator
    kLineComment,
    kBlockComment,
    kBlockStar,  // saw '*' inside a block comment
  };
  void Scan();
  // A significant byte at `pos`: the current statement starts there if it has not started.
  void Significant(size_t pos);
  // A semicolon at `pos`: ends the statement when SQLite says it is complete there.
  void Semicolon(size_t pos);
  void Compact();

  std::string buf_;
  size_t scan_ = 0;                        // next byte of buf_ to look at
  size_t consumed_ = 0;                    // bytes of buf_ already returned or dropped
  size_t stmt_start_ = std::string::npos;  // first significant byte of the current statement
  size_t token_start_ = 0;                 // where the '-' or '/' being looked at is
  Mode mode_ = Mode::kNormal;
  char closer_ = 0;
  // The complete statement found by Scan() and not yet taken by Next(); Scan() stops at one.
  std::string ready_;
  bool has_ready_ = false;
};

}  // namespace cairn::shell
