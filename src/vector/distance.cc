#include "vector/distance.h"

#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace cairn::vector {

float DotF32Portable(const float* a, const float* b, size_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  float t = 0;
  for (; i < n; ++i) t += a[i] * b[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t;
}

float L2SquaredF32Portable(const float* a, const float* b, size_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; ++j) {
      const float d = a[i + j] - b[i + j];
      s[j] += d * d;
    }
  float t = 0;
  for (; i < n; ++i) t += (a[i] - b[i]) * (a[i] - b[i]);
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t;
}

int32_t DotI8Portable(const int8_t* a, const int8_t* b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += int32_t{a[i]} * int32_t{b[i]};
  return s;
}

uint32_t HammingBits(const uint8_t* a, const uint8_t* b, size_t nbytes) {
  uint32_t d = 0;
  size_t i = 0;
  for (; i + 8 <= nbytes; i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    d += static_cast<uint32_t>(std::popcount(x ^ y));
  }
  for (; i < nbytes; ++i) d += static_cast<uint32_t>(std::popcount(static_cast<unsigned>(a[i] ^ b[i])));
  return d;
}

#if defined(__x86_64__)
namespace {

__attribute__((target("avx2,fma"))) float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) float DotF32Avx2(const float* a, const float* b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float t = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) t += a[i] * b[i];
  return t;
}

__attribute__((target("avx2,fma"))) float L2SquaredF32Avx2(const float* a, const float* b,
                                                           size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
  }
  float t = HorizontalSum(_mm256_add_ps(s0, s1));
  for (; i < n; ++i) t += (a[i] - b[i]) * (a[i] - b[i]);
  return t;
}

__attribute__((target("avx2"))) int32_t DotI8Avx2(const int8_t* a, const int8_t* b, size_t n) {
  __m256i s = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
    const __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)));
    s = _mm256_add_epi32(s, _mm256_madd_epi16(x, y));
  }
  __m128i r = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0x4e));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0xb1));
  int32_t t = _mm_cvtsi128_si32(r);
  for (; i < n; ++i) t += int32_t{a[i]} * int32_t{b[i]};
  return t;
}

struct Kernels {
  float (*dot)(const float*, const float*, size_t);
  float (*l2)(const float*, const float*, size_t);
  int32_t (*dot8)(const int8_t*, const int8_t*, size_t);
};

Kernels Pick() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return {DotF32Avx2, L2SquaredF32Avx2, DotI8Avx2};
  return {DotF32Portable, L2SquaredF32Portable, DotI8Portable};
}

const Kernels& K() {
  static const Kernels k = Pick();
  return k;
}

}  // namespace

float DotF32(const float* a, const float* b, size_t n) { return K().dot(a, b, n); }
float L2SquaredF32(const float* a, const float* b, size_t n) { return K().l2(a, b, n); }
int32_t DotI8(const int8_t* a, const int8_t* b, size_t n) { return K().dot8(a, b, n); }
#else
float DotF32(const float* a, const float* b, size_t n) { return DotF32Portable(a, b, n); }
float L2SquaredF32(const float* a, const float* b, size_t n) { return L2SquaredF32Portable(a, b, n); }
int32_t DotI8(const int8_t* a, const int8_t* b, size_t n) { return DotI8Portable(a, b, n); }
#endif

}  // namespace cairn::vector
