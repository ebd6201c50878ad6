#include "cli/migrate_commands.h"
#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/json_writer.h"
#include "engine/registry.h"
#include "migrate/admin_client.h"
#include "migrate/migration_set.h"
#include "migrate/migrator.h"
#include "shell/hrana_client.h"

namespace cairn::cli {
namespace {

using migrate::DatabaseOutcome;
using migrate::DatabaseState;
using migrate::Mode;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct MigrateArgs {
  std::string dir;
  bool all = false;
  std::vector<std::string> dbs;
  std::string url = "http://127.0.0.1:8080";
  std::string admin_url = "http://127.0.0.1:8081";
  std::string auth_token;
  std::string admin_auth_key;
  bool dry_run = false;
  bool json = false;
  int concurrency = 4;
};

// A one-line count of databases done on stderr, drawn only when stderr is a terminal.

int Fail(bool json, const std::string& command, const Status& st, int code) {
  if (json) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("error").String(st.message()).Key("code").String(CodeName(st.code()));
    w.EndObject();
    std::printf("%s\n", out.c_str());
  } else {
    std::fprintf(stderr, "cairn %s: %s\n", command.c_str(), st.message().c_str());
  }
  return code;
}

std::string FileList(const std::vector<std::string>& files) {
  std::string out;
  for (const std::string& f : files) out += (out.empty() ? "" : ", ") + f;
  return out;
}

std::string VersionText(const DatabaseOutcome& o) {
  if (o.version == 0) return "no version";
  return fmt::format("version {} ({})", o.version, o.version_name);
}

void WriteOutcome(JsonWriter& w, const DatabaseOutcome& o) {
  w.BeginObject().Key("database").String(o.database).Key("status").String(StateName(o.state));
  w.Key("version").Int(o.version);
  w.Key("version_name");
  if (o.version_name.empty())
    w.Null();
  else
    w.String(o.version_name);
  if (o.state == DatabaseState::kFailed) {
    w.Key("error").String(o.error).Key("code").String(o.error_code);
  } else {
    w.Key("target_version").Int(o.target_version);
    w.Key("files").BeginArray();
    for (const std::string& f : o.files) w.String(f);
    w.EndArray();
  }
  w.Key("seconds").Double(o.seconds).EndObject();
}

// The names to migrate: the admin API's list for --all, else --db's (deduplicated, validated).
Result<std::vector<std::string>> Databases(const MigrateArgs& a, bool* usage_error) {
  *usage_error = false;
  if (a.all) return migrate::ListDatabases(a.admin_url, a.admin_auth_key);
  std::vector<std::string> names = a.dbs;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const std::string& n : names) {
    if (Status st = engine::Registry::ValidateName(n); !st.ok()) {
      *usage_error = true;
      return st;
    }
  }
  return names;
}

int Run(const MigrateArgs& a, Mode mode) {
  const std::string cmd = mode == Mode::kStatus ? "migrate status" : "migrate apply";
  const auto start = std::chrono::steady_clock::now();
  if (a.all == !a.dbs.empty())
    return Fail(a.json, cmd, Status(Code::kInvalidRequest, "give either --all or --db NAME"),
                kExitUsage);
  if (a.concurrency < 1 || a.concurrency > 256)
    return Fail(a.json, cmd, Status(Code::kInvalidRequest, "--concurrency must be 1 to 256"),
                kExitUsage);
  auto set = migrate::LoadMigrationSet(a.dir);
  if (!set.ok()) return Fail(a.json, cmd, set.status(), kExitUsage);
  if (set->migrations.empty()) {
    return Fail(a.json, cmd,
                Status(Code::kInvalidRequest, "no migration files (NNNN_name.sql) in " + a.dir),
                kExitUsage);
  }
  bool usage_error = false;
  auto names = Databases(a, &usage_error);
  if (!names.ok()) return Fail(a.json, cmd, names.status(), usage_error ? kExitUsage : kExitFailure);

  migrate::ClientFactory factory =
      [&a](const std::string& db) -> Result<std::unique_ptr<shell::SqlClient>> {
    auto c = shell::HranaClient::Create(shell::HranaClientOptions{a.url, a.auth_token, db});
    if (!c.ok()) return c.TakeStatus();
    return std::unique_ptr<shell::SqlClient>(std::move(*c));
  };
  ProgressBar bar(mode == Mode::kApply ? "migrating" : "checking");
  const size_t total = names->size();
  size_t failed_so_far = 0;
  auto outcomes = migrate::RunMigrations(
      *names, *set, migrate::RunOptions{mode, a.concurrency}, factory,
      [&](const DatabaseOutcome& o, size_t done) {
        if (o.state == DatabaseState::kFailed) ++failed_so_far;
        bar.Update(total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total),
                   fmt::format("{}/{} databases{}", done, total,
                               failed_so_far ? fmt::format(", {} failed", failed_so_far) : ""),
                   done >= total);
      });
  bar.Done();

  size_t applied = 0, up_to_date = 0, pending = 0, failed = 0;
  for (const DatabaseOutcome& o : outcomes) {
    switch (o.state) {
      case DatabaseState::kApplied: ++applied; break;
      case DatabaseState::kUpToDate: ++up_to_date; break;
      case DatabaseState::kPending: ++pending; break;
      case DatabaseState::kFailed: ++failed; break;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (a.json) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("directory").String(a.dir);
    w.Key("latest_version").Int(set->latest_version());
    if (mode != Mode::kStatus) w.Key("dry_run").Bool(mode == Mode::kDryRun);
    w.Key("databases").BeginArray();
    for (const DatabaseOutcome& o : outcomes) WriteOutcome(w, o);
    w.EndArray();
    if (mode == Mode::kApply) w.Key("applied").Uint(applied);
    w.Key("up_to_date").Uint(up_to_date);
    if (mode != Mode::kApply) w.Key("pending").Uint(pending);
    w.Key("failed").Uint(failed).Key("seconds").Double(seconds).EndObject();
    std::printf("%s\n", out.c_str());
    return failed > 0 ? kExitFailure : 0;
  }

  std::string text;
  for (const DatabaseOutcome& o : outcomes) {
    switch (o.state) {
      case DatabaseState::kApplied:
        text += fmt::format("{}: applied {} (version {} -> {})\n", o.database, FileList(o.files),
                            o.version, o.target_version);
        break;
      case DatabaseState::kPending:
        text += mode == Mode::kDryRun
                    ? fmt::format("{}: would apply {} (version {} -> {})\n", o.database,
                                  FileList(o.files), o.version, o.target_version)
                    : fmt::format("{}: {}, pending: {}\n", o.database, VersionText(o),
                                  FileList(o.files));
        break;
      case DatabaseState::kUpToDate:
        if (mode == Mode::kStatus)
          text += fmt::format("{}: {}, up to date\n", o.database, VersionText(o));
        break;
      case DatabaseState::kFailed:
        if (mode == Mode::kStatus)
          text += fmt::format("{}: FAILED: {}\n", o.database, o.error);
        break;
    }
  }
  if (mode == Mode::kApply) {
    text += fmt::format("{} databases: {} applied, {} up to date, {} failed ({:.2f} s)\n",
                        outcomes.size(), applied, up_to_date, failed, seconds);
  } else if (mode == Mode::kDryRun) {
    text += fmt::format(
        "{} databases: {} would be migrated, {} up to date, {} failed (dry run: nothing "
        "changed)\n",
        outcomes.size(), pending, up_to_date, failed);
  } else {
    text += fmt::format("{} databases: {} up to date, {} pending, {} failed (newest file: version {})\n",
                        outcomes.size(), up_to_date, pending, failed, set->latest_version());
  }
  if (failed > 0 && mode != Mode::kStatus) {
    text += "failed:\n";
    for (const DatabaseOutcome& o : outcomes) {
      if (o.state != DatabaseState::kFailed) continue;
      text += fmt::format("  {}: {}{}\n", o.database, o.error,
                          o.error_code.empty() ? "" : " (" + o.error_code + ")");
    }
  }
  std::fputs(text.c_str(), stdout);
  return failed > 0 ? kExitFailure : 0;
}

void AddCommonOptions(CLI::App* cmd, MigrateArgs* a) {
  cmd->add_option("dir", a->dir, "Directory of migration files (NNNN_name.sql)")->required();
  CLI::Option* all = cmd->add_flag("--all", a->all, "Every database the server has (admin API)");
  CLI::Option* db = cmd->add_option("--db", a->dbs, "A database to migrate; repeatable");
  all->excludes(db);
  cmd->add_option("--url", a->url, "The server's Hrana URL")
      ->envname("CAIRN_URL")
      ->capture_default_str();
  cmd->add_option("--admin-url", a->admin_url, "The server's admin API URL (for --all)")
      ->envname("CAIRN_ADMIN_URL")
      ->capture_default_str();
  cmd->add_option("--auth-token", a->auth_token, "Bearer token for the Hrana API")
      ->envname("CAIRN_AUTH_TOKEN");
  cmd->add_option("--admin-auth-key", a->admin_auth_key,
                  "Bearer key for the admin API (serve --admin-auth-key)")
      ->envname("CAIRN_ADMIN_AUTH_KEY");
  cmd->add_flag("--json", a->json, "Print the result as one JSON object on stdout");
  cmd->add_option("--concurrency", a->concurrency, "Databases migrated at the same time")
      ->capture_default_str();
}

}  // namespace

void AddMigrateCommands(CLI::App& app) {
  CLI::App* migrate = app.add_subcommand(
      "migrate", "Apply ordered SQL migration files to many databases through a running server");
  migrate->require_subcommand(1);

  auto aa = std::make_shared<MigrateArgs>();
  CLI::App* apply = migrate->add_subcommand(
      "apply", "Apply pending migrations, each database in one transaction");
  AddCommonOptions(apply, aa.get());
  apply->add_flag("--dry-run", aa->dry_run, "Report what would be applied; change nothing");
  apply->callback([aa] {
    const int rc = Run(*aa, aa->dry_run ? Mode::kDryRun : Mode::kApply);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });

  auto sa = std::make_shared<MigrateArgs>();
  CLI::App* status = migrate->add_subcommand(
      "status", "Show each database's applied version and its pending migrations");
  AddCommonOptions(status, sa.get());
  status->callback([sa] {
    const int rc = Run(*sa, Mode::kStatus);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cairn::cli
