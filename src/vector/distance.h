// Distance kernels for the index and the SQL functions.
//
// On x86-64 the f32 and int8 kernels use AVX2/FMA when the CPU has them (checked once at run
// time); everywhere else, and on older CPUs, portable loops with several independent accumulators
// (which compilers vectorise with SSE2/NEON). Both paths give the same ordering of neighbours up to
// floating-point rounding; tests compare them with a tolerance.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cairn::vector {

float DotF32(const float* a, const float* b, size_t n);
float L2SquaredF32(const float* a, const float* b, size_t n);
int32_t DotI8(const int8_t* a, const int8_t* b, size_t n);
uint32_t HammingBits(const uint8_t* a, const uint8_t* b, size_t nbytes);

// The portable versions, exposed for tests that compare them with the dispatched ones.
float DotF32Portable(const float* a, const float* b, size_t n);
float L2SquaredF32Portable(const float* a, const float* b, size_t n);
int32_t DotI8Portable(const int8_t* a, const int8_t* b, size_t n);

}  // namespace cairn::vector
