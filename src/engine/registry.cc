#include "engine/registry.h"

#include "base/file.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace cairn::engine {

namespace fs = std::filesystem;

Registry::Registry(const RegistryOptions& opts)
    : opts_(opts), checkpointer_(std::make_unique<Checkpointer>()) {
  opts_.database.checkpointer = checkpointer_.get();
  replica_mode_ = opts.database.replica;
  acks_ = opts.replica_acks ? opts.replica_acks : std::make_shared<ReplicaAcks>();
  // A change of a database's limits is a change replicas follow (they copy the limits).
  if (opts_.limits && opts_.on_change) opts_.limits->SetOnChange(opts_.on_change);
}

Registry::~Registry() {
  CloseAll();
  checkpointer_.reset();
}

Status Registry::ValidateName(std::string_view name) {
  auto bad = [&](const std::string& why) {
    return Status(Code::kInvalidName, "invalid database name '" + std::string(name) + "': " + why);
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > 63) return bad("it is longer than 63 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return bad("only lower-case letters, digits, '-' and '_' are allowed");
  }
  if (name[0] == '-' || name[0] == '_') return bad("it must start with a letter or digit");
  return Status::Ok();
}

std::string Registry::DirOf(std::string_view name) const {
  return opts_.data_dir + "/databases/" + std::string(name);
}
std::string Registry::FileOf(std::string_view name) const { return DirOf(name) + "/data.sqlite"; }

DatabaseOptions Registry::OptionsFor(const std::string& name) const {
  DatabaseOptions o = opts_.database;
  const bool replica = replica_mode_.load();
  o.replica = replica;
  o.write_fence = write_fence_;
  o.replica_acks = acks_;
  if (opts_.txlog && replica) {
    // A replica keeps a log of what it applied, in a directory of its own, for the embedded
    // replicas it feeds (libsql_sync): a lineage of its own, never uploaded, pruned by the same
    // rule. A promoted replica opens txlog/ and starts its primary's generation afresh.
    o.txlog_dir = DirOf(name) + "/txlog-replica";
    o.txlog.retention = opts_.log_retention;
  } else if (opts_.txlog) {
    o.txlog_dir = LogDirOf(name);
    if (opts_.on_log_durable)
      o.txlog.on_durable = [cb = opts_.on_log_durable, name](uint64_t bytes) { cb(name, bytes); };
    o.txlog.retention = opts_.log_retention;
    if (opts_.log_released)
      o.txlog.released = [cb = opts_.log_released, name](const std::string& gen) {
        return cb(name, gen);
      };
  }
  if (opts_.limits) o.limits = opts_.limits->For(name);
  if (opts_.on_change) o.on_commit = [cb = opts_.on_change, name] { cb(name); };
  return o;
}

Result<std::unique_ptr<Registry>> Registry::Open(const RegistryOptions& opts) {
  std::unique_ptr<Registry> r(new Registry(opts));
  std::error_code ec;
  fs::create_directories(opts.data_dir + "/databases", ec);
  if (ec) return Status(Code::kIOError, "cannot create " + opts.data_dir + ": " + ec.message());
  std::vector<fs::path> interrupted;  // deletions a crash interrupted (Delete): finish them
  for (const auto& entry : fs::directory_iterator(opts.data_dir + "/databases", ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind(".deleted-", 0) == 0) interrupted.push_back(entry.path());
    if (!entry.is_directory() || !ValidateName(name).ok()) continue;
    if (fs::exists(entry.path() / "data.sqlite")) r->known_.insert(name);
  }
  if (ec) return Status(Code::kIOError, "cannot list " + opts.data_dir + ": " + ec.message());
  // <data_dir>/tmp is scratch space (restores for verification, snapshots being assembled): what
  // a crash left there serves nobody.
  interrupted.push_back(fs::path(opts.data_dir) / "tmp");
  for (const fs::path& p : interrupted) {
    fs::remove_all(p, ec);
    if (ec) spdlog::warn("cannot remove {}: {}", p.string(), ec.message());
    ec.clear();
  }
  if (!r->known_.count("default")) CAIRN_RETURN_IF_ERROR(r->Create("default"));
  return r;
}

bool Registry::Exists(std::string_view name) const {
  std::lock_guard lk(mu_);
  return known_.count(std::string(name)) != 0;
}

std::vector<std::string> Registry::List() const {
  std::lock_guard lk(mu_);
  std::vector<std::string> names(known_.begin(), known_.end());
  std::sort(names.begin(), names.end());
  return names;
}

size_t Registry::open_count() const {
  std::lock_guard lk(mu_);
  return open_.size();
}

Result<std::shared_ptr<Database>> Registry::Get(std::string_view name) {
  const int64_t now = opts_.database.clock->MonotonicMicros();
  std::string key(name);
  {
    std::unique_lock lk(mu_);
    // A handle being closed must be gone before another opens the file, and only one thread
    // opens it at a time (one writer, one log: two handles opened at once would each start a log
    // generation of their own).
    closed_cv_.wait(lk, [&] { return closing_.count(key) == 0 && opening_.count(key) == 0; });
    auto it = open_.find(key);
    if (it != open_.end()) {
      it->second.last_used = now;
      return it->second.db;
    }
    if (!known_.count(key)) return Status(Code::kNotFound, "database '" + key + "' does not exist");
    opening_.insert(key);
  }
  // Open outside the lock (other databases are not held up).
  const uint64_t epoch = mode_epoch_.load();
  auto db = Database::Open(key, FileOf(key), OptionsFor(key), false);
  bool over = false;
  bool stale = false;
  bool gone = false;
  {
    std::lock_guard lk(mu_);
    opening_.erase(key);
    if (db.ok()) {
      gone = !known_.count(key);
      stale = epoch != mode_epoch_.load();  // the role changed while it opened
      if (!gone && !stale) {
        open_.emplace(key, OpenDb{*db, now});
        over = open_.size() > opts_.max_open;
      }
    }
  }
  closed_cv_.notify_all();
  if (!db.ok()) return db.status();
  if (gone || stale) {
    (*db)->Close();
    if (gone) return Status(Code::kNotFound, "database '" + key + "' does not exist");
    // Opened in the role the server no longer has: open it again in the new one.
    return Get(name);
  }
  if (over) CloseIdleSoon();
  return *db;
}

Status Registry::Create(std::string_view name) {
  CAIRN_RETURN_IF_ERROR(ValidateName(name));
  std::string key(name);
  {
    std::lock_guard lk(mu_);
    if (known_.count(key) || creating_.count(key))
      return Status(Code::kAlreadyExists, "database '" + key + "' already exists");
    creating_.insert(key);
  }
  auto opened = [&]() -> Result<std::shared_ptr<Database>> {
    std::error_code ec;
    fs::create_directories(DirOf(key), ec);
    if (ec) return Status(Code::kIOError, "cannot create " + DirOf(key) + ": " + ec.message());
    // Creating the file through SQLite puts it in WAL mode from the first byte.
    CAIRN_ASSIGN_OR_RETURN(auto db, Database::Open(key, FileOf(key), OptionsFor(key), true));
    // SQLite wrote the new file without syncing: make the file and its name durable, once.
    CAIRN_RETURN_IF_ERROR(SyncFile(FileOf(key)));
    CAIRN_RETURN_IF_ERROR(SyncDir(DirOf(key)));
    CAIRN_RETURN_IF_ERROR(SyncDir(opts_.data_dir + "/databases"));
    return db;
  }();
  if (!opened.ok()) {
    std::lock_guard lk(mu_);
    creating_.erase(key);
    return opened.TakeStatus();
  }
  // The new database stays open: it is usually used right away (the LRU closes it when idle).
  auto db = std::move(opened).value();
  bool over = false;
  {
    std::lock_guard lk(mu_);
    creating_.erase(key);
    known_.insert(key);
    open_.try_emplace(key, OpenDb{std::move(db), opts_.database.clock->MonotonicMicros()});
    over = open_.size() > opts_.max_open;
  }
  if (over) CloseIdleSoon();
  if (opts_.on_change) opts_.on_change(key);
  return Status::Ok();
}

Status Registry::CreateFrom(std::string_view name,
                            const std::function<Status(const std::string& path)>& fill) {
  CAIRN_RETURN_IF_ERROR(ValidateName(name));
  std::string key(name);
  {
    std::lock_guard lk(mu_);
    if (known_.count(key) || creating_.count(key))
      return Status(Code::kAlreadyExists, "database '" + key + "' already exists");
    creating_.insert(key);
  }
  auto done = [&](Status st) {
    std::lock_guard lk(mu_);
    creating_.erase(key);
    if (st.ok()) known_.insert(key);
    return st;
  };
  std::error_code ec;
  if (fs::exists(DirOf(key), ec))
    return done(Status(Code::kAlreadyExists, "files of '" + key + "' exist"));
  fs::create_directories(DirOf(key), ec);
  if (ec) return done(Status(Code::kIOError, "cannot create " + DirOf(key) + ": " + ec.message()));
  Status st = fill(FileOf(key));
  if (st.ok()) {
    // Opening it starts the new database's own log (a snapshot of what was filled in).
    auto db = Database::Open(key, FileOf(key), OptionsFor(key), false);
    st = db.status();
    if (db.ok()) (*db)->Close();
  }
  if (!st.ok()) fs::remove_all(DirOf(key), ec);
  st = done(st);
  if (st.ok() && opts_.on_change) opts_.on_change(key);
  return st;
}

Status Registry::Delete(std::string_view name) {
  CAIRN_RETURN_IF_ERROR(ValidateName(name));
  std::string key(name);
  std::shared_ptr<Database> db;
  {
    std::lock_guard lk(mu_);
    if (!known_.erase(key)) return Status(Code::kNotFound, "database '" + key + "' does not exist");
    auto it = open_.find(key);
    if (it != open_.end()) {
      db = std::move(it->second.db);
      open_.erase(it);
    }
  }
  if (db) db->Close();
  std::error_code ec;
  // Move aside first so a half-finished removal never leaves a database that looks valid.
  std::string trash = opts_.data_dir + "/databases/.deleted-" + key + "-" +
                      std::to_string(opts_.database.clock->WallMicros());
  fs::rename(DirOf(key), trash, ec);
  if (ec) return Status(Code::kIOError, "cannot remove database '" + key + "': " + ec.message());
  fs::remove_all(trash, ec);
  if (ec) spdlog::warn("leftover files of deleted database {} in {}", key, trash);
  if (opts_.on_change) opts_.on_change(key);
  return Status::Ok();
}

void Registry::CloseIdleSoon() {
  // Closing checkpoints (and syncs): keep it off the request that opened one database too many.
  if (close_pending_.exchange(true)) return;
  checkpointer_->Post([this] {
    close_pending_ = false;
    CloseIdle();
  });
}

void Registry::CloseIdle() {
  const int64_t now = opts_.database.clock->MonotonicMicros();
  const int64_t idle_micros =
      std::chrono::duration_cast<std::chrono::microseconds>(opts_.idle_close).count();
  std::vector<std::shared_ptr<Database>> to_close, still_open;
  {
    std::lock_guard lk(mu_);
    std::vector<std::pair<int64_t, std::string>> candidates;
    for (auto& [name, od] : open_)
      // Sessions of streams between requests may still hold the handle: they move to a fresh one
      // (Database::TryUse), so an idle handle closes even then.
      if (od.db->Idle()) candidates.emplace_back(od.last_used, name);
    std::sort(candidates.begin(), candidates.end());
    size_t excess = open_.size() > opts_.max_open ? open_.size() - opts_.max_open : 0;
    for (auto& [last, name] : candidates) {
      if (excess == 0 && now - last < idle_micros) break;
      auto it = open_.find(name);
      to_close.push_back(std::move(it->second.db));
      open_.erase(it);
      closing_.insert(name);
      if (excess) --excess;
    }
    for (auto& [name, od] : open_) still_open.push_back(od.db);
  }
  std::vector<std::shared_ptr<Database>> busy;
  for (auto& db : to_close)
    if (!db->CloseIfIdle() && !db->closed()) busy.push_back(db);  // became busy since the check
  {
    std::lock_guard lk(mu_);
    for (auto& db : busy) open_.try_emplace(db->name(), OpenDb{db, now});
    for (auto& db : to_close) closing_.erase(db->name());
  }
  closed_cv_.notify_all();
  for (auto& db : still_open) {
    db->DropStaleSnapshots();  // lets checkpoints reach the WAL's end
    db->SaveUsage();
  }
}

void Registry::SetReplica(bool replica) {
  {
    std::lock_guard lk(mu_);
    replica_mode_ = replica;
    mode_epoch_++;
  }
  CloseAll();
}

void Registry::CloseAll() {
  std::unordered_map<std::string, OpenDb> all;
  {
    std::lock_guard lk(mu_);
    all.swap(open_);
  }
  for (auto& [name, od] : all) od.db->Close();
}

}  // namespace cairn::engine
