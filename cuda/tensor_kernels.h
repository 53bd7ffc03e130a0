// The launchers of the tensor-layout kernels (tensor_kernels.cu): each
// enqueues its kernels on `stream` of the current device and returns the
// launch's error. Arguments are checked by the callers (tensor_backend.cc).
// Element types are F32, F16 and BF16; "block layouts" are TQ1_0, TQ2_0,
// Q2_0, Q8_0, Q8_K (and IQ2_S, I2_S to decode).
#ifndef BITNET_CUDA_TENSOR_KERNELS_H_
#define BITNET_CUDA_TENSOR_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "formats/layouts.h"

namespace bitnet {
namespace cuda {

// n elements of one element type into another.
cudaError_t LaunchConvert(LayoutId src, const void* in, LayoutId dst, void* out, size_t n,
                          cudaStream_t stream);

// n elements (a multiple of the block) into a block layout other than I2_S.
cudaError_t LaunchEncodeBlocks(LayoutId dst, void* out, LayoutId src, const void* in, size_t n,
                               cudaStream_t stream);

// I2_S in two kernels: the tensor scale (the largest |x| of the non-NaN
// elements, as float bits) atomically into *scale_bits, which must hold 0
// before; then the codes from it, and the 32-byte tail (scale_bits may lie
// inside it: it is read first).
cudaError_t LaunchI2SScale(LayoutId src, const void* in, size_t n, unsigned* scale_bits,
                           cudaStream_t stream);
cudaError_t LaunchEncodeI2S(void* out, LayoutId src, const void* in, size_t n,
                            const unsigned* scale_bits, cudaStream_t stream);

// A block layout, I2_S or IQ2_S of n elements into an element type.
cudaError_t LaunchDecodeBlocks(LayoutId src, const void* in, size_t n, LayoutId dst, void* out,
                               cudaStream_t stream);

// Transcode between I2_S, TQ1_0, TQ2_0 and Q2_0. The check kernel reads the
// whole source and records, each as the least element (or target group)
// index where it happens (kNotFound otherwise): a non-finite block scale, a
// value the target cannot hold, non-zero elements of one target block with
// different scales, a target block whose scale f16 cannot hold (only when
// check_exact), and for a per-tensor target the first non-zero element and
// the range of the non-zero elements' scales (as order keys). `findings`
// must start as TranscodeFindingsInit().
constexpr unsigned long long kNotFound = ~0ull;
struct TranscodeFindings {
  unsigned long long bad_scale;      // element starting the first block with a non-finite scale
  unsigned long long bad_value;      // first element the target cannot hold
  unsigned long long disagreement;   // first element whose scale differs from its block's
  unsigned long long inexact_group;  // first target block whose scale f16 cannot hold
  unsigned long long first_nonzero;  // per-tensor target: its first non-zero element
  int min_scale_key;                 // per-tensor target: the scales' range (ScaleKey)
  int max_scale_key;
};
TranscodeFindings TranscodeFindingsInit();
// The float of a ScaleKey (finite scales, +-0 as +0).
float ScaleOfKey(int key);

// src_scale: I2_S's tensor scale when src is I2_S (read by the caller).
cudaError_t LaunchTranscodeCheck(LayoutId src, const void* in, LayoutId dst, size_t n,
                                 float src_scale, bool check_exact, TranscodeFindings* findings,
                                 cudaStream_t stream);
// Writes the target: codes re-packed, a per-block target's scale the one of
// its first non-zero element (0 without one, 1 with unit_scale, rounded to
// f16), an I2_S target's tail the scale of element first_nonzero (0 for
// kNotFound, 1 with unit_scale).
cudaError_t LaunchTranscodePack(LayoutId src, const void* in, LayoutId dst, void* out, size_t n,
                                float src_scale, bool unit_scale,
                                unsigned long long first_nonzero, cudaStream_t stream);

}  // namespace cuda
}  // namespace bitnet

#endif  // BITNET_CUDA_TENSOR_KERNELS_H_
