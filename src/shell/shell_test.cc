#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "shell/format.h"
#include "shell/hrana_client.h"
#include "shell/hrana_wire.h"
#include "shell/session.h"
#include "shell/statement_splitter.h"

namespace cairn::shell {
namespace {

// ---- StatementSplitter -------------------------------------------------------------------------

std::vector<std::string> Split(std::string_view text) {
  StatementSplitter s;
  s.Append(text);
  std::vector<std::string> out;
  std::string stmt;
  while (s.Next(&stmt)) out.push_back(stmt);
  std::string rest = s.TakeRest();
  if (!rest.empty()) out.push_back("REST:" + rest);
  return out;
}

using Stmts = std::vector<std::string>;

TEST(SplitterTest, SplitsOnSemicolonsAndTrims) {
  EXPECT_EQ(Split("SELECT 1; SELECT 2;\n"), (Stmts{"SELECT 1", "SELECT 2"}));
  EXPECT_EQ(Split("  SELECT 1  ;"), (Stmts{"SELECT 1"}));
  EXPECT_EQ(Split("SELECT 1; SELECT 2"), (Stmts{"SELECT 1", "REST:SELECT 2"}));
}

TEST(SplitterTest, DropsEmptyAndCommentOnlyStatements) {
  EXPECT_EQ(Split(";;  ;\n"), Stmts{});
  EXPECT_EQ(Split("-- only a comment\n/* and another */"), Stmts{});
  EXPECT_EQ(Split("-- lead\nSELECT 1; -- trailing"), (Stmts{"SELECT 1"}));
  EXPECT_EQ(Split("/* c */ SELECT /* ; */ 1;"), (Stmts{"SELECT /* ; */ 1"}));
}

TEST(SplitterTest, IgnoresSemicolonsInsideLiteralsIdentifiersAndComments) {
  EXPECT_EQ(Split("SELECT 'a;b', 'it''s;';"), (Stmts{"SELECT 'a;b', 'it''s;'"}));
  EXPECT_EQ(Split("SELECT \"x;y\", `z;`, [w;] FROM t;"),
            (Stmts{"SELECT \"x;y\", `z;`, [w;] FROM t"}));
  EXPECT_EQ(Split("SELECT 1 -- no; end\n + 2;"), (Stmts{"SELECT 1 -- no; end\n + 2"}));
  EXPECT_EQ(Split("SELECT 4 - 2; SELECT 4 / 2;"), (Stmts{"SELECT 4 - 2", "SELECT 4 / 2"}));
  EXPECT_EQ(Split("SELECT x'00;';"), (Stmts{"SELECT x'00;'"}));
  EXPECT_EQ(Split(std::string("SELECT '\0'; SELECT 2;", 21)),
            (Stmts{std::string("SELECT '\0'", 10), "SELECT 2"}));
}

TEST(SplitterTest, TriggerBodiesEndAtSemicolonEndSemicolon) {
  const std::string trigger =
      "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n"
      "  INSERT INTO log VALUES (new.x);\n"
      "  UPDATE c SET n = CASE WHEN n > 0 THEN n + 1 ELSE 1 END;\n"
      "END";
  EXPECT_EQ(Split(trigger + ";\nSELECT 1;"), (Stmts{trigger, "SELECT 1"}));
  EXPECT_EQ(Split("create temp trigger x before delete on t begin select 1; end; select 2;"),
            (Stmts{"create temp trigger x before delete on t begin select 1; end", "select 2"}));
  EXPECT_EQ(Split("EXPLAIN CREATE TRIGGER x AFTER UPDATE ON t BEGIN SELECT 1; END;"),
            (Stmts{"EXPLAIN CREATE TRIGGER x AFTER UPDATE ON t BEGIN SELECT 1; END"}));
  // Only CREATE [TEMP] TRIGGER opens a body; other statements naming "trigger" or END do not.
  EXPECT_EQ(Split("CREATE TABLE \"trigger\"(x); SELECT 'END'; END;"),
            (Stmts{"CREATE TABLE \"trigger\"(x)", "SELECT 'END'", "END"}));
  // An unfinished trigger stays pending.
  StatementSplitter s;
  s.Append("CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1;\n");
  std::string stmt;
  EXPECT_FALSE(s.Next(&stmt));
  EXPECT_TRUE(s.Pending());
  s.Append("END;\n");
  ASSERT_TRUE(s.Next(&stmt));
  EXPECT_EQ(stmt, "CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT 1;\nEND");
  EXPECT_FALSE(s.Pending());
}

TEST(SplitterTest, TokensMaySpanAppends) {
  StatementSplitter s;
  std::string stmt;
  for (std::string_view piece :
       {"CREATE TRIG", "GER x AFTER INSERT ON t BEGIN SELECT '", ";'; E", "ND", ";", " SELECT 1 -",
        "- c;\n;", " /", "* ; *", "/ SELECT 2 /", "2;"}) {
    s.Append(piece);
  }
  std::vector<std::string> got;
  while (s.Next(&stmt)) got.push_back(stmt);
  EXPECT_EQ(got, (Stmts{"CREATE TRIGGER x AFTER INSERT ON t BEGIN SELECT ';'; END",
                        "SELECT 1 -- c;", "SELECT 2 /2"}));
}

TEST(SplitterTest, PendingTracksStatementsAndOpenComments) {
  StatementSplitter s;
  std::string stmt;
  EXPECT_FALSE(s.Pending());
  s.Append("-- comment\n");
  EXPECT_FALSE(s.Next(&stmt));
  EXPECT_FALSE(s.Pending());
  s.Append("/* open\n");
  EXPECT_FALSE(s.Next(&stmt));
  EXPECT_TRUE(s.Pending());
  s.Append("*/\nSELECT 'multi\n");
  EXPECT_FALSE(s.Next(&stmt));
  EXPECT_TRUE(s.Pending());
  s.Append("line';\n");
  ASSERT_TRUE(s.Next(&stmt));
  EXPECT_EQ(stmt, "SELECT 'multi\nline'");
  EXPECT_FALSE(s.Pending());
}

TEST(SplitterTest, ManyLinesStayCorrectAcrossCompaction) {
  StatementSplitter s;
  std::string stmt;
  int n = 0;
  for (int i = 0; i < 2000; ++i) {
    s.Append("INSERT INTO t VALUES(" + std::to_string(i) + ",\n");
    s.Append("'x;y');\n");
    while (s.Next(&stmt)) {
      EXPECT_EQ(stmt, "INSERT INTO t VALUES(" + std::to_string(n) + ",\n'x;y')");
      ++n;
    }
  }
  EXPECT_EQ(n, 2000);
  EXPECT_EQ(s.TakeRest(), "");
}

// ---- Formatting --------------------------------------------------------------------------------

TEST(FormatTest, FloatsRoundTripAndLookReal) {
  EXPECT_EQ(FormatFloat(1), "1.0");
  EXPECT_EQ(FormatFloat(0.1), "0.1");
  EXPECT_EQ(FormatFloat(-2.5), "-2.5");
  EXPECT_EQ(FormatFloat(1e300), "1e+300");
  EXPECT_EQ(std::stod(FormatFloat(1.0 / 3)), 1.0 / 3);
}

TEST(FormatTest, DisplayWidthCountsColumns) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("h\xC3\xA9llo"), 5u);              // é
  EXPECT_EQ(DisplayWidth("\xE6\x97\xA5\xE6\x9C\xAC"), 4u);  // 日本
  EXPECT_EQ(DisplayWidth("e\xCC\x81"), 1u);                 // e + combining acute
  EXPECT_EQ(DisplayWidth("\xFF\xFE"), 2u);                  // not UTF-8
}

TEST(FormatTest, DisplayValues) {
  EXPECT_EQ(DisplayValue(Value::Null()), "NULL");
  EXPECT_EQ(DisplayValue(Value::Integer(-9007199254740993)), "-9007199254740993");
  EXPECT_EQ(DisplayValue(Value::Float(2)), "2.0");
  EXPECT_EQ(DisplayValue(Value::Text("a\nb\tc\x01")), "a\\nb\\tc\\x01");
  EXPECT_EQ(DisplayValue(Value::Blob(std::string("\x00\xAB", 2))), "X'00AB'");
  EXPECT_EQ(DisplayValue(Value::Blob(std::string(20, '\x11'))),
            "X'11111111111111111111111111111111'... (20 bytes)");
}

TEST(FormatTest, TableAlignsNumbersRight) {
  StmtResult r;
  r.columns = {{"id", "INTEGER"}, {"name", "TEXT"}, {"score", ""}};
  r.rows = {{Value::Integer(1), Value::Text("alice"), Value::Float(9.5)},
            {Value::Integer(12), Value::Null(), Value::Integer(100)}};
  std::string out;
  RenderTable(r, &out);
  EXPECT_EQ(out,
            "+----+-------+-------+\n"
            "| id | name  | score |\n"
            "+----+-------+-------+\n"
            "|  1 | alice |   9.5 |\n"
            "| 12 | NULL  |   100 |\n"
            "+----+-------+-------+\n");
  r.rows.clear();
  out.clear();
  RenderTable(r, &out);
  EXPECT_EQ(out,
            "+----+------+-------+\n"
            "| id | name | score |\n"
            "+----+------+-------+\n");
  out.clear();
  RenderTable(StmtResult{}, &out);
  EXPECT_EQ(out, "");
}

TEST(FormatTest, TablePadsWideCharactersByColumns) {
  StmtResult r;
  r.columns = {{"w", ""}};
  r.rows = {{Value::Text("\xE6\x97\xA5")}, {Value::Text("abc")}};
  std::string out;
  RenderTable(r, &out);
  EXPECT_EQ(out, "+-----+\n| w   |\n+-----+\n| \xE6\x97\xA5  |\n| abc |\n+-----+\n");
}

TEST(FormatTest, JsonRows) {
  StmtResult r;
  r.columns = {{"i", ""}, {"f", ""}, {"t", ""}, {"b", ""}, {"n", ""}};
  r.rows = {{Value::Integer(9007199254740993), Value::Float(0.5), Value::Text("q\"\n"),
             Value::Blob("hi"), Value::Null()}};
  std::string out;
  RenderJsonRows(r, &out);
  EXPECT_EQ(out,
            "{\"i\":9007199254740993,\"f\":0.5,\"t\":\"q\\\"\\n\",\"b\":\"aGk=\",\"n\":null}\n");
}

TEST(FormatTest, NameGrid) {
  std::string out;
  RenderNameGrid({"alpha", "b", "gamma"}, 16, &out);
  EXPECT_EQ(out, "alpha  b\ngamma\n");
}

TEST(FormatTest, SqlLiteralsAndIdentifiers) {
  EXPECT_EQ(SqlLiteral(Value::Null()), "NULL");
  EXPECT_EQ(SqlLiteral(Value::Integer(std::numeric_limits<int64_t>::min())),
            "-9223372036854775808");
  EXPECT_EQ(SqlLiteral(Value::Float(3)), "3.0");
  EXPECT_EQ(SqlLiteral(Value::Float(std::numeric_limits<double>::infinity())), "1e999");
  EXPECT_EQ(SqlLiteral(Value::Float(-std::numeric_limits<double>::infinity())), "-1e999");
  EXPECT_EQ(SqlLiteral(Value::Float(std::nan(""))), "NULL");
  EXPECT_EQ(SqlLiteral(Value::Text("it's\n")), "'it''s\n'");
  EXPECT_EQ(SqlLiteral(Value::Text(std::string("a\0b", 3))), "CAST(X'610062' AS TEXT)");
  EXPECT_EQ(SqlLiteral(Value::Blob(std::string("\x01\xFF", 2))), "X'01FF'");
  EXPECT_EQ(SqlLiteral(Value::Blob("")), "X''");
  EXPECT_EQ(QuoteIdentifier("my \"table\""), "\"my \"\"table\"\"\"");
}

// ---- Hrana wire format -------------------------------------------------------------------------

TEST(WireTest, EncodesRequests) {
  EXPECT_EQ(EncodeExecuteRequest(std::nullopt, "SELECT \"a\""),
            R"({"requests":[{"type":"execute","stmt":{"sql":"SELECT \"a\"","want_rows":true}},)"
            R"({"type":"get_autocommit"}]})");
  EXPECT_EQ(
      EncodeExecuteRequest(std::string("b1"), "SELECT 1"),
      R"({"baton":"b1","requests":[{"type":"execute","stmt":{"sql":"SELECT 1","want_rows":true}},)"
      R"({"type":"get_autocommit"}]})");
  EXPECT_EQ(EncodeCloseRequest("b2"), R"({"baton":"b2","requests":[{"type":"close"}]})");
}

TEST(WireTest, DecodesRowsOfEveryType) {
  auto reply = DecodePipelineResponse(R"({"baton":"b9","base_url":null,"results":[
    {"type":"ok","response":{"type":"execute","result":{
      "cols":[{"name":"i","decltype":"INTEGER"},{"name":"f","decltype":null},{"name":"t"},
              {"name":"b"},{"name":"n"}],
      "rows":[[{"type":"integer","value":"-9223372036854775808"},{"type":"float","value":1.5},
               {"type":"text","value":"h\u00e9"},{"type":"blob","base64":"AAH/"},{"type":"null"}],
              [{"type":"integer","value":"7"},{"type":"float","value":42},
               {"type":"text","value":""},{"type":"blob","base64":""},{"type":"null"}]],
      "affected_row_count":0,"last_insert_rowid":"12","rows_read":1}}},
    {"type":"ok","response":{"type":"get_autocommit","is_autocommit":false}}]})");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->baton, "b9");
  EXPECT_FALSE(reply->base_url);
  EXPECT_EQ(reply->autocommit, false);
  ASSERT_TRUE(reply->execute.ok());
  const StmtResult& r = reply->execute.result;
  ASSERT_EQ(r.columns.size(), 5u);
  EXPECT_EQ(r.columns[0].name, "i");
  EXPECT_EQ(r.columns[0].decltype_, "INTEGER");
  EXPECT_EQ(r.columns[1].decltype_, "");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0][0], Value::Integer(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(r.rows[0][1], Value::Float(1.5));
  EXPECT_EQ(r.rows[0][2], Value::Text("h\xC3\xA9"));
  EXPECT_EQ(r.rows[0][3], Value::Blob(std::string("\x00\x01\xFF", 3)));
  EXPECT_EQ(r.rows[0][4], Value::Null());
  EXPECT_EQ(r.rows[1][1], Value::Float(42));
  EXPECT_EQ(r.rows[1][3], Value::Blob(""));
  EXPECT_EQ(r.last_insert_rowid, 12);
}

TEST(WireTest, DecodesErrorsAndMissingAutocommit) {
  auto reply = DecodePipelineResponse(R"({"baton":"b","base_url":"http://other:8080/","results":[
    {"type":"error","error":{"message":"no such table: t","code":"SQLITE_ERROR"}},
    {"type":"error","error":{"message":"unknown request"}}]})");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->base_url, "http://other:8080/");
  ASSERT_FALSE(reply->execute.ok());
  EXPECT_EQ(reply->execute.error->message, "no such table: t");
  EXPECT_EQ(reply->execute.error->code, "SQLITE_ERROR");
  EXPECT_FALSE(reply->autocommit);

  auto closed = DecodePipelineResponse(R"({"baton":null,"results":[{"type":"ok","response":
    {"type":"execute","result":{"cols":[],"rows":[],"affected_row_count":3,"last_insert_rowid":null}}}]})");
  ASSERT_TRUE(closed.ok());
  EXPECT_FALSE(closed->baton);
  EXPECT_EQ(closed->execute.result.affected_row_count, 3);
  EXPECT_FALSE(closed->execute.result.last_insert_rowid);
}

TEST(WireTest, RejectsMalformedResponses) {
  for (const char* body : {"", "not json", "[]", R"({"results":[]})",
                           R"({"results":[{"type":"ok","response":{"type":"execute"}}]})",
                           R"({"results":[{"type":"ok","response":{"type":"execute","result":
                              {"cols":[],"rows":[[{"type":"integer","value":"1x"}]]}}}]})",
                           R"({"results":[{"type":"ok","response":{"type":"execute","result":
                              {"cols":[],"rows":[[{"type":"blob","base64":"!!"}]]}}}]})",
                           R"({"results":[{"type":"bogus"}]})"}) {
    EXPECT_FALSE(DecodePipelineResponse(body).ok()) << body;
  }
}

TEST(WireTest, DecodesHttpErrorBodies) {
  ServerError e =
      DecodeErrorBody(400, R"({"message":"The stream has expired","code":"STREAM_EXPIRED"})");
  EXPECT_EQ(e.message, "The stream has expired");
  EXPECT_EQ(e.code, "STREAM_EXPIRED");
  e = DecodeErrorBody(401, R"({"message":"bad token"})");
  EXPECT_EQ(e.code, "UNKNOWN");
  e = DecodeErrorBody(404, R"({"error":"Namespace `x` doesn't exist"})");
  EXPECT_EQ(e.message, "Namespace `x` doesn't exist");
  EXPECT_EQ(e.code, "HTTP_404");
  e = DecodeErrorBody(502, "Bad Gateway\n");
  EXPECT_EQ(e.message, "HTTP 502: Bad Gateway");
  EXPECT_EQ(e.code, "HTTP_502");
}

TEST(WireTest, NormalizesBaseUrls) {
  EXPECT_EQ(NormalizeBaseUrl("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
  EXPECT_EQ(NormalizeBaseUrl("localhost:8080"), "http://localhost:8080");
  EXPECT_EQ(NormalizeBaseUrl("libsql://db.example.com"), "https://db.example.com");
  EXPECT_EQ(NormalizeBaseUrl("ws://h:1"), "http://h:1");
  EXPECT_EQ(NormalizeBaseUrl("wss://h"), "https://h");
  EXPECT_EQ(NormalizeBaseUrl("https://h/base//"), "https://h/base");
}

// ---- Session over an in-process SQLite ---------------------------------------------------------

// A SqlClient running statements on a private in-memory SQLite database, reporting errors with the
// primary code's name the way the server does.
class LocalClient : public SqlClient {
 public:
  LocalClient() { sqlite3_open(":memory:", &db_); }
  ~LocalClient() override { sqlite3_close(db_); }

  ExecOutcome Execute(std::string_view sql) override {
    executed.emplace_back(sql);
    sqlite3_stmt* stmt = nullptr;
    const char* tail = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail) !=
        SQLITE_OK) {
      return Fail();
    }
    if (!stmt) return ExecOutcome::Error("empty statement", "SQL_NO_STATEMENT");
    ExecOutcome out;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const char* decl = sqlite3_column_decltype(stmt, i);
      out.result.columns.push_back({sqlite3_column_name(stmt, i), decl ? decl : ""});
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      auto& row = out.result.rows.emplace_back();
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        switch (sqlite3_column_type(stmt, i)) {
          case SQLITE_INTEGER:
            row.push_back(Value::Integer(sqlite3_column_int64(stmt, i)));
            break;
          case SQLITE_FLOAT:
            row.push_back(Value::Float(sqlite3_column_double(stmt, i)));
            break;
          case SQLITE_TEXT:
            row.push_back(
                Value::Text(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                                        static_cast<size_t>(sqlite3_column_bytes(stmt, i)))));
            break;
          case SQLITE_BLOB: {
            const void* p = sqlite3_column_blob(stmt, i);
            row.push_back(Value::Blob(std::string(
                static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt, i)))));
            break;
          }
          default:
            row.push_back(Value::Null());
        }
      }
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return Fail();
    out.result.affected_row_count = sqlite3_changes64(db_);
    return out;
  }
  bool InTransaction() const override { return !sqlite3_get_autocommit(db_); }
  void Close() override {}

  std::vector<std::string> executed;

 private:
  ExecOutcome Fail() {
    int code = sqlite3_errcode(db_) & 0xff;
    std::string name = code == SQLITE_CONSTRAINT ? "SQLITE_CONSTRAINT" : "SQLITE_ERROR";
    return ExecOutcome::Error(sqlite3_errmsg(db_), name);
  }
  sqlite3* db_ = nullptr;
};

struct Harness {
  explicit Harness(bool interactive = false, bool json = false)
      : session(&client, &out, &err, interactive, json) {}
  bool Script(const std::string& text) {
    std::istringstream in(text);
    return session.RunScript(in);
  }
  LocalClient client;
  std::ostringstream out, err;
  ShellSession session;
};

TEST(SessionTest, ScriptRunsStatementsAndPrintsTables) {
  Harness h;
  EXPECT_TRUE(
      h.Script("CREATE TABLE t(a INTEGER, b TEXT);\n"
               "INSERT INTO t VALUES (1, 'x;y'), (2, NULL);\n"
               "SELECT * FROM t ORDER BY a"));  // the last statement needs no ';'
  EXPECT_EQ(h.out.str(),
            "+---+------+\n| a | b    |\n+---+------+\n| 1 | x;y  |\n| 2 | NULL |\n+---+------+\n");
  EXPECT_EQ(h.err.str(), "");
  EXPECT_FALSE(h.session.had_error());
}

TEST(SessionTest, ScriptStopsAtFirstError) {
  Harness h;
  EXPECT_FALSE(h.Script("SELECT 1;\nSELECT * FROM missing;\nSELECT 3;\n"));
  EXPECT_EQ(h.err.str(), "Error: no such table: missing (SQLITE_ERROR)\n");
  EXPECT_EQ(h.client.executed, (Stmts{"SELECT 1", "SELECT * FROM missing"}));
  EXPECT_TRUE(h.session.had_error());
}

TEST(SessionTest, InteractiveKeepsGoingAndShowsFooterAndPrompts) {
  Harness h(/*interactive=*/true);
  EXPECT_EQ(h.session.Prompt(), "cairn> ");
  EXPECT_TRUE(h.session.FeedInteractiveLine("SELECT * FROM missing; SELECT 2 AS two;"));
  EXPECT_EQ(h.err.str(), "Error: no such table: missing (SQLITE_ERROR)\n");
  EXPECT_EQ(h.out.str(), "+-----+\n| two |\n+-----+\n|   2 |\n+-----+\n(1 row)\n");
  EXPECT_TRUE(h.session.FeedInteractiveLine("BEGIN;"));
  EXPECT_EQ(h.session.Prompt(), "cairn*> ");
  EXPECT_TRUE(h.session.FeedInteractiveLine("SELECT"));
  EXPECT_EQ(h.session.Prompt(), "  ...> ");
  h.session.DiscardInteractiveInput();
  EXPECT_EQ(h.session.Prompt(), "cairn*> ");
  EXPECT_TRUE(h.session.FeedInteractiveLine("  .tables"));  // a dot-command, leading blanks allowed
  EXPECT_FALSE(h.session.FeedInteractiveLine(".quit"));
  EXPECT_TRUE(h.session.had_error());
}

TEST(SessionTest, DotCommandsOnlyWhenNoStatementIsPending) {
  Harness h;
  EXPECT_TRUE(h.Script("SELECT\n.5 AS x;\n"));
  EXPECT_EQ(h.client.executed, (Stmts{"SELECT\n.5 AS x"}));
}

TEST(SessionTest, JsonModeAndToggle) {
  Harness h(false, /*json=*/true);
  EXPECT_TRUE(
      h.Script("SELECT 1 AS a, 'x' AS b;\n.json off\nSELECT 2 AS c;\n.json on\nSELECT NULL AS d;"));
  EXPECT_EQ(h.out.str(),
            "{\"a\":1,\"b\":\"x\"}\n+---+\n| c |\n+---+\n| 2 |\n+---+\n{\"d\":null}\n");
}

TEST(SessionTest, TablesAndSchema) {
  Harness h;
  EXPECT_TRUE(
      h.Script("CREATE TABLE b(x); CREATE TABLE a(y INTEGER PRIMARY KEY AUTOINCREMENT);\n"
               "CREATE INDEX bx ON b(x); CREATE VIEW v AS SELECT * FROM a;\n"
               ".tables\n.schema b\n.tables a%"));
  EXPECT_EQ(h.out.str(),
            "a  b  v\n"
            "CREATE TABLE b(x);\nCREATE INDEX bx ON b(x);\n"
            "a\n");
}

TEST(SessionTest, DotCommandErrors) {
  Harness h(true);
  h.session.FeedInteractiveLine(".frobnicate");
  h.session.FeedInteractiveLine(".json maybe");
  h.session.FeedInteractiveLine(".import /nonexistent/file.sql");
  EXPECT_EQ(h.err.str(),
            "Error: unknown command .frobnicate; enter .help for the list\n"
            "Error: usage: .json on|off\n"
            "Error: cannot open /nonexistent/file.sql\n");
  h.session.FeedInteractiveLine(".help");
  EXPECT_NE(h.out.str().find(".dump"), std::string::npos);
}

TEST(SessionTest, ImportRunsAFileAndStopsAtItsFirstError) {
  std::string path = ::testing::TempDir() + "/shell_import_test.sql";
  {
    std::ofstream f(path);
    f << "CREATE TABLE t(x);\nINSERT INTO t VALUES (1);\n-- comment; here\n"
         "INSERT INTO t VALUES ('two;');\nINSERT INTO nope VALUES (3);\nINSERT INTO t VALUES "
         "(4);\n";
  }
  Harness h(true);
  EXPECT_TRUE(h.session.FeedInteractiveLine(".import " + path));
  EXPECT_EQ(h.err.str(), "Error: no such table: nope (SQLITE_ERROR)\n");
  h.session.FeedInteractiveLine(".json on");
  h.session.FeedInteractiveLine("SELECT count(*) AS n FROM t;");
  EXPECT_EQ(h.out.str(), "{\"n\":2}\n");
  std::remove(path.c_str());
}

TEST(SessionTest, QuitStopsAScript) {
  Harness h;
  EXPECT_TRUE(h.Script("SELECT 1;\n.quit\nSELECT 2;\n"));
  EXPECT_TRUE(h.session.quit_requested());
  EXPECT_EQ(h.client.executed, (Stmts{"SELECT 1"}));
}

const char kFixture[] =
    "CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, price REAL,\n"
    "  data BLOB, qty INTEGER, total REAL GENERATED ALWAYS AS (price * qty) STORED);\n"
    "CREATE TABLE \"odd \"\"name\"\"\"(\"k\"\"ey\" TEXT PRIMARY KEY, v) WITHOUT ROWID;\n"
    "CREATE TABLE log(msg TEXT);\n"
    "CREATE VIRTUAL TABLE docs USING fts5(body);\n"
    "INSERT INTO docs VALUES ('hello world'), ('goodbye');\n"
    "CREATE INDEX items_name ON items(name);\n"
    "CREATE VIEW cheap AS SELECT name FROM items WHERE price < 1;\n"
    "CREATE TRIGGER items_log AFTER INSERT ON items BEGIN\n"
    "  INSERT INTO log VALUES ('added ' || new.name);\n"
    "END;\n"
    "INSERT INTO items(name, price, data, qty) VALUES\n"
    "  ('it''s', 0.1, X'00FF10', 3), ('line\nbreak', 1e300, NULL, -9223372036854775808),\n"
    "  ('tab\there', -0.5, X'', 9223372036854775807), ('semi;colon', 2.0, zeroblob(40), 0);\n"
    "INSERT INTO items(name, price) VALUES (CAST(X'610062' AS TEXT), 1e999);\n"
    "DELETE FROM items WHERE name = 'semi;colon';\n"
    "INSERT INTO \"odd \"\"name\"\"\" VALUES ('k', 1), ('\xE6\x97\xA5', NULL);\n";

TEST(SessionTest, DumpRecreatesSchemaAndData) {
  Harness source;
  ASSERT_TRUE(source.Script(kFixture)) << source.err.str();
  ASSERT_TRUE(source.Script(".dump")) << source.err.str();
  const std::string dump = source.out.str();
  EXPECT_EQ(dump.rfind("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n", 0), 0u) << dump;
  EXPECT_NE(dump.find("INSERT INTO \"items\"(\"id\",\"name\",\"price\",\"data\",\"qty\") VALUES(1,"
                      "'it''s',0.1,X'00FF10',3);"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("CAST(X'610062' AS TEXT),1e999,NULL,NULL);"), std::string::npos) << dump;
  EXPECT_NE(
      dump.find("DELETE FROM sqlite_sequence;\nINSERT INTO \"sqlite_sequence\" VALUES('items',5);"),
      std::string::npos)
      << dump;
  // The trigger comes after the data, so restoring does not log the rows again.
  EXPECT_LT(dump.find("INSERT INTO \"log\""), dump.find("CREATE TRIGGER"));
  EXPECT_EQ(dump.substr(dump.size() - 8), "COMMIT;\n");

  Harness restored;
  ASSERT_TRUE(restored.Script(dump)) << restored.err.str();
  ASSERT_TRUE(restored.Script(".dump")) << restored.err.str();
  EXPECT_EQ(restored.out.str(), dump);
  restored.out.str("");
  ASSERT_TRUE(restored.Script(
      ".json on\nSELECT count(*) AS n FROM log; SELECT total FROM items WHERE id = 1;\n"
      "SELECT body FROM docs WHERE docs MATCH 'hello';"));
  EXPECT_EQ(restored.out.str(),
            "{\"n\":5}\n{\"total\":0.30000000000000004}\n{\"body\":\"hello world\"}\n");
  // FTS5's shadow tables are rebuilt by the virtual table, not dumped.
  EXPECT_EQ(dump.find("docs_data"), std::string::npos);
  EXPECT_NE(dump.find("CREATE VIRTUAL TABLE docs USING fts5(body);\nINSERT INTO \"docs\"(\"body\") "
                      "VALUES('hello world');"),
            std::string::npos)
      << dump;
}

TEST(SessionTest, DumpOfOneTable) {
  Harness h;
  ASSERT_TRUE(h.Script(kFixture));
  ASSERT_TRUE(h.Script(".dump log"));
  EXPECT_EQ(h.out.str(),
            "PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE log(msg TEXT);\n"
            "INSERT INTO \"log\" VALUES('added it''s');\n"
            "INSERT INTO \"log\" VALUES('added line\nbreak');\n"
            "INSERT INTO \"log\" VALUES('added tab\there');\n"
            "INSERT INTO \"log\" VALUES('added semi;colon');\n"
            "INSERT INTO \"log\" VALUES(CAST(X'616464656420610062' AS TEXT));\n"
            "COMMIT;\n");
}

TEST(SessionTest, SplitsDotCommandWords) {
  EXPECT_EQ(SplitDotCommand(".import 'my file.sql'  x"), (Stmts{".import", "my file.sql", "x"}));
  EXPECT_EQ(SplitDotCommand(".schema \"a b\""), (Stmts{".schema", "a b"}));
  EXPECT_EQ(SplitDotCommand("."), (Stmts{"."}));
}

}  // namespace
}  // namespace cairn::shell
