#include "backup/restore.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "base/clock.h"
#include "base/file.h"
#include "objectstore/faulty_store.h"
#include "objectstore/local_store.h"
#include "objectstore/memory_store.h"
#include "txlog/checksum.h"
#include "txlog/format.h"
#include "txlog/txlog.h"

namespace cairn::backup {
namespace {

namespace fs = std::filesystem;
using objectstore::InMemoryStore;
using objectstore::ObjectStore;
using txlog::Position;

std::string TempDir() {
  static std::mt19937_64 rng{std::random_device{}()};
  std::string d = (fs::temp_directory_path() / ("cairn-restore-" + std::to_string(rng()))).string();
  fs::create_directories(d);
  return d;
}

// A database written through one connection whose WAL hook feeds a TxLog, as engine::Database
// does (the pattern of txlog_test.cc), with commit times from a manual clock.
class Capture {
 public:
  Capture(std::string dir, ManualClock* clock, int page_size = 1024)
      : dir_(std::move(dir)),
        db_path_(dir_ + "/data.sqlite"),
        clock_(clock),
        page_size_(page_size) {}
  ~Capture() { CloseDb(); }

  // Opens the database in WAL mode, then the log (which starts with a snapshot of it).
  void Open() {
    OpenConnection();
    Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
    OpenLog();
  }
  void OpenConnection() {
    ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db_), SQLITE_OK);
    sqlite3_db_config(db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    Exec("PRAGMA page_size=" + std::to_string(page_size_));
  }
  void OpenLog() {
    txlog::TxLogOptions opts;
    opts.clock = clock_;
    auto log = txlog::TxLog::Open(db_path_, dir_ + "/txlog", opts);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
    sqlite3_wal_hook(db_, &Capture::Hook, this);
  }
  void CloseLog() {
    sqlite3_wal_hook(db_, nullptr, nullptr);
    log_.reset();
  }
  void CloseDb() {
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
  }
  void Exec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << (err ? err : "");
  }
  void Flush() {
    Status st = log_->Flush();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void Checkpoint() { Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }
  txlog::TxLog* log() { return log_.get(); }
  sqlite3* db() { return db_; }
  std::string log_dir() const { return dir_ + "/txlog"; }
  const std::string& db_path() const { return db_path_; }

 private:
  static int Hook(void* self, sqlite3*, const char*, int frames) {
    static_cast<Capture*>(self)->log_->OnCommit(frames);
    return SQLITE_OK;
  }
  std::string dir_, db_path_;
  ManualClock* clock_;
  int page_size_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<txlog::TxLog> log_;
};

// A hash of a database's logical contents: the schema and every row of every table.
uint64_t Dump(sqlite3* db) {
  std::string out;
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(
      sqlite3_prepare_v2(db, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name",
                         -1, &st, nullptr),
      SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < 4; ++c) {
      const char* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
      out += t ? t : "<null>";
      out += '\x1f';
    }
    if (std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) == "table")
      tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
  }
  sqlite3_finalize(st);
  for (const std::string& t : tables) {
    EXPECT_EQ(sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\" ORDER BY rowid").c_str(), -1,
                                 &st, nullptr),
              SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        out += static_cast<char>('0' + sqlite3_column_type(st, c));
        const void* p = sqlite3_column_blob(st, c);
        out.append(static_cast<const char*>(p ? p : ""),
                   static_cast<size_t>(sqlite3_column_bytes(st, c)));
        out += '\x1e';
      }
    }
    sqlite3_finalize(st);
  }
  return txlog::PageHash(0, out.data(), out.size());
}

uint64_t DumpFile(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(("file:" + path + "?immutable=1").c_str(), &db,
                            SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr),
            SQLITE_OK);
  uint64_t h = Dump(db);
  sqlite3_close(db);
  return h;
}

// A state of the database worth restoring to.
struct Point {
  std::string generation;
  Position pos;
  int64_t time_us = 0;  // every commit up to pos is at or before it, every later one after it
  uint64_t dump = 0;
  bool flushed = false;  // the end of a local log file
};

// Runs `ops` random operations (inserts, updates, deletes, large blobs, CREATE INDEX, DROP TABLE,
// VACUUM, multi-statement transactions), flushing and checkpointing at random, and records a
// point after every flush and after some other commits. Every commit happens 1 ms after the
// previous operation.
void Workload(Capture* c, ManualClock* clock, std::mt19937* rng, int ops,
              std::vector<Point>* points) {
  std::vector<std::string> tables;
  int next_table = 0;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(c->db(), "SELECT name FROM sqlite_schema WHERE type='table'", -1, &st,
                     nullptr);
  while (sqlite3_step(st) == SQLITE_ROW)
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  auto record = [&](bool flushed) {
    Point p;
    p.flushed = flushed;
    p.generation = c->log()->generation();
    EXPECT_TRUE(c->log()->Capture().ok());  // commits are captured lazily (by Flush)
    p.pos = c->log()->captured();
    p.time_us = clock->WallMicros();
    p.dump = Dump(c->db());
    points->push_back(p);
  };
  auto pick = [&] { return tables[(*rng)() % tables.size()]; };
  for (int i = 0; i < ops; ++i) {
    clock->Advance(std::chrono::milliseconds(1));
    const int op = static_cast<int>((*rng)() % 100);
    if (tables.empty() || (op < 4 && tables.size() < 4)) {
      std::string t;
      do t = "t" + std::to_string(next_table++);
      while (std::find(tables.begin(), tables.end(), t) != tables.end());
      c->Exec("CREATE TABLE " + t + "(id INTEGER PRIMARY KEY, v TEXT, b BLOB)");
      tables.push_back(t);
    } else if (op < 45) {
      c->Exec("INSERT INTO " + pick() + "(v, b) VALUES (hex(randomblob(" +
              std::to_string(1 + (*rng)() % 60) + ")), randomblob(" +
              std::to_string((*rng)() % 3000) + "))");
    } else if (op < 55) {
      c->Exec("BEGIN; INSERT INTO " + pick() + "(v) VALUES ('a'); INSERT INTO " + pick() +
              "(v, b) VALUES ('b', zeroblob(1500)); UPDATE " + pick() +
              " SET v = v || 'z' WHERE id % 3 = 0; COMMIT");
    } else if (op < 67) {
      c->Exec("UPDATE " + pick() + " SET v = v || 'u', b = randomblob(" +
              std::to_string((*rng)() % 2000) + ") WHERE id % 5 = " + std::to_string((*rng)() % 5));
    } else if (op < 77) {
      c->Exec("DELETE FROM " + pick() + " WHERE id % 7 = " + std::to_string((*rng)() % 7));
    } else if (op < 80) {
      c->Exec("INSERT INTO " + pick() + "(v, b) VALUES ('big', randomblob(" +
              std::to_string(100000 + (*rng)() % 200000) + "))");
    } else if (op < 83) {
      const std::string t = pick();
      c->Exec("CREATE INDEX IF NOT EXISTS " + t + "_v ON " + t + "(v)");
    } else if (op < 85 && tables.size() > 1) {
      const size_t k = (*rng)() % tables.size();
      c->Exec("DROP TABLE " + tables[k]);
      tables.erase(tables.begin() + static_cast<std::ptrdiff_t>(k));
    } else if (op < 87) {
      c->Exec("VACUUM");
    } else if (op < 97) {
      c->Exec("DELETE FROM " + pick() + " WHERE length(b) > 50000");
    } else {
      c->Exec("INSERT INTO " + pick() + "(v) VALUES (NULL)");
    }
    if ((*rng)() % 10 == 0) {
      c->Flush();
      if ((*rng)() % 3 == 0) c->Checkpoint();  // safe: everything captured is durable
      record(true);
    } else if ((*rng)() % 6 == 0) {
      record(false);
    }
  }
  c->Flush();
  record(true);
}

std::string LogKey(const std::string& db, const std::string& gen, int level,
                   const txlog::FileHeader& h) {
  return db + "/" + gen + "/log/L" + std::to_string(level) + "/" + txlog::LogFileName(h);
}

// One file holding every record of `files` (consecutive log files), as compaction makes them.
std::string Merge(const std::vector<std::string>& files, txlog::FileHeader* header) {
  auto first = txlog::FileReader::ReadHeader(files.front());
  txlog::FileWriter w(first->page_size, 0, 1);
  for (const std::string& f : files) {
    auto r = txlog::FileReader::Open(f);
    EXPECT_TRUE(r.ok());
    txlog::Record rec;
    while (*(*r)->ReadRecord(&rec)) EXPECT_TRUE(w.Add(rec).ok());
  }
  auto out = w.Finish();
  EXPECT_TRUE(out.ok());
  *header = w.header();
  return *out;
}

// Copies the local log of `c` into the store with the docs/backup.md layout: snapshots as they
// are; log files either in L0, or merged in runs into L1 (sometimes keeping the L0 originals, as
// before compaction deletes them), plus one L2 file straddling other files' boundaries.
// Returns the number of objects written.
int Upload(ObjectStore* store, const std::string& db, const std::string& log_dir,
           std::mt19937* rng) {
  int objects = 0;
  auto put = [&](const std::string& key, const std::string& data) {
    Status st = store->Put(key, data);
    EXPECT_TRUE(st.ok()) << st.ToString();
    ++objects;
  };
  auto gens = txlog::TxLog::Generations(log_dir);
  EXPECT_TRUE(gens.ok());
  for (const std::string& gen : *gens) {
    auto names = ListDir(log_dir + "/" + gen);
    EXPECT_TRUE(names.ok());
    std::vector<std::string> logs;
    for (const std::string& n : *names) {
      txlog::ParsedName p;
      if (!txlog::ParseFileName(n, &p)) continue;
      std::string data = *ReadWholeFile(log_dir + "/" + gen + "/" + n);
      if (p.snapshot) {
        put(db + "/" + gen + "/snapshots/" + n, data);
      } else {
        logs.push_back(std::move(data));
      }
    }
    for (size_t i = 0; i < logs.size();) {
      const size_t j = std::min(logs.size(), i + 1 + (*rng)() % 5);
      const bool merge = j - i > 1 && (*rng)() % 3 != 0;
      if (merge) {
        txlog::FileHeader h;
        std::string m = Merge({logs.begin() + static_cast<std::ptrdiff_t>(i),
                               logs.begin() + static_cast<std::ptrdiff_t>(j)},
                              &h);
        put(LogKey(db, gen, 1, h), m);
      }
      if (!merge || (*rng)() % 2 == 0) {
        for (size_t k = i; k < j; ++k)
          put(LogKey(db, gen, 0, *txlog::FileReader::ReadHeader(logs[k])), logs[k]);
      }
      i = j;
    }
    if (logs.size() >= 6) {
      const size_t a = 1 + (*rng)() % (logs.size() / 2);
      const size_t b = std::min(logs.size(), a + 3 + (*rng)() % 4);
      txlog::FileHeader h;
      std::string m = Merge({logs.begin() + static_cast<std::ptrdiff_t>(a),
                             logs.begin() + static_cast<std::ptrdiff_t>(b)},
                            &h);
      put(LogKey(db, gen, 2, h), m);
    }
  }
  return objects;
}

// Restores `target` into a fresh file and checks it against `want`; returns the plan used.
RestorePlan ExpectRestores(ObjectStore* store, const std::string& db, const RestoreTarget& target,
                           const Point& want, const std::string& out_dir) {
  static int n = 0;
  auto plan = PlanRestore(store, db, target);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  if (!plan.ok()) return {};
  EXPECT_EQ(plan->generation, want.generation);
  const std::string out = out_dir + "/restored-" + std::to_string(++n) + ".sqlite";
  uint64_t last_done = 0, last_total = 0;
  RestoreOptions opts;
  opts.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  auto res = Restore(store, *plan, out, opts);
  EXPECT_TRUE(res.ok()) << res.status().ToString();
  if (!res.ok()) return *plan;
  EXPECT_EQ(res->position, want.pos)
      << "target txid " << target.txid.value_or(0) << " time " << target.time_us.value_or(0);
  EXPECT_EQ(last_done, last_total);
  EXPECT_EQ(last_total, plan->total_bytes);
  EXPECT_LE(res->time_us, want.time_us);
  EXPECT_EQ(res->bytes, uint64_t{res->page_count} * res->page_size);
  EXPECT_EQ(fs::file_size(out), res->bytes);
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_EQ(DumpFile(out), want.dump) << "restored contents differ at txid " << want.pos.txid;
  auto image = txlog::TxLog::ComputeImage(out);
  EXPECT_TRUE(image.ok());
  if (image.ok()) {
    EXPECT_EQ(image->checksum, want.pos.checksum);
  }
  fs::remove(out);
  return *plan;
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = TempDir(); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
  ManualClock clock_;
};

TEST_F(RestoreTest, RandomWorkloadRestoresToEveryKindOfTarget) {
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Capture c(dir_ + "/live", &clock_);
  fs::create_directories(dir_ + "/live");
  c.Open();
  std::vector<Point> points;
  Workload(&c, &clock_, &rng, 400, &points);
  InMemoryStore store;
  Upload(&store, "app", c.log_dir(), &rng);

  auto dbs = ListDatabases(&store);
  ASSERT_TRUE(dbs.ok());
  EXPECT_EQ(*dbs, std::vector<std::string>{"app"});

  // The newest state, with no target.
  ExpectRestores(&store, "app", {}, points.back(), dir_);
  // By txid and by time (exactly at a point's time, and just before the next commit).
  for (int i = 0; i < 25; ++i) {
    const Point& p = points[rng() % points.size()];
    if (p.pos.txid == 0) continue;
    ExpectRestores(&store, "app", {p.pos.txid, std::nullopt, ""}, p, dir_);
    ExpectRestores(&store, "app", {std::nullopt, p.time_us + (rng() % 2 ? 0 : 999), ""}, p, dir_);
  }
  // A time after the last commit restores the newest state.
  ExpectRestores(&store, "app", {std::nullopt, points.back().time_us + 3600'000'000, ""},
                 points.back(), dir_);

  // A snapshot built in the store at a middle point (as compaction does): restores at or after it
  // start from it and skip the records it already holds; earlier ones use the first snapshot.
  // Taken inside a log file, so replay from it must skip that file's first records.
  std::set<uint64_t> file_ends;
  for (const Point& p : points)
    if (p.flushed) file_ends.insert(p.pos.txid);
  size_t m = points.size() / 2;
  while (m + 1 < points.size() && file_ends.count(points[m].pos.txid)) ++m;
  const Point& mid = points[m];
  ASSERT_FALSE(file_ends.count(mid.pos.txid));
  {
    auto plan = PlanRestore(&store, "app", {mid.pos.txid, std::nullopt, ""});
    ASSERT_TRUE(plan.ok());
    ASSERT_TRUE(Restore(&store, *plan, dir_ + "/mid.sqlite").ok());
    std::string image = *ReadWholeFile(dir_ + "/mid.sqlite");
    const uint32_t ps = 1024;
    const uint32_t pages = static_cast<uint32_t>(image.size() / ps);
    txlog::FileWriter w(ps, txlog::kFlagSnapshot);
    const uint32_t lock = txlog::LockPage(ps);
    ASSERT_TRUE(w.BeginRecord({mid.pos.txid, mid.time_us, pages, pages - (lock <= pages ? 1u : 0u),
                               0, mid.pos.checksum})
                    .ok());
    for (uint32_t p = 1; p <= pages; ++p) {
      if (p != lock) {
        ASSERT_TRUE(w.AddPage(p, std::string_view(image).substr(size_t{p - 1} * ps, ps)).ok());
      }
    }
    auto snap = w.Finish();
    ASSERT_TRUE(snap.ok());
    ASSERT_TRUE(
        store
            .Put("app/" + mid.generation + "/snapshots/" + txlog::SnapshotFileName(w.header()),
                 *snap)
            .ok());
  }
  for (int i = 0; i < 20; ++i) {
    const Point& p = points[rng() % points.size()];
    if (p.pos.txid == 0) continue;
    RestorePlan plan = ExpectRestores(&store, "app", {p.pos.txid, std::nullopt, ""}, p, dir_);
    if (p.pos.txid >= mid.pos.txid) {
      ASSERT_TRUE(plan.snapshot);
      EXPECT_EQ(plan.snapshot->name.max_txid, mid.pos.txid);
    } else {
      EXPECT_FALSE(plan.snapshot) << "a new database's log starts from the empty image";
    }
    if (p.pos.txid > mid.pos.txid) {
      ASSERT_FALSE(plan.logs.empty());
      EXPECT_LE(plan.logs.front().name.min_txid, mid.pos.txid);  // overlaps the snapshot
    }
    ExpectRestores(&store, "app", {std::nullopt, p.time_us, ""}, p, dir_);
  }
  ExpectRestores(&store, "app", {}, points.back(), dir_);
}

TEST_F(RestoreTest, FromALocalDirectoryStore) {
  std::mt19937 rng(3);
  Capture c(dir_ + "/live", &clock_, 4096);
  fs::create_directories(dir_ + "/live");
  c.Open();
  std::vector<Point> points;
  Workload(&c, &clock_, &rng, 150, &points);
  objectstore::LocalStore store(dir_ + "/store");
  Upload(&store, "local-db", c.log_dir(), &rng);
  ExpectRestores(&store, "local-db", {}, points.back(), dir_);
  ExpectRestores(&store, "local-db", {points[points.size() / 3].pos.txid, std::nullopt, ""},
                 points[points.size() / 3], dir_);
}

TEST_F(RestoreTest, GenerationIsChosenByTime) {
  Capture c(dir_ + "/live", &clock_);
  fs::create_directories(dir_ + "/live");
  c.Open();
  std::mt19937 rng(5);
  std::vector<Point> first, second;
  Workload(&c, &clock_, &rng, 60, &first);
  // A change behind the log's back: the next open starts a new generation with a snapshot.
  c.CloseLog();
  c.Exec(
      "CREATE TABLE IF NOT EXISTS behind(id INTEGER PRIMARY KEY, v TEXT, b BLOB); INSERT INTO "
      "behind(v) VALUES ('the log''s back')");
  c.Checkpoint();
  clock_.Advance(std::chrono::seconds(10));
  c.OpenLog();
  ASSERT_NE(c.log()->generation(), first.back().generation);
  Workload(&c, &clock_, &rng, 60, &second);
  InMemoryStore store;
  Upload(&store, "db", c.log_dir(), &rng);

  auto gens = ListGenerations(&store, "db");
  ASSERT_TRUE(gens.ok());
  ASSERT_EQ(gens->size(), 2u);
  EXPECT_EQ((*gens)[0].name, first.back().generation);
  EXPECT_LT((*gens)[0].start_time_us, (*gens)[1].start_time_us);

  ExpectRestores(&store, "db", {}, second.back(), dir_);
  // Before the second generation started: the first one's history.
  ExpectRestores(&store, "db", {std::nullopt, first.back().time_us + 5'000'000, ""}, first.back(),
                 dir_);
  ExpectRestores(&store, "db", {std::nullopt, first[first.size() / 2].time_us, ""},
                 first[first.size() / 2], dir_);
  ExpectRestores(&store, "db", {std::nullopt, second[second.size() / 2].time_us, ""},
                 second[second.size() / 2], dir_);
  // A txid names a transaction of the newest generation unless a generation is given.
  ExpectRestores(&store, "db", {first[3].pos.txid, std::nullopt, first.back().generation}, first[3],
                 dir_);
  ExpectRestores(&store, "db", {second[3].pos.txid, std::nullopt, ""}, second[3], dir_);
  // Nothing at or before a time earlier than both generations.
  auto plan = PlanRestore(&store, "db", {std::nullopt, (*gens)[0].start_time_us - 1, ""});
  EXPECT_EQ(plan.status().code(), Code::kNotFound) << plan.status().ToString();
  plan = PlanRestore(&store, "db", {std::nullopt, std::nullopt, "0000000000000001-abcd"});
  EXPECT_EQ(plan.status().code(), Code::kNotFound) << plan.status().ToString();
}

// A database the log saw from its very first page has no snapshot: restore starts from empty.
TEST_F(RestoreTest, GenerationWithoutSnapshotRestoresFromEmpty) {
  Capture c(dir_ + "/live", &clock_);
  fs::create_directories(dir_ + "/live");
  c.OpenConnection();
  c.OpenLog();
  ASSERT_EQ(c.log()->captured().txid, 0u);
  c.Exec("PRAGMA journal_mode=WAL");
  std::mt19937 rng(11);
  std::vector<Point> points;
  Workload(&c, &clock_, &rng, 80, &points);
  InMemoryStore store;
  Upload(&store, "fresh", c.log_dir(), &rng);
  auto gens = ListGenerations(&store, "fresh");
  ASSERT_TRUE(gens.ok());
  ASSERT_EQ(gens->size(), 1u);
  ASSERT_TRUE((*gens)[0].snapshots.empty()) << "the log should have started at txid 0";
  for (size_t i = 0; i < points.size(); i += 7) {
    if (points[i].pos.txid == 0) continue;
    RestorePlan plan =
        ExpectRestores(&store, "fresh", {points[i].pos.txid, std::nullopt, ""}, points[i], dir_);
    EXPECT_FALSE(plan.snapshot);
  }
  ExpectRestores(&store, "fresh", {}, points.back(), dir_);
}

class DamageTest : public RestoreTest {
 protected:
  void SetUp() override {
    RestoreTest::SetUp();
    fs::create_directories(dir_ + "/live");
    Capture c(dir_ + "/live", &clock_);
    c.Open();
    c.Exec("CREATE TABLE t(x)");
    for (int i = 0; i < 40; ++i) {
      clock_.Advance(std::chrono::milliseconds(1));
      c.Exec("INSERT INTO t VALUES (randomblob(3000))");
      if (i % 4 == 3) c.Flush();  // txids 2..5, 6..9, ...: one L0 file each
    }
    c.Flush();
    gen_ = c.log()->generation();
    last_ = c.log()->durable();
    auto names = ListDir(c.log_dir() + "/" + gen_);
    for (const std::string& n : *names) {
      txlog::ParsedName p;
      if (!txlog::ParseFileName(n, &p)) continue;
      const std::string key = "db/" + gen_ + (p.snapshot ? "/snapshots/" : "/log/L0/") + n;
      ASSERT_TRUE(store_.Put(key, *ReadWholeFile(c.log_dir() + "/" + gen_ + "/" + n)).ok());
      keys_.push_back(key);
    }
    ASSERT_GT(keys_.size(), 8u);
  }
  InMemoryStore store_;
  std::string gen_;
  Position last_;
  std::vector<std::string> keys_;  // sorted: logs by txid, then the snapshot
};

TEST_F(DamageTest, AMissingObjectIsAGapNamingTheMissingTransactions) {
  // Unknown keys are ignored.
  ASSERT_TRUE(store_.Put("db/" + gen_ + "/log/L0/notes.txt", "x").ok());
  ASSERT_TRUE(store_.Put("db/README", "x").ok());
  ASSERT_TRUE(
      store_
          .Put("db/" + gen_ + "/log/L7/0000000000000001-0000000000000002-0000000000000000.clog",
               "x")
          .ok());
  auto ok = PlanRestore(&store_, "db", {});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->stop_txid, last_.txid);

  txlog::ParsedName p;
  const std::string victim = keys_[3];
  ASSERT_TRUE(txlog::ParseFileName(victim.substr(victim.rfind('/') + 1), &p));
  ASSERT_FALSE(p.snapshot);
  ASSERT_TRUE(store_.Delete(victim).ok());
  auto plan = PlanRestore(&store_, "db", {});
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kCorruption);
  const std::string& msg = plan.status().message();
  EXPECT_NE(msg.find("'db'"), std::string::npos) << msg;
  EXPECT_NE(msg.find(gen_), std::string::npos) << msg;
  EXPECT_NE(msg.find("txids " + std::to_string(p.min_txid) + ".." + std::to_string(p.max_txid)),
            std::string::npos)
      << msg;
  // Targets before the gap are still restorable.
  auto before = PlanRestore(&store_, "db", {p.min_txid - 1, std::nullopt, ""});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto res = Restore(&store_, *before, dir_ + "/before.sqlite");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->position.txid, p.min_txid - 1);
}

TEST_F(DamageTest, ADamagedObjectIsRefusedNamingItsKey) {
  const std::string victim = keys_[4];
  std::string bytes = *store_.Get(victim);
  bytes[bytes.size() / 2] ^= 0x10;
  ASSERT_TRUE(store_.Put(victim, bytes).ok());
  auto plan = PlanRestore(&store_, "db", {});
  ASSERT_TRUE(plan.ok());
  const std::string out = dir_ + "/out.sqlite";
  auto res = Restore(&store_, *plan, out);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kCorruption);
  EXPECT_NE(res.status().message().find(victim), std::string::npos) << res.status().message();
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST_F(DamageTest, ARecordThatBreaksTheChecksumChainIsRefused) {
  // A well-formed file whose first record claims a different starting checksum.
  const std::string victim = keys_[2];
  const std::string original = *store_.Get(victim);
  auto r = txlog::FileReader::Open(original);
  ASSERT_TRUE(r.ok());
  txlog::FileWriter w((*r)->header().page_size);
  txlog::Record rec;
  while (*(*r)->ReadRecord(&rec)) {
    rec.h.pre_checksum ^= 0x5555;
    rec.h.post_checksum ^= 0x5555;
    ASSERT_TRUE(w.Add(rec).ok());
  }
  ASSERT_TRUE(store_.Put(victim, *w.Finish()).ok());
  auto plan = PlanRestore(&store_, "db", {});
  ASSERT_TRUE(plan.ok());
  auto res = Restore(&store_, *plan, dir_ + "/out.sqlite");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kCorruption);
  EXPECT_NE(res.status().message().find(victim), std::string::npos) << res.status().message();
}

TEST_F(DamageTest, TargetsOutsideTheBackupAndExistingFiles) {
  InMemoryStore empty;
  auto none = PlanRestore(&empty, "db", {});
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_EQ(PlanRestore(&store_, "other", {}).status().code(), Code::kNotFound);
  auto dbs = ListDatabases(&empty);
  ASSERT_TRUE(dbs.ok());
  EXPECT_TRUE(dbs->empty());

  auto beyond = PlanRestore(&store_, "db", {last_.txid + 1, std::nullopt, ""});
  EXPECT_EQ(beyond.status().code(), Code::kInvalidRequest);
  EXPECT_NE(beyond.status().message().find(std::to_string(last_.txid)), std::string::npos)
      << beyond.status().message();

  // Only the txid-1 snapshot exists: a time before it has nothing to restore.
  auto early = PlanRestore(&store_, "db", {std::nullopt, 0, ""});
  EXPECT_EQ(early.status().code(), Code::kNotFound) << early.status().ToString();

  auto plan = PlanRestore(&store_, "db", {});
  ASSERT_TRUE(plan.ok());
  const std::string out = dir_ + "/existing.sqlite";
  ASSERT_TRUE(WriteFileDurably(out, "precious").ok());
  ASSERT_TRUE(WriteFileDurably(out + "-wal", "stale wal").ok());
  auto refused = Restore(&store_, *plan, out);
  EXPECT_EQ(refused.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(*ReadWholeFile(out), "precious");
  RestoreOptions opts;
  opts.overwrite = true;
  auto res = Restore(&store_, *plan, out, opts);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->position, last_);
  EXPECT_FALSE(fs::exists(out + "-wal"));
  EXPECT_EQ(txlog::TxLog::ComputeImage(out)->checksum, last_.checksum);
}

TEST_F(DamageTest, AnUnreachableStoreFailsNamingTheObject) {
  objectstore::FaultyStore faulty(&store_);
  auto plan = PlanRestore(&faulty, "db", {});
  ASSERT_TRUE(plan.ok());
  faulty.FailNext(objectstore::FaultyStore::Op::kGet, 100);
  auto res = Restore(&faulty, *plan, dir_ + "/out.sqlite");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kUnavailable);
  EXPECT_NE(res.status().message().find("db/" + gen_), std::string::npos) << res.status().message();
  faulty.SetDown(true);
  EXPECT_EQ(PlanRestore(&faulty, "db", {}).status().code(), Code::kUnavailable);
}

TEST(TimeTest, Rfc3339) {
  EXPECT_EQ(ParseTimeRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimeRfc3339("1970-01-01T00:00:01.5Z"), 1'500'000);
  EXPECT_EQ(ParseTimeRfc3339("2024-02-29T12:34:56.123456789+02:00"),
            ParseTimeRfc3339("2024-02-29T10:34:56.123456Z"));
  EXPECT_EQ(ParseTimeRfc3339("2024-03-01t00:00:00-01:30"),
            ParseTimeRfc3339("2024-03-01 01:30:00z"));
  EXPECT_EQ(ParseTimeRfc3339("2023-11-14T22:13:20Z"), 1'700'000'000'000'000);
  EXPECT_EQ(ParseTimeRfc3339("1969-12-31T23:59:59.999999Z"), -1);
  for (const char* bad : {"", "2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-01-01T00:00:00",
                          "2024-01-01T24:00:00Z", "2024-01-01T00:00:00.Z", "2024-1-01T00:00:00Z",
                          "2024-01-01T00:00:00+0200", "2024-01-01T00:00:00Zjunk"}) {
    EXPECT_EQ(ParseTimeRfc3339(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(FormatTimeRfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatTimeRfc3339(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(FormatTimeRfc3339(-1), "1969-12-31T23:59:59.999999Z");
  for (int64_t t : {int64_t{0}, int64_t{951'782'400'000'001}, int64_t{4'102'444'800'000'000}})
    EXPECT_EQ(ParseTimeRfc3339(FormatTimeRfc3339(t)), t);
}

TEST(GenerationTest, StartTimeIsTheNamesFirstSixteenLowerCaseHexDigits) {
  EXPECT_EQ(GenerationStartTime("0005f3e2a1b2c3d4-00ff"), 0x0005f3e2a1b2c3d4);
  EXPECT_EQ(GenerationStartTime("0000000000000000-0000"), 0);
  EXPECT_EQ(GenerationStartTime("0005F3E2A1B2C3D4-00ff"), std::nullopt);  // upper case
  EXPECT_EQ(GenerationStartTime("0005f3e2a1b2c3d4-00FF"), std::nullopt);
  EXPECT_EQ(GenerationStartTime("0005f3e2a1b2c3dg-00ff"), std::nullopt);
  EXPECT_EQ(GenerationStartTime("0005f3e2a1b2c3d4_00ff"), std::nullopt);
  EXPECT_EQ(GenerationStartTime("0005f3e2a1b2c3d4-00f"), std::nullopt);
}

TEST(TimeTest, Rfc3339LeapYearsAndEndsOfMonths) {
  EXPECT_EQ(ParseTimeRfc3339("2000-02-29T00:00:00Z"), 951'782'400'000'000);  // 400 divides 2000
  EXPECT_EQ(FormatTimeRfc3339(951'782'400'000'000), "2000-02-29T00:00:00.000000Z");
  EXPECT_EQ(FormatTimeRfc3339(951'782'400'000'000 - 1), "2000-02-28T23:59:59.999999Z");
  EXPECT_EQ(FormatTimeRfc3339(951'782'400'000'000 + 86'400'000'000), "2000-03-01T00:00:00.000000Z");
  EXPECT_EQ(ParseTimeRfc3339("2100-02-29T00:00:00Z"), std::nullopt);  // 100 divides 2100
  EXPECT_EQ(ParseTimeRfc3339("1900-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseTimeRfc3339("2100-03-01T00:00:00Z"), 4'107'542'400'000'000);
  EXPECT_EQ(ParseTimeRfc3339("1900-03-01T00:00:00Z"), -2'203'891'200'000'000);
  EXPECT_EQ(FormatTimeRfc3339(-2'203'891'200'000'000), "1900-03-01T00:00:00.000000Z");
  for (const char* last : {"2023-01-31", "2023-04-30", "2023-06-30", "2023-09-30", "2023-11-30",
                           "2023-12-31", "2024-02-29"}) {
    EXPECT_TRUE(ParseTimeRfc3339(std::string(last) + "T00:00:00Z").has_value()) << last;
  }
  for (const char* past : {"2023-01-32", "2023-04-31", "2023-06-31", "2023-09-31", "2023-11-31",
                           "2023-12-32", "2023-02-29", "2023-00-10", "2023-13-01", "2023-05-00"}) {
    EXPECT_EQ(ParseTimeRfc3339(std::string(past) + "T00:00:00Z"), std::nullopt) << past;
  }
  // The last second of a year, and a leap second taken as the next day's first.
  EXPECT_EQ(ParseTimeRfc3339("2024-12-31T23:59:59Z"), 1'735'689'599'000'000);
  EXPECT_EQ(FormatTimeRfc3339(1'735'689'599'999'999), "2024-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatTimeRfc3339(1'735'689'600'000'000), "2025-01-01T00:00:00.000000Z");
  EXPECT_EQ(ParseTimeRfc3339("2016-12-31T23:59:60Z"), ParseTimeRfc3339("2017-01-01T00:00:00Z"));
  // The ends of what four digits write.
  EXPECT_EQ(ParseTimeRfc3339("0000-01-01T00:00:00Z"), -62'167'219'200'000'000);
  EXPECT_EQ(FormatTimeRfc3339(-62'167'219'200'000'000), "0000-01-01T00:00:00.000000Z");
  EXPECT_EQ(ParseTimeRfc3339("9999-12-31T23:59:59.999999Z"), 253'402'300'799'999'999);
  EXPECT_EQ(FormatTimeRfc3339(253'402'300'799'999'999), "9999-12-31T23:59:59.999999Z");
}

TEST(TimeTest, Rfc3339Offsets) {
  // Negative offsets are behind UTC: local 19:00 at -05:00 is midnight UTC, across a year's end.
  EXPECT_EQ(ParseTimeRfc3339("1969-12-31T19:00:00-05:00"), 0);
  EXPECT_EQ(ParseTimeRfc3339("2024-12-31T20:30:00-03:30"),
            ParseTimeRfc3339("2025-01-01T00:00:00Z"));
  // Positive offsets are ahead: 01:00 at +02:00 on March 1st is February 29th in UTC.
  EXPECT_EQ(ParseTimeRfc3339("2024-03-01T01:00:00+02:00"),
            ParseTimeRfc3339("2024-02-29T23:00:00Z"));
  EXPECT_EQ(ParseTimeRfc3339("2024-03-01T00:00:00+00:00"),
            ParseTimeRfc3339("2024-03-01T00:00:00Z"));
  EXPECT_EQ(ParseTimeRfc3339("2024-03-01T00:00:00-00:00"),
            ParseTimeRfc3339("2024-03-01T00:00:00Z"));
  EXPECT_EQ(ParseTimeRfc3339("2024-03-01T00:00:00+23:59"),
            ParseTimeRfc3339("2024-02-29T00:01:00Z"));
  for (const char* bad : {"2024-03-01T00:00:00+24:00", "2024-03-01T00:00:00-01:60",
                          "2024-03-01T00:00:00+1:00", "2024-03-01T00:00:00-01"}) {
    EXPECT_EQ(ParseTimeRfc3339(bad), std::nullopt) << bad;
  }
}

TEST(TimeTest, Rfc3339OutsideTheCalendarIsANumber) {
  const int64_t far = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(FormatTimeRfc3339(far),
            std::to_string(far) + " microseconds after 1970-01-01T00:00:00Z");
  const int64_t before = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(FormatTimeRfc3339(before),
            std::to_string(before) + " microseconds after 1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace cairn::backup
