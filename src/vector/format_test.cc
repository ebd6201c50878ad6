#include "vector/format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "vector/distance.h"

namespace cairn::vector {
namespace {

std::string Hex(const std::string& s) {
  static const char* d = "0123456789ABCDEF";
  std::string r;
  for (unsigned char c : s) {
    r.push_back(d[c >> 4]);
    r.push_back(d[c & 15]);
  }
  return r;
}

TEST(FormatTest, KnownBytesOfEveryLayout) {
  EXPECT_EQ(Hex(Encode(VectorType::kF32, {1, 2})), "0000803F00000040");
  EXPECT_EQ(Hex(Encode(VectorType::kF64, {1})), "000000000000F03F02");
  EXPECT_EQ(Hex(Encode(VectorType::kF16, {1, -2})), "003C00C005");
  EXPECT_EQ(Hex(Encode(VectorType::kBF16, {1})), "803F06");
  EXPECT_EQ(Hex(Encode(VectorType::k1Bit, {1, -1, 2})), "050D03");
  // 16 dimensions: two data bytes (even), so a pad byte before the trailer.
  EXPECT_EQ(Hex(Encode(VectorType::k1Bit, std::vector<double>(16, 1.0))), "FFFF001003");
  EXPECT_EQ(Hex(Encode(VectorType::kF8, {0, 1, 2, 3})), "0055AAFFC1C0403C00000000000004");
  // Three dimensions pad the data to four bytes; the trailer says one byte is padding.
  EXPECT_EQ(Hex(Encode(VectorType::kF8, {0, 0, 0})), std::string(24, '0') + "000104");
}

TEST(FormatTest, DecodeRoundTripsAndReadsTheMeta) {
  const std::vector<double> v = {0.5, -1.25, 3, 0};
  for (VectorType t : {VectorType::kF32, VectorType::kF64, VectorType::kF16, VectorType::kBF16}) {
    Vector out;
    std::string err;
    ASSERT_TRUE(DecodeBlob(Encode(t, v), &out, &err)) << TypeName(t) << ": " << err;
    EXPECT_EQ(out.type, t);
    EXPECT_EQ(out.values, v) << TypeName(t);
  }
  Vector bits;
  std::string err;
  ASSERT_TRUE(DecodeBlob(Encode(VectorType::k1Bit, {3, -2, 0, 7, 1, 1, 1, 1, -1}), &bits, &err));
  EXPECT_EQ(bits.values, (std::vector<double>{1, -1, -1, 1, 1, 1, 1, 1, -1}));
  Vector q;
  ASSERT_TRUE(DecodeBlob(Encode(VectorType::kF8, {0, 1, 2, 3, 4}), &q, &err));
  ASSERT_EQ(q.dims(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(q.values[i], static_cast<double>(i), 0.02);
}

TEST(FormatTest, MalformedBlobsAreErrorsWithLibsqlWording) {
  VectorType t;
  uint32_t d;
  std::string err;
  EXPECT_FALSE(ParseBlobMeta(std::string("\x01\x02\x03\x04\x05\x06", 6), &t, &d, &err));
  EXPECT_FALSE(ParseBlobMeta(std::string("\x00\x00\x07", 3), &t, &d, &err));
  EXPECT_EQ(err, "vector: unexpected binary type: 7");
  EXPECT_FALSE(ParseBlobMeta(std::string(4, '\0') + "\x02", &t, &d, &err));
  EXPECT_NE(err.find("float64 vector blob length must be divisible by 8"), std::string::npos);
  EXPECT_TRUE(ParseBlobMeta(std::string(12, '\0'), &t, &d, &err));
  EXPECT_EQ(t, VectorType::kF32);
  EXPECT_EQ(d, 3u);
  // An odd-length f32 blob with an explicit type byte 01.
  EXPECT_TRUE(ParseBlobMeta(std::string(8, '\0') + "\x01", &t, &d, &err));
  EXPECT_EQ(d, 2u);
}

TEST(FormatTest, TextParsingFollowsLibsql) {
  Vector v;
  std::string err;
  ASSERT_TRUE(ParseText("  [ 1, 2.5 ,-3e1 ]  ", false, &v, &err)) << err;
  EXPECT_EQ(v.values, (std::vector<double>{1, 2.5, -30}));
  ASSERT_TRUE(ParseText("[]", false, &v, &err));
  EXPECT_EQ(v.dims(), 0u);
  EXPECT_FALSE(ParseText("1,2]", false, &v, &err));
  EXPECT_EQ(err, "vector: must start with '['");
  EXPECT_FALSE(ParseText("[1,x]", false, &v, &err));
  EXPECT_EQ(err, "vector: invalid float at position 1: 'x'");
  EXPECT_FALSE(ParseText("[1,2", false, &v, &err));
  EXPECT_FALSE(ParseText("[1,2] z", false, &v, &err));
  EXPECT_EQ(err, "vector: non-space symbols after closing ']' are forbidden");
  // f32 parsing rounds; f64 keeps the digits.
  ASSERT_TRUE(ParseText("[0.1]", false, &v, &err));
  EXPECT_EQ(v.values[0], static_cast<double>(0.1f));
  ASSERT_TRUE(ParseText("[0.1]", true, &v, &err));
  EXPECT_EQ(v.values[0], 0.1);
  EXPECT_EQ(ToText(v), "[0.1]");
}

TEST(FormatTest, HalfPrecisionRoundsToNearestEven) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xC000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(1e6f), 0x7C00);                 // overflow → infinity
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie → even
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
  for (uint32_t h = 0; h < 0x7C00; ++h)  // every finite positive half survives a round trip
    ASSERT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(h))), h) << h;
  EXPECT_EQ(FloatToBF16(1.0f), 0x3F80);
  EXPECT_EQ(BF16ToFloat(0x3F80), 1.0f);
}

TEST(FormatTest, SimdKernelsAgreeWithPortableOnes) {
  std::mt19937 rng(7);
  std::normal_distribution<float> n;
  for (size_t dims : {1u, 7u, 8u, 16u, 100u, 301u}) {
    std::vector<float> a(dims), b(dims);
    std::vector<int8_t> x(dims), y(dims);
    for (size_t i = 0; i < dims; ++i) {
      a[i] = n(rng);
      b[i] = n(rng);
      x[i] = static_cast<int8_t>(static_cast<int>(n(rng) * 40) % 127);
      y[i] = static_cast<int8_t>(static_cast<int>(n(rng) * 40) % 127);
    }
    EXPECT_NEAR(DotF32(a.data(), b.data(), dims), DotF32Portable(a.data(), b.data(), dims), 1e-3);
    EXPECT_NEAR(L2SquaredF32(a.data(), b.data(), dims),
                L2SquaredF32Portable(a.data(), b.data(), dims), 1e-3);
    EXPECT_EQ(DotI8(x.data(), y.data(), dims), DotI8Portable(x.data(), y.data(), dims));
  }
  const uint8_t p[9] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1}, q[9] = {0x0f, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(HammingBits(p, q, 9), 5u);
}

}  // namespace
}  // namespace cairn::vector
