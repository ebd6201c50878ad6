#include "hrana/encode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace cairn::hrana {
namespace {

using engine::ColumnInfo;
using engine::ExecStats;
using engine::Value;
using engine::ValueRef;

ValueRef Int(int64_t v) { return {Value::Type::kInteger, v, 0, {}}; }
ValueRef Float(double v) { return {Value::Type::kFloat, 0, v, {}}; }
ValueRef Text(std::string_view s) { return {Value::Type::kText, 0, 0, s}; }
ValueRef Blob(std::string_view b) { return {Value::Type::kBlob, 0, 0, b}; }

std::string Encode(const ValueRef& v) {
  std::string out;
  JsonWriter w(&out);
  WriteValue(w, v);
  return out;
}

TEST(EncodeTest, IntegersAreStringsBeyondJavaScriptsPrecision) {
  EXPECT_EQ(Encode(Int(0)), R"({"type":"integer","value":"0"})");
  EXPECT_EQ(Encode(Int((int64_t{1} << 53) + 1)),
            R"({"type":"integer","value":"9007199254740993"})");
  EXPECT_EQ(Encode(Int(INT64_MIN)), R"({"type":"integer","value":"-9223372036854775808"})");
  EXPECT_EQ(Encode(Int(INT64_MAX)), R"({"type":"integer","value":"9223372036854775807"})");
}

TEST(EncodeTest, FloatsInTheirShortestRoundTripForm) {
  EXPECT_EQ(Encode(Float(1.5)), R"({"type":"float","value":1.5})");
  EXPECT_EQ(Encode(Float(0.1)), R"({"type":"float","value":0.1})");
  EXPECT_EQ(Encode(Float(1e300)), R"({"type":"float","value":1e+300})");
  EXPECT_EQ(Encode(Float(-1e-300)), R"({"type":"float","value":-1e-300})");
  EXPECT_EQ(Encode(Float(-0.0)), R"({"type":"float","value":-0})");
  EXPECT_EQ(Encode(Float(5e-324)), R"({"type":"float","value":5e-324})");
  EXPECT_EQ(Encode(Float(9007199254740993.0)), R"({"type":"float","value":9007199254740992})");
}

TEST(EncodeTest, InfinitiesAs1e999AndNaNAsNull) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Encode(Float(inf)), R"({"type":"float","value":1e999})");
  EXPECT_EQ(Encode(Float(-inf)), R"({"type":"float","value":-1e999})");
  // SQLite turns NaN into NULL before it reaches a row; were one to arrive, JSON has no NaN.
  EXPECT_EQ(Encode(Float(std::nan(""))), R"({"type":"float","value":null})");
}

TEST(EncodeTest, TextEscapesAndUnicode) {
  EXPECT_EQ(Encode(Text("")), R"({"type":"text","value":""})");
  EXPECT_EQ(Encode(Text("a\"b\\c/d")), R"({"type":"text","value":"a\"b\\c/d"})");
  EXPECT_EQ(Encode(Text("\n\r\t\b\f")), R"({"type":"text","value":"\n\r\t\b\f"})");
  EXPECT_EQ(Encode(Text(std::string_view("a\0b\x01\x1f\x7f", 6))),
            R"({"type":"text","value":"a\u0000b\u0001\u001f)"
            "\x7f"
            R"("})");
  // UTF-8 passes through as it is, including U+2028 and characters outside the BMP.
  EXPECT_EQ(Encode(Text("é ☃ \u2028 😀")), "{\"type\":\"text\",\"value\":\"é ☃ \u2028 😀\"}");
}

TEST(EncodeTest, BlobsAsBase64) {
  EXPECT_EQ(Encode(Blob("")), R"({"type":"blob","base64":""})");
  EXPECT_EQ(Encode(Blob(std::string_view("\0\x01\x02", 3))), R"({"type":"blob","base64":"AAEC"})");
  EXPECT_EQ(Encode(Blob("\xff\xfe")), R"({"type":"blob","base64":"//4="})");
  EXPECT_EQ(Encode(Blob("hello")), R"({"type":"blob","base64":"aGVsbG8="})");
}

TEST(EncodeTest, Null) { EXPECT_EQ(Encode(ValueRef{}), R"({"type":"null"})"); }

TEST(EncodeTest, StmtResult) {
  std::string out;
  Budget budget{0, 1 << 20};
  StmtResultSink sink(&out, &budget);
  const std::vector<ColumnInfo> cols = {{"id", "INTEGER"}, {"v", std::nullopt}};
  ASSERT_TRUE(sink.Columns(cols).ok());
  const std::vector<ValueRef> row1 = {Int(1), Text("x")};
  const std::vector<ValueRef> row2 = {Int(2), ValueRef{}};
  ASSERT_TRUE(sink.Row(row1).ok());
  ASSERT_TRUE(sink.Row(row2).ok());
  ExecStats stats;
  stats.affected_row_count = 0;
  stats.rows_read = 2;
  stats.query_duration_ms = 0.25;
  stats.replication_index = 7;
  sink.Finish(stats);
  EXPECT_EQ(out,
            R"({"cols":[{"name":"id","decltype":"INTEGER"},{"name":"v","decltype":null}],)"
            R"("rows":[[{"type":"integer","value":"1"},{"type":"text","value":"x"}],)"
            R"([{"type":"integer","value":"2"},{"type":"null"}]],)"
            R"("affected_row_count":0,"last_insert_rowid":null,"rows_read":2,"rows_written":0,)"
            R"("query_duration_ms":0.25,"replication_index":"7"})");
  EXPECT_EQ(budget.used, out.size());
}

TEST(EncodeTest, StmtResultWithoutColumnsAndWithRowid) {
  std::string out;
  Budget budget{0, 1 << 20};
  StmtResultSink sink(&out, &budget);
  ExecStats stats;
  stats.affected_row_count = 1;
  stats.last_insert_rowid = (int64_t{1} << 60);
  stats.rows_written = 1;
  sink.Finish(stats);
  EXPECT_EQ(out, R"({"cols":[],"rows":[],"affected_row_count":1,)"
                 R"("last_insert_rowid":"1152921504606846976","rows_read":0,"rows_written":1,)"
                 R"("query_duration_ms":0,"replication_index":null})");
}

TEST(EncodeTest, BudgetStopsARowPastTheLimit) {
  std::string out;
  Budget budget{0, 40};
  StmtResultSink sink(&out, &budget);
  ASSERT_TRUE(sink.Columns({}).ok());
  const std::vector<ValueRef> row = {Text("0123456789012345678901234567890123456789")};
  Status st = sink.Row(row);
  EXPECT_EQ(st.code(), Code::kResponseTooLarge);
  EXPECT_NE(st.message().find("limit of 40 bytes"), std::string::npos);
}

TEST(EncodeTest, CursorEntries) {
  std::string out;
  Budget budget{0, 1 << 20};
  CursorSink sink(&out, &budget, 3);
  const std::vector<ColumnInfo> cols = {{"a", std::nullopt}};
  ASSERT_TRUE(sink.Columns(cols).ok());
  const std::vector<ValueRef> row = {Float(2.5)};
  ASSERT_TRUE(sink.Row(row).ok());
  ASSERT_TRUE(sink.Row(row).ok());
  sink.Finish(ExecStats{});
  WriteCursorStepError(&out, 4, Status(Code::kSqlUnknownId, "gone"));
  EXPECT_EQ(out,
            R"({"type":"step_begin","step":3,"cols":[{"name":"a","decltype":null}]})"
            "\n"
            R"({"type":"row","row":[{"type":"float","value":2.5}]})"
            "\n"
            R"({"type":"row","row":[{"type":"float","value":2.5}]})"
            "\n"
            R"({"type":"step_end","affected_row_count":0,"last_insert_rowid":null,)"
            R"("rows_read":0,"rows_written":0,"query_duration_ms":0})"
            "\n"
            R"({"type":"step_error","step":4,"error":{"message":"gone","code":"SQL_NOT_FOUND"}})"
            "\n");
}

TEST(EncodeTest, EnvelopesOverHttpAndWebSocket) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  BeginOk(w, std::nullopt, "get_autocommit");
  w.Key("is_autocommit").Bool(true).EndObject().EndObject();
  WriteOk(w, 12, "close_sql");
  WriteErrorResult(w, std::nullopt, Status(Code::kStreamInvalid, "no \"stream\""));
  WriteErrorResult(w, -1, Status(Code::kTooManyStreams, "many"));
  w.EndArray();
  EXPECT_EQ(out, R"([{"type":"ok","response":{"type":"get_autocommit","is_autocommit":true}},)"
                 R"({"type":"response_ok","request_id":12,"response":{"type":"close_sql"}},)"
                 R"({"type":"error","error":{"message":"no \"stream\"","code":"BATON_INVALID"}},)"
                 R"({"type":"response_error","request_id":-1,)"
                 R"("error":{"message":"many","code":"TOO_MANY_STREAMS"}}])");
}

}  // namespace
}  // namespace cairn::hrana
