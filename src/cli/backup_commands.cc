#include "cli/backup_commands.h"
#include "cli/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backup/restore.h"
#include "base/file.h"
#include "base/json_writer.h"
#include "engine/registry.h"
#include "objectstore/object_store.h"
#include "txlog/format.h"
#include "txlog/txlog.h"

namespace cairn::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct RestoreArgs {
  std::string name;
  bool all = false;
  std::string from;
  std::string out;
  std::string data_dir;
  std::string to_time;
  std::optional<uint64_t> to_tx;
  std::string generation;
  bool json = false;
  bool overwrite = false;
};

struct VerifyArgs {
  std::string name;
  std::string from;
  std::string db;
  bool json = false;
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string Megabytes(uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

// A one-line progress bar on stderr, drawn only when stderr is a terminal.

// Prints a failure: {"error": ..., "code": ...} on stdout with --json, else a line on stderr.
int Fail(bool json, const std::string& command, const Status& st, int code = kExitFailure) {
  if (json) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject()
        .Key("error")
        .String(st.message())
        .Key("code")
        .String(CodeName(st.code()))
        .EndObject();
    std::printf("%s\n", out.c_str());
  } else {
    std::fprintf(stderr, "cairn %s: %s\n", command.c_str(), st.message().c_str());
  }
  return code;
}

Result<std::unique_ptr<objectstore::ObjectStore>> OpenStore(const std::string& url) {
  if (url.empty()) return Status(Code::kInvalidRequest, "--from URL is required");
  return objectstore::Open(url);
}

std::string DataDirPath(const std::string& data_dir, const std::string& name) {
  return data_dir + "/databases/" + name + "/data.sqlite";
}

// One database restored (or the reason it was not), for output.
struct Outcome {
  std::string database;
  std::string path;
  backup::RestorePlan plan;
  backup::RestoreResult result;
  double seconds = 0;
  bool skipped = false;  // --all: the file exists and --overwrite was not given
  Status status;
};

void WriteOutcome(JsonWriter& w, const Outcome& o) {
  w.BeginObject().Key("database").String(o.database).Key("path").String(o.path);
  if (!o.status.ok()) {
    w.Key("error").String(o.status.message()).Key("code").String(CodeName(o.status.code()));
  } else if (o.skipped) {
    w.Key("skipped").Bool(true);
  } else {
    w.Key("generation").String(o.plan.generation);
    w.Key("txid").Uint(o.result.position.txid);
    w.Key("checksum").String(fmt::format("{:016x}", o.result.position.checksum));
    w.Key("time");
    if (o.result.position.txid == 0)
      w.Null();  // the empty database: no transaction, no time
    else
      w.String(backup::FormatTimeRfc3339(o.result.time_us));
    w.Key("pages").Uint(o.result.page_count);
    w.Key("page_size").Uint(o.result.page_size);
    w.Key("bytes").Uint(o.result.bytes);
    w.Key("downloaded_bytes").Uint(o.result.downloaded_bytes);
    w.Key("seconds").Double(o.seconds);
  }
  w.EndObject();
}

std::string DescribeOutcome(const Outcome& o) {
  if (!o.status.ok()) return fmt::format("{}: FAILED: {}", o.database, o.status.message());
  if (o.skipped)
    return fmt::format("{}: skipped, {} exists (--overwrite replaces it)", o.database, o.path);
  const double mbps = o.seconds > 0 ? static_cast<double>(o.result.bytes) / 1e6 / o.seconds : 0;
  return fmt::format(
      "{}: restored to {} at txid {} ({}), generation {}, {} pages, {} in {:.2f} s ({:.0f} MB/s)",
      o.database, o.path, o.result.position.txid,
      o.result.position.txid == 0 ? "empty database" : backup::FormatTimeRfc3339(o.result.time_us),
      o.plan.generation, o.result.page_count, Megabytes(o.result.bytes), o.seconds, mbps);
}

// Plans and restores one database into `path` (creating its directory when `make_dir`).
Outcome RestoreOne(objectstore::ObjectStore* store, const std::string& name,
                   const std::string& path, const backup::RestoreTarget& target, bool overwrite,
                   bool make_dir) {
  Outcome o;
  o.database = name;
  o.path = path;
  const auto start = std::chrono::steady_clock::now();
  auto plan = backup::PlanRestore(store, name, target);
  if (!plan.ok()) {
    o.status = plan.TakeStatus();
    return o;
  }
  o.plan = std::move(plan).value();
  if (make_dir) {
    const std::string dir = fs::path(path).parent_path().string();
    if (Status st = MakeDirs(dir); !st.ok()) {
      o.status = st;
      return o;
    }
  }
  ProgressBar bar("restoring " + name);
  backup::RestoreOptions opts;
  opts.overwrite = overwrite;
  opts.progress = [&bar](uint64_t done, uint64_t total) {
    bar.Update(total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total),
               Megabytes(done) + " / " + Megabytes(total), done >= total);
  };
  auto res = backup::Restore(store, o.plan, path, opts);
  bar.Done();
  o.seconds = SecondsSince(start);
  if (!res.ok()) {
    o.status = res.TakeStatus();
    return o;
  }
  o.result = *res;
  return o;
}

int RunRestore(const RestoreArgs& a) {
  const char* cmd = "restore";
  auto usage = [&](const std::string& msg) {
    return Fail(a.json, cmd, Status(Code::kInvalidRequest, msg), kExitUsage);
  };
  if (a.all) {
    if (!a.name.empty()) return usage("give either a database NAME or --all, not both");
    if (a.data_dir.empty()) return usage("--all needs --data-dir DIR");
    if (!a.out.empty()) return usage("--all restores into --data-dir; -o is for one database");
    if (a.to_tx || !a.generation.empty())
      return usage("--to-tx and --generation name one database's history");
  } else {
    if (a.name.empty()) return usage("give the database NAME to restore (or --all)");
    if (a.out.empty() == a.data_dir.empty())
      return usage("give exactly one of -o PATH and --data-dir DIR");
  }
  backup::RestoreTarget target;
  target.txid = a.to_tx;
  target.generation = a.generation;
  if (!a.to_time.empty()) {
    target.time_us = backup::ParseTimeRfc3339(a.to_time);
    if (!target.time_us) {
      return usage("--to-time '" + a.to_time +
                   "' is not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z)");
    }
  }
  auto store = OpenStore(a.from);
  if (!store.ok()) return Fail(a.json, cmd, store.status(), kExitUsage);

  if (!a.all) {
    if (Status st = engine::Registry::ValidateName(a.name); !st.ok()) {
      return Fail(a.json, cmd, st, kExitUsage);
    }
    const std::string path = a.out.empty() ? DataDirPath(a.data_dir, a.name) : a.out;
    Outcome o = RestoreOne(store->get(), a.name, path, target, a.overwrite, a.out.empty());
    if (!o.status.ok()) return Fail(a.json, cmd, o.status);
    if (a.json) {
      std::string out;
      JsonWriter w(&out);
      WriteOutcome(w, o);
      std::printf("%s\n", out.c_str());
    } else {
      std::printf("%s\n", DescribeOutcome(o).c_str());
    }
    return 0;
  }

  const auto start = std::chrono::steady_clock::now();
  auto names = backup::ListDatabases(store->get());
  if (!names.ok()) return Fail(a.json, cmd, names.status());
  std::vector<Outcome> outcomes;
  int restored = 0, skipped = 0, failed = 0;
  for (const std::string& name : *names) {
    Outcome o;
    o.database = name;
    o.path = DataDirPath(a.data_dir, name);
    if (Status st = engine::Registry::ValidateName(name); !st.ok()) {
      o.status = st;  // never write outside DIR/databases for a strange name in the store
    } else if (!a.overwrite && fs::exists(o.path)) {
      o.skipped = true;
    } else {
      o = RestoreOne(store->get(), name, o.path, target, a.overwrite, true);
    }
    if (!o.status.ok())
      ++failed;
    else if (o.skipped)
      ++skipped;
    else
      ++restored;
    if (!a.json) std::printf("%s\n", DescribeOutcome(o).c_str());
    std::fflush(stdout);
    outcomes.push_back(std::move(o));
  }
  if (a.json) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("databases").BeginArray();
    for (const Outcome& o : outcomes) WriteOutcome(w, o);
    w.EndArray();
    w.Key("restored").Int(restored).Key("skipped").Int(skipped).Key("failed").Int(failed);
    w.Key("seconds").Double(SecondsSince(start)).EndObject();
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("%d restored, %d skipped, %d failed (of %zu databases in %s)\n", restored, skipped,
                failed, names->size(), (*store)->Describe().c_str());
  }
  return failed > 0 ? kExitFailure : 0;
}

// What the database's local transaction log (beside it, docs/txlog.md) says about a position.
struct LocalLogView {
  bool found = false;                     // the generation exists locally
  std::optional<uint64_t> live_txid;      // a local file ends where the live database stands
  std::optional<uint64_t> checksum_at_n;  // the local log's checksum after the backup's txid
};

Result<txlog::FileHeader> ReadLocalHeader(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::string head(txlog::kHeaderSize, '\0');
  if (!f.read(head.data(), static_cast<std::streamsize>(head.size()))) {
    return Status(Code::kIOError, "cannot read " + path);
  }
  return txlog::FileReader::ReadHeader(head);
}

LocalLogView InspectLocalLog(const std::string& db_path, const std::string& generation,
                             uint64_t txid, uint64_t live_checksum) {
  LocalLogView v;
  const std::string dir = fs::path(db_path).parent_path().string() + "/txlog/" + generation;
  auto names = ListDir(dir);
  if (!names.ok()) return v;
  v.found = true;
  for (const std::string& n : *names) {
    txlog::ParsedName p;
    if (!txlog::ParseFileName(n, &p)) continue;
    auto h = ReadLocalHeader(dir + "/" + n);
    if (!h.ok()) continue;
    if (h->post_checksum == live_checksum && (!v.live_txid || h->max_txid > *v.live_txid))
      v.live_txid = h->max_txid;
    if (v.checksum_at_n || h->min_txid > txid || h->max_txid < txid) continue;
    if (h->max_txid == txid) {
      v.checksum_at_n = h->post_checksum;
      continue;
    }
    auto bytes = ReadWholeFile(dir + "/" + n);
    if (!bytes.ok()) continue;
    auto r = txlog::FileReader::Open(*bytes);
    if (!r.ok()) continue;
    txlog::RecordHeader rh;
    for (;;) {
      auto more = (*r)->NextRecord(&rh);
      if (!more.ok() || !*more) break;
      if (rh.txid == txid) {
        v.checksum_at_n = rh.post_checksum;
        break;
      }
    }
  }
  return v;
}

int RunVerify(const VerifyArgs& a) {
  const char* cmd = "verify";
  const auto start = std::chrono::steady_clock::now();
  if (a.db.empty())
    return Fail(a.json, cmd, Status(Code::kInvalidRequest, "--db PATH is required"), kExitUsage);
  if (!fs::exists(a.db))
    return Fail(a.json, cmd, Status(Code::kNotFound, "no database at " + a.db), kExitUsage);
  auto store = OpenStore(a.from);
  if (!store.ok()) return Fail(a.json, cmd, store.status(), kExitUsage);

  static std::mt19937_64 rng{std::random_device{}()};
  const std::string tmp =
      (fs::temp_directory_path() / fmt::format("cairn-verify-{}-{:016x}.sqlite", ::getpid(), rng()))
          .string();
  Outcome o = RestoreOne(store->get(), a.name, tmp, {}, false, false);
  struct Cleanup {
    const std::string& path;
    ~Cleanup() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  } cleanup{tmp};
  if (!o.status.ok()) return Fail(a.json, cmd, o.status);
  auto live = txlog::TxLog::ComputeImage(a.db);
  if (!live.ok()) return Fail(a.json, cmd, live.status());

  const txlog::Position backup_pos = o.result.position;
  const bool match = live->checksum == backup_pos.checksum;
  LocalLogView local;
  if (!match) local = InspectLocalLog(a.db, o.plan.generation, backup_pos.txid, live->checksum);
  const bool ahead = local.live_txid && *local.live_txid > backup_pos.txid;
  // Whether the local log has the backup's checksum at the backup's txid (unknown without it).
  enum class InHistory { kUnknown, kYes, kNo };
  const InHistory in_history = !local.checksum_at_n                          ? InHistory::kUnknown
                               : *local.checksum_at_n == backup_pos.checksum ? InHistory::kYes
                                                                             : InHistory::kNo;

  if (a.json) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("database").String(a.name).Key("generation").String(o.plan.generation);
    w.Key("txid")
        .Uint(backup_pos.txid)
        .Key("checksum")
        .String(fmt::format("{:016x}", backup_pos.checksum));
    w.Key("time");
    if (backup_pos.txid == 0)
      w.Null();
    else
      w.String(backup::FormatTimeRfc3339(o.result.time_us));
    w.Key("live_checksum").String(fmt::format("{:016x}", live->checksum));
    w.Key("live_pages").Uint(live->page_count);
    w.Key("match").Bool(match);
    w.Key("live_ahead").Bool(ahead);
    w.Key("live_txid");
    if (match)
      w.Uint(backup_pos.txid);
    else if (local.live_txid)
      w.Uint(*local.live_txid);
    else
      w.Null();
    w.Key("backup_in_local_history");
    if (in_history == InHistory::kUnknown)
      w.Null();
    else
      w.Bool(in_history == InHistory::kYes);
    if (!match)
      w.Key("error").String(
          fmt::format("live database differs from backup at txid {}", backup_pos.txid));
    w.Key("seconds").Double(SecondsSince(start)).EndObject();
    std::printf("%s\n", out.c_str());
    return match ? 0 : kExitFailure;
  }
  if (match) {
    std::printf(
        "ok: %s matches its backup at txid %llu (generation %s, %s, checksum %016llx)\n",
        a.db.c_str(), static_cast<unsigned long long>(backup_pos.txid), o.plan.generation.c_str(),
        backup_pos.txid == 0 ? "empty" : backup::FormatTimeRfc3339(o.result.time_us).c_str(),
        static_cast<unsigned long long>(backup_pos.checksum));
    return 0;
  }
  std::string msg = fmt::format(
      "live database differs from backup at txid {}\n  backup: txid {}, checksum {:016x} "
      "(generation {})\n"
      "  live:   checksum {:016x}, {} pages\n",
      backup_pos.txid, backup_pos.txid, backup_pos.checksum, o.plan.generation, live->checksum,
      live->page_count);
  if (ahead) {
    msg += fmt::format(
        "  the live database is ahead of the backup: its local log ends at txid {} with its "
        "checksum",
        *local.live_txid);
    if (in_history != InHistory::kUnknown) {
      msg +=
          in_history == InHistory::kYes
              ? fmt::format(
                    ", and has the backup's checksum at txid {} (the backup is behind, not wrong)",
                    backup_pos.txid)
              : fmt::format(", but a different checksum at txid {} (the backup diverges)",
                            backup_pos.txid);
    }
    msg += "\n";
  } else if (in_history == InHistory::kNo) {
    msg += fmt::format(
        "  the local log has a different checksum at txid {}: the backup diverges from it\n",
        backup_pos.txid);
  } else if (!local.found) {
    msg +=
        "  (no local log of this generation beside the database to tell whether it is just "
        "ahead)\n";
  }
  std::fputs(msg.c_str(), stderr);
  return kExitFailure;
}

}  // namespace

void AddBackupCommands(CLI::App& app) {
  auto ra = std::make_shared<RestoreArgs>();
  CLI::App* restore = app.add_subcommand(
      "restore",
      "Restore a database (or --all) from a backup store, to its newest or an earlier state");
  restore->add_option("name", ra->name, "Database to restore");
  restore->add_flag("--all", ra->all, "Restore every database in the store into --data-dir");
  restore
      ->add_option("--from", ra->from,
                   "Backup store: file:///dir, a directory path, or s3://bucket/prefix")
      ->required();
  CLI::Option* out = restore->add_option("-o,--output", ra->out, "Write the database to this file");
  CLI::Option* data_dir =
      restore->add_option("--data-dir", ra->data_dir, "Write into DIR/databases/NAME/data.sqlite");
  out->excludes(data_dir);
  CLI::Option* to_time =
      restore->add_option("--to-time", ra->to_time,
                          "Restore every transaction committed at or before this RFC 3339 time");
  CLI::Option* to_tx =
      restore->add_option("--to-tx", ra->to_tx, "Restore up to this transaction id");
  to_time->excludes(to_tx);
  restore->add_option("--generation", ra->generation, "Restore from this log generation");
  restore->add_flag("--json", ra->json, "Print the result as one JSON object on stdout");
  restore->add_flag("--overwrite", ra->overwrite, "Replace existing database files");
  restore->callback([ra] {
    const int rc = RunRestore(*ra);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });

  auto va = std::make_shared<VerifyArgs>();
  CLI::App* verify = app.add_subcommand("verify",
                                        "Check that a database file matches its newest backup "
                                        "(nothing may write it meanwhile: stop the "
                                        "server first)");
  verify->add_option("name", va->name, "Database name in the store")->required();
  verify->add_option("--from", va->from, "Backup store URL")->required();
  verify->add_option("--db", va->db, "The live database file")->required();
  verify->add_flag("--json", va->json, "Print the result as one JSON object on stdout");
  verify->callback([va] {
    const int rc = RunVerify(*va);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace cairn::cli
