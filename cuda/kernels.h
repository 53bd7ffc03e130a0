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

// A quantize kernel's gate: with a flag (device memory), the kernel writes
// nothing unless *flag == epoch when it starts. A caller that takes a new
// epoch for each call needs no reset of the flag between calls.
struct Gate {
  const unsigned long long* flag = nullptr;
  unsigned long long epoch = 0;
};

// Writes PackedSize(n) bytes and NumBlocks(n, block) scales, unless gated off.
cudaError_t LaunchQuantize(Family family, Format format, const float* input, size_t n,
                           size_t block, uint8_t* packed, float* scales, Gate gate,
                           cudaStream_t stream);
// Writes n floats.
cudaError_t LaunchDequantize(Format format, const uint8_t* packed, const float* scales, size_t n,
                             size_t block, float* output, cudaStream_t stream);
// When input[0, n) holds a finite element, sets *found_device (device
// memory; may be nullptr) to epoch and *found_host (mapped pinned host
// memory) to 1; leaves them alone otherwise.
cudaError_t LaunchFindFinite(const float* input, size_t n, unsigned long long* found_device,
                             unsigned long long epoch, int* found_host, cudaStream_t stream);

// A kernel of this library, for asking whether a device can run its code.
const void* AnyKernel();

}  // namespace cuda
}  // namespace bitnet

#endif  // BITNET_CUDA_KERNELS_H_
