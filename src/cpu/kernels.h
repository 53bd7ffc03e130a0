// One set of kernels per CPU code path: the scalar reference or one Highway
// target. The API layer validates every argument before calling a kernel.
#ifndef BITNET_CPU_KERNELS_H_
#define BITNET_CPU_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "formats/formats.h"
#include "formats/absmean.h"
#include "formats/layouts.h"
#include "formats/ternary_codes.h"

namespace bitnet {

// BitNet-rs quantizer family (the public bitnet_quantize*/bitnet_dequantize*).
using QuantizeFn = void (*)(Format, const float* input, size_t n, size_t block,
                            uint8_t* packed, float* scales);
using DequantizeFn = void (*)(Format, const uint8_t* packed, const float* scales,
                              size_t n, size_t block, float* output);
// BitNet-rs kernel family (bitnet_cpp_quantize, bitnet_cpp_matmul_i2s).
using KernelQuantizeFn = void (*)(Format, const float* input, size_t n,
                                  uint8_t* packed, float* scales);
using MatmulI2SFn = void (*)(const int8_t* a, const uint8_t* b, float* c,
                             size_t m, size_t n, size_t k);

// How a decoder stores its output: through the caches, or past them
// (kStreamed: the output aligned to kStreamAlignment bytes; its vectors
// with non-temporal stores, which stream_fence orders).
enum class Stores { kCached, kStreamed };
constexpr size_t kStreamAlignment = 64;

// The primitives of the tensor layouts (src/tensor/ composes them). Each
// works on whole blocks; I2_S counts elements (a multiple of 128). Element
// types (F32, F16 or BF16, converted as ggml converts) are read and written
// by the codecs directly.
struct TensorKernels {
  // Block-local layouts (formats/block_rules.h): nblocks blocks from / to
  // elements of type `type`.
  void (*encode_blocks)(LayoutId id, LayoutId type, const void* x, size_t nblocks, uint8_t* out);
  void (*decode_blocks)(LayoutId id, const uint8_t* in, size_t nblocks, LayoutId type, void* y,
                        Stores stores);
  // bitnet.cpp I2_S: the codes of n elements under their own scale, which
  // is returned (merge parts with I2SScaleMerge; any scale >= 0 gives these
  // codes, so they are the tensor's); the values of n codes.
  float (*i2s_encode)(LayoutId type, const void* x, size_t n, uint8_t* out);
  void (*i2s_decode)(const uint8_t* in, size_t n, float scale, LayoutId type, void* y, Stores stores);
  // Absmean: one chunk's |x| sum in the fixed order and its ternary scan;
  // codes of n weights; their values q * alpha.
  double (*abs_scan_chunk)(const float* x, size_t n, TernaryScan* scan);
  void (*ternarize)(const float* x, size_t n, float s, float threshold, int8_t* q);
  void (*ternary_values)(const float* x, size_t n, float s, float threshold, float alpha,
                         float* v);
  // Element types (F32, F16, BF16) <-> f32.
  void (*to_float)(LayoutId src, const void* in, size_t n, float* y);
  void (*from_float)(LayoutId dst, const float* x, size_t n, void* out);
  // Ternary block layouts (TQ1_0, TQ2_0, Q2_0, I2_S): the values
  // code - code_offset of nblocks blocks, and the code bytes from values.
  void (*unpack_values)(LayoutId id, const uint8_t* blocks, size_t nblocks, int8_t* values);
  void (*pack_values)(LayoutId id, const int8_t* values, size_t nblocks, uint8_t* blocks);
  // kRepack* flags of each of `pieces` runs of `piece` values: any outside
  // [min_value, max_value], any non-zero.
  void (*value_flags)(const int8_t* values, size_t pieces, size_t piece, int min_value, int max_value,
                      uint8_t* flags);
  // True when a code of nblocks blocks of a two-bit layout is 3
  // (formats/ternary_codes.h's AnyTwoBitCode3).
  bool (*any_two_bit_code3)(LayoutId id, const uint8_t* blocks, size_t nblocks);
  // The fused transcode (formats/ternary_codes.h, CanTranscodeCodes): the
  // code bytes of `units` runs of kCodeUnit elements of dst from the same
  // elements of src (`in` and `out` at a unit's first block), code for
  // code, a per-block target's scales (RepackScale; a unit is one target
  // block), and each unit's kRepackNonzero flag (a code other than the
  // offset) in flags[0..units) unless flags is nullptr (a per-block target's
  // only). `more`: a whole unit of src follows the last (the kernels may
  // read into it).
  void (*transcode_codes)(LayoutId src, const uint8_t* in, LayoutId dst, size_t units, bool more,
                          RepackScale scale, uint8_t* out, uint8_t* flags);
  // Two-bit layouts re-packed byte by byte (formats/ternary_codes.h): groups
  // [first, first + count) of tensor `in` into the same groups of tensor
  // `out` (nullptr: a checking pass) with a per-block target's scales
  // (RepackScale), each group's kRepack* flags in flags[0..count) unless
  // flags is nullptr. stream: a dst_dense target is written with
  // non-temporal stores, fenced before the call returns.
  void (*repack_bytes)(const ByteRepack& r, RepackScale scale, const uint8_t* in, size_t first, size_t count,
                       uint8_t* out, bool stream, uint8_t* flags);
  // bitnet.cpp's int8 activations, one row.
  void (*i8s_row)(const float* x, size_t n, int8_t* q, float* scale, int32_t* sum);
  // `bytes` from `in` to `out`, the whole aligned vectors of `out` with
  // non-temporal stores (written past the caches, without reading each line
  // first), the edges with ordinary ones; stream_fence orders a thread's
  // earlier stream_out stores before its later stores (call it before
  // another thread may read them: once per run of calls, as it waits for
  // the stores to leave the core).
  void (*stream_out)(const void* in, size_t bytes, void* out);
  void (*stream_fence)();
};

struct GemmKernels;  // cpu/gemm_kernels.h

struct KernelSet {
  QuantizeFn quantize;
  DequantizeFn dequantize;
  KernelQuantizeFn kernel_quantize;
  MatmulI2SFn matmul_i2s;
  const TensorKernels* tensor;
  const GemmKernels* gemm;
};

// Highway kernels of the target with Highway bit `hwy_target`; each returns
// nullptr when that target was not compiled.
QuantizeFn HwyQuantize(int64_t hwy_target);
DequantizeFn HwyDequantize(int64_t hwy_target);
KernelQuantizeFn HwyKernelQuantize(int64_t hwy_target);
MatmulI2SFn HwyMatmulI2S(int64_t hwy_target);
// The scalar references of the tensor primitives (cpu/tensor_reference.cc).
extern const TensorKernels kReferenceTensorKernels;
// The tensor primitives of the Highway target with bit `hwy_target`, each
// kernel file setting its members (nullptr when that target was not
// compiled): encode_blocks, decode_blocks (cpu/ggml_hwy.cc); i2s_encode,
// i2s_decode, i8s_row (cpu/bitnet_cpp_hwy.cc); abs_scan_chunk,
// ternarize, ternary_values (cpu/absmean_hwy.cc); to_float, from_float,
// stream_out, stream_fence (cpu/half_hwy.cc); unpack_values, pack_values, value_flags,
// any_two_bit_code3, transcode_codes, repack_bytes (cpu/codes_hwy.cc).
void HwyGgmlKernels(int64_t hwy_target, TensorKernels* k);
void HwyBitnetCppKernels(int64_t hwy_target, TensorKernels* k);
void HwyAbsmeanKernels(int64_t hwy_target, TensorKernels* k);
void HwyHalfKernels(int64_t hwy_target, TensorKernels* k);
void HwyCodeKernels(int64_t hwy_target, TensorKernels* k);
// HWY_TARGETS, and those of them this CPU runs (hwy::SupportedTargets(),
// except on aarch64 Linux: see quantize_hwy.cc).
int64_t HwyCompiledTargets();
int64_t HwySupportedTargets();

}  // namespace bitnet

#endif  // BITNET_CPU_KERNELS_H_
