#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "hrana/errors.h"
#include "hrana/protocol.h"
#include "hrana/service.h"
#include "hrana/streams.h"
#include "hrana/websocket.h"

namespace cairn::hrana {
namespace {

TEST(DecodeTest, ExecuteWithAllValueTypes) {
  auto r = DecodePipeline(R"({"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT ?",
    "args":[{"type":"null"},{"type":"integer","value":"-9223372036854775808"},
            {"type":"float","value":42},{"type":"text","value":"a\u0000b"},
            {"type":"blob","base64":"AAEC"},{"type":"blob","base64":"AAE"},{"type":"blob","base64":""}],
    "named_args":[],"want_rows":false}},{"type":"close"}]})",
                          Version::kV2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->requests.size(), 2u);
  const Stmt& s = r->requests[0].stmt;
  EXPECT_FALSE(r->baton.has_value());
  EXPECT_FALSE(s.want_rows);
  ASSERT_EQ(s.args.size(), 7u);
  EXPECT_EQ(s.args[0].type, Value::Type::kNull);
  EXPECT_EQ(s.args[1].integer, INT64_MIN);
  EXPECT_EQ(s.args[2].type, Value::Type::kFloat);
  EXPECT_EQ(s.args[2].real, 42.0);
  EXPECT_EQ(s.args[3].bytes, std::string("a\0b", 3));
  EXPECT_EQ(s.args[4].bytes, std::string("\0\1\2", 3));
  EXPECT_EQ(s.args[5].bytes, std::string("\0\1", 2));
  EXPECT_EQ(s.args[6].type, Value::Type::kBlob);
  EXPECT_TRUE(s.args[6].bytes.empty());
  EXPECT_EQ(r->requests[1].kind, Request::Kind::kClose);
}

TEST(DecodeTest, RejectsMalformedRequests) {
  const char* bad[] = {
      "{",
      "[]",
      R"({"requests":{}})",
      R"({"requests":[{"type":"frobnicate"}]})",
      R"({"requests":[{"type":"execute","stmt":{}}]})",
      R"({"requests":[{"type":"execute","stmt":{"sql":"x","sql_id":1}}]})",
      R"({"requests":[{"type":"execute","stmt":{"sql":1}}]})",
      R"({"requests":[{"type":"execute","stmt":{"sql":"x","args":[{"type":"integer","value":"1.5"}]}}]})",
      R"({"requests":[{"type":"execute","stmt":{"sql":"x","args":[{"type":"integer","value":"99999999999999999999"}]}}]})",
      R"({"requests":[{"type":"execute","stmt":{"sql":"x","args":[{"type":"blob","base64":"!!"}]}}]})",
      R"({"requests":[{"type":"execute","stmt":{"sql":"x","want_rows":"yes"}}]})",
      R"({"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"x"},"condition":{"type":"ok","step":0}}]}}]})",
      R"({"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"x"}},{"stmt":{"sql":"y"},"condition":{"type":"ok","step":5}}]}}]})",
      R"({"requests":[{"type":"store_sql","sql_id":1}]})",
      R"({"requests":[{"type":"sequence"}]})",
      R"({"requests":[{"type":"get_autocommit"}]})",  // v3 only
      R"({"baton":5,"requests":[]})",
  };
  for (const char* body : bad) {
    auto r = DecodePipeline(body, Version::kV2);
    EXPECT_FALSE(r.ok()) << body;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidRequest) << body;
      EXPECT_EQ(HttpStatus(r.status()), 400);
    }
  }
}

TEST(DecodeTest, BatchConditionsAndV3Kinds) {
  auto r = DecodePipeline(R"({"requests":[{"type":"batch","batch":{"steps":[
    {"stmt":{"sql":"BEGIN"}},
    {"stmt":{"sql":"X"},"condition":{"type":"and","conds":[{"type":"ok","step":0},
       {"type":"not","cond":{"type":"error","step":0}},{"type":"is_autocommit"}]}},
    {"stmt":{"sql":"Y"},"condition":{"type":"or","conds":[]}}]}},
    {"type":"get_autocommit"}]})",
                          Version::kV3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& steps = r->requests[0].batch.steps;
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_FALSE(steps[0].condition.has_value());
  EXPECT_EQ(steps[1].condition->kind, Condition::Kind::kAnd);
  EXPECT_EQ(steps[1].condition->conds.size(), 3u);
  EXPECT_EQ(steps[1].condition->conds[1].conds[0].kind, Condition::Kind::kError);
  EXPECT_EQ(r->requests[1].kind, Request::Kind::kGetAutocommit);
}

TEST(DecodeTest, ClassifiesEachStatementAndGathersTheHead) {
  auto r = DecodePipeline(R"({"baton": "b1", "requests": [
    {"type": "execute", "stmt": {"sql": "SELECT 1", "replication_index": "12"}},
    {"type": "execute", "stmt": {"sql_id": 4}},
    {"type": "batch", "batch": {"steps": [{"stmt": {"sql": "COMMIT"}}], "replication_index": "30"}},
    {"type": "execute", "stmt": {"sql": "SELECT 2", "replication_index": 99}}]})",
                          Version::kV3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->baton, "b1");
  ASSERT_TRUE(r->requests[0].stmt.kind.has_value());
  EXPECT_EQ(r->requests[0].stmt.kind->keyword, sqlite::Keyword::kSelect);
  EXPECT_EQ(r->requests[0].stmt.replication_index, 12u);
  EXPECT_FALSE(r->requests[1].stmt.kind.has_value());  // classified where its text is looked up
  EXPECT_EQ(r->requests[2].batch.replication_index, 30u);
  EXPECT_EQ(r->requests[3].stmt.replication_index, 0u);  // not libSQL's decimal string: ignored
  EXPECT_EQ(r->replication_index, 30u);
  EXPECT_FALSE(r->may_write);  // COMMIT on the stream the baton names
  // The same COMMIT without a baton, a write, a script, or a write stored for later may write.
  for (const char* body :
       {R"J({"requests":[{"type":"execute","stmt":{"sql":"COMMIT"}}]})J",
        R"J({"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}},
             {"type":"execute","stmt":{"sql":"/* x */ insert into t values (1)"}}]})J",
        R"J({"requests":[{"type":"sequence","sql":"SELECT 1"}]})J",
        R"J({"requests":[{"type":"store_sql","sql_id":1,"sql":"PRAGMA foreign_keys(1)"}]})J"}) {
    auto p = DecodePipeline(body, Version::kV3);
    ASSERT_TRUE(p.ok()) << body;
    EXPECT_TRUE(p->may_write) << body;
  }
  auto c = DecodeCursor(R"J({"baton":null,"batch":{"steps":[{"stmt":{"sql":"BEGIN READONLY"}},
    {"stmt":{"sql":"SELECT 1","replication_index":"7"}}]}})J");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->may_write);
  EXPECT_EQ(c->replication_index, 7u);
  EXPECT_EQ(c->batch.steps[0].stmt.kind->transaction, sqlite::Transaction::kBeginReadonly);
}

TEST(DecodeTest, WebSocketMessages) {
  auto hello = DecodeWsMessage(R"({"type":"hello","jwt":"abc"})", 3);
  ASSERT_TRUE(hello.ok()) << hello.status().message();
  EXPECT_EQ(hello->kind, WsMessage::Kind::kHello);
  EXPECT_EQ(hello->jwt, "abc");
  auto exec = DecodeWsMessage(
      R"({"type":"request","request_id":-5,"request":{"type":"execute","stream_id":2,"stmt":{"sql_id":7}}})",
      2);
  ASSERT_TRUE(exec.ok()) << exec.status().message();
  EXPECT_EQ(exec->request_id, -5);
  EXPECT_EQ(exec->op, WsMessage::Op::kStream);
  EXPECT_EQ(exec->stream_id, 2);
  EXPECT_EQ(exec->request.stmt.sql_id, 7);
  auto fetch = DecodeWsMessage(
      R"({"type":"request","request_id":1,"request":{"type":"fetch_cursor","cursor_id":3,"max_count":10}})",
      3);
  ASSERT_TRUE(fetch.ok()) << fetch.status().message();
  EXPECT_EQ(fetch->op, WsMessage::Op::kFetchCursor);
  EXPECT_EQ(fetch->max_count, 10u);
  for (
      auto [text, version] : std::initializer_list<std::pair<std::string_view, int>>{
          {R"({"type":"request","request_id":1,"request":{"type":"fetch_cursor","cursor_id":3,"max_count":1}})",
           2},
          {R"({"type":"request","request_id":1,"request":{"type":"execute","stmt":{"sql":"x"}}})",
           3},
          {R"({"type":"request","request":{"type":"open_stream","stream_id":1}})", 3},
          {R"({"type":"request","request_id":1,"request":{"type":"close"}})", 3},
          {R"({"type":"request","request_id":1,"request":{"type":"sequence","stream_id":1,"sql":"x"}})",
           1},
          {R"({"type":"goodbye"})", 3},
          {R"([1,2])", 3}}) {
    EXPECT_EQ(DecodeWsMessage(text, version).status().code(), Code::kInvalidRequest) << text;
  }
}

TEST(ErrorsTest, CodesAndStatuses) {
  EXPECT_EQ(ErrorCode(Status(Code::kSql, "UNIQUE constraint failed: t.x", 2067)),
            "SQLITE_CONSTRAINT");
  EXPECT_EQ(ErrorCode(Status(Code::kSqlManyStatements, "")), "SQL_MANY_STATEMENTS");
  EXPECT_EQ(ErrorCode(Status(Code::kStreamExpired, "")), "STREAM_EXPIRED");
  EXPECT_EQ(ErrorCode(Status(Code::kSqlParse, "")), "SQL_PARSE_ERROR");
  EXPECT_EQ(ErrorMessage(Status(Code::kSqlInput, "no such table: t (at offset 14)")),
            "SQL input error: no such table: t (at offset 14)");
  EXPECT_EQ(ErrorMessage(Status(Code::kSql, "UNIQUE constraint failed: t.x", 2067)),
            "SQLite error: UNIQUE constraint failed: t.x");
  EXPECT_EQ(HttpStatus(Status(Code::kNotFound, "")), 404);
  EXPECT_EQ(ErrorBody(Status(Code::kArgsInvalid, "bad \"x\"")),
            R"({"message":"bad \"x\"","code":"ARGS_INVALID"})");
}

class StreamTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-hrana-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    engine::RegistryOptions o;
    o.data_dir = dir_.string();
    reg_ = engine::Registry::Open(o).value();
    ASSERT_TRUE(reg_->Create("other").ok());
  }
  void TearDown() override {
    reg_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<Stream> NewStream(StreamTable& t, const std::string& db) {
    auto s = std::make_unique<Stream>();
    s->id = t.NewId();
    s->db = db;
    s->session = std::make_unique<engine::Session>(reg_->Get(db).value());
    return s;
  }
  std::filesystem::path dir_;
  std::unique_ptr<engine::Registry> reg_;
};

TEST_F(StreamTableTest, BatonsAreSingleUseAndBoundToTheirDatabase) {
  ManualClock clock;
  StreamTable t(&clock, std::chrono::seconds(10), 100);
  std::string b1 = t.Return(NewStream(t, "default")).value();
  // Wrong database: the MAC does not match.
  EXPECT_EQ(t.Checkout(b1, "other").status().code(), Code::kStreamInvalid);
  auto s = t.Checkout(b1, "default");
  ASSERT_TRUE(s.ok());
  // While checked out, and after, the same baton is refused.
  EXPECT_EQ(t.Checkout(b1, "default").status().code(), Code::kStreamInvalid);
  std::string b2 = t.Return(std::move(s).value()).value();
  EXPECT_NE(b1, b2);
  EXPECT_EQ(t.Checkout(b1, "default").status().code(), Code::kStreamInvalid);
  // A forged baton (one bit flipped) is refused.
  std::string forged = b2;
  forged[3] = forged[3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(t.Checkout(forged, "default").status().code(), Code::kStreamInvalid);
  EXPECT_EQ(t.Checkout("garbage", "default").status().code(), Code::kStreamInvalid);
  EXPECT_TRUE(t.Checkout(b2, "default").ok());
}

TEST_F(StreamTableTest, IdleStreamsExpireAndRollBack) {
  ManualClock clock;
  StreamTable t(&clock, std::chrono::seconds(10), 100);
  auto s = NewStream(t, "default");
  engine::StmtSpec begin{"BEGIN IMMEDIATE", {}, {}, false};
  ASSERT_TRUE(s->session->Execute(begin, nullptr, true).ok());
  auto db = reg_->Get("default").value();
  EXPECT_FALSE(db->Idle());
  std::string baton = t.Return(std::move(s)).value();
  clock.Advance(std::chrono::seconds(5));
  t.Sweep();
  EXPECT_EQ(t.size(), 1u);
  clock.Advance(std::chrono::seconds(6));
  t.Sweep();
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(db->Idle());  // the write lock was released
  EXPECT_EQ(t.Checkout(baton, "default").status().code(), Code::kStreamExpired);
}

TEST_F(StreamTableTest, PipelineRunsResumablyWhenWriterIsBusy) {
  ServiceOptions so;
  Service service(reg_.get(), so);
  auto setup =
      service.Pipeline(Version::kV2, "default",
                       R"J({"requests":[{"type":"execute","stmt":{"sql":"CREATE TABLE t(x)"}},
                                   {"type":"execute","stmt":{"sql":"BEGIN"}}]})J");
  EXPECT_FALSE(setup->Run(false));  // writes never run where blocking is not allowed
  ASSERT_TRUE(setup->Run(true));
  ASSERT_EQ(setup->response().status, 200);
  // Another call that reads, then writes: the write must wait for the open transaction.
  auto call =
      service.Pipeline(Version::kV2, "default",
                       R"J({"requests":[{"type":"execute","stmt":{"sql":"SELECT count(*) FROM t"}},
                                  {"type":"execute","stmt":{"sql":"INSERT INTO t VALUES (1)"}},
                                  {"type":"close"}]})J");
  EXPECT_FALSE(call->Run(false));  // the read ran; the write stops the call
  EXPECT_FALSE(call->Run(false));  // still stopped, and the read is not repeated
  std::thread holder_leaves([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    service.streams().CloseAll();  // the holder goes away: its transaction rolls back
  });
  ASSERT_TRUE(call->Run(true));  // waits for the write lock
  holder_leaves.join();
  const std::string& body = call->response().body;
  EXPECT_EQ(call->response().status, 200);
  EXPECT_NE(body.find(R"("rows":[[{"type":"integer","value":"0"}]])"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("affected_row_count":1)"), std::string::npos) << body;
  EXPECT_EQ(body.find("error"), std::string::npos) << body;
}

// A replica reads what it routes by from the call that then runs the request: one decoding.
TEST_F(StreamTableTest, DecodeBeforeRunDecodesOnce) {
  ServiceOptions so;
  Service service(reg_.get(), so);
  auto call =
      service.Pipeline(Version::kV3, "default",
                       R"({"requests": [{"type": "execute", "stmt": {"sql": "SELECT 41 + 1"}}]})");
  const HttpRequestHead* head = call->Decode();
  ASSERT_NE(head, nullptr);
  EXPECT_FALSE(head->may_write);
  EXPECT_EQ(call->Decode(), head);
  ASSERT_TRUE(call->Run(false));
  EXPECT_EQ(call->response().status, 200);
  EXPECT_NE(call->response().body.find(R"("value":"42")"), std::string::npos)
      << call->response().body;
  auto bad = service.Cursor("default", R"({"batch": 1})");
  EXPECT_EQ(bad->Decode(), nullptr);
  ASSERT_TRUE(bad->Run(false));
  EXPECT_EQ(bad->response().status, 400);
  EXPECT_NE(bad->response().body.find("batch must be an object"), std::string::npos)
      << bad->response().body;
}

// A write that waits on one stream holds up no other stream; requests behind it on its own stream
// wait for it and run in order.
TEST_F(StreamTableTest, WebSocketStreamsWaitOnlyForThemselves) {
  ServiceOptions so;
  Service service(reg_.get(), so);
  WsConnection holder(&service, 3, "default", nullptr);
  WsConnection conn(&service, 3, "default", nullptr);
  auto run = [](WsConnection& c, std::string text) {
    auto call = c.Message(std::move(text));
    EXPECT_NE(call, nullptr);
    if (call != nullptr && !call->Run(false)) {
      EXPECT_TRUE(call->Run(true));
    }
    std::string body = call ? call->response().body : std::string();
    EXPECT_EQ(c.Complete(call.get()), nullptr);
    return body;
  };
  auto req = [](int id, std::string_view body) {
    return R"J({"type":"request","request_id":)J" + std::to_string(id) + R"J(,"request":)J" +
           std::string(body) + "}";
  };
  EXPECT_EQ(run(holder, R"J({"type":"hello","jwt":null})J"), R"J({"type":"hello_ok"})J");
  run(holder, req(1, R"J({"type":"open_stream","stream_id":1})J"));
  run(holder, req(2, R"J({"type":"execute","stream_id":1,"stmt":{"sql":"CREATE TABLE t(x)"}})J"));
  run(holder, req(3, R"J({"type":"execute","stream_id":1,"stmt":{"sql":"BEGIN IMMEDIATE"}})J"));

  run(conn, R"J({"type":"hello","jwt":null})J");
  run(conn, req(1, R"J({"type":"open_stream","stream_id":1})J"));
  run(conn, req(2, R"J({"type":"open_stream","stream_id":2})J"));
  auto write = conn.Message(
      req(3, R"J({"type":"execute","stream_id":1,"stmt":{"sql":"INSERT INTO t VALUES (1)"}})J"));
  ASSERT_NE(write, nullptr);
  EXPECT_FALSE(write->Run(false));  // waits for the holder's transaction
  // A stored text is looked up when its request arrives: closing it and storing another under the
  // same id afterwards does not change what the waiting request runs.
  run(conn, req(20, R"J({"type":"store_sql","sql_id":9,"sql":"SELECT 'first'"})J"));
  EXPECT_EQ(conn.Message(req(21, R"J({"type":"execute","stream_id":1,"stmt":{"sql_id":9}})J")),
            nullptr);
  EXPECT_NE(run(conn, req(22, R"J({"type":"close_sql","sql_id":9})J")).find("close_sql"),
            std::string::npos);
  run(conn, req(23, R"J({"type":"store_sql","sql_id":9,"sql":"SELECT 'second'"})J"));
  // The same stream's next request waits behind it; another stream reads meanwhile.
  EXPECT_EQ(
      conn.Message(
          req(4, R"J({"type":"execute","stream_id":1,"stmt":{"sql":"SELECT count(*) FROM t"}})J")),
      nullptr);
  const std::string read =
      run(conn,
          req(5, R"J({"type":"execute","stream_id":2,"stmt":{"sql":"SELECT count(*) FROM t"}})J"));
  EXPECT_NE(read.find(R"("request_id":5)"), std::string::npos) << read;
  EXPECT_NE(read.find(R"("value":"0")"), std::string::npos) << read;
  run(holder, req(4, R"J({"type":"execute","stream_id":1,"stmt":{"sql":"COMMIT"}})J"));
  ASSERT_TRUE(write->Run(true));
  EXPECT_NE(write->response().body.find(R"("affected_row_count":1)"), std::string::npos)
      << write->response().body;
  EXPECT_EQ(conn.queued(), 2u);
  auto next = conn.Complete(write.get());  // the waiting requests of stream 1, in order
  ASSERT_NE(next, nullptr);
  ASSERT_TRUE(next->Run(false));
  EXPECT_NE(next->response().body.find(R"("request_id":21)"), std::string::npos);
  EXPECT_NE(next->response().body.find("first"), std::string::npos) << next->response().body;
  next = conn.Complete(next.get());
  ASSERT_NE(next, nullptr);
  ASSERT_TRUE(next->Run(false));
  EXPECT_NE(next->response().body.find(R"("request_id":4)"), std::string::npos);
  EXPECT_NE(next->response().body.find(R"("value":"1")"), std::string::npos)
      << next->response().body;
  EXPECT_EQ(conn.Complete(next.get()), nullptr);
  EXPECT_EQ(conn.queued(), 0u);
  EXPECT_EQ(conn.close_code(), 0);
  // Protocol errors close the connection.
  run(conn, req(6, R"J({"type":"open_stream","stream_id":2})J"));
  EXPECT_EQ(conn.close_code(), 1002);
}

}  // namespace
}  // namespace cairn::hrana
