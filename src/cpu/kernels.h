// One set of kernels per CPU code path: the scalar reference or one Highway
// target. The API layer validates every argument before calling a kernel.
#ifndef BITNET_CPU_KERNELS_H_
#define BITNET_CPU_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "formats/formats.h"

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

struct KernelSet {
  QuantizeFn quantize;
  DequantizeFn dequantize;
  KernelQuantizeFn kernel_quantize;
  MatmulI2SFn matmul_i2s;
};

// Highway kernels of the target with Highway bit `hwy_target`; each returns
// nullptr when that target was not compiled.
QuantizeFn HwyQuantize(int64_t hwy_target);
DequantizeFn HwyDequantize(int64_t hwy_target);
KernelQuantizeFn HwyKernelQuantize(int64_t hwy_target);
MatmulI2SFn HwyMatmulI2S(int64_t hwy_target);
// HWY_TARGETS, and those of them this CPU runs (hwy::SupportedTargets(),
// except on aarch64 Linux: see quantize_hwy.cc).
int64_t HwyCompiledTargets();
int64_t HwySupportedTargets();

}  // namespace bitnet

#endif  // BITNET_CPU_KERNELS_H_
