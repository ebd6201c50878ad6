#include "migrate/migration_set.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <system_error>

#include "base/sha256.h"
#include "shell/statement_splitter.h"

namespace cairn::migrate {
namespace {

namespace fs = std::filesystem;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsDescriptionChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '-' ||
         c == '.';
}

bool EndsWithSqlSuffix(std::string_view name) {
  if (name.size() < 4) return false;
  std::string tail(name.substr(name.size() - 4));
  for (char& c : tail) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return tail == ".sql";
}

// The words at the start of a statement, upper-cased: enough to recognise transaction control.
std::vector<std::string> LeadingWords(std::string_view sql, size_t max_words) {
  std::vector<std::string> words;
  size_t i = 0;
  while (words.size() < max_words) {
    while (i < sql.size() && std::isspace(static_cast<unsigned char>(sql[i]))) ++i;
    std::string w;
    while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) {
      w += static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i])));
      ++i;
    }
    if (w.empty()) break;
    words.push_back(std::move(w));
  }
  return words;
}

bool ControlsTransaction(std::string_view sql) {
  const std::vector<std::string> w = LeadingWords(sql, 3);
  if (w.empty()) return false;
  if (w[0] == "BEGIN" || w[0] == "COMMIT" || w[0] == "END") return true;
  if (w[0] != "ROLLBACK") return false;
  // ROLLBACK [TRANSACTION] TO [SAVEPOINT] name only undoes part of the transaction: allowed.
  const bool to_savepoint =
      (w.size() > 1 && w[1] == "TO") || (w.size() > 2 && w[1] == "TRANSACTION" && w[2] == "TO");
  return !to_savepoint;
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kIOError, "cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status(Code::kIOError, "cannot read " + path.string());
  return ss.str();
}

}  // namespace

std::string Checksum(std::string_view bytes) { return Sha256Hex(bytes); }

bool ParseMigrationName(std::string_view name, int64_t* version) {
  size_t i = 0;
  int64_t v = 0;
  while (i < name.size() && IsDigit(name[i])) {
    if (v > (INT64_MAX - 9) / 10) return false;  // a version must fit the INTEGER column
    v = v * 10 + (name[i] - '0');
    ++i;
  }
  if (i == 0 || v == 0) return false;
  if (i >= name.size() || name[i] != '_') return false;
  ++i;
  constexpr std::string_view kSuffix = ".sql";
  if (name.size() < i + 1 + kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix)
    return false;
  for (size_t j = i; j < name.size() - kSuffix.size(); ++j) {
    if (!IsDescriptionChar(name[j])) return false;
  }
  *version = v;
  return true;
}

Result<std::vector<Statement>> SplitMigration(std::string_view file_name, std::string_view sql) {
  shell::StatementSplitter splitter;
  splitter.Append(sql);
  std::vector<std::string> texts;
  std::string stmt;
  while (splitter.Next(&stmt)) texts.push_back(std::move(stmt));
  if (std::string rest = splitter.TakeRest(); !rest.empty()) texts.push_back(std::move(rest));

  std::vector<Statement> out;
  size_t cursor = 0;  // statements appear in order; each is searched for after the previous one
  int line = 1;
  for (std::string& text : texts) {
    const size_t at = sql.find(text, cursor);
    if (at != std::string_view::npos) {
      line += static_cast<int>(std::count(sql.begin() + static_cast<ptrdiff_t>(cursor),
                                          sql.begin() + static_cast<ptrdiff_t>(at), '\n'));
      cursor = at;
    }
    if (ControlsTransaction(text)) {
      return Status(Code::kInvalidRequest,
                    std::string(file_name) + ", line " + std::to_string(line) + ": '" +
                        LeadingWords(text, 1).front() +
                        "' is not allowed: each database is migrated inside one transaction of "
                        "cairn migrate's own, so files must not begin or end transactions");
    }
    out.push_back(Statement{std::move(text), line});
  }
  return out;
}

Result<MigrationSet> BuildMigrationSet(std::string directory,
                                       std::vector<std::pair<std::string, std::string>> files) {
  MigrationSet set;
  set.directory = std::move(directory);
  std::vector<std::string> bad_names;
  for (auto& [name, contents] : files) {
    if (name.empty() || name.front() == '.') continue;
    int64_t version = 0;
    if (!ParseMigrationName(name, &version)) {
      if (EndsWithSqlSuffix(name) || IsDigit(name.front())) bad_names.push_back(name);
      continue;
    }
    Migration m;
    m.version = version;
    m.name = name;
    m.checksum = Checksum(contents);
    auto statements = SplitMigration(name, contents);
    if (!statements.ok()) return statements.TakeStatus();
    m.statements = std::move(*statements);
    set.migrations.push_back(std::move(m));
  }
  if (!bad_names.empty()) {
    std::sort(bad_names.begin(), bad_names.end());
    std::string msg = "not migration file names (expected <version>_<description>.sql, e.g. "
                      "0001_create_users.sql, with a version of at least 1):";
    for (const std::string& n : bad_names) msg += " " + n;
    return Status(Code::kInvalidRequest, msg);
  }
  std::sort(set.migrations.begin(), set.migrations.end(),
            [](const Migration& a, const Migration& b) {
              return a.version != b.version ? a.version < b.version : a.name < b.name;
            });
  std::string dups;
  for (size_t i = 0; i < set.migrations.size();) {
    size_t j = i + 1;
    while (j < set.migrations.size() && set.migrations[j].version == set.migrations[i].version) ++j;
    if (j - i > 1) {
      dups += "; version " + std::to_string(set.migrations[i].version) + ":";
      for (size_t k = i; k < j; ++k) dups += " " + set.migrations[k].name;
    }
    i = j;
  }
  if (!dups.empty())
    return Status(Code::kInvalidRequest,
                  "several files share a version (each version must be unique)" + dups);
  return set;
}

Result<MigrationSet> LoadMigrationSet(const std::string& directory) {
  std::error_code ec;
  if (!fs::is_directory(directory, ec))
    return Status(Code::kNotFound, "no migration directory at " + directory);
  std::vector<std::pair<std::string, std::string>> files;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    int64_t version = 0;
    std::string contents;
    if (ParseMigrationName(name, &version)) {  // only migration files are worth reading
      auto bytes = ReadFile(it->path());
      if (!bytes.ok()) return bytes.TakeStatus();
      contents = std::move(*bytes);
    }
    files.emplace_back(name, std::move(contents));
  }
  if (ec) return Status(Code::kIOError, "cannot list " + directory + ": " + ec.message());
  return BuildMigrationSet(directory, std::move(files));
}

Result<Plan> PlanMigrations(const MigrationSet& set, const std::vector<AppliedMigration>& applied) {
  std::map<int64_t, const AppliedMigration*> history;
  for (const AppliedMigration& a : applied) history[a.version] = &a;
  std::map<int64_t, size_t> by_version;
  for (size_t i = 0; i < set.migrations.size(); ++i) by_version[set.migrations[i].version] = i;

  Plan plan;
  for (const auto& [version, a] : history) {
    auto it = by_version.find(version);
    if (it == by_version.end()) {
      return Status(Code::kInvalidRequest,
                    "version " + std::to_string(version) + " (" + a->name +
                        ") is applied but the directory has no file with that version");
    }
    const Migration& m = set.migrations[it->second];
    if (m.name != a->name) {
      return Status(Code::kInvalidRequest, "version " + std::to_string(version) +
                                               " was applied as " + a->name +
                                               " but the file is now named " + m.name);
    }
    if (m.checksum != a->checksum) {
      return Status(Code::kInvalidRequest,
                    m.name + " changed after it was applied (checksum " + a->checksum.substr(0, 12) +
                        "... applied, " + m.checksum.substr(0, 12) +
                        "... now): applied files must not change; add a new migration instead");
    }
    plan.current_version = version;
    plan.current_name = a->name;
  }
  for (size_t i = 0; i < set.migrations.size(); ++i) {
    const Migration& m = set.migrations[i];
    if (history.count(m.version)) continue;
    if (m.version < plan.current_version) {
      return Status(Code::kInvalidRequest,
                    m.name + " is not applied but is older than the applied version " +
                        std::to_string(plan.current_version) + " (" + plan.current_name +
                        "); a new migration needs a version above every applied one");
    }
    plan.pending.push_back(i);
  }
  return plan;
}

}  // namespace cairn::migrate
