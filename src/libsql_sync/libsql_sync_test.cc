#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "base/file.h"
#include "engine/registry.h"
#include "engine/session.h"
#include "libsql_sync/protocol.h"
#include "libsql_sync/service.h"

namespace cairn::libsql_sync {
namespace {

namespace fs = std::filesystem;

TEST(ProtocolTest, ParsesTheEndpointsAndRefusesMalformedOnes) {
  EXPECT_EQ(ParseSyncRequest("GET", "/info").kind, SyncRequest::Kind::kInfo);
  SyncRequest e = ParseSyncRequest("GET", "/export/7");
  EXPECT_EQ(e.kind, SyncRequest::Kind::kExport);
  EXPECT_EQ(e.generation, 7u);
  SyncRequest p = ParseSyncRequest("GET", "/sync/3/1/129");
  ASSERT_EQ(p.kind, SyncRequest::Kind::kPull);
  EXPECT_EQ(p.generation, 3u);
  EXPECT_EQ(p.start, 1u);
  EXPECT_EQ(p.end, 129u);
  EXPECT_EQ(ParseSyncRequest("POST", "/sync/3/1/129/baton").kind, SyncRequest::Kind::kPush);
  for (const char* bad :
       {"/sync/3/5/5", "/sync/3/9/5", "/sync/0/1/2", "/sync/1/0/2", "/sync/1/1/99999999999",
        "/sync/1/1", "/sync/1/a/2", "/sync/1/1/2/b", "/sync/1/1/4000000", "/sync//1/2",
        "/sync/-1/1/2", "/export/0", "/export/x", "/sync/1/1/2/3/4"}) {
    SyncRequest r = ParseSyncRequest("GET", bad);
    EXPECT_EQ(r.kind, SyncRequest::Kind::kInvalid) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  EXPECT_EQ(ParseSyncRequest("POST", "/info").kind, SyncRequest::Kind::kInvalid);
  EXPECT_EQ(ParseSyncRequest("DELETE", "/sync/1/1/2").kind, SyncRequest::Kind::kInvalid);
  EXPECT_TRUE(IsSyncPath("/sync/1/1/2"));
  EXPECT_TRUE(IsSyncPath("//info"));
  EXPECT_EQ(ParseSyncRequest("GET", "//sync/1/1/2").kind, SyncRequest::Kind::kPull);
  EXPECT_FALSE(IsSyncPath("/v3/pipeline"));
}

// The export is a database SQLite opens as it is, in WAL mode, with 4 KiB pages.
TEST(ProtocolTest, TheExportedFileIsAnEmptyWalDatabase) {
  const std::string path =
      (fs::temp_directory_path() / ("cairn-sync-empty-" + std::to_string(::getpid()) + ".db"))
          .string();
  ASSERT_TRUE(WriteFileDurably(path, EmptyDatabaseFile()).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  auto one = [&](const char* sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sql;
    std::string v;
    if (sqlite3_step(s) == SQLITE_ROW) v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
  };
  EXPECT_EQ(one("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(one("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(one("PRAGMA page_size"), "4096");
  EXPECT_EQ(one("SELECT count(*) FROM sqlite_schema"), "0");
  sqlite3_close(db);
  fs::remove(path);
  fs::remove(path + "-wal");
  fs::remove(path + "-shm");
}

// Rows of `sql` on the database file at `path`, one line each, columns separated by '|'.
std::string QueryFile(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  std::string out;
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
      << sql << ": " << sqlite3_errmsg(db);
  while (st != nullptr && sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      out += t != nullptr ? reinterpret_cast<const char*>(t) : "NULL";
      out += i + 1 < sqlite3_column_count(st) ? "|" : "\n";
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// Does what libSQL's client does with the answers (libsql/src/sync.rs, try_pull): frames are
// staged until a commit frame, which applies them and sets the database's size; an end of
// generation moves it to the next generation when it is behind, else the sync is done.
class Client {
 public:
  SyncAnswer Get(SyncService& s, const std::string& path) {
    return s.Handle(ParseSyncRequest("GET", path), "default");
  }
  void Bootstrap(SyncService& s) {
    SyncAnswer info = Get(s, "/info");
    ASSERT_EQ(info.status, 200) << info.body;
    const size_t colon = info.body.find(':');
    g_ = static_cast<uint32_t>(std::stoul(info.body.substr(colon + 1)));
    SyncAnswer ex = Get(s, "/export/" + std::to_string(g_));
    ASSERT_EQ(ex.status, 200) << ex.body;
    image_ = ex.body;
    durable_ = 0;
  }
  // One sync; the frames received.
  uint64_t Sync(SyncService& s) {
    uint64_t frames = 0;
    uint32_t next = durable_ + 1;
    for (int round = 0; round < 100000; ++round) {
      SyncAnswer a = Get(s, "/sync/" + std::to_string(g_) + "/" + std::to_string(next) + "/" +
                                std::to_string(next + 128));
      if (a.status == 200) {
        EXPECT_EQ(a.body.size() % kFrameSize, 0u);
        for (size_t at = 0; at < a.body.size(); at += kFrameSize) {
          const char* f = a.body.data() + at;
          staged_[FramePgno(f)] = std::string(f + kFrameHeaderSize, kPageSize);
          if (const uint32_t size = FrameSizeAfter(f); size > 0) {
            image_.resize(size_t{size} * kPageSize, '\0');
            for (auto& [pgno, page] : staged_)
              if (pgno <= size) image_.replace(size_t{pgno - 1} * kPageSize, kPageSize, page);
            staged_.clear();
            durable_ = next;
          }
          ++next;
          ++frames;
        }
        continue;
      }
      EXPECT_EQ(a.status, 400) << a.body;
      const size_t at = a.body.find("\"generation\":");
      if (at == std::string::npos) {
        last_error_ = a.body;
        return frames;
      }
      const auto max = static_cast<uint32_t>(std::stoul(a.body.substr(at + 13)));
      if (g_ >= max) return frames;
      EXPECT_TRUE(staged_.empty());
      ++g_;
      durable_ = 0;
      next = 1;
    }
    ADD_FAILURE() << "the sync did not end";
    return frames;
  }
  // The client's database, as SQLite would read it.
  std::string Query(const std::string& sql) {
    const std::string path =
        (fs::temp_directory_path() / ("cairn-sync-client-" + std::to_string(::getpid()) + ".db"))
            .string();
    EXPECT_TRUE(WriteFileDurably(path, image_).ok());
    fs::remove(path + "-wal");
    fs::remove(path + "-shm");
    std::string out = QueryFile(path, sql);
    fs::remove(path);
    return out;
  }
  uint32_t generation() const { return g_; }
  uint32_t durable() const { return durable_; }
  void Corrupt() { image_.assign(image_.size(), 'x'); }
  const std::string& last_error() const { return last_error_; }

 private:
  uint32_t g_ = 0;
  uint32_t durable_ = 0;
  std::string image_;
  std::map<uint32_t, std::string> staged_;
  std::string last_error_;
};

class SyncServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cairn-sync-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    engine::RegistryOptions o;
    o.data_dir = dir_.string();
    reg_ = std::move(engine::Registry::Open(o)).value();
    db_ = reg_->Get("default").value();
    session_ = std::make_unique<engine::Session>(db_);
    Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  }
  void TearDown() override {
    session_.reset();
    db_.reset();
    reg_.reset();
    fs::remove_all(dir_);
  }
  void Exec(const std::string& sql) { ASSERT_TRUE(session_->ExecuteScript(sql, true).ok()) << sql; }
  void Insert(int n, int size = 20) {
    std::string sql = "BEGIN;";
    for (int i = 0; i < n; ++i)
      sql += "INSERT INTO t(v) VALUES (hex(randomblob(" + std::to_string(size) + ")));";
    Exec(sql + "COMMIT;");
  }
  std::string ServerQuery(const std::string& sql) {
    return QueryFile(reg_->DirOf("default") + "/data.sqlite", sql);
  }
  std::string Contents() { return "SELECT id, v FROM t ORDER BY id"; }

  fs::path dir_;
  std::unique_ptr<engine::Registry> reg_;
  std::shared_ptr<engine::Database> db_;
  std::unique_ptr<engine::Session> session_;
};

TEST_F(SyncServiceTest, AClientBootstrapsAndLaterSyncsBringOnlyWhatChanged) {
  Insert(300);
  SyncService s(reg_.get());
  Client c;
  c.Bootstrap(s);
  EXPECT_EQ(c.generation(), 1u);
  const uint64_t first = c.Sync(s);
  EXPECT_GT(first, 5u);  // the whole database
  EXPECT_EQ(c.Query("PRAGMA integrity_check"), "ok\n");
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));

  EXPECT_EQ(c.Sync(s), 0u);  // up to date: nothing
  Insert(1);
  const uint64_t later = c.Sync(s);
  EXPECT_GE(later, 1u);
  EXPECT_LE(later, 4u);  // the pages one small insert changed, not the database
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
  EXPECT_EQ(c.generation(), 1u);
}

TEST_F(SyncServiceTest, AnswersEndAtATransactionAndLargeOnesSpanAnswers) {
  Insert(300);
  SyncService s(reg_.get());
  Client c;
  c.Bootstrap(s);
  c.Sync(s);
  const uint32_t before = c.durable();
  Insert(6000, 1000);  // ~12 MB in one transaction: more frames than one answer carries
  for (int i = 0; i < 20; ++i) Insert(1);
  // The big transaction's first answer is full and commits nothing: the client keeps its WAL
  // transaction open until the answer that ends it.
  SyncAnswer a = s.Handle(ParseSyncRequest("GET", "/sync/1/" + std::to_string(before + 1) + "/" +
                                                      std::to_string(before + 2)),
                          "default");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.body.size() / kFrameSize, kMaxFramesPerAnswer);
  for (size_t at = 0; at < a.body.size(); at += kFrameSize)
    ASSERT_EQ(FrameSizeAfter(a.body.data() + at), 0u);
  // An answer that holds whole transactions ends with the last one that fits, committed.
  SyncAnswer b = s.Handle(ParseSyncRequest("GET", "/sync/1/1/2"), "default");
  ASSERT_EQ(b.status, 200);
  EXPECT_LT(b.body.size() / kFrameSize, kMaxFramesPerAnswer);
  EXPECT_GT(FrameSizeAfter(b.body.data() + b.body.size() - kFrameSize), 0u);
  c.Sync(s);
  EXPECT_EQ(c.Query("PRAGMA integrity_check"), "ok\n");
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

TEST_F(SyncServiceTest, PositionsSurviveARestartOfTheServer) {
  Insert(100);
  Client c;
  uint32_t durable = 0;
  {
    SyncService s(reg_.get());
    c.Bootstrap(s);
    c.Sync(s);
    durable = c.durable();
  }
  Insert(10);
  session_.reset();
  db_.reset();
  reg_.reset();
  engine::RegistryOptions o;
  o.data_dir = dir_.string();
  reg_ = std::move(engine::Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  session_ = std::make_unique<engine::Session>(db_);
  SyncService s2(reg_.get());
  // The same frame, answered again by the new process, is the same bytes.
  SyncAnswer again = s2.Handle(ParseSyncRequest("GET", "/sync/1/1/2"), "default");
  ASSERT_EQ(again.status, 200) << again.body;
  const uint64_t frames = c.Sync(s2);
  EXPECT_LE(frames, 12u);
  EXPECT_EQ(c.generation(), 1u);
  EXPECT_GT(c.durable(), durable);
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

// The newest frames are answered from memory, older ones from the file: the same bytes.
TEST_F(SyncServiceTest, FramesFromMemoryAndFromTheFileAreTheSame) {
  Insert(50);
  SyncService a(reg_.get());
  Client c;
  c.Bootstrap(a);
  c.Sync(a);
  const uint32_t first_delta = c.durable() + 1;
  for (int i = 0; i < 30; ++i) Insert(1);
  c.Sync(a);
  SyncService b(reg_.get());  // loads the generation from its files
  for (uint32_t start : {1u, first_delta, first_delta + 7}) {
    const std::string path = "/sync/1/" + std::to_string(start) + "/" + std::to_string(start + 1);
    SyncAnswer x = a.Handle(ParseSyncRequest("GET", path), "default");
    SyncAnswer y = b.Handle(ParseSyncRequest("GET", path), "default");
    ASSERT_EQ(x.status, 200) << path << x.body;
    EXPECT_EQ(x.body, y.body) << path;
  }
}

// Frames after the image are written without a sync; a crash that loses or tears them is found
// by their hash when the generation is loaded again, and a new generation starts.
TEST_F(SyncServiceTest, FramesACrashLostEndTheGeneration) {
  Insert(50);
  Client c;
  {
    SyncService s(reg_.get());
    c.Bootstrap(s);
    c.Sync(s);
    for (int i = 0; i < 5; ++i) Insert(1);
    c.Sync(s);
  }
  const std::string frames = reg_->DirOf("default") + "/libsql-sync/frames-1";
  std::string bytes = *ReadWholeFile(frames);
  ASSERT_GT(bytes.size(), 3 * kFrameSize);
  bytes[bytes.size() - 2 * kFrameSize + 100] ^= 0x55;  // a page of a late transaction
  ASSERT_TRUE(WriteFileDurably(frames, bytes).ok());
  Insert(1);
  SyncService s(reg_.get());
  c.Sync(s);
  EXPECT_EQ(c.generation(), 2u);
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

TEST_F(SyncServiceTest, ANewLineageEndsTheGenerationAndTheClientGetsTheWholeDatabase) {
  Insert(50);
  SyncService s(reg_.get());
  Client c;
  c.Bootstrap(s);
  c.Sync(s);
  // A client whose file went wrong (as after a restore it did not see) ...
  c.Corrupt();
  ASSERT_TRUE(db_->RestartLog().ok());  // ... and the log starts a new lineage.
  Insert(5);
  c.Sync(s);
  EXPECT_EQ(c.generation(), 2u);
  EXPECT_EQ(c.Query("PRAGMA integrity_check"), "ok\n");
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

// A replica that re-seeds deletes the database's directory and makes it again (and a user may
// too): the generation numbers go on, so a client's old position is never read in new frames.
TEST_F(SyncServiceTest, ADatabaseMadeAgainNeverReusesAGenerationNumber) {
  Insert(20);
  Client c;
  {
    SyncService s(reg_.get());
    c.Bootstrap(s);
    c.Sync(s);
  }
  session_.reset();
  db_.reset();
  ASSERT_TRUE(reg_->Delete("default").ok());
  ASSERT_TRUE(reg_->Create("default").ok());
  db_ = reg_->Get("default").value();
  session_ = std::make_unique<engine::Session>(db_);
  Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  Insert(500);  // larger than before: the client's old position lies inside the new frames
  SyncService s(reg_.get());
  c.Sync(s);
  EXPECT_GE(c.generation(), 2u);
  EXPECT_EQ(c.Query("PRAGMA integrity_check"), "ok\n");
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

TEST_F(SyncServiceTest, AGenerationEndsWhenItsTransactionsOutgrowIt) {
  SyncOptions opts;
  opts.roll_min_frames = 20;
  SyncService s(reg_.get(), opts);
  Client c;
  c.Bootstrap(s);
  c.Sync(s);
  for (int i = 0; i < 30; ++i) Insert(1);
  c.Sync(s);
  EXPECT_GE(c.generation(), 2u);
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

TEST_F(SyncServiceTest, AClientAheadOfTheServerStartsOver) {
  Insert(20);
  SyncService s(reg_.get());
  Client c;
  c.Bootstrap(s);
  c.Sync(s);
  // Positions this server never served, in its generation and in a later one.
  SyncAnswer a = s.Handle(ParseSyncRequest("GET", "/sync/1/900/1028"), "default");
  EXPECT_EQ(a.status, 400);
  EXPECT_NE(a.body.find("\"generation\":2"), std::string::npos) << a.body;
  // At most one new generation per interval for such clients.
  SyncAnswer b = s.Handle(ParseSyncRequest("GET", "/sync/7/1/129"), "default");
  EXPECT_EQ(b.status, 503) << b.body;
  SyncAnswer far = s.Handle(ParseSyncRequest("GET", "/sync/5000/1/129"), "default");
  EXPECT_EQ(far.status, 400);
  EXPECT_EQ(far.body.find("\"generation\""), std::string::npos) << far.body;
  // The client that was in generation 1 moves to 2 and gets the whole database.
  c.Corrupt();
  c.Sync(s);
  EXPECT_EQ(c.generation(), 2u);
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

TEST_F(SyncServiceTest, BadRequestsAreRefusedAndChangeNothing) {
  Insert(10);
  SyncService s(reg_.get());
  Client c;
  c.Bootstrap(s);
  c.Sync(s);
  const uint64_t generations = s.stats().generations.load();
  for (const char* bad : {"/sync/1/5/2", "/sync/1/0/2", "/sync/x/1/2", "/export/0"}) {
    SyncAnswer a = s.Handle(ParseSyncRequest("GET", bad), "default");
    EXPECT_EQ(a.status, 400) << bad;
    EXPECT_NE(a.body.find("\"error\""), std::string::npos) << bad;
  }
  EXPECT_EQ(s.Handle(ParseSyncRequest("GET", "/export/9"), "default").status, 404);
  SyncAnswer push = s.Handle(ParseSyncRequest("POST", "/sync/1/1/2"), "default");
  EXPECT_EQ(push.status, 400);
  EXPECT_NE(push.body.find("offline"), std::string::npos);
  EXPECT_EQ(s.Handle(ParseSyncRequest("GET", "/info"), "nosuchdb").status, 404);
  EXPECT_EQ(s.stats().generations.load(), generations);
  Insert(1);
  c.Sync(s);
  EXPECT_EQ(c.generation(), 1u);
  EXPECT_EQ(c.Query(Contents()), ServerQuery(Contents()));
}

}  // namespace
}  // namespace cairn::libsql_sync
