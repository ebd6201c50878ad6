#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "engine/registry.h"
#include "engine/session.h"

namespace cairn::engine {
namespace {

// Collects rows as strings ("1|a|NULL").
class CollectSink : public RowSink {
 public:
  Status Columns(std::span<const ColumnInfo> cols) override {
    ncols = cols.size();
    return Status::Ok();
  }
  Status Row(std::span<const ValueRef> vals) override {
    std::string r;
    for (size_t i = 0; i < vals.size(); ++i) {
      if (i) r += "|";
      switch (vals[i].type) {
        case Value::Type::kNull:
          r += "NULL";
          break;
        case Value::Type::kInteger:
          r += std::to_string(vals[i].integer);
          break;
        case Value::Type::kFloat:
          r += std::to_string(vals[i].real);
          break;
        default:
          r += std::string(vals[i].bytes);
      }
    }
    rows.push_back(r);
    return Status::Ok();
  }
  size_t ncols = 0;
  std::vector<std::string> rows;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-engine-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    RegistryOptions o;
    o.data_dir = dir_.string();
    o.database.clock = &clock_;
    o.database.txn_timeout = std::chrono::milliseconds(100);
    o.database.write_lock_wait = std::chrono::milliseconds(2000);
    auto r = Registry::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    reg_ = std::move(r).value();
    db_ = reg_->Get("default").value();
  }
  void TearDown() override {
    db_.reset();
    reg_.reset();
    std::filesystem::remove_all(dir_);
  }
  Result<ExecStats> Exec(Session& s, std::string_view sql, CollectSink* sink = nullptr,
                         std::vector<Value> args = {}) {
    StmtSpec spec{sql, args, {}, true};
    return s.Execute(spec, sink, true);
  }
  ManualClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<Registry> reg_;
  std::shared_ptr<Database> db_;
};

TEST_F(EngineTest, WritesAndReadsWithStats) {
  Session s(db_);
  ASSERT_TRUE(Exec(s, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)").ok());
  auto ins =
      Exec(s, "INSERT INTO t(v) VALUES (?), (?)", nullptr, {Value::Text("a"), Value::Text("b")});
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  EXPECT_EQ(ins->affected_row_count, 2);
  EXPECT_EQ(ins->last_insert_rowid, 2);
  EXPECT_EQ(ins->rows_written, 2u);
  CollectSink sink;
  auto sel = Exec(s, "SELECT id, v FROM t ORDER BY id", &sink);
  ASSERT_TRUE(sel.ok());
  EXPECT_EQ(sink.rows, (std::vector<std::string>{"1|a", "2|b"}));
  EXPECT_EQ(sel->rows_read, 2u);
  EXPECT_EQ(sel->affected_row_count, 0);
  EXPECT_FALSE(sel->last_insert_rowid.has_value());
  EXPECT_TRUE(s.autocommit());
}

TEST_F(EngineTest, ReadsSeeEveryAcknowledgedCommit) {
  Session w(db_), r(db_);
  ASSERT_TRUE(Exec(w, "CREATE TABLE t(x)").ok());
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(Exec(w, "INSERT INTO t VALUES (" + std::to_string(i) + ")").ok());
    CollectSink sink;
    ASSERT_TRUE(Exec(r, "SELECT count(*) FROM t", &sink).ok());  // reuses or refreshes a snapshot
    ASSERT_EQ(sink.rows[0], std::to_string(i));
  }
  // A COMMIT outside a transaction is an error, and never ends a reader's own snapshot.
  EXPECT_EQ(Exec(r, "COMMIT").status().code(), Code::kSql);
  // Stale snapshots of idle readers are dropped.
  db_->DropStaleSnapshots();
  ASSERT_TRUE(Exec(w, "DELETE FROM t").ok());
  db_->DropStaleSnapshots();
  CollectSink sink;
  ASSERT_TRUE(Exec(r, "SELECT count(*) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "0");
}

TEST_F(EngineTest, CheckpointsRunInTheBackground) {
  RegistryOptions o;
  o.data_dir = (dir_ / "ckpt").string();
  o.database.checkpoint_frames = 20;
  auto reg = Registry::Open(o).value();
  auto db = reg->Get("default").value();
  Session s(db);
  ASSERT_TRUE(Exec(s, "CREATE TABLE t(b BLOB)").ok());
  const auto file = std::filesystem::path(o.data_dir) / "databases/default/data.sqlite";
  const auto before = std::filesystem::file_size(file);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (zeroblob(3000))").ok());
  // Nothing above checkpointed inline; the checkpointer copies the WAL into the file soon after.
  for (int i = 0; i < 200 && std::filesystem::file_size(file) < before + 200'000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(std::filesystem::file_size(file), before + 200'000);
  CollectSink sink;
  ASSERT_TRUE(Exec(s, "SELECT count(*) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "100");
}

TEST_F(EngineTest, ArgumentErrors) {
  Session s(db_);
  EXPECT_EQ(Exec(s, "SELECT ?", nullptr, {Value::Integer(1), Value::Integer(2)}).status().code(),
            Code::kArgsInvalid);
  std::vector<Value> args{Value::Integer(1)};
  std::vector<std::pair<std::string, Value>> named{{"a", Value::Integer(2)}};
  StmtSpec both{"SELECT :a", args, named, true};
  EXPECT_EQ(s.Execute(both, nullptr, true).status().code(), Code::kArgsBothPositionalAndNamed);
  // Every parameter needs a value; names match with or without their prefix.
  StmtSpec missing{"SELECT :a, @b", {}, named, true};
  EXPECT_EQ(s.Execute(missing, nullptr, true).status().code(), Code::kArgsInvalid);
  EXPECT_EQ(Exec(s, "SELECT ?, ?", nullptr, {Value::Integer(1)}).status().code(),
            Code::kArgsInvalid);
  std::vector<std::pair<std::string, Value>> both_named{{"a", Value::Integer(2)},
                                                        {"@b", Value::Text("x")}};
  CollectSink sink;
  StmtSpec by_name{"SELECT :a, @b", {}, both_named, true};
  ASSERT_TRUE(s.Execute(by_name, &sink, true).ok());
  EXPECT_EQ(sink.rows, (std::vector<std::string>{"2|x"}));
}

TEST_F(EngineTest, TransactionPinsWriterAndBlocksOthers) {
  Session a(db_), b(db_);
  ASSERT_TRUE(Exec(a, "CREATE TABLE t(x)").ok());
  ASSERT_TRUE(Exec(a, "BEGIN").ok());
  EXPECT_FALSE(a.autocommit());
  ASSERT_TRUE(Exec(a, "INSERT INTO t VALUES (1)").ok());
  // Where blocking is not allowed a write says so and does nothing; where it is, it waits.
  StmtSpec w{"INSERT INTO t VALUES (2)", {}, {}, false};
  EXPECT_EQ(b.Execute(w, nullptr, false).status().code(), Code::kWouldBlock);
  std::thread waiter([&] { EXPECT_TRUE(b.Execute(w, nullptr, true).ok()); });
  // Reads are not blocked and do not see the uncommitted row.
  CollectSink sink;
  ASSERT_TRUE(Exec(b, "SELECT count(*) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "0");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(Exec(a, "COMMIT").ok());
  EXPECT_TRUE(a.autocommit());
  waiter.join();
  CollectSink after;
  ASSERT_TRUE(Exec(b, "SELECT count(*) FROM t", &after).ok());
  EXPECT_EQ(after.rows[0], "2");
}

TEST_F(EngineTest, StatementErrorKeepsTransaction) {
  Session a(db_);
  ASSERT_TRUE(Exec(a, "CREATE TABLE t(x UNIQUE)").ok());
  ASSERT_TRUE(Exec(a, "BEGIN").ok());
  ASSERT_TRUE(Exec(a, "INSERT INTO t VALUES (1)").ok());
  auto dup = Exec(a, "INSERT INTO t VALUES (1)");
  EXPECT_EQ(dup.status().code(), Code::kSql);
  EXPECT_FALSE(a.autocommit());
  ASSERT_TRUE(Exec(a, "COMMIT").ok());
  CollectSink sink;
  ASSERT_TRUE(Exec(a, "SELECT count(*) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "1");
}

TEST_F(EngineTest, ReadonlyTransactionRefusesWrites) {
  Session a(db_);
  ASSERT_TRUE(Exec(a, "CREATE TABLE t(x)").ok());
  ASSERT_TRUE(Exec(a, "BEGIN TRANSACTION READONLY").ok());
  EXPECT_FALSE(a.autocommit());
  auto w = Exec(a, "INSERT INTO t VALUES (1)");
  EXPECT_EQ(w.status().code(), Code::kSql);
  ASSERT_TRUE(Exec(a, "COMMIT").ok());
  EXPECT_TRUE(a.autocommit());
  CollectSink sink;
  ASSERT_TRUE(Exec(a, "SELECT count(*) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "0");
}

TEST_F(EngineTest, AbandonedTransactionLosesLockAfterTimeout) {
  Session a(db_), b(db_);
  ASSERT_TRUE(Exec(a, "CREATE TABLE t(x)").ok());
  ASSERT_TRUE(Exec(a, "BEGIN").ok());
  ASSERT_TRUE(Exec(a, "INSERT INTO t VALUES (1)").ok());
  clock_.Advance(std::chrono::milliseconds(150));  // past txn_timeout
  ASSERT_TRUE(Exec(b, "INSERT INTO t VALUES (2)").ok());
  // Nothing more of a's transaction may run, in autocommit or otherwise, until it ends it.
  EXPECT_EQ(Exec(a, "INSERT INTO t VALUES (3)").status().code(), Code::kTransactionTimeout);
  EXPECT_EQ(Exec(a, "INSERT INTO t VALUES (4)").status().code(), Code::kTransactionTimeout);
  EXPECT_EQ(Exec(a, "COMMIT").status().code(), Code::kTransactionTimeout);
  EXPECT_TRUE(Exec(a, "SELECT 1").ok());  // the COMMIT ended it
  CollectSink sink;
  ASSERT_TRUE(Exec(b, "SELECT group_concat(x) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "2");
}

TEST_F(EngineTest, ClosingSessionRollsBack) {
  {
    Session a(db_);
    ASSERT_TRUE(Exec(a, "CREATE TABLE t(x)").ok());
    ASSERT_TRUE(Exec(a, "BEGIN").ok());
    ASSERT_TRUE(Exec(a, "INSERT INTO t VALUES (1)").ok());
  }
  Session b(db_);
  CollectSink sink;
  ASSERT_TRUE(Exec(b, "SELECT count(*) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "0");
  EXPECT_TRUE(db_->Idle());
}

TEST_F(EngineTest, PragmaAssignmentDoesNotLeakToOtherSessions) {
  // Each form sets the pragma; none may reach a pooled reader (SQLite applies a pragma while
  // preparing it) or stay on the writer after the session that set it.
  struct Set {
    const char* set;
    const char* get;
    const char* unset;  // what `get` reads without it
  };
  for (const auto& [set, get, unset] :
       {Set{"PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "0"},
        Set{"PRAGMA recursive_triggers=ON", "PRAGMA recursive_triggers", "0"},
        Set{"PRAGMA recursive_triggers(ON)", "PRAGMA recursive_triggers", "0"},
        Set{"PRAGMA main.recursive_triggers = 1", "PRAGMA recursive_triggers", "0"},
        Set{"pragma main.case_sensitive_like(1)", "SELECT 'a' LIKE 'A'", "1"}}) {
    Session a(db_), b(db_);
    ASSERT_TRUE(Exec(a, set).ok()) << set;
    a.Close();
    CollectSink read;
    ASSERT_TRUE(Exec(b, get, &read).ok());  // on the pooled reader used last
    EXPECT_EQ(read.rows[0], unset) << set;
    CollectSink sink;
    ASSERT_TRUE(Exec(b, "BEGIN").ok());  // pins the writer a used
    ASSERT_TRUE(Exec(b, get, &sink).ok());
    EXPECT_EQ(sink.rows[0], unset) << set;
    ASSERT_TRUE(Exec(b, "ROLLBACK").ok());
  }
}

TEST_F(EngineTest, ReadOnlySessionsSetNoPragma) {
  Session r(db_);
  r.set_read_only(true);
  for (const char* set : {"PRAGMA foreign_keys=ON", "PRAGMA foreign_keys(ON)"})
    EXPECT_EQ(Exec(r, set).status().code(), Code::kPermissionDenied) << set;
  CollectSink sink;
  ASSERT_TRUE(Exec(r, "PRAGMA foreign_keys", &sink).ok());
  EXPECT_EQ(sink.rows[0], "0");
  Session w(db_);
  ASSERT_TRUE(Exec(w, "CREATE TABLE t(x)").ok());
  CollectSink info;  // a pragma that reads with an argument is a read
  ASSERT_TRUE(Exec(r, "PRAGMA table_info(t)", &info).ok());
  EXPECT_EQ(info.rows.size(), 1u);
}

TEST_F(EngineTest, RegistryNamesCreateDelete) {
  EXPECT_EQ(Registry::ValidateName("../etc").code(), Code::kInvalidName);
  EXPECT_EQ(Registry::ValidateName("A").code(), Code::kInvalidName);
  EXPECT_EQ(Registry::ValidateName("").code(), Code::kInvalidName);
  EXPECT_EQ(Registry::ValidateName("-x").code(), Code::kInvalidName);
  EXPECT_TRUE(Registry::ValidateName("tenant-1_a").ok());
  EXPECT_EQ(reg_->Get("nope").status().code(), Code::kNotFound);
  ASSERT_TRUE(reg_->Create("t1").ok());
  EXPECT_EQ(reg_->Create("t1").code(), Code::kAlreadyExists);
  EXPECT_EQ(reg_->List(), (std::vector<std::string>{"default", "t1"}));
  {
    auto t1 = reg_->Get("t1").value();
    Session s(t1);
    ASSERT_TRUE(Exec(s, "CREATE TABLE only_in_t1(x)").ok());
  }
  Session s(db_);
  EXPECT_EQ(Exec(s, "SELECT * FROM only_in_t1").status().code(), Code::kSqlInput);
  ASSERT_TRUE(reg_->Delete("t1").ok());
  EXPECT_EQ(reg_->Get("t1").status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "databases" / "t1"));
}

TEST_F(EngineTest, OpeningTheDataDirectoryRemovesWhatACrashLeftBehind) {
  // A deletion interrupted between its rename and its removal, and scratch files of a restore.
  namespace fs = std::filesystem;
  fs::create_directories(dir_ / "databases" / ".deleted-gone-123" / "txlog");
  ASSERT_TRUE(WriteFileAtomic((dir_ / "databases" / ".deleted-gone-123" / "data.sqlite").string(),
                              std::string(4096, 'x'))
                  .ok());
  fs::create_directories(dir_ / "tmp");
  ASSERT_TRUE(WriteFileAtomic((dir_ / "tmp" / "verify-x.sqlite").string(), "partial").ok());
  db_.reset();
  reg_.reset();
  RegistryOptions o;
  o.data_dir = dir_.string();
  o.database.clock = &clock_;
  auto r = Registry::Open(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  reg_ = std::move(r).value();
  db_ = reg_->Get("default").value();
  EXPECT_FALSE(fs::exists(dir_ / "databases" / ".deleted-gone-123"));
  EXPECT_FALSE(fs::exists(dir_ / "tmp" / "verify-x.sqlite"));
  EXPECT_EQ(reg_->List(), (std::vector<std::string>{"default"}));
}

TEST_F(EngineTest, IdleHandlesAreClosed) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(reg_->Create("d" + std::to_string(i)).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(reg_->Get("d" + std::to_string(i)).ok());
  EXPECT_GE(reg_->open_count(), 5u);
  clock_.Advance(std::chrono::seconds(1000));
  {
    auto in_use = reg_->Get("d0").value()->TryUse();  // a request at work keeps its database open
    ASSERT_TRUE(in_use);
    reg_->CloseIdle();
    EXPECT_EQ(reg_->open_count(), 1u);
  }
  // Holding a handle does not keep a database open (streams between requests hold theirs): the
  // holder finds it closed and takes a fresh one.
  clock_.Advance(std::chrono::seconds(1000));
  reg_->CloseIdle();
  EXPECT_EQ(reg_->open_count(), 0u);
  EXPECT_TRUE(db_->closed());
  EXPECT_FALSE(db_->TryUse());
  auto fresh = reg_->Get("default").value();
  EXPECT_FALSE(fresh->closed());
  EXPECT_TRUE(fresh->TryUse());
  db_ = fresh;
}

TEST_F(EngineTest, UsageCountersAreCumulativeAcrossCloseAndReopen) {
  {
    Session s(db_);
    ASSERT_TRUE(Exec(s, "CREATE TABLE t(x)").ok());
    ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (1), (2)").ok());
    ASSERT_TRUE(Exec(s, "SELECT * FROM t").ok());
  }
  const Database::Usage before = db_->usage();
  EXPECT_EQ(before.statements, 3u);
  EXPECT_EQ(before.rows_written, 2u);
  // Closed when idle, then opened again; and the whole registry restarted.
  db_.reset();
  reg_->CloseAll();
  db_ = reg_->Get("default").value();
  EXPECT_EQ(db_->usage().statements, before.statements);
  EXPECT_EQ(db_->usage().rows_read, before.rows_read);
  {
    Session s(db_);
    ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (3)").ok());
  }
  db_->SaveUsage();  // what the janitor does every second
  db_.reset();
  RegistryOptions o;
  o.data_dir = dir_.string();
  reg_.reset();
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  EXPECT_EQ(db_->usage().statements, before.statements + 1);
  EXPECT_EQ(db_->usage().rows_written, before.rows_written + 1);
}

TEST_F(EngineTest, ConcurrentFirstUsesOpenADatabaseOnceWithOneLog) {
  // A replica promoted to primary: every database reopens and its log starts a new generation.
  // Requests arriving together must share one handle — two would each start a generation (the
  // second removing the first's files) and two writers would share the file.
  db_.reset();
  reg_.reset();
  RegistryOptions o;
  o.data_dir = dir_.string();
  reg_ = std::move(Registry::Open(o)).value();
  {
    Session s(reg_->Get("default").value());
    ASSERT_TRUE(Exec(s, "CREATE TABLE t(x)").ok());
  }
  for (int round = 0; round < 3; ++round) {
    // As a replica: a transaction arrives from the primary (the file moves past the log).
    reg_->SetReplica(true);
    auto replica = reg_->Get("default");
    ASSERT_TRUE(replica.ok());
    ASSERT_TRUE((*replica)
                    ->WithReplicaWriter([&](sqlite::Connection* c) {
                      return c->Exec("INSERT INTO t VALUES (" + std::to_string(round) + ")");
                    })
                    .ok());
    replica->reset();
    // Promoted: many first uses at once.
    reg_->SetReplica(false);
    std::vector<std::thread> threads;
    std::vector<std::shared_ptr<Database>> got(8);
    for (size_t i = 0; i < got.size(); ++i)
      threads.emplace_back([&, i] {
        auto d = reg_->Get("default");
        if (d.ok()) got[i] = *d;
      });
    for (auto& t : threads) t.join();
    for (const auto& d : got) ASSERT_EQ(d.get(), got[0].get()) << "round " << round;
    Session s(got[0]);
    ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (100)").ok());
    ASSERT_TRUE(got[0]->FlushLog().ok()) << "round " << round;
    EXPECT_TRUE(std::filesystem::is_directory(dir_ / "databases/default/txlog" /
                                              got[0]->txlog()->generation()));
  }
  // The first generation and one per promotion: no handle but the one kept started another.
  size_t generations = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ / "databases/default/txlog"))
    generations += e.is_directory();
  EXPECT_EQ(generations, 4u);
}

TEST_F(EngineTest, TransactionLogFollowsEveryCommitThroughCheckpointsAndReopen) {
  // Real time: statement deadlines are checked against it.
  db_.reset();
  reg_.reset();
  RegistryOptions o;
  o.data_dir = dir_.string();
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  txlog::TxLog* log = db_->txlog();
  ASSERT_NE(log, nullptr);
  const uint64_t start = log->captured().txid;
  const std::string gen = log->generation();
  Session s(db_);
  ASSERT_TRUE(Exec(s, "CREATE TABLE t(x)").ok());
  // ~2 pages per insert: the WAL passes the checkpoint threshold several times.
  for (int i = 0; i < 800; ++i) {
    auto r = Exec(s, "INSERT INTO t VALUES (randomblob(5000))");
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
  }
  ASSERT_TRUE(Exec(s, "BEGIN").ok());
  ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (1)").ok());
  ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (2)").ok());
  ASSERT_TRUE(Exec(s, "COMMIT").ok());
  ASSERT_TRUE(Exec(s, "ROLLBACK").status().code() == Code::kSql);  // no transaction: no record
  ASSERT_TRUE(log->Capture().ok());
  EXPECT_EQ(log->captured().txid, start + 1 + 800 + 1);
  ASSERT_TRUE(db_->FlushLog().ok());
  EXPECT_EQ(log->durable(), log->captured());
  EXPECT_FALSE(log->needs_reseed());
  const txlog::Position pos = log->durable();
  // Reopened, the log continues the same history: the file is exactly where the log ends.
  db_.reset();
  reg_.reset();
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  EXPECT_EQ(db_->txlog()->generation(), gen);
  EXPECT_EQ(db_->txlog()->durable(), pos);
}

TEST_F(EngineTest, AFullLogDiskNeitherStopsWritesNorLosesThem) {
  db_.reset();
  reg_.reset();
  std::atomic<bool> disk_full{false};
  RegistryOptions o;
  o.data_dir = dir_.string();
  o.database.checkpoint_frames = 20;  // checkpoints are attempted often
  o.database.txlog.write_file = [&](const std::string& path, std::string_view data) {
    if (disk_full)
      return Status(Code::kIOError, "cannot write " + path + ": No space left on device");
    return WriteFileDurably(path, data);
  };
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  txlog::TxLog* log = db_->txlog();
  const std::string gen = log->generation();
  Session s(db_);
  ASSERT_TRUE(Exec(s, "CREATE TABLE t(x)").ok());
  ASSERT_TRUE(db_->FlushLog().ok());
  disk_full = true;
  for (int i = 0; i < 300; ++i) {
    auto r = Exec(s, "INSERT INTO t VALUES (randomblob(3000))");
    ASSERT_TRUE(r.ok()) << "writes must go on while the log cannot be written: "
                        << r.status().ToString();
  }
  EXPECT_FALSE(db_->FlushLog().ok());  // captures, cannot write
  EXPECT_LT(log->durable().txid, log->captured().txid);
  // Checkpoints wait: the WAL still holds every commit the log lacks.
  EXPECT_FALSE(db_->CheckpointPassive().ok());
  disk_full = false;
  ASSERT_TRUE(db_->FlushLog().ok());
  EXPECT_EQ(log->durable(), log->captured());
  EXPECT_FALSE(log->needs_reseed());
  const txlog::Position pos = log->durable();
  db_.reset();
  reg_.reset();
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  EXPECT_EQ(db_->txlog()->generation(), gen) << "the history must have no gap";
  EXPECT_EQ(db_->txlog()->durable(), pos);
  CollectSink sink;
  Session s2(db_);
  ASSERT_TRUE(Exec(s2, "SELECT count(*) FROM t", &sink).ok());
  EXPECT_EQ(sink.rows[0], "300");
}

TEST_F(EngineTest, ACleanCloseLetsTheNextOpenSkipReadingTheFile) {
  db_.reset();
  reg_.reset();
  RegistryOptions o;
  o.data_dir = dir_.string();
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  {
    Session s(db_);
    ASSERT_TRUE(Exec(s, "CREATE TABLE t(x)").ok());
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (randomblob(1000))").ok());
  }
  ASSERT_TRUE(db_->FlushLog().ok());
  const std::string gen = db_->txlog()->generation();
  const txlog::Position pos = db_->txlog()->durable();
  db_.reset();
  reg_.reset();  // clean close: checkpoint, then the page checksums are kept
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  EXPECT_TRUE(db_->txlog()->used_saved_checksums());
  EXPECT_EQ(db_->txlog()->generation(), gen);
  EXPECT_EQ(db_->txlog()->durable(), pos);
  {
    Session s(db_);
    ASSERT_TRUE(Exec(s, "INSERT INTO t VALUES (1)").ok());
  }
  ASSERT_TRUE(db_->FlushLog().ok());
  // A change behind Cairn's back while closed: the kept checksums are not trusted, the file is
  // read, and the log starts a new generation.
  db_.reset();
  reg_.reset();
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "databases/default/data.sqlite").c_str(), &raw), SQLITE_OK);
    sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    ASSERT_EQ(
        sqlite3_exec(raw, "INSERT INTO t VALUES ('foreign'); PRAGMA wal_checkpoint(TRUNCATE);",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(raw);
  }
  reg_ = std::move(Registry::Open(o)).value();
  db_ = reg_->Get("default").value();
  EXPECT_FALSE(db_->txlog()->used_saved_checksums());
  EXPECT_NE(db_->txlog()->generation(), gen);
}

// libSQL's vector-index DDL in a sequence (executeMultiple) runs as it does in execute; a
// read-only session's sequence holding it is refused like any other write.
TEST_F(EngineTest, VectorIndexDdlInSequences) {
  Session s(db_);
  ASSERT_TRUE(s.ExecuteScript("CREATE TABLE t(v F32_BLOB(2)); -- an index\n"
                              "CREATE INDEX i ON t(libsql_vector_idx(v, 'metric=l2'));"
                              "INSERT INTO t VALUES (vector('[1,0]')), (vector('[0,1]'))",
                              true)
                  .ok());
  CollectSink sink;
  ASSERT_TRUE(Exec(s, "SELECT id FROM vector_top_k('i', vector('[0,2]'), 1)", &sink).ok());
  EXPECT_EQ(sink.rows, std::vector<std::string>{"2"});
  Session r(db_);
  r.set_read_only(true);
  EXPECT_EQ(r.ExecuteScript("SELECT 1; DROP INDEX i", true).code(), Code::kPermissionDenied);
  EXPECT_EQ(r.ExecuteScript("CREATE INDEX j ON t(libsql_vector_idx(v))", true).code(),
            Code::kPermissionDenied);
  ASSERT_TRUE(s.ExecuteScript("DROP TABLE t; CREATE TABLE u(x)", true).ok());
  CollectSink names;
  ASSERT_TRUE(Exec(s, "SELECT group_concat(name) FROM sqlite_schema", &names).ok());
  EXPECT_EQ(names.rows, std::vector<std::string>{"u"});
}

}  // namespace
}  // namespace cairn::engine
