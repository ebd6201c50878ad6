#include "shell/session.h"

#include <fstream>
#include <istream>
#include <ostream>
#include <set>

#include "shell/format.h"

namespace cairn::shell {
namespace {

constexpr int kMaxImportDepth = 16;
constexpr size_t kTablesLineWidth = 80;

constexpr std::string_view kHelp =
    ".dump [PATTERN]      SQL text that recreates the database (or tables LIKE PATTERN)\n"
    ".exit, .quit         Leave the shell (an open transaction is rolled back)\n"
    ".help                This text\n"
    ".import FILE         Run the SQL statements (and dot-commands) in FILE\n"
    ".json on|off         Print rows as JSON objects, one per line, or as tables\n"
    ".schema [PATTERN]    CREATE statements (of objects LIKE PATTERN)\n"
    ".tables [PATTERN]    Names of tables and views (LIKE PATTERN)\n"
    "SQL statements end with ';'. Inside BEGIN ... COMMIT they share one transaction.\n";

// Excludes SQLite's internal objects; '_' is a LIKE wildcard, hence the escape.
constexpr std::string_view kNotInternal = "name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string Text(const Value& v) { return v.type == Value::Type::kText ? v.bytes : std::string(); }

}  // namespace

std::vector<std::string> SplitDotCommand(std::string_view line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (IsBlank(line[i]) || line[i] == '\n' || line[i] == '\r')) ++i;
    if (i == line.size()) break;
    std::string word;
    if (line[i] == '\'' || line[i] == '"') {
      char quote = line[i++];
      while (i < line.size() && line[i] != quote) word.push_back(line[i++]);
      if (i < line.size()) ++i;  // closing quote
    } else {
      while (i < line.size() && !IsBlank(line[i]) && line[i] != '\n' && line[i] != '\r') {
        word.push_back(line[i++]);
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

ShellSession::ShellSession(SqlClient* client, std::ostream* out, std::ostream* err,
                           bool interactive, bool json)
    : client_(client), out_(out), err_(err), interactive_(interactive), json_(json) {
  terminal_.stop_on_error = false;
}

bool ShellSession::RunScript(std::istream& in) { return RunSource(in, 0); }

bool ShellSession::RunSource(std::istream& in, int depth) {
  Source src;
  src.depth = depth;
  const bool before = had_error_;
  had_error_ = false;
  std::string line;
  bool completed = true;
  while (std::getline(in, line)) {
    if (!Feed(src, line)) {
      completed = false;
      break;
    }
  }
  if (completed) Finish(src);
  bool ok = !had_error_;
  had_error_ = before || had_error_;
  return ok;
}

bool ShellSession::FeedInteractiveLine(std::string_view line) {
  Feed(terminal_, line);
  out_->flush();
  return !quit_;
}

std::string ShellSession::Prompt() const {
  if (terminal_.splitter.Pending()) return "  ...> ";
  return client_->InTransaction() ? "cairn*> " : "cairn> ";
}

bool ShellSession::Feed(Source& src, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!src.splitter.Pending()) {
    size_t first = 0;
    while (first < line.size() && IsBlank(line[first])) ++first;
    if (first < line.size() && line[first] == '.') {
      bool ok = RunDotCommand(line.substr(first), src.depth);
      return !quit_ && (ok || !src.stop_on_error);
    }
  }
  src.splitter.Append(line);
  src.splitter.Append("\n");
  std::string stmt;
  while (!quit_ && src.splitter.Next(&stmt)) {
    if (!RunStatement(stmt) && src.stop_on_error) return false;
  }
  return !quit_;
}

bool ShellSession::Finish(Source& src) {
  std::string rest = src.splitter.TakeRest();
  if (rest.empty()) return true;
  return RunStatement(rest);
}

bool ShellSession::RunStatement(std::string_view sql) {
  ExecOutcome outcome = client_->Execute(sql);
  if (!outcome.ok()) {
    PrintError(*outcome.error);
    return false;
  }
  const StmtResult& r = outcome.result;
  std::string text;
  if (json_) {
    RenderJsonRows(r, &text);
  } else if (!r.columns.empty()) {
    RenderTable(r, &text);
    if (interactive_) {
      text += "(" + std::to_string(r.rows.size()) + (r.rows.size() == 1 ? " row)\n" : " rows)\n");
    }
  }
  Write(text);
  return true;
}

bool ShellSession::Query(std::string_view sql, StmtResult* result) {
  ExecOutcome outcome = client_->Execute(sql);
  if (!outcome.ok()) {
    PrintError(*outcome.error);
    return false;
  }
  *result = std::move(outcome.result);
  return true;
}

bool ShellSession::RunDotCommand(std::string_view line, int depth) {
  std::vector<std::string> words = SplitDotCommand(line);
  const std::string cmd = words.empty() ? "." : words[0];
  const std::string arg = words.size() > 1 ? words[1] : std::string();
  auto usage = [&](std::string_view text) {
    PrintError({"usage: " + std::string(text), ""});
    return false;
  };

  if (cmd == ".quit" || cmd == ".exit") {
    quit_ = true;
    return true;
  }
  if (cmd == ".help") {
    Write(kHelp);
    return true;
  }
  if (cmd == ".tables") return Tables(arg);
  if (cmd == ".schema") return Schema(arg);
  if (cmd == ".dump") return Dump(arg);
  if (cmd == ".import") {
    if (words.size() != 2) return usage(".import FILE");
    return Import(arg, depth);
  }
  if (cmd == ".json") {
    if (words.size() != 2 || (arg != "on" && arg != "off")) return usage(".json on|off");
    json_ = arg == "on";
    return true;
  }
  PrintError({"unknown command " + cmd + "; enter .help for the list", ""});
  return false;
}

bool ShellSession::Tables(std::string_view pattern) {
  std::string sql = "SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND ";
  sql += kNotInternal;
  if (!pattern.empty()) sql += " AND name LIKE " + SqlLiteral(Value::Text(std::string(pattern)));
  sql += " ORDER BY 1";
  StmtResult r;
  if (!Query(sql, &r)) return false;
  std::vector<std::string> names;
  for (const auto& row : r.rows) {
    if (!row.empty()) names.push_back(Text(row[0]));
  }
  std::string text;
  RenderNameGrid(names, kTablesLineWidth, &text);
  Write(text);
  return true;
}

bool ShellSession::Schema(std::string_view pattern) {
  std::string sql = "SELECT sql FROM sqlite_schema WHERE sql NOT NULL AND ";
  sql += kNotInternal;
  if (!pattern.empty()) {
    std::string p = SqlLiteral(Value::Text(std::string(pattern)));
    sql += " AND (name LIKE " + p + " OR tbl_name LIKE " + p + ")";
  }
  sql += " ORDER BY rowid";
  StmtResult r;
  if (!Query(sql, &r)) return false;
  std::string text;
  for (const auto& row : r.rows) {
    if (!row.empty()) text += Text(row[0]) + ";\n";
  }
  Write(text);
  return true;
}

// Schema first, then each table's rows, then indexes, triggers and views, so that restoring runs
// no triggers and builds each index once. Shadow tables of virtual tables are left to the virtual
// table that owns them.
bool ShellSession::Dump(std::string_view pattern) {
  std::string like;
  if (!pattern.empty()) like = SqlLiteral(Value::Text(std::string(pattern)));

  std::set<std::string> shadow;
  StmtResult r;
  ExecOutcome listed = client_->Execute(
      "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'");
  if (listed.ok()) {  // older SQLite has no table_list; then there is nothing to skip
    for (const auto& row : listed.result.rows) {
      if (!row.empty()) shadow.insert(Text(row[0]));
    }
  }

  std::string tables_sql =
      "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql NOT NULL AND (" +
      std::string(kNotInternal) + " OR name = 'sqlite_sequence')";
  if (!like.empty()) tables_sql += " AND name LIKE " + like;
  tables_sql += " ORDER BY name = 'sqlite_sequence', rowid";
  if (!Query(tables_sql, &r)) return false;

  Write("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n");
  for (const auto& row : r.rows) {
    if (row.size() < 2) continue;
    std::string name = Text(row[0]);
    std::string create = Text(row[1]);
    if (shadow.count(name)) continue;
    if (name == "sqlite_sequence") {
      Write("DELETE FROM sqlite_sequence;\n");
    } else {
      Write(create + ";\n");
    }
    if (!DumpTable(name)) return false;
  }

  std::string others_sql =
      "SELECT tbl_name, sql FROM sqlite_schema WHERE type IN ('index','trigger','view') "
      "AND sql NOT NULL AND " +
      std::string(kNotInternal);
  if (!like.empty()) others_sql += " AND tbl_name LIKE " + like;
  others_sql += " ORDER BY rowid";
  if (!Query(others_sql, &r)) return false;
  for (const auto& row : r.rows) {
    if (row.size() < 2 || shadow.count(Text(row[0]))) continue;
    Write(Text(row[1]) + ";\n");
  }
  Write("COMMIT;\n");
  return true;
}

// INSERTs for every row of one table. Generated and hidden columns cannot be inserted into, so
// when a table has any, the INSERTs name the ordinary columns. A virtual table (FTS5, R*Tree) gets
// its visible rows re-inserted, which rebuilds its shadow tables.
bool ShellSession::DumpTable(const std::string& name) {
  const std::string quoted = QuoteIdentifier(name);

  std::string select = "SELECT * FROM " + quoted;
  std::string insert = "INSERT INTO " + quoted + " VALUES(";
  ExecOutcome cols = client_->Execute("SELECT name, hidden FROM pragma_table_xinfo(" +
                                      SqlLiteral(Value::Text(name)) + ")");
  if (cols.ok()) {
    std::string list;
    bool any_hidden = false;
    for (const auto& row : cols.result.rows) {
      if (row.size() < 2) continue;
      if (row[1].type == Value::Type::kInteger && row[1].integer != 0) {
        any_hidden = true;
        continue;
      }
      if (!list.empty()) list += ",";
      list += QuoteIdentifier(Text(row[0]));
    }
    if (any_hidden && !list.empty()) {
      select = "SELECT " + list + " FROM " + quoted;
      insert = "INSERT INTO " + quoted + "(" + list + ") VALUES(";
    }
  }

  StmtResult data;
  if (!Query(select, &data)) return false;
  std::string text;
  for (const auto& row : data.rows) {
    text += insert;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) text += ',';
      text += SqlLiteral(row[i]);
    }
    text += ");\n";
    if (text.size() > (1 << 16)) {
      Write(text);
      text.clear();
    }
  }
  Write(text);
  return true;
}

bool ShellSession::Import(const std::string& path, int depth) {
  if (depth >= kMaxImportDepth) {
    PrintError({".import nested too deeply at " + path, ""});
    return false;
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    PrintError({"cannot open " + path, ""});
    return false;
  }
  return RunSource(file, depth + 1);
}

void ShellSession::PrintError(const ServerError& e) {
  had_error_ = true;
  *err_ << "Error: " << e.message;
  if (!e.code.empty()) *err_ << " (" << e.code << ")";
  *err_ << '\n';
  err_->flush();
}

void ShellSession::Write(std::string_view text) {
  out_->write(text.data(), static_cast<std::streamsize>(text.size()));
  if (interactive_) out_->flush();
}

}  // namespace cairn::shell
