// ShellSession: the shell proper, without a terminal or a network. It turns input lines into SQL
// statements and dot-commands, runs statements through a SqlClient and prints the results.
//
// Input arrives from sources: a command-line argument, stdin, a file named by `.import`, or the
// interactive terminal. Each source has its own StatementSplitter, so a statement never spans two
// sources. A line whose first non-blank character is '.' is a dot-command when no statement is
// pending. Scripts stop at the first error (like `sqlite3 -bail`); the interactive source reports
// errors and carries on. Results go to `out`; errors go to `err` as "Error: <message> (<code>)".
//
// Thread-safety: none; one thread drives a session.
#pragma once

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "shell/sql_client.h"
#include "shell/statement_splitter.h"

namespace cairn::shell {

class ShellSession {
 public:
  // `client`, `out` and `err` must outlive the session. `interactive` adds row-count footers and
  // keeps going after errors on the interactive source.
  ShellSession(SqlClient* client, std::ostream* out, std::ostream* err, bool interactive,
               bool json);

  // Runs every line of `in`, then any unterminated statement left at its end. Stops at the first
  // error or at `.quit`. Returns true if the whole source ran without error.
  bool RunScript(std::istream& in);

  // Interactive source: handles one line typed by the user. Returns false once `.quit` was given.
  bool FeedInteractiveLine(std::string_view line);
  // Interactive source: drops the statement typed so far (the user pressed Ctrl-C).
  void DiscardInteractiveInput() { (void)terminal_.splitter.TakeRest(); }

  // The prompt for the next interactive line: "cairn> ", "cairn*> " inside a transaction, or a
  // continuation prompt while a statement is incomplete.
  std::string Prompt() const;

  bool had_error() const { return had_error_; }
  bool quit_requested() const { return quit_; }

 private:
  struct Source {
    StatementSplitter splitter;
    bool stop_on_error = true;
    int depth = 0;  // .import nesting
  };

  // Each returns false when the source must stop reading (an error with stop_on_error, or .quit).
  bool Feed(Source& src, std::string_view line);
  bool Finish(Source& src);
  bool RunSource(std::istream& in, int depth);

  // Each returns true on success; failures have been reported.
  bool RunStatement(std::string_view sql);
  bool RunDotCommand(std::string_view line, int depth);
  bool Query(std::string_view sql, StmtResult* result);
  bool Tables(std::string_view pattern);
  bool Schema(std::string_view pattern);
  bool Dump(std::string_view pattern);
  bool DumpTable(const std::string& name);
  bool Import(const std::string& path, int depth);

  void PrintError(const ServerError& e);
  void Write(std::string_view text);

  SqlClient* const client_;
  std::ostream* const out_;
  std::ostream* const err_;
  const bool interactive_;
  bool json_;
  bool had_error_ = false;
  bool quit_ = false;
  Source terminal_;  // the interactive source
};

// Splits a dot-command line (".import 'my file.sql'") into words: whitespace separates, single or
// double quotes group. The first word keeps its leading '.'.
std::vector<std::string> SplitDotCommand(std::string_view line);

}  // namespace cairn::shell
