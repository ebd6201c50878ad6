// The primary's side of replication without HTTP: the change feed and the Source's answers,
// applied to a replica database the way the follower applies them.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"
#include "engine/registry.h"
#include "engine/session.h"
#include "replication/applier.h"
#include "replication/feed.h"
#include "replication/peers.h"
#include "replication/source.h"
#include "txlog/format.h"

namespace cairn::replication {
namespace {

namespace fs = std::filesystem;

TEST(ChangeFeed, ListsEachChangedDatabaseOnceInOrderOfItsLastChange) {
  ChangeFeed f;
  f.Changed("a");
  f.Changed("b");
  f.Changed("a");
  uint64_t next = 0;
  EXPECT_EQ(f.Since(0, 100, &next), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(next, 3u);
  EXPECT_TRUE(f.Since(3, 100, &next).empty());
  f.Changed("c");
  EXPECT_EQ(f.Since(3, 100, &next), (std::vector<std::string>{"c"}));
  EXPECT_EQ(next, 4u);
  // A bounded answer continues where it stopped.
  EXPECT_EQ(f.Since(0, 1, &next), (std::vector<std::string>{"b"}));
  EXPECT_EQ(f.Since(next, 100, &next), (std::vector<std::string>{"a", "c"}));
}

TEST(ChangeFeed, WakesWaitersOnceAndAtOnceWhenAlreadyChanged) {
  ChangeFeed f;
  int woken = 0;
  EXPECT_NE(f.NotifyAfter(0, [&] { woken++; }), 0u);
  EXPECT_EQ(woken, 0);
  f.Changed("a");
  f.Changed("b");
  EXPECT_EQ(woken, 1);
  EXPECT_EQ(f.NotifyAfter(1, [&] { woken++; }), 0u);  // seq 2 > 1: at once
  EXPECT_EQ(woken, 2);
  const uint64_t id = f.NotifyAfter(2, [&] { woken++; });
  f.Cancel(id);
  f.Changed("c");
  EXPECT_EQ(woken, 2);
}

TEST(SourceRequest, ParsesEndpointsAndRefusesBadInput) {
  auto r = ParseSourceRequest("/v1/replication/log/db1", "generation=g&after=12");
  EXPECT_EQ(r.kind, SourceRequest::Kind::kLog);
  EXPECT_EQ(r.db, "db1");
  EXPECT_EQ(r.generation, "g");
  EXPECT_EQ(r.after, 12u);
  r = ParseSourceRequest("/v1/replication/changes", "epoch=e&after=3&wait_ms=99999999");
  EXPECT_EQ(r.kind, SourceRequest::Kind::kChanges);
  EXPECT_EQ(r.wait_ms, 30000);
  EXPECT_EQ(ParseSourceRequest("/v1/replication/log/../x", "").kind, SourceRequest::Kind::kInvalid);
  EXPECT_EQ(ParseSourceRequest("/v1/replication/log/a", "after=-1").kind,
            SourceRequest::Kind::kInvalid);
  EXPECT_EQ(ParseSourceRequest("/v1/replication/nope", "").kind, SourceRequest::Kind::kInvalid);
}

class SourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cairn-source-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    engine::RegistryOptions ro;
    ro.data_dir = (dir_ / "primary").string();
    ro.on_change = [this](const std::string& db) { feed_.Changed(db); };
    limits_ = std::make_unique<engine::LimitsStore>([dir = ro.data_dir](std::string_view db) {
      return dir + "/databases/" + std::string(db);
    });
    ro.limits = limits_.get();
    auto reg = engine::Registry::Open(ro);
    ASSERT_TRUE(reg.ok()) << reg.status().ToString();
    primary_ = std::move(reg).value();
    source_ = std::make_unique<Source>(primary_.get(), &feed_);
    engine::RegistryOptions rr;
    rr.data_dir = (dir_ / "replica").string();
    rr.txlog = false;
    rr.database.replica = true;
    auto rep = engine::Registry::Open(rr);
    ASSERT_TRUE(rep.ok()) << rep.status().ToString();
    replica_ = std::move(rep).value();
  }
  void TearDown() override {
    replica_.reset();
    source_.reset();
    primary_.reset();
    fs::remove_all(dir_);
  }

  void Exec(const std::string& db, const std::string& sql) {
    auto d = primary_->Get(db);
    ASSERT_TRUE(d.ok());
    engine::Session s(*d);
    Status st = s.ExecuteScript(sql, /*may_block=*/true);
    ASSERT_TRUE(st.ok()) << sql << ": " << st.ToString();
  }

  // The first column of every row, joined with ';'.
  static std::string Query(engine::Registry* reg, const std::string& db, const std::string& sql) {
    auto d = reg->Get(db);
    if (!d.ok()) return "error: " + d.status().ToString();
    auto lease = (*d)->AcquireReader();
    if (!lease.ok()) return "error: " + lease.status().ToString();
    (void)lease->BeginFreshRead();
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(lease->conn()->raw(), sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
      return std::string("error: ") + sqlite3_errmsg(lease->conn()->raw());
    std::string out;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(stmt, 0);
      out += t != nullptr ? reinterpret_cast<const char*>(t) : "NULL";
      out += ";";
    }
    sqlite3_finalize(stmt);
    return out;
  }

  // Applies a Source answer (snapshot or log file) to the replica's copy of `db`, creating it.
  Status ApplyToReplica(const std::string& db, const SourceResponse& r, txlog::Position* pos) {
    if (!replica_->Exists(db)) CAIRN_RETURN_IF_ERROR(replica_->Create(db));
    CAIRN_ASSIGN_OR_RETURN(auto d, replica_->Get(db));
    return d->WithReplicaWriter([&](sqlite::Connection* conn) -> Status {
      CAIRN_ASSIGN_OR_RETURN(auto reader, txlog::FileReader::Open(r.body));
      std::unique_ptr<Applier> a;
      if (reader->header().snapshot()) {
        CAIRN_ASSIGN_OR_RETURN(a, Applier::OpenForReseed(conn));
      } else {
        CAIRN_ASSIGN_OR_RETURN(a, Applier::Open(conn, *pos));
      }
      CAIRN_RETURN_IF_ERROR(a->ApplyFile(reader.get()));
      *pos = a->position();
      return Status::Ok();
    });
  }

  SourceResponse Get(std::string_view path, std::string_view query = "") {
    return source_->Handle(ParseSourceRequest(path, query));
  }

  static std::string HeaderOf(const SourceResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
      if (n == name) return v;
    return "";
  }

  fs::path dir_;
  ChangeFeed feed_;
  std::unique_ptr<engine::LimitsStore> limits_;
  std::unique_ptr<engine::Registry> primary_;
  std::unique_ptr<engine::Registry> replica_;
  std::unique_ptr<Source> source_;
};

TEST_F(SourceTest, SnapshotThenLogMakesAnIdenticalReplica) {
  Exec("default",
       "CREATE TABLE t(x INTEGER PRIMARY KEY, y TEXT); INSERT INTO t(y) VALUES ('a'), ('b')");
  SourceResponse snap = Get("/v1/replication/snapshot/default");
  ASSERT_EQ(snap.status, 200) << snap.body;
  const std::string gen = HeaderOf(snap, kHeaderGeneration);
  ASSERT_FALSE(gen.empty());
  txlog::Position pos;
  ASSERT_TRUE(ApplyToReplica("default", snap, &pos).ok());
  EXPECT_EQ(std::to_string(pos.txid), HeaderOf(snap, kHeaderTxid));
  EXPECT_EQ(Query(replica_.get(), "default", "SELECT y FROM t ORDER BY x"), "a;b;");

  // Caught up: 204 with the primary's position.
  SourceResponse none = Get("/v1/replication/log/default",
                            "generation=" + gen + "&after=" + std::to_string(pos.txid));
  EXPECT_EQ(none.status, 204) << none.body;
  EXPECT_EQ(HeaderOf(none, kHeaderTxid), std::to_string(pos.txid));

  Exec("default",
       "INSERT INTO t(y) VALUES ('c'); DELETE FROM t WHERE y = 'a'; CREATE INDEX ty ON t(y)");
  SourceResponse log = Get("/v1/replication/log/default",
                           "generation=" + gen + "&after=" + std::to_string(pos.txid));
  ASSERT_EQ(log.status, 200) << log.body;
  EXPECT_EQ(log.content_type, kLogContentType);
  ASSERT_TRUE(ApplyToReplica("default", log, &pos).ok());
  EXPECT_EQ(std::to_string(pos.txid), HeaderOf(log, kHeaderTxid));
  EXPECT_EQ(Query(replica_.get(), "default", "SELECT y FROM t ORDER BY y"), "b;c;");
  EXPECT_EQ(Query(replica_.get(), "default", "PRAGMA integrity_check"), "ok;");

  auto p = primary_->Get("default");
  ASSERT_TRUE(p.ok());
  auto img = (*p)->ReadImage();
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->checksum, pos.checksum);
}

TEST_F(SourceTest, LimitsTravelWithTheDataAndTheirChangesAreInTheFeed) {
  Exec("default", "CREATE TABLE t(x)");
  SourceResponse snap = Get("/v1/replication/snapshot/default");
  ASSERT_EQ(snap.status, 200) << snap.body;
  engine::DatabaseLimits got;
  ASSERT_TRUE(engine::ApplyLimitsJson(HeaderOf(snap, kHeaderLimits), &got).ok());
  EXPECT_TRUE(got.empty());

  const uint64_t seq = feed_.seq();
  engine::DatabaseLimits set;
  set.sync_replicas = 2;
  set.max_db_size = 1 << 20;
  ASSERT_TRUE(limits_->Set("default", set).ok());
  uint64_t next = 0;
  EXPECT_EQ(feed_.Since(seq, 10, &next), std::vector<std::string>{"default"});

  const std::string gen = HeaderOf(snap, kHeaderGeneration);
  SourceResponse none = Get("/v1/replication/log/default",
                            "generation=" + gen + "&after=" + HeaderOf(snap, kHeaderTxid));
  ASSERT_EQ(none.status, 204) << none.body;
  got = {};
  ASSERT_TRUE(engine::ApplyLimitsJson(HeaderOf(none, kHeaderLimits), &got).ok());
  EXPECT_EQ(got, set);
  // Not on errors (nothing to copy from them).
  EXPECT_EQ(HeaderOf(Get("/v1/replication/log/nope", "after=0"), kHeaderLimits), "");
}

TEST(PeerStatus, AheadOnlyForTheSameGenerationAtAHigherTxidOrADatabaseMissingHere) {
  std::vector<FollowedDatabase> mine(2);
  mine[0].name = "a";
  mine[0].generation = "g1";
  mine[0].position.txid = 10;
  mine[1].name = "b";
  mine[1].generation = "g1";
  mine[1].position.txid = 5;
  auto status = [](const std::string& dbs) {
    return R"({"role":"replica","primary":"http://p","connected":true,"databases":[)" + dbs + "]}";
  };
  EXPECT_FALSE(StatusAhead(status(R"({"name":"a","generation":"g1","txid":10})"), mine));
  EXPECT_TRUE(StatusAhead(status(R"({"name":"a","generation":"g1","txid":11})"), mine));
  EXPECT_FALSE(StatusAhead(status(R"({"name":"a","generation":"g2","txid":99})"), mine));
  EXPECT_TRUE(StatusAhead(
      status(R"({"name":"a","generation":"g1","txid":3},{"name":"b","generation":"g1","txid":6})"),
      mine));
  EXPECT_TRUE(StatusAhead(status(R"({"name":"c","generation":"g1","txid":1})"), mine));
  EXPECT_FALSE(StatusAhead(status(R"({"name":"c","generation":"g1","txid":0})"), mine));
  EXPECT_FALSE(StatusAhead(R"({"role":"primary","epoch":"e","seq":3})", mine));
  EXPECT_FALSE(StatusAhead("not json", mine));
}

TEST_F(SourceTest, UnknownPositionsAskForASnapshotAndMissingDatabasesAre404) {
  Exec("default", "CREATE TABLE t(x)");
  SourceResponse r = Get("/v1/replication/log/default", "generation=nonesuch&after=1");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(r.body.find("snapshot"), std::string::npos);
  EXPECT_FALSE(HeaderOf(r, kHeaderGeneration).empty());
  r = Get("/v1/replication/log/default",
          "generation=" + HeaderOf(r, kHeaderGeneration) + "&after=999999");  // ahead
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(Get("/v1/replication/log/nosuchdb", "after=0").status, 404);
  EXPECT_EQ(Get("/v1/replication/snapshot/nosuchdb").status, 404);
  EXPECT_EQ(Get("/v1/replication/log/Bad..Name").status, 400);
}

TEST_F(SourceTest, ANewDatabaseIsFollowedFromTxidZero) {
  ASSERT_TRUE(primary_->Create("fresh").ok());
  SourceResponse snap = Get("/v1/replication/snapshot/fresh");
  ASSERT_EQ(snap.status, 200);
  EXPECT_EQ(HeaderOf(snap, kHeaderFresh), "1");
  EXPECT_EQ(HeaderOf(snap, kHeaderTxid), "0");
  SourceResponse none = Get("/v1/replication/log/fresh", "after=0");
  EXPECT_EQ(none.status, 204);
  const std::string gen = HeaderOf(none, kHeaderGeneration);
  Exec("fresh", "CREATE TABLE k(v); INSERT INTO k VALUES (42)");
  // A replica new to the database (no generation) now takes a snapshot instead of the history.
  EXPECT_EQ(Get("/v1/replication/log/fresh", "after=0").status, 409);
  SourceResponse log = Get("/v1/replication/log/fresh", "generation=" + gen + "&after=0");
  ASSERT_EQ(log.status, 200) << log.body;
  txlog::Position pos;  // the replica's new, empty database is at txid 0
  ASSERT_TRUE(ApplyToReplica("fresh", log, &pos).ok());
  EXPECT_EQ(Query(replica_.get(), "fresh", "SELECT v FROM k"), "42;");
}

TEST_F(SourceTest, ChangesListEverythingForANewEpochThenOnlyWhatChanged) {
  ASSERT_TRUE(primary_->Create("other").ok());
  SourceRequest req = ParseSourceRequest("/v1/replication/changes", "epoch=old&after=0");
  EXPECT_TRUE(source_->HasChanges(req));
  SourceResponse r = source_->Changes(req);
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"full\":true"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"default\""), std::string::npos);
  EXPECT_NE(r.body.find("\"other\""), std::string::npos);
  req = ParseSourceRequest("/v1/replication/changes",
                           "epoch=" + feed_.epoch() + "&after=" + std::to_string(feed_.seq()));
  EXPECT_FALSE(source_->HasChanges(req));
  Exec("other", "CREATE TABLE t(x)");
  EXPECT_TRUE(source_->HasChanges(req));
  r = source_->Changes(req);
  EXPECT_NE(r.body.find("\"full\":false"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"other\""), std::string::npos);
  EXPECT_EQ(r.body.find("\"default\""), std::string::npos);
  ASSERT_TRUE(primary_->Delete("other").ok());
  r = source_->Changes(req);
  EXPECT_NE(r.body.find("\"other\""), std::string::npos);
}

TEST_F(SourceTest, ClientsCannotWriteAReplica) {
  ASSERT_TRUE(replica_->Create("r").ok());
  auto d = replica_->Get("r");
  ASSERT_TRUE(d.ok());
  engine::Session s(*d);
  Status st = s.ExecuteScript("CREATE TABLE t(x)", /*may_block=*/true);
  EXPECT_EQ(st.code(), Code::kSql);
  EXPECT_EQ(st.sqlite_code() & 0xff, SQLITE_READONLY);
  EXPECT_EQ(Query(replica_.get(), "r", "SELECT count(*) FROM sqlite_schema"), "0;");
}

}  // namespace
}  // namespace cairn::replication
