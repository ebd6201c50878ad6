#include "txlog/txlog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "base/file.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace cairn::txlog {
namespace {

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// The newest file (highest max txid) of a generation directory, if any.
Result<std::optional<std::string>> NewestFile(const std::string& gen_dir) {
  auto names = ListDir(gen_dir);
  if (!names.ok()) {
    if (names.status().code() == Code::kNotFound) return std::optional<std::string>();
    return names.TakeStatus();
  }
  std::optional<std::string> best;
  uint64_t best_tx = 0;
  for (const std::string& n : *names) {
    ParsedName p;
    if (!ParseFileName(n, &p)) continue;
    if (!best || p.max_txid > best_tx || (p.max_txid == best_tx && !p.snapshot)) {
      best = n;
      best_tx = p.max_txid;
    }
  }
  return best;
}

Result<FileHeader> ReadFileHeader(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Code::kIOError, "cannot open " + path + ": " + std::strerror(errno));
  char buf[kHeaderSize];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof buf)) return Status(Code::kCorruption, "short log file " + path);
  return FileReader::ReadHeader(std::string_view(buf, sizeof buf));
}

}  // namespace

TxLog::TxLog(std::string db_path, std::string dir, TxLogOptions opts)
    : db_path_(std::move(db_path)), dir_(std::move(dir)), opts_(std::move(opts)), wal_(db_path_ + "-wal") {}

TxLog::~TxLog() = default;

std::string TxLog::NewGenerationName(int64_t wall_micros) {
  thread_local std::mt19937 rng{std::random_device{}()};
  return fmt::format("{:016x}-{:04x}", static_cast<uint64_t>(wall_micros), rng() & 0xffff);
}

Result<std::vector<std::string>> TxLog::Generations(const std::string& dir) {
  auto names = ListDir(dir);
  if (!names.ok()) {
    if (names.status().code() == Code::kNotFound) return std::vector<std::string>{};
    return names.TakeStatus();
  }
  std::vector<std::string> gens;
  for (std::string& n : *names)
    if (n.size() == 21 && n[16] == '-') gens.push_back(std::move(n));
  return gens;
}

Result<std::unique_ptr<TxLog>> TxLog::Open(std::string db_path, std::string dir, TxLogOptions opts) {
  std::unique_ptr<TxLog> log(new TxLog(std::move(db_path), std::move(dir), std::move(opts)));
  CAIRN_RETURN_IF_ERROR(MakeDirs(log->dir_));
  RemoveTemporaryFiles(log->dir_);
  {
    CAIRN_ASSIGN_OR_RETURN(std::vector<LocalFile> files, ListLocalFiles(log->dir_));
    std::lock_guard lk(log->mu_);
    log->local_ = std::move(files);
    for (const LocalFile& f : log->local_) {
      log->stats_.local_files++;
      log->stats_.local_bytes += f.size;
    }
  }
  CAIRN_RETURN_IF_ERROR(log->Recover());
  std::lock_guard wr(log->write_mu_);
  Status st = log->PruneLocked(/*force=*/true);
  if (!st.ok()) spdlog::warn("{}: {}", log->db_path_, st.ToString());
  return log;
}

Status TxLog::LoadImage(uint32_t wal_frames,
                        const std::function<Status(uint32_t, std::string_view)>& page_fn) {
  int fd = ::open(db_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno != ENOENT)
    return Status(Code::kIOError, "cannot open " + db_path_ + ": " + std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() {
      if (fd >= 0) ::close(fd);
    }
  } closer{fd};
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) != 0) return Status(Code::kIOError, "cannot stat " + db_path_);
  const uint64_t file_size = fd >= 0 ? static_cast<uint64_t>(st.st_size) : 0;
  char head[100] = {};
  if (file_size >= 100 && ::pread(fd, head, 100, 0) != 100)
    return Status(Code::kIOError, "cannot read the header of " + db_path_);

  WalHeader wh;
  bool has_wal = false;
  if (wal_frames > 0) {
    CAIRN_ASSIGN_OR_RETURN(has_wal, wal_.ReadHeader(&wh));
    if (!has_wal) return Status(Code::kCorruption, "WAL vanished while reading " + db_path_);
  }
  uint32_t ps = 0;
  if (file_size >= 100) {
    ps = (uint32_t{static_cast<uint8_t>(head[16])} << 8) | static_cast<uint8_t>(head[17]);
    if (ps == 1) ps = 65536;
  } else if (has_wal) {
    ps = wh.page_size;
  }
  if (page_size_ != 0 && ps != 0 && ps != page_size_)
    return Status(Code::kCorruption, fmt::format("page size changed from {} to {}", page_size_, ps));
  if (ps != 0) page_size_ = ps;

  // The newest copy of each page among WAL frames 1..wal_frames.
  std::vector<const char*> overlay;
  uint32_t page_count = 0;
  if (wal_frames > 0) {
    CAIRN_RETURN_IF_ERROR(wal_.ReadFrames(1, wal_frames, page_size_, &frame_buf_, &frames_));
    for (const WalFrame& f : frames_) {
      if (f.pgno > overlay.size()) overlay.resize(f.pgno, nullptr);
      overlay[f.pgno - 1] = f.page;
    }
    page_count = frames_.back().commit_size;
    if (page_count == 0) return Status(Code::kCorruption, "WAL does not end on a commit");
  } else if (file_size >= 100 && Be32(head + 92) == Be32(head + 24) && Be32(head + 28) != 0) {
    page_count = Be32(head + 28);
  } else if (page_size_ != 0) {
    page_count = static_cast<uint32_t>(file_size / page_size_);
  }

  table_.Clear();
  table_.Resize(page_count);
  const uint32_t lock_page = page_size_ ? LockPage(page_size_) : 0;
  std::string chunk;
  const uint32_t chunk_pages = std::max<uint32_t>(1, (1u << 20) / std::max<uint32_t>(page_size_, 1));
  std::string zero(page_size_, '\0');
  for (uint32_t first = 1; first <= page_count; first += chunk_pages) {
    const uint32_t n = std::min(chunk_pages, page_count - first + 1);
    chunk.assign(size_t{n} * page_size_, '\0');
    if (fd >= 0) {
      const off_t off = static_cast<off_t>(first - 1) * page_size_;
      size_t got = 0;
      while (got < chunk.size()) {
        ssize_t r = ::pread(fd, chunk.data() + got, chunk.size() - got, off + static_cast<off_t>(got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Status(Code::kIOError, "cannot read " + db_path_ + ": " + std::strerror(errno));
        if (r == 0) break;  // past the end of the file: pages only in the WAL, or zeros
        got += static_cast<size_t>(r);
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t pgno = first + i;
      if (pgno == lock_page) continue;
      const char* data = pgno <= overlay.size() && overlay[pgno - 1] ? overlay[pgno - 1]
                                                                     : chunk.data() + size_t{i} * page_size_;
      table_.SetPage(pgno, data, page_size_);
      if (page_fn) CAIRN_RETURN_IF_ERROR(page_fn(pgno, std::string_view(data, page_size_)));
    }
  }
  return Status::Ok();
}

Result<TxLog::ImageInfo> TxLog::ComputeImage(const std::string& db_path) {
  TxLog log(db_path, "", {});
  WalHeader wh;
  CAIRN_ASSIGN_OR_RETURN(bool has_wal, log.wal_.ReadHeader(&wh));
  uint32_t valid = 0;
  if (has_wal) {
    CAIRN_ASSIGN_OR_RETURN(valid, log.wal_.ValidFrames(wh));
  }
  CAIRN_RETURN_IF_ERROR(log.LoadImage(valid, nullptr));
  return ImageInfo{log.table_.checksum(), log.table_.page_count(), log.page_size_};
}

namespace {
constexpr char kSavedMagic[8] = {'C', 'A', 'I', 'R', 'N', 'P', 'H', 'S'};
constexpr size_t kSavedHeader = 56;

bool FileIdentity(const std::string& path, uint64_t* size, uint64_t* mtime_ns) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  *size = static_cast<uint64_t>(st.st_size);
  *mtime_ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull + static_cast<uint64_t>(st.st_mtim.tv_nsec);
  return true;
}
}  // namespace

Status TxLog::SaveChecksums() {
  std::lock_guard wr(write_mu_);
  std::lock_guard fl(flush_mu_);
  CAIRN_RETURN_IF_ERROR(CaptureLocked());
  Position pos;
  std::string gen;
  {
    std::lock_guard lk(mu_);
    if (!pending_.empty() || !(durable_ == captured_))
      return Status(Code::kInternal, "checksums are saved only once the log is flushed");
    pos = durable_;
    gen = generation_;
  }
  if (fresh_ || page_size_ == 0) return Status::Ok();
  uint64_t size = 0, mtime = 0;
  if (!FileIdentity(db_path_, &size, &mtime)) return Status(Code::kIOError, "cannot stat " + db_path_);
  const std::vector<uint64_t>& hashes = table_.hashes();
  std::string out(kSavedHeader, '\0');
  std::memcpy(out.data(), kSavedMagic, 8);
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(out.data() + at, &v, 4); };
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(out.data() + at, &v, 8); };
  put32(8, 1);
  put32(12, page_size_);
  put32(16, static_cast<uint32_t>(hashes.size()));
  put64(24, pos.txid);
  put64(32, pos.checksum);
  put64(40, size);
  put64(48, mtime);
  out.append(reinterpret_cast<const char*>(hashes.data()), hashes.size() * 8);
  const uint64_t sum = XXH3_64bits(out.data(), out.size());
  out.append(reinterpret_cast<const char*>(&sum), 8);
  // A cache: losing it only costs the next open a full read.
  return WriteFileAtomic(dir_ + "/" + gen + "/pagehash", out);
}

bool TxLog::LoadSavedChecksums(const std::string& gen, const FileHeader& h) {
  const std::string path = dir_ + "/" + gen + "/pagehash";
  auto bytes = ReadWholeFile(path);
  (void)RemoveFile(path);  // used once: from now on the file changes
  if (!bytes.ok() || bytes->size() < kSavedHeader + 8) return false;
  const std::string& b = *bytes;
  uint64_t sum;
  std::memcpy(&sum, b.data() + b.size() - 8, 8);
  if (std::memcmp(b.data(), kSavedMagic, 8) != 0 || XXH3_64bits(b.data(), b.size() - 8) != sum) return false;
  auto get32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  auto get64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, b.data() + at, 8);
    return v;
  };
  const uint32_t n = get32(16);
  if (get32(8) != 1 || get32(12) != h.page_size || n != h.page_count || get64(24) != h.max_txid ||
      get64(32) != h.post_checksum || b.size() != kSavedHeader + size_t{n} * 8 + 8)
    return false;
  uint64_t size = 0, mtime = 0;
  if (!FileIdentity(db_path_, &size, &mtime) || size != get64(40) || mtime != get64(48)) return false;
  std::vector<uint64_t> hashes(n);
  std::memcpy(hashes.data(), b.data() + kSavedHeader, size_t{n} * 8);
  PageChecksums t = PageChecksums::FromHashes(std::move(hashes));
  if (t.checksum() != h.post_checksum) return false;
  table_ = std::move(t);
  page_size_ = h.page_size;
  used_saved_checksums_ = true;
  return true;
}

Status TxLog::WritePath(const std::string& path, std::string_view data) {
  return opts_.write_file ? opts_.write_file(path, data) : WriteFileDurably(path, data);
}

void TxLog::AddLocalLocked(const std::string& gen, const std::string& name, uint64_t size) {
  LocalFile f;
  f.generation = gen;
  f.name = name;
  (void)ParseFileName(name, &f.p);
  f.size = size;
  local_.push_back(std::move(f));
  stats_.local_files++;
  stats_.local_bytes += size;
}

Status TxLog::Prune() {
  std::lock_guard wr(write_mu_);
  return PruneLocked(/*force=*/true);
}

Status TxLog::PruneLocked(bool force) {
  const int64_t now = opts_.clock->MonotonicMicros();
  // Within its bounds, the log looks again each second (for files that aged out). Beyond them,
  // at once — unless the last look could not get back within them (files the owner still needs:
  // a backlog, whose list may be long): then each second too, the release coming with an upload.
  bool over;
  {
    std::lock_guard lk(mu_);
    over = stats_.local_files > opts_.retention.max_files ||
           stats_.local_bytes > opts_.retention.max_bytes;
  }
  if (!force && now - last_prune_us_ < 1000000 && (!over || last_prune_blocked_))
    return Status::Ok();
  last_prune_us_ = now;
  std::vector<std::string> gens;
  std::string current;
  {
    std::lock_guard lk(mu_);
    current = generation_;
    for (const LocalFile& f : local_)
      if (gens.empty() || gens.back() != f.generation) gens.push_back(f.generation);
  }
  // Asked without mu_: the owner may take its own locks.
  std::map<std::string, uint64_t> released;
  for (const std::string& g : gens) released[g] = opts_.released ? opts_.released(g) : UINT64_MAX;
  std::vector<LocalFile> doomed;
  uint64_t files = 0, bytes = 0;
  {
    std::lock_guard lk(mu_);
    const std::vector<size_t> idx = FilesToRemove(
        local_, opts_.retention, opts_.clock->WallMicros(),
        [&](const std::string& g) { return released.count(g) ? released[g] : 0; });
    if (!idx.empty()) {
      std::vector<LocalFile> kept;
      kept.reserve(local_.size() - idx.size());
      size_t next = 0;
      for (size_t i = 0; i < local_.size(); ++i) {
        if (next < idx.size() && idx[next] == i) {
          doomed.push_back(std::move(local_[i]));
          ++next;
        } else {
          kept.push_back(std::move(local_[i]));
        }
      }
      local_ = std::move(kept);
      for (const LocalFile& f : doomed) {
        stats_.local_files--;
        stats_.local_bytes -= f.size;
      }
      stats_.files_pruned += doomed.size();
    }
    files = stats_.local_files;
    bytes = stats_.local_bytes;
  }
  last_prune_blocked_ = files > opts_.retention.max_files || bytes > opts_.retention.max_bytes;
  // Followers reading a file removed meanwhile are told it is no longer kept (RecordsAfter).
  Status st = Status::Ok();
  for (const LocalFile& f : doomed) {
    Status rs = RemoveFile(dir_ + "/" + f.generation + "/" + f.name);
    if (!rs.ok() && st.ok()) st = rs;
  }
  // Older generations with no file left go as a whole (their upload marker too).
  for (const std::string& g : gens) {
    if (g == current) continue;
    bool left = false;
    {
      std::lock_guard lk(mu_);
      for (const LocalFile& f : local_) left = left || f.generation == g;
    }
    if (!left) (void)RemoveTree(dir_ + "/" + g);
  }
  // An operator sees the local log grow: a line each time it passes the next power of two from
  // 256 KiB up (again once it shrank below a quarter of the last size reported).
  uint64_t level = uint64_t{256} << 10;
  while (level * 2 <= bytes) level *= 2;
  if (bytes >= level && level > logged_local_bytes_) {
    spdlog::info("{}: the local transaction log holds {} files, {} KiB (it keeps {} KiB, {} s, {} "
                 "files of history{})",
                 db_path_, files, bytes >> 10, opts_.retention.max_bytes >> 10,
                 opts_.retention.max_age.count(), opts_.retention.max_files,
                 opts_.released ? ", and what the backups have not uploaded yet" : "");
    logged_local_bytes_ = level;
  } else if (bytes < logged_local_bytes_ / 4) {
    logged_local_bytes_ = 0;
  }
  return st;
}

Status TxLog::Recover() {
  WalHeader wh;
  CAIRN_ASSIGN_OR_RETURN(bool has_wal, wal_.ReadHeader(&wh));
  uint32_t valid = 0;
  if (has_wal) {
    CAIRN_ASSIGN_OR_RETURN(valid, wal_.ValidFrames(wh));
  }

  CAIRN_ASSIGN_OR_RETURN(std::vector<std::string> gens, Generations(dir_));
  if (!gens.empty()) {
    const std::string gen = gens.back();
    CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> newest, NewestFile(dir_ + "/" + gen));
    if (!newest) {
      // A generation that never wrote a file: a new database, still untouched, continues it.
      CAIRN_ASSIGN_OR_RETURN(bool fresh, TryStartFresh(gen, wh, valid));
      if (fresh) return Status::Ok();
    }
    if (newest) {
      CAIRN_ASSIGN_OR_RETURN(FileHeader h, ReadFileHeader(dir_ + "/" + gen + "/" + *newest));
      // WAL frames 1..f were captured (when the WAL is the one the last file was read from).
      uint32_t f = 0;
      bool usable = true;
      if (has_wal && wh.salt1 == h.wal_salt1 && wh.salt2 == h.wal_salt2 && h.wal_frame != 0) {
        if (h.wal_frame <= valid) f = h.wal_frame;
        else usable = false;  // the WAL lost frames the log has: the file is not what we logged
      }
      page_size_ = h.page_size;
      Status st = Status::Ok();
      if (!usable) st = Status(Code::kCorruption, "WAL shorter than the log");
      else if (!(f == 0 && LoadSavedChecksums(gen, h))) st = LoadImage(f, nullptr);
      if (st.ok() && table_.checksum() == h.post_checksum && table_.page_count() == h.page_count) {
        {
          std::lock_guard lk(mu_);
          generation_ = gen;
          captured_ = durable_ = h.end();
        }
        next_txid_ = h.max_txid + 1;
        last_time_us_ = h.max_time_us;
        salt1_ = wh.salt1;
        salt2_ = wh.salt2;
        next_frame_ = f + 1;
        if (valid > f) {
          spdlog::info("{}: capturing {} WAL frames committed before a crash", db_path_, valid - f);
          CAIRN_RETURN_IF_ERROR(CaptureFrames(f + 1, valid, {opts_.clock->WallMicros()}));
          CAIRN_RETURN_IF_ERROR(Flush());
        }
        return Status::Ok();
      }
      spdlog::warn("{}: the database is not where its transaction log ends (generation {}, txid {}){}; "
                   "starting a new generation",
                   db_path_, gen, h.max_txid, st.ok() ? "" : ": " + st.ToString());
    }
  }
  return StartGeneration();
}

Result<bool> TxLog::TryStartFresh(const std::string& gen, const WalHeader& wh, uint32_t valid) {
  if (valid != 0) return false;
  std::string page1;
  page_size_ = 0;
  CAIRN_RETURN_IF_ERROR(LoadImage(0, [&](uint32_t pgno, std::string_view data) {
    if (pgno == 1) page1.assign(data);
    return Status::Ok();
  }));
  // Page 1 with an empty schema: a table b-tree leaf (0x0d) with no cells, and nothing else.
  if (table_.page_count() != 1 || page1.size() < 108 || static_cast<uint8_t>(page1[100]) != 0x0d ||
      page1[103] != 0 || page1[104] != 0)
    return false;
  table_.Clear();
  fresh_ = true;
  {
    std::lock_guard lk(mu_);
    generation_ = gen;
    captured_ = durable_ = Position{0, 0};
    pending_.clear();
    pending_bytes_ = 0;
    recent_.clear();
    recent_bytes_ = 0;
    noted_.clear();
  }
  next_txid_ = 1;
  salt1_ = wh.salt1;
  salt2_ = wh.salt2;
  next_frame_ = 1;
  return true;
}

Status TxLog::StartGeneration() {
  WalHeader wh;
  CAIRN_ASSIGN_OR_RETURN(bool has_wal, wal_.ReadHeader(&wh));
  uint32_t valid = 0;
  if (has_wal) {
    CAIRN_ASSIGN_OR_RETURN(valid, wal_.ValidFrames(wh));
  }
  const int64_t now = std::max(opts_.clock->WallMicros(), last_time_us_);
  const std::string gen = NewGenerationName(now);
  CAIRN_RETURN_IF_ERROR(MakeDirs(dir_ + "/" + gen));
  fresh_ = false;
  CAIRN_ASSIGN_OR_RETURN(bool fresh, TryStartFresh(gen, wh, valid));
  if (fresh) {
    last_time_us_ = now;
    std::lock_guard lk(mu_);
    stats_.generations++;
    return Status::Ok();
  }
  page_size_ = 0;
  uint64_t snapshot_bytes = 0;
  // Pass 1: the checksum; pass 2: the snapshot's pages (a record's header precedes its pages).
  CAIRN_RETURN_IF_ERROR(LoadImage(valid, nullptr));
  Position pos{0, 0};
  if (table_.page_count() > 0) {
    const uint32_t pages = table_.page_count();
    const uint32_t lock = LockPage(page_size_);
    RecordHeader rh{1, now, pages, pages - (lock <= pages ? 1u : 0u), 0, table_.checksum()};
    FileWriter w(page_size_, kFlagSnapshot, opts_.zstd_level);
    CAIRN_RETURN_IF_ERROR(w.BeginRecord(rh));
    const uint64_t want = table_.checksum();
    CAIRN_RETURN_IF_ERROR(LoadImage(valid, [&](uint32_t pgno, std::string_view data) {
      return w.AddPage(pgno, data);
    }));
    if (table_.checksum() != want)
      return Status(Code::kIOError, db_path_ + " changed while its snapshot was taken");
    w.SetWalHint(wh.salt1, wh.salt2, valid);
    CAIRN_ASSIGN_OR_RETURN(std::string file, w.Finish());
    const std::string name = SnapshotFileName(w.header());
    CAIRN_RETURN_IF_ERROR(WritePath(dir_ + "/" + gen + "/" + name, file));
    pos = {1, want};
    snapshot_bytes = file.size();
    std::lock_guard lk(mu_);
    stats_.files++;
    stats_.bytes_written += file.size();
    AddLocalLocked(gen, name, file.size());
  }
  {
    std::lock_guard lk(mu_);
    generation_ = gen;
    captured_ = durable_ = pos;
    pending_.clear();
    pending_bytes_ = 0;
    recent_.clear();
    recent_bytes_ = 0;
    noted_.clear();  // commits so far are in the snapshot
    stats_.generations++;
  }
  next_txid_ = pos.txid + 1;
  last_time_us_ = now;
  salt1_ = wh.salt1;
  salt2_ = wh.salt2;
  next_frame_ = valid + 1;
  spdlog::info("{}: transaction log generation {} starts at txid {} ({} pages)", db_path_, gen, pos.txid,
               table_.page_count());
  if (opts_.on_durable) opts_.on_durable(snapshot_bytes);
  return Status::Ok();
}

Status TxLog::CaptureFrames(uint32_t first, uint32_t last, const std::vector<int64_t>& times) {
  size_t txn_index = 0;
  CAIRN_RETURN_IF_ERROR(wal_.ReadFrames(first, last, page_size_, &frame_buf_, &frames_));
  std::vector<std::pair<uint32_t, uint32_t>> order;  // (pgno, index in frames_)
  size_t txn_start = 0;
  for (size_t i = 0; i < frames_.size(); ++i) {
    const WalFrame& f = frames_[i];
    if (f.salt1 != salt1_ || f.salt2 != salt2_)
      return Status(Code::kCorruption, fmt::format("WAL frame {} has foreign salts", first + i));
    if (f.commit_size == 0) continue;
    // Frames txn_start..i are one transaction; the last copy of each page wins.
    order.clear();
    for (size_t j = txn_start; j <= i; ++j) order.emplace_back(frames_[j].pgno, static_cast<uint32_t>(j));
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    Record r;
    r.h.txid = next_txid_;
    const int64_t time_us = times.empty() ? opts_.clock->WallMicros()
                                          : times[std::min(txn_index, times.size() - 1)];
    ++txn_index;
    r.h.commit_time_us = last_time_us_ = std::max(time_us, last_time_us_);
    r.h.page_count = f.commit_size;
    r.h.pre_checksum = table_.checksum();
    table_.Resize(f.commit_size);
    const uint32_t lock = LockPage(page_size_);
    for (size_t k = 0; k < order.size(); ++k) {
      if (k + 1 < order.size() && order[k + 1].first == order[k].first) continue;
      const uint32_t pgno = order[k].first;
      if (pgno > f.commit_size || pgno == lock) continue;
      const char* page = frames_[order[k].second].page;
      r.pgnos.push_back(pgno);
      r.pages.append(page, page_size_);
      table_.SetPage(pgno, page, page_size_);
    }
    r.h.n_pages = static_cast<uint32_t>(r.pgnos.size());
    r.h.post_checksum = table_.checksum();
    if (fresh_) {
      // Started from the empty image: this first transaction must have written every page.
      const uint32_t want = f.commit_size - (lock <= f.commit_size ? 1u : 0u);
      if (r.h.n_pages != want)
        return Status(Code::kCorruption, "the first transaction of a new database left pages unwritten");
      fresh_ = false;
    }
    ++next_txid_;
    {
      std::lock_guard lk(mu_);
      captured_ = {r.h.txid, r.h.post_checksum};
      pending_bytes_ += r.pages.size();
      pending_page_size_ = page_size_;
      pending_salt1_ = salt1_;
      pending_salt2_ = salt2_;
      pending_frame_ = first + static_cast<uint32_t>(i);
      stats_.records++;
      stats_.pages += r.h.n_pages;
      pending_.push_back(std::move(r));
    }
    txn_start = i + 1;
  }
  if (txn_start != frames_.size())
    return Status(Code::kCorruption, fmt::format("WAL frames {}..{} end without a commit", first, last));
  next_frame_ = last + 1;
  return Status::Ok();
}

void TxLog::OnCommit(int wal_frames) {
  const int64_t now = opts_.clock->WallMicros();
  std::lock_guard lk(mu_);
  noted_.push_back({static_cast<uint32_t>(wal_frames), now});
  commit_cv_.notify_all();
}

uint64_t TxLog::last_txid() const {
  std::lock_guard lk(mu_);
  return captured_.txid + noted_.size();
}

Status TxLog::Capture() {
  std::lock_guard fl(flush_mu_);
  return CaptureLocked();
}

Status TxLog::CaptureLocked() {
  std::vector<Noted> noted;
  {
    std::lock_guard lk(mu_);
    noted.swap(noted_);
  }
  if (noted.empty() || needs_reseed_.load() || suspended_.load()) return Status::Ok();
  Status st = [&]() -> Status {
    WalHeader wh;
    CAIRN_ASSIGN_OR_RETURN(bool has_wal, wal_.ReadHeader(&wh));
    if (!has_wal) return Status(Code::kCorruption, "commit without a WAL header");
    // SQLite restarts the WAL (new salts, frames from 1) only after a checkpoint copied all of
    // it, which waits for this capture: a restart can only precede the first noted commit.
    if (wh.salt1 != salt1_ || wh.salt2 != salt2_) {
      salt1_ = wh.salt1;
      salt2_ = wh.salt2;
      next_frame_ = 1;
    }
    if (page_size_ == 0) page_size_ = wh.page_size;
    if (wh.page_size != page_size_)
      return Status(Code::kCorruption, fmt::format("WAL page size {} != {}", wh.page_size, page_size_));
    for (size_t i = 1; i < noted.size(); ++i)
      if (noted[i].wal_frames < noted[i - 1].wal_frames)
        return Status(Code::kCorruption, "the WAL restarted between uncaptured commits");
    const uint32_t last = noted.back().wal_frames;
    if (last < next_frame_) return Status(Code::kCorruption, "commit hook behind the capture");
    std::vector<int64_t> times;
    times.reserve(noted.size());
    for (const Noted& n : noted) times.push_back(n.time_us);
    return CaptureFrames(next_frame_, last, times);
  }();
  if (!st.ok()) {
    spdlog::error("{}: capture failed, the log will restart from a snapshot: {}", db_path_, st.ToString());
    needs_reseed_ = true;
  }
  return st;
}

Status TxLog::Flush() {
  // Only the capture holds flush_mu_: the file is written and synced without it, so followers
  // (RecordsAfter) and captures never wait for the disk. The records being written stay visible
  // to followers in writing_.
  std::lock_guard wr(write_mu_);
  uint32_t s1, s2, frame, ps;
  {
    std::lock_guard fl(flush_mu_);
    Status cs = CaptureLocked();
    if (!cs.ok()) spdlog::warn("{}: {}", db_path_, cs.ToString());
    std::lock_guard lk(mu_);
    if (pending_.empty()) return Status::Ok();
    writing_.swap(pending_);
    s1 = pending_salt1_;
    s2 = pending_salt2_;
    frame = pending_frame_;
    ps = pending_page_size_;
  }
  // writing_ changes only here (under write_mu_): reading it without mu_ is safe.
  const std::deque<Record>& batch = writing_;
  FileWriter w(ps, 0, opts_.zstd_level);
  w.SetWalHint(s1, s2, frame);
  Status st;
  for (const Record& r : batch) {
    st = w.Add(r);
    if (!st.ok()) break;
  }
  std::string file;
  if (st.ok()) {
    Result<std::string> f = w.Finish();
    if (f.ok()) file = std::move(f).value();
    else st = f.status();
  }
  const std::string name = LogFileName(w.header());
  std::string gen;
  {
    std::lock_guard lk(mu_);
    gen = generation_;
  }
  if (st.ok()) st = WritePath(dir_ + "/" + gen + "/" + name, file);
  {
    std::lock_guard lk(mu_);
    if (!st.ok()) {
      // Keep the records for the next attempt, unless the backlog grew too large.
      for (auto it = writing_.rbegin(); it != writing_.rend(); ++it) pending_.push_front(std::move(*it));
      writing_.clear();
      if (pending_bytes_ > opts_.max_pending_bytes) {
        spdlog::error("{}: {} bytes of captured transactions could not be written; dropping them",
                      db_path_, pending_bytes_);
        pending_.clear();
        pending_bytes_ = 0;
        needs_reseed_ = true;
      }
      return st;
    }
    size_t bytes = 0;
    for (const Record& r : batch) bytes += r.pages.size();
    pending_bytes_ -= bytes;
    durable_ = w.header().end();
    for (Record& r : writing_) {
      recent_bytes_ += r.pages.size();
      recent_.push_back(std::move(r));
    }
    writing_.clear();
    while (!recent_.empty() && recent_bytes_ > opts_.recent_bytes) {
      recent_bytes_ -= recent_.front().pages.size();
      recent_.pop_front();
    }
    stats_.files++;
    stats_.bytes_written += file.size();
    AddLocalLocked(gen, name, file.size());
  }
  if (opts_.on_durable) opts_.on_durable(file.size());
  Status pruned = PruneLocked(/*force=*/false);
  if (!pruned.ok()) spdlog::warn("{}: pruning the local log: {}", db_path_, pruned.ToString());
  return Status::Ok();
}

void TxLog::Suspend() {
  std::lock_guard wr(write_mu_);
  std::lock_guard fl(flush_mu_);
  suspended_ = true;
  std::lock_guard lk(mu_);
  pending_.clear();
  pending_bytes_ = 0;
  noted_.clear();
  recent_.clear();
  recent_bytes_ = 0;
  local_.clear();
  stats_.local_files = 0;
  stats_.local_bytes = 0;
}

Status TxLog::Reseed() {
  {
    Status st = Flush();  // keep what can be kept of the old generation
    if (!st.ok()) spdlog::warn("{}: could not flush before a new generation: {}", db_path_, st.ToString());
  }
  std::lock_guard wr(write_mu_);
  std::lock_guard fl(flush_mu_);
  CAIRN_RETURN_IF_ERROR(StartGeneration());
  needs_reseed_ = false;
  suspended_ = false;
  return Status::Ok();
}

Result<std::vector<Record>> TxLog::RecordsAfter(const std::string& gen, uint64_t txid, size_t max_bytes) {
  CAIRN_RETURN_IF_ERROR(Capture());
  std::vector<Record> out;
  size_t bytes = 0;
  auto take = [&](const Record& r) {
    if (r.h.txid <= txid || (!out.empty() && (r.h.txid != out.back().h.txid + 1 || bytes >= max_bytes)))
      return;
    if (out.empty() && r.h.txid != txid + 1) return;
    bytes += r.pages.size();
    out.push_back(r);
  };
  {
    std::lock_guard lk(mu_);
    if (gen != generation_)
      return Status(Code::kNotFound, "generation " + gen + " is not the log's current one (" + generation_ + ")");
    if (txid > captured_.txid)
      return Status(Code::kInvalidRequest, fmt::format("txid {} is ahead of the log ({})", txid, captured_.txid));
    if (txid == captured_.txid) return out;
    for (const Record& r : recent_) take(r);
    for (const Record& r : writing_) take(r);
    for (const Record& r : pending_) take(r);
    if (!out.empty()) return out;
  }
  // Older than what memory keeps: the local files (the window local_log.h keeps).
  std::vector<std::pair<ParsedName, std::string>> files;
  {
    std::lock_guard lk(mu_);
    for (const LocalFile& f : local_)
      if (f.generation == gen && !f.p.snapshot && f.p.max_txid > txid) files.emplace_back(f.p, f.name);
  }
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.first.min_txid < b.first.min_txid; });
  for (const auto& [p, n] : files) {
    if (!out.empty() && bytes >= max_bytes) break;
    const std::string path = dir_ + "/" + gen + "/" + n;
    Result<std::string> read = ReadWholeFile(path);
    if (!read.ok() && ::access(path.c_str(), F_OK) != 0) break;  // pruned meanwhile
    CAIRN_ASSIGN_OR_RETURN(std::string data, std::move(read));
    CAIRN_ASSIGN_OR_RETURN(auto reader, FileReader::Open(data));
    Record r;
    for (;;) {
      CAIRN_ASSIGN_OR_RETURN(bool more, reader->ReadRecord(&r));
      if (!more) break;
      take(r);
    }
  }
  if (out.empty())
    return Status(Code::kNotFound, fmt::format("transactions after txid {} are no longer kept locally", txid));
  return out;
}

bool TxLog::WaitForCommitAfter(uint64_t txid, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return commit_cv_.wait_for(lk, timeout, [&] { return !noted_.empty() || captured_.txid > txid; });
}

Position TxLog::captured() const {
  std::lock_guard lk(mu_);
  return captured_;
}

Position TxLog::durable() const {
  std::lock_guard lk(mu_);
  return durable_;
}

std::string TxLog::generation() const {
  std::lock_guard lk(mu_);
  return generation_;
}

TxLogStats TxLog::stats() const {
  std::lock_guard lk(mu_);
  return stats_;
}

}  // namespace cairn::txlog
