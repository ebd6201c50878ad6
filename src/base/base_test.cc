#include <gtest/gtest.h>

#include <limits>

#include "base/base64.h"
#include "base/clock.h"
#include "base/hex.h"
#include "base/json_writer.h"
#include "base/sha256.h"
#include "base/status.h"

namespace cairn {
namespace {

TEST(StatusTest, OkHasNoMessageAndCopies) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
  Status e(Code::kSql, "boom", 19);
  Status copy = e;
  EXPECT_FALSE(copy.ok());
  EXPECT_EQ(copy.code(), Code::kSql);
  EXPECT_EQ(copy.sqlite_code(), 19);
  EXPECT_EQ(copy.ToString(), "Sql: boom");
}

Result<int> Half(int x) {
  if (x % 2) return Status(Code::kInvalidRequest, "odd");
  return x / 2;
}

Status UseHalf(int x, int* out) {
  CAIRN_ASSIGN_OR_RETURN(int h, Half(x));
  *out = h;
  return Status::Ok();
}

TEST(ResultTest, AssignOrReturn) {
  int out = 0;
  EXPECT_TRUE(UseHalf(8, &out).ok());
  EXPECT_EQ(out, 4);
  Status s = UseHalf(3, &out);
  EXPECT_EQ(s.code(), Code::kInvalidRequest);
  EXPECT_EQ(out, 4);
}

TEST(JsonWriterTest, NestingCommasAndEscapes) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Key("a")
      .Int(-5)
      .Key("b")
      .BeginArray()
      .String("x\"y\\\n\x01")
      .Null()
      .Bool(true)
      .EndArray()
      .Key("c")
      .IntAsString(9223372036854775807LL)
      .Key("d")
      .Double(0.1)
      .Key("e")
      .Double(std::numeric_limits<double>::infinity())
      .EndObject();
  EXPECT_EQ(
      out,
      R"({"a":-5,"b":["x\"y\\\n\u0001",null,true],"c":"9223372036854775807","d":0.1,"e":null})");
}

TEST(JsonWriterTest, Base64Strings) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray().Base64("").Base64(std::string_view("\0\xff\x10", 3)).Base64("hello").EndArray();
  EXPECT_EQ(out, R"(["","AP8Q","aGVsbG8="])");
}

TEST(JsonWriterTest, RawPrefixPlacesItsComma) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray().RawPrefix(R"({"a":)").Int(1).RawPrefix(R"(,"b":)").Null().RawPrefix(R"("c":)");
  w.Bool(false).EndObject().RawPrefix(R"({"d":[)").Int(2).EndArray().EndObject();
  w.RawPrefix(R"(,"x")").EndArray();  // `,` stands for the separator: written here
  EXPECT_EQ(out, R"([{"a":1,"b":null,"c":false},{"d":[2]},"x"])");
  std::string first;
  JsonWriter(&first).RawPrefix(R"(,"k":)").Int(3);  // no value before it: its comma goes
  EXPECT_EQ(first, R"("k":3)");
  // A copy undoes what was written after it.
  std::string undo;
  JsonWriter u(&undo);
  u.BeginArray().Int(1);
  const JsonWriter mark = u;
  const size_t size = undo.size();
  u.Int(2);
  undo.resize(size);
  u = mark;
  u.Int(3).EndArray();
  EXPECT_EQ(undo, "[1,3]");
}

TEST(JsonWriterTest, Utf8PassesThrough) {
  std::string out;
  JsonWriter(&out).String("héllo ☃ 😀");
  EXPECT_EQ(out, "\"héllo ☃ 😀\"");
}

TEST(Base64Test, RoundTripAllLengths) {
  std::string data;
  for (int n = 0; n < 40; ++n) {
    std::string enc;
    Base64Encode(data, &enc);
    EXPECT_EQ(enc.size() % 4, 0u);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec.has_value());
    EXPECT_EQ(*dec, data);
    std::string url;
    Base64UrlEncode(data, &url);
    EXPECT_EQ(url.find('='), std::string::npos);
    EXPECT_EQ(Base64Decode(url).value(), data);
    EXPECT_EQ(Base64Decode(url, kBase64UrlStrict).value(), data);
    const Base64Rules standard_padded{Base64Alphabet::kStandard, Base64Padding::kRequired, true};
    EXPECT_EQ(Base64Decode(enc, standard_padded).value(), data);
    data.push_back(static_cast<char>(n * 37 + 200));
  }
}

TEST(Base64Test, KnownVectorsAndRejects) {
  EXPECT_EQ(Base64Decode("Zm9vYmFy").value(), "foobar");
  EXPECT_EQ(Base64Decode("Zm9vYg==").value(), "foob");
  EXPECT_EQ(Base64Decode("Zm9vYg").value(), "foob");
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Z").has_value());
  EXPECT_FALSE(Base64Decode("Zm9vYg=").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v\n").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v====").has_value());
  EXPECT_EQ(Base64Decode("-_8").value(), "\xfb\xff");
  EXPECT_EQ(Base64Decode("+/8=").value(), "\xfb\xff");
  EXPECT_EQ(Base64Decode("Zm9vYh").value(), "foob");  // unused bits set: lenient by default
}

TEST(Base64Test, UrlStrictIsJwsBase64Url) {
  EXPECT_EQ(Base64Decode("", kBase64UrlStrict).value(), "");
  EXPECT_EQ(Base64Decode("Zm9vYg", kBase64UrlStrict).value(), "foob");
  EXPECT_EQ(Base64Decode("-_8", kBase64UrlStrict).value(), "\xfb\xff");
  EXPECT_FALSE(Base64Decode("Zm9vYg==", kBase64UrlStrict).has_value());  // padded
  EXPECT_FALSE(Base64Decode("+/8", kBase64UrlStrict).has_value());       // standard alphabet
  EXPECT_FALSE(Base64Decode("Zm9vYh", kBase64UrlStrict).has_value());    // a second spelling
  EXPECT_FALSE(Base64Decode("Zm9vY", kBase64UrlStrict).has_value());     // no encoding is 5 long
}

TEST(Base64Test, StandardPaddedRefusesTheUrlAlphabetAndMissingPadding) {
  const Base64Rules rules{Base64Alphabet::kStandard, Base64Padding::kRequired, false};
  EXPECT_EQ(Base64Decode("Zm9vYg==", rules).value(), "foob");
  EXPECT_EQ(Base64Decode("Zm9vYh==", rules).value(), "foob");  // not canonical, but allowed
  EXPECT_EQ(Base64Decode("+/8=", rules).value(), "\xfb\xff");
  EXPECT_FALSE(Base64Decode("Zm9vYg", rules).has_value());
  EXPECT_FALSE(Base64Decode("-_8=", rules).has_value());
}

TEST(HexTest, BytesDigitsAndValues) {
  EXPECT_EQ(Hex(""), "");
  EXPECT_EQ(Hex(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(Hex("\xab\xcd", HexCase::kUpper), "ABCD");
  std::string out = "x'";
  AppendHex("\x0f", &out);
  EXPECT_EQ(out, "x'0f");
  for (unsigned v = 0; v < 16; ++v) {
    EXPECT_EQ(HexValue(HexDigit(v)), static_cast<int>(v));
    EXPECT_EQ(HexValue(HexDigit(v, HexCase::kUpper)), static_cast<int>(v));
  }
  EXPECT_EQ(HexDigit(0x1c), 'c');  // the low four bits
  for (char c : {'g', 'G', '/', ':', '@', '`', ' ', '\0'}) EXPECT_EQ(HexValue(c), -1) << c;
}

TEST(Sha256Test, KnownDigests) {  // FIPS 180-4's examples
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(ClockTest, ManualClockAdvances) {
  ManualClock c;
  int64_t t0 = c.MonotonicMicros();
  c.Advance(std::chrono::seconds(2));
  EXPECT_EQ(c.MonotonicMicros() - t0, 2'000'000);
}

}  // namespace
}  // namespace cairn
