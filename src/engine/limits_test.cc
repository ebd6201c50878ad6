#include "engine/limits.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "base/file.h"
#include "engine/copy.h"
#include "engine/registry.h"
#include "engine/session.h"

namespace cairn::engine {
namespace {

TEST(LimitsJson, SetsUnsetsAndKeepsFields) {
  DatabaseLimits l;
  ASSERT_TRUE(ApplyLimitsJson(R"({"max_db_size": "10mb", "statement_timeout_ms": 250,
                                  "max_concurrent_streams": 3, "block_writes": true,
                                  "block_reason": "over quota"})",
                              &l)
                  .ok());
  EXPECT_EQ(l.max_db_size, 10'000'000u);
  EXPECT_EQ(l.statement_timeout, std::chrono::milliseconds(250));
  EXPECT_EQ(l.max_concurrent_streams, 3u);
  EXPECT_TRUE(l.block_writes);
  EXPECT_EQ(l.block_reason, "over quota");
  // Absent fields stay, null unsets.
  ASSERT_TRUE(ApplyLimitsJson(R"({"max_db_size": null, "max_response_bytes": 4096})", &l).ok());
  EXPECT_FALSE(l.max_db_size.has_value());
  EXPECT_EQ(l.max_response_bytes, 4096u);
  EXPECT_EQ(l.statement_timeout, std::chrono::milliseconds(250));
  // Encoded and read back: the same.
  DatabaseLimits back;
  ASSERT_TRUE(ApplyLimitsJson(EncodeLimits(l), &back).ok());
  EXPECT_EQ(back, l);
  // An empty body changes nothing.
  ASSERT_TRUE(ApplyLimitsJson("  ", &back).ok());
  EXPECT_EQ(back, l);
}

TEST(LimitsJson, BadInputIsRefusedAndChangesNothing) {
  DatabaseLimits l;
  l.max_db_size = 1234;
  const DatabaseLimits before = l;
  for (const char* body : {
           R"({"max_db_size": -1})",
           R"({"max_db_size": "12 parsecs"})",
           R"({"max_db_size": 0})",
           R"({"statement_timeout_ms": 0})",
           R"({"statement_timeout_ms": 1.5})",
           R"({"max_concurrent_streams": "two"})",
           R"({"block_reads": "yes"})",
           R"({"sync_replicas": 65})",
           R"({"sync_replicas": -1})",
           R"({"sync_timeout_ms": 0})",
           R"({"max_response_bytes": 100, "unknown": 1})",
           R"([1, 2])",
           R"({not json)",
       }) {
    Status st = ApplyLimitsJson(body, &l);
    EXPECT_EQ(st.code(), Code::kInvalidRequest) << body;
    EXPECT_FALSE(st.message().empty());
    EXPECT_EQ(l, before) << body;
  }
  EXPECT_NE(ApplyLimitsJson(R"({"nope": 1})", &l).message().find("unknown field 'nope'"),
            std::string::npos);
  // A field the caller reads itself is skipped.
  EXPECT_TRUE(ApplyLimitsJson(R"({"template": "x"})", &l, {"template"}).ok());
}

TEST(LimitsJson, SyncReplication) {
  DatabaseLimits l;
  ASSERT_TRUE(ApplyLimitsJson(R"({"sync_replicas": 2, "sync_timeout_ms": 250})", &l).ok());
  EXPECT_EQ(l.sync_replicas, 2u);
  EXPECT_EQ(l.sync_timeout_ms, 250u);
  LiveLimits live(l);
  EXPECT_EQ(live.sync_replicas(), 2u);
  EXPECT_EQ(live.sync_timeout().count(), 250);
  ASSERT_TRUE(ApplyLimitsJson(R"({"sync_replicas": null, "sync_timeout_ms": null})", &l).ok());
  live.Set(l);
  EXPECT_EQ(live.sync_replicas(), 0u);  // asynchronous
  EXPECT_EQ(live.sync_timeout().count(), 5000);
}

TEST(LimitsJson, ByteSizes) {
  EXPECT_EQ(ParseByteSize("100").value(), 100u);
  EXPECT_EQ(ParseByteSize("1kb").value(), 1000u);
  EXPECT_EQ(ParseByteSize("1 KiB").value(), 1024u);
  EXPECT_EQ(ParseByteSize("5MB").value(), 5'000'000u);
  EXPECT_EQ(ParseByteSize("2gib").value(), uint64_t{2} << 30);
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("mb").ok());
  EXPECT_FALSE(ParseByteSize("1 xb").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseByteSize("20000000 tib").ok());
  EXPECT_EQ(MaxPagesFor(std::nullopt, 4096), 4294967294u);
  EXPECT_EQ(MaxPagesFor(40960, 4096), 10u);
  EXPECT_EQ(MaxPagesFor(100, 4096), 1u);
}

TEST(LiveLimits, StreamSlotsCountOpenStreams) {
  auto live = std::make_shared<LiveLimits>();
  DatabaseLimits l;
  l.max_concurrent_streams = 2;
  live->Set(l);
  auto a = LiveLimits::TakeStreamSlot(live, "db");
  auto b = LiveLimits::TakeStreamSlot(live, "db");
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = LiveLimits::TakeStreamSlot(live, "db");
  EXPECT_EQ(c.status().code(), Code::kTooManyStreams);
  EXPECT_NE(c.status().message().find("max_concurrent_streams 2"), std::string::npos);
  EXPECT_EQ(live->open_streams(), 2u);  // the refused one gave its place back
  { auto gone = std::move(*a); }
  EXPECT_EQ(live->open_streams(), 1u);
  EXPECT_TRUE(LiveLimits::TakeStreamSlot(live, "db").ok());
  l.max_concurrent_streams.reset();  // unlimited: counted, never refused
  live->Set(l);
  std::vector<LiveLimits::StreamSlot> many;
  for (int i = 0; i < 10; ++i)
    many.push_back(std::move(LiveLimits::TakeStreamSlot(live, "db")).value());
  EXPECT_EQ(live->open_streams(), 11u);
}

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-limits-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Open();
    ASSERT_TRUE(reg_->Create("t").ok());
  }
  void Open() {
    reg_.reset();
    store_ = std::make_unique<LimitsStore>(
        [d = dir_.string()](std::string_view n) { return d + "/databases/" + std::string(n); });
    RegistryOptions o;
    o.data_dir = dir_.string();
    o.limits = store_.get();
    reg_ = Registry::Open(o).value();
  }
  void TearDown() override {
    reg_.reset();
    std::filesystem::remove_all(dir_);
  }
  Result<ExecStats> Exec(Session& s, std::string_view sql) {
    StmtSpec spec{sql, {}, {}, true};
    return s.Execute(spec, nullptr, true);
  }
  int64_t Count(Session& s) {
    struct One : RowSink {
      Status Columns(std::span<const ColumnInfo>) override { return Status::Ok(); }
      Status Row(std::span<const ValueRef> v) override {
        n = v[0].integer;
        return Status::Ok();
      }
      int64_t n = -1;
    } sink;
    StmtSpec spec{"SELECT count(*) FROM t", {}, {}, true};
    EXPECT_TRUE(s.Execute(spec, &sink, true).ok());
    return sink.n;
  }
  std::filesystem::path dir_;
  std::unique_ptr<LimitsStore> store_;
  std::unique_ptr<Registry> reg_;
};

TEST_F(LimitsTest, MaxSizeBlocksWritesNotReadsAndRaisingItHelps) {
  Session s(reg_->Get("t").value());
  ASSERT_TRUE(Exec(s, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)").ok());
  DatabaseLimits l;
  l.max_db_size = 64 * 4096;
  ASSERT_TRUE(store_->Set("t", l).ok());
  // Fill until the limit refuses a write (bounded: 64 pages hold far fewer than 200 rows).
  Status full;
  int inserted = 0;
  for (int i = 0; i < 200 && full.ok(); ++i) {
    full = Exec(s, "INSERT INTO t(v) VALUES (randomblob(3000))").status();
    if (full.ok()) ++inserted;
  }
  ASSERT_EQ(full.code(), Code::kSql);
  EXPECT_EQ(full.sqlite_code() & 0xff, SQLITE_FULL);
  EXPECT_GT(inserted, 10);
  EXPECT_EQ(Count(s), inserted);  // the refused insert left nothing
  // A transaction that would cross the limit leaves nothing either.
  ASSERT_TRUE(Exec(s, "BEGIN").ok());
  Status st;
  for (int i = 0; i < 50 && st.ok(); ++i)
    st = Exec(s, "INSERT INTO t(v) VALUES (randomblob(3000))").status();
  EXPECT_EQ(st.sqlite_code() & 0xff, SQLITE_FULL);
  (void)Exec(s, "ROLLBACK");
  EXPECT_EQ(Count(s), inserted);
  // Raised: writes work again, on the open handle.
  l.max_db_size = 1 << 20;
  ASSERT_TRUE(store_->Set("t", l).ok());
  ASSERT_TRUE(Exec(s, "INSERT INTO t(v) VALUES (randomblob(3000))").ok());
  EXPECT_EQ(Count(s), inserted + 1);
}

TEST_F(LimitsTest, BlockWritesAndBlockReads) {
  Session s(reg_->Get("t").value());
  ASSERT_TRUE(Exec(s, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)").ok());
  ASSERT_TRUE(Exec(s, "INSERT INTO t(v) VALUES (1)").ok());
  DatabaseLimits l;
  l.block_writes = true;
  l.block_reason = "unpaid invoice";
  ASSERT_TRUE(store_->Set("t", l).ok());
  Status st = Exec(s, "INSERT INTO t(v) VALUES (2)").status();
  EXPECT_EQ(st.code(), Code::kBlocked);
  EXPECT_NE(st.message().find("unpaid invoice"), std::string::npos);
  EXPECT_EQ(Count(s), 1);
  // A transaction still reads; its writes are refused.
  ASSERT_TRUE(Exec(s, "BEGIN").ok());
  EXPECT_EQ(Count(s), 1);
  EXPECT_EQ(Exec(s, "DELETE FROM t").status().code(), Code::kBlocked);
  ASSERT_TRUE(Exec(s, "COMMIT").ok());
  l.block_writes = false;
  l.block_reads = true;
  ASSERT_TRUE(store_->Set("t", l).ok());
  EXPECT_EQ(Exec(s, "SELECT 1").status().code(), Code::kBlocked);
  EXPECT_EQ(s.ExecuteScript("SELECT 1; SELECT 2", true).code(), Code::kBlocked);
  EXPECT_EQ(s.Describe("SELECT 1").status().code(), Code::kBlocked);
  ASSERT_TRUE(store_->Set("t", DatabaseLimits{}).ok());
  EXPECT_EQ(Count(s), 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "databases/t/limits.json"));  // nothing to keep
}

TEST_F(LimitsTest, LimitsSurviveARestartAndABadFileBlocks) {
  DatabaseLimits l;
  l.max_concurrent_streams = 7;
  l.statement_timeout = std::chrono::milliseconds(40);
  ASSERT_TRUE(store_->Set("t", l).ok());
  Open();
  EXPECT_EQ(store_->Get("t"), l);
  auto db = reg_->Get("t").value();
  ASSERT_TRUE(db->options().limits);
  EXPECT_EQ(db->options().limits->statement_timeout(std::chrono::seconds(5)),
            std::chrono::milliseconds(40));
  db.reset();
  ASSERT_TRUE(WriteFileDurably((dir_ / "databases/t/limits.json").string(), "{broken").ok());
  Open();
  Session s(reg_->Get("t").value());
  Status st = Exec(s, "SELECT 1").status();
  EXPECT_EQ(st.code(), Code::kBlocked);
  EXPECT_NE(st.message().find("limits file"), std::string::npos);
}

TEST_F(LimitsTest, CopyDatabaseIsASnapshot) {
  Session s(reg_->Get("t").value());
  ASSERT_TRUE(Exec(s, "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)").ok());
  ASSERT_TRUE(Exec(s, "INSERT INTO t(v) VALUES (1), (2)").ok());
  ASSERT_TRUE(reg_->CreateFrom("copy", [&](const std::string& path) {
                    return CopyDatabase(*reg_->Get("t").value(), path);
                  }).ok());
  ASSERT_TRUE(Exec(s, "INSERT INTO t(v) VALUES (3)").ok());  // after the copy: not in it
  Session c(reg_->Get("copy").value());
  EXPECT_EQ(Count(c), 2);
  ASSERT_TRUE(Exec(c, "INSERT INTO t(v) VALUES (4)").ok());
  EXPECT_EQ(Count(c), 3);
  EXPECT_EQ(Count(s), 3);
}

}  // namespace
}  // namespace cairn::engine
