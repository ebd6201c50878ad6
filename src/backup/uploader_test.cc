#include "backup/uploader.h"

#include "backup/restore.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "engine/registry.h"
#include "engine/session.h"
#include "objectstore/faulty_store.h"
#include "objectstore/memory_store.h"
#include "txlog/format.h"

namespace cairn::backup {
namespace {

namespace fs = std::filesystem;

// Every log file of db/gen in the store, across levels, as (header, key); checks they chain
// without a gap from the snapshot (or txid 1) to the end, and returns the end position.
txlog::Position CheckChain(objectstore::ObjectStore* store, const std::string& db, const std::string& gen,
                           int* objects = nullptr) {
  auto listed = store->List(db + "/" + gen + "/");
  EXPECT_TRUE(listed.ok());
  std::vector<txlog::FileHeader> files;
  for (auto& o : *listed) {
    auto bytes = store->Get(o.key);
    EXPECT_TRUE(bytes.ok()) << o.key;
    auto h = txlog::FileReader::ReadHeader(*bytes);
    EXPECT_TRUE(h.ok()) << o.key;
    EXPECT_TRUE(txlog::FileReader::Open(*bytes).ok()) << o.key;
    files.push_back(*h);
  }
  if (objects) *objects = static_cast<int>(files.size());
  std::sort(files.begin(), files.end(), [](auto& a, auto& b) {
    return a.min_txid != b.min_txid ? a.min_txid < b.min_txid : a.snapshot() > b.snapshot();
  });
  txlog::Position pos;
  for (auto& h : files) {
    if (h.snapshot()) {
      pos = h.end();
      continue;
    }
    if (h.max_txid <= pos.txid) continue;  // overlap left by compaction
    EXPECT_LE(h.min_txid, pos.txid + 1) << "gap after txid " << pos.txid;
    if (h.min_txid == pos.txid + 1) {
      EXPECT_EQ(h.pre_checksum, pos.checksum) << "file starting at " << h.min_txid;
    }
    pos = h.end();
  }
  return pos;
}

class UploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cairn-uploader-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void Open(UploaderOptions uo, txlog::LocalRetention keep = {}) {
    if (!uo.restart_log)
      uo.restart_log = [this](const std::string& db) -> Status {
        CAIRN_ASSIGN_OR_RETURN(auto d, reg_->Get(db));
        return d->RestartLog();
      };
    if (!uo.suspend_log)
      uo.suspend_log = [this](const std::string& db) -> Status {
        CAIRN_ASSIGN_OR_RETURN(auto d, reg_->Get(db));
        d->SuspendLog();
        return Status::Ok();
      };
    engine::RegistryOptions o;
    o.data_dir = dir_.string();
    o.on_log_durable = [this](const std::string& db, uint64_t bytes) {
      if (uploader_) uploader_->Notify(db, bytes);
    };
    o.log_retention = keep;
    o.log_released = [this](const std::string& db, const std::string& gen) -> uint64_t {
      return uploader_ ? uploader_->UploadedThrough(db, gen) : 0;
    };
    reg_ = std::move(engine::Registry::Open(o)).value();
    uploader_ = std::make_unique<Uploader>(
        &faulty_, [this](const std::string& db) { return reg_->LogDirOf(db); }, uo);
    uploader_->Start(reg_->List());
    db_ = reg_->Get("default").value();
  }
  void TearDown() override {
    db_.reset();
    if (reg_) reg_->CloseAll();
    uploader_.reset();
    reg_.reset();
    fs::remove_all(dir_);
  }
  void Exec(const std::string& sql) {
    engine::Session s(db_);
    engine::StmtSpec spec{sql, {}, {}, true};
    auto r = s.Execute(spec, nullptr, true);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Waits (bounded) until the store holds the database's durable position.
  bool WaitUploaded() {
    for (int i = 0; i < 200; ++i) {
      (void)db_->FlushLog();
      const txlog::Position want = db_->txlog()->durable();
      if (CheckChain(&faulty_, "default", db_->txlog()->generation()) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  fs::path dir_;
  objectstore::InMemoryStore mem_;
  objectstore::FaultyStore faulty_{&mem_};
  std::unique_ptr<engine::Registry> reg_;
  std::unique_ptr<Uploader> uploader_;
  std::shared_ptr<engine::Database> db_;
};

TEST_F(UploaderTest, UploadsContinuouslyAndCleansLocalFiles) {
  UploaderOptions uo;
  uo.interval = std::chrono::milliseconds(20);
  Open(uo, txlog::LocalRetention{0, std::chrono::seconds(0), 0});  // no local window
  Exec("CREATE TABLE t(x)");
  for (int i = 0; i < 50; ++i) Exec("INSERT INTO t VALUES (randomblob(100))");
  ASSERT_TRUE(WaitUploaded());
  // A new database's log starts from the empty image: no snapshot, the log from txid 1.
  auto snaps = mem_.List("default/" + db_->txlog()->generation() + "/snapshots/");
  EXPECT_EQ(snaps->size(), 0u);
  auto plan = PlanRestore(&mem_, "default", {});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_FALSE(plan->snapshot);
  auto res = Restore(&mem_, *plan, (dir_ / "restored.sqlite").string());
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->position, db_->txlog()->durable());
  // Locally only the newest file (and the upload marker) remains once the log prunes.
  ASSERT_TRUE(db_->txlog()->Prune().ok());
  EXPECT_EQ(db_->txlog()->stats().local_files, 1u);
  int local = 0;
  for (auto& e : fs::directory_iterator(reg_->LogDirOf("default") + "/" + db_->txlog()->generation()))
    local += e.path().extension() == ".clog" || e.path().extension() == ".csnap";
  EXPECT_EQ(local, 1);
  EXPECT_TRUE(uploader_->stats().store_healthy);
  EXPECT_EQ(uploader_->stats().backlog_files, 0u);
  const UploaderStats st = uploader_->stats();
  EXPECT_GE(st.lag_samples, 50u);  // every transaction uploaded is measured
  EXPECT_GT(st.lag_p50_us, 0);
  EXPECT_LE(st.lag_p50_us, st.lag_p99_us);
  EXPECT_LE(st.lag_p99_us, st.lag_max_us);
  EXPECT_LT(st.lag_max_us, 10'000'000);
}

TEST_F(UploaderTest, StoreDownKeepsBacklogAndResumesWithoutGap) {
  UploaderOptions uo;
  uo.interval = std::chrono::milliseconds(10);
  uo.max_backoff = std::chrono::milliseconds(50);
  Open(uo);
  Exec("CREATE TABLE t(x)");
  ASSERT_TRUE(WaitUploaded());
  faulty_.SetDown(true);
  for (int i = 0; i < 40; ++i) {
    Exec("INSERT INTO t VALUES (" + std::to_string(i) + ")");
    if (i % 10 == 0) {
      ASSERT_TRUE(db_->FlushLog().ok());
    }
  }
  ASSERT_TRUE(db_->FlushLog().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  UploaderStats down = uploader_->stats();
  EXPECT_FALSE(down.store_healthy);
  EXPECT_GT(down.upload_errors, 0u);
  EXPECT_GT(down.backlog_files, 0u);
  faulty_.SetDown(false);
  ASSERT_TRUE(WaitUploaded()) << "uploads did not resume";
  // The worker marks the store healthy right after its upload returns.
  for (int i = 0; i < 100 && !uploader_->stats().store_healthy; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(uploader_->stats().store_healthy);
}

TEST_F(UploaderTest, LostAcknowledgementsAndCompactionKeepTheChain) {
  UploaderOptions uo;
  uo.interval = std::chrono::milliseconds(1);
  uo.compact_fanout = 3;
  uo.max_backoff = std::chrono::milliseconds(20);
  Open(uo);
  Exec("CREATE TABLE t(x)");
  for (int round = 0; round < 40; ++round) {
    if (round % 7 == 3) faulty_.LoseNextPutAcks(1);
    Exec("INSERT INTO t VALUES (" + std::to_string(round) + ")");
    ASSERT_TRUE(db_->FlushLog().ok());
    ASSERT_TRUE(uploader_->SyncNow("default").ok() || round % 7 == 3);
  }
  ASSERT_TRUE(WaitUploaded());
  const std::string gen = db_->txlog()->generation();
  EXPECT_GT(uploader_->stats().compactions, 0u);
  auto l1 = mem_.List("default/" + gen + "/log/L1/");
  auto l2 = mem_.List("default/" + gen + "/log/L2/");
  EXPECT_GT(l1->size() + l2->size(), 0u);
  int objects = 0;
  EXPECT_EQ(CheckChain(&mem_, "default", gen, &objects), db_->txlog()->durable());
  EXPECT_LT(objects, 20) << "compaction should keep the object count small";
}

TEST_F(UploaderTest, SnapshotsAndRetentionKeepTheNewestRestorableState) {
  UploaderOptions uo;
  uo.interval = std::chrono::milliseconds(1);
  uo.retention = std::chrono::seconds(0);          // everything older than now may go...
  uo.snapshot_interval = std::chrono::seconds(0);  // ...once a snapshot covers it
  uo.scratch_dir = (dir_ / "scratch").string();
  Open(uo);
  Exec("CREATE TABLE t(x)");
  for (int i = 0; i < 30; ++i) Exec("INSERT INTO t VALUES (randomblob(2000))");
  ASSERT_TRUE(WaitUploaded());
  const std::string gen = db_->txlog()->generation();
  const txlog::Position pos = db_->txlog()->durable();
  ASSERT_TRUE(uploader_->Maintain("default").ok());
  EXPECT_EQ(uploader_->stats().snapshots, 1u);
  auto snaps = mem_.List("default/" + gen + "/snapshots/");
  ASSERT_EQ(snaps->size(), 1u) << "the generation's first snapshot is superseded";
  txlog::ParsedName p;
  ASSERT_TRUE(txlog::ParseFileName(snaps->front().key.substr(snaps->front().key.rfind('/') + 1), &p));
  EXPECT_EQ(p.max_txid, pos.txid);
  auto logs = mem_.List("default/" + gen + "/log/");
  EXPECT_TRUE(logs->empty()) << "log files covered by the snapshot are deleted";
  // The history goes on from the new snapshot, and restores to the live state.
  for (int i = 0; i < 5; ++i) Exec("UPDATE t SET x = randomblob(10) WHERE rowid = " + std::to_string(i + 1));
  ASSERT_TRUE(WaitUploaded());
  auto plan = PlanRestore(&mem_, "default", {});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto res = Restore(&mem_, *plan, (dir_ / "restored.sqlite").string());
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->position, db_->txlog()->durable());
}

TEST_F(UploaderTest, ABacklogBeyondItsBoundRestartsTheLogInsteadOfFillingTheDisk) {
  UploaderOptions uo;
  uo.interval = std::chrono::milliseconds(5);
  uo.max_backoff = std::chrono::milliseconds(20);
  uo.max_backlog_bytes = 64 * 1024;
  Open(uo);
  Exec("CREATE TABLE t(x)");
  ASSERT_TRUE(WaitUploaded());
  const std::string gen = db_->txlog()->generation();
  faulty_.SetDown(true);
  for (int i = 0; i < 200; ++i) {
    Exec("INSERT INTO t VALUES (randomblob(3000))");  // incompressible: the backlog grows
    if (i % 20 == 0) {
      ASSERT_TRUE(db_->FlushLog().ok());
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  }
  ASSERT_TRUE(db_->FlushLog().ok());
  for (int i = 0; i < 100 && uploader_->stats().backlog_overflows == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const uint64_t overflows = uploader_->stats().backlog_overflows;
  EXPECT_GT(overflows, 0u);
  EXPECT_TRUE(db_->txlog()->suspended());
  // Nothing is kept locally while the store stays down, however much is written, and the log
  // does not churn (no snapshot after snapshot).
  for (int i = 0; i < 50; ++i) Exec("INSERT INTO t VALUES (randomblob(3000))");
  ASSERT_TRUE(db_->FlushLog().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_TRUE(txlog::TxLog::Generations(reg_->LogDirOf("default"))->empty());
  EXPECT_EQ(uploader_->stats().backlog_overflows, overflows);
  // The store returns: the log restarts from a snapshot and uploads resume.
  faulty_.SetDown(false);
  for (int i = 0; i < 200 && db_->txlog()->suspended(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(db_->txlog()->suspended());
  EXPECT_NE(db_->txlog()->generation(), gen) << "the log restarts as a new generation";
  Exec("INSERT INTO t VALUES ('after')");
  ASSERT_TRUE(WaitUploaded());
  auto plan = PlanRestore(&mem_, "default", {});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->generation, db_->txlog()->generation());
  auto res = Restore(&mem_, *plan, (dir_ / "after.sqlite").string());
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->position, db_->txlog()->durable());
}

}  // namespace
}  // namespace cairn::backup
