#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <random>

#include "base/file.h"
#include "txlog/checksum.h"
#include "txlog/format.h"
#include "txlog/local_log.h"
#include "txlog/txlog.h"

namespace cairn::txlog {
namespace {

namespace fs = std::filesystem;

std::string TempDir() {
  static std::mt19937_64 rng{std::random_device{}()};
  std::string d = (fs::temp_directory_path() / ("cairn-txlog-" + std::to_string(rng()))).string();
  fs::create_directories(d);
  return d;
}

Record MakeRecord(uint64_t txid, uint64_t pre, uint32_t ps, std::vector<uint32_t> pgnos, char fill,
                  uint32_t page_count) {
  Record r;
  r.h.txid = txid;
  r.h.commit_time_us = 1000 * static_cast<int64_t>(txid);
  r.h.page_count = page_count;
  r.h.n_pages = static_cast<uint32_t>(pgnos.size());
  r.h.pre_checksum = pre;
  r.h.post_checksum = pre ^ (txid * 7919);
  r.pgnos = pgnos;
  for (size_t i = 0; i < pgnos.size(); ++i) r.pages.append(ps, static_cast<char>(fill + i));
  return r;
}

TEST(FormatTest, RoundTripAndNames) {
  FileWriter w(4096);
  Record a = MakeRecord(5, 11, 4096, {1, 3, 9}, 'a', 9);
  Record b = MakeRecord(6, a.h.post_checksum, 4096, {2}, 'x', 9);
  ASSERT_TRUE(w.Add(a).ok());
  ASSERT_TRUE(w.Add(b).ok());
  // A record that does not continue the checksum is refused.
  Record bad = MakeRecord(7, 12345, 4096, {1}, 'q', 9);
  EXPECT_FALSE(w.Add(bad).ok());
  w.SetWalHint(1, 2, 3);
  auto file = w.Finish();
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  auto r = FileReader::Open(*file);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const FileHeader& h = (*r)->header();
  EXPECT_EQ(h.min_txid, 5u);
  EXPECT_EQ(h.max_txid, 6u);
  EXPECT_EQ(h.pre_checksum, 11u);
  EXPECT_EQ(h.post_checksum, b.h.post_checksum);
  EXPECT_EQ(h.wal_frame, 3u);
  Record got;
  ASSERT_TRUE(*(*r)->ReadRecord(&got));
  EXPECT_EQ(got.pgnos, a.pgnos);
  EXPECT_EQ(got.pages, a.pages);
  ASSERT_TRUE(*(*r)->ReadRecord(&got));
  EXPECT_EQ(got.h.txid, 6u);
  EXPECT_EQ(got.pages, b.pages);
  EXPECT_FALSE(*(*r)->ReadRecord(&got));

  ParsedName p;
  ASSERT_TRUE(ParseFileName(LogFileName(h), &p));
  EXPECT_FALSE(p.snapshot);
  EXPECT_EQ(p.min_txid, 5u);
  EXPECT_EQ(p.max_txid, 6u);
  EXPECT_EQ(p.max_time_us, 6000);
  EXPECT_FALSE(ParseFileName("0000000000000005-0000000000000004-0000000000000000.clog", &p));
  EXPECT_FALSE(ParseFileName("junk.clog", &p));
}

TEST(FormatTest, ConcatenatedFilesReadAsOne) {
  std::vector<std::string> files;
  uint64_t pre = 0;
  for (uint64_t tx = 1; tx <= 6; tx += 2) {
    FileWriter w(512);
    Record a = MakeRecord(tx, pre, 512, {1, 2}, 'a', 4);
    Record b = MakeRecord(tx + 1, a.h.post_checksum, 512, {3}, 'k', 4);
    ASSERT_TRUE(w.Add(a).ok());
    ASSERT_TRUE(w.Add(b).ok());
    pre = b.h.post_checksum;
    files.push_back(*w.Finish());
  }
  FileHeader h;
  auto joined = ConcatFiles({files[0], files[1], files[2]}, &h);
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  EXPECT_EQ(h.min_txid, 1u);
  EXPECT_EQ(h.max_txid, 6u);
  EXPECT_EQ(h.record_count, 6u);
  EXPECT_EQ(h.post_checksum, pre);
  auto r = FileReader::Open(*joined);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Record rec;
  uint64_t n = 0;
  while (*(*r)->ReadRecord(&rec)) EXPECT_EQ(rec.h.txid, ++n);
  EXPECT_EQ(n, 6u);
  // Files that do not follow each other are refused.
  EXPECT_FALSE(ConcatFiles({files[0], files[2]}).ok());
  std::string bad = files[1];
  bad[kHeaderSize + 1] ^= 1;
  EXPECT_FALSE(ConcatFiles({files[0], bad}).ok());
}

TEST(FormatTest, DamageIsDetected) {
  FileWriter w(1024);
  ASSERT_TRUE(w.Add(MakeRecord(1, 0, 1024, {1, 2}, 'a', 2)).ok());
  std::string file = *w.Finish();
  for (size_t pos : {size_t{3}, size_t{30}, kHeaderSize + 2, file.size() - 1}) {
    std::string bad = file;
    bad[pos] ^= 0x40;
    auto r = FileReader::Open(bad);
    EXPECT_FALSE(r.ok()) << "flipped byte " << pos;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kCorruption);
    }
  }
  EXPECT_FALSE(FileReader::Open(file.substr(0, file.size() - 10)).ok());
}

TEST(ChecksumTest, IncrementalEqualsRecomputed) {
  std::mt19937 rng(1);
  const uint32_t ps = 512;
  std::map<uint32_t, std::string> pages;
  PageChecksums inc;
  for (int step = 0; step < 500; ++step) {
    uint32_t pgno = 1 + rng() % 40;
    std::string data(ps, static_cast<char>(rng()));
    pages[pgno] = data;
    inc.SetPage(pgno, data.data(), ps);
    if (step % 50 == 49) {
      uint32_t keep = 10 + rng() % 30;
      inc.Resize(keep);
      pages.erase(pages.upper_bound(keep), pages.end());
    }
  }
  PageChecksums full;
  for (auto& [pgno, data] : pages) full.SetPage(pgno, data.data(), ps);
  full.Resize(inc.page_count());
  EXPECT_EQ(inc.checksum(), full.checksum());
  EXPECT_NE(inc.checksum(), 0u);
}

// A database written through one connection whose WAL hook feeds a TxLog, as engine::Database does.
class Capture {
 public:
  Capture(std::string dir) : dir_(std::move(dir)), db_path_(dir_ + "/data.sqlite") {}
  ~Capture() { CloseDb(); }

  void OpenDb() {
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db_), SQLITE_OK);
    sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA page_size=1024;");
  }
  void OpenLog() {
    auto log = TxLog::Open(db_path_, dir_ + "/txlog", {});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    sqlite3_wal_hook(db_, &Capture::Hook, this);
  }
  void CloseDb() {
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
  }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  }
  void Checkpoint() { Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }
  TxLog* log() { return log_.get(); }
  std::unique_ptr<TxLog>& log_ptr() { return log_; }
  const std::string& dir() const { return dir_; }
  const std::string& db_path() const { return db_path_; }
  sqlite3* db() { return db_; }

 private:
  static int Hook(void* self, sqlite3*, const char*, int frames) {
    static_cast<Capture*>(self)->log_->OnCommit(frames);
    return SQLITE_OK;
  }
  std::string dir_, db_path_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<TxLog> log_;
};

// Empty when equal, else where the two database images first differ.
std::string Diff(const std::string& a, const std::string& b) {
  if (a == b) return "";
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "images differ: sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size()) +
         ", first difference at byte " + std::to_string(i);
}

// Replays every file of the newest generation into a page map (what restore does), checking the
// chain; returns the image as file bytes.
std::string Replay(const std::string& log_dir, uint64_t* last_txid, uint64_t* checksum,
                   uint64_t upto = UINT64_MAX) {
  auto gens = TxLog::Generations(log_dir);
  EXPECT_TRUE(gens.ok() && !gens->empty());
  const std::string gdir = log_dir + "/" + gens->back();
  auto names = ListDir(gdir);
  std::vector<std::pair<ParsedName, std::string>> files;
  for (auto& n : *names) {
    ParsedName p;
    if (ParseFileName(n, &p)) files.push_back({p, n});
  }
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) {
    return a.first.max_txid != b.first.max_txid ? a.first.max_txid < b.first.max_txid
                                                : a.first.snapshot > b.first.snapshot;
  });
  std::map<uint32_t, std::string> pages;
  uint32_t page_count = 0, ps = 0;
  PageChecksums table;
  Position pos;
  for (auto& [p, n] : files) {
    std::string bytes = *ReadWholeFile(gdir + "/" + n);
    auto r = FileReader::Open(bytes);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      break;
    }
    ps = (*r)->header().page_size;
    Record rec;
    while (*(*r)->ReadRecord(&rec)) {
      if (rec.h.txid > upto) break;
      if (p.snapshot) {
        pages.clear();
        table.Clear();
      } else {
        EXPECT_EQ(rec.h.txid, pos.txid + 1);
        EXPECT_EQ(rec.h.pre_checksum, pos.checksum) << "txid " << rec.h.txid;
      }
      page_count = rec.h.page_count;
      pages.erase(pages.upper_bound(page_count), pages.end());
      table.Resize(page_count);
      for (size_t i = 0; i < rec.pgnos.size(); ++i) {
        pages[rec.pgnos[i]] = rec.pages.substr(i * ps, ps);
        table.SetPage(rec.pgnos[i], rec.pages.data() + i * ps, ps);
      }
      EXPECT_EQ(table.checksum(), rec.h.post_checksum) << "txid " << rec.h.txid;
      pos = {rec.h.txid, rec.h.post_checksum};
    }
  }
  std::string image(size_t{page_count} * ps, '\0');
  for (auto& [pgno, data] : pages) image.replace(size_t{pgno - 1} * ps, ps, data);
  *last_txid = pos.txid;
  *checksum = pos.checksum;
  return image;
}

TEST(TxLogTest, CapturesEveryCommitAndReplaysToTheSameFile) {
  Capture c(TempDir());
  c.OpenDb();
  c.OpenLog();
  // A new database (only its header page): the generation starts from the empty image, with no
  // snapshot; its first transaction rewrites that page.
  EXPECT_EQ(c.log()->captured().txid, 0u);
  EXPECT_TRUE(ListDir(c.dir() + "/txlog/" + c.log()->generation())->empty());
  c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB)");
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    switch (rng() % 4) {
      case 0:
        c.Exec("INSERT INTO t(v, b) VALUES (hex(randomblob(40)), randomblob(" + std::to_string(rng() % 3000) + "))");
        break;
      case 1: c.Exec("UPDATE t SET v = v || 'x' WHERE id % 7 = " + std::to_string(rng() % 7)); break;
      case 2: c.Exec("DELETE FROM t WHERE id % 11 = " + std::to_string(rng() % 11)); break;
      case 3: c.Exec("BEGIN; INSERT INTO t(v) VALUES ('a'); INSERT INTO t(v) VALUES ('b'); COMMIT"); break;
    }
    if (i == 100) c.Exec("CREATE INDEX tv ON t(v)");
    if (i == 150) {
      ASSERT_TRUE(c.log()->Flush().ok());
      c.Checkpoint();  // safe: everything captured is durable
    }
    if (i == 200) c.Exec("VACUUM");
    if (i % 37 == 0) {
      ASSERT_TRUE(c.log()->Flush().ok());
    }
  }
  c.Exec("INSERT INTO t(b) VALUES (zeroblob(200000))");  // overflow pages
  c.Exec("DELETE FROM t WHERE b IS NOT NULL AND length(b) > 100000");
  c.Exec("VACUUM");
  ASSERT_TRUE(c.log()->Flush().ok());
  EXPECT_FALSE(c.log()->needs_reseed());
  EXPECT_EQ(c.log()->durable(), c.log()->captured());
  const uint64_t txid = c.log()->durable().txid;
  EXPECT_GE(txid, 300u);
  c.Checkpoint();
  uint64_t last = 0, sum = 0;
  std::string image = Replay(c.dir() + "/txlog", &last, &sum);
  EXPECT_EQ(last, txid);
  EXPECT_EQ(sum, c.log()->durable().checksum);
  EXPECT_EQ(Diff(image, *ReadWholeFile(c.db_path())), "");
  auto info = TxLog::ComputeImage(c.db_path());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->checksum, sum);
}

TEST(TxLogTest, RecoversCommitsThatWereNotFlushedBeforeACrash) {
  Capture c(TempDir());
  c.OpenDb();
  c.OpenLog();
  c.Exec("CREATE TABLE t(x)");
  for (int i = 0; i < 20; ++i) c.Exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
  ASSERT_TRUE(c.log()->Flush().ok());
  for (int i = 0; i < 15; ++i) c.Exec("INSERT INTO t VALUES (randomblob(500))");
  ASSERT_TRUE(c.log()->Capture().ok());
  const Position before_crash = c.log()->captured();
  EXPECT_EQ(before_crash.txid, 36u);  // CREATE, 20 + 15 inserts
  const std::string gen = c.log()->generation();
  // Crash: the captured-but-unflushed records vanish with the process; the WAL keeps them.
  c.log_ptr().reset();
  c.OpenLog();
  EXPECT_EQ(c.log()->generation(), gen) << "recovery must continue the generation";
  EXPECT_EQ(c.log()->durable(), before_crash);
  c.Exec("INSERT INTO t VALUES ('after')");
  ASSERT_TRUE(c.log()->Flush().ok());
  EXPECT_EQ(c.log()->durable().txid, 37u);
  c.Checkpoint();
  uint64_t last = 0, sum = 0;
  EXPECT_EQ(Diff(Replay(c.dir() + "/txlog", &last, &sum), *ReadWholeFile(c.db_path())), "");
  EXPECT_EQ(last, 37u);
}

TEST(TxLogTest, RecoversAcrossAWalRestart) {
  Capture c(TempDir());
  c.OpenDb();
  c.OpenLog();
  c.Exec("CREATE TABLE t(x)");
  c.Exec("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(c.log()->Flush().ok());
  c.Checkpoint();                      // WAL emptied; the next commit restarts it with new salts
  c.Exec("INSERT INTO t VALUES (2)");  // captured, never flushed
  c.Exec("INSERT INTO t VALUES (3)");
  c.log_ptr().reset();
  c.OpenLog();
  EXPECT_EQ(c.log()->durable().txid, 4u);
  c.Checkpoint();
  uint64_t last = 0, sum = 0;
  EXPECT_EQ(Diff(Replay(c.dir() + "/txlog", &last, &sum), *ReadWholeFile(c.db_path())), "");
}

TEST(TxLogTest, ForeignChangesStartANewGenerationWithASnapshot) {
  Capture c(TempDir());
  c.OpenDb();
  c.OpenLog();
  c.Exec("CREATE TABLE t(x)");
  c.Exec("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(c.log()->Flush().ok());
  const std::string gen = c.log()->generation();
  c.log_ptr().reset();
  sqlite3_wal_hook(c.db(), nullptr, nullptr);
  c.Exec("INSERT INTO t VALUES ('behind the log''s back')");
  c.Checkpoint();
  c.OpenLog();
  EXPECT_NE(c.log()->generation(), gen);
  EXPECT_EQ(c.log()->durable().txid, 1u);  // the snapshot
  c.Exec("INSERT INTO t VALUES (3)");
  ASSERT_TRUE(c.log()->Flush().ok());
  c.Checkpoint();
  uint64_t last = 0, sum = 0;
  EXPECT_EQ(Diff(Replay(c.dir() + "/txlog", &last, &sum), *ReadWholeFile(c.db_path())), "");
  EXPECT_EQ(last, 2u);
}

TEST(TxLogTest, ReplayToAnEarlierTransactionMatchesThatState) {
  Capture c(TempDir());
  c.OpenDb();
  c.OpenLog();
  c.Exec("CREATE TABLE t(x)");
  for (int i = 0; i < 10; ++i) c.Exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
  ASSERT_TRUE(c.log()->Flush().ok());
  c.Checkpoint();
  const std::string at11 = *ReadWholeFile(c.db_path());
  for (int i = 0; i < 10; ++i) c.Exec("DELETE FROM t WHERE x = " + std::to_string(i));
  ASSERT_TRUE(c.log()->Flush().ok());
  uint64_t last = 0, sum = 0;
  // txid 1 is the CREATE TABLE, 2..11 the inserts.
  EXPECT_EQ(Diff(Replay(c.dir() + "/txlog", &last, &sum, 11), at11), "");
  EXPECT_EQ(last, 11u);
}


// One log file of generation `gen` holding txids min..max, its last commit at `time_s` seconds.
LocalFile File(const std::string& gen, uint64_t min, uint64_t max, int64_t time_s, uint64_t size,
               bool snapshot = false) {
  LocalFile f;
  f.generation = gen;
  f.p = {snapshot, min, max, time_s * 1000000};
  f.name = std::to_string(min) + "-" + std::to_string(max);
  f.size = size;
  return f;
}

constexpr int64_t kNow = 10000;  // seconds

TEST(LocalLogTest, KeepsTheNewestHistoryWithinAgeBytesAndFiles) {
  std::vector<LocalFile> files;
  for (uint64_t i = 1; i <= 10; ++i) files.push_back(File("g1", i, i, kNow - 100 + int64_t(i), 100));
  const auto all_released = [](const std::string&) { return UINT64_MAX; };
  // Everything fits: nothing goes.
  EXPECT_TRUE(FilesToRemove(files, {10000, std::chrono::seconds(600), 100}, kNow * 1000000,
                            all_released)
                  .empty());
  // Bytes: 450 bytes keep the newest four files.
  EXPECT_EQ(FilesToRemove(files, {450, std::chrono::seconds(600), 100}, kNow * 1000000,
                          all_released),
            (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  // Files: three.
  EXPECT_EQ(FilesToRemove(files, {10000, std::chrono::seconds(600), 3}, kNow * 1000000,
                          all_released)
                .size(),
            7u);
  // Age: files whose last commit is more than 95 s old (txids 1..4, at now-99 .. now-96).
  EXPECT_EQ(FilesToRemove(files, {10000, std::chrono::seconds(95), 100}, kNow * 1000000,
                          all_released),
            (std::vector<size_t>{0, 1, 2, 3}));
  // No window at all: only the newest file stays.
  EXPECT_EQ(FilesToRemove(files, {0, std::chrono::seconds(0), 0}, kNow * 1000000, all_released)
                .size(),
            9u);
  // Unset release function: every file is released (no backups).
  EXPECT_EQ(FilesToRemove(files, {0, std::chrono::seconds(0), 0}, kNow * 1000000, nullptr).size(),
            9u);
}

TEST(LocalLogTest, KeepsWhatIsNotReleasedWhateverItsSize) {
  std::vector<LocalFile> files;
  for (uint64_t i = 1; i <= 10; ++i) files.push_back(File("g1", i, i, kNow - 1000, 1000));
  // Uploaded through txid 6: 7..10 stay (the backlog) though they are old and large; of the
  // released ones none fits any more.
  const auto released = [](const std::string&) -> uint64_t { return 6; };
  EXPECT_EQ(FilesToRemove(files, {100, std::chrono::seconds(1), 1}, kNow * 1000000, released),
            (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  // Nothing released: nothing goes.
  EXPECT_TRUE(FilesToRemove(files, {0, std::chrono::seconds(0), 0}, kNow * 1000000,
                            [](const std::string&) -> uint64_t { return 0; })
                  .empty());
}

TEST(LocalLogTest, TheWindowIsContiguousAndOlderGenerationsGoFirst) {
  std::vector<LocalFile> files = {
      File("g1", 1, 1, kNow - 10, 100, /*snapshot=*/true), File("g1", 2, 5, kNow - 9, 100),
      File("g2", 1, 1, kNow - 8, 5000, /*snapshot=*/true), File("g2", 2, 3, kNow - 2, 100),
      File("g2", 4, 4, kNow - 1, 100)};
  const auto all_released = [](const std::string&) { return UINT64_MAX; };
  // The big snapshot of g2 does not fit 1,000 bytes: it ends the window, and g1 (small, young)
  // goes with it — an older file without the history after it serves nobody.
  EXPECT_EQ(FilesToRemove(files, {1000, std::chrono::seconds(600), 100}, kNow * 1000000,
                          all_released),
            (std::vector<size_t>{0, 1, 2}));
  // Releases are per generation: g1 not uploaded at all keeps its files.
  const auto g2_only = [](const std::string& g) -> uint64_t { return g == "g2" ? 100 : 0; };
  EXPECT_EQ(FilesToRemove(files, {1000, std::chrono::seconds(600), 100}, kNow * 1000000, g2_only),
            (std::vector<size_t>{2}));
}

TEST(TxLogTest, LocalFilesStayWithinTheWindowAndTheLogContinuesAfterReopen) {
  Capture c(TempDir());
  c.OpenDb();
  TxLogOptions o;
  o.retention = {32 * 1024, std::chrono::seconds(600), 8};
  o.recent_bytes = 0;  // followers read the local files, not memory
  {
    auto log = TxLog::Open(c.db_path(), c.dir() + "/txlog", o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    c.log_ptr() = std::move(log).value();
  }
  sqlite3_wal_hook(c.db(), [](void* l, sqlite3*, const char*, int frames) {
    static_cast<TxLog*>(l)->OnCommit(frames);
    return SQLITE_OK;
  }, c.log());
  c.Exec("CREATE TABLE t(x)");
  ASSERT_TRUE(c.log()->Flush().ok());
  const std::string gen = c.log()->generation();
  uint64_t largest = 0, max_files = 0, max_bytes = 0;
  for (int i = 0; i < 200; ++i) {
    c.Exec("INSERT INTO t VALUES (randomblob(" + std::to_string(500 + (i % 7) * 300) + "))");
    ASSERT_TRUE(c.log()->Flush().ok());
    // What is on disk is what the log counts, and within the window.
    uint64_t files = 0, bytes = 0;
    for (const auto& e : fs::directory_iterator(c.dir() + "/txlog/" + gen)) {
      ParsedName p;
      if (!ParseFileName(e.path().filename().string(), &p)) continue;
      files++;
      bytes += e.file_size();
      largest = std::max<uint64_t>(largest, e.file_size());
    }
    EXPECT_EQ(files, c.log()->stats().local_files);
    EXPECT_EQ(bytes, c.log()->stats().local_bytes);
    max_files = std::max(max_files, files);
    max_bytes = std::max(max_bytes, bytes);
    if (i % 50 == 0) c.Checkpoint();
  }
  EXPECT_LE(max_files, 8u);
  EXPECT_LE(max_bytes, 32u * 1024);
  EXPECT_GT(max_bytes, 32u * 1024 - 2 * largest) << "the window is used, not emptied";
  EXPECT_GT(c.log()->stats().files_pruned, 150u);
  // A follower within the window catches up from the files; one behind it is told to take a
  // snapshot.
  const uint64_t last = c.log()->durable().txid;
  auto recent = c.log()->RecordsAfter(gen, last - 3, 1 << 20);
  ASSERT_TRUE(recent.ok()) << recent.status().ToString();
  EXPECT_EQ(recent->size(), 3u);
  EXPECT_EQ(recent->back().h.txid, last);
  auto old = c.log()->RecordsAfter(gen, 5, 1 << 20);
  EXPECT_EQ(old.status().code(), Code::kNotFound) << old.status().ToString();
  // Reopened, the log continues the same generation from the newest file kept.
  c.log_ptr().reset();
  auto log = TxLog::Open(c.db_path(), c.dir() + "/txlog", o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ((*log)->generation(), gen);
  EXPECT_EQ((*log)->durable().txid, last);
  EXPECT_LE((*log)->stats().local_files, 8u);
}

TEST(TxLogTest, OpenPrunesOldGenerationsAndFilesACrashLeftBehind) {
  Capture c(TempDir());
  c.OpenDb();
  c.OpenLog();
  c.Exec("CREATE TABLE t(x)");
  c.Exec("INSERT INTO t VALUES (1)");
  ASSERT_TRUE(c.log()->Flush().ok());
  const std::string old_gen = c.log()->generation();
  sqlite3_wal_hook(c.db(), nullptr, nullptr);
  c.log_ptr().reset();
  // A change behind the log's back: the next open starts a new generation.
  c.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  c.Exec("INSERT INTO t VALUES (2)");
  c.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_TRUE(WriteFileAtomic(c.dir() + "/txlog/" + old_gen + "/x.clog.tmp123", "partial").ok());
  TxLogOptions o;
  o.retention = {0, std::chrono::seconds(0), 0};
  auto log = TxLog::Open(c.db_path(), c.dir() + "/txlog", o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_NE((*log)->generation(), old_gen);
  EXPECT_FALSE(fs::exists(c.dir() + "/txlog/" + old_gen)) << "released and outside the window";
  EXPECT_EQ((*log)->stats().local_files, 1u);  // the new generation's snapshot
}

}  // namespace
}  // namespace cairn::txlog
