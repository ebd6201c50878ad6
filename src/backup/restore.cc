#include "backup/restore.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

#include "base/file.h"
#include "base/hex.h"
#include "txlog/checksum.h"

namespace cairn::backup {
namespace {

using objectstore::ObjectStore;

constexpr int kLevels = 4;  // L0..L3

// "<db>/" stripped: "<generation>/snapshots/<name>" or "<generation>/log/L<k>/<name>".
struct ParsedKey {
  std::string_view generation;
  BackupFile file;
};

bool ParseRelativeKey(std::string_view rest, ParsedKey* out) {
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return false;
  out->generation = rest.substr(0, slash);
  if (!GenerationStartTime(out->generation)) return false;
  rest.remove_prefix(slash + 1);
  std::string_view name;
  if (rest.starts_with("snapshots/")) {
    name = rest.substr(10);
    out->file.level = -1;
  } else if (rest.size() > 7 && rest.starts_with("log/L") && rest[5] >= '0' &&
             rest[5] < '0' + kLevels && rest[6] == '/') {
    name = rest.substr(7);
    out->file.level = rest[5] - '0';
  } else {
    return false;
  }
  if (!txlog::ParseFileName(name, &out->file.name)) return false;
  return out->file.name.snapshot == (out->file.level < 0);
}

std::string Describe(ObjectStore* store) { return store->Describe(); }

Status Errno(const std::string& what, const std::string& path) {
  return Status(Code::kIOError, what + " " + path + ": " + std::strerror(errno));
}

std::string Range(uint64_t a, uint64_t b) {
  return a == b ? fmt::format("txid {}", a) : fmt::format("txids {}..{}", a, b);
}

// Writes pages at their offsets, gathering consecutive pages into one pwrite.
class PageWriter {
 public:
  PageWriter(int fd, uint32_t page_size, const std::string& path)
      : fd_(fd), page_size_(page_size), path_(path) {
    buf_.resize(std::max<size_t>(kBufferBytes / page_size, 1) * page_size);
  }

  Status Write(uint32_t pgno, std::string_view data) {
    if (run_pages_ > 0 && (pgno != run_start_ + run_pages_ || Full())) {
      CAIRN_RETURN_IF_ERROR(Flush());
    }
    if (run_pages_ == 0) run_start_ = pgno;
    std::memcpy(buf_.data() + size_t{run_pages_} * page_size_, data.data(), page_size_);
    ++run_pages_;
    return Status::Ok();
  }

  Status Flush() {
    const char* p = buf_.data();
    size_t left = size_t{run_pages_} * page_size_;
    off_t off = static_cast<off_t>(run_start_ - 1) * page_size_;
    while (left > 0) {
      ssize_t n = ::pwrite(fd_, p, left, off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Errno("cannot write", path_);
      }
      p += n;
      off += n;
      left -= static_cast<size_t>(n);
    }
    run_pages_ = 0;
    return Status::Ok();
  }

 private:
  static constexpr size_t kBufferBytes = size_t{1} << 20;
  bool Full() const { return size_t{run_pages_ + 1} * page_size_ > buf_.size(); }

  const int fd_;
  const uint32_t page_size_;
  const std::string& path_;
  std::string buf_;
  uint32_t run_start_ = 0;
  uint32_t run_pages_ = 0;
};

// "file:<path>?immutable=1": SQLite reads the file as it is, without locks, -wal or -shm.
std::string ImmutableUri(const std::string& path) {
  std::string uri = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      uri += c;
    }
  }
  return uri + "?immutable=1";
}

Status IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(ImmutableUri(path).c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
                           nullptr);
  struct Closer {
    sqlite3* db;
    ~Closer() { sqlite3_close(db); }
  } closer{db};
  if (rc != SQLITE_OK) {
    return Status(Code::kIOError, fmt::format("cannot open the restored database {}: {}", path,
                                              db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
  }
  // Memory-mapped reads: the check reads every page once, and a copy per page would cost more than
  // the check itself.
  sqlite3_exec(db, "PRAGMA mmap_size=1099511627776", nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr);
  std::string problems;
  int rows = 0;
  while (rc == SQLITE_OK) {
    int step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) break;
    if (step != SQLITE_ROW) {
      rc = step;
      break;
    }
    const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    std::string_view line = text ? text : "";
    if (line != "ok" && ++rows <= 5) problems += (problems.empty() ? "" : "; ") + std::string(line);
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_OK) {
    return Status(Code::kCorruption, fmt::format("PRAGMA integrity_check on the restored database "
                                                 "failed: {}",
                                                 sqlite3_errmsg(db)));
  }
  if (rows > 0) {
    return Status(
        Code::kCorruption,
        fmt::format("the restored database fails PRAGMA integrity_check ({} problem{}): {}", rows,
                    rows == 1 ? "" : "s", problems));
  }
  return Status::Ok();
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

std::optional<int64_t> GenerationStartTime(std::string_view g) {
  if (g.size() != 21 || g[16] != '-') return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 21; ++i) {
    if (i == 16) continue;
    const int digit = HexValue(g[i]);
    if (digit < 0 || (g[i] >= 'A' && g[i] <= 'F')) return std::nullopt;  // names are lower-case
    if (i < 16) v = (v << 4) | static_cast<uint64_t>(digit);
  }
  return static_cast<int64_t>(v);
}

std::string FormatTimeRfc3339(int64_t time_us) {
  using namespace std::chrono;
  const sys_time<microseconds> t{microseconds(time_us)};
  const sys_days midnight = floor<days>(t);
  // std::chrono's calendar holds the years -32767..32767, not all of int64's ±292,000 years of
  // microseconds (no clock or backup name gets near): a time outside is written as its number.
  constexpr sys_days kFirst = year::min() / January / 1;
  constexpr sys_days kLast = year::max() / December / 31;
  if (midnight < kFirst || midnight > kLast)
    return fmt::format("{} microseconds after 1970-01-01T00:00:00Z", time_us);
  const year_month_day date(midnight);
  const hh_mm_ss<microseconds> tod(t - midnight);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     tod.hours().count(), tod.minutes().count(), tod.seconds().count(),
                     tod.subseconds().count());
}

std::optional<int64_t> ParseTimeRfc3339(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t n, int64_t* v) {
    if (i + n > s.size()) return false;
    int64_t x = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = s[i + k];
      if (c < '0' || c > '9') return false;
      x = x * 10 + (c - '0');
    }
    *v = x;
    i += n;
    return true;
  };
  auto expect = [&](char c) { return i < s.size() && s[i++] == c; };
  int64_t y, mo, d, h, mi, sec;
  if (!digits(4, &y) || !expect('-') || !digits(2, &mo) || !expect('-') || !digits(2, &d)) {
    return std::nullopt;
  }
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't' && s[i] != ' ')) return std::nullopt;
  ++i;
  if (!digits(2, &h) || !expect(':') || !digits(2, &mi) || !expect(':') || !digits(2, &sec)) {
    return std::nullopt;
  }
  int64_t frac_us = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n < 6) frac_us = frac_us * 10 + (s[i] - '0');
      ++n;
      ++i;
    }
    if (n == 0) return std::nullopt;
    for (int k = n; k < 6; ++k) frac_us *= 10;
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const int sign = s[i++] == '-' ? -1 : 1;
    int64_t oh, om;
    if (!digits(2, &oh) || !expect(':') || !digits(2, &om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  using namespace std::chrono;
  const year_month_day date{year(static_cast<int>(y)), month(static_cast<unsigned>(mo)),
                            day(static_cast<unsigned>(d))};
  if (!date.ok()) return std::nullopt;  // no such date (month 13, April 31, February 29 of 2023)
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;  // 60: a leap second, taken as :59 + 1s
  const sys_seconds at = sys_days(date) + hours(h) + minutes(mi) + seconds(sec) - seconds(offset_s);
  const int64_t secs = at.time_since_epoch().count();
  return secs * 1000000 + frac_us;
}

Result<std::vector<std::string>> ListDatabases(ObjectStore* store) {
  CAIRN_ASSIGN_OR_RETURN(std::vector<objectstore::ObjectInfo> objects, store->List(""));
  std::set<std::string, std::less<>> dbs;
  for (const auto& o : objects) {
    std::string_view key = o.key;
    const size_t slash = key.find('/');
    if (slash == std::string_view::npos || slash == 0) continue;
    std::string_view db = key.substr(0, slash);
    if (dbs.contains(db)) continue;
    ParsedKey pk;
    if (ParseRelativeKey(key.substr(slash + 1), &pk)) dbs.emplace(db);
  }
  return std::vector<std::string>(dbs.begin(), dbs.end());
}

Result<std::vector<GenerationInfo>> ListGenerations(ObjectStore* store, std::string_view db) {
  const std::string prefix = std::string(db) + "/";
  CAIRN_ASSIGN_OR_RETURN(std::vector<objectstore::ObjectInfo> objects, store->List(prefix));
  std::map<std::string, GenerationInfo, std::less<>> gens;  // names sort by age
  for (auto& o : objects) {
    if (!o.key.starts_with(prefix)) continue;
    ParsedKey pk;
    if (!ParseRelativeKey(std::string_view(o.key).substr(prefix.size()), &pk)) continue;
    auto it = gens.find(pk.generation);
    if (it == gens.end()) {
      GenerationInfo g;
      g.name = std::string(pk.generation);
      g.start_time_us = *GenerationStartTime(g.name);
      it = gens.emplace(g.name, std::move(g)).first;
    }
    GenerationInfo& g = it->second;
    pk.file.key = std::move(o.key);
    pk.file.size = o.size;
    g.max_txid = std::max(g.max_txid, pk.file.name.max_txid);
    g.max_time_us = std::max(g.max_time_us, pk.file.name.max_time_us);
    (pk.file.level < 0 ? g.snapshots : g.logs).push_back(std::move(pk.file));
  }
  std::vector<GenerationInfo> out;
  for (auto& [name, g] : gens) {
    std::sort(g.snapshots.begin(), g.snapshots.end(), [](const BackupFile& a, const BackupFile& b) {
      return a.name.max_txid < b.name.max_txid;
    });
    std::sort(g.logs.begin(), g.logs.end(), [](const BackupFile& a, const BackupFile& b) {
      if (a.name.min_txid != b.name.min_txid) return a.name.min_txid < b.name.min_txid;
      return a.name.max_txid > b.name.max_txid;
    });
    out.push_back(std::move(g));
  }
  return out;
}

Result<RestorePlan> PlanRestore(ObjectStore* store, std::string_view db,
                                const RestoreTarget& target) {
  if (target.txid && *target.txid == 0) {
    return Status(Code::kInvalidRequest, "the target txid must be at least 1");
  }
  CAIRN_ASSIGN_OR_RETURN(std::vector<GenerationInfo> gens, ListGenerations(store, db));
  if (gens.empty()) {
    return Status(Code::kNotFound,
                  fmt::format("no backup of database '{}' in {}", db, Describe(store)));
  }
  const std::optional<int64_t> t = target.time_us;
  auto snapshot_fits = [&](const BackupFile& s) {
    return (!target.txid || s.name.max_txid <= *target.txid) && (!t || s.name.max_time_us <= *t);
  };
  auto first_log = [](const GenerationInfo& g) -> const BackupFile* {
    return !g.logs.empty() && g.logs.front().name.min_txid == 1 ? &g.logs.front() : nullptr;
  };

  // 1. The generation.
  const GenerationInfo* gen = nullptr;
  if (!target.generation.empty()) {
    for (const auto& g : gens)
      if (g.name == target.generation) gen = &g;
    if (!gen) {
      return Status(Code::kNotFound, fmt::format("database '{}' has no generation {} in {}", db,
                                                 target.generation, Describe(store)));
    }
  } else if (t) {
    for (auto it = gens.rbegin(); it != gens.rend() && !gen; ++it) {
      if (it->start_time_us > *t) continue;
      const bool has_snapshot =
          std::any_of(it->snapshots.begin(), it->snapshots.end(), snapshot_fits);
      if (has_snapshot || first_log(*it)) gen = &*it;
    }
    if (!gen) {
      return Status(
          Code::kNotFound,
          fmt::format("no backup of database '{}' at or before {} (the oldest generation, "
                      "{}, starts at {})",
                      db, FormatTimeRfc3339(*t), gens.front().name,
                      FormatTimeRfc3339(gens.front().start_time_us)));
    }
  } else {
    gen = &gens.back();
  }

  RestorePlan plan;
  plan.db = std::string(db);
  plan.generation = gen->name;
  plan.stop_time_us = t;
  if (target.txid && *target.txid > gen->max_txid) {
    return Status(Code::kInvalidRequest,
                  fmt::format("txid {} is beyond the newest backed-up transaction of database "
                              "'{}' (txid {} in generation {})",
                              *target.txid, db, gen->max_txid, gen->name));
  }
  plan.stop_txid = target.txid ? *target.txid : gen->max_txid;

  // 2. The snapshot, or the empty database.
  for (auto it = gen->snapshots.rbegin(); it != gen->snapshots.rend(); ++it) {
    if (snapshot_fits(*it)) {
      plan.snapshot = *it;
      break;
    }
  }
  if (!plan.snapshot) {
    const BackupFile* first = first_log(*gen);
    bool from_empty = false;
    if (first) {
      auto bytes = store->GetBlob(first->key);
      if (!bytes.ok()) {
        return Status(bytes.status().code(),
                      fmt::format("cannot download {}: {}", first->key, bytes.status().message()));
      }
      auto h = txlog::FileReader::ReadHeader((*bytes)->data());
      if (!h.ok()) {
        return Status(Code::kCorruption,
                      fmt::format("object {} is damaged: {}", first->key, h.status().message()));
      }
      from_empty = !h->snapshot() && h->min_txid == 1 && h->pre_checksum == 0;
      plan.page_size = h->page_size;
      plan.fetched.emplace_back(first->key, std::move(*bytes));
    }
    if (!from_empty) {
      std::string what = target.txid ? fmt::format("txid {}", *target.txid) : "";
      if (t) what += (what.empty() ? "" : " and ") + FormatTimeRfc3339(*t);
      std::string oldest =
          gen->snapshots.empty()
              ? "it has no snapshot"
              : fmt::format("its oldest snapshot is txid {} at {}",
                            gen->snapshots.front().name.max_txid,
                            FormatTimeRfc3339(gen->snapshots.front().name.max_time_us));
      return Status(
          Code::kNotFound,
          fmt::format("no snapshot of database '{}' (generation {}) at or before {}: {}", db,
                      gen->name, what.empty() ? "its newest transaction" : what, oldest));
    }
  }

  // 3. The chain of log files.
  uint64_t next = (plan.snapshot ? plan.snapshot->name.max_txid : 0) + 1;
  const BackupFile* prev = plan.snapshot ? &*plan.snapshot : nullptr;
  while (next <= plan.stop_txid) {
    const BackupFile* best = nullptr;
    const BackupFile* best_final = nullptr;  // the smallest file that reaches the target
    for (const BackupFile& f : gen->logs) {
      if (f.name.min_txid > next) break;
      if (f.name.max_txid < next) continue;
      if (!best || f.name.max_txid > best->name.max_txid) best = &f;
      const bool final = f.name.max_txid >= plan.stop_txid || (t && f.name.max_time_us > *t);
      if (final && (!best_final || f.size < best_final->size)) best_final = &f;
    }
    if (best_final) best = best_final;
    if (!best) {
      uint64_t resume = 0;
      for (const BackupFile& f : gen->logs)
        if (f.name.min_txid > next && (resume == 0 || f.name.min_txid < resume))
          resume = f.name.min_txid;
      const uint64_t last_missing = resume ? resume - 1 : plan.stop_txid;
      return Status(
          Code::kCorruption,
          fmt::format("the backup of database '{}' (generation {}) is missing {}{}{} in {}", db,
                      gen->name, Range(next, last_missing),
                      prev ? " after " + prev->key : std::string(),
                      resume ? fmt::format(" (the log resumes at txid {})", resume) : std::string(),
                      Describe(store)));
    }
    plan.logs.push_back(*best);
    prev = best;
    next = best->name.max_txid + 1;
    if (t && best->name.max_time_us > *t) break;  // the target time falls inside this file
  }

  if (plan.snapshot) plan.total_bytes += plan.snapshot->size;
  for (const BackupFile& f : plan.logs) plan.total_bytes += f.size;
  return plan;
}

Result<RestoreResult> Restore(ObjectStore* store, const RestorePlan& plan,
                              const std::string& out_path, const RestoreOptions& options) {
  if (!options.overwrite && Exists(out_path)) {
    return Status(Code::kAlreadyExists, out_path + " exists (restore refuses to overwrite it)");
  }
  const std::string tmp = out_path + ".tmp";
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", tmp);
  struct TmpGuard {
    int fd;
    const std::string& path;
    bool keep = false;
    ~TmpGuard() {
      if (fd >= 0) ::close(fd);
      if (!keep) ::unlink(path.c_str());
    }
  } guard{fd, tmp};

  std::vector<const BackupFile*> files;
  if (plan.snapshot) files.push_back(&*plan.snapshot);
  for (const BackupFile& f : plan.logs) files.push_back(&f);

  auto fetch = [store, &plan](const BackupFile* f) -> Result<std::shared_ptr<const objectstore::Blob>> {
    for (const auto& [key, bytes] : plan.fetched)
      if (key == f->key) return bytes;
    auto got = store->GetBlob(f->key);
    if (!got.ok()) {
      return Status(got.status().code(),
                    fmt::format("cannot download {}: {}", f->key, got.status().message()));
    }
    return std::move(*got);
  };

  RestoreResult result;
  txlog::PageChecksums sums;
  txlog::Position pos;  // what the file holds so far
  uint32_t page_size = 0;
  uint32_t page_count = 0;
  std::unique_ptr<PageWriter> writer;
  uint64_t done_before = 0;  // object bytes of the files finished
  uint64_t reported = 0;
  auto report = [&](uint64_t done, bool force) {
    if (!options.progress) return;
    if (force || done - reported >= std::max<uint64_t>(plan.total_bytes / 200, 1 << 20)) {
      reported = done;
      options.progress(done, plan.total_bytes);
    }
  };
  report(0, true);

  bool stopped = false;  // a record beyond the target was reached
  std::future<Result<std::shared_ptr<const objectstore::Blob>>> pending;
  if (!files.empty()) pending = std::async(std::launch::async, fetch, files[0]);
  for (size_t i = 0; i < files.size() && !stopped; ++i) {
    const BackupFile& f = *files[i];
    auto bytes = pending.get();
    if (!bytes.ok()) return bytes.TakeStatus();
    if (i + 1 < files.size()) pending = std::async(std::launch::async, fetch, files[i + 1]);
    const std::string_view data = (*bytes)->data();
    result.downloaded_bytes += data.size();
    auto damaged = [&](const std::string& why) {
      return Status(Code::kCorruption, fmt::format("object {} is damaged: {}", f.key, why));
    };
    auto reader_or = txlog::FileReader::Open(data);
    if (!reader_or.ok()) return damaged(reader_or.status().message());
    txlog::FileReader& reader = **reader_or;
    const txlog::FileHeader& fh = reader.header();
    if (fh.snapshot() != f.name.snapshot || fh.min_txid != f.name.min_txid ||
        fh.max_txid != f.name.max_txid) {
      return damaged(
          fmt::format("its contents ({}) do not match its name", Range(fh.min_txid, fh.max_txid)));
    }
    if (page_size == 0) {
      page_size = fh.page_size;
      writer = std::make_unique<PageWriter>(fd, page_size, tmp);
    } else if (fh.page_size != page_size) {
      return damaged(
          fmt::format("page size {} where the restore so far has {}", fh.page_size, page_size));
    }

    const uint64_t units = fh.snapshot() ? 0 : fh.record_count;  // progress within the file
    uint64_t units_done = 0;
    txlog::RecordHeader h;
    for (;;) {
      auto more = reader.NextRecord(&h);
      if (!more.ok()) return damaged(more.status().message());
      if (!*more) break;
      ++units_done;
      if (!fh.snapshot() && h.txid <= pos.txid) continue;  // already applied (overlapping files)
      if (h.txid > plan.stop_txid || (plan.stop_time_us && h.commit_time_us > *plan.stop_time_us)) {
        stopped = true;
        break;
      }
      if (fh.snapshot()) {
        if (i != 0) return damaged("a snapshot after the replay began");
        sums.Clear();
      } else {
        if (h.txid != pos.txid + 1) {
          return Status(
              Code::kCorruption,
              fmt::format("the backup of database '{}' (generation {}) is missing {} "
                          "before {}",
                          plan.db, plan.generation, Range(pos.txid + 1, h.txid - 1), f.key));
        }
        if (h.pre_checksum != sums.checksum()) {
          return damaged(
              fmt::format("txid {} starts from checksum {:016x}, but the database "
                          "restored so far has {:016x}",
                          h.txid, h.pre_checksum, sums.checksum()));
        }
      }
      if (h.page_count < page_count) {
        // The database shrank: drop the tail, so pages that come back later start out empty.
        CAIRN_RETURN_IF_ERROR(writer->Flush());
        if (::ftruncate(fd, static_cast<off_t>(h.page_count) * page_size) != 0)
          return Errno("cannot truncate", tmp);
      }
      page_count = h.page_count;
      sums.Resize(page_count);
      for (uint32_t k = 0; k < h.n_pages; ++k) {
        uint32_t pgno;
        std::string_view page;
        Status st = reader.NextPage(&pgno, &page);
        if (!st.ok()) return damaged(st.message());
        if (pgno > page_count)
          return damaged(fmt::format("txid {} writes page {} of {}", h.txid, pgno, page_count));
        sums.SetPage(pgno, page.data(), page_size);
        CAIRN_RETURN_IF_ERROR(writer->Write(pgno, page));
        if (fh.snapshot() && (k & 1023) == 1023) {
          report(done_before + f.size * (k + 1) / std::max<uint32_t>(h.n_pages, 1), false);
        }
      }
      if (sums.checksum() != h.post_checksum) {
        return damaged(fmt::format("after txid {} the database's checksum is {:016x}, not {:016x}",
                                   h.txid, sums.checksum(), h.post_checksum));
      }
      pos = {h.txid, h.post_checksum};
      result.time_us = h.commit_time_us;
      if (units > 0 && (units_done & 63) == 0)
        report(done_before + f.size * units_done / units, false);
    }
    done_before += f.size;
    report(done_before, false);
  }
  if (!stopped && pos.txid != plan.stop_txid) {
    return Status(Code::kCorruption,
                  fmt::format("the backup of database '{}' (generation {}) ends at txid {}, before "
                              "the target txid {}",
                              plan.db, plan.generation, pos.txid, plan.stop_txid));
  }

  if (writer) CAIRN_RETURN_IF_ERROR(writer->Flush());
  const uint64_t bytes = uint64_t{page_count} * page_size;
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) return Errno("cannot truncate", tmp);
  if (::fdatasync(fd) != 0) return Errno("cannot sync", tmp);
  if (::close(fd) != 0) {
    guard.fd = -1;
    return Errno("cannot close", tmp);
  }
  guard.fd = -1;
  // Checked before the rename, so out_path never holds a database that failed the check.
  if (options.integrity_check) CAIRN_RETURN_IF_ERROR(IntegrityCheck(tmp));

  // A -wal left beside out_path would be replayed by SQLite onto the restored file.
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    CAIRN_RETURN_IF_ERROR(RemoveFile(out_path + suffix));
  }
  const unsigned flags = options.overwrite ? 0 : RENAME_NOREPLACE;
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, out_path.c_str(), flags) != 0) {
    if (errno == EEXIST) {
      return Status(Code::kAlreadyExists, out_path + " exists (restore refuses to overwrite it)");
    }
    return Errno("cannot rename " + tmp + " to", out_path);
  }
  guard.keep = true;
  CAIRN_RETURN_IF_ERROR(SyncDir(DirOf(out_path)));
  report(plan.total_bytes, true);

  result.position = pos;
  result.page_count = page_count;
  result.page_size = page_count > 0 ? page_size : 0;
  result.bytes = bytes;
  if (pos.txid == 0) result.time_us = 0;
  return result;
}

}  // namespace cairn::backup
