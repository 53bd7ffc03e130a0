// The products of the ternary layouts with the activations their reference
// engines pair them with, as those engines compute them: one row of weights
// against one token. Scalar references, readable rather than fast; every
// kernel is compared with them bit for bit.
//
//   I2_S  x I8_S  (bitnet.cpp): exact int32 sum of code * q over the row
//                  (codes 0..3 as stored), then its fork's float epilogue
//                  ((float)sum - (float)act_sum) / act_scale * w_scale.
//   TQ1_0 x Q8_K, TQ2_0 x Q8_K, Q2_0 x Q8_0 (ggml v0.5.0): the generic dots
//                  ggml_vec_dot_{tq1_0,tq2_0}_q8_K_generic and
//                  ggml_vec_dot_q2_0_q8_0 as the C source orders them, every
//                  float operation rounded on its own (no FMA: ggml's own
//                  builds for FMA CPUs fuse the block step, so they differ in
//                  the last bits; its baseline x86-64 build does not).
//
// Integer block sums are exact in int32 whatever the bytes; their order
// does not matter. Only the float steps are ordered.
#ifndef BITNET_FORMATS_DOT_RULES_H_
#define BITNET_FORMATS_DOT_RULES_H_

#include <cstddef>
#include <cstdint>

#include "formats/layouts.h"

namespace bitnet {

// The activation type of a weight layout's product.
enum class ActKind { kI8S, kQ8K, kQ8_0 };

// The activation blocks' bytes, and where their int8 values start.
constexpr size_t kQ8KBytes = 292;   // f32 d, 256 int8, 16 int16 sums
constexpr size_t kQ8KQs = 4;
constexpr size_t kQ8_0Bytes = 34;   // f16 d, 32 int8
constexpr size_t kQ8_0Qs = 2;

// The layouts bitnet_gemm multiplies, and the activation type each pairs
// with. Returns false for any other layout.
bool GemmActKind(LayoutId w, ActKind* kind);

// Elements per activation block and bytes per block (I8_S: one int8 each).
size_t ActBlockElements(ActKind kind);
size_t ActBlockBytes(ActKind kind);

// The largest I2_S row for which sum |code * q| <= 3 * 128 * cols fits in
// int32: the int32 accumulation of bitnet.cpp stays exact up to it.
constexpr int64_t kMaxI2SCols = (int64_t{1} << 31) / 384 - 1;

// I2_S: sum of code * q[i] over the k elements of the tensor that start at
// element `first` (a row starts anywhere when cols % 128 != 0).
int32_t I2SCodeSum(const uint8_t* codes, size_t first, const int8_t* q, size_t k);
// bitnet.cpp's epilogue: ((float)code_sum - (float)act_sum) / act_scale * w_scale.
float I2SOutput(int32_t code_sum, int32_t act_sum, float act_scale, float w_scale);

// One row of `nblocks` weight blocks against one token's activation blocks
// (Q8_K: one per 256; Q8_0: two per Q2_0 block).
float DotTQ1_0(const uint8_t* w, const uint8_t* q8k, size_t nblocks);
float DotTQ2_0(const uint8_t* w, const uint8_t* q8k, size_t nblocks);
float DotQ2_0(const uint8_t* w, const uint8_t* q8_0, size_t nblocks);

}  // namespace bitnet

#endif  // BITNET_FORMATS_DOT_RULES_H_
