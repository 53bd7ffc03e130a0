// The CUDA kernels' launchers: each enqueues its work on `stream` of the
// current device and returns the launch's error. Arguments are checked by
// the callers (cuda/backend.cc).
#ifndef BITNET_CUDA_KERNELS_H_
#define BITNET_CUDA_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "formats/formats.h"

namespace bitnet {
namespace cuda {

// The two BitNet-rs families: the quantizers behind bitnet_quantize (any
// block size) and the kernel provider behind bitnet_cpp_quantize (fixed
// blocks 32/64/128, scale absmax/1.5).
enum class Family { kQuantizer, kKernel };

// A quantize kernel's deferral, for I2_S, which must write nothing when the
// whole input holds no finite element. With a flag (mapped pinned host
// memory), a warp (a thread block, for blocks of more than 512 elements)
// writes its blocks only when they hold a finite element, which proves that
// the input has one; otherwise it writes nothing and sets *flag to 1. So an
// input with a finite element in every warp's share, which is any but long
// runs of non-finite elements, is done in one pass with no probe before it.
struct Deferral {
  int* flag = nullptr;
};

// Writes PackedSize(n) bytes and NumBlocks(n, block) scales, but for the
// blocks a deferral holds back.
cudaError_t LaunchQuantize(Family family, Format format, const float* input, size_t n,
                           size_t block, uint8_t* packed, float* scales, Deferral deferral,
                           cudaStream_t stream);
// Writes n floats.
cudaError_t LaunchDequantize(Format format, const uint8_t* packed, const float* scales, size_t n,
                             size_t block, float* output, cudaStream_t stream);
// When input[0, n) holds a finite element, sets *found (mapped pinned host
// memory) to 1; leaves it alone otherwise.
cudaError_t LaunchFindFinite(const float* input, size_t n, int* found, cudaStream_t stream);

// A kernel of this library, for asking whether a device can run its code.
const void* AnyKernel();

}  // namespace cuda
}  // namespace bitnet

#endif  // BITNET_CUDA_KERNELS_H_
