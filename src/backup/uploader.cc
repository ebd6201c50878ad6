#include "backup/uploader.h"

#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <random>

#include "backup/restore.h"
#include "base/file.h"
#include "txlog/checksum.h"
#include "txlog/format.h"
#include "txlog/local_log.h"
#include "txlog/txlog.h"

namespace cairn::backup {
namespace {

constexpr char kMarker[] = "uploaded";

using txlog::LocalFile;

// The log files of one generation directory, by txid (a snapshot before a log ending at its txid);
// sizes only of those after `uploaded` (the ones already in the store are the log's window).
Result<std::vector<LocalFile>> LocalFiles(const std::string& dir, const std::string& gen,
                                          uint64_t uploaded = 0) {
  return txlog::ListGenerationFiles(dir, gen, uploaded);
}

uint64_t ReadMarker(const std::string& gdir) {
  auto s = ReadWholeFile(gdir + "/" + kMarker);
  if (!s.ok()) return 0;
  try {
    return std::stoull(*s);
  } catch (...) {
    return 0;
  }
}

std::string LevelPrefix(const std::string& db, const std::string& gen, int level) {
  return fmt::format("{}/{}/log/L{}/", db, gen, level);
}

// Joins consecutive files into one: by concatenation when each starts where the previous ended
// (the usual case: no recompression), else record by record, skipping records already written
// (files may overlap after a lost acknowledgement).
Result<std::string> Merge(const std::vector<std::string>& files, int zstd_level,
                          txlog::FileHeader* out) {
  {
    std::vector<std::string_view> views(files.begin(), files.end());
    auto joined = txlog::ConcatFiles(views, out);
    if (joined.ok()) return joined;
    if (joined.status().code() == Code::kCorruption) return joined.TakeStatus();
  }
  std::unique_ptr<txlog::FileWriter> w;
  uint64_t last = 0;
  txlog::Record r;
  for (const std::string& bytes : files) {
    CAIRN_ASSIGN_OR_RETURN(auto reader, txlog::FileReader::Open(bytes));
    if (!w) w = std::make_unique<txlog::FileWriter>(reader->header().page_size, 0, zstd_level);
    for (;;) {
      CAIRN_ASSIGN_OR_RETURN(bool more, reader->ReadRecord(&r));
      if (!more) break;
      if (last != 0 && r.h.txid <= last) continue;
      if (last != 0 && r.h.txid != last + 1)
        return Status(Code::kCorruption, fmt::format("log files leave a gap after txid {}", last));
      CAIRN_RETURN_IF_ERROR(w->Add(r));
      last = r.h.txid;
    }
  }
  if (!w) return Status(Code::kInternal, "nothing to merge");
  *out = w->header();
  return w->Finish();
}

}  // namespace

Uploader::Uploader(objectstore::ObjectStore* store,
                   std::function<std::string(const std::string&)> log_dir_of, UploaderOptions opts)
    : store_(store), log_dir_of_(std::move(log_dir_of)), opts_(opts) {}

Uploader::~Uploader() { Stop(std::chrono::milliseconds(0)); }

void Uploader::ScheduleLocked(const std::string& db, DbState* st, int64_t due) {
  if (st->due_us != 0) queue_.erase({st->due_us, db});
  st->due_us = due;
  queue_.insert({due, db});
  cv_.notify_one();
}

void Uploader::Start(const std::vector<std::string>& names) {
  const int64_t now = opts_.clock->MonotonicMicros();
  for (const std::string& db : names) {
    const std::string dir = log_dir_of_(db);
    auto gens = txlog::TxLog::Generations(dir);
    if (!gens.ok()) continue;
    bool pending = false;
    for (const std::string& gen : *gens) {
      auto files = LocalFiles(dir, gen);
      const uint64_t done = ReadMarker(dir + "/" + gen);
      if (files.ok())
        for (const LocalFile& f : *files) pending |= f.p.max_txid > done;
    }
    if (pending) {
      std::lock_guard lk(mu_);
      ScheduleLocked(db, &dbs_[db], now);
    }
  }
  std::lock_guard lk(mu_);
  for (int i = 0; i < std::max(1, opts_.workers); ++i) threads_.emplace_back([this] { Worker(); });
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
}

void Uploader::MaintenanceLoop() {
  std::unique_lock lk(mu_);
  for (;;) {
    maint_cv_.wait_for(lk, opts_.maintenance_interval, [&] { return stop_; });
    if (stop_) return;
    lk.unlock();
    auto dbs = ListDatabases(store_);
    if (dbs.ok()) {
      for (const std::string& db : *dbs) {
        {
          std::lock_guard l(mu_);
          if (stop_) return;
        }
        Status st = Maintain(db);
        if (!st.ok()) spdlog::warn("backup maintenance of {} failed: {}", db, st.ToString());
      }
    }
    lk.lock();
  }
}

void Uploader::Stop(std::chrono::milliseconds grace) {
  std::unique_lock lk(mu_);
  if (threads_.empty()) return;
  draining_ = true;
  cv_.notify_all();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!queue_.empty() ||
         std::any_of(dbs_.begin(), dbs_.end(), [](auto& kv) { return kv.second.busy; })) {
    if (cv_.wait_until(lk, deadline) == std::cv_status::timeout) break;
  }
  stop_ = true;
  cv_.notify_all();
  maint_cv_.notify_all();
  std::vector<std::thread> threads;
  threads.swap(threads_);
  lk.unlock();
  for (auto& t : threads) t.join();
  if (maintenance_.joinable()) maintenance_.join();
}

void Uploader::Notify(const std::string& db, uint64_t bytes) {
  const bool urgent = opts_.urgent && opts_.urgent(db);
  std::lock_guard lk(mu_);
  DbState& st = dbs_[db];
  st.backlog_bytes += bytes;  // measured again by the next upload
  const int64_t now = opts_.clock->MonotonicMicros();
  if (OverBacklogLocked(st) && !st.drop_requested) {
    // A worker drops the backlog now, not after the backoff — even while another one is still
    // trying to upload this database (Worker).
    st.drop_requested = true;
    if (st.busy) st.renotified = true;
    ScheduleLocked(db, &st, now);
    return;
  }
  if (st.busy) {
    st.renotified = true;
    return;
  }
  if (st.due_us == 0) {
    ScheduleLocked(db, &st, now + (urgent ? 0 : DelayMicros()));
  } else if (urgent && st.due_us > now && st.failures == 0) {
    ScheduleLocked(db, &st, now);  // not after a failure: its backoff stands
  }
}

bool Uploader::OverBacklogLocked(const DbState& st) const {
  if (st.suspended || !opts_.suspend_log || !opts_.restart_log) return false;
  uint64_t backlog = 0;
  for (const auto& [name, other] : dbs_) backlog += other.backlog_bytes;
  return backlog > opts_.max_backlog_bytes;
}

int64_t Uploader::Backoff(const DbState& st) const {
  return std::min<int64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(opts_.max_backoff).count(),
      int64_t{100000} << std::min(std::max(st.failures, 1), 10));
}

uint64_t Uploader::UploadedThrough(const std::string& db, const std::string& gen) {
  {
    std::lock_guard lk(mu_);
    auto it = released_.find(db);
    if (it != released_.end()) {
      auto g = it->second.find(gen);
      if (g != it->second.end()) return g->second;
    }
  }
  // Not uploaded by this process yet: what an earlier one recorded.
  const uint64_t done = ReadMarker(log_dir_of_(db) + "/" + gen);
  std::lock_guard lk(mu_);
  return released_[db].emplace(gen, done).first->second;
}

int64_t Uploader::DelayMicros() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(opts_.interval).count();
}

void Uploader::Forget(const std::string& db) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !dbs_[db].busy && !dbs_[db].dropping; });
  DbState& st = dbs_[db];
  if (st.due_us != 0) queue_.erase({st.due_us, db});
  dbs_.erase(db);
  released_.erase(db);
}

void Uploader::Worker() {
  std::unique_lock lk(mu_);
  for (;;) {
    if (stop_) return;
    const int64_t now = opts_.clock->MonotonicMicros();
    auto it = queue_.begin();
    if (it == queue_.end() || (!draining_ && it->first > now)) {
      if (it == queue_.end())
        cv_.wait(lk);
      else
        cv_.wait_for(lk, std::chrono::microseconds(it->first - now));
      continue;
    }
    const std::string db = it->second;
    queue_.erase(it);
    DbState& st = dbs_[db];
    st.due_us = 0;
    if (st.busy) {
      // Another worker is uploading it (an attempt against a failing store may take a while):
      // a drop asked for meanwhile does not wait for that attempt.
      if (st.drop_requested && !st.dropping) {
        st.dropping = true;
        lk.unlock();
        Status ds = DropLocalBacklog(db);
        lk.lock();
        st.dropping = false;
        st.drop_requested = false;
        if (ds.ok()) stats_.backlog_overflows++;
        if (!ds.ok()) {
          spdlog::error("cannot bound the backlog of {}: {}", db, ds.ToString());
        } else if (st.busy) {
          st.drop_finished = true;  // the uploading worker resets the state when it is done
          st.backlog_bytes = 0;
          st.backlog_files = 0;
        } else {
          FinishDropLocked(db, &st);
        }
        cv_.notify_all();
      }
      continue;
    }
    st.busy = true;
    st.renotified = false;
    if (OverBacklogLocked(st)) {
      // The store is failing and the local backlog passed its bound since the last attempt.
      st.drop_requested = false;
      lk.unlock();
      Status ds = DropLocalBacklog(db);
      lk.lock();
      st.busy = false;
      if (ds.ok()) {
        FinishDropLocked(db, &st);
        stats_.backlog_overflows++;
      }
      if (!ds.ok()) spdlog::error("cannot bound the backlog of {}: {}", db, ds.ToString());
      if (!stop_ && !draining_)
        ScheduleLocked(db, &st, opts_.clock->MonotonicMicros() + Backoff(st));
      cv_.notify_all();
      continue;
    }
    lk.unlock();
    Status s = UploadDb(db, &st);
    lk.lock();
    st.busy = false;
    const int64_t after = opts_.clock->MonotonicMicros();
    if (st.drop_finished) {
      // Another worker dropped the backlog while this one was uploading.
      st.drop_finished = false;
      FinishDropLocked(db, &st);
      if (s.ok()) s = Status(Code::kUnavailable, "the backlog was dropped during the upload");
    }
    if (!s.ok()) {
      stats_.upload_errors++;
      stats_.store_healthy = false;
      stats_.last_error = s.ToString();
      st.failures++;
      const int64_t backoff = Backoff(st);
      if (st.failures == 1 || st.failures % 20 == 0)
        spdlog::warn("backup of {} failed ({} in a row), retrying: {}", db, st.failures,
                     s.ToString());
      if (OverBacklogLocked(st) && !st.dropping && !stop_) {
        st.busy = true;
        st.drop_requested = false;
        lk.unlock();
        Status ds = DropLocalBacklog(db);
        lk.lock();
        st.busy = false;
        if (ds.ok()) {
        FinishDropLocked(db, &st);
        stats_.backlog_overflows++;
      }
        if (!ds.ok()) spdlog::error("cannot bound the backlog of {}: {}", db, ds.ToString());
      }
      if (!stop_ && !draining_) ScheduleLocked(db, &st, after + backoff);
    } else {
      st.failures = 0;
      stats_.store_healthy = true;
      stats_.last_success_us = opts_.clock->WallMicros();
      if (st.renotified) {
        const bool urgent = opts_.urgent && opts_.urgent(db);
        ScheduleLocked(db, &st, after + (urgent ? 0 : DelayMicros()));
      }
    }
    cv_.notify_all();
  }
}

Result<std::pair<std::string, uint64_t>> Uploader::SyncNow(const std::string& db) {
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !dbs_[db].busy; });
  DbState& st = dbs_[db];
  st.busy = true;
  lk.unlock();
  Status s = UploadDb(db, &st);
  lk.lock();
  st.busy = false;
  if (st.drop_finished) {
    st.drop_finished = false;
    FinishDropLocked(db, &st);
    if (s.ok()) s = Status(Code::kUnavailable, "the backlog was dropped during the upload");
  }
  cv_.notify_all();
  CAIRN_RETURN_IF_ERROR(s);
  if (st.uploaded.empty()) return Status(Code::kNotFound, "no transaction log for " + db);
  return std::make_pair(st.uploaded.rbegin()->first, st.uploaded.rbegin()->second);
}

Status Uploader::UploadDb(const std::string& db, DbState* st) {
  if (st->suspended) {
    // The store must answer before the log restarts (a snapshot would only grow the backlog).
    CAIRN_RETURN_IF_ERROR(store_->List(db + "/").status());
    CAIRN_RETURN_IF_ERROR(opts_.restart_log(db));
    st->suspended = false;
  }
  const std::string dir = log_dir_of_(db);
  CAIRN_ASSIGN_OR_RETURN(std::vector<std::string> gens, txlog::TxLog::Generations(dir));
  // Backlog first: what is local and not yet in the store.
  uint64_t backlog = 0, backlog_files = 0;
  std::vector<std::vector<LocalFile>> all(gens.size());
  for (size_t g = 0; g < gens.size(); ++g) {
    const std::string gdir = dir + "/" + gens[g];
    if (!st->uploaded.count(gens[g])) st->uploaded[gens[g]] = ReadMarker(gdir);
    CAIRN_ASSIGN_OR_RETURN(all[g], LocalFiles(dir, gens[g], st->uploaded[gens[g]]));
    for (const LocalFile& f : all[g])
      if (f.p.max_txid > st->uploaded[gens[g]]) {
        backlog += f.size;
        backlog_files++;
      }
  }
  {
    std::lock_guard lk(mu_);
    st->backlog_bytes = backlog;
    st->backlog_files = backlog_files;
  }
  for (size_t g = 0; g < gens.size(); ++g) {
    const std::string& gen = gens[g];
    const std::string gdir = dir + "/" + gen;
    uint64_t done = st->uploaded[gen];
    std::vector<LocalFile> logs;
    for (const LocalFile& f : all[g]) {
      if (f.p.max_txid <= done) continue;
      if (f.p.snapshot) {
        CAIRN_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(gdir + "/" + f.name));
        CAIRN_RETURN_IF_ERROR(
            store_->Put(fmt::format("{}/{}/snapshots/{}", db, gen, f.name), bytes));
        std::lock_guard lk(mu_);
        stats_.objects_uploaded++;
        stats_.bytes_uploaded += bytes.size();
        done = f.p.max_txid;
      } else {
        logs.push_back(f);
      }
    }
    if (!logs.empty()) {
      std::string data, name;
      std::vector<std::string> contents;
      for (const LocalFile& f : logs) {
        CAIRN_ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(gdir + "/" + f.name));
        contents.push_back(std::move(bytes));
      }
      if (contents.size() == 1) {
        data = std::move(contents[0]);
        name = logs[0].name;
      } else {
        txlog::FileHeader h;
        CAIRN_ASSIGN_OR_RETURN(data, Merge(contents, 1, &h));
        name = txlog::LogFileName(h);
      }
      CAIRN_RETURN_IF_ERROR(store_->Put(LevelPrefix(db, gen, 0) + name, data));
      done = std::max(done, logs.back().p.max_txid);
      std::lock_guard lk(mu_);
      if (auto h = txlog::FileReader::ReadHeader(data); h.ok())
        RecordLag(opts_.clock->WallMicros() - h->min_time_us, h->record_count);
      stats_.objects_uploaded++;
      stats_.bytes_uploaded += data.size();
      st->level_files[gen + "/L0"]++;
    }
    if (done != st->uploaded[gen]) {
      st->uploaded[gen] = done;
      {
        std::lock_guard lk(mu_);
        released_[db][gen] = done;
      }
      if (opts_.on_uploaded) opts_.on_uploaded(db, gen, done);
      // Not synced: losing it only means uploading a file again (puts are idempotent).
      Status ms = WriteFileAtomic(gdir + "/" + kMarker, std::to_string(done));
      if (!ms.ok()) spdlog::warn("backup of {}: {}", db, ms.ToString());
    }
    // The files now in the store are released: the log removes them locally once they leave its
    // window (txlog/local_log.h), with the next flush.
    if (st->level_files[gen + "/L0"] >= opts_.compact_fanout) {
      Status cs = CompactDb(db, gen, st);
      if (!cs.ok()) spdlog::warn("compaction of {} failed: {}", db, cs.ToString());
    }
  }
  std::lock_guard lk(mu_);
  st->backlog_bytes = 0;
  st->backlog_files = 0;
  return Status::Ok();
}

Status Uploader::DropLocalBacklog(const std::string& db) {
  spdlog::error(
      "backup of {}: the store has been unreachable and the local backlog passed {} bytes; "
      "dropping it: the log restarts from a snapshot once the store answers",
      db, opts_.max_backlog_bytes);
  CAIRN_RETURN_IF_ERROR(opts_.suspend_log(db));
  const std::string dir = log_dir_of_(db);
  CAIRN_ASSIGN_OR_RETURN(std::vector<std::string> gens, txlog::TxLog::Generations(dir));
  for (const std::string& g : gens) CAIRN_RETURN_IF_ERROR(RemoveTree(dir + "/" + g));
  return Status::Ok();
}

void Uploader::FinishDropLocked(const std::string& db, DbState* st) {
  st->uploaded.clear();
  released_.erase(db);
  st->suspended = true;
  st->backlog_bytes = 0;
  st->backlog_files = 0;
}

Status Uploader::MergeLevel(const std::string& db, const std::string& gen, int level,
                            const std::vector<objectstore::ObjectInfo>& files) {
  std::vector<std::string> contents;
  for (const auto& f : files) {
    CAIRN_ASSIGN_OR_RETURN(std::string bytes, store_->Get(f.key));
    contents.push_back(std::move(bytes));
  }
  txlog::FileHeader h;
  CAIRN_ASSIGN_OR_RETURN(std::string merged, Merge(contents, 3, &h));
  CAIRN_RETURN_IF_ERROR(
      store_->Put(LevelPrefix(db, gen, level + 1) + txlog::LogFileName(h), merged));
  // Only once the merged file is in place; a crash in between leaves harmless overlap.
  for (const auto& f : files) CAIRN_RETURN_IF_ERROR(store_->Delete(f.key));
  std::lock_guard lk(mu_);
  stats_.compactions++;
  stats_.objects_uploaded++;
  stats_.bytes_uploaded += merged.size();
  stats_.objects_deleted += files.size();
  return Status::Ok();
}

Status Uploader::CompactDb(const std::string& db, const std::string& gen, DbState* st) {
  for (int level = 0; level < 3; ++level) {
    const std::string key = fmt::format("{}/L{}", gen, level);
    if (st->level_files[key] < opts_.compact_fanout) continue;
    CAIRN_ASSIGN_OR_RETURN(auto listed, store_->List(LevelPrefix(db, gen, level)));
    std::vector<objectstore::ObjectInfo> files;
    for (auto& o : listed) {
      txlog::ParsedName p;
      if (txlog::ParseFileName(o.key.substr(o.key.rfind('/') + 1), &p) && !p.snapshot)
        files.push_back(o);
    }
    st->level_files[key] = static_cast<int>(files.size());
    if (static_cast<int>(files.size()) < opts_.compact_fanout) continue;
    CAIRN_RETURN_IF_ERROR(MergeLevel(db, gen, level, files));
    st->level_files[key] = 0;
    st->level_files[fmt::format("{}/L{}", gen, level + 1)]++;
  }
  if (st->level_files[gen + "/L3"] >= opts_.compact_fanout) {
    CAIRN_RETURN_IF_ERROR(Maintain(db));
    st->level_files[gen + "/L3"] = 0;
  }
  return Status::Ok();
}

Status Uploader::BuildSnapshot(const std::string& db, const std::string& gen, uint64_t txid) {
  RestoreTarget target;
  target.txid = txid;
  target.generation = gen;
  CAIRN_ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(store_, db, target));
  thread_local std::mt19937_64 rng{std::random_device{}()};
  CAIRN_RETURN_IF_ERROR(MakeDirs(opts_.scratch_dir));
  const std::string tmp = fmt::format("{}/snapshot-{}-{:x}.sqlite", opts_.scratch_dir, db, rng());
  struct Cleanup {
    std::string path;
    ~Cleanup() { (void)RemoveFile(path); }
  } cleanup{tmp};
  RestoreOptions ro;
  ro.overwrite = true;
  CAIRN_ASSIGN_OR_RETURN(RestoreResult res, Restore(store_, plan, tmp, ro));
  if (res.page_count == 0) return Status::Ok();  // nothing to snapshot
  const uint32_t ps = res.page_size, lock = txlog::LockPage(ps);
  txlog::FileWriter w(ps, txlog::kFlagSnapshot, 3);
  txlog::RecordHeader h{res.position.txid,
                        res.time_us,
                        res.page_count,
                        res.page_count - (lock <= res.page_count ? 1u : 0u),
                        0,
                        res.position.checksum};
  CAIRN_RETURN_IF_ERROR(w.BeginRecord(h));
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Code::kIOError, "cannot open " + tmp);
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  txlog::PageChecksums sums;
  std::string page(ps, '\0');
  for (uint32_t pgno = 1; pgno <= res.page_count; ++pgno) {
    if (pgno == lock) continue;
    if (::pread(fd, page.data(), ps, static_cast<off_t>(pgno - 1) * ps) != static_cast<ssize_t>(ps))
      return Status(Code::kIOError, "short read of " + tmp);
    sums.SetPage(pgno, page.data(), ps);
    CAIRN_RETURN_IF_ERROR(w.AddPage(pgno, page));
  }
  sums.Resize(res.page_count);
  if (sums.checksum() != res.position.checksum)
    return Status(Code::kCorruption,
                  fmt::format("snapshot of {} at txid {} does not match its checksum", db, txid));
  CAIRN_ASSIGN_OR_RETURN(std::string file, w.Finish());
  CAIRN_RETURN_IF_ERROR(store_->Put(
      fmt::format("{}/{}/snapshots/{}", db, gen, txlog::SnapshotFileName(w.header())), file));
  std::lock_guard lk(mu_);
  stats_.snapshots++;
  stats_.objects_uploaded++;
  stats_.bytes_uploaded += file.size();
  return Status::Ok();
}

Status Uploader::Maintain(const std::string& db) {
  CAIRN_ASSIGN_OR_RETURN(std::vector<GenerationInfo> gens, ListGenerations(store_, db));
  if (gens.empty()) return Status::Ok();
  const int64_t now = opts_.clock->WallMicros();
  // Snapshot of the newest generation when the log after its newest snapshot is long or old.
  {
    const GenerationInfo& g = gens.back();
    const uint64_t snap_txid = g.snapshots.empty() ? 0 : g.snapshots.back().name.max_txid;
    const int64_t snap_time =
        g.snapshots.empty() ? g.start_time_us : g.snapshots.back().name.max_time_us;
    int l3_after = 0;
    for (const BackupFile& f : g.logs) l3_after += f.level == 3 && f.name.min_txid > snap_txid;
    const bool old =
        now - snap_time >
        std::chrono::duration_cast<std::chrono::microseconds>(opts_.snapshot_interval).count();
    if (g.max_txid > snap_txid && (l3_after >= opts_.compact_fanout || old)) {
      CAIRN_RETURN_IF_ERROR(BuildSnapshot(db, g.name, g.max_txid));
      CAIRN_ASSIGN_OR_RETURN(gens, ListGenerations(store_, db));
    }
  }
  // Retention: keep the newest snapshot at or before the cutoff and everything after it.
  const int64_t cutoff =
      now - std::chrono::duration_cast<std::chrono::microseconds>(opts_.retention).count();
  std::vector<std::string> doomed;
  size_t first_kept_gen = 0;
  for (size_t i = 0; i < gens.size(); ++i)
    for (const BackupFile& s : gens[i].snapshots)
      if (s.name.max_time_us <= cutoff) first_kept_gen = i;  // older generations are all before it
  for (size_t i = 0; i < first_kept_gen; ++i) {
    for (const BackupFile& f : gens[i].snapshots) doomed.push_back(f.key);
    for (const BackupFile& f : gens[i].logs) doomed.push_back(f.key);
  }
  for (size_t i = first_kept_gen; i < gens.size(); ++i) {
    const GenerationInfo& g = gens[i];
    const BackupFile* keep = nullptr;
    for (const BackupFile& s : g.snapshots)
      if (s.name.max_time_us <= cutoff) keep = &s;
    if (!keep) continue;
    for (const BackupFile& s : g.snapshots)
      if (s.name.max_txid < keep->name.max_txid) doomed.push_back(s.key);
    for (const BackupFile& f : g.logs)
      if (f.name.max_txid <= keep->name.max_txid) doomed.push_back(f.key);
  }
  for (const std::string& key : doomed) CAIRN_RETURN_IF_ERROR(store_->Delete(key));
  if (!doomed.empty()) {
    std::lock_guard lk(mu_);
    stats_.objects_deleted += doomed.size();
  }
  return Status::Ok();
}

void Uploader::RecordLag(int64_t lag_us, uint32_t txns) {
  lags_.emplace_back(lag_us, txns);
  lag_txns_ += txns;
  while (lags_.size() > 1 && (lag_txns_ > 100000 || lags_.size() > 4096)) {
    lag_txns_ -= lags_.front().second;
    lags_.pop_front();
  }
}

UploaderStats Uploader::stats() const {
  std::lock_guard lk(mu_);
  UploaderStats s = stats_;
  if (!lags_.empty()) {
    std::vector<std::pair<int64_t, uint32_t>> v(lags_.begin(), lags_.end());
    std::sort(v.begin(), v.end());
    uint64_t total = 0;
    for (auto& e : v) total += e.second;
    auto pct = [&](double q) {
      const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total));
      uint64_t seen = 0;
      for (auto& e : v) {
        seen += e.second;
        if (seen > want) return e.first;
      }
      return v.back().first;
    };
    s.lag_p50_us = pct(0.50);
    s.lag_p99_us = pct(0.99);
    s.lag_max_us = v.back().first;
    s.lag_samples = total;
  }
  for (const auto& [name, st] : dbs_) {
    s.backlog_bytes += st.backlog_bytes;
    s.backlog_files += st.backlog_files;
  }
  return s;
}

}  // namespace cairn::backup
