#include "server/forwarding.h"

#include <gtest/gtest.h>

#include "hrana/protocol.h"

namespace cairn::server {
namespace {

std::string Exec(std::string_view sql, std::string_view extra = "") {
  return std::string(R"({"type":"execute","stmt":{"sql":")") + std::string(sql) + "\"" +
         std::string(extra) + "}}";
}

// Routes a request as a replica does: decoded by hrana, then routed by what the decoder found.
ReplicaRoute Route(std::string_view body, bool cursor, std::string_view index_header) {
  if (cursor) {
    Result<hrana::CursorRequest> c = hrana::DecodeCursor(body);
    EXPECT_TRUE(c.ok()) << c.status().ToString() << ": " << body;
    return c.ok() ? server::RouteOnReplica(body, *c, index_header) : ReplicaRoute{};
  }
  Result<hrana::PipelineRequest> p = hrana::DecodePipeline(body, hrana::Version::kV3);
  EXPECT_TRUE(p.ok()) << p.status().ToString() << ": " << body;
  return p.ok() ? server::RouteOnReplica(body, *p, index_header) : ReplicaRoute{};
}

std::string Pipeline(const std::string& baton, std::initializer_list<std::string> requests) {
  std::string body = "{\"baton\":" + (baton.empty() ? std::string("null") : "\"" + baton + "\"") +
                     ",\"requests\":[";
  bool first = true;
  for (const auto& r : requests) {
    if (!first) body += ",";
    first = false;
    body += r;
  }
  return body + "]}";
}

TEST(RouteOnReplica, ReadsStayAndWritesGo) {
  EXPECT_FALSE(
      Route(Pipeline("", {Exec("SELECT * FROM t"), R"({"type":"close"})"}), false, "").forward);
  EXPECT_FALSE(Route(Pipeline("", {Exec("BEGIN TRANSACTION READONLY")}), false, "").forward);
  EXPECT_FALSE(Route(Pipeline("", {Exec("PRAGMA table_info(t)")}), false, "").forward);
  // A common table expression calling replace(): a read.
  EXPECT_FALSE(Route(Pipeline("", {Exec("WITH x AS (SELECT replace('a', 'a', 'b')) "
                                        "SELECT * FROM x")}),
                     false, "")
                   .forward);
  for (const char* sql :
       {"INSERT INTO t VALUES (1)", "update t set x = 1", "  DELETE FROM t", "BEGIN",
        "BEGIN IMMEDIATE", "SAVEPOINT a", "CREATE TABLE u(x)", "PRAGMA user_version = 3",
        "PRAGMA foreign_keys(1)", "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "REPLACE INTO t VALUES (1)", "COMMIT"}) {
    ReplicaRoute r = Route(Pipeline("", {Exec(sql)}), false, "");
    EXPECT_TRUE(r.forward) << sql;
    EXPECT_EQ(r.forward_body, Pipeline("", {Exec(sql)})) << sql;
  }
  // One write anywhere sends the whole request; so does a script.
  EXPECT_TRUE(
      Route(Pipeline("", {Exec("SELECT 1"), Exec("INSERT INTO t VALUES (2)")}), false, "").forward);
  EXPECT_TRUE(Route(Pipeline("", {R"({"type":"sequence","sql":"SELECT 1"})"}), false, "").forward);
  // SQL stored to be run by id counts when stored.
  EXPECT_TRUE(Route(Pipeline("", {R"({"type":"store_sql","sql_id":1,"sql":"DELETE FROM t"})",
                                  R"({"type":"execute","stmt":{"sql_id":1}})"}),
                    false, "")
                  .forward);
  EXPECT_FALSE(Route(Pipeline("", {R"({"type":"store_sql","sql_id":1,"sql":"SELECT 1"})",
                                   R"({"type":"execute","stmt":{"sql_id":1}})"}),
                     false, "")
                   .forward);
  EXPECT_TRUE(
      Route(
          Pipeline(
              "",
              {R"({"type":"batch","batch":{"steps":[{"stmt":{"sql":"SELECT 1"}},{"stmt":{"sql":"DELETE FROM t"}}]}})"}),
          false, "")
          .forward);
  // A cursor's batch.
  EXPECT_TRUE(
      Route(R"({"baton":null,"batch":{"steps":[{"stmt":{"sql":"INSERT INTO t VALUES (1) "}}]}})",
            true, "")
          .forward);
  EXPECT_FALSE(
      Route(R"({"baton":null,"batch":{"steps":[{"stmt":{"sql":"SELECT 1"}}]}})", true, "").forward);
}

TEST(RouteOnReplica, StreamsMoveToThePrimaryAndStayThere) {
  // A local stream that writes: the primary starts a new stream (the local baton is dropped).
  ReplicaRoute r = Route(Pipeline("localBaton", {Exec("INSERT INTO t VALUES (1)")}), false, "");
  ASSERT_TRUE(r.forward);
  EXPECT_EQ(r.forward_body, Pipeline("", {Exec("INSERT INTO t VALUES (1)")}));
  // Ending a read transaction of a local stream stays local.
  EXPECT_FALSE(Route(Pipeline("localBaton", {Exec("COMMIT")}), false, "").forward);
  // A stream on the primary: everything goes, with the primary's own baton.
  r = Route(Pipeline("~p~PRIMARY", {Exec("SELECT 1")}), false, "");
  ASSERT_TRUE(r.forward);
  EXPECT_EQ(r.forward_body, Pipeline("PRIMARY", {Exec("SELECT 1")}));
}

TEST(RouteOnReplica, ALocalStreamStaysHereHoweverTheBodyIsSpaced) {
  // Valid JSON with spaces after the colons: the baton is what the decoder found.
  const std::string body =
      R"({ "baton": "localBaton", "requests": [ { "type": "execute", "stmt": { "sql": "SELECT 1", )"
      R"("replication_index": "99" } } ] })";
  ReplicaRoute r = Route(body, false, "");
  EXPECT_FALSE(r.forward);
  EXPECT_TRUE(r.stream_here);
  EXPECT_EQ(r.wait_for_index, 99u);
  EXPECT_FALSE(Route(Pipeline("", {Exec("SELECT 1")}), false, "").stream_here);
  // A primary's stream with spaces: forwarded, its baton given back to the primary unprefixed.
  const std::string spaced = R"({ "baton" : "~p~PRIMARY" , "requests": [] })";
  r = Route(spaced, false, "");
  ASSERT_TRUE(r.forward);
  EXPECT_EQ(r.forward_body, R"({ "baton" : "PRIMARY" , "requests": [] })");
}

TEST(RouteOnReplica, CollectsTheLargestReplicationIndex) {
  EXPECT_EQ(Route(Pipeline("", {Exec("SELECT 1", R"(,"replication_index":"17")"),
                                Exec("SELECT 2", R"(,"replication_index":"9")")}),
                  false, "")
                .wait_for_index,
            17u);
  EXPECT_EQ(Route(Pipeline("", {Exec("SELECT 1")}), false, "42").wait_for_index, 42u);
  EXPECT_EQ(
      Route(Pipeline("", {R"({"type":"batch","batch":{"steps":[],"replication_index":"5"}})"}),
            false, "")
          .wait_for_index,
      5u);
  EXPECT_EQ(Route(Pipeline("", {Exec("SELECT 1")}), false, "").wait_for_index, 0u);
  EXPECT_EQ(Route(R"({"baton":null,"batch":{"steps":[{"stmt":{"sql":"SELECT 1",)"
                  R"("replication_index":"8"}}],"replication_index":"3"}})",
                  true, "")
                .wait_for_index,
            8u);
}

TEST(WrapPrimaryBaton, PrefixesOnlyTheResponsesBaton) {
  EXPECT_EQ(WrapPrimaryBaton(R"({"results":[{"type":"ok"}],"baton":"abc","base_url":null})"),
            R"({"results":[{"type":"ok"}],"baton":"~p~abc","base_url":null})");
  EXPECT_EQ(WrapPrimaryBaton(R"({"results":[],"baton":null,"base_url":null})"),
            R"({"results":[],"baton":null,"base_url":null})");
  // A row value that looks like a baton key is escaped inside its string and left alone.
  EXPECT_EQ(WrapPrimaryBaton(R"({"results":[{"v":"\"baton\":\"x"}],"baton":"b"})"),
            R"({"results":[{"v":"\"baton\":\"x"}],"baton":"~p~b"})");
  EXPECT_EQ(WrapPrimaryBaton("{\"baton\":\"c\",\"base_url\":null}\n{\"type\":\"step_begin\"}\n"),
            "{\"baton\":\"~p~c\",\"base_url\":null}\n{\"type\":\"step_begin\"}\n");
}

}  // namespace
}  // namespace cairn::server
