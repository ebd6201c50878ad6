#include "replication/applier.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>
#include <thread>

#include "base/file.h"
#include "txlog/test_capture.h"
#include "txlog/txlog.h"

namespace cairn::replication {
namespace {

namespace fs = std::filesystem;

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() /
            ("cairn-applier-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/primary");
    primary_ = std::make_unique<txlog::TestCapture>(dir_ + "/primary");
    ASSERT_TRUE(primary_->Open().ok());
    sqlite::OpenOptions o;
    o.create = true;
    replica_ = std::move(sqlite::Connection::Open(dir_ + "/replica.sqlite", o)).value();
  }
  void TearDown() override {
    reader_.reset();
    replica_.reset();
    primary_.reset();
    fs::remove_all(dir_);
  }
  void P(const std::string& sql) { ASSERT_TRUE(primary_->Exec(sql).ok()) << sql; }

  // Every file of the primary's newest generation, in order.
  std::vector<std::string> LogFiles() {
    EXPECT_TRUE(primary_->log()->Flush().ok());
    const std::string gdir = primary_->log_dir() + "/" + primary_->log()->generation();
    std::vector<std::pair<txlog::ParsedName, std::string>> files;
    Result<std::vector<std::string>> names = ListDir(gdir);
    EXPECT_TRUE(names.ok());
    if (!names.ok()) return {};
    for (const std::string& n : names.value()) {
      txlog::ParsedName p;
      if (txlog::ParseFileName(n, &p)) files.push_back({p, gdir + "/" + n});
    }
    std::sort(files.begin(), files.end(),
              [](auto& a, auto& b) { return a.first.max_txid < b.first.max_txid; });
    std::vector<std::string> out;
    for (auto& f : files) out.push_back(*ReadWholeFile(f.second));
    return out;
  }
  Status ApplyAll(Applier* a) {
    for (const std::string& bytes : LogFiles()) {
      CAIRN_ASSIGN_OR_RETURN(auto reader, txlog::FileReader::Open(bytes));
      CAIRN_RETURN_IF_ERROR(a->ApplyFile(reader.get()));
    }
    return Status::Ok();
  }
  std::string ReplicaImage() {
    EXPECT_TRUE(replica_->ExecTrusted("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    return *ReadWholeFile(dir_ + "/replica.sqlite");
  }
  std::string PrimaryImage() {
    EXPECT_TRUE(primary_->Checkpoint().ok());
    return *ReadWholeFile(primary_->db_path());
  }
  // Reads of the replica go through a reader connection (as the server's do): the applier's own
  // connection keeps parsed b-tree pages that page-level writes do not refresh.
  sqlite::Connection* Reader() {
    if (!reader_) {
      sqlite::OpenOptions ro;
      ro.query_only = true;
      reader_ = std::move(sqlite::Connection::Open(dir_ + "/replica.sqlite", ro)).value();
    }
    return reader_.get();
  }
  int64_t Count(sqlite::Connection* c, const std::string& sql) {
    auto st = c->Prepare(sql);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(sqlite3_step(st->raw()), SQLITE_ROW);
    return sqlite3_column_int64(st->raw(), 0);
  }

  std::string dir_;
  std::unique_ptr<txlog::TestCapture> primary_;
  std::unique_ptr<sqlite::Connection> replica_;
  std::unique_ptr<sqlite::Connection> reader_;
};

TEST_F(ApplierTest, ReplicaBecomesByteIdenticalThroughEveryKindOfChange) {
  std::mt19937 rng(3);
  P("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB)");
  for (int i = 0; i < 200; ++i) {
    switch (rng() % 4) {
      case 0:
        P("INSERT INTO t(v, b) VALUES (hex(randomblob(20)), randomblob(" +
          std::to_string(rng() % 5000) + "))");
        break;
      case 1:
        P("UPDATE t SET v = v || 'u' WHERE id % 5 = " + std::to_string(rng() % 5));
        break;
      case 2:
        P("DELETE FROM t WHERE id % 9 = " + std::to_string(rng() % 9));
        break;
      case 3:
        P("BEGIN; INSERT INTO t(v) VALUES ('x'); INSERT INTO t(v) VALUES ('y'); COMMIT");
        break;
    }
    if (i == 80) P("CREATE INDEX tv ON t(v)");
    if (i == 120) P("VACUUM");  // shrinks: the truncation goes last
    if (i == 150) P("DROP INDEX tv");
  }
  auto a = Applier::Open(replica_.get(), {0, 0});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  {
    Status st = ApplyAll(a->get());
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  EXPECT_EQ((*a)->position(), primary_->log()->durable());
  EXPECT_TRUE(ReplicaImage() == PrimaryImage()) << "replica and primary files differ";
  auto check = replica_->Prepare("PRAGMA integrity_check");
  ASSERT_EQ(sqlite3_step(check->raw()), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check->raw(), 0)), "ok");
}

TEST_F(ApplierTest, ReadersKeepTheirSnapshotWhileTransactionsApply) {
  P("CREATE TABLE t(x)");
  P("INSERT INTO t VALUES (1)");
  auto a = std::move(Applier::Open(replica_.get(), {0, 0})).value();
  ASSERT_TRUE(ApplyAll(a.get()).ok());
  sqlite::OpenOptions ro;
  ro.query_only = true;
  reader_ = std::move(sqlite::Connection::Open(dir_ + "/replica.sqlite", ro)).value();
  ASSERT_TRUE(reader_->Exec("BEGIN").ok());
  EXPECT_EQ(Count(reader_.get(), "SELECT count(*) FROM t"), 1);
  for (int i = 0; i < 50; ++i) P("INSERT INTO t VALUES (randomblob(300))");
  ASSERT_TRUE(ApplyAll(a.get()).ok());
  EXPECT_EQ(Count(reader_.get(), "SELECT count(*) FROM t"), 1)
      << "a reader saw an apply mid-snapshot";
  ASSERT_TRUE(reader_->Exec("COMMIT").ok());
  EXPECT_EQ(Count(reader_.get(), "SELECT count(*) FROM t"), 51);
}

TEST_F(ApplierTest, GapsDivergenceAndDamageAreRefusedWithoutApplyingAnything) {
  P("CREATE TABLE t(x)");
  P("INSERT INTO t VALUES (1)");
  auto a = std::move(Applier::Open(replica_.get(), {0, 0})).value();
  ASSERT_TRUE(ApplyAll(a.get()).ok());
  const txlog::Position at = a->position();
  P("INSERT INTO t VALUES (2)");
  P("INSERT INTO t VALUES (3)");
  ASSERT_TRUE(primary_->log()->Flush().ok());
  std::vector<txlog::Record> recs;
  for (const std::string& bytes : LogFiles()) {
    auto reader = std::move(txlog::FileReader::Open(bytes)).value();
    txlog::Record r;
    while (*reader->ReadRecord(&r))
      if (r.h.txid > at.txid) recs.push_back(r);
  }
  ASSERT_EQ(recs.size(), 2u);
  // A gap: the second without the first.
  EXPECT_EQ(a->Apply(recs[1]).code(), Code::kCorruption);
  // Divergence: a record whose pre-checksum is not the replica's.
  txlog::Record diverged = recs[0];
  diverged.h.pre_checksum ^= 1;
  EXPECT_EQ(a->Apply(diverged).code(), Code::kCorruption);
  // Damage: a page altered in flight.
  txlog::Record damaged = recs[0];
  damaged.pages[damaged.pages.size() / 2] ^= 0x20;
  EXPECT_EQ(a->Apply(damaged).code(), Code::kCorruption);
  EXPECT_EQ(a->position(), at);
  EXPECT_EQ(Count(Reader(), "SELECT count(*) FROM t"), 1) << "a refused record changed the replica";
  // The real records apply; a record already applied is skipped.
  ASSERT_TRUE(a->Apply(recs[0]).ok());
  ASSERT_TRUE(a->Apply(recs[0]).ok());
  ASSERT_TRUE(a->Apply(recs[1]).ok());
  EXPECT_EQ(Count(Reader(), "SELECT count(*) FROM t"), 3);
  // Reopened at a position it is not at: refused.
  EXPECT_EQ(Applier::Open(replica_.get(), at).status().code(), Code::kCorruption);
  EXPECT_TRUE(Applier::Open(replica_.get(), a->position()).ok());
}

TEST_F(ApplierTest, ASnapshotReseedsADivergedReplica) {
  P("CREATE TABLE t(x)");
  for (int i = 0; i < 30; ++i) P("INSERT INTO t VALUES (randomblob(2000))");
  // The replica holds something else entirely.
  ASSERT_TRUE(replica_->Exec("CREATE TABLE other(y); INSERT INTO other VALUES (1), (2), (3)").ok());
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(replica_->Exec("INSERT INTO other VALUES (randomblob(3000))").ok());
  // A snapshot of the primary (as a new generation makes one) replaces it.
  primary_.reset();
  primary_ = std::make_unique<txlog::TestCapture>(dir_ + "/primary");
  ASSERT_TRUE(primary_->Open().ok());
  ASSERT_TRUE(primary_->log()->Reseed().ok());
  auto files = LogFiles();
  ASSERT_EQ(files.size(), 1u);
  auto reader = std::move(txlog::FileReader::Open(files[0])).value();
  ASSERT_TRUE(reader->header().snapshot());
  EXPECT_EQ(Applier::Open(replica_.get(), {0, 0}).status().code(), Code::kCorruption);
  auto a = std::move(Applier::OpenForReseed(replica_.get())).value();
  EXPECT_EQ(a->Apply(txlog::Record{}).code(), Code::kCorruption) << "records wait for the snapshot";
  ASSERT_TRUE(a->ApplyFile(reader.get()).ok());
  EXPECT_EQ(a->position(), primary_->log()->durable());
  EXPECT_TRUE(ReplicaImage() == PrimaryImage())
      << "the snapshot did not replace the replica's image";
  EXPECT_EQ(Count(Reader(), "SELECT count(*) FROM t"), 30);
  // It follows the primary from there.
  P("INSERT INTO t VALUES (0)");
  ASSERT_TRUE(ApplyAll(a.get()).ok());
  EXPECT_EQ(Count(Reader(), "SELECT count(*) FROM t"), 31);
}

// A follower's loop: RecordsAfter from the primary's log (memory, or files when memory keeps
// nothing), applied in order, until the replica is where the primary is.
void Follow(txlog::TxLog* log, Applier* a, size_t max_bytes) {
  for (int rounds = 0; rounds < 1000; ++rounds) {
    auto recs = log->RecordsAfter(log->generation(), a->position().txid, max_bytes);
    ASSERT_TRUE(recs.ok()) << recs.status().ToString();
    if (recs->empty()) return;
    for (const txlog::Record& r : *recs) ASSERT_TRUE(a->Apply(r).ok());
  }
  FAIL() << "did not catch up";
}

TEST_F(ApplierTest, FollowsThePrimaryThroughRecordsAfter) {
  P("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  for (int i = 0; i < 100; ++i)
    P("INSERT INTO t(v) VALUES (randomblob(" + std::to_string(100 + i * 40) + "))");
  ASSERT_TRUE(primary_->log()->Flush().ok());  // some flushed (kept in memory)...
  for (int i = 0; i < 30; ++i)
    P("UPDATE t SET v = randomblob(50) WHERE id = " + std::to_string(i + 1));
  auto a = std::move(Applier::Open(replica_.get(), {0, 0})).value();  // ...some only committed
  Follow(primary_->log(), a.get(), 64 * 1024);
  EXPECT_EQ(a->position(), primary_->log()->captured());
  EXPECT_TRUE(ReplicaImage() == PrimaryImage());
  // Errors a follower acts on.
  EXPECT_EQ(primary_->log()->RecordsAfter("0000000000000000-0000", 0, 1).status().code(),
            Code::kNotFound);
  EXPECT_EQ(primary_->log()
                ->RecordsAfter(primary_->log()->generation(), a->position().txid + 5, 1)
                .status()
                .code(),
            Code::kInvalidRequest);
  EXPECT_TRUE(
      primary_->log()->RecordsAfter(primary_->log()->generation(), a->position().txid, 1)->empty());
}

TEST_F(ApplierTest, OlderRecordsComeFromTheLocalFilesAndLostOnesNeedASnapshot) {
  txlog::TxLogOptions opts;
  opts.recent_bytes = 0;  // memory keeps nothing once flushed
  primary_.reset();
  fs::remove_all(dir_ + "/primary");
  fs::create_directories(dir_ + "/primary");
  primary_ = std::make_unique<txlog::TestCapture>(dir_ + "/primary", opts);
  ASSERT_TRUE(primary_->Open().ok());
  P("CREATE TABLE t(x)");
  for (int i = 0; i < 40; ++i) {
    P("INSERT INTO t VALUES (randomblob(500))");
    if (i % 10 == 9) {
      ASSERT_TRUE(primary_->log()->Flush().ok());
    }
  }
  auto a = std::move(Applier::Open(replica_.get(), {0, 0})).value();
  Follow(primary_->log(), a.get(), 4096);
  EXPECT_EQ(a->position(), primary_->log()->durable());
  EXPECT_TRUE(ReplicaImage() == PrimaryImage());
  // Files gone (uploaded and removed): the follower is told to bootstrap from a snapshot.
  const std::string gdir = primary_->log_dir() + "/" + primary_->log()->generation();
  for (auto& e : fs::directory_iterator(gdir)) fs::remove(e.path());
  EXPECT_EQ(primary_->log()->RecordsAfter(primary_->log()->generation(), 3, 4096).status().code(),
            Code::kNotFound);
}

TEST_F(ApplierTest, WaitForCommitAfterWakesOnACommit) {
  P("CREATE TABLE t(x)");
  ASSERT_TRUE(primary_->log()->Flush().ok());
  const uint64_t at = primary_->log()->captured().txid;
  EXPECT_FALSE(primary_->log()->WaitForCommitAfter(at, std::chrono::milliseconds(20)));
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_TRUE(primary_->Exec("INSERT INTO t VALUES (1)").ok());
  });
  EXPECT_TRUE(primary_->log()->WaitForCommitAfter(at, std::chrono::seconds(10)));
  writer.join();
  auto recs = primary_->log()->RecordsAfter(primary_->log()->generation(), at, 1 << 20);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 1u);
  EXPECT_EQ(recs->front().h.txid, at + 1);
}

}  // namespace
}  // namespace cairn::replication
